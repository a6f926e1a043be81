"""The specialists' votes on texts: each one's native output through its adapter, as arrays."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np

from autoannotator.read.adapters import Adapts
from autoannotator.specialists._common import TextMemo
from autoannotator.specialists.base import Card, FloatArray, IntArray, Specialist, Trainable

Prepared = Sequence[tuple[str, Specialist, Adapts]]
"""The run's specialists: (name, specialist, compiled adapter)."""


def silent(specialist: Specialist, prepared: Prepared) -> bool:
    """Whether a specialist abstains for now: one that cannot predict yet, and a trainable one until its first
    training when fixed specialists vote beside it (its label-prototype head is a guess, not evidence)."""
    if not isinstance(specialist, Trainable) or specialist.fitted:
        return False
    return not specialist.ready or any(not isinstance(s, Trainable) for _, s, _ in prepared)


def vote(
    texts: Sequence[str], prepared: Prepared, k: int, *, pool: Executor | None = None
) -> tuple[IntArray, FloatArray, dict[str, float]]:
    """Every specialist's adapted vote on `texts`: votes (n, m), probs (n, m, k), and each one's seconds
    (an untrained specialist beside fixed ones abstains: see `silent`).

    With a `pool`, the specialists run concurrently (ONNX Runtime and the regex engines release the GIL).
    """

    def run(item: tuple[str, Specialist, Adapts]) -> tuple[IntArray, FloatArray, float]:
        _, specialist, adapter = item
        if silent(specialist, prepared):  # cold start: abstain
            return np.full(len(texts), -1, dtype=np.int64), np.full((len(texts), k), 1.0 / k), 0.0
        tick = time.perf_counter()
        native = specialist.predict(texts)
        seconds = time.perf_counter() - tick
        return *adapter.apply(native), seconds

    results = list(pool.map(run, prepared) if pool is not None else map(run, prepared))
    votes: IntArray = np.full((len(texts), len(prepared)), -1, dtype=np.int64)
    probs: FloatArray = np.zeros((len(texts), len(prepared), k))
    for j, (v, p, _) in enumerate(results):
        votes[:, j], probs[:, j] = v, p
    return votes, probs, {name: r[2] for (name, _, _), r in zip(prepared, results, strict=True)}


class Remembered:
    """A fixed specialist that keeps its outputs for the last `size` distinct texts: a run asks again for texts
    it has voted on (a stacked head's training features, trust re-checks), and some specialists are slow."""

    def __init__(self, inner: Specialist, size: int = 50_000) -> None:
        self.inner = inner
        self._memo = TextMemo(size)

    @property
    def card(self) -> Card:
        return self.inner.card

    def remember(self, texts: Sequence[str], outputs: FloatArray) -> None:
        """Keep the inner specialist's `outputs` for `texts`, computed elsewhere (on Ray actors)."""
        self._memo.keep(texts, outputs)

    def predict(self, texts: Sequence[str]) -> FloatArray:
        """As the inner specialist's `predict`: (n, k) probabilities or (n,) scores."""
        result: FloatArray = np.asarray(self._memo.rows(texts, lambda new: np.asarray(self.inner.predict(new))))
        return result
