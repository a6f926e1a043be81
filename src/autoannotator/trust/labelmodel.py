"""A label model: the true label of each row inferred from several noisy sources (the reviewer's answers and
the specialists' votes), none of them taken as the truth.

Dawid and Skene (1979): each source s has a confusion matrix (its probability of saying l when the truth is c),
the rows share a class prior, and expectation-maximisation fits both from the votes alone; the posterior of a
row's label weighs each source by how often it is right. It assumes the sources err independently given the
truth. Two profanity lists do not: they err on the same tweets, and the model then believes each of them (they
agree with each other). `merge_dependent` measures that on the rows (how much more often two sources agree than
the model fitted without one of them predicts) and merges such a pair into one source that votes where they
agree, so a source and its copy weigh what the source alone does.

The EM is `vote.aggregate.dawid_skene` (also the `dawid-skene` aggregate), here with a stronger prior. Why not a
library (measured, bench/results/label_models.md): crowd-kit's Dawid-Skene is the same EM (its labels equal ours
without merging), and neither it, its one-coin model, MACE and GLAD, nor cleanlab's CROWDLAB is more accurate on
any benchmark set, while the merging makes ours better where sources are dependent (sentiment: 0.666 against
0.56-0.64); crowd-kit also needs `transformers` and `nltk`, CROWDLAB a classifier's out-of-sample probabilities
for every row. No label model sees a *family* of sources that err together (three lexicons): with one source
outside it, "the family is right" explains the votes as well as the truth does; only people's labels tell.

>>> import numpy as np
>>> votes = np.array([[0, 0, 0], [1, 1, 1], [1, 1, 0], [0, 0, 1]] * 5)  # two sources agree; a third half the time
>>> [round(a, 2) for a in accuracies(fit(votes, 2))]
[0.91, 0.91, 0.5]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autoannotator.specialists.base import FloatArray, IntArray
from autoannotator.vote.aggregate import BoolArray, DawidSkene, dawid_skene, one_hot
from autoannotator.vote.aggregate import posterior as e_step

SMOOTHING = 1.0
"""Pseudo-counts in each confusion cell and in the prior: on a few hundred audited rows no source is ever
certain, and a source with few votes keeps near-uniform errors."""
DEPENDENT = 0.12
"""Merge two sources when they agree on this much more of their shared rows than independence predicts. A
source and its copy exceed it by about 1 - a^2 - (1 - a)^2 (0.32 at accuracy 0.8, 0.18 at 0.9); independent
sources by sampling noise (within 0.09 on 2,000 synthetic rows, tests/unit/test_labelmodel.py)."""


def fit(votes: IntArray, k: int) -> DawidSkene:
    """Dawid-Skene by EM on votes (n, s) over `k` labels (-1: abstained), started from the sources' majority."""
    return dawid_skene(votes, k, max_iter=200, smoothing=SMOOTHING)


def accuracies(model: DawidSkene) -> list[float]:
    """Each source's estimated accuracy: sum over c of prior(c) times P(says c | truth c)."""
    return [float(model.priors @ np.diag(c)) for c in model.confusions]


def excess_agreement(votes: IntArray, k: int, a: int, b: int) -> float:
    """How much more often sources `a` and `b` agree on the rows both voted on than independence given the
    truth predicts: each one's confusion fitted without the other (so that a copy cannot vouch for its
    original), the truth from the remaining sources. Zero in expectation where independence holds."""
    both = (votes[:, a] >= 0) & (votes[:, b] >= 0)
    if not both.any():
        return 0.0
    without_b, without_a = (fit(np.delete(votes, drop, axis=1), k) for drop in (b, a))
    others = [s for s in range(votes.shape[1]) if s not in (a, b)]
    rest = without_b.confusions[[s - (s > b) for s in others]]
    truth = e_step(one_hot(votes[both][:, others], k), rest, without_b.priors)
    conf_a, conf_b = without_b.confusions[a - (a > b)], without_a.confusions[b - (b > a)]
    predicted = np.einsum("nc,cl,cl->n", truth, conf_a, conf_b)
    observed = votes[both, a] == votes[both, b]
    return float(observed.mean() - predicted.mean())


def merge(votes: IntArray, groups: Sequence[Sequence[int]]) -> IntArray:
    """(n, g) one column per group of columns of votes (n, s): the label its members agree on, -1 where they
    disagree, what one says where the others abstain."""
    columns = []
    for group in groups:
        merged = votes[:, group[0]]
        for s in group[1:]:
            other = votes[:, s]
            merged = np.where(merged < 0, other, np.where((other < 0) | (merged == other), merged, -1))
        columns.append(merged)
    return np.column_stack(columns) if columns else np.zeros((len(votes), 0), dtype=np.int64)


def merge_dependent(votes: IntArray, k: int, *, keep: int = 0, threshold: float = DEPENDENT) -> list[list[int]]:
    """The groups of columns of votes (n, s) that act as one source each (see `merge`): dependent sources
    merged (see the module docstring), the first `keep` columns never."""
    groups = [[s] for s in range(votes.shape[1])]
    while len(groups) - keep >= 2:
        merged = merge(votes, groups)
        pairs = [(a, b) for a in range(keep, len(groups)) for b in range(a + 1, len(groups))]
        excess = [excess_agreement(merged, k, a, b) for a, b in pairs]
        if max(excess) <= threshold:
            break
        a, b = pairs[int(np.argmax(excess))]
        groups = [*groups[:a], groups[a] + groups[b], *groups[a + 1 : b], *groups[b + 1 :]]
    return groups


@dataclass(frozen=True)
class Labeller:
    """The label model over the specialists alone, as a decider: `groups` of the run's specialists (indices),
    each one source; their `confusions` (g, k, k) and the class `priors` (k,), fitted beside the reviewer."""

    groups: tuple[tuple[int, ...], ...]
    confusions: FloatArray
    priors: FloatArray

    def label_probs(self, votes: IntArray) -> FloatArray:
        """(n, k) the posterior of each label given the specialists' votes (n, m)."""
        return e_step(one_hot(merge(votes, self.groups), len(self.priors)), self.confusions, self.priors)

    def silent(self, votes: IntArray) -> BoolArray:
        """(n,) rows on which no source of the model voted."""
        result: BoolArray = np.all(merge(votes, self.groups) < 0, axis=1)
        return result


@dataclass(frozen=True)
class Reference:
    """The label model's view of the audited rows: its `posteriors` (n, k) and `truth` (n,) (the most probable
    label; the reviewer's answer included), its estimate of the `reviewer`'s accuracy on them, each source's
    estimated accuracy (`accuracies`, the reviewer first, then one per group), and the specialists-only
    `labeller`."""

    posteriors: FloatArray
    reviewer: float
    accuracies: tuple[float, ...]
    labeller: Labeller

    @property
    def truth(self) -> IntArray:
        """(n,) the most probable label of each audited row."""
        result: IntArray = self.posteriors.argmax(axis=1)
        return result

    @property
    def plausible(self) -> bool:
        """Whether the fit can be used (else the run judges against the reviewer, as by default): three sources
        at least after merging (the reviewer and two specialists: with fewer, the model cannot tell who is
        right), each estimated better than chance (at or under it, the fit has swapped labels or collapsed)."""
        chance = 1 / self.posteriors.shape[1]
        return len(self.accuracies) >= 3 and all(a > chance for a in self.accuracies)


def reference(said: IntArray, votes: IntArray, fixed: Sequence[bool], k: int) -> Reference:
    """Fit the label model on audited rows: the reviewer's answers `said` (n,) and the `fixed` specialists'
    votes (n, m) (trainables learn from the reviewer, so they are not independent of it and stay out)."""
    columns = [j for j, f in enumerate(fixed) if f]
    sources = np.column_stack([said, votes[:, columns]])
    groups = merge_dependent(sources, k, keep=1)
    model = fit(merge(sources, groups), k)
    truth = model.posteriors
    labeller = Labeller(
        tuple(tuple(columns[s - 1] for s in group) for group in groups[1:]), model.confusions[1:], model.priors
    )
    estimated = float(truth[np.arange(len(said)), said].mean()) if len(said) else 0.0
    return Reference(truth, estimated, tuple(accuracies(model)), labeller)
