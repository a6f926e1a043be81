"""Trust for label sets (multi-label tasks): a row's set is accepted without review when its confidence clears
the threshold that the earlier batches' audit shows keeps the whole output's exact-set agreement with the
reviewer at the target (the same count test as single-label runs, `acceptance.accept_threshold`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from autoannotator.ledger import Ledger, audit, training
from autoannotator.read.task import Task
from autoannotator.specialists.base import FloatArray
from autoannotator.trust.acceptance import (
    DEFAULT_TARGET,
    Knots,
    TrustConfig,
    accept_threshold,
    calibrate,
    knots,
)
from autoannotator.vote.inference import Prepared, presence
from autoannotator.vote.labelsets import combine, decide, encode, row_confidence


@dataclass(frozen=True)
class SetAcceptance:
    """The routing of a multi-label batch: a set is accepted when its confidence is at least `threshold`;
    `knots` map confidence to the estimated probability that the set agrees with the reviewer."""

    threshold: float = float(np.inf)
    knots: Knots = ((), ())
    evidence: int = 0
    target: float = DEFAULT_TARGET

    def as_json(self) -> dict[str, Any]:
        """What the ledger keeps of it (the shape single-label batches store)."""
        accepting = self.threshold < np.inf
        return {
            "decider": "vote" if accepting else None,
            "threshold": self.threshold if accepting else None,
            "evidence": self.evidence,
            "capped": False,
            "target": self.target,
            "estimate": None,
        }

    def calibrated(self, confidence: FloatArray) -> FloatArray:
        """The estimated probability that each set (confidence (n,)) agrees with the reviewer."""
        return calibrate(self.knots, confidence)


class SetRouter:
    """The acceptance threshold of each batch of a multi-label run, measured on the earlier batches' audited rows
    (the batch's own vouch for it in the run's self-estimate). Trainable heads never train on audited rows in
    a multi-label run (see `autoannotator.run.pipeline`), so every audited row is out of sample for every
    version; a row's confidence is recomputed once per stage."""

    def __init__(self, config: TrustConfig, task: Task) -> None:
        self.config = config
        self.task = task
        self._stage = -1
        self._seen: dict[int, tuple[float, bool]] = {}

    @property
    def target(self) -> float:
        return self.config.target if self.config.target is not None else DEFAULT_TARGET

    def refresh(
        self, ledger: Ledger, prepared: Prepared, crossfit: Mapping[str, Mapping[int, FloatArray]] | None = None
    ) -> None:
        """After a training: nothing to do now (the evidence is re-labelled when the stage changes; no
        cross-fitting for sets)."""

    def acceptance(self, ledger: Ledger, prepared: Prepared) -> SetAcceptance:
        """The threshold and calibration from the committed audit (earlier batches': the next batch's own audit
        rows then check it without bias)."""
        stage = training.stage(ledger)
        if stage != self._stage:
            self._stage, self._seen = stage, {}
        stored = [(p, t, lab) for p, _, t, lab in audit.audited_rows(ledger, last=5000)]
        rows = [r for r in stored if r[0] not in self._seen]
        if rows:
            task = self.task
            probs, covered, _ = presence([t for _, t, _ in rows], prepared, len(task.labels))
            p = combine(probs, covered)
            sets = decide(p, max_labels=task.max_labels, allow_empty=task.allow_empty)
            for (pos, _, said), conf, chosen in zip(rows, row_confidence(p, sets), sets, strict=True):
                self._seen[pos] = (
                    float(conf),
                    encode(np.array(task.label_names)[chosen], task.label_names) == said,
                )
        evidence = [self._seen[r[0]] for r in stored]
        if len(evidence) < self.config.min_evidence:
            return SetAcceptance(evidence=len(evidence), target=self.target)
        confidence = np.array([c for c, _ in evidence])
        agree = np.array([a for _, a in evidence], dtype=bool)
        threshold = accept_threshold(confidence, agree, target=self.target, delta=self.config.delta, overall=True)
        return SetAcceptance(threshold, knots(confidence, agree), len(evidence), self.target)
