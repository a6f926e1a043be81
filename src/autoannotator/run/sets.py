"""A multi-label task, as a `Kind` of batch (`autoannotator.run.batch`): each specialist gives, per label, the
probability that it applies (or abstains on labels it cannot speak about); the ensemble's per-label probability
is the mean over those that speak; a row's set is the labels above 0.5, and its confidence that of its least
certain label (`autoannotator.vote.labelsets`). A row is accepted without review when its confidence clears
the threshold measured on the earlier batches' audit (`autoannotator.trust.sets.SetRouter`). Stored like a
single-label batch: a set as its canonical text, each specialist's vote as a bit mask of its set, its per-label
probabilities as the vote's probabilities."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import replace

import numpy as np

from autoannotator.ledger import Decision, Ledger, training
from autoannotator.read.io import Record
from autoannotator.read.task import Task
from autoannotator.review import Verdict
from autoannotator.run.batch import Scores, pending
from autoannotator.specialists.base import BoolArray, FloatArray, IntArray
from autoannotator.trust.sets import SetAcceptance, SetRouter
from autoannotator.vote.inference import Prepared, presence
from autoannotator.vote.labelsets import combine, decide, encode, masks, row_confidence


class LabelSets:
    """A set of labels per row (the `task`'s); accepted by the `router`'s measured threshold, when there is
    one and a reviewer."""

    multi_label = True

    def __init__(self, task: Task, router: SetRouter | None) -> None:
        self.task = task
        self.router = router

    def score(self, texts: Sequence[str], prepared: Prepared, pool: Executor | None) -> Scores:
        probs, covered, seconds = presence(texts, prepared, len(self.task.labels), pool=pool)
        speaks = np.asarray(covered.any(axis=1), dtype=bool)
        votes: IntArray = np.where(speaks[None, :], masks(probs > 0.5), -1)
        return Scores(votes, probs, seconds, covered)

    def route(self, ledger: Ledger, prepared: Prepared, scores: Scores, *, reviewed: bool) -> SetAcceptance | None:
        if self.router is None or not reviewed:
            return None
        return self.router.acceptance(ledger, prepared)

    def decisions(
        self,
        records: Sequence[Record],
        scores: Scores,
        prepared: Prepared,
        route: SetAcceptance | None,
        *,
        stage: int,
        audited: Sequence[bool],
    ) -> list[Decision]:
        covered = scores.covered if scores.covered is not None else np.ones(scores.probs.shape[1:], dtype=bool)
        return self._decisions(records, scores.probs, covered, route or SetAcceptance(), stage, audited)

    def said(self, vote: int) -> str | None:
        """A specialist's set, from its bit mask, as text (None: it abstained)."""
        if vote < 0:
            return None
        return ", ".join(lab for j, lab in enumerate(self.task.label_names) if vote >> j & 1) or "none"

    def settle(self, decisions: list[Decision], verdicts: dict[int, Verdict], route: SetAcceptance | None) -> None:
        """A reviewed row takes the reviewer's set."""
        for i, verdict in verdicts.items():
            if verdict.status == "ok":
                decisions[i] = replace(
                    decisions[i], label=verdict.label, confidence=verdict.confidence, source="llm", scores=None
                )

    def relabel(self, ledger: Ledger, prepared: Prepared, pool: Executor | None) -> None:
        """The final heads re-label the accepted rows of earlier stages (``--relabel-final``): a row whose new set
        clears the last measured threshold takes it; the others keep theirs. Chunk by chunk, each one
        transaction."""
        if self.router is None:
            return
        stage = training.stage(ledger)
        acceptance = self.router.acceptance(ledger, prepared)
        if acceptance.threshold == np.inf:
            return
        for chunk in training.relabel_candidates(ledger, stage):
            probs, covered, _ = presence([t for _, t, _ in chunk], prepared, len(self.task.labels), pool=pool)
            records = [Record(pos, "", text) for pos, text, _ in chunk]
            decisions = self._decisions(records, probs, covered, acceptance, stage, [False] * len(records))
            training.record_relabels(
                ledger,
                stage,
                [(pos, old, d.label, d.confidence) for (pos, _, old), d in zip(chunk, decisions, strict=True)],
                [d.scores for d in decisions],
            )

    def _decisions(
        self,
        records: Sequence[Record],
        probs: FloatArray,
        covered: BoolArray,
        acceptance: SetAcceptance,
        stage: int,
        audited: Sequence[bool],
    ) -> list[Decision]:
        """Each record's set, accepted when its confidence clears the threshold (the output's confidence is the
        calibrated probability that the set agrees with the reviewer); probs (n, m, k), covered (m, k)."""
        labels = self.task.label_names
        p = combine(probs, covered)
        sets = decide(p, max_labels=self.task.max_labels, allow_empty=self.task.allow_empty)
        confidence = row_confidence(p, sets)
        hard = (confidence < acceptance.threshold) | (not covered.any())
        margins = np.abs(p - 0.5).min(axis=1) if len(labels) else np.zeros(len(records))
        guesses = [encode(np.array(labels)[chosen], labels) for chosen in sets]
        scores = [
            json.dumps({lab: round(float(p[i, j]), 6) for j, lab in enumerate(labels) if sets[i, j]})
            for i in range(len(records))
        ]
        sure = acceptance.calibrated(confidence)
        return pending(
            records, guesses, hard, sure, confidence, margins, stage=stage, audited=audited, scores=scores
        )
