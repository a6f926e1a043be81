"""A run's report (`autoannotator.report.evaluation.Report`) for people: Markdown (`text`), plots (`plots`) and a
self-contained HTML page (`page`)."""

from autoannotator.report.page import html_page, markdown_to_html
from autoannotator.report.plots import figures, png, pyplot, tradeoff_figure
from autoannotator.report.text import calibration_note, cell, markdown, table

__all__ = [
    "calibration_note",
    "cell",
    "figures",
    "html_page",
    "markdown",
    "markdown_to_html",
    "png",
    "pyplot",
    "table",
    "tradeoff_figure",
]
