"""Scoring multi-label outputs: micro and macro F1, per-label precision / recall / F1, Hamming loss and exact-set
accuracy (scikit-learn); gold sets read by row id; each specialist's exact-set agreement with the reviewer.
`autoannotator.report.evaluation` builds a multi-label run's report from these."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from autoannotator.errors import InputError
from autoannotator.read.io import Source
from autoannotator.specialists.base import BoolArray


class MultiScores(BaseModel):
    """Predicted sets against gold sets on the rows that have both (None: no row has both)."""

    rows: int
    exact_set_accuracy: float | None
    micro_f1: float | None
    macro_f1: float | None
    hamming_loss: float | None
    per_label: dict[str, dict[str, float]]
    """Per label: precision, recall, f1, support."""


def multi_scores(gold: BoolArray, predicted: BoolArray, labels: Sequence[str]) -> MultiScores:
    """The scores of (n, k) predicted label indicators against (n, k) gold ones."""
    from sklearn.metrics import accuracy_score, f1_score, hamming_loss, precision_recall_fscore_support

    if len(gold) == 0:
        zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
        per_label = {label: dict(zero) for label in labels}
        return MultiScores(
            rows=0, exact_set_accuracy=None, micro_f1=None, macro_f1=None, hamming_loss=None, per_label=per_label
        )
    precision, recall, f1, support = (
        np.asarray(v, dtype=np.float64).tolist()
        for v in precision_recall_fscore_support(gold, predicted, zero_division=0.0)
    )
    return MultiScores(
        rows=len(gold),
        exact_set_accuracy=float(accuracy_score(gold, predicted)),
        micro_f1=float(f1_score(gold, predicted, average="micro", zero_division=0.0)),
        macro_f1=float(f1_score(gold, predicted, average="macro", zero_division=0.0)),
        hamming_loss=float(hamming_loss(gold, predicted)),
        per_label={
            label: {
                "precision": float(precision[j]),
                "recall": float(recall[j]),
                "f1": float(f1[j]),
                "support": int(support[j]),
            }
            for j, label in enumerate(labels)
        },
    )


def labels_of(value: Any, separator: str) -> list[str] | None:
    """A cell's label set: a list, JSON list text, or names joined by `separator`; None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("["):
        return [str(v) for v in json.loads(text)]
    return [part.strip() for part in text.split(separator) if part.strip()]


def specialist_agreement(
    rows: Sequence[dict[str, Any]], sets: Sequence[list[str] | None], source: Any, separator: str
) -> dict[str, dict[str, float]]:
    """Per specialist: the share of rows it spoke on, and its exact-set agreement with the reviewer."""
    names = sorted({name for r in rows for name in (r.get("votes") or {})})
    result = {}
    for name in names:
        said = [labels_of((r.get("votes") or {}).get(name, {}).get("label"), separator) for r in rows]
        voted = [s is not None for s in said]
        reviewed = [i for i, s in enumerate(source) if s == "llm" and voted[i] and sets[i] is not None]
        same = [sorted(said[i] or []) == sorted(sets[i] or []) for i in reviewed]
        result[name] = {
            "coverage": float(np.mean(voted)) if rows else 0.0,
            "agreement_with_reviewer": float(np.mean(same)) if same else float("nan"),
        }
    return result


def gold_sets(
    path: Path, field: str, config: dict[str, Any], ids: Sequence[str], separator: str
) -> list[list[str] | None]:
    """Each output row's gold set (None where the gold file has none), matched by row id. In a task that allows
    the empty set, an empty cell is that set."""
    task = config.get("task", {})
    source = Source(path, text_field=task.get("text_field", "text"), id_field=task.get("id_field"))
    empty: list[str] | None = [] if task.get("allow_empty") else None  # an empty cell: the empty set, or no gold
    values = {i: labels_of(v, separator) or empty for i, v in source.column(field)}
    if not values:
        raise InputError(path, f"no usable rows with a {field!r} field", field=field)
    known = set(config["labels"])
    unknown = {lab for s in values.values() for lab in s or [] if lab not in known}
    if unknown:
        raise InputError(path, f"gold labels not in the task: {sorted(unknown)[:5]}", field=field)
    return [values.get(i) for i in ids]
