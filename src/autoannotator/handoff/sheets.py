"""Human review: hand the rows nobody settled to people (a CSV, or Label Studio tasks with the specialists'
votes as predictions) and bring their decisions back into the run (source ``human``).

Label Studio labeling config for the exported tasks::

    <View>
      <Text name="text" value="$text"/>
      <Choices name="label" toName="text" choice="single"> <Choice value="..."/> ... </Choices>
    </View>
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from pyarrow import ArrowException

from autoannotator.errors import InputError
from autoannotator.ledger import Ledger, output
from autoannotator.read.io import ColumnType, atomic_path, file_format, read_rows, unneutralise, write_rows
from autoannotator.vote.labelsets import decode, encode

REVIEW_COLUMNS = ["id", "text", "run_label", "source", "best_guess", "votes", "review", "label"]
"""A review sheet's columns: `run_label` and `source` say what the run decided (empty while unresolved); people
fill `label`."""


def label_studio_config(labels: list[str], *, multiple: bool = False) -> str:
    """The Label Studio labeling config that matches the exported tasks (label names XML-escaped); `multiple`:
    a multi-label task (any number of choices)."""
    choices = "\n".join(f"    <Choice value={quoteattr(label)}/>" for label in labels)
    kind = "multiple" if multiple else "single"
    return (
        f'<View>\n  <Text name="text" value="$text"/>\n  <Choices name="label" toName="text" choice="{kind}">\n'
        f"{choices}\n  </Choices>\n</View>\n"
    )


def stored(choices: list[str], labels: list[str], *, multi: bool) -> str:
    """The label a person's choices are stored as: the one choice, or (multi-label) the set's canonical text."""
    return encode(choices, labels) if multi else choices[0]


def unknown_choices(choices: list[str], labels: list[str]) -> list[str]:
    """The `choices` that are not task labels."""
    return [c for c in choices if c not in labels]


def export_rows(
    ledger: Ledger, out: Path, *, rows: list[dict[str, Any]] | None = None, csv_safe: bool = True
) -> int:
    """Write `rows` (output rows; default the unresolved ones) for people to `out`: ``.json`` = Label Studio
    tasks, any other format = a sheet (`REVIEW_COLUMNS`) with an empty ``label`` column to fill (formula-like CSV
    cells neutralised unless `csv_safe` is off: people open it in a spreadsheet). Returns the number of rows."""
    chosen = output.unresolved(ledger) if rows is None else rows
    if out.suffix.lower() == ".json":
        with atomic_path(out) as tmp:
            tmp.write_text(
                json.dumps([_task(row) for row in chosen], ensure_ascii=False, indent=1), encoding="utf-8"
            )
        return len(chosen)
    columns: dict[str, ColumnType] = dict.fromkeys(REVIEW_COLUMNS, "string")
    sheet = [{**row, "run_label": row["label"], "label": ""} for row in chosen]
    return write_rows(out, [sheet], columns=columns, csv_safe=csv_safe)


def predictions(row: dict[str, Any], reviewer: str | None = None, labels: list[str] | None = None) -> list[Any]:
    """Label Studio predictions of an output row: each specialist's vote (model_version = its name, score = its
    probability) and the reviewer's answer when it is one of `labels` (model_version ``reviewer``)."""
    said = [
        (name, _listed(vote["label"]), vote["prob"])
        for name, vote in row["votes"].items()
        if vote["label"] is not None
    ]
    if reviewer is not None and labels is not None:
        answer = decode(reviewer) if reviewer.startswith("[") else [reviewer]
        if answer and not unknown_choices(answer, labels):
            said.append(("reviewer", answer, 1.0))
    return [
        {
            "model_version": name,
            "score": score,
            "result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": chosen}}],
        }
        for name, chosen, score in said
    ]


def _listed(label: str | list[str]) -> list[str]:
    return label if isinstance(label, list) else [label]


def task_data(row: dict[str, Any]) -> dict[str, Any]:
    """A Label Studio task's data for an output row: what people see beside the text."""
    return {
        "id": row["id"],
        "text": row["text"],
        "run_label": row["label"],
        "source": row["source"],
        "best_guess": row["best_guess"],
    }


def _task(row: dict[str, Any]) -> dict[str, Any]:
    return {"data": task_data(row), "predictions": predictions(row)}


MAX_REPORTED = 20
"""Bad rows named in one error, at most."""


def read_decisions(path: Path, labels: list[str], *, multi: bool = False, separator: str = "|") -> dict[str, str]:
    """Row id -> label from a filled review sheet (CSV, a spreadsheet's "CSV UTF-8" with a byte-order mark too,
    JSONL or Parquet, as `export_rows` writes them) or a Label Studio JSON export; rows left blank are skipped.
    Labels not among `labels` are one `InputError` that names every bad row (up to `MAX_REPORTED`), by row
    number as `export_rows` counts them (a CSV's header is row 1, a JSONL's first line row 1) or task number.
    With `multi` (a multi-label task), a cell names a set joined by `separator`, stored as its canonical text."""
    if not path.is_file():
        raise InputError(path, "file not found")
    decisions: dict[str, str] = {}
    bad: list[str] = []
    if path.suffix.lower() == ".json":
        try:
            tasks = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(path, f"not a Label Studio JSON export: {exc}") from None
        for i, task in enumerate(tasks, start=1):
            choices = _annotation(task)
            if choices is not None:
                decisions[str(task["data"]["id"])] = stored(choices, labels, multi=multi)
                bad += [f"task {i}: {c!r}" for c in unknown_choices(choices, labels)]
    else:
        for i, row in _sheet(path):
            label = str(row.get("label") or "").strip()
            if label:
                choices = [c.strip() for c in label.split(separator) if c.strip()] if multi else [label]
                decisions[unneutralise(str(row["id"] or ""))] = stored(choices, labels, multi=multi)
                bad += [f"row {i}: {c!r}" for c in unknown_choices(choices, labels)]
    if bad:
        more = f" and {len(bad) - MAX_REPORTED} more" if len(bad) > MAX_REPORTED else ""
        raise InputError(
            path,
            f"unknown labels in {len(bad)} rows ({'; '.join(bad[:MAX_REPORTED])}{more}); "
            f"the task's labels are {labels}",
            field="label",
        )
    return decisions


def _sheet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) of a review sheet in any format `export_rows` writes; a CSV's rows count from 2 (its
    header is row 1), others from 1. One `InputError` when it cannot be read or lacks the id or label column."""
    fmt = file_format(path)
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            if not {"id", "label"} <= set(reader.fieldnames or ()):
                raise InputError(path, f"needs the columns id and label; it has {reader.fieldnames}", row=1)
            yield from enumerate(reader, start=2)
        return
    try:
        for i, row in enumerate(read_rows(path), start=1):
            if not isinstance(row, dict) or not {"id", "label"} <= set(row):
                raise InputError(path, "needs the fields id and label", row=i)
            yield i, row
    except (OSError, ValueError, ArrowException) as exc:  # ValueError: a JSON line that does not parse
        raise InputError(path, f"not a review sheet: {exc}") from None


def _annotation(task: dict[str, Any]) -> list[str] | None:
    """The choices of a task's latest non-cancelled annotation, if any."""
    for annotation in reversed(task.get("annotations", [])):
        if annotation.get("was_cancelled"):
            continue
        for result in annotation.get("result", []):
            choices = result.get("value", {}).get("choices", [])
            if choices:
                return [str(c) for c in choices]
    return None
