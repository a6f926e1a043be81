"""One batch of a multi-label task: each specialist gives, per label, the probability that it applies (or
abstains on labels it cannot speak about); the ensemble's per-label probability is the mean over those that
speak; a row's set is the labels above 0.5, and its confidence that of its least certain label
(`autoannotator.vote.labelsets`). A row is accepted without review when its confidence clears the threshold that
the earlier batches' audit shows keeps the whole output's exact-set agreement with the reviewer at the target
(`MultiRouter`, the same count test as single-label runs); the others and the batch's audit rows go to the
reviewer. Stored like a single-label batch: a set as its canonical text, each specialist's
vote as a bit mask of its set, its per-label probabilities as the vote's probabilities.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

import numpy as np

from autoannotator.errors import AdapterError
from autoannotator.ledger import Batch, Decision, Ledger, audit, training
from autoannotator.read.adapters import Adapter, Adapts
from autoannotator.read.io import Record, Row
from autoannotator.read.task import Task
from autoannotator.review import HardRow, Reviewer, Verdict
from autoannotator.run.batch import assemble, dedupe
from autoannotator.run.config import RunConfig
from autoannotator.specialists.base import BoolArray, FloatArray, IntArray, Specialist, Trainable
from autoannotator.trust.acceptance import DEFAULT_TARGET, accept_threshold, knots
from autoannotator.vote.inference import Prepared, silent
from autoannotator.vote.labelsets import combine, decide, encode, row_confidence

Knots = tuple[tuple[float, ...], tuple[float, ...]]
"""An isotonic calibration as (x, y) knots for `np.interp`."""


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


def masks(sets: BoolArray) -> IntArray:
    """(…) bit masks of (…, k) label indicators: bit j set where label j is."""
    result: IntArray = (sets.astype(np.int64) << np.arange(sets.shape[-1], dtype=np.int64)).sum(axis=-1)
    return result


class MultiRouter:
    """The acceptance threshold of each batch of a multi-label run, measured on the earlier batches' audited rows
    (the batch's own vouch for it in the run's self-estimate). Trainable heads never
    train on audited rows in a multi-label run (see `autoannotator.run.pipeline`), so every audited row is out of
    sample for every version; a row's confidence is recomputed once per stage."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self._stage = -1
        self._seen: dict[int, tuple[float, bool]] = {}

    @property
    def target(self) -> float:
        return self.config.trust.target if self.config.trust.target is not None else DEFAULT_TARGET

    def refresh(
        self, ledger: Ledger, prepared: Prepared, crossfit: Mapping[str, Mapping[int, FloatArray]] | None = None
    ) -> None:
        """After a training: nothing to do now (the evidence is re-labelled when the stage changes; no
        cross-fitting for sets)."""

    def threshold(self, ledger: Ledger, prepared: Prepared) -> tuple[float, Knots, int]:
        """(threshold, calibration knots, evidence rows) from the committed audit (earlier batches': the next
        batch's own audit rows then check it without bias)."""
        stage = training.stage(ledger)
        if stage != self._stage:
            self._stage, self._seen = stage, {}
        trust = self.config.trust
        stored = [(p, t, lab) for p, _, t, lab in audit.audited_rows(ledger, last=5000)]
        rows = [r for r in stored if r[0] not in self._seen]
        if rows:
            task = self.config.task
            probs, covered, _ = presence([t for _, t, _ in rows], prepared, len(task.labels))
            p = combine(probs, covered)
            sets = decide(p, max_labels=task.max_labels, allow_empty=task.allow_empty)
            for (pos, _, said), conf, chosen in zip(rows, row_confidence(p, sets), sets, strict=True):
                self._seen[pos] = (
                    float(conf),
                    encode(np.array(task.label_names)[chosen], task.label_names) == said,
                )
        evidence = [self._seen[r[0]] for r in stored]
        if len(evidence) < trust.min_evidence:
            return float(np.inf), ((), ()), len(evidence)
        confidence = np.array([c for c, _ in evidence])
        agree = np.array([a for _, a in evidence], dtype=bool)
        threshold = accept_threshold(confidence, agree, target=self.target, delta=trust.delta, overall=True)
        return threshold, knots(confidence, agree), len(evidence)


def run_multi_batch(
    rows: Sequence[Row],
    prepared: Prepared,
    config: RunConfig,
    ledger: Ledger,
    index: int,
    *,
    reviewer: Reviewer | None,
    router: MultiRouter | None,
    stage: int,
    pool: Executor | None = None,
) -> Batch:
    """Label one batch of a multi-label task (see the module docstring); reads the ledger, writes nothing."""
    task, names = config.task, [n for n, _, _ in prepared]
    records, skips = dedupe(rows, ledger.known_ids)
    probs, covered, seconds = presence([r.text for r in records], prepared, len(task.labels), pool=pool)
    speaks = np.asarray(covered.any(axis=1), dtype=bool)
    votes: IntArray = np.where(speaks[None, :], masks(probs > 0.5), -1)
    ask = Asker(reviewer, records, votes, names, task.label_names)
    audited = [router is not None and reviewer is not None and config.trust.audited(r.id, r.pos) for r in records]
    calibration: Knots = ((), ())
    threshold, evidence = float(np.inf), 0
    if router is not None and reviewer is not None:
        threshold, calibration, evidence = router.threshold(ledger, prepared)
    decisions = _decisions(records, probs, covered, task, threshold, calibration, stage=stage, audited=audited)
    verdicts = ask([i for i, d in enumerate(decisions) if d.hard or d.audited])
    for i, verdict in verdicts.items():
        if verdict.status == "ok":
            decisions[i] = replace(
                decisions[i], label=verdict.label, confidence=verdict.confidence, source="llm", scores=None
            )
    routing = None if router is None or reviewer is None else _routing(threshold, evidence, router.target)
    return assemble(
        index, rows, records, skips, votes, probs, decisions, seconds, verdicts, routing, multi_label=True
    )


def _decisions(
    records: Sequence[Record],
    probs: FloatArray,
    covered: BoolArray,
    task: Task,
    threshold: float,
    calibration: Knots,
    *,
    stage: int,
    audited: Sequence[bool],
) -> list[Decision]:
    """Each record's decision before review: its set, accepted when its confidence clears `threshold` (the
    output's confidence is the calibrated probability that the set agrees with the reviewer)."""
    labels = task.label_names
    p = combine(probs, covered)
    sets = decide(p, max_labels=task.max_labels, allow_empty=task.allow_empty)
    confidence = row_confidence(p, sets)
    hard = (confidence < threshold) | (not covered.any())
    sure = np.interp(confidence, *calibration) if calibration[0] else confidence
    guesses = [encode(np.array(labels)[chosen], labels) for chosen in sets]
    return [
        Decision(
            pos=r.pos,
            label=None if hard[i] else guesses[i],
            confidence=None if hard[i] else float(sure[i]),
            source="unresolved" if hard[i] else "consensus",
            best_guess=guesses[i],
            agreement=float(confidence[i]),
            margin=float(np.abs(p[i] - 0.5).min()) if len(labels) else 0.0,
            hard=bool(hard[i]),
            stage=stage,
            audited=audited[i],
            scores=json.dumps({lab: round(float(p[i, j]), 6) for j, lab in enumerate(labels) if sets[i, j]}),
        )
        for i, r in enumerate(records)
    ]


def _routing(threshold: float, evidence: int, target: float) -> dict[str, Any]:
    """What the ledger keeps of a batch's routing (the shape single-label batches store)."""
    accepting = threshold < np.inf
    return {
        "decider": "vote" if accepting else None,
        "threshold": threshold if accepting else None,
        "evidence": evidence,
        "capped": False,
        "target": target,
        "estimate": None,
    }


class Asker:
    """Asks the reviewer about chosen rows of a batch, showing each specialist's set (None: no reviewer)."""

    def __init__(
        self,
        reviewer: Reviewer | None,
        records: Sequence[Record],
        votes: IntArray,
        names: Sequence[str],
        labels: Sequence[str],
    ) -> None:
        self.reviewer = reviewer
        self.records = records
        self.votes = votes
        self.names = names
        self.labels = labels

    def said(self, mask: int) -> str | None:
        """A specialist's set as text (None: it abstained)."""
        return None if mask < 0 else ", ".join(lab for j, lab in enumerate(self.labels) if mask >> j & 1) or "none"

    def __call__(self, chosen: Sequence[int]) -> dict[int, Verdict]:
        if self.reviewer is None or not chosen:
            return {}
        rows = [
            HardRow(
                self.records[i].pos,
                self.records[i].text,
                {n: self.said(int(v)) for n, v in zip(self.names, self.votes[i], strict=True)},
                None,
            )
            for i in chosen
        ]
        return dict(zip(chosen, self.reviewer.review(rows), strict=True))


def relabel_multi(ledger: Ledger, prepared: Prepared, config: RunConfig, router: MultiRouter) -> None:
    """The final heads re-label the accepted rows of earlier stages (``--relabel-final``): a row whose new set
    clears the last measured threshold takes it; the others keep theirs. Chunk by chunk, each one transaction."""
    stage = training.stage(ledger)
    threshold, calibration, _ = router.threshold(ledger, prepared)
    if threshold == np.inf:
        return
    task = config.task
    for chunk in training.relabel_candidates(ledger, stage):
        probs, covered, _ = presence([t for _, t, _ in chunk], prepared, len(task.labels))
        records = [Record(pos, "", text) for pos, text, _ in chunk]
        unaudited = [False] * len(records)
        decisions = _decisions(
            records, probs, covered, task, threshold, calibration, stage=stage, audited=unaudited
        )
        training.record_relabels(
            ledger,
            stage,
            [(pos, old, d.label, d.confidence) for (pos, _, old), d in zip(chunk, decisions, strict=True)],
            [d.scores for d in decisions],
        )
