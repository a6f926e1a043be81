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
    "body{font-family:system-ui,sans-serif;max-width:62em;margin:1.5em auto;padding:0 1em;line-height:1.45;"
    "color:#222}"
    "img{max-width:100%;height:auto}"
    "table{border-collapse:collapse;display:block;overflow-x:auto;max-width:100%;margin:.5em 0}"
    "td,th{padding:3px 9px;border-bottom:1px solid #ddd;text-align:left}"
    "h1,h2,li,td,p{overflow-wrap:anywhere}"
    "figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}"
)
TEXT_CHARS = 120
"""Texts in the rows-to-check table are cut to this many characters."""


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
    """The report as Markdown: a summary, then one section per part of the run that has something to show."""
    sections = (_summary, _trust, _gold, _multi_label, _specialists, _stages, _check_first, _trainings)
    parts = [part for section in sections for part in section(report)]
    return "\n".join(parts) + "\n"


def _summary(report: Report) -> list[str]:
    return [
        f"# Evaluation of {report.out.rstrip('/').rpartition('/')[2]}",
        "",
        f"- output: {report.out}",
        f"- rows: {report.rows:,}; labelled: {report.labelled:,} (coverage {report.coverage:.1%})",
        f"- sources: {', '.join(f'{k} {v:,}' for k, v in sorted(report.sources.items()))}",
        f"- hard-row share {report.hard_share:.1%}; sent to the LLM {report.llm_share:.1%}; "
        f"{report.tokens:,} tokens, ${report.cost_usd:.4f}",
    ]


def _trust(report: Report) -> list[str]:
    if report.trust is None:
        return []
    rows = [
        [stage, f"{e['accepted_share']:.1%}", e["agreement"], f"{e['low']:.3f}-{e['high']:.3f}", e["audited"]]
        for stage, e in report.trust["stages"].items()
    ]
    truth = report.trust["reference"] == "truth"
    measure, evidence = ("accuracy", "calibration rows") if truth else ("agreement", "audited rows")
    header = ["stage", "accepted without review", f"estimated {measure}", "95% CI", evidence]
    return [
        "",
        f"## Trust (measured on the {'calibration labels' if truth else 'audit stream'})",
        "",
        describe_trust(report.trust),
        "",
        table(header, rows),
    ]


def _gold(report: Report) -> list[str]:
    if report.gold is None:
        return []
    overall = report.gold["all"]
    parts = [
        "",
        "## Against gold",
        "",
        table(
            ["rows", "scored", "accuracy", "macro-F1"],
            [[name, s.rows, s.accuracy, s.macro_f1] for name, s in report.gold.items()],
        ),
    ]
    if not overall.rows:
        return [*parts, "", "Nothing to score: no row has both a label and a gold label."]
    parts += [
        "",
        "Per class (all rows):",
        "",
        table(
            ["label", "precision", "recall", "F1", "support"],
            [[lab, c.precision, c.recall, c.f1, c.support] for lab, c in overall.per_class.items()],
        ),
        "",
        "Confusion (rows: gold, columns: predicted):",
        "",
        table(
            ["gold \\ predicted", *report.labels],
            [[lab, *row] for lab, row in zip(report.labels, overall.confusion, strict=True)],
        ),
    ]
    if report.reliability is not None:
        parts += ["", calibration_note(report)]
    return parts


def calibration_note(report: Report) -> str:
    """What the confidence column means in this run, and how well it predicts being right against gold."""
    assert report.reliability is not None
    reference = (report.trust or {}).get("reference")
    meaning = {
        "reviewer": "the estimated probability that the label agrees with the reviewer (the run's reference)",
        "truth": "the estimated probability that the label is right (measured on the calibration labels)",
    }.get(str(reference), "the vote's probability of the label (no reference: not calibrated)")
    line = f"The confidence column is {meaning}. Against gold, its expected calibration error is "
    line += f"{report.reliability.ece:.3f} on all labelled rows"
    if report.reliability_accepted is not None:
        line += f", {report.reliability_accepted.ece:.3f} on the rows accepted without review"
    if reference == "reviewer" and report.reviewed_accuracy is not None:
        line += (
            f". Reviewed rows say 1.0 (they agree with the reviewer by definition); against gold they are right "
            f"{report.reviewed_accuracy:.3f} of the time, which is the reviewer's own error"
        )
    return line + "."


def _multi_label(report: Report) -> list[str]:
    if report.multi_label is None:
        return []
    overall = report.multi_label["all"]
    rows = [
        [name, s.rows, s.micro_f1, s.macro_f1, s.exact_set_accuracy, s.hamming_loss]
        for name, s in report.multi_label.items()
    ]
    per_label = [
        [lab, v["precision"], v["recall"], v["f1"], int(v["support"])] for lab, v in overall.per_label.items()
    ]
    return [
        "",
        "## Against gold (multi-label)",
        "",
        table(["rows", "scored", "micro-F1", "macro-F1", "exact-set accuracy", "Hamming loss"], rows),
        "",
        "Per label (all rows):",
        "",
        table(["label", "precision", "recall", "F1", "support"], per_label),
    ]


def _specialists(report: Report) -> list[str]:
    columns = ["coverage", "agreement_with_reviewer", "accuracy"]
    rows = [[name, *(v.get(c) for c in columns)] for name, v in report.specialists.items()]
    header = ["specialist", "coverage", "agreement with the reviewer", "accuracy vs gold"]
    return ["", "## Specialists", "", table(header, rows)]


def _stages(report: Report) -> list[str]:
    if not report.stages:
        return []
    rows = [
        [
            s["stage"],
            s["rows"],
            f"{s['hard_share']:.1%}",
            f"{s['llm_share']:.1%}",
            f"{s.get('cost_usd', 0.0):.4f}",
            s.get("accuracy"),
        ]
        for s in report.stages
    ]
    header = ["stage", "rows", "hard share", "sent to the LLM", "USD", "accuracy vs gold"]
    return ["", "## Stages", "", table(header, rows)]


def _check_first(report: Report) -> list[str]:
    if not report.check_first:
        return []
    rows = [[r["id"], r["label"], r["confidence"], _short(str(r["text"]))] for r in report.check_first]
    intro = "Labelled without review, least confident first:"
    return ["", "## Rows to check first", "", intro, "", table(["id", "label", "confidence", "text"], rows)]


TRAINING_COLUMNS = {
    "stage": "stage",
    "specialist": "specialist",
    "train_rows": "train rows",
    "replay_rows": "replay rows",
    "val_rows": "validation rows",
    "val_accuracy": "val. accuracy",
    "previous_accuracy": "previous",
}


def _trainings(report: Report) -> list[str]:
    parts: list[str] = []
    if report.trainings:
        rows = [
            [*(t[k] for k in TRAINING_COLUMNS), "yes" if t["promoted"] else "no", round(t["seconds"], 1)]
            for t in report.trainings
        ]
        header = [*TRAINING_COLUMNS.values(), "promoted", "seconds"]
        parts += ["", "Trainings:", "", table(header, rows)]
    if report.relabelled:
        changes = ", ".join(f"{k}: {v:,}" for k, v in report.relabelled.items())
        parts += ["", f"Relabelled at the end by the final specialists: {changes}."]
    return parts


def _short(text: str) -> str:
    """One line of at most `TEXT_CHARS` characters, safe inside a Markdown table cell."""
    line = " ".join(text.split()).replace("|", "/")
    return line if len(line) <= TEXT_CHARS else line[: TEXT_CHARS - 1] + "…"


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
    points: Sequence[tuple[str, float, float]],
    curve: Sequence[tuple[float, float]] = (),
    title: str = "",
    *,
    metric: str = "accuracy",
) -> Any:
    """`metric` against gold (y) by the share of rows sent to the LLM (x): named points, optionally a curve."""
    plt = pyplot()

    figure, axes = plt.subplots(figsize=(5.5, 4))
    if curve:
        xs, ys = zip(*sorted(curve), strict=True)
        axes.plot(xs, ys, "-", color="tab:blue", label="routing threshold sweep")
    for name, share, accuracy in points:
        axes.plot(share, accuracy, "o")
        axes.annotate(name, (share, accuracy), textcoords="offset points", xytext=(5, 4), fontsize=8)
    axes.set_xlabel("share of rows sent to the LLM")
    axes.set_ylabel(f"{metric} against gold")
    axes.set_xlim(-0.02, 1.02)
    axes.grid(alpha=0.3)
    if curve:
        axes.legend(loc="lower right", fontsize=8)
    axes.set_title(title, fontsize=10)
    return figure


def figures(report: Report) -> list[tuple[str, Any]]:
    figures = []
    overall = report.gold["all"].accuracy if report.gold is not None else None
    if overall is not None:
        points = [("this run", report.llm_share, overall)]
        staged = [s for s in report.stages if s.get("accuracy") is not None]
        if len(staged) > 1:  # one stage is the run itself: its point would hide under "this run"
            points += [(f"stage {s['stage']}", s["llm_share"], s["accuracy"]) for s in staged]
        figures.append(("Accuracy against the share sent to the LLM", tradeoff_figure(points)))
    micro = report.multi_label["all"].micro_f1 if report.multi_label is not None else None
    if micro is not None:
        points = [("this run", report.llm_share, micro)]
        staged = [s for s in report.stages if s.get("micro_f1") is not None]
        if len(staged) > 1:
            points += [(f"stage {s['stage']}", s["llm_share"], s["micro_f1"]) for s in staged]
        figures.append(("Micro-F1 against the share sent to the LLM", tradeoff_figure(points, metric="micro-F1")))
    if report.specialists and report.pairwise_agreement:
        figures.append(("The specialists' agreement", _agreement_figure(report)))
    if len(report.stages) > 1 and report.cost_usd > 0:
        figures.append(("Where the money went", _cost_figure(report)))
    if report.reliability is not None:
        plt = pyplot()
        figure, axes = plt.subplots(figsize=(4.5, 4))
        axes.plot([0, 1], [0, 1], "--", color="grey")
        axes.plot(report.reliability.confidence, report.reliability.accuracy, "o-")
        axes.set_xlabel("confidence")
        axes.set_ylabel("accuracy against gold")
        axes.set_title(f"reliability (ECE {report.reliability.ece:.3f})", fontsize=10)
        figures.append(("Reliability of the confidence column", figure))
    return figures


def _agreement_figure(report: Report) -> Any:
    """The pairwise agreement heatmap (numbers in the cells) and, when an LLM reviewed rows, each
    specialist's agreement with it."""
    plt = pyplot()
    names = list(report.specialists)
    values = [report.specialists[n].get("agreement_with_reviewer", float("nan")) for n in names]
    reviewed = any(not math.isnan(v) for v in values)
    figure, panels = plt.subplots(
        1, 2 if reviewed else 1, figsize=(10 if reviewed else 5.5, 4), layout="constrained"
    )
    left = panels[0] if reviewed else panels
    matrix = report.pairwise_agreement
    image = left.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if not math.isnan(value):
                left.text(
                    j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if value < 0.6 else "k"
                )
    left.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    left.set_yticks(range(len(names)), names, fontsize=8)
    left.set_title("pairwise agreement", fontsize=10)
    figure.colorbar(image, ax=left)
    if reviewed:
        right = panels[1]
        right.barh(names, [0.0 if math.isnan(v) else v for v in values], color="tab:green")
        right.tick_params(axis="y", labelsize=8)
        right.set_xlim(0, 1)
        right.set_title("agreement with the reviewer", fontsize=10)
    return figure


def _cost_figure(report: Report) -> Any:
    """Dollars per stage beside the share of the stage's rows sent to the LLM."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(5.5, 3.5))
    stages = [str(s["stage"]) for s in report.stages]
    bars = axes.bar(stages, [s.get("cost_usd", 0.0) for s in report.stages], color="tab:orange")
    axes.bar_label(bars, labels=[f"{s['llm_share']:.0%} sent" for s in report.stages], fontsize=8)
    axes.set_xlabel("stage")
    axes.set_ylabel("USD")
    return figure


def markdown_to_html(text: str) -> str:
    """Markdown (with pipe tables) as HTML; the text is escaped first, so no value can inject markup."""
    import markdown as md

    return str(md.markdown(html.escape(text, quote=False), extensions=["tables"]))


def html_page(report: Report) -> str:
    """A self-contained HTML page: the headline, the plots as inline PNG images, then the tables (the
    Markdown report as HTML); readable from phone width up (no horizontal scroll of the page)."""
    head, _, rest = markdown(report).partition("\n")
    body = [markdown_to_html(head)]
    for title, figure in figures(report):
        name = html.escape(title)
        body.append(f"<figure><figcaption>{name}</figcaption><img alt='{name}' src='{png(figure)}'></figure>")
    body.append(markdown_to_html(rest))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>AutoAnnotator evaluation</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
