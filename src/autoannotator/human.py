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
from pathlib import Path
from typing import Any

from autoannotator.errors import InputError
from autoannotator.io import ColumnType, atomic_path, unneutralise, write_rows
from autoannotator.ledger import Ledger

REVIEW_COLUMNS = ["id", "text", "best_guess", "votes", "review", "label"]


def label_studio_config(labels: list[str]) -> str:
    """The Label Studio labeling config that matches the exported tasks."""
    choices = "".join(f'<Choice value="{label}"/>' for label in labels)
    return (
        f'<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
        f"{choices}</Choices></View>"
    )


def export_rows(ledger: Ledger, out: Path, *, csv_safe: bool = True) -> int:
    """Write the unresolved rows to `out`: ``.json`` = Label Studio tasks, ``.csv`` = a sheet with an empty
    ``label`` column to fill (formula-like cells neutralised unless `csv_safe` is off: people open it in a
    spreadsheet). Returns the number of rows."""
    rows = ledger.unresolved()
    if out.suffix.lower() == ".json":
        with atomic_path(out) as tmp:
            tmp.write_text(
                json.dumps([_task(row) for row in rows], ensure_ascii=False, indent=1), encoding="utf-8"
            )
        return len(rows)
    columns: dict[str, ColumnType] = dict.fromkeys(REVIEW_COLUMNS, "string")
    return write_rows(out, [[{**row, "label": ""} for row in rows]], columns=columns, csv_safe=csv_safe)


def _task(row: dict[str, Any]) -> dict[str, Any]:
    predictions = [
        {
            "model_version": name,
            "score": vote["prob"],
            "result": [
                {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [vote["label"]]}}
            ],
        }
        for name, vote in row["votes"].items()
        if vote["label"] is not None
    ]
    return {
        "data": {"id": row["id"], "text": row["text"], "best_guess": row["best_guess"]},
        "predictions": predictions,
    }


def read_decisions(path: Path, labels: list[str]) -> dict[str, str]:
    """Row id -> label from a filled review CSV or a Label Studio JSON export; rows left blank are skipped.
    A label that is not one of `labels` is an `InputError` naming the file, row and field."""
    if not path.is_file():
        raise InputError(path, "file not found")
    decisions: dict[str, str] = {}
    if path.suffix.lower() == ".json":
        try:
            tasks = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(path, f"not a Label Studio JSON export: {exc}") from None
        for i, task in enumerate(tasks, start=1):
            choice = _annotation(task)
            if choice is not None:
                decisions[str(task["data"]["id"])] = _checked(choice, labels, path, i)
        return decisions
    with path.open(encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.DictReader(f), start=1):
            if row.get("id") is None or "label" not in row:
                raise InputError(path, "needs the columns id and label", row=i)
            if row["label"].strip():
                decisions[unneutralise(row["id"])] = _checked(row["label"].strip(), labels, path, i)
    return decisions


def _annotation(task: dict[str, Any]) -> str | None:
    """The choice of a task's latest non-cancelled annotation, if any."""
    for annotation in reversed(task.get("annotations", [])):
        if annotation.get("was_cancelled"):
            continue
        for result in annotation.get("result", []):
            choices = result.get("value", {}).get("choices", [])
            if choices:
                return str(choices[0])
    return None


def _checked(label: str, labels: list[str], path: Path, row: int) -> str:
    if label not in labels:
        raise InputError(path, f"unknown label {label!r}; the task's labels are {labels}", row=row, field="label")
    return label
