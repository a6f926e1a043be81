"""Multi-label decisions as arrays: label sets and (n, k) indicator matrices, the per-label decision, the row's
confidence, and the canonical text a set is stored as (a JSON list in the task's label order).

A label is chosen above 0.5; a label no specialist speaks about stays at 0.5 (undecided). A row of a
multi-label task is right only when every label is: its confidence is that of its least certain decision,
``min_l (p_l if l is in the set else 1 - p_l)`` (a bound on the set being right when the labels' errors are
independent, and the quantity the audit can check: trust accepts a row when this clears a threshold shown on
audited rows).

>>> names = ("anger", "joy", "sadness")
>>> encode(["sadness", "anger"], names), decode('["anger", "sadness"]')
('["anger", "sadness"]', ['anger', 'sadness'])
>>> p = np.array([[0.9, 0.2, 0.6], [0.1, 0.3, 0.2]])
>>> sets = decide(p, max_labels=None, allow_empty=False)
>>> sets.astype(int).tolist(), row_confidence(p, sets).round(2).tolist()
([[1, 0, 1], [0, 1, 0]], [0.6, 0.3])
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.preprocessing import MultiLabelBinarizer

from autoannotator.specialists.base import BoolArray, FloatArray, IntArray


def encode(labels: Iterable[str], names: Sequence[str]) -> str:
    """The canonical text of a label set: a JSON list in the task's label order."""
    chosen = set(labels)
    return json.dumps([name for name in names if name in chosen])


def decode(text: str | None) -> list[str]:
    """The labels of a canonical text (none for None or an empty text)."""
    return [str(label) for label in json.loads(text)] if text else []


def indicators(sets: Sequence[Sequence[str]], names: Sequence[str]) -> BoolArray:
    """(n, k) True where row i carries label j; labels not in `names` are ignored."""
    binarizer = MultiLabelBinarizer(classes=list(names))
    known = set(names)
    matrix: BoolArray = binarizer.fit_transform([[lab for lab in s if lab in known] for s in sets]).astype(bool)
    return matrix.reshape(len(sets), len(names))


def combine(presence: FloatArray, covered: BoolArray) -> FloatArray:
    """(n, k) mean presence probability over the specialists that speak about each label, from presence
    (n, m, k) and covered (m, k); 0.5 (undecided) where none does."""
    weights = covered[None, :, :].astype(np.float64)
    total = weights.sum(axis=1)
    summed = (presence * weights).sum(axis=1)
    result: FloatArray = np.divide(summed, total, out=np.full_like(summed, 0.5), where=total > 0)
    return result


def decide(p: FloatArray, *, max_labels: int | None, allow_empty: bool) -> BoolArray:
    """(n, k) the labels each row carries: those above 0.5, at most `max_labels` (the most probable); without
    `allow_empty`, the most probable one where none is above 0.5 (none where every label is at 0.5: undecided)."""
    chosen: BoolArray = p > 0.5
    if max_labels is not None:
        rank = np.argsort(np.argsort(-p, axis=1, kind="stable"), axis=1, kind="stable")
        chosen &= rank < max_labels
    if not allow_empty and p.shape[1]:
        empty = ~chosen.any(axis=1) & (p != 0.5).any(axis=1)
        chosen[np.nonzero(empty)[0], p[empty].argmax(axis=1)] = True
    return chosen


def row_confidence(p: FloatArray, chosen: BoolArray) -> FloatArray:
    """(n,) the confidence of each row's set `chosen` (n, k): that of its least certain decision, p for a label
    in the set, 1 - p for one left out (a label forced in below 0.5, or cut by max_labels, counts as unsure)."""
    if p.shape[1] == 0:
        return np.ones(p.shape[0])
    result: FloatArray = np.where(chosen, p, 1.0 - p).min(axis=1)
    return result


def masks(sets: BoolArray) -> IntArray:
    """(…) bit masks of (…, k) label indicators: bit j set where label j is."""
    result: IntArray = (sets.astype(np.int64) << np.arange(sets.shape[-1], dtype=np.int64)).sum(axis=-1)
    return result


def read_answer(text: str, key: str) -> tuple[Any, str | None]:
    """(the answer's `key` field, or the whole answer when it is not a JSON object; its rationale) from an LLM's
    text: JSON (fenced or not) or plain text, which comes back as it is, trimmed."""
    cleaned = re.sub(r"^```(?:json)?|```$", "", text.strip()).strip()
    try:
        value: Any = json.loads(cleaned)
    except json.JSONDecodeError:
        return cleaned, None
    if isinstance(value, dict):
        rationale = value.get("rationale") if isinstance(value.get("rationale"), str) else None
        return value.get(key), rationale
    return value, None


def parse_set(
    text: str, names: Sequence[str], *, allow_empty: bool, max_labels: int | None
) -> tuple[list[str] | None, str | None]:
    """(labels in task order, rationale) from an answer: JSON ``{"labels": [...], "rationale": ...}``, a JSON
    list, or names separated by commas, ``|`` or new lines. None when a name is not a task label, when the set is
    empty and the task does not allow it, or when it has more than `max_labels`."""
    by_key = {name.casefold(): name for name in names}
    value, rationale = read_answer(text, "labels")
    if isinstance(value, str) and not value.startswith("{"):
        value = [part for part in re.split(r"[,|\n]", value) if part.strip()]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None, rationale
    found = [by_key.get(v.strip().strip("\"'.").casefold()) for v in value]
    if any(f is None for f in found):
        return None, rationale
    labels = decode(encode([f for f in found if f is not None], names))
    if (not labels and not allow_empty) or (max_labels is not None and len(labels) > max_labels):
        return None, rationale
    return labels, rationale
