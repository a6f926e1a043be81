"""Measured trust: which rows may be labelled without review, decided on a uniform audit, never assumed.

**Audit stream.** Every row is audited (sent to the reviewer whatever the vote) with probability `audit_share`
of its input position: `early_share` (20%) of the first `early_rows` (1,000) rows, so that about 200 audited rows
judge the specialists before most of the data is labelled, then `share` (5%), enough to re-check every batch and
to catch drift at a small cost (with calibration labels, those judge, and the audit is `share` from the start).
The draw is a hash of the row id and the seed: uniform, reproducible, the same on resume. A batch's routing is
chosen on earlier batches' audited rows (and on every row of the batches that accepted nothing: all
reviewed, a complete sample), so its own audit rows measure it without bias. Half of the audited rows (a second
hash) are the frozen *validation* slice of the trainable specialists: never trained on.

**Acceptance (Learn-then-Test).** For each candidate decider (each specialist alone, the accuracy-weighted vote,
each trained head), the audited rows give its confidence and whether its label agrees with the reference. For
acceptance shares q = 5%, 10%, ..., 100% (most confident rows first), a hypothesis is tested with an exact binomial
test, in that fixed order, stopping at the first that is not rejected (fixed-sequence testing controls the family-
wise error at `delta` with no correction); the level is split between the candidates (Bonferroni). Against the
reviewer (the default) the target is on the whole output: "the accepted rows that disagree are more than 1 -
`target` of all rows", counted over all audited rows. Against the truth (calibration labels) it is on the accepted
rows: "the agreement of the rows above the q-quantile of confidence is below `target`"; there, shares of fewer than
`MIN_TESTED` rows (or a third of the evidence), or too few to be shown even by perfect agreement, are skipped
(which looks at counts only). The candidate that may accept the most rows decides; every other row goes to the
reviewer (with calibration labels, see `autoannotator.trust.truth`). If none qualifies, every row does (the
LLM-only run) until one does. Why LTT and not a confidence bound at one threshold: a single 95% bound on a
100-row sample is too loose to accept anything, while testing from the most confident rows down lets a sample
accept the rows it can vouch for, with the same guarantee.

**Calibration.** A row's `confidence` is the decider's confidence mapped through an isotonic fit of agreement
on the audited rows, each block smoothed toward the overall rate (`knots`): the estimated probability that the
label agrees with the reference, never 1.0 on finite evidence.

>>> import numpy as np
>>> agree = np.array([True] * 60 + [False] * 40)
>>> conf = np.linspace(1.0, 0.0, 100)
>>> round(accept_threshold(conf, agree, target=0.9, delta=0.05), 2)  # the 60 agreeing rows, no more
0.4
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import binom, binomtest
from sklearn.isotonic import IsotonicRegression

from autoannotator.read.adapters import ABSTAIN
from autoannotator.specialists.base import FloatArray, IntArray
from autoannotator.trust.labelmodel import Labeller
from autoannotator.vote.aggregate import BoolArray, weighted

SHARES = tuple(round(0.05 * i, 2) for i in range(1, 21))
"""Acceptance shares tested, in order (the fixed sequence)."""
MIN_TESTED = 100
"""On the accepted rows' agreement (not the whole-output count): the first tested share holds at least this many
rows, or a third of the evidence when it is smaller. The first test of a fixed sequence decides whether any is
made: on few rows it fails on one unlucky disagreement (at 30 rows and a 0.9 target, a 0.99-agreement decider
fails 26% of the time; at 100, 0.3%), while a fixed minimum of 100 would stop a small audit from accepting any
part of the data (the top 30% would need 333 audited rows). A failed test only costs money: the batch's rows go
to the reviewer and the next batch tests again on more evidence."""
EARLY_SHARE = 0.2
"""The audit share of the first `TrustConfig.early_rows` rows without calibration labels: about 200 audited rows
to judge the specialists on before most of a 1,000-row set is labelled."""
VOTE = "vote"
"""The name of the accuracy-weighted vote among the candidate deciders."""
LABEL_MODEL = "label-model"
"""The name of the label model over the specialists among the candidate deciders (`labelmodel.Labeller`)."""
Knots = tuple[tuple[float, ...], tuple[float, ...]]
"""An isotonic calibration as (x, y) knots for `np.interp`."""

DEFAULT_TARGET = 0.97
"""The share of rows on which the whole output must match labelling every row with the reviewer, by default.
Chosen on dev data (Rotten Tomatoes train and validation rows with recorded answers, bench/choose_target.py):
the lowest tested target that kept accuracy within 1 point of the LLM alone on every set and seed (0.97: at
most -0.7 points; 0.95 came to -1.4, 0.9 to -2.7)."""


class TrustConfig(BaseModel):
    """How the audit is drawn and how much evidence acceptance needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="default: the whole output matches labelling every row with the reviewer on 0.97 of rows; "
        "with calibration labels, the accepted rows are as accurate as the reviewer measured on them",
    )
    reference: Literal["llm", "label-model"] = Field(
        default="llm",
        description="what the specialists are judged against on the audited rows: the reviewer's answers, or "
        "the label model's labels over the reviewer and the fixed specialists (`autoannotator.trust.labelmodel`; "
        "the "
        "accepted rows are then at least as accurate as it estimates the reviewer, a model-based estimate)",
    )
    delta: float = Field(default=0.05, gt=0.0, lt=1.0, description="risk that the accepted rows miss the target")
    early_share: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=f"audit share of the first early_rows: {EARLY_SHARE}, or `share` with calibration labels "
        "(they judge the specialists; the audit then only trains and checks)",
    )
    early_rows: int = Field(default=1000, ge=0, description="input rows audited at early_share")
    share: float = Field(default=0.05, ge=0.0, le=1.0, description="audit share of the later rows")
    min_evidence: int = Field(default=30, ge=1, description="audited rows a candidate needs to be judged")
    llm_share: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="send at most this share of a batch to the reviewer (the least confident), even where the "
        "evidence does not allow accepting the others: the run then says the target was out of reach",
    )
    seed: int = 0

    def audit_share(self, pos: int) -> float:
        """The probability that the row at input position `pos` is audited."""
        early = EARLY_SHARE if self.early_share is None else self.early_share
        return early if pos < self.early_rows else self.share

    def calibrated(self) -> TrustConfig:
        """This configuration for a run with calibration labels: unless set, the early audit share is `share`
        (the calibration rows judge the specialists, so the early audit is not needed to)."""
        return self if self.early_share is not None else self.model_copy(update={"early_share": self.share})

    def audited(self, row_id: str, pos: int) -> bool:
        """Whether the row is in the audit stream (a hash of its id: uniform and reproducible)."""
        return _unit(f"audit:{self.seed}:{row_id}") < self.audit_share(pos)

    def validates(self, row_id: str) -> bool:
        """Whether an audited row belongs to the frozen validation half (never trained on)."""
        return _unit(f"validation:{self.seed}:{row_id}") < 0.5

    def held_out(self, row_id: str, pos: int) -> bool:
        """Whether a row is in the validation slice: audited, and in the validation half."""
        return self.audited(row_id, pos) and self.validates(row_id)


def draw(key: str) -> int:
    """A seeded draw: the first 64 bits of the sha256 of `key` (e.g. ``"audit:SEED:ROW_ID"``), uniform and the
    same on every run and resume."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def _unit(key: str) -> float:
    """A hash of `key` as a number in [0, 1)."""
    return draw(key) / 2**64


def accept_threshold(
    confidence: FloatArray, agree: BoolArray, *, target: float, delta: float, overall: bool = False
) -> float:
    """The lowest confidence threshold that fixed-sequence testing over `SHARES` certifies, with error
    probability `delta`: the rows at or above it agree at a rate of at least `target`; or, with `overall`, the
    rows at or above it that disagree are at most ``1 - target`` of all rows (the whole output, the other rows
    taking the reference's label, agrees with the reference on a `target` share of rows). ``inf`` (accept
    nothing) when even the most confident 5% fail. confidence (n,), agree (n,): a uniform sample of rows."""
    if len(confidence) == 0:
        return float(np.inf)
    order = np.sort(confidence)[::-1]
    first = min(MIN_TESTED, int(np.ceil(len(order) / 3)))
    threshold = float(np.inf)
    for share in SHARES:
        t = float(order[max(int(np.ceil(round(share * len(order), 9))) - 1, 0)])
        if t >= threshold:  # ties: this share adds no row
            continue
        accepted = confidence >= t
        n, k = int(accepted.sum()), int(agree[accepted].sum())
        if overall:  # disagreeing accepted rows among all sampled ones: binomial(len, 1 - target) at most
            if binom.cdf(n - k, len(order), 1.0 - target) > delta:
                break
        elif n < first or target**n > delta:  # too few rows for a fair test (counts only): skip to more
            continue
        elif binom.sf(k - 1, n, target) > delta:  # P(X >= k | rate = target) too large: not shown
            break
        threshold = t
    return threshold


def interval(agree: BoolArray | FloatArray, weights: FloatArray | None = None) -> tuple[float, float, float, int]:
    """(estimate, low, high, rows): the agreement rate of `agree` (n,; or each row's probability of agreeing)
    with its 95% Wilson interval; with inverse-probability `weights` (n,), the weighted rate and the interval at
    the effective sample size."""
    n = len(agree)
    if n == 0:
        return float("nan"), 0.0, 1.0, 0
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    rate = float((w * agree).sum() / w.sum())
    n_eff = max(round(w.sum() ** 2 / (w**2).sum()), 1)
    ci = binomtest(round(rate * n_eff), n_eff).proportion_ci(0.95, method="wilson")
    return rate, float(ci.low), float(ci.high), n


@dataclass(frozen=True)
class Candidate:
    """One decider's labels and confidences on the audited rows it may be judged on (the label model's with
    its `labeller`)."""

    name: str
    confidence: FloatArray
    agree: BoolArray
    labeller: Labeller | None = None


@dataclass(frozen=True)
class Acceptance:
    """The routing of a batch: the `decider` (a specialist's name or `VOTE`) labels a row, which is accepted
    when its confidence is at least `threshold`; `calibration` maps confidence to the estimated probability of
    agreeing with the reference (isotonic, as knots); `weights` are the vote's per-specialist agreement rates."""

    decider: str | None
    threshold: float
    weights: dict[str, float] = field(default_factory=dict)
    knots: Knots = ((), ())
    evidence: int = 0
    capped: bool = False
    target: float = DEFAULT_TARGET
    estimate: tuple[float, float, float, int] | None = None
    """(rate, low, high, rows): agreement with the reference on the evidence rows it accepts (95% interval)."""
    reviewed: tuple[float, float] = (1.0, 1.0)
    """The probability that a row whose label is the reviewer's is right, where that label differs from and
    where it agrees with the best guess: 1 against the reviewer itself (`truth.reviewed_accuracy` against the
    truth)."""
    labeller: Labeller | None = None
    """The label model over the specialists, when it is the decider (`LABEL_MODEL`)."""
    reference: str = "reviewer"
    """What it was judged against: the reviewer, the truth (calibration labels) or the label model."""

    def as_json(self) -> dict[str, Any]:
        """What the ledger keeps of it (the knots and weights are recomputed on resume)."""
        return {
            "decider": self.decider,
            "threshold": None if self.threshold == np.inf else self.threshold,
            "evidence": self.evidence,
            "capped": self.capped,
            "target": self.target,
            "estimate": None if self.estimate is None or not self.estimate[3] else list(self.estimate),
            "reference": self.reference,
        }

    def label_probs(self, names: Sequence[str], votes: IntArray, probs: FloatArray, k: int) -> FloatArray:
        """(n, k) label probabilities of the decider from votes (n, m) and adapted probabilities (n, m, k)."""
        if self.labeller is not None:
            return self.labeller.label_probs(votes)
        if self.decider is not None and self.decider != VOTE and self.decider in names:
            chosen: FloatArray = probs[:, list(names).index(self.decider)]
            return chosen
        return weighted(votes, k, np.array([self.weights.get(n, 1.0 / k) for n in names]))

    def decide(
        self, names: Sequence[str], votes: IntArray, probs: FloatArray, k: int
    ) -> tuple[FloatArray, BoolArray, FloatArray]:
        """(label probabilities (n, k), hard (n,), calibrated confidence (n,))."""
        label_probs = self.label_probs(names, votes, probs, k)
        confidence = label_probs.max(axis=1)
        if self.labeller is not None:
            silent = self.labeller.silent(votes)
        elif self.decider is not None and self.decider != VOTE and self.decider in names:
            silent = votes[:, list(names).index(self.decider)] == ABSTAIN
        else:
            silent = (votes == ABSTAIN).all(axis=1)
        hard: BoolArray = (confidence < self.threshold) | silent
        return label_probs, hard, self.calibrated(confidence)

    def calibrated(self, confidence: FloatArray) -> FloatArray:
        """The estimated probability of agreeing with the reference at each confidence (n,)."""
        return calibrate(self.knots, confidence)


def choose(
    candidates: Sequence[Candidate],
    config: TrustConfig,
    weights: dict[str, float],
    *,
    target: float,
    overall: bool = False,
) -> Acceptance:
    """The candidate that may accept the largest share of rows at `target` (on the accepted rows, or with
    `overall` on the whole output; ties: the higher agreement above its threshold), with its threshold and
    calibration; `Acceptance(None, inf)` when none qualifies."""
    judged = [c for c in candidates if len(c.agree) >= config.min_evidence]
    level = config.delta / max(len(judged), 1)
    best: tuple[float, float, Candidate, float] | None = None
    for candidate in judged:
        t = accept_threshold(candidate.confidence, candidate.agree, target=target, delta=level, overall=overall)
        accepted = candidate.confidence >= t
        if not accepted.any():
            continue
        key = (float(accepted.mean()), float(candidate.agree[accepted].mean()))
        if best is None or key > best[:2]:
            best = (*key, candidate, t)
    evidence = max((len(c.agree) for c in candidates), default=0)
    if best is None:
        return Acceptance(None, float(np.inf), weights, evidence=evidence, target=target)
    _, _, candidate, t = best
    return Acceptance(
        candidate.name,
        t,
        weights,
        knots(candidate.confidence, candidate.agree),
        len(candidate.agree),
        target=target,
        estimate=interval(candidate.agree[candidate.confidence >= t]),
        labeller=candidate.labeller,
    )


def calibrate(fit: Knots, confidence: FloatArray) -> FloatArray:
    """The estimated probability of agreeing with the reference at each confidence (n,), by the isotonic `fit`
    (`knots`); the confidence itself where there is no fit."""
    xs, ys = fit
    if not xs:
        return np.asarray(confidence, dtype=np.float64)
    return np.interp(confidence, xs, ys)


def knots(confidence: FloatArray, agree: BoolArray, *, prior: float = 2.0) -> Knots:
    """An increasing isotonic fit of agreement on confidence (n,), as (x, y) knots for `np.interp`; each
    block's rate is smoothed toward the overall rate by `prior` pseudo-rows, so that a few agreeing rows never
    claim certainty (a block of 30 agreeing rows at an overall 0.8 says 0.99, not 1.0)."""
    fit = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    fit.fit(confidence, agree.astype(np.float64))
    rates, sizes = np.unique(fit.predict(confidence), return_counts=True)
    shrunk = (rates * sizes + prior * float(agree.mean())) / (sizes + prior)
    smoothed = dict(zip(rates.tolist(), shrunk.tolist(), strict=True))
    ys = np.maximum.accumulate([smoothed.get(float(y), float(y)) for y in fit.y_thresholds_])
    return tuple(float(x) for x in fit.X_thresholds_), tuple(float(y) for y in ys)


def capped(acceptance: Acceptance, confidence: FloatArray, llm_share: float | None) -> Acceptance:
    """`acceptance` with its threshold lowered so that at most `llm_share` of rows with `confidence` (n,) go to
    the reviewer; marked `capped` when that accepts rows the evidence did not vouch for."""
    if llm_share is None or len(confidence) == 0:
        return acceptance
    limit = float(np.quantile(confidence, llm_share))
    if limit >= acceptance.threshold:
        return acceptance
    return replace(acceptance, decider=acceptance.decider or VOTE, threshold=limit, capped=True)


def candidates(
    names: Sequence[str],
    fixed: Sequence[bool],
    votes: IntArray,
    probs: FloatArray,
    reference: IntArray,
    fresh: BoolArray,
    labeller: Labeller | None = None,
) -> tuple[list[Candidate], dict[str, float]]:
    """The candidate deciders judged on audited rows: each specialist alone, the accuracy-weighted vote and the
    `labeller` if given, and the vote's weights (each specialist's smoothed agreement with the reference).
    votes (n, m), probs (n, m, k), reference (n,); a trainable specialist (not `fixed`) is judged only on the
    `fresh` rows (n,), those its current version was not trained on."""
    k = probs.shape[2]
    usable = (votes >= 0) & (np.asarray(fixed, dtype=bool)[None, :] | fresh[:, None])
    result, weights = [], {}
    for j, name in enumerate(names):
        rows = np.nonzero(usable[:, j])[0]
        agree: BoolArray = votes[rows, j] == reference[rows]
        weights[name] = float((agree.sum() + 1) / (len(rows) + k))
        result.append(Candidate(name, probs[rows, j, votes[rows, j]], agree))
    stale = ((votes >= 0) & ~usable).any(axis=1)
    rows = np.nonzero((votes >= 0).any(axis=1) & ~stale)[0]
    label_probs = weighted(votes[rows], k, np.array([weights[n] for n in names]))
    result.append(Candidate(VOTE, label_probs.max(axis=1), label_probs.argmax(axis=1) == reference[rows]))
    if labeller is not None:
        rows = np.nonzero(~labeller.silent(votes))[0]
        label_probs = labeller.label_probs(votes[rows])
        agree = label_probs.argmax(axis=1) == reference[rows]
        result.append(Candidate(LABEL_MODEL, label_probs.max(axis=1), agree, labeller))
    return result, weights
