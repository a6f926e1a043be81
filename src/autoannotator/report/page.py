"""A run's report as one self-contained HTML page: the summary, the plots inline, then the tables."""

from __future__ import annotations

import html

from autoannotator.report.evaluation import Report
from autoannotator.report.plots import figures, png
from autoannotator.report.text import markdown, summary

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:62em;margin:1.5em auto;padding:0 1em;line-height:1.45;"
    "color:#222}"
    "img{max-width:100%;height:auto}"
    "table{border-collapse:collapse;display:block;overflow-x:auto;max-width:100%;margin:.5em 0}"
    "td,th{padding:3px 9px;border-bottom:1px solid #ddd;text-align:left}"
    "h1,h2,li,p{overflow-wrap:anywhere}td,th{overflow-wrap:normal;word-break:normal}"
    "figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}"
)


def markdown_to_html(text: str) -> str:
    """Markdown (with pipe tables) as HTML; the text is escaped first, so no value can inject markup."""
    import markdown as md

    return str(md.markdown(html.escape(text, quote=False), extensions=["tables"]))


def html_page(report: Report) -> str:
    """A self-contained HTML page: the headline and the summary (beside the LLM on every row), the plots as
    inline PNG images, then the tables (the rest of the Markdown report as HTML); readable from phone width up
    (no horizontal scroll of the page: a wide table scrolls in its own box, cells wrap between words)."""
    head = "\n".join(summary(report))
    body = [markdown_to_html(head)]
    for title, figure in figures(report):
        name = html.escape(title)
        body.append(f"<figure><figcaption>{name}</figcaption><img alt='{name}' src='{png(figure)}'></figure>")
    body.append(markdown_to_html(markdown(report).removeprefix(head)))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>AutoAnnotator evaluation</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
