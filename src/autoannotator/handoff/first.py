"""People's labels before a run: rows drawn uniformly from the input, as a sheet for people to fill.

Given back to `annotate` as ``--calibration``, the filled sheet is the run's truth: trust is measured against
it (the specialists keep the rows where they are at least as accurate as the reviewer), its rows take the
people's labels, and, because the draw was uniform (each row's ``weight`` is the input's rows over the rows
drawn), the run ends re-judged on them with a prediction-powered estimate of the whole output's accuracy
(`autoannotator.trust.people`). The drawn rows may also go to a Label Studio project; `fill_sheet` writes its
answers into the sheet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from autoannotator.errors import InputError
from autoannotator.read.io import ColumnType, Record, Source, read_rows, write_rows
from autoannotator.trust.people import draw

READ_BATCH = 10_000
"""Rows read at a time while drawing."""


def first_rows(source: Source, n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """`n` rows drawn uniformly from `source` (ids as a run gives them), in input order: ``id``, the text field,
    an empty ``label`` to fill and each row's ``weight``. Two passes over the input, holding only the
    positions of its usable rows."""
    positions = [r.pos for batch in source.batches(READ_BATCH) for r in batch if isinstance(r, Record)]
    if not positions:
        raise InputError(source.path, "no usable rows to draw from")
    index, weights, _ = draw(np.zeros(len(positions), dtype=bool), n, 0.0, seed)
    chosen = {positions[i]: float(w) for i, w in zip(index.tolist(), weights.tolist(), strict=True)}
    return [
        {"id": r.id, source.text_field: r.text, "label": "", "weight": chosen[r.pos]}
        for batch in source.batches(READ_BATCH)
        for r in batch
        if isinstance(r, Record) and r.pos in chosen
    ]


def write_sheet(rows: list[dict[str, Any]], out: Path, text_field: str, *, csv_safe: bool = True) -> None:
    """Write drawn rows as a sheet for people (atomically)."""
    write_rows(out, [rows], columns=_columns(text_field), csv_safe=csv_safe)


def fill_sheet(sheet: Path, labels: dict[str, str]) -> tuple[int, int]:
    """Write `labels` (row id -> label, e.g. from a Label Studio project) into the ``label`` column of a sheet
    `write_sheet` wrote, in place and atomically (a label already there is replaced only by a new answer);
    (rows labelled now, rows in the sheet)."""
    rows = list(read_rows(sheet))
    text_field = next((k for k in rows[0] if k not in ("id", "label", "weight")), None) if rows else None
    if text_field is None or any(set(row) != {"id", text_field, "label", "weight"} for row in rows):
        raise InputError(sheet, "not a sheet from ask-people-first (columns id, text, label, weight)")
    for row in rows:
        row["label"] = labels.get(str(row["id"]), row["label"] or "")
    write_rows(sheet, [rows], columns=_columns(text_field))  # its cells as read: neutralised ones stay so
    return sum(str(row["id"]) in labels for row in rows), len(rows)


def _columns(text_field: str) -> dict[str, ColumnType]:
    """A first sheet's columns, in order."""
    return {"id": "string", text_field: "string", "label": "string", "weight": "float"}
