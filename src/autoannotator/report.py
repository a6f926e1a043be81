"""Rendering an evaluation `Report`: Markdown, and a self-contained HTML page with PNG plots inside it.

>>> print(table(["a", "b"], [[1, 0.5]]))
| a | b |
|---|---|
| 1 | 0.500 |
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import Any

from autoannotator.evaluation import Report
from autoannotator.evidence import describe as describe_trust

STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto}"
    "td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
)


def cell(value: Any) -> str:
    """A table cell: floats with 3 decimals, missing values as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(report: Report) -> str:
    """The report as Markdown."""
    parts = [
        f"# Evaluation of {report.out}",
        "",
        f"- rows: {report.rows:,}; labelled: {report.labelled:,} (coverage {report.coverage:.1%})",
        f"- sources: {', '.join(f'{k} {v:,}' for k, v in sorted(report.sources.items()))}",
        f"- hard-row share {report.hard_share:.1%}; sent to the LLM {report.llm_share:.1%}; "
        f"{report.tokens:,} tokens, ${report.cost_usd:.4f}",
    ]
    if report.trust is not None:
        parts += ["", "## Trust (measured on the audit stream)", "", describe_trust(report.trust), ""]
        parts.append(
            table(
                ["stage", "accepted without review", "estimated agreement", "95% CI", "audited rows"],
                [
                    [
                        stage,
                        f"{e['accepted_share']:.1%}",
                        e["agreement"],
                        f"{e['low']:.3f}-{e['high']:.3f}",
                        e["audited"],
                    ]
                    for stage, e in report.trust["stages"].items()
                ],
            )
        )
    if report.gold is not None:
        parts += ["", "## Against gold", ""]
        parts.append(
            table(
                ["rows", "scored", "accuracy", "macro-F1"],
                [[name, s.rows, s.accuracy, s.macro_f1] for name, s in report.gold.items()],
            )
        )
        overall = report.gold["all"]
        parts += ["", "Per class (all rows):", ""]
        parts.append(
            table(
                ["label", "precision", "recall", "F1", "support"],
                [[lab, c.precision, c.recall, c.f1, c.support] for lab, c in overall.per_class.items()],
            )
        )
        parts += ["", "Confusion (rows: gold, columns: predicted):", ""]
        parts.append(
            table(
                ["gold \\ predicted", *report.labels],
                [[lab, *row] for lab, row in zip(report.labels, overall.confusion, strict=True)],
            )
        )
        if report.reliability is not None:
            parts += ["", f"Expected calibration error of the confidence column: {report.reliability.ece:.3f}"]
    parts += ["", "## Specialists", ""]
    columns = ["coverage", "agreement_with_reviewer", "accuracy"]
    parts.append(
        table(
            ["specialist", "coverage", "agreement with the reviewer", "accuracy vs gold"],
            [[name, *(v.get(c) for c in columns)] for name, v in report.specialists.items()],
        )
    )
    stages = report.stages
    if stages:
        parts += ["", "## Stages", ""]
        parts.append(
            table(
                ["stage", "rows", "hard share", "sent to the LLM", "accuracy vs gold"],
                [
                    [s["stage"], s["rows"], f"{s['hard_share']:.1%}", f"{s['llm_share']:.1%}", s.get("accuracy")]
                    for s in report.stages
                ],
            )
        )
    if report.trainings:
        keys = [
            "stage",
            "specialist",
            "train_rows",
            "replay_rows",
            "val_rows",
            "val_accuracy",
            "previous_accuracy",
        ]
        rows = [
            [
                *(t[k] for k in keys),
                t["previous_accuracy"],
                "yes" if t["promoted"] else "no",
                round(t["seconds"], 1),
            ]
            for t in report.trainings
        ]
        header = [
            "stage",
            "specialist",
            "train rows",
            "replay rows",
            "validation rows",
            "val. accuracy",
            "previous",
        ]
        parts += ["", "Trainings:", "", table([*header, "promoted", "seconds"], rows)]
    if report.relabelled:
        changes = ", ".join(f"{k}: {v:,}" for k, v in report.relabelled.items())
        parts += ["", f"Relabelled at the end by the final specialists: {changes}."]
    return "\n".join(parts) + "\n"


def png(figure: Any) -> str:
    """A matplotlib figure as a base64 PNG data URL (the figure is closed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def tradeoff_figure(
    points: Sequence[tuple[str, float, float]], curve: Sequence[tuple[float, float]] = (), title: str = ""
) -> Any:
    """Accuracy (y) against the share of rows sent to the LLM (x): named points, and optionally a curve."""
    plt = pyplot()

    figure, axes = plt.subplots(figsize=(5.5, 4))
    if curve:
        xs, ys = zip(*sorted(curve), strict=True)
        axes.plot(xs, ys, "-", color="tab:blue", label="routing threshold sweep")
    for name, share, accuracy in points:
        axes.plot(share, accuracy, "o")
        axes.annotate(name, (share, accuracy), textcoords="offset points", xytext=(5, 4), fontsize=8)
    axes.set_xlabel("share of rows sent to the LLM")
    axes.set_ylabel("accuracy against gold")
    axes.set_xlim(-0.02, 1.02)
    axes.grid(alpha=0.3)
    if curve:
        axes.legend(loc="lower right", fontsize=8)
    axes.set_title(title, fontsize=10)
    return figure


def _figures(report: Report) -> list[tuple[str, Any]]:
    plt = pyplot()

    figures = []
    if report.gold is not None:
        points = [("this run", report.llm_share, report.gold["all"].accuracy)]
        points += [
            (f"stage {s['stage']}", s["llm_share"], s["accuracy"])
            for s in report.stages
            if s.get("accuracy") is not None
        ]
        figures.append(("Accuracy against the share sent to the LLM", tradeoff_figure(points)))
    names = list(report.specialists)
    if names:
        figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
        image = left.imshow(report.pairwise_agreement, vmin=0, vmax=1, cmap="viridis")
        left.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        left.set_yticks(range(len(names)), names, fontsize=8)
        left.set_title("pairwise agreement", fontsize=10)
        figure.colorbar(image, ax=left)
        values = [report.specialists[n].get("agreement_with_reviewer", float("nan")) for n in names]
        right.barh(names, [0.0 if math.isnan(v) else v for v in values], color="tab:green")
        right.tick_params(axis="y", labelsize=8)
        right.set_xlim(0, 1)
        right.set_title("agreement with the reviewer", fontsize=10)
        figures.append(("The specialists' agreement", figure))
    if report.reliability is not None:
        figure, axes = plt.subplots(figsize=(4.5, 4))
        axes.plot([0, 1], [0, 1], "--", color="grey")
        axes.plot(report.reliability.confidence, report.reliability.accuracy, "o-")
        axes.set_xlabel("confidence")
        axes.set_ylabel("accuracy against gold")
        axes.set_title(f"reliability (ECE {report.reliability.ece:.3f})", fontsize=10)
        figures.append(("Reliability of the confidence column", figure))
    return figures


def markdown_to_html(text: str) -> str:
    """Markdown (with pipe tables) as HTML; the text is escaped first, so no value can inject markup."""
    import markdown as md

    return str(md.markdown(html.escape(text, quote=False), extensions=["tables"]))


def html_page(report: Report) -> str:
    """A self-contained HTML page: the Markdown tables as HTML, plus the plots as inline PNG images."""
    body = [f"<h1>Evaluation of {html.escape(report.out)}</h1>"]
    for title, figure in _figures(report):
        body.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='{png(figure)}'>")
    body.append(markdown_to_html(markdown(report)))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>AutoAnnotator evaluation</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
