"""Staged continual learning: the trainable specialists learn from the reviewed hard rows, without silently
getting worse.

The first training comes after `warmup` reviewed rows (default half of `beta`: the specialists are weakest at
the start), then every `beta` reviewed rows (LLM or human labels); each trainable specialist is trained anew on:

- every reviewed row so far except the *validation slice* (a fixed share of reviewed rows chosen by a hash of
  the row id, so a row's role never changes and it is never trained on);
- a *replay buffer* of rows the specialists labelled themselves (unanimous in the first stage, confident
  later), class-balanced (at most `replay` rows, chosen by a hash of the id), against forgetting and for the
  classes the reviewer rarely sees.

A trainable specialist's features are its own (MiniLM embeddings, TF-IDF) followed by the run's fixed
specialists' outputs (`Stacked`), so its head also learns how far to trust each of them.

The new version replaces the current one only if its accuracy against the reviewer on the validation slice is
not worse; otherwise it is rolled back. Every version is saved under ``RUN_DIR/specialists/NAME/vSTAGE`` and
recorded in the ledger (training rows, validation figures, promoted or not, seconds), so a resumed run loads
the last promoted versions and redoes an interrupted training identically (fixed seeds, same rows).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from autoannotator.adapters import ABSTAIN, Adapts
from autoannotator.ledger import Ledger
from autoannotator.specialists.base import FloatArray, IntArray, Specialist, Trainable
from autoannotator.voting import BoolArray, weighted


class LearningConfig(BaseModel):
    """How the trainable specialists learn during a run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    beta: int = Field(default=2000, ge=10, description="reviewed rows per stage")
    warmup: int | None = Field(
        default=None, ge=10, description="reviewed rows before the first training (default: half of beta)"
    )
    replay: int = Field(default=2000, ge=0, description="unanimous rows replayed per training, class-balanced")
    validation_share: float = Field(
        default=0.05,
        gt=0.0,
        lt=1.0,
        description="share of rows (by id hash) held out of training as the validation slice; with learned "
        "routing they are reviewed even when the specialists agree (an unbiased audit sample)",
    )
    seed: int = 0
    routing: Literal["learned", "rule"] = Field(
        default="learned",
        description="learned: after the first stage, the decider that agrees best with the reviewer on the "
        "validation slice (the accuracy-weighted vote, or one trainable specialist alone) labels a row, and the "
        "row goes to the reviewer when the decider's confidence is under a threshold chosen on that slice; "
        "rule: keep --aggregate and --hard-rule throughout",
    )
    stack: bool = Field(
        default=True, description="trainable specialists also see the fixed specialists' outputs (stacking)"
    )
    target_agreement: float = Field(
        default=0.8,
        gt=0.0,
        le=1.0,
        description="learned routing: the lowest confidence threshold whose auto-labelled validation rows "
        "agree with the reviewer at least this often",
    )
    llm_share: float | None = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description="learned routing: send at most this share of rows to the reviewer (the least confident; "
        "audit rows of the validation slice apart); None: target_agreement alone decides",
    )

    relabel_final: bool = Field(
        default=False,
        description="at the end, the final specialists re-label the consensus rows of earlier stages (source "
        "relabelled); rows they are unsure about keep their label; no reviewer call",
    )

    def validates(self, row_id: str) -> bool:
        """Whether the row belongs to the validation slice."""
        return in_validation(row_id, self.validation_share, self.seed)

    @property
    def first_stage(self) -> int:
        """Reviewed rows before the first training."""
        return self.warmup if self.warmup is not None else max(self.beta // 2, 10)


@dataclass(frozen=True)
class Routing:
    """Learned routing of one stage: each specialist's agreement with the reviewer, the decider (a specialist's
    name, or None for the accuracy-weighted vote) and the confidence threshold under which a row is hard."""

    accuracy: dict[str, float]
    threshold: float
    decider: str | None = None

    def decide(
        self, names: Sequence[str], votes: IntArray, probs: FloatArray, k: int
    ) -> tuple[FloatArray, BoolArray]:
        """(label probabilities (n, k), hard rows (n,)) from votes (n, m) and adapted probabilities (n, m, k)."""
        if self.decider is not None and self.decider in names:
            label_probs: FloatArray = probs[:, list(names).index(self.decider)]
        else:
            label_probs = weighted(votes, k, np.array([self.accuracy.get(n, 1.0 / k) for n in names]))
        hard: BoolArray = (label_probs.max(axis=1) < self.threshold) | (votes == ABSTAIN).all(axis=1)
        return label_probs, hard


def choose_threshold(confidence: FloatArray, agrees: BoolArray, target: float) -> float:
    """The lowest confidence threshold whose accepted rows (confidence >= it) agree with the reviewer at a rate
    of at least `target`; above every confidence (nothing accepted) when no threshold reaches it."""
    order = np.argsort(-confidence, kind="stable")
    rate = np.cumsum(agrees[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(rate >= target)[0]
    if len(ok) == 0:
        return float(np.inf)
    return float(confidence[order][ok[-1]])


def silent(specialist: Specialist, prepared: Sequence[tuple[str, Specialist, Adapts]]) -> bool:
    """Whether a specialist abstains for now: one that cannot predict yet, and a trainable one until its first
    training when fixed specialists vote beside it (its label-prototype head is a guess, not evidence)."""
    if not isinstance(specialist, Trainable) or specialist.fitted:
        return False
    return not specialist.ready or any(not isinstance(s, Trainable) for _, s, _ in prepared)


def in_validation(row_id: str, share: float, seed: int = 0) -> bool:
    """Whether a reviewed row belongs to the frozen validation slice (a hash of its id and the seed; never
    changes during a run)."""
    digest = hashlib.sha256(f"validation:{seed}:{row_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _rank(row_id: str, seed: int) -> bytes:
    return hashlib.sha256(f"replay:{seed}:{row_id}".encode()).digest()


@dataclass(frozen=True)
class StageReport:
    """One training of one specialist."""

    specialist: str
    stage: int
    train_rows: int
    replay_rows: int
    val_rows: int
    val_accuracy: float
    previous_accuracy: float
    promoted: bool
    seconds: float
    path: str


class Learner:
    """Decides when a stage ends, trains the trainable specialists, and promotes or rolls back versions."""

    def __init__(self, config: LearningConfig, run_dir: Path, labels: Sequence[str]) -> None:
        self.config = config
        self.run_dir = run_dir
        self.labels = tuple(labels)

    def due(self, ledger: Ledger) -> bool:
        """True when `beta` reviewed rows have come since the last training."""
        needed = self.config.beta if ledger.stage() > 0 else self.config.first_stage
        return ledger.reviewed_count(after=ledger.last_training_pos()) >= needed

    def train(
        self,
        ledger: Ledger,
        specialists: dict[str, Trainable],
        inputs: Sequence[tuple[str, Specialist]] = (),
    ) -> list[StageReport]:
        """Train every specialist in `specialists` on the rows reviewed so far (see the module docstring), save
        and record each version, and swap the promoted ones into `specialists` (in place). `inputs` are the
        fixed specialists whose outputs a stacked head sees."""
        stage = ledger.stage() + 1
        upto = ledger.next_pos()
        reviewed = ledger.reviewed_rows(upto=upto)
        val = [(t, lab) for ident, t, lab in reviewed if self.config.validates(ident)]
        train = [(t, lab) for ident, t, lab in reviewed if not self.config.validates(ident)]
        replay = self._replay(ledger, upto)
        texts = [t for t, _ in train + replay]
        labels = [lab for _, lab in train + replay]
        reports = []
        for name, current in list(specialists.items()):
            tick = time.perf_counter()
            candidate = current.fresh(self._inputs(inputs), self.config.seed)
            if len(set(labels)) >= 2:
                candidate.fit(texts, labels)
            new = self._accuracy(candidate, val)
            old = self.previous(current, val, inputs)
            promoted = candidate.fitted and new >= old
            path = self.run_dir / "specialists" / name / f"v{stage}"
            if candidate.fitted:
                candidate.save(path)
            if promoted:
                specialists[name] = candidate
            report = StageReport(
                name,
                stage,
                len(train),
                len(replay),
                len(val),
                new,
                old,
                promoted,
                time.perf_counter() - tick,
                str(path),
            )
            reports.append(report)
        ledger.record_training(stage, upto, reports)
        return reports

    def previous(
        self, current: Trainable, val: Sequence[tuple[str, str]], inputs: Sequence[tuple[str, Specialist]]
    ) -> float:
        """What the current version is worth on the validation slice: its agreement with the reviewer, or 0 for
        an untrained version beside fixed specialists (`inputs`), which does not vote (see `silent`)."""
        return 0.0 if inputs and not current.fitted else self._accuracy(current, val)

    def _replay(self, ledger: Ledger, upto: int) -> list[tuple[str, str]]:
        """Class-balanced rows the specialists labelled: for each label, the ones with the smallest hash rank."""
        per_label = self.config.replay // max(len(self.labels), 1)
        if per_label == 0:
            return []
        pools: dict[str, list[tuple[bytes, str]]] = {label: [] for label in self.labels}
        for ident, text, label in ledger.auto_rows(upto=upto):
            pools[label].append((_rank(ident, self.config.seed), text))
        chosen = []
        for label, pool in pools.items():
            pool.sort()
            chosen += [(text, label) for _, text in pool[:per_label]]
        return chosen

    def _accuracy(self, specialist: Specialist, rows: Sequence[tuple[str, str]]) -> float:
        """Agreement with the reviewer on `rows`; 0 for a specialist that cannot predict yet."""
        if not rows:
            return 0.0
        try:
            probs = specialist.predict([t for t, _ in rows])
        except Exception:  # an unfitted specialist (cold start) scores 0
            return 0.0
        native = specialist.card.native_labels
        predicted = [native[i] for i in np.asarray(probs).argmax(axis=1)]
        return float(np.mean([p == lab for p, (_, lab) in zip(predicted, rows, strict=True)]))

    def restore(
        self,
        ledger: Ledger,
        specialists: dict[str, Trainable],
        inputs: Sequence[tuple[str, Specialist]] = (),
    ) -> None:
        """Load the last promoted version of each specialist (a resumed run)."""
        for name, path in ledger.promoted_versions().items():
            if name in specialists:
                specialists[name] = specialists[name].load_version(Path(path), self._inputs(inputs))

    def _inputs(self, inputs: Sequence[tuple[str, Specialist]]) -> Sequence[tuple[str, Specialist]]:
        """The fixed specialists a candidate stacks on: `inputs` when stacking is on, else none."""
        return inputs if self.config.stack else ()


def learn_routing(
    ledger: Ledger,
    prepared: Sequence[tuple[str, Specialist, Adapts]],
    labels: Sequence[str],
    config: LearningConfig,
) -> Routing | None:
    """The routing for the next stage, measured on the validation slice with the current specialists: the
    decider with the best agreement with the reviewer, and the threshold for `target_agreement`, lowered to
    send at most `llm_share` of the slice."""
    val = [(t, lab) for ident, t, lab in ledger.reviewed_rows(upto=ledger.next_pos()) if config.validates(ident)]
    if len(val) < 20:
        return None
    k = len(labels)
    reference = np.array([labels.index(lab) for _, lab in val])
    texts = [t for t, _ in val]
    names = [name for name, _, _ in prepared]
    votes = np.full((len(val), len(prepared)), ABSTAIN, dtype=np.int64)
    probs = np.full((len(val), len(prepared), k), 1.0 / k)
    for j, (_, specialist, adapter) in enumerate(prepared):
        if silent(specialist, prepared):
            continue
        votes[:, j], probs[:, j] = adapter.apply(specialist.predict(texts))
    accuracy = {}
    for j, name in enumerate(names):
        voted = votes[:, j] != ABSTAIN
        accuracy[name] = float((votes[voted, j] == reference[voted]).mean()) if voted.sum() >= 10 else 1.0 / k
    deciders: list[str | None] = [None] + [
        name for name, s, _ in prepared if isinstance(s, Trainable) and s.fitted
    ]
    decided = {d: Routing(accuracy, 0.0, d).decide(names, votes, probs, k)[0] for d in deciders}
    decider = max(deciders, key=lambda d: float((decided[d].argmax(axis=1) == reference).mean()))
    confidence = decided[decider].max(axis=1)
    threshold = choose_threshold(confidence, decided[decider].argmax(axis=1) == reference, config.target_agreement)
    if config.llm_share is not None:
        threshold = min(threshold, float(np.quantile(confidence, config.llm_share)))
    return Routing(accuracy, threshold, decider)
