"""The specialist protocol: one small model that labels texts in its own (native) vocabulary.

A specialist returns *native* outputs; an adapter (`autoannotator.read.adapters`) maps them onto a task's labels.
Two output kinds:

- ``"proba"``: ``predict(texts) -> (n, k)`` probabilities over ``card.native_labels`` (rows sum to 1);
- ``"multi"``: ``predict(texts) -> (n, k)`` independent probabilities that each native label applies
  (multi-label heads; rows need not sum to 1);
- ``"score"``: ``predict(texts) -> (n,)`` a real score (for example a polarity in [-1, 1]); the card names the
  bins that ``card.cuts`` cut the score into, and ``card.score_scale`` is the score's natural unit.

A specialist whose cost grows fast with length reads only the first ``card.max_chars`` characters of a text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, model_validator

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

TaskKind = Literal["sentiment", "toxicity", "any"]


class Card(BaseModel):
    """What a specialist is, for people and for the meta-controller that chooses specialists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    task_kinds: tuple[TaskKind, ...]
    output: Literal["proba", "multi", "score"]
    native_labels: tuple[str, ...]
    cuts: tuple[float, ...] = ()
    score_scale: float = 1.0
    licence: str
    size_mb: float
    speed: str
    source: str
    version: str
    trainable: bool = False
    max_chars: int | None = None
    weights: str = ""
    """The pretrained weights it runs ("" when its own): specialists with the same weights and kind of head are
    one model in two runtimes, and count as one voter."""
    extra: str | None = None
    """The package extra it needs (``torch``: ``pip install 'autoannotator[torch]'``); None: the default
    install."""

    @model_validator(mode="after")
    def _check(self) -> Card:
        if self.output == "score" and len(self.cuts) != len(self.native_labels) - 1:
            raise ValueError("a score card needs one cut fewer than it has native labels (bins)")
        if list(self.cuts) != sorted(self.cuts):
            raise ValueError("cuts must be ascending")
        if self.score_scale <= 0:
            raise ValueError("score_scale must be positive")
        return self


@runtime_checkable
class Specialist(Protocol):
    """A model that labels texts. Constructors only store; weights load on first `predict`."""

    @property
    def card(self) -> Card:
        """The specialist's card (its native labels fix the columns of `predict`)."""
        ...

    def predict(self, texts: Sequence[str]) -> FloatArray:
        """Native outputs for `texts`: (n, k) probabilities, or (n,) scores when ``card.output == "score"``."""
        ...


@runtime_checkable
class Trainable(Specialist, Protocol):
    """A specialist that learns from labelled texts, in versions (staged learning, `autoannotator.learn.stages`).

    `fresh` makes an untrained candidate with the same settings; `fit` trains it; `save` writes a version to a
    folder (no pickle) and `load_version` reads one back. `inputs` are fixed specialists whose outputs a
    candidate may also learn from (stacking); a kind that cannot use them ignores them.
    """

    @property
    def ready(self) -> bool:
        """Whether it can predict (trained, or given a zero-shot head)."""
        ...

    @property
    def fitted(self) -> bool:
        """Whether it has been trained."""
        ...

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Trainable:
        """Learn from `texts` with their `labels`; its native labels become the sorted distinct labels."""
        ...

    def fresh(self, inputs: Sequence[tuple[str, Specialist]], seed: int) -> Trainable:
        """An untrained candidate with the same settings."""
        ...

    def save(self, folder: Path) -> None:
        """Write this version to `folder`."""
        ...

    def load_version(self, folder: Path, inputs: Sequence[tuple[str, Specialist]]) -> Trainable:
        """The version saved in `folder` (by `save` of a candidate made with the same `inputs`)."""
        ...
