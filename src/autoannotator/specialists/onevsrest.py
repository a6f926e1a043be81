"""Multi-label trainable specialists: a featurizer plus one logistic-regression head per label (one-vs-rest).

Labels arrive as the canonical text of a set (a JSON list, `autoannotator.vote.labelsets`); `predict` gives each
label's probability independently, (n, k), over the task's labels in order. Unfitted, it cannot predict (a
multi-label cold start learns from the reviewer's first rows). Saved as ``.npz`` plus JSON, never pickle.

>>> from autoannotator.specialists.features import HashedTfidf
>>> spec = OneVsRestSpecialist(HashedTfidf(), name="tfidf", labels=("joy", "anger"))
>>> sets = ['["joy"]', '["anger"]', '["joy", "anger"]', "[]"]
>>> spec.fit(["glad", "mad", "glad and mad", "calm"], sets).predict(["glad"]).shape
(1, 2)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from scipy.special import expit

from autoannotator.errors import SpecialistError
from autoannotator.specialists.base import Card, FloatArray, Specialist
from autoannotator.specialists.features import Featurizer
from autoannotator.specialists.trainable import LinearHead, TrainableSpecialist, used_columns


def fit_one_vs_rest(
    features: Any, targets: np.ndarray[Any, np.dtype[np.bool_]], *, c: float, seed: int
) -> tuple[FloatArray, FloatArray]:
    """(coef (k, d), intercept (k,)) of one L2 logistic regression per column of `targets` (n, k); a label
    every row has, or none has, gets a constant head at that rate (smoothed)."""
    from sklearn.linear_model import LogisticRegression

    n, k = targets.shape
    coef = np.zeros((k, features.shape[1]))
    intercept = np.zeros(k)
    subset, used = used_columns(features)
    for j in range(k):
        column = targets[:, j]
        if column.all() or not column.any():
            rate = (column.sum() + 0.5) / (n + 1.0)
            intercept[j] = float(np.log(rate / (1.0 - rate)))
            continue
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(subset, column)
        coef[j, used], intercept[j] = np.asarray(model.coef_[0]), float(model.intercept_[0])
    return coef, intercept


class OneVsRestSpecialist(TrainableSpecialist):
    """A `Featurizer` plus a sigmoid head per label of `labels` (see the module docstring)."""

    def __init__(
        self, featurizer: Featurizer, *, name: str, labels: Sequence[str], c: float = 1.0, seed: int = 0
    ) -> None:
        super().__init__(featurizer, name=name, c=c, seed=seed)
        self.labels = tuple(labels)

    @property
    def card(self) -> Card:
        fitted = "fitted" if self.head_ is not None else "not fitted yet"
        return self._card(f"one logistic head per label (multi-label); {fitted}", "multi", self.labels)

    @property
    def ready(self) -> bool:
        return self.head_ is not None

    def fresh(self, inputs: Sequence[tuple[str, Specialist]], seed: int) -> OneVsRestSpecialist:
        return OneVsRestSpecialist(
            self._featurizer(inputs), name=self.name, labels=self.labels, c=self.c, seed=seed
        )

    def load_version(self, folder: Path, inputs: Sequence[tuple[str, Specialist]]) -> OneVsRestSpecialist:
        return OneVsRestSpecialist.load(folder, self._featurizer(inputs))

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> OneVsRestSpecialist:
        """Train on `texts` and their label sets (canonical JSON lists)."""
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        index = {name: j for j, name in enumerate(self.labels)}
        targets = np.zeros((len(texts), len(self.labels)), dtype=bool)
        for i, text in enumerate(labels):
            for label in json.loads(text):
                targets[i, index[label]] = True
        self.featurizer.fit(texts)
        coef, intercept = fit_one_vs_rest(self.featurizer.transform(texts), targets, c=self.c, seed=self.seed)
        self.head_ = LinearHead(coef, intercept, self.labels)
        return self

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        if self.head_ is None:
            raise SpecialistError(f"{self.name}: not fitted (a multi-label head learns from reviewed rows)")
        if not texts:
            return np.zeros((0, len(self.labels)))
        logits = np.asarray(self.featurizer.transform(texts) @ self.head_.coef.T) + self.head_.intercept
        result: FloatArray = expit(logits)
        return result

    def save(self, folder: Path) -> None:
        super().save(folder)
        meta = json.loads((folder / "specialist.json").read_text(encoding="utf-8"))
        (folder / "specialist.json").write_text(json.dumps({**meta, "multi_label": True}, indent=2), "utf-8")

    @classmethod
    def load(cls, folder: Path, featurizer: Featurizer) -> OneVsRestSpecialist:
        """Restore a specialist saved by `save`."""
        single = TrainableSpecialist.load(folder, featurizer)
        specialist = cls(featurizer, name=single.name, labels=cast(LinearHead, single.head_).classes)
        specialist.head_ = single.head_
        return specialist
