"""The parts of inference that do not change during a run, so an engine may compute them away from the driver:
a fixed specialist's native outputs, and the shared MiniLM embeddings the trainable heads read. Heads that
learn stay in the driver (they change at every stage); what they read is handed to them (`remember`).

A part pickles small (names and settings, no weights): an engine's worker builds it once (`Part.build`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from autoannotator.read.task import Task
from autoannotator.specialists import build
from autoannotator.specialists.base import FloatArray
from autoannotator.specialists.features import OnnxMiniLM, Stacked
from autoannotator.specialists.trainable import TrainableSpecialist
from autoannotator.vote.inference import Prepared, Remembered

Compute = Callable[[Sequence[str]], FloatArray]
"""texts (n,) -> outputs (n, ...)."""


class Part(Protocol):
    """One fixed computation over texts."""

    @property
    def key(self) -> str:
        """A name unique within a run."""
        ...

    def build(self, threads: int) -> Compute:
        """The computation, loaded in this process, on at most `threads` threads where it can say (0: all)."""
        ...

    def remember(self, prepared: Prepared, texts: Sequence[str], outputs: FloatArray) -> None:
        """Hand `outputs` (n, ...) for `texts` to the run's specialists that use them."""
        ...


@dataclass(frozen=True)
class SpecialistPart:
    """A fixed specialist's native outputs: (n, k) probabilities or (n,) scores."""

    name: str
    task: Task

    @property
    def key(self) -> str:
        return f"specialist:{self.name}"

    def build(self, threads: int) -> Compute:
        return build(self.name, self.task).predict

    def remember(self, prepared: Prepared, texts: Sequence[str], outputs: FloatArray) -> None:
        for name, specialist, _ in prepared:
            if name == self.name and isinstance(specialist, Remembered):
                specialist.remember(texts, outputs)


@dataclass(frozen=True)
class EmbeddingPart:
    """The ONNX MiniLM embeddings (n, 384) of the trainable heads."""

    model_path: Path | None
    tokenizer_path: Path | None
    max_length: int
    batch_size: int

    @property
    def key(self) -> str:
        return "embedding:minilm"

    def build(self, threads: int) -> Compute:
        return OnnxMiniLM(
            self.model_path,
            self.tokenizer_path,
            max_length=self.max_length,
            batch_size=self.batch_size,
            threads=threads,
        ).embed

    def remember(self, prepared: Prepared, texts: Sequence[str], outputs: FloatArray) -> None:
        for encoder in _minilms(prepared):
            encoder.remember(texts, outputs)


def parts(prepared: Prepared, task: Task) -> list[Part]:
    """What of `prepared` an engine may compute away from the driver (the rest runs in the driver)."""
    found: list[Part] = [SpecialistPart(n, task) for n, s, _ in prepared if isinstance(s, Remembered)]
    settings = {(e.model_path, e.tokenizer_path, e.max_length, e.batch_size) for e in _minilms(prepared)}
    if len(settings) == 1:  # one encoder, as built in (several differently set ones: left to the driver)
        found.append(EmbeddingPart(*settings.pop()))
    return found


def remember(
    parts: Sequence[Part], prepared: Prepared, texts: Sequence[str], computed: Mapping[str, FloatArray]
) -> None:
    """Hand every computed part for `texts` to the specialists of `prepared`."""
    for part in parts:
        if part.key in computed and texts:
            part.remember(prepared, texts, computed[part.key])


def _minilms(prepared: Prepared) -> list[OnnxMiniLM]:
    """The ONNX MiniLM encoders the trainable heads of `prepared` read (a stacked head's base included)."""
    found: dict[int, OnnxMiniLM] = {}
    for _, specialist, _ in prepared:
        if isinstance(specialist, TrainableSpecialist):
            featurizer = specialist.featurizer
            base = featurizer.base if isinstance(featurizer, Stacked) else featurizer
            if isinstance(base, OnnxMiniLM):
                found[id(base)] = base
    return list(found.values())
