"""Cost estimate before spending: ``autoannotator plan``.

Counts the rows, runs the specialists on a probe (the first `probe` rows) to measure the hard-row share, and
prices the review prompts the run would send, next to the price of labelling every row with the same LLM
zero-shot. Token counts are estimated at 4 UTF-8 bytes a token (recorded counts for a replay file).

With measured trust (the default) the share sent is not known before the audit measures the specialists, so
the estimate is a range: at least the first batch (nothing to judge on yet), the expected audit draws and the
calibration rows; at most every row. The gate's hard share is the figure for ``--routing rule``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autoannotator.controller import select
from autoannotator.ledger import Ledger
from autoannotator.ledger.cache import CallCache
from autoannotator.llm.base import prompt_bytes
from autoannotator.llm.cost import Budget, load_prices
from autoannotator.read.io import Record, Source, batch_ends
from autoannotator.review import HardRow, Prompts, ReplayReviewer, ReviewConfig, Strategy, build_reviewer
from autoannotator.run.choice import with_selection
from autoannotator.run.pipeline import RunConfig, prepare, vote
from autoannotator.specialists.base import FloatArray, IntArray, Trainable
from autoannotator.trust.acceptance import DEFAULT_TARGET, candidates, choose
from autoannotator.trust.evidence import read_calibration
from autoannotator.vote.aggregate import AGGREGATORS
from autoannotator.vote.inference import Prepared

REFERENCE_LLM = "openai:gpt-3.5-turbo"
"""Priced when the run has no reviewer, for reference (the paper's model)."""


@dataclass(frozen=True)
class Plan:
    """The estimate. Money in USD, tokens per call."""

    rows: int
    probe_rows: int
    hard_share: float
    model: str
    calls_per_hard_row: int
    prompt_tokens: float
    completion_tokens: float
    review_usd: float
    llm_only_usd: float
    price_date: str
    sent: tuple[float, float] | None = None
    """With measured trust, the fewest and the most rows the reviewer is expected to see (the rest of the range
    is decided by the audit); None with the rule (`hard_share` of the rows)."""
    row_usd: float = 0.0
    """The review of one row (all its calls), USD."""
    specialists: tuple[str, ...] = ()
    """The specialists that voted on the probe (``auto`` resolved by card matching, without the LLM)."""
    likely: float | None = None
    """With measured trust and reviewed probe rows: the rows the reviewer most likely sees, from the trust test
    run on the probe's evidence (the fixed specialists': the trainables learn during the run, so this is the
    start's figure, an upper bound on what is sent once they take rows)."""
    likely_evidence: int = 0
    """The reviewed probe rows `likely` rests on."""

    @property
    def review_range_usd(self) -> tuple[float, float]:
        """(low, high) review cost: the rule's single figure twice, or the trust range."""
        if self.sent is None:
            return self.review_usd, self.review_usd
        return self.sent[0] * self.row_usd, self.sent[1] * self.row_usd

    @property
    def saving_range(self) -> tuple[float, float]:
        """(low, high) 1 - review cost / LLM-only cost over `review_range_usd` (the rule's single figure twice;
        0 when nothing is priced)."""
        low, high = self.review_range_usd
        if not self.llm_only_usd:
            return 0.0, 0.0
        return 1.0 - high / self.llm_only_usd, 1.0 - low / self.llm_only_usd


def plan(config: RunConfig, *, probe: int = 200, probe_reviews: int = 0) -> Plan:
    """Estimate `config`'s review cost and the LLM-only cost; spends nothing, unless `probe_reviews` asks the
    reviewer about that many probe rows for the most likely figure (a replay file is asked about all of them,
    free)."""
    rows, texts = _count_and_probe(config, probe)
    if config.specialists == ("auto",):  # as a run without its LLM would choose: spends nothing
        chosen = select(config.task, texts, allow_code=config.allow_generated_code, extra=config.candidates)
        config = with_selection(config, chosen.as_json())
    k = len(config.task.labels)
    prepared = prepare(config)
    votes, probs, _ = vote(texts, prepared, k)
    hard = config.hard_rule(votes, AGGREGATORS[config.aggregate](votes, probs, k))
    hard_share = float(hard.mean()) if len(hard) else 0.0
    review = config.review or ReviewConfig(method="zero-shot", llm=REFERENCE_LLM)
    prices = load_prices(review.prices)
    if review.method == "replay":
        model, (prompt, answer) = _recorded(review, config, texts)
        plain = (prompt, answer)
    else:
        model = (review.llm or "").partition(":")[2]
        prompts = Prompts(config.task, show_votes=review.show_votes)
        hard_texts = [t for t, h in zip(texts, hard, strict=True) if h] or texts
        prompt = _mean_tokens(
            prompts,
            hard_texts,
            rationale=review.strategy.rationale,
            shots=_shots(review, config, texts),
        )
        answer = review.strategy.answer_tokens
        plain = (_mean_tokens(prompts, texts, rationale=False, shots=[]), Strategy.answer_tokens)
    calls = review.strategy.calls(samples=review.samples)
    per_call = prices.cost(model, round(prompt), round(answer))
    return Plan(
        rows=rows,
        probe_rows=len(texts),
        hard_share=hard_share,
        model=model,
        calls_per_hard_row=calls,
        prompt_tokens=prompt,
        completion_tokens=answer,
        review_usd=rows * hard_share * calls * per_call,
        llm_only_usd=rows * prices.cost(model, round(plain[0]), round(plain[1])),
        price_date=prices.date,
        sent=_trust_range(config, rows) if config.trusting else None,
        row_usd=calls * per_call,
        specialists=config.chosen(),
        **_likely(config, rows, prepared, votes, probs, _probe_reference(config, texts, probe_reviews)),
    )


def _probe_reference(config: RunConfig, texts: list[str], asked: int) -> IntArray:
    """The reviewer's labels of the first probe rows (-1 elsewhere): all of them from a replay file (free),
    the first `asked` from an LLM (paid); none with calibration labels (their own test) or without trust."""
    reference = np.full(len(texts), -1, dtype=np.int64)
    review = config.review
    if review is None or config.calibration is not None or not config.trusting:
        return reference
    n = len(texts) if review.method == "replay" else min(asked, len(texts))
    if n == 0:
        return reference
    with tempfile.TemporaryDirectory() as folder, Ledger(Path(folder) / "plan.sqlite") as ledger:
        reviewer = build_reviewer(review, config.task, CallCache(ledger), budget=Budget(None), examples=None)
        try:
            verdicts = reviewer.review([HardRow(i, t, {}, None) for i, t in enumerate(texts[:n])])
        finally:
            reviewer.close()
    for i, verdict in enumerate(verdicts):
        if verdict.label is not None:
            reference[i] = config.task.label_names.index(verdict.label)
    return reference


def _likely(
    config: RunConfig, rows: int, prepared: Prepared, votes: IntArray, probs: FloatArray, reference: IntArray
) -> dict[str, Any]:
    """`Plan.likely` and its evidence: the trust test on the reviewed probe rows (as a run's first routing
    would judge them), the share of probe rows its routing accepts, and the rows sent at that share: the first
    batch whole, the others but the accepted ones, and the audit draws among the accepted."""
    reviewed = reference >= 0
    if reviewed.sum() < config.trust.min_evidence:
        return {}
    names = [name for name, _, _ in prepared]
    fixed = [not isinstance(s, Trainable) for _, s, _ in prepared]
    fresh = np.ones(int(reviewed.sum()), dtype=bool)
    found, weights = candidates(names, fixed, votes[reviewed], probs[reviewed], reference[reviewed], fresh)
    chosen = choose(found, config.trust, weights, target=config.trust.target or DEFAULT_TARGET, overall=True)
    _, hard, _ = chosen.decide(names, votes, probs, len(config.task.labels))
    accepted = float((~hard).mean())
    whole = min(rows, next(batch_ends(config.batch_size, config.first_batch)))
    low, _ = _trust_range(config, rows)  # the first batch and the audit draws of the others
    likely = whole + (1 - accepted) * (rows - whole) + accepted * (low - whole)
    return {"likely": likely, "likely_evidence": int(reviewed.sum())}


def _trust_range(config: RunConfig, rows: int) -> tuple[float, float]:
    """The fewest and the most rows a run by measured trust sends to the reviewer: the first batch whole (no
    evidence yet; without calibration labels), the expected audit draws of the others and the calibration
    rows; or every row and the calibration rows. (rows,) counted, shares expected."""
    path, task = config.calibration, config.task
    labelled = 0 if path is None else len(read_calibration(path, task.text_field, task.label_names).texts)
    trust = config.trust if path is None else config.trust.calibrated()
    whole = min(rows, next(batch_ends(config.batch_size, config.first_batch))) if path is None else 0
    early = max(min(rows, trust.early_rows) - whole, 0) * trust.audit_share(0)
    late = max(rows - max(trust.early_rows, whole), 0) * trust.share
    return whole + early + late + labelled, float(rows + labelled)


def _count_and_probe(config: RunConfig, probe: int) -> tuple[int, list[str]]:
    """The number of usable rows, and the texts of the first `probe` of them."""
    source = Source(config.input, text_field=config.task.text_field, id_field=config.task.id_field)
    rows, texts = 0, list[str]()
    for batch in source.batches(config.batch_size):
        for row in batch:
            if isinstance(row, Record):
                rows += 1
                if len(texts) < probe:
                    texts.append(row.text)
    return rows, texts


def _shots(review: ReviewConfig, config: RunConfig, texts: list[str]) -> list[tuple[str, str]]:
    """Few-shot examples as the run would send them; probe rows stand in for the retrieved agreed rows."""
    if not review.strategy.examples:
        return []
    retrieved = [(t, config.task.label_names[0]) for t in texts[: review.shots]]
    return [(e.text, e.label) for e in config.task.examples] + retrieved


def _mean_tokens(prompts: Prompts, texts: list[str], *, rationale: bool, shots: list[tuple[str, str]]) -> float:
    """Mean estimated prompt tokens (4 bytes a token) of the review messages for `texts`."""
    if not texts:
        return 0.0
    sizes = [
        prompt_bytes(prompts.messages(HardRow(0, t, {}, None), rationale=rationale, shots=shots)) for t in texts
    ]
    return float(np.mean(sizes)) / 4


def _recorded(review: ReviewConfig, config: RunConfig, texts: list[str]) -> tuple[str, tuple[float, float]]:
    """The replayed model, and the mean recorded (prompt, completion) tokens of the probe texts."""
    assert review.replay is not None
    replay = ReplayReviewer(
        review.replay,
        config.task,
        prices=load_prices(review.prices),
        budget=Budget(None),
        model=review.replay_model,
        setting=review.replay_setting,
    )
    verdicts = [v for v in replay.review([HardRow(0, t, {}, None) for t in texts]) if v.prompt_tokens]
    if not verdicts:
        return str(replay.model), (0.0, 0.0)
    return str(replay.model), (
        float(np.mean([v.prompt_tokens for v in verdicts])),
        float(np.mean([v.completion_tokens for v in verdicts])),
    )
