"""Specialists: the protocol, the bundled offline zoo, and trainable heads.

>>> sorted(ZOO)[:3]
['afinn', 'better-profanity', 'hatesonar']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from autoannotator.errors import SpecialistError
from autoannotator.specialists.base import Card, Specialist, Trainable
from autoannotator.specialists.features import HashedTfidf, OnnxMiniLM, SentenceTransformerEncoder
from autoannotator.specialists.lexicon import Afinn, TextBlobPattern, Vader
from autoannotator.specialists.toxicity import BetterProfanity, HateSonar, ProfanityCheck, SafeType
from autoannotator.specialists.trainable import LinearHead, TrainableSpecialist

if TYPE_CHECKING:
    from autoannotator.task import Task


def prototypes(task: Task | None) -> dict[str, list[str]] | None:
    """Texts describing each label (``"name: description"`` and the task's examples), for prototype heads."""
    if task is None:
        return None
    texts = {label.name: [f"{label.name}: {label.description}".strip(": ")] for label in task.labels}
    for example in task.examples:
        texts[example.label].append(example.text)
    return texts


ZOO: dict[str, Callable[[Task | None], Specialist]] = {
    "vader": lambda task: Vader(),
    "textblob": lambda task: TextBlobPattern(),
    "afinn": lambda task: Afinn(),
    "profanity-check": lambda task: ProfanityCheck(),
    "hatesonar": lambda task: HateSonar(),
    "better-profanity": lambda task: BetterProfanity(),
    "safetype": lambda task: SafeType(),
    "minilm": lambda task: TrainableSpecialist(OnnxMiniLM(), name="minilm", prototypes=prototypes(task)),
    "minilm-torch": lambda task: TrainableSpecialist(
        SentenceTransformerEncoder(), name="minilm-torch", prototypes=prototypes(task)
    ),
    "tfidf": lambda task: TrainableSpecialist(HashedTfidf(), name="tfidf"),
}


def build(name: str, task: Task | None = None) -> Specialist:
    """A zoo specialist by name (trainable ones get the task's label prototypes)."""
    try:
        factory = ZOO[name]
    except KeyError:
        raise SpecialistError(f"unknown specialist {name!r}; the zoo has {sorted(ZOO)}") from None
    return factory(task)


__all__ = [
    "ZOO",
    "Afinn",
    "BetterProfanity",
    "Card",
    "HashedTfidf",
    "HateSonar",
    "LinearHead",
    "OnnxMiniLM",
    "ProfanityCheck",
    "SafeType",
    "SentenceTransformerEncoder",
    "Specialist",
    "TextBlobPattern",
    "Trainable",
    "TrainableSpecialist",
    "Vader",
    "build",
    "prototypes",
]
