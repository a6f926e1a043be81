"""Adapters: a specialist's native outputs -> votes and probabilities over the task's labels.

An adapter is declarative (`AdapterSpec`, JSON/YAML): a map from native labels (or score bins) to task
labels, ``null`` meaning abstain, plus optional score cuts. Native labels left out of the map are matched to a
task label by name, alias or a shared synonym group (``neither`` -> ``not-offensive``), else they abstain.
`compile_adapter` checks a spec against the specialist's real native labels and the task's labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import softmax

from autoannotator.errors import AdapterError
from autoannotator.specialists.base import BoolArray, Card, FloatArray, IntArray

if TYPE_CHECKING:
    from autoannotator.read.task import Task

ABSTAIN = -1

SYNONYMS: tuple[frozenset[str], ...] = (
    frozenset({"negative", "neg", "bad", "unfavourable", "unfavorable"}),
    frozenset({"neutral", "neu", "objective", "none-sentiment"}),
    frozenset({"positive", "pos", "good", "favourable", "favorable"}),
    frozenset(
        {
            "clean",
            "neither",
            "not-offensive",
            "not_offensive",
            "non-offensive",
            "non-toxic",
            "not-toxic",
            "nontoxic",
            "ok",
            "safe",
            "normal",
            "acceptable",
        }
    ),
    frozenset(
        {
            "toxic",
            "offensive",
            "profane",
            "profanity",
            "offensive_language",
            "abusive",
            "insult",
            "hate_speech",
            "hate",
            "harassment",
            "unsafe",
        }
    ),
)


class AdapterSpec(BaseModel):
    """How one specialist's native outputs map onto a task's labels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label_map: dict[str, str | list[str] | None] = Field(
        default_factory=dict,
        description="native label or score bin -> task label (multi-label tasks: or a list); null = abstain",
    )
    cuts: tuple[float, ...] | None = Field(
        default=None, description="score specialists only: ascending cut points between the card's bins"
    )
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0, description="abstain below this probability")
    code: str | None = Field(
        default=None,
        description="Python defining adapt(native, native_labels, task_labels) -> list of task labels or None; "
        "run only with --allow-generated-code, in a sandboxed process (autoannotator.read.sandbox)",
    )

    def check_targets(self, task_labels: set[str], *, where: str, several: bool = False) -> None:
        """Raise `ValueError` naming `where` when a mapped label is not one of `task_labels`, or when a native
        label maps onto a list of labels and the task is not multi-label (`several`)."""
        for native, target in self.label_map.items():
            if isinstance(target, list) and not several:
                raise ValueError(f"{where}.label_map.{native}: a list of labels needs a multi_label task")
            for one in target if isinstance(target, list) else [target]:
                if one is not None and one not in task_labels:
                    raise ValueError(
                        f"{where}.label_map.{native}: unknown label {one!r}; known: {sorted(task_labels)}"
                    )


class Adapts(Protocol):
    """Anything that maps native outputs to (votes (n,), probs (n, K)): `Adapter` and `CodeAdapter`."""

    def apply(self, native: FloatArray) -> tuple[IntArray, FloatArray]: ...


@dataclass(frozen=True)
class CodeAdapter:
    """Free-form adapter code, run in the sandbox for each batch; one-hot probabilities for its labels."""

    code: str
    native_labels: tuple[str, ...]
    task_labels: tuple[str, ...]

    def apply(self, native: FloatArray) -> tuple[IntArray, FloatArray]:
        from autoannotator.read.sandbox import run_adapter_code

        rows = list(native)
        labels = run_adapter_code(self.code, rows, self.native_labels, self.task_labels) if rows else []
        votes = np.array(
            [ABSTAIN if lab is None else self.task_labels.index(lab) for lab in labels], dtype=np.int64
        )
        probs = np.full((len(labels), len(self.task_labels)), 1.0 / len(self.task_labels))
        voted = votes != ABSTAIN
        probs[voted] = 0.0
        probs[np.nonzero(voted)[0], votes[voted]] = 1.0
        return votes, probs


@dataclass(frozen=True)
class Adapter:
    """A spec compiled against one card and one task.

    `matrix` is (k_native, K): 1 where a native label maps to a task label; a native row of zeros abstains.
    """

    matrix: FloatArray
    cuts: FloatArray | None
    scale: float
    min_confidence: float

    def apply(self, native: FloatArray) -> tuple[IntArray, FloatArray]:
        """Map native outputs ((n, k_native) or (n,) scores) to votes (n,) (-1 = abstain) and probs (n, K)."""
        bins = native if self.cuts is None else bin_probabilities(native, self.cuts, self.scale)
        mass = bins @ self.matrix
        abstain_mass = 1.0 - mass.sum(axis=1)
        total = mass.sum(axis=1, keepdims=True)
        k = self.matrix.shape[1]
        probs = np.divide(mass, total, out=np.full_like(mass, 1.0 / k), where=total > 0)
        best = mass.argmax(axis=1)
        keep = (mass.max(axis=1) > abstain_mass) & (probs.max(axis=1) >= self.min_confidence)
        votes = np.where(keep, best, ABSTAIN).astype(np.int64)
        return votes, probs

    def presence(self, native: FloatArray) -> tuple[FloatArray, BoolArray]:
        """Multi-label: for each task label, the probability that it applies, (n, K): the probability mass of
        the native labels (or score bins) mapped onto it, at most 1; and which task labels it speaks about (K,)
        (the others it abstains on)."""
        bins = native if self.cuts is None else bin_probabilities(native, self.cuts, self.scale)
        covered: BoolArray = np.asarray(self.matrix.any(axis=0), dtype=bool)
        return np.clip(bins @ self.matrix, 0.0, 1.0), covered


def bin_probabilities(scores: FloatArray, cuts: FloatArray, scale: float) -> FloatArray:
    """Soft assignment of (n,) scores to the len(cuts)+1 bins: softmax of minus the distance to each bin / scale.

    A score inside a bin has distance 0 to it, so its own bin is always the most probable. Rows sum to 1.
    """
    lows = np.concatenate(([-np.inf], cuts))
    highs = np.concatenate((cuts, [np.inf]))
    s = np.asarray(scores, dtype=np.float64)[:, None]
    distance = np.maximum(lows[None, :] - s, 0.0) + np.maximum(s - highs[None, :], 0.0)
    result: FloatArray = softmax(-distance / scale, axis=1)
    return result


def match_by_name(native: str, task: Task) -> str | None:
    """The task label that `native` names: same name or alias first, else the one sharing a synonym group."""
    key = native.casefold()
    for label in task.labels:
        if key in {label.name.casefold(), *(a.casefold() for a in label.aliases)}:
            return label.name
    group = next((g for g in SYNONYMS if key in g), None)
    if group is None:
        return None
    hits = [
        label.name
        for label in task.labels
        if {label.name.casefold(), *(a.casefold() for a in label.aliases)} & group
    ]
    return hits[0] if len(hits) == 1 else None


def compile_adapter(
    spec: AdapterSpec | None, card: Card, task: Task, *, allow_code: bool = False
) -> Adapter | CodeAdapter:
    """Check `spec` against `card` and `task` and build its adapter; raise `AdapterError` on a mismatch.
    A spec with `code` needs `allow_code` (``--allow-generated-code``) and runs only in the sandbox."""
    spec = spec or AdapterSpec()
    where = f"adapter of {card.name!r} for task {task.name!r}"
    if spec.code is not None:
        if not allow_code:
            raise AdapterError(
                f"{where}: it is Python code; run with --allow-generated-code to use it (sandboxed)"
            )
        return CodeAdapter(spec.code, card.native_labels, task.label_names)
    unknown = set(spec.label_map) - set(card.native_labels)
    if unknown:
        raise AdapterError(
            f"{where}: unknown native label(s) {sorted(unknown)}; {card.name} has {list(card.native_labels)}"
        )
    try:
        spec.check_targets(set(task.label_names), where=where, several=task.multi_label)
    except ValueError as exc:
        raise AdapterError(str(exc)) from None
    if spec.cuts is not None:
        if card.output != "score":
            raise AdapterError(f"{where}: cuts given but {card.name} outputs probabilities, not a score")
        if len(spec.cuts) != len(card.cuts) or list(spec.cuts) != sorted(spec.cuts):
            raise AdapterError(f"{where}: cuts must be {len(card.cuts)} ascending numbers")
    targets: Mapping[str, str | list[str] | None] = {
        native: spec.label_map[native] if native in spec.label_map else match_by_name(native, task)
        for native in card.native_labels
    }
    if all(not t for t in targets.values()):
        raise AdapterError(
            f"{where}: no native label of {list(card.native_labels)} maps to a task label "
            f"{list(task.label_names)}; give a label_map"
        )
    index = {name: j for j, name in enumerate(task.label_names)}
    matrix = np.zeros((len(card.native_labels), len(task.labels)))
    for i, native in enumerate(card.native_labels):
        target = targets[native]
        for one in target if isinstance(target, list) else [target]:
            if one is not None:
                matrix[i, index[one]] = 1.0
    cuts = None
    if card.output == "score":
        cuts = np.asarray(spec.cuts if spec.cuts is not None else card.cuts, dtype=np.float64)
    return Adapter(matrix=matrix, cuts=cuts, scale=card.score_scale, min_confidence=spec.min_confidence)
