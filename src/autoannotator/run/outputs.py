"""The output file of a run, written from its ledger: the columns, the input's other columns beside them
(read again from the input, in step with the ledger's rows), and the atomic write (the skipped rows beside
it)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from autoannotator.errors import InputError, LedgerError
from autoannotator.ledger import Ledger, output
from autoannotator.read.io import ColumnType, Source, beside, exists, file_format, write_rows
from autoannotator.run.config import fingerprint

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


KEEP_ALL = "all"
"""``keep_columns``: every column of the input (the default)."""


def write_output(ledger: Ledger, out: Path) -> int:
    """Write the run's rows to `out` (atomically) and its skipped rows beside it; returns the row count. The
    input's other columns are kept as the run asked (``keep_columns``: all, none, or a list; a column named
    like an output column gets the prefix ``input_``). CSV cells that a spreadsheet would run as formulas are
    neutralised when the run asked for it (``csv_safe``)."""
    config = ledger.meta("config")
    columns: dict[str, ColumnType] = dict(
        MULTI_LABEL_COLUMNS if config.get("task", {}).get("multi_label") else OUTPUT_COLUMNS
    )
    rows: Iterable[list[dict[str, Any]]] = output.labelled(ledger)
    keep = ledger.meta("keep_columns")
    if keep:
        kept, rows = _with_input(rows, config, keep, columns, typed=file_format(out) in ("parquet", "hf-disk"))
        columns.update(dict.fromkeys(kept, "string"))
    n = write_rows(out, rows, columns=columns, csv_safe=bool(ledger.meta("csv_safe")), labels=config["labels"])
    skipped = output.skipped(ledger)
    if skipped:
        write_rows(
            beside(out, ".skipped.jsonl", stem=True),
            [skipped],
            columns={"row": "int", "id": "string", "field": "string", "reason": "string"},
        )
    return n


def check_keep(source: Source, keep: str | list[str]) -> None:
    """Refuse, before any work, kept columns that the input does not have (one line naming them)."""
    if keep == KEEP_ALL or not keep:
        return
    first = next(source.fields(), None)
    missing = sorted(set(keep) - set(first[1] if first else ()))
    if missing:
        have = sorted(first[1]) if first else []
        raise InputError(
            source.path, f"no column {', '.join(missing)} to keep (--keep-columns); columns are {have}"
        )


def _with_input(
    chunks: Iterable[list[dict[str, Any]]],
    config: dict[str, Any],
    keep: str | list[str],
    taken: dict[str, ColumnType],
    *,
    typed: bool,
) -> tuple[list[str], Iterator[list[dict[str, Any]]]]:
    """(the kept columns' output names, `chunks` with them): the input is read again beside the ledger's rows
    (both in input order). The task's text and id columns are the output's ``text`` and ``id`` already; a kept
    column named like one in `taken` is renamed ``input_NAME``; with `typed` (Parquet, datasets) values are kept
    as text (JSON for numbers and nested values)."""
    path = Path(config["input"])
    if not exists(path) or fingerprint(path) != config["input_fingerprint"]:
        raise LedgerError(
            f"{path}: the input is missing or changed since the run, and the output keeps its other columns "
            "from it: put it back (a run started with --keep-columns none does not read it again)"
        )
    task = config["task"]
    source = Source(path, text_field=task["text_field"], id_field=task.get("id_field"), every_column=True)
    fields = source.fields()
    first = next(fields, None)
    names = [
        n
        for n in ([] if first is None else first[1])
        if n not in (task["text_field"], task.get("id_field")) and (keep == KEEP_ALL or n in keep)
    ]
    renamed = {n: f"input_{n}" if n in taken else n for n in names}
    values = chain([] if first is None else [first], fields)

    def merged() -> Iterator[list[dict[str, Any]]]:
        pos, found = -1, dict[str, Any]()
        for chunk in chunks:
            joined = []
            for row in chunk:
                while pos < row["pos"]:
                    pos, found = next(values)
                extra = {renamed[n]: _cell(found.get(n), typed) for n in names}
                joined.append({**row, **extra})
            yield joined

    return list(renamed.values()), merged()


def _cell(value: Any, typed: bool) -> Any:
    """A kept value: as it is, or with `typed` as text (None stays None)."""
    if not typed or value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
