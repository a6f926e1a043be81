"""The specialists' votes on texts: each one's native output through its adapter, as arrays: one label per row
(`vote`), or each label's presence (`presence`, multi-label tasks)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np

from autoannotator.errors import AdapterError
from autoannotator.read.adapters import Adapter, Adapts
from autoannotator.specialists._common import TextMemo
from autoannotator.specialists.base import BoolArray, Card, FloatArray, IntArray, Specialist, Trainable

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


def presence(
    texts: Sequence[str], prepared: Prepared, k: int, *, pool: Executor | None = None
) -> tuple[FloatArray, BoolArray, dict[str, float]]:
    """Every specialist's per-label probabilities on `texts`, (n, m, k); which labels each speaks about, (m, k)
    (none for an untrained head beside fixed specialists, see `silent`); and each one's seconds."""

    def run(item: tuple[str, Specialist, Adapts]) -> tuple[FloatArray, BoolArray, float]:
        name, specialist, adapter = item
        if not isinstance(adapter, Adapter):
            raise AdapterError(f"{name}: adapter code is not supported for multi-label tasks")
        if silent(specialist, prepared) or (isinstance(specialist, Trainable) and not specialist.ready):
            return np.full((len(texts), k), 0.5), np.zeros(k, dtype=bool), 0.0
        if not texts:
            return np.zeros((0, k)), np.asarray(adapter.matrix.any(axis=0), dtype=bool), 0.0
        tick = time.perf_counter()
        probs, covered = adapter.presence(specialist.predict(texts))
        return probs, covered, time.perf_counter() - tick

    results = list(pool.map(run, prepared) if pool is not None else map(run, prepared))
    probs = np.stack([r[0] for r in results], axis=1) if results else np.zeros((len(texts), 0, k))
    covered = np.stack([r[1] for r in results]) if results else np.zeros((0, k), dtype=bool)
    return probs, covered, {name: r[2] for (name, _, _), r in zip(prepared, results, strict=True)}


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
