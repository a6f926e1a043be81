"""A task with one label per row, as a `Kind` of batch (`autoannotator.run.batch`): each specialist votes a
label; with trust routing the batch's decider and threshold are measured on the audit of earlier batches
(`autoannotator.trust.routing.Router`), else the run's aggregate and hard rule decide. A reviewed row takes
the reviewer's label, unless (calibration labels) it was accepted with a measured probability of being right
above the reviewer's accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import replace

import numpy as np

from autoannotator.ledger import Decision, Ledger, training
from autoannotator.read.io import Record
from autoannotator.review import Examples, Verdict
from autoannotator.run.batch import Scores, pending
from autoannotator.specialists.base import BoolArray, FloatArray, IntArray
from autoannotator.trust.acceptance import Acceptance, capped
from autoannotator.trust.routing import Router
from autoannotator.trust.truth import reviewer_decides
from autoannotator.vote.aggregate import AGGREGATORS, AggregatorName, HardRule, agreement, consensus, margin
from autoannotator.vote.inference import Prepared, vote


class SingleLabel:
    """One label per row: `labels` the task's; without a `router`, `aggregate` and `hard_rule` decide; with
    one, `llm_share` caps the share of a batch sent to the reviewer; agreed rows join the few-shot `examples`."""

    multi_label = False

    def __init__(
        self,
        labels: Sequence[str],
        *,
        aggregate: AggregatorName,
        hard_rule: HardRule,
        llm_share: float | None,
        router: Router | None,
        examples: Examples | None,
    ) -> None:
        self.labels = list(labels)
        self.aggregate = aggregate
        self.hard_rule = hard_rule
        self.llm_share = llm_share
        self.router = router
        self.examples = examples

    def score(self, texts: Sequence[str], prepared: Prepared, pool: Executor | None) -> Scores:
        return Scores(*vote(texts, prepared, len(self.labels), pool=pool))

    def route(self, ledger: Ledger, prepared: Prepared, scores: Scores, *, reviewed: bool) -> Acceptance | None:
        """Measured on the evidence (without a reviewer, only with calibration labels: `RunConfig.trusting`),
        its threshold lowered where the `llm_share` cap would send more of the batch to the reviewer."""
        if self.router is None:
            return None
        return self._capped(self.router.acceptance(ledger, prepared), scores.votes, scores.probs, prepared)

    def decisions(
        self,
        records: Sequence[Record],
        scores: Scores,
        prepared: Prepared,
        route: Acceptance | None,
        *,
        stage: int,
        audited: Sequence[bool],
    ) -> list[Decision]:
        label_probs, hard, confidence = self._decide(scores.votes, scores.probs, prepared, route)
        best = consensus(label_probs, scores.votes)
        guesses = [self.labels[b] if b >= 0 else None for b in best]
        agree, margins = agreement(scores.votes, best), margin(label_probs)
        if self.examples is not None:  # before the reviewer reads the pool
            agreed = [i for i in range(len(records)) if not hard[i]]
            if agreed:
                self.examples.add([records[i].text for i in agreed], [str(guesses[i]) for i in agreed])
        return pending(records, guesses, hard, confidence, agree, margins, stage=stage, audited=audited)

    def said(self, vote: int) -> str | None:
        return self.labels[vote] if vote >= 0 else None

    def settle(self, decisions: list[Decision], verdicts: dict[int, Verdict], route: Acceptance | None) -> None:
        """An accepted (audited) row keeps its label where that is more likely right than the reviewer's
        (against the truth; against the reviewer, or without a router, the reviewer's label is sure, 1, and
        always taken); a row that takes it is as sure as measured on rows alike."""
        hard = np.array([d.hard for d in decisions], dtype=bool)
        sure = np.array([d.confidence or 0.0 for d in decisions])
        takes = reviewer_decides(hard, sure, 1.0 if self.router is None else self.router.reviewer_confidence)
        for i, verdict in verdicts.items():
            if verdict.status == "ok" and takes[i]:
                agrees = verdict.label == decisions[i].best_guess
                confidence = route.reviewed[int(agrees)] if route is not None else verdict.confidence
                decisions[i] = replace(decisions[i], label=verdict.label, confidence=confidence, source="llm")

    def relabel(self, ledger: Ledger, prepared: Prepared, pool: Executor | None) -> None:
        """The final specialists re-label the consensus rows of earlier stages, deciding as the last batch did;
        a row they find hard keeps its label. Chunk by chunk, each one transaction (a resumed run goes on)."""
        acceptance = None if self.router is None else self.router.acceptance(ledger, prepared)
        for chunk in training.relabel_candidates(ledger, training.stage(ledger)):
            votes, probs, _ = vote([t for _, t, _ in chunk], prepared, len(self.labels), pool=pool)
            chosen = None if acceptance is None else self._capped(acceptance, votes, probs, prepared)
            label_probs, hard, confidence = self._decide(votes, probs, prepared, chosen)
            best = label_probs.argmax(axis=1)
            training.record_relabels(
                ledger,
                training.stage(ledger),
                [
                    (
                        pos,
                        old,
                        None if hard[i] else self.labels[best[i]],
                        None if hard[i] else float(confidence[i]),
                    )
                    for i, (pos, _, old) in enumerate(chunk)
                ],
            )

    def _decide(
        self, votes: IntArray, probs: FloatArray, prepared: Prepared, acceptance: Acceptance | None
    ) -> tuple[FloatArray, BoolArray, FloatArray]:
        """(label probabilities (n, k), hard (n,), confidence (n,)) of rows with votes (n, m) and probs
        (n, m, k): by measured trust when there is an `acceptance` (confidence calibrated on the audit), else
        by the aggregate and hard rule."""
        k = len(self.labels)
        if acceptance is not None:
            return acceptance.decide([n for n, _, _ in prepared], votes, probs, k)
        label_probs = AGGREGATORS[self.aggregate](votes, probs, k)
        return label_probs, self.hard_rule(votes, label_probs), label_probs.max(axis=1)

    def _capped(
        self, acceptance: Acceptance, votes: IntArray, probs: FloatArray, prepared: Prepared
    ) -> Acceptance:
        """`acceptance` for rows with votes (n, m) and probs (n, m, k), its threshold lowered where the
        `llm_share` cap would send more of them to the reviewer (see `trust.acceptance.capped`)."""
        names = [name for name, _, _ in prepared]
        confidence = acceptance.label_probs(names, votes, probs, len(self.labels)).max(axis=1)
        return capped(acceptance, confidence, self.llm_share)
