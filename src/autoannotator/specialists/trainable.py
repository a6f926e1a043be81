"""Trainable specialists: a featurizer (MiniLM embeddings or hashed TF-IDF) plus a linear softmax head.

Before it is fitted, a specialist given label *prototypes* (texts that describe each label: the task's label
descriptions and examples) scores a text by cosine similarity to each label's mean prototype embedding; `fit`
replaces that with a logistic-regression head. State is saved as ``.npz`` arrays plus JSON, never pickle.

>>> from autoannotator.specialists.features import HashedTfidf
>>> spec = TrainableSpecialist(HashedTfidf(), name="tfidf")
>>> spec.fit(["good", "great", "bad", "awful"], ["pos", "pos", "neg", "neg"]).predict(["good"]).shape
(1, 2)
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from scipy import sparse
from scipy.special import softmax

from autoannotator.errors import SpecialistError
from autoannotator.specialists._common import package_version
from autoannotator.specialists.base import Card, FloatArray, Specialist
from autoannotator.specialists.features import Features, Featurizer, Stacked

PROTOTYPE_TEMPERATURE = 0.05


def used_columns(features: Features) -> tuple[Features, Any]:
    """(the columns of (n, d) features that some row uses, their indices): for sparse features (hashed TF-IDF:
    2**18 columns, a few thousand used) a solver on the used ones is ~10x faster, and the head the same (an
    unused column's weight is 0 at an L2-regularised optimum: scatter the weights back); dense ones whole."""
    if not sparse.issparse(features):
        return features, slice(None)
    matrix = sparse.csr_matrix(features)
    used = np.unique(matrix.indices)
    return matrix[:, used], used


@dataclass(frozen=True)
class LinearHead:
    """Softmax over ``features @ coef.T + intercept``; `coef` (k, d), `intercept` (k,), `classes` (k,)."""

    coef: FloatArray
    intercept: FloatArray
    classes: tuple[str, ...]

    @classmethod
    def fit(cls, features: Features, labels: Sequence[str], *, c: float = 1.0, seed: int = 0) -> LinearHead:
        """Multinomial logistic regression (L2, strength 1/c) on (n, d) features."""
        from sklearn.linear_model import LogisticRegression

        classes = sorted(set(labels))
        if len(classes) < 2:
            raise SpecialistError(f"fit needs at least two distinct labels, got {classes}")
        subset, used = used_columns(features)
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(subset, list(labels))
        coef = np.zeros((model.coef_.shape[0], features.shape[1]))
        coef[:, used] = model.coef_
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if len(classes) == 2:  # sklearn keeps one row for two classes: expand to a softmax pair
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        return cls(coef=coef, intercept=intercept, classes=tuple(str(c) for c in model.classes_))

    @classmethod
    def from_prototypes(cls, features: FloatArray, labels: Sequence[str]) -> LinearHead:
        """Nearest-centroid head over L2-normalised (n, d) features: logits = cosine to the centred centroid / T.

        Centring (subtracting the centroids' mean) removes what all label descriptions share ("the writer
        expresses..."), so the head looks at what tells them apart.
        """
        classes = tuple(dict.fromkeys(labels))
        centroids = np.vstack([features[[lab == c for lab in labels]].mean(axis=0) for c in classes])
        centroids -= centroids.mean(axis=0)
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        return cls(centroids / PROTOTYPE_TEMPERATURE, np.zeros(len(classes)), classes)

    def predict_proba(self, features: Features) -> FloatArray:
        logits = np.asarray(features @ self.coef.T, dtype=np.float64) + self.intercept
        result: FloatArray = softmax(logits, axis=1)
        return result


class TrainableSpecialist:
    """A `Featurizer` plus a `LinearHead`; see the module docstring.

    `prototypes` maps each label to texts describing it; `labels` fixes the column order of an unfitted
    prototype head (default: the prototypes' order).
    """

    def __init__(
        self,
        featurizer: Featurizer,
        *,
        name: str,
        prototypes: Mapping[str, Sequence[str]] | None = None,
        c: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.featurizer = featurizer
        self.name = name
        self.prototypes = prototypes
        self.c = c
        self.seed = seed
        self.head_: LinearHead | None = None

    @property
    def card(self) -> Card:
        classes = self.head_.classes if self.head_ is not None else tuple(self.prototypes or ())
        fitted = "fitted head" if self.head_ is not None else "prototype head (label descriptions)"
        return self._card(f"linear softmax head; {fitted}", "proba", classes)

    def _card(self, head: str, output: Literal["proba", "multi"], labels: tuple[str, ...]) -> Card:
        """The card of this featurizer with a `head` (described) giving `output` over `labels`."""
        return Card(
            name=self.name,
            description=f"{self.featurizer.name} features + {head}",
            task_kinds=("any",),
            output=output,
            native_labels=labels,
            licence="Apache-2.0",
            size_mb=self.featurizer.size_mb,
            speed=self.featurizer.speed,
            source="package autoannotator",
            version=package_version("autoannotator"),
            trainable=True,
            weights=self.featurizer.weights,
            extra=self.featurizer.extra,
        )

    @property
    def ready(self) -> bool:
        """Whether it can predict: fitted, or given label prototypes."""
        return self.head_ is not None or bool(self.prototypes)

    @property
    def fitted(self) -> bool:
        return self.head_ is not None

    def fresh(self, inputs: Sequence[tuple[str, Specialist]], seed: int) -> TrainableSpecialist:
        """An unfitted copy over a fresh copy of its own featurizer, stacked on `inputs` when given."""
        return TrainableSpecialist(self._featurizer(inputs), name=self.name, c=self.c, seed=seed)

    def load_version(self, folder: Path, inputs: Sequence[tuple[str, Specialist]]) -> TrainableSpecialist:
        return TrainableSpecialist.load(folder, self._featurizer(inputs))

    def _featurizer(self, inputs: Sequence[tuple[str, Specialist]]) -> Featurizer:
        own = self.featurizer.base if isinstance(self.featurizer, Stacked) else self.featurizer
        own = copy.copy(own)
        return Stacked(own, inputs) if inputs else own

    @cached_property
    def _prototype_head(self) -> LinearHead:
        if not self.prototypes:
            raise SpecialistError(f"{self.name}: not fitted; call fit() or give label prototypes")
        texts = [t for label in self.prototypes for t in self.prototypes[label]]
        labels = [label for label in self.prototypes for _ in self.prototypes[label]]
        return LinearHead.from_prototypes(np.asarray(self.featurizer.transform(texts)), labels)

    @property
    def _head(self) -> LinearHead:
        return self.head_ if self.head_ is not None else self._prototype_head

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TrainableSpecialist:
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        self.featurizer.fit(texts)
        self.head_ = LinearHead.fit(self.featurizer.transform(texts), labels, c=self.c, seed=self.seed)
        return self

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        head = self._head
        if not texts:
            return np.zeros((0, len(head.classes)))
        return head.predict_proba(self.featurizer.transform(texts))

    def predict(self, texts: Sequence[str]) -> FloatArray:
        return self.predict_proba(texts)

    def save(self, folder: Path) -> None:
        head = self._head
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "head.npz", coef=head.coef, intercept=head.intercept)
        np.savez(folder / "featurizer.npz", **cast(Any, self.featurizer.state()))
        meta = {"name": self.name, "featurizer": self.featurizer.name, "classes": list(head.classes)}
        (folder / "specialist.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, featurizer: Featurizer) -> TrainableSpecialist:
        """Restore a specialist saved by `save`; `featurizer` must be of the kind that was saved."""
        meta = json.loads((folder / "specialist.json").read_text(encoding="utf-8"))
        if meta["featurizer"] != featurizer.name:
            raise SpecialistError(
                f"{folder}: saved with featurizer {meta['featurizer']!r}, not {featurizer.name!r}"
            )
        with np.load(folder / "featurizer.npz", allow_pickle=False) as state:
            featurizer.restore(dict(state))
        specialist = cls(featurizer, name=meta["name"])
        with np.load(folder / "head.npz", allow_pickle=False) as head:
            specialist.head_ = LinearHead(head["coef"], head["intercept"], tuple(meta["classes"]))
        return specialist


class FixedHead:
    """A featurizer + softmax head trained once and shipped (not trained further in a run): the folder holds
    what `TrainableSpecialist.save` writes; `card` says what it is."""

    def __init__(self, folder: Path, featurizer: Featurizer, card: Card) -> None:
        self.folder = folder
        self.featurizer = featurizer
        self._card = card

    @property
    def card(self) -> Card:
        return self._card

    @cached_property
    def _model(self) -> TrainableSpecialist:
        return TrainableSpecialist.load(self.folder, self.featurizer)

    def predict(self, texts: Sequence[str]) -> FloatArray:
        return self._model.predict(texts)
