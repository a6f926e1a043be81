"""A run's report as Markdown: the summary beside the LLM on every row, trust, scores against gold, the
specialists, the stages, the rows to check first, the trainings.

>>> print(table(["a", "b"], [[1, 0.5]]))
| a | b |
|---|---|
| 1 | 0.500 |
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from autoannotator.report.evaluation import Report
from autoannotator.trust.evidence import describe as describe_trust

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
    sections = (summary, _trust, _gold, _multi_label, _specialists, _stages, _check_first, _trainings)
    parts = [part for section in sections for part in section(report)]
    return "\n".join(parts) + "\n"


def summary(report: Report) -> list[str]:
    return [
        f"# Evaluation of {report.out.rstrip('/').rpartition('/')[2]}",
        "",
        f"- output: {report.out}",
        f"- rows: {report.rows:,}; labelled: {report.labelled:,} (coverage {report.coverage:.1%})",
        f"- sources: {', '.join(f'{k} {v:,}' for k, v in sorted(report.sources.items()))}",
        f"- hard-row share {report.hard_share:.1%}; sent to the LLM {report.llm_share:.1%}; "
        f"{report.tokens:,} tokens, ${report.cost_usd:.4f}",
        *_llm_only(report),
    ]


def _llm_only(report: Report) -> list[str]:
    """The reference a run is judged beside: the LLM on every row (its cost at this run's price per reviewed
    row; its accuracy against gold on the rows it reviewed)."""
    lines = []
    if report.llm_share > 0 and report.cost_usd > 0:
        every_row = report.cost_usd / report.llm_share
        lines.append(
            f"- the LLM on every row: about ${every_row:.4f} at this run's price per reviewed row "
            f"({1 - report.cost_usd / every_row:.0%} saved)"
        )
    if report.reviewed_accuracy is not None:
        lines.append(
            f"- the reviewer's accuracy against gold on the rows it labelled: {report.reviewed_accuracy:.3f}"
        )
    return lines


def _trust(report: Report) -> list[str]:
    if report.trust is None:
        return []
    rows = [
        [
            stage,
            f"{e['accepted_share']:.1%}",
            e["agreement"],
            f"{e['low']:.3f}-{e['high']:.3f}" if e["audited"] else "- (nothing audited)",
            e["audited"],
        ]
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
            [*(t[k] for k in TRAINING_COLUMNS), _promoted(t), round(t["seconds"], 1)] for t in report.trainings
        ]
        header = [*TRAINING_COLUMNS.values(), "promoted", "seconds"]
        parts += ["", "Trainings:", "", table(header, rows)]
    if report.relabelled:
        changes = ", ".join(f"{k}: {v:,}" for k, v in report.relabelled.items())
        parts += ["", f"Relabelled at the end by the final specialists: {changes}."]
    return parts


def _promoted(training: dict[str, Any]) -> str:
    """A training's outcome: promoted, rolled back, or skipped by the training budget (its estimate)."""
    if training.get("skipped") is not None:
        return f"skipped (estimated {training['skipped']:.0f} s over the budget)"
    return "yes" if training["promoted"] else "no"


def _short(text: str) -> str:
    """One line of at most `TEXT_CHARS` characters, safe inside a Markdown table cell."""
    line = " ".join(text.split()).replace("|", "/")
    return line if len(line) <= TEXT_CHARS else line[: TEXT_CHARS - 1] + "…"
