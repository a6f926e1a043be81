"""Trust against the truth: a few human-labelled rows (calibration labels), how often the reviewer is right on
them, and an honest estimate of the accepted rows' accuracy when those rows also chose the routing.

With calibration labels the reference is the truth, the reviewer is one more labeller whose accuracy is
measured, and a specialist may outvote it where its calibrated confidence is higher (`reviewer_decides`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autoannotator.specialists.base import FloatArray, IntArray
from autoannotator.trust.acceptance import TrustConfig, candidates, choose, interval
from autoannotator.vote.aggregate import BoolArray

FOLDS = 5
"""Parts in cross-fitting: of the calibration rows in the estimate, each judged by a routing chosen on the other
80%, close to the one chosen on all of them (with halves, 50 of 100 rows often accept nothing the whole would);
of a trainable's training rows (`learn.stages.Learner.out_of_fold`), each judged by a version trained on the
rest."""


@dataclass(frozen=True)
class Calibration:
    """A few human-labelled rows: texts (n,), their true label indices (n,), and the reviewer's label indices on
    them (n,; -1 where it gave none; None until asked). With them, trust is measured against the truth instead
    of the reviewer."""

    texts: list[str]
    reference: IntArray
    said: IntArray | None = None
    ids: list[str] | None = None
    """The rows' ids in the input, when the file gives them: those rows of the run take the people's labels."""
    weights: FloatArray | None = None
    """(n,) with `ids`, from a uniform draw of the input (`handoff.first`): the input's rows each one stands
    for; the run is then re-judged on them at its end (`trust.people`)."""

    @property
    def reviewer_accuracy(self) -> float | None:
        """The reviewer's accuracy on the calibration rows (no answer counts as wrong); None until asked."""
        return None if self.said is None else float((self.said == self.reference).mean())


def reviewer_decides(hard: BoolArray, confidence: FloatArray, reviewer: float) -> BoolArray:
    """(n,) whether a reviewed row takes the reviewer's label: it is `hard` (n,), or the decider's calibrated
    `confidence` (n,) is not above the reviewer's measured accuracy `reviewer` (1 against the reviewer)."""
    result: BoolArray = hard | (confidence <= reviewer)
    return result


def reviewed_accuracy(
    guess: IntArray, said: IntArray, reference: IntArray, asked: BoolArray, *, prior: float = 4.0
) -> FloatArray:
    """(2,) the reviewer's accuracy against `reference` (n,) on the rows whose label it gives (`asked` (n,),
    see `reviewer_decides`), where its label `said` (n,) differs from, and where it
    agrees with, the decider's best guess `guess` (n,). Where the specialists said the same, a reviewed row is
    more often right; where they were unsure, less often than the reviewer's overall accuracy. Each is smoothed
    toward that overall accuracy by `prior` pseudo-rows; rows it did not answer (-1) are left out."""
    answered = said >= 0
    right = (said == reference)[answered]
    overall = float(right.mean()) if answered.any() else 0.0
    cells = [asked[answered] & ((said == guess)[answered] == a) for a in (False, True)]
    result: FloatArray = np.array([(right[c].sum() + prior * overall) / (c.sum() + prior) for c in cells])
    return result


def crossfit(
    names: Sequence[str],
    fixed: Sequence[bool],
    votes: IntArray,
    probs: FloatArray,
    reference: IntArray,
    config: TrustConfig,
    *,
    target: float,
) -> tuple[float, float, float, int]:
    """An honest estimate of the agreement of the rows `choose` accepts, when the evidence (votes (n, m),
    probs (n, m, k), reference (n,), all fresh) is also what chose them: each of `FOLDS` parts (a seeded split)
    is judged by the routing chosen on the others; (rate, low, high, rows) over all parts, as `interval`."""
    fold = np.random.default_rng(config.seed).permutation(len(reference)) % FOLDS
    agree: list[bool] = []
    for fit in (fold != f for f in range(FOLDS)):
        found, weights = candidates(
            names, fixed, votes[fit], probs[fit], reference[fit], np.ones(int(fit.sum()), bool)
        )
        chosen = choose(found, config, weights, target=target)
        if chosen.decider is None:
            continue
        held = ~fit
        label_probs, hard, _ = chosen.decide(names, votes[held], probs[held], probs.shape[2])
        agree += (label_probs.argmax(axis=1) == reference[held])[~hard].tolist()
    return interval(np.array(agree, dtype=bool))
