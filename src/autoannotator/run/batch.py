"""One batch on its way through a run: the specialists vote; trust is measured on the audit evidence of
earlier batches (so this batch's audit rows measure its routing without bias: the run's self-estimate rests on
them); every row is decided; the audit rows and the rows nobody may accept go to the reviewer, in one request.
A reviewed row takes the reviewer's label, unless (calibration labels) it was accepted with a measured
probability of being right above the reviewer's accuracy. The result is one `Batch`, committed by the caller
in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

import numpy as np

from autoannotator.ledger import Batch, Decision, Ledger
from autoannotator.read.io import Record, Row, Skip
from autoannotator.review import Examples, HardRow, Reviewer, Verdict
from autoannotator.run.config import RunConfig
from autoannotator.specialists.base import FloatArray, IntArray
from autoannotator.trust.acceptance import Acceptance, capped
from autoannotator.trust.routing import Router
from autoannotator.trust.truth import reviewer_decides
from autoannotator.vote.aggregate import AGGREGATORS, BoolArray, agreement, consensus, margin
from autoannotator.vote.inference import Prepared, vote


def decide(
    votes: IntArray, probs: FloatArray, prepared: Prepared, config: RunConfig, acceptance: Acceptance | None
) -> tuple[FloatArray, BoolArray, FloatArray]:
    """(label probabilities (n, k), hard (n,), confidence (n,)): by measured trust when there is an
    `acceptance` (confidence calibrated on the audit), else by the run's aggregate and hard rule."""
    k = len(config.task.labels)
    if acceptance is not None:
        return acceptance.decide([n for n, _, _ in prepared], votes, probs, k)
    label_probs = AGGREGATORS[config.aggregate](votes, probs, k)
    return label_probs, config.hard_rule(votes, label_probs), label_probs.max(axis=1)


def under_cap(
    acceptance: Acceptance, votes: IntArray, probs: FloatArray, prepared: Prepared, config: RunConfig
) -> Acceptance:
    """`acceptance` for rows with votes (n, m) and probs (n, m, k), its threshold lowered where the run's
    `--llm-share` cap would send more of them to the reviewer (see `trust.capped`)."""
    names = [name for name, _, _ in prepared]
    confidence = acceptance.label_probs(names, votes, probs, len(config.task.labels)).max(axis=1)
    return capped(acceptance, confidence, config.trust.llm_share)


def run_batch(
    rows: Sequence[Row],
    prepared: Prepared,
    config: RunConfig,
    ledger: Ledger,
    index: int,
    *,
    reviewer: Reviewer | None,
    router: Router | None,
    examples: Examples | None,
    stage: int,
    pool: Executor | None = None,
) -> Batch:
    """Label one batch (see the module docstring); reads the ledger, writes nothing."""
    names = [name for name, _, _ in prepared]
    labels = config.task.label_names
    k = len(labels)
    records, skips = dedupe(rows, ledger.known_ids)
    votes, probs, seconds = vote([r.text for r in records], prepared, k, pool=pool)
    trusting = router is not None and reviewer is not None
    audited = [trusting and config.trust.audited(r.id, r.pos) for r in records]
    acceptance = None
    if router is not None:  # without a reviewer, only with calibration labels (see `RunConfig.trusting`)
        acceptance = under_cap(router.acceptance(ledger, prepared), votes, probs, prepared, config)
    decisions = _decisions(records, votes, probs, prepared, config, acceptance, stage=stage, audited=audited)
    hard = [d.hard for d in decisions]
    guesses = [d.best_guess for d in decisions]
    if examples is not None:
        agreed = [i for i in range(len(records)) if not hard[i]]
        if agreed:
            examples.add([records[i].text for i in agreed], [str(guesses[i]) for i in agreed])
    verdicts: dict[int, Verdict] = {}
    if reviewer is not None:
        chosen = [i for i in range(len(records)) if hard[i] or audited[i]]
        rows_out = _hard_rows(records, chosen, votes, names, labels, guesses)
        verdicts.update(zip(chosen, reviewer.review(rows_out) if rows_out else [], strict=True))
    # an accepted row (audited) keeps its label where that is more likely right than the reviewer's (against
    # the truth: against the reviewer, or without a router, the reviewer's label is sure, 1, and always taken)
    sure = np.array([d.confidence or 0.0 for d in decisions])
    takes = reviewer_decides(
        np.array(hard, dtype=bool), sure, 1.0 if router is None else router.reviewer_confidence
    )
    for i, verdict in verdicts.items():
        if verdict.status == "ok" and takes[i]:
            # against the reviewer it agrees with itself; against the truth, as sure as measured on rows alike
            agrees = verdict.label == decisions[i].best_guess
            confidence = acceptance.reviewed[int(agrees)] if acceptance is not None else verdict.confidence
            decisions[i] = replace(decisions[i], label=verdict.label, confidence=confidence, source="llm")
    routing = None if acceptance is None else acceptance.as_json()
    return assemble(index, rows, records, skips, votes, probs, decisions, seconds, verdicts, routing)


def assemble(
    index: int,
    rows: Sequence[Row],
    records: Sequence[Record],
    skips: Sequence[Skip],
    votes: IntArray,
    probs: FloatArray,
    decisions: Sequence[Decision],
    seconds: dict[str, float],
    verdicts: dict[int, Verdict],
    routing: dict[str, Any] | None,
    *,
    multi_label: bool = False,
) -> Batch:
    """The `Batch` a labelled batch commits: `verdicts` by index into `records`, `routing` as stored."""
    return Batch(
        index=index,
        first_pos=rows[0].pos,
        next_pos=rows[-1].pos + 1,
        rows=[(r.pos, r.id, r.text) for r in records],
        skips=[(s.pos, s.id, s.field, s.reason) for s in skips],
        votes=votes,
        probs=probs,
        decisions=decisions,
        seconds=seconds,
        reviews=[(records[i].pos, v) for i, v in sorted(verdicts.items())],
        acceptance=routing,
        multi_label=multi_label,
    )


def _decisions(
    records: Sequence[Record],
    votes: IntArray,
    probs: FloatArray,
    prepared: Prepared,
    config: RunConfig,
    acceptance: Acceptance | None,
    *,
    stage: int,
    audited: Sequence[bool],
) -> list[Decision]:
    """Each record's decision before review: accepted with the vote's label, or hard (``unresolved``)."""
    labels = config.task.label_names
    label_probs, hard, confidence = decide(votes, probs, prepared, config, acceptance)
    best = consensus(label_probs, votes)
    guesses = [labels[b] if b >= 0 else None for b in best]
    agree, margins = agreement(votes, best), margin(label_probs)
    return [
        Decision(
            pos=r.pos,
            label=None if hard[i] else guesses[i],
            confidence=None if hard[i] else float(confidence[i]),
            source="unresolved" if hard[i] else "consensus",
            best_guess=guesses[i],
            agreement=float(agree[i]),
            margin=float(margins[i]),
            hard=bool(hard[i]),
            stage=stage,
            audited=audited[i],
        )
        for i, r in enumerate(records)
    ]


def _hard_rows(
    records: Sequence[Record],
    chosen: Sequence[int],
    votes: IntArray,
    names: Sequence[str],
    labels: Sequence[str],
    guesses: Sequence[str | None],
) -> list[HardRow]:
    """The rows `chosen` (indices into `records`) as the reviewer sees them, with the specialists' votes."""
    return [
        HardRow(
            records[i].pos,
            records[i].text,
            {name: (labels[v] if v >= 0 else None) for name, v in zip(names, votes[i], strict=True)},
            guesses[i],
        )
        for i in chosen
    ]


def dedupe(rows: Sequence[Row], known_ids: Callable[[Sequence[str]], set[str]]) -> tuple[list[Record], list[Skip]]:
    """Split usable rows from skips; a repeated id (earlier in the run or this batch) becomes a skip."""
    records = [r for r in rows if isinstance(r, Record)]
    skips = [r for r in rows if isinstance(r, Skip)]
    taken = known_ids([r.id for r in records])
    kept = []
    for record in records:
        if record.id in taken:
            skips.append(Skip(record.pos, record.id, "id", "duplicate id"))
        else:
            taken.add(record.id)
            kept.append(record)
    return kept, sorted(skips, key=lambda s: s.pos)
