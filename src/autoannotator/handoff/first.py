"""People's labels before a run: rows drawn uniformly from the input, as a sheet for people to fill.

Given back to `annotate` as ``--calibration``, the filled sheet is the run's truth: trust is measured against
it (the specialists keep the rows where they are at least as accurate as the reviewer), its rows take the
people's labels, and, because the draw was uniform (each row's ``weight`` is the input's rows over the rows
drawn), the run ends re-judged on them with a prediction-powered estimate of the whole output's accuracy
(`autoannotator.trust.people`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autoannotator.errors import InputError
from autoannotator.read.io import ColumnType, Record, Source, write_rows
from autoannotator.trust.people import draw

READ_BATCH = 10_000
"""Rows read at a time while drawing."""


def first_sheet(source: Source, n: int, out: Path, *, seed: int = 0, csv_safe: bool = True) -> int:
    """Write `n` rows drawn uniformly from `source` (ids as a run gives them) to `out`: ``id``, the text
    field, an empty ``label`` to fill and each row's ``weight``; returns the rows written. Two passes over the
    input, holding only the positions of its usable rows."""
    positions = [r.pos for batch in source.batches(READ_BATCH) for r in batch if isinstance(r, Record)]
    if not positions:
        raise InputError(source.path, "no usable rows to draw from")
    index, weights, _ = draw(np.zeros(len(positions), dtype=bool), n, 0.0, seed)
    chosen = {positions[i]: float(w) for i, w in zip(index.tolist(), weights.tolist(), strict=True)}
    rows = [
        {"id": r.id, source.text_field: r.text, "label": "", "weight": chosen[r.pos]}
        for batch in source.batches(READ_BATCH)
        for r in batch
        if isinstance(r, Record) and r.pos in chosen
    ]
    columns: dict[str, ColumnType] = {
        "id": "string",
        source.text_field: "string",
        "label": "string",
        "weight": "float",
    }
    return write_rows(out, [rows], columns=columns, csv_safe=csv_safe)
