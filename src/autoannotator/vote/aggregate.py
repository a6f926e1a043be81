"""Aggregation of specialists' votes: pure functions over a vote matrix.

Shapes: ``votes`` is (n, m) int, one column per specialist, values in ``0..k-1`` or ``ABSTAIN`` (-1);
``probs`` is (n, m, k), each specialist's probabilities over the task's labels (ignored where it abstains).
Every aggregator returns (n, k) label probabilities, rows summing to 1 (uniform where nobody voted), and is
invariant to the order of the specialists and to adding a specialist that always abstains.

>>> import numpy as np
>>> majority(np.array([[0, 0, 1], [1, -1, 1]]), np.zeros((2, 3, 2)), 2).round(2).tolist()
[[0.67, 0.33], [0.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.special import softmax

from autoannotator.errors import describe
from autoannotator.read.adapters import ABSTAIN
from autoannotator.specialists.base import FloatArray, IntArray

BoolArray = np.ndarray[tuple[int], np.dtype[np.bool_]]
Aggregator = Callable[[IntArray, FloatArray, int], FloatArray]


def vote_counts(votes: IntArray, k: int, weights: FloatArray | None = None) -> FloatArray:
    """(n, k) sum of `weights` (m,) (default 1) of the specialists voting each label; abstentions add 0."""
    n, m = votes.shape
    w = np.ones(m) if weights is None else np.asarray(weights, dtype=np.float64)
    counts = np.zeros((n, k))
    for j in range(m):
        voted = votes[:, j] != ABSTAIN
        np.add.at(counts, (np.nonzero(voted)[0], votes[voted, j]), w[j])
    return counts


def _normalise(scores: FloatArray) -> FloatArray:
    total = scores.sum(axis=1, keepdims=True)
    k = scores.shape[1]
    result: FloatArray = np.divide(scores, total, out=np.full_like(scores, 1.0 / k), where=total > 0)
    return result


def majority(votes: IntArray, probs: FloatArray, k: int) -> FloatArray:
    """Share of the non-abstaining specialists voting each label (`probs` unused)."""
    return _normalise(vote_counts(votes, k))


def soft(votes: IntArray, probs: FloatArray, k: int) -> FloatArray:
    """Mean of the non-abstaining specialists' probability rows."""
    voted = (votes != ABSTAIN)[:, :, None]
    return _normalise(np.where(voted, probs, 0.0).sum(axis=1))


def weighted(votes: IntArray, k: int, accuracy: FloatArray) -> FloatArray:
    """Accuracy-weighted vote: specialist j's vote weighs log(acc_j (k-1) / (1-acc_j)) (the optimal weight for
    independent voters with symmetric errors); returns the softmax of the weighted counts, (n, k)."""
    acc = np.clip(np.asarray(accuracy, dtype=np.float64), 1e-3, 1 - 1e-3)
    result: FloatArray = softmax(vote_counts(votes, k, np.log(acc * (k - 1) / (1 - acc))), axis=1)
    return result


@dataclass(frozen=True)
class DawidSkene:
    """Fitted Dawid-Skene model: `posteriors` (n, k), `confusions` (m, k, k) P(vote | true), `priors` (k,)."""

    posteriors: FloatArray
    confusions: FloatArray
    priors: FloatArray
    iterations: int


def dawid_skene(
    votes: IntArray, k: int, *, max_iter: int = 100, tol: float = 1e-6, smoothing: float = 0.01
) -> DawidSkene:
    """EM for the Dawid-Skene label model (1979), started from the majority vote; abstentions are missing data.

    `smoothing` is a Dirichlet pseudo-count on every confusion cell and prior, so no probability is 0.
    """
    n, m = votes.shape
    indicators = one_hot(votes, k)
    posteriors = majority(votes, indicators, k)
    confusions = np.full((m, k, k), 1.0 / k)
    priors = np.full(k, 1.0 / k)
    iteration = 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - reported as `iterations`
        # M-step: counts of (true label, vote) per specialist, smoothed, then row-normalised.
        counts = np.einsum("ik,ijl->jkl", posteriors, indicators) + smoothing
        confusions = counts / counts.sum(axis=2, keepdims=True)
        priors = (posteriors.sum(axis=0) + smoothing) / (n + k * smoothing)
        updated = posterior(indicators, confusions, priors)
        change = float(np.abs(updated - posteriors).max()) if n else 0.0
        posteriors = updated
        if change < tol:
            break
    return DawidSkene(posteriors, confusions, priors, iteration)


def posterior(indicators: FloatArray, confusions: FloatArray, priors: FloatArray) -> FloatArray:
    """The E-step: (n, k) P(true label | votes) from one-hot votes (n, m, k) (all zero where a voter abstained),
    `confusions` (m, k, k) and `priors` (k,): softmax of log P(true = c) + sum of log P(vote | true = c)."""
    result: FloatArray = softmax(
        np.log(priors)[None, :] + np.einsum("ijl,jkl->ik", indicators, np.log(confusions)), axis=1
    )
    return result


def one_hot(votes: IntArray, k: int) -> FloatArray:
    """(n, m, k) votes (n, m) as indicators; all zero where a voter abstained."""
    result = np.zeros((*votes.shape, k))
    rows, cols = np.nonzero(votes != ABSTAIN)
    result[rows, cols, votes[rows, cols]] = 1.0
    return result


def dawid_skene_aggregate(votes: IntArray, probs: FloatArray, k: int) -> FloatArray:
    """`dawid_skene` posteriors as an `Aggregator` (rows nobody voted on stay uniform)."""
    posteriors = dawid_skene(votes, k).posteriors
    nobody = (votes == ABSTAIN).all(axis=1)
    posteriors[nobody] = 1.0 / k
    return posteriors


AggregatorName = Literal["majority", "soft", "dawid-skene"]
AGGREGATORS: dict[AggregatorName, Aggregator] = {
    "majority": majority,
    "soft": soft,
    "dawid-skene": dawid_skene_aggregate,
}


def consensus(label_probs: FloatArray, votes: IntArray) -> IntArray:
    """(n,) most probable label (lowest index on ties); ``ABSTAIN`` where no specialist voted."""
    best = label_probs.argmax(axis=1)
    nobody = (votes == ABSTAIN).all(axis=1)
    result: IntArray = np.where(nobody, ABSTAIN, best).astype(np.int64)
    return result


def n_votes(votes: IntArray) -> IntArray:
    """(n,) number of non-abstaining specialists."""
    result: IntArray = (votes != ABSTAIN).sum(axis=1).astype(np.int64)
    return result


def agreement(votes: IntArray, labels: IntArray) -> FloatArray:
    """(n,) share of the non-abstaining specialists that voted `labels` (0 where nobody voted)."""
    agree = (votes == labels[:, None]) & (votes != ABSTAIN)
    voters = n_votes(votes)
    result: FloatArray = np.divide(agree.sum(axis=1), voters, out=np.zeros(len(votes)), where=voters > 0)
    return result


def unanimous(votes: IntArray) -> BoolArray:
    """(n,) True where every non-abstaining specialist voted the same label, and at least one voted."""
    masked = np.where(votes == ABSTAIN, np.iinfo(np.int64).max, votes)
    low = masked.min(axis=1, initial=np.iinfo(np.int64).max)
    high = np.where(votes == ABSTAIN, -1, votes).max(axis=1, initial=-1)
    result: BoolArray = (low == high) & (n_votes(votes) > 0)
    return result


def margin(label_probs: FloatArray) -> FloatArray:
    """(n,) top probability minus the second one, in [0, 1]."""
    top2 = np.sort(label_probs, axis=1)[:, -2:]
    result: FloatArray = top2[:, 1] - top2[:, 0]
    return result


def entropy(label_probs: FloatArray) -> FloatArray:
    """(n,) Shannon entropy in bits divided by log2(k): 0 = certain, 1 = uniform."""
    p = np.clip(label_probs, 1e-300, 1.0)
    k = label_probs.shape[1]
    result: FloatArray = -(label_probs * np.log2(p)).sum(axis=1) / np.log2(k)
    return result


class HardRule(BaseModel):
    """Which rows are hard (go to a reviewer). A row is always hard when fewer than `min_votes` voted.

    - ``not-unanimous`` (default, the paper's gate): the voters disagree;
    - ``agreement``: the share agreeing with the consensus is below `threshold`;
    - ``margin``: the aggregate's top-two margin is below `threshold`;
    - ``entropy``: the aggregate's normalised entropy is above `threshold`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["not-unanimous", "agreement", "margin", "entropy"] = "not-unanimous"
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    min_votes: int = Field(default=2, ge=1)

    def __call__(self, votes: IntArray, label_probs: FloatArray) -> BoolArray:
        """(n,) True for hard rows."""
        few = n_votes(votes) < self.min_votes
        if self.kind == "not-unanimous":
            uncertain = ~unanimous(votes)
        elif self.kind == "agreement":
            uncertain = agreement(votes, consensus(label_probs, votes)) < self.threshold
        elif self.kind == "margin":
            uncertain = margin(label_probs) < self.threshold
        else:
            uncertain = entropy(label_probs) > self.threshold
        result: BoolArray = few | uncertain
        return result

    @classmethod
    def parse(cls, text: str) -> HardRule:
        """From the CLI form ``KIND[:THRESHOLD][,min_votes=N]``, e.g. ``margin:0.3``."""
        head, _, tail = text.partition(",")
        kind, _, threshold = head.partition(":")
        fields: dict[str, object] = {"kind": kind.strip()}
        if threshold:
            fields["threshold"] = float(threshold)
        if tail:
            key, _, value = tail.partition("=")
            if key.strip() != "min_votes":
                raise ValueError(f"unknown hard-rule option {key.strip()!r} (expected min_votes)")
            fields["min_votes"] = int(value)
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise ValueError(f"hard rule {text!r}: {describe(exc)}") from None
