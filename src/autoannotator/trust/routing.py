"""Routing of each batch by measured trust: the evidence judges every candidate decider (see
`autoannotator.trust.acceptance`); the best qualified one labels the rows it can vouch for, and the others go to
the reviewer.

Evidence is the audit stream and every row of the batches that accepted nothing (reference: the reviewer) or,
when the run has calibration labels, those rows (reference: the truth; the target is then the reviewer's own
accuracy on them unless one is given). Against the reviewer the target is on the whole output, as the user
reads it: the labels must match labelling every row with the reviewer on at least a `target` share of rows, so
accepting a share q of rows needs agreement ``1 - (1 - target) / q`` on them (tested as a count, see
`trust.accept_threshold`); against the truth it is on the accepted rows (as accurate as the reviewer), and the
estimate is cross-fitted (`truth.crossfit`). A trainable specialist is judged only on rows its current version
was not trained on: the evidence rows after its last training (their stored votes are this version's), the
validation slice of earlier rows, which it re-labels once after each training (`refresh`), and, cross-fitted,
the earlier rows it was trained on, labelled by a version trained on the others (`Learner.out_of_fold`);
calibration rows are never trained on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from autoannotator.ledger import Ledger, training
from autoannotator.specialists.base import FloatArray, IntArray, Trainable
from autoannotator.trust import labelmodel
from autoannotator.trust.acceptance import (
    DEFAULT_TARGET,
    Acceptance,
    TrustConfig,
    candidates,
    choose,
    interval,
)
from autoannotator.trust.evidence import audit_evidence
from autoannotator.trust.labelmodel import Labeller
from autoannotator.trust.truth import Calibration, crossfit, reviewed_accuracy, reviewer_decides
from autoannotator.vote.aggregate import BoolArray, consensus
from autoannotator.vote.inference import Prepared, vote


class Router:
    """Measures trust for each batch of one run."""

    def __init__(self, config: TrustConfig, labels: Sequence[str], calibration: Calibration | None = None) -> None:
        self.config = config
        self.labels = list(labels)
        self.calibration = calibration
        self._refreshed: dict[int, tuple[IntArray, FloatArray]] = {}
        self._calibration_votes: tuple[IntArray, FloatArray] | None = None
        self._estimated_reviewer: float | None = None

    @property
    def target(self) -> float:
        """The given target; else, against the truth, the reviewer's accuracy on the calibration rows (for the
        accepted rows); else `DEFAULT_TARGET` (the whole output's agreement with the reviewer)."""
        if self.config.target is not None:
            return self.config.target
        if self.calibration is not None and self.calibration.reviewer_accuracy is not None:
            return self.calibration.reviewer_accuracy
        return DEFAULT_TARGET

    @property
    def reviewer_confidence(self) -> float:
        """The probability that a reviewer's label is right: 1 against the reviewer itself, its measured
        accuracy against the truth, the label model's estimate against the label model."""
        if self.calibration is not None and self.calibration.reviewer_accuracy is not None:
            return self.calibration.reviewer_accuracy
        return 1.0 if self._estimated_reviewer is None else self._estimated_reviewer

    def refresh(
        self, ledger: Ledger, prepared: Prepared, crossfit: Mapping[str, Mapping[int, FloatArray]] | None = None
    ) -> None:
        """Re-judge the current versions (call at the start and after trainings): their votes on the
        calibration rows; or, on the evidence rows before the last training, the trainables' votes on the
        validation half, re-labelled, and on the rows they were trained on, where `crossfit` has every fitted
        trainable's native probabilities of the row by a version that did not see it (by name, then input
        position: `learn.stages.Learner.out_of_fold`)."""
        if self.calibration is not None:
            votes, probs, _ = vote(self.calibration.texts, prepared, len(self.labels))
            self._calibration_votes = (votes, probs)
            return
        upto = training.last_training_pos(ledger)
        evidence = audit_evidence(ledger, self.labels, len(prepared))
        self._refreshed = {}
        trainable = [j for j, (_, s, _) in enumerate(prepared) if isinstance(s, Trainable) and s.fitted]
        early = [i for i, pos in enumerate(evidence.pos.tolist()) if pos < upto]
        if not early or not trainable:
            return
        held = [i for i in early if self.config.held_out(evidence.ids[i], int(evidence.pos[i]))]
        folds = crossfit or {}
        names = [prepared[j][0] for j in trainable]
        fitted = [i for i in early if all(int(evidence.pos[i]) in folds.get(n, {}) for n in names)]
        fitted = sorted(set(fitted) - set(held))
        votes, probs = evidence.votes.copy(), evidence.probs.copy()
        for j, name in zip(trainable, names, strict=True):
            _, specialist, adapter = prepared[j]
            if held:
                votes[held, j], probs[held, j] = adapter.apply(
                    specialist.predict([evidence.texts[i] for i in held])
                )
            if fitted:
                votes[fitted, j], probs[fitted, j] = adapter.apply(
                    np.stack([folds[name][int(evidence.pos[i])] for i in fitted])
                )
        self._refreshed = {int(evidence.pos[i]): (votes[i], probs[i]) for i in held + fitted}

    def acceptance(self, ledger: Ledger, prepared: Prepared) -> Acceptance:
        """The routing of the next batch, measured on the calibration rows, or on the ledger's audit evidence
        (earlier batches': the next batch's own audit rows then check it without bias)."""
        names = [name for name, _, _ in prepared]
        fixed = [not isinstance(s, Trainable) for _, s, _ in prepared]
        if self.calibration is not None and self._calibration_votes is not None:
            votes, probs = self._calibration_votes
            reference = self.calibration.reference
            fresh = np.ones(len(reference), dtype=bool)
            chosen = self._judged(names, fixed, votes, probs, reference, self.calibration.said, fresh, self.target)
            if chosen.decider is None:
                return chosen
            honest = crossfit(names, fixed, votes, probs, reference, self.config, target=self.target)
            return replace(chosen, estimate=honest)
        evidence = audit_evidence(ledger, self.labels, len(prepared))
        fresh = evidence.pos >= training.last_training_pos(ledger)
        votes, probs = evidence.votes.copy(), evidence.probs.copy()
        for i, pos in enumerate(evidence.pos.tolist()):
            if pos in self._refreshed:
                votes[i], probs[i] = self._refreshed[pos]
                fresh[i] = True
        model = None
        if self.config.reference == "label-model" and len(evidence.reference) >= self.config.min_evidence:
            model = labelmodel.reference(evidence.reference, votes, fixed, len(self.labels))
        self._estimated_reviewer = None if model is None or not model.plausible else model.reviewer
        if model is not None and model.plausible:
            target = self.config.target or model.reviewer
            chosen = self._judged(names, fixed, votes, probs, model.truth, evidence.reference, fresh, target,
                                  model.labeller)  # fmt: skip
            chosen = replace(chosen, reference="label-model")
            if chosen.decider is None:
                return chosen
            # the model's estimate: its probability that each accepted label is right, not agreement with its
            # most probable label (nearly the specialists' own vote)
            label_probs, hard, _ = chosen.decide(names, votes, probs, len(self.labels))
            right = model.posteriors[np.arange(len(votes)), label_probs.argmax(axis=1)]
            return replace(chosen, estimate=interval(right[~hard]))
        found, weights = candidates(names, fixed, votes, probs, evidence.reference, fresh)
        return choose(found, self.config, weights, target=self.target, overall=True)

    def _judged(
        self,
        names: Sequence[str],
        fixed: Sequence[bool],
        votes: IntArray,
        probs: FloatArray,
        reference: IntArray,
        said: IntArray | None,
        fresh: BoolArray,
        target: float,
        labeller: Labeller | None = None,
    ) -> Acceptance:
        """The routing judged against true labels `reference` (n,) (or the label model's) on rows with votes
        (n, m) and probs (n, m, k): the accepted rows at least `target` accurate, and how often the reviewer's
        labels `said` (n,) are right where it gives them; the label model's `labeller` is one more candidate.
        The caller adds the estimate of the accepted rows' accuracy."""
        found, weights = candidates(names, fixed, votes, probs, reference, fresh, labeller)
        chosen = choose(found, self.config, weights, target=target)
        if said is not None:  # how sure the rows the reviewer will label are
            label_probs, hard, sure = chosen.decide(names, votes, probs, len(self.labels))
            asked = reviewer_decides(hard, sure, self.reviewer_confidence)
            right = reviewed_accuracy(consensus(label_probs, votes), said, reference, asked)
            chosen = replace(chosen, reviewed=(float(right[0]), float(right[1])))
        return chosen
