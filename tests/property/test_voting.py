"""Invariants of the aggregators, checked on random vote matrices."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from autoannotator.read.adapters import ABSTAIN
from autoannotator.vote.aggregate import (
    AGGREGATORS,
    HardRule,
    agreement,
    consensus,
    dawid_skene,
    entropy,
    majority,
    margin,
    unanimous,
    weighted,
)


@st.composite
def vote_problems(draw: st.DrawFn) -> tuple[Any, Any, int]:
    """(votes (n, m), probs (n, m, k), k) with abstentions; probs rows agree with the votes."""
    k = draw(st.integers(2, 4))
    n = draw(st.integers(1, 30))
    m = draw(st.integers(1, 5))
    votes = draw(arrays(np.int64, (n, m), elements=st.integers(ABSTAIN, k - 1)))
    raw = draw(arrays(np.float64, (n, m, k), elements=st.floats(0.01, 1.0)))
    probs = raw / raw.sum(axis=2, keepdims=True)
    return votes, probs, k


NAMES = sorted(AGGREGATORS)


@settings(max_examples=60, deadline=None)
@given(problem=vote_problems(), seed=st.integers(0, 2**16), name=st.sampled_from(NAMES))
def test_permuting_specialists_changes_nothing(problem: tuple[Any, Any, int], seed: int, name: str) -> None:
    votes, probs, k = problem
    order = np.random.default_rng(seed).permutation(votes.shape[1])
    aggregate = AGGREGATORS[name]  # type: ignore[index]
    np.testing.assert_allclose(
        aggregate(votes, probs, k), aggregate(votes[:, order], probs[:, order], k), atol=1e-9
    )


@settings(max_examples=60, deadline=None)
@given(problem=vote_problems(), name=st.sampled_from(NAMES))
def test_an_abstaining_specialist_changes_nothing(problem: tuple[Any, Any, int], name: str) -> None:
    votes, probs, k = problem
    more_votes = np.column_stack([votes, np.full(len(votes), ABSTAIN)])
    more_probs = np.concatenate([probs, np.full((len(votes), 1, k), 1.0 / k)], axis=1)
    aggregate = AGGREGATORS[name]  # type: ignore[index]
    np.testing.assert_allclose(aggregate(votes, probs, k), aggregate(more_votes, more_probs, k), atol=1e-9)
    assert (unanimous(votes) == unanimous(more_votes)).all()
    rule = HardRule()
    assert (rule(votes, majority(votes, probs, k)) == rule(more_votes, majority(more_votes, more_probs, k))).all()


@settings(max_examples=60, deadline=None)
@given(problem=vote_problems(), name=st.sampled_from(NAMES))
def test_probabilities_sum_to_one(problem: tuple[Any, Any, int], name: str) -> None:
    votes, probs, k = problem
    result = AGGREGATORS[name](votes, probs, k)  # type: ignore[index]
    assert result.shape == (len(votes), k)
    assert (result >= 0).all()
    np.testing.assert_allclose(result.sum(axis=1), 1.0)
    assert ((entropy(result) >= -1e-9) & (entropy(result) <= 1 + 1e-9)).all()
    assert ((margin(result) >= 0) & (margin(result) <= 1)).all()


@settings(max_examples=60, deadline=None)
@given(problem=vote_problems())
def test_majority_consensus_is_always_a_voted_label(problem: tuple[Any, Any, int]) -> None:
    votes, probs, k = problem
    best = consensus(majority(votes, probs, k), votes)
    for row, label in zip(votes, best, strict=True):
        voted = set(row[row != ABSTAIN].tolist())
        assert (label == ABSTAIN) if not voted else (label in voted)
    share = agreement(votes, best)
    assert ((share >= 0) & (share <= 1)).all()


@settings(max_examples=40, deadline=None)
@given(problem=vote_problems())
def test_unanimous_rows_are_easy_and_keep_their_label(problem: tuple[Any, Any, int]) -> None:
    votes, probs, k = problem
    same = unanimous(votes)
    best = consensus(majority(votes, probs, k), votes)
    assert (agreement(votes, best)[same] == 1.0).all()
    hard = HardRule(min_votes=1)(votes, majority(votes, probs, k))
    assert (hard == ~same).all()


def test_weighted_vote_trusts_the_accurate_specialist() -> None:
    votes = np.array([[0, 1, 1]])
    assert weighted(votes, 2, np.array([0.95, 0.6, 0.6])).argmax() == 0
    assert weighted(votes, 2, np.array([0.7, 0.7, 0.7])).argmax() == 1


def test_dawid_skene_recovers_a_reliable_and_an_unreliable_voter() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 2000)
    accuracies = [0.9, 0.85, 0.8, 0.55]
    votes = np.column_stack([np.where(rng.random(2000) < a, truth, 1 - truth) for a in accuracies])
    model = dawid_skene(votes, 2)
    estimated = [float(np.mean(np.diagonal(model.confusions[j]))) for j in range(4)]
    for got, want in zip(estimated, accuracies, strict=True):
        assert got == pytest.approx(want, abs=0.04)
    ds_accuracy = (model.posteriors.argmax(axis=1) == truth).mean()
    majority_accuracy = (majority(votes, np.zeros((2000, 4, 2)), 2).argmax(axis=1) == truth).mean()
    assert ds_accuracy >= majority_accuracy


@pytest.mark.parametrize(
    ("text", "kind", "threshold", "min_votes"),
    [
        ("not-unanimous", "not-unanimous", 0.5, 2),
        ("margin:0.3", "margin", 0.3, 2),
        ("entropy:0.8,min_votes=3", "entropy", 0.8, 3),
    ],
)
def test_hard_rule_parse(text: str, kind: str, threshold: float, min_votes: int) -> None:
    rule = HardRule.parse(text)
    assert (rule.kind, rule.threshold, rule.min_votes) == (kind, threshold, min_votes)


@pytest.mark.parametrize("text", ["sometimes", "margin:2", "margin:0.3,max_votes=2"])
def test_hard_rule_parse_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match=r"hard rule .*: threshold|unknown hard-rule option|hard rule .*: kind"):
        HardRule.parse(text)


def test_hard_rule_kinds() -> None:
    votes = np.array([[0, 0, 0], [0, 0, 1], [0, ABSTAIN, ABSTAIN]])
    probs = majority(votes, np.zeros((3, 3, 2)), 2)
    assert HardRule()(votes, probs).tolist() == [False, True, True]
    assert HardRule(kind="agreement", threshold=0.6)(votes, probs).tolist() == [False, False, True]
    assert HardRule(kind="margin", threshold=0.5, min_votes=1)(votes, probs).tolist() == [False, True, False]
