"""The label model (Dawid-Skene) recovers known source accuracies, and a copied source does not count twice."""

from __future__ import annotations

import numpy as np
import pytest

from autoannotator.specialists.base import IntArray
from autoannotator.trust import labelmodel

ACCURACIES = (0.9, 0.75, 0.6, 0.7)


def synthetic(n: int, k: int, seed: int, accuracies: tuple[float, ...] = ACCURACIES) -> tuple[IntArray, IntArray]:
    """(truth (n,), votes (n, s)): each source right with its accuracy, else a uniformly wrong label; 20% of
    votes abstain."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    wrong = (truth[:, None] + rng.integers(1, k, (n, len(accuracies)))) % k
    votes = np.where(rng.random((n, len(accuracies))) < accuracies, truth[:, None], wrong)
    votes[rng.random(votes.shape) < 0.2] = -1
    return truth, votes


@pytest.mark.parametrize(("k", "seed"), [(2, 0), (3, 1), (4, 2)])
def test_the_sources_accuracies_are_recovered_within_five_points(k: int, seed: int) -> None:
    truth, votes = synthetic(2000, k, seed)
    estimated = labelmodel.accuracies(labelmodel.fit(votes, k))
    true = [float((votes[:, s] == truth)[votes[:, s] >= 0].mean()) for s in range(votes.shape[1])]
    assert np.abs(np.array(estimated) - np.array(true)).max() < 0.05


def test_the_posterior_beats_the_best_source_and_the_majority() -> None:
    truth, votes = synthetic(2000, 3, 4)
    label = labelmodel.fit(votes, 3).posteriors.argmax(axis=1)
    best = (votes[:, 0] == truth).mean()  # abstentions count as wrong for the source alone
    majority = np.array([np.bincount(v[v >= 0], minlength=3).argmax() if (v >= 0).any() else -1 for v in votes])
    assert (label == truth).mean() > max(best, (majority == truth).mean())


def test_a_copied_source_is_merged_and_weighs_what_it_alone_does() -> None:
    _, votes = synthetic(2000, 3, 5)
    copied = np.column_stack([votes, votes[:, 2]])
    groups = labelmodel.merge_dependent(copied, 3, keep=1)
    assert groups == [[0], [1], [2, 4], [3]]
    merged = labelmodel.merge(copied, groups)
    alone = labelmodel.fit(votes, 3).posteriors
    np.testing.assert_allclose(labelmodel.fit(merged, 3).posteriors, alone)
    # unmerged, the copy would have doubled its weight: the posterior moves
    assert np.abs(labelmodel.fit(copied, 3).posteriors - alone).max() > 0.1


def test_independent_sources_are_not_merged() -> None:
    _, votes = synthetic(2000, 2, 6)
    assert labelmodel.merge_dependent(votes, 2, keep=1) == [[0], [1], [2], [3]]
    excess = [labelmodel.excess_agreement(votes, 2, a, b) for a in range(4) for b in range(a + 1, 4)]
    assert max(np.abs(excess)) < labelmodel.DEPENDENT


def test_the_reviewers_column_is_never_merged() -> None:
    _, votes = synthetic(500, 2, 7)
    copied = np.column_stack([votes[:, 0], votes])  # the reviewer's answers, and a specialist that copies them
    groups = labelmodel.merge_dependent(copied, 2, keep=1)
    assert groups[0] == [0] and len(groups) == 5
