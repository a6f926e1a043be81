"""The output file of a run, written from its ledger: the columns, and the atomic write (the skipped rows
beside it)."""

from __future__ import annotations

from pathlib import Path

from autoannotator.io import ColumnType, beside, write_rows
from autoannotator.ledger import Ledger, output

OUTPUT_COLUMNS: dict[str, ColumnType] = {
    "id": "string",
    "text": "string",
    "label": "string",
    "confidence": "float",
    "source": "string",
    "best_guess": "string",
    "votes": "string",
    "agreement": "float",
    "stage": "int",
    "review": "string",
    "rationale": "string",
    "tokens": "int",
    "cost_usd": "float",
}
MULTI_LABEL_COLUMNS: dict[str, ColumnType] = {
    **OUTPUT_COLUMNS,
    "label": "labels",
    "label_scores": "string",
    "best_guess": "labels",
}
"""A multi-label run's columns: its sets as lists, and each chosen label's probability (`label_scores`)."""


def write_output(ledger: Ledger, out: Path) -> int:
    """Write the run's rows to `out` (atomically) and its skipped rows beside it; returns the row count. CSV
    cells that a spreadsheet would run as formulas are neutralised when the run asked for it (``csv_safe``)."""
    config = ledger.meta("config")
    n = write_rows(
        out,
        output.labelled(ledger),
        columns=MULTI_LABEL_COLUMNS if config.get("task", {}).get("multi_label") else OUTPUT_COLUMNS,
        csv_safe=bool(ledger.meta("csv_safe")),
        labels=config["labels"],
    )
    skipped = output.skipped(ledger)
    if skipped:
        write_rows(
            beside(out, ".skipped.jsonl", stem=True),
            [skipped],
            columns={"row": "int", "id": "string", "field": "string", "reason": "string"},
        )
    return n
