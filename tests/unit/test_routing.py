"""Measured trust: the audit draw, the Learn-then-Test threshold, the interval, the decider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from autoannotator.learn.stages import Learner, LearningConfig, cross_fit
from autoannotator.specialists import TrainableSpecialist, build, shared_minilm
from autoannotator.specialists.features import HashedTfidf
from autoannotator.trust.acceptance import (
    VOTE,
    Acceptance,
    Candidate,
    TrustConfig,
    accept_threshold,
    candidates,
    choose,
    interval,
    knots,
)
from autoannotator.trust.evidence import _measured, accepted_by, describe
from autoannotator.trust.truth import crossfit, reviewed_accuracy


@settings(max_examples=25, deadline=None, derandomize=True)  # a statistical check: the same draws every run
@given(seed=st.integers(0, 2**16), early=st.floats(0.05, 0.5), late=st.floats(0.01, 0.2))
def test_the_audit_is_uniform_seeded_and_reproducible(seed: int, early: float, late: float) -> None:
    config = TrustConfig(seed=seed, early_share=early, share=late, early_rows=2000)
    ids = [f"id-{i}" for i in range(4000)]
    drawn = [config.audited(ident, pos) for pos, ident in enumerate(ids)]
    assert drawn == [config.audited(ident, pos) for pos, ident in enumerate(ids)]  # same on resume
    for part, share in ((drawn[:2000], early), (drawn[2000:], late)):
        low, high = binom.ppf([1e-6, 1 - 1e-6], 2000, share)
        assert low <= sum(part) <= high  # the share it says, within a one-in-a-million band
    other = TrustConfig(seed=seed + 1, early_share=early, share=late, early_rows=2000)
    assert drawn != [other.audited(ident, pos) for pos, ident in enumerate(ids)]
    # uniform: being audited says nothing about the id's content (even and odd ids are audited alike)
    even, odd = drawn[:2000:2], drawn[1:2000:2]
    assert abs(np.mean(even) - np.mean(odd)) < 0.08


def test_with_calibration_labels_the_audit_is_the_late_share_from_the_start() -> None:
    """Calibration rows judge the specialists, so the early audit (20% of the first 1,000 rows) is not needed to;
    an early share the user set is kept."""
    config = TrustConfig(share=0.05)
    assert config.audit_share(0) == 0.2 and config.calibrated().audit_share(0) == 0.05
    assert config.calibrated().audit_share(5000) == 0.05
    assert TrustConfig(early_share=0.3).calibrated().audit_share(0) == 0.3


def test_the_threshold_matches_a_hand_computation() -> None:
    """60 rows, target 0.8, delta 0.05: 0.8^n <= 0.05 needs n >= 14, and shares under a third of the evidence
    (20 rows) are skipped too (counts only), so the first test is the top 21 (35%): 21/21 agree,
    P(X >= 21 | 21, 0.8) = 0.009: shown. Top 24 (40%): 23/24, 0.033: shown. Top 27 (45%): 24/27, 0.18: not
    shown; testing stops. The threshold is the 24th confidence."""
    confidence = np.linspace(1.0, 0.01, 60)
    agree = np.array([True] * 23 + [False] + [True] + [False] * 2 + [True] * 33)
    assert binom.sf(22, 24, 0.8) < 0.05 < binom.sf(23, 27, 0.8)
    assert accept_threshold(confidence, agree, target=0.8, delta=0.05) == confidence[23]
    assert accept_threshold(confidence[:13], agree[:13], target=0.8, delta=0.05) == np.inf  # 0.8^13 > 0.05
    assert accept_threshold(confidence[:0], agree[:0], target=0.8, delta=0.05) == np.inf


def test_the_whole_output_target_matches_a_hand_computation() -> None:
    """200 sampled rows, whole-output target 0.95, delta 0.05: the accepted rows that disagree must be shown to
    be at most 5% of all rows, P(D <= d | 200, 0.05) <= delta. The top 60 (30%) hold 2 disagreements:
    P(D <= 2) = 0.0023, shown; the top 70 hold 6: P(D <= 6) = 0.13, not shown; testing stops there."""
    confidence = np.linspace(1.0, 0.0, 200)
    agree = np.ones(200, dtype=bool)
    agree[[20, 50, 61, 63, 65, 67]] = False
    assert binom.cdf(2, 200, 0.05) < 0.05 < binom.cdf(6, 200, 0.05)
    assert accept_threshold(confidence, agree, target=0.95, delta=0.05, overall=True) == confidence[59]
    # the same rows against a 0.95 target on the accepted rows alone: far less is shown
    assert accept_threshold(confidence, agree, target=0.95, delta=0.05) > confidence[59]


def test_a_cross_fitted_estimate_is_not_fooled_by_the_rows_that_chose_the_threshold() -> None:
    """A decider right 70% of the time at every confidence: choosing a threshold on a sample picks its lucky
    rows, so the agreement of the chosen rows on that sample is optimistic; the cross-fitted one is not."""
    rng = np.random.default_rng(3)
    config, k, n = TrustConfig(min_evidence=10), 2, 400
    same, honest = [], []
    for _ in range(30):
        reference = rng.integers(0, k, n)
        right = rng.random(n) < 0.7
        votes = np.where(right, reference, 1 - reference)[:, None]
        confidence = rng.uniform(0.5, 1.0, n)
        probs = np.zeros((n, 1, k))
        probs[np.arange(n), 0, votes[:, 0]] = confidence
        probs[np.arange(n), 0, 1 - votes[:, 0]] = 1 - confidence
        found, weights = candidates(["a"], [True], votes, probs, reference, np.ones(n, bool))
        chosen = choose(found, config, weights, target=0.6)
        if chosen.estimate is not None:
            same.append(chosen.estimate[0])
        rate, _, _, rows = crossfit(["a"], [True], votes, probs, reference, config, target=0.6)
        if rows:
            honest.append(rate)
    assert abs(np.mean(honest) - 0.7) < 0.02
    assert np.mean(same) > np.mean(honest)


def test_learn_then_test_rarely_accepts_rows_that_miss_the_target() -> None:
    """Where the true agreement is 0.85 at every confidence, a 0.9 target must be claimed on at most ~delta of
    samples (the guarantee); where the confident half agrees 0.99 of the time, that half is found most times."""
    rng = np.random.default_rng(0)
    wrongly, rightly = 0, 0
    for _ in range(400):
        confidence = rng.random(300)
        wrongly += accept_threshold(confidence, rng.random(300) < 0.85, target=0.9, delta=0.05) < np.inf
        agree = rng.random(300) < np.where(confidence > 0.5, 0.99, 0.6)
        rightly += 0.4 <= (confidence >= accept_threshold(confidence, agree, target=0.9, delta=0.05)).mean() <= 0.7
    assert wrongly / 400 <= 0.07 and rightly / 400 >= 0.9


def test_the_estimate_falls_inside_its_interval_at_the_stated_rate() -> None:
    """A synthetic task with known truth: audited rows drawn with two audit probabilities, weighted back; the
    95% interval holds the true agreement in about 95% of runs."""
    rng = np.random.default_rng(1)
    truth, covered = 0.82, 0
    for _ in range(500):
        share = np.where(np.arange(3000) < 1000, 0.2, 0.05)
        audited = rng.random(3000) < share
        agree = rng.random(3000) < truth
        estimate, low, high, n = interval(agree[audited], 1.0 / share[audited])
        covered += low <= truth <= high
        assert n == audited.sum() and low <= estimate <= high
    assert 0.92 <= covered / 500 <= 0.99


def test_the_decider_that_may_accept_most_rows_wins_and_nothing_qualifies_without_evidence() -> None:
    rng = np.random.default_rng(2)
    confidence = rng.random(400)
    good = Candidate("head", confidence, rng.random(400) < np.where(confidence > 0.4, 0.99, 0.5))  # sure: right
    weak = Candidate("lexicon", confidence, rng.random(400) < 0.7)  # confidence says nothing
    acceptance = choose([weak, good], TrustConfig(), {}, target=0.9)
    assert acceptance.decider == "head" and 0.2 < acceptance.threshold < 1.0
    assert len(acceptance.knots[0]) > 0
    few = Candidate("head", confidence[:10], np.ones(10, dtype=bool))
    nothing = choose([few], TrustConfig(), {}, target=0.9)
    assert nothing.decider is None and nothing.threshold == np.inf


def test_an_acceptance_decides_with_its_decider_and_calibrates() -> None:
    acceptance = Acceptance("head", 0.7, {}, ((0.5, 0.9), (0.6, 0.95)))
    votes = np.array([[0, 1], [1, 1], [-1, 1]])
    adapted = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.4, 0.6], [0.1, 0.9]], [[0.5, 0.5], [0.0, 1.0]]])
    probs, hard, confidence = acceptance.decide(["head", "lexicon"], votes, adapted, 2)
    np.testing.assert_allclose(probs, adapted[:, 0])
    assert hard.tolist() == [False, True, True]  # 0.6 < 0.7; the head abstained on the third row
    np.testing.assert_allclose(confidence, [0.95, 0.6875, 0.6])  # 0.6 is a quarter of the way from 0.5 to 0.9


def test_a_routing_without_an_estimate_is_stored_as_strict_json() -> None:
    """A cross-fit in which no part accepted a row has no estimate: the ledger keeps None, not NaN (which
    SQLite's JSON functions refuse)."""
    empty = interval(np.zeros(0, dtype=bool))
    stored = Acceptance("a", 0.9, estimate=empty).as_json()
    assert stored["estimate"] is None
    json.dumps(stored, allow_nan=False)
    assert Acceptance("a", 0.9, estimate=(0.9, 0.8, 0.95, 40)).as_json()["estimate"] == [0.9, 0.8, 0.95, 40]


def test_the_calibration_never_claims_certainty_on_few_rows() -> None:
    """Isotonic blocks smoothed toward the overall rate by 2 pseudo-rows: by hand, 30 agreeing rows above 70
    that agree 40 times in 70 (overall 0.7) say (30 + 2 * 0.7) / 32, and the map stays increasing."""
    confidence = np.linspace(0.0, 1.0, 100)
    agree = np.r_[np.arange(70) % 7 < 4, np.ones(30, dtype=bool)]
    xs, ys = knots(confidence, agree)
    assert ys[-1] == pytest.approx((30 + 2 * 0.7) / 32) and ys[-1] < 1.0
    assert list(ys) == sorted(ys) and ys[0] > 0.0
    assert Acceptance("a", 0.5, knots=(xs, ys)).calibrated(np.array([1.0]))[0] == pytest.approx(ys[-1])


def test_candidates_judge_a_trainable_only_on_rows_it_was_not_trained_on() -> None:
    votes = np.array([[0, 0], [1, 1], [1, 0], [0, 0]])
    probs = np.full((4, 2, 2), 0.5)
    probs[np.arange(4)[:, None], np.arange(2)[None, :], votes] = 0.9
    reference = np.array([0, 1, 1, 1])
    fresh = np.array([False, False, True, True])
    found, weights = candidates(["lexicon", "head"], [True, False], votes, probs, reference, fresh)
    by_name = {c.name: c for c in found}
    assert by_name["lexicon"].agree.tolist() == [True, True, True, False]
    assert by_name["head"].agree.tolist() == [False, False]  # rows 2 and 3 only
    assert len(by_name[VOTE].agree) == 2 and set(weights) == {"lexicon", "head"}


def test_a_silent_untrained_version_is_worth_nothing_to_beat(tmp_path: Path) -> None:
    """Beside fixed specialists an untrained trainable does not vote, so its first trained version is compared
    with nothing, not with its label-prototype guesses (which may be lucky on a small slice)."""
    val = [("good", "pos"), ("great", "pos"), ("bad", "neg"), ("awful", "neg")]
    prototype = TrainableSpecialist(
        shared_minilm(), name="t", prototypes={"pos": ["wonderful"], "neg": ["terrible"]}
    )
    learner = Learner(LearningConfig(), tmp_path, ["neg", "pos"], held_out=TrustConfig().held_out)
    assert learner.previous(prototype, val, inputs=()) > 0.5  # alone, its prototype head votes
    assert learner.previous(prototype, val, inputs=[("vader", build("vader"))]) == 0.0  # beside vader: silent


def test_stages_double_from_the_warmup_up_to_beta() -> None:
    config = LearningConfig(warmup=100, rows_per_stage=1000)
    assert [config.stage_rows(s) for s in range(6)] == [100, 200, 400, 800, 1000, 1000]


def test_the_calibrated_estimate_weighs_each_batch_by_the_rows_it_accepted() -> None:
    """Against the truth the run's figure mixes the batches' cross-fitted estimates by the rows each routing
    accepted; a routing with no estimate (or none of its rows to rest on) adds nothing, and a stage with none
    says so rather than 'nan'."""
    routings: list[dict[str, Any]] = [
        {"stage": 0, "estimate": None, "accepted": 0},
        {"stage": 1, "estimate": [0.9, 0.8, 0.95, 100], "accepted": 300},
        {"stage": 1, "estimate": [0.6, 0.5, 0.7, 120], "accepted": 100},
        {"stage": 2, "estimate": [0.8, 0.7, 0.9, 0], "accepted": 50},
    ]
    found = _measured(routings, [0, 1, 2])
    assert found[None]["agreement"] == pytest.approx((0.9 * 300 + 0.6 * 100) / 400)
    assert found[None]["low"] == pytest.approx((0.8 * 300 + 0.5 * 100) / 400) and found[None]["audited"] == 120
    assert found[1] == found[None]
    assert found[0]["agreement"] is None and found[2] == {"agreement": None, "low": 0.0, "high": 1.0, "audited": 0}


def test_the_end_line_calls_a_wide_estimate_coarse_and_says_how_to_narrow_it() -> None:
    def line(low: float, high: float, reference: str = "reviewer") -> str:
        overall = {"agreement": 0.95, "low": low, "high": high, "audited": 20, "accepted_share": 0.1}
        estimate = {"reference": reference, "reviewer_accuracy": None, "target": 0.97, "overall": overall}
        return describe({**estimate, "capped_batches": 0, "unpaid": 0})

    assert "their estimated agreement with the reviewer 0.950 (95% CI 0.832-1.000, 20 audited rows" in line(
        0.832, 1.0
    )
    assert line(0.832, 1.0).endswith(
        "; a coarse estimate: larger audit shares (--early-audit-share, --audit-share) narrow it"
    )
    assert "coarse" not in line(0.89, 0.97)  # 8 points wide: said as it is
    # the target is the whole output's: 10% accepted at 0.95, the reviewed 90% agree with the reviewer
    assert "; the whole output's 0.995 (95% CI 0.983-1.000; target 0.970)" in line(0.832, 1.0)
    assert "target 0.970" in line(0.6, 0.9, "truth") and "whole output" not in line(0.6, 0.9, "truth")
    assert line(0.6, 0.9, "truth").endswith("more calibration labels narrow it")


def test_the_end_line_says_which_decider_took_how_many_rows() -> None:
    routings: list[dict[str, Any]] = [
        {"decider": None, "accepted": 0},
        {"decider": "vote", "accepted": 30},
        {"decider": "minilm", "accepted": 70},
        {"decider": "minilm", "accepted": 50},
    ]
    assert accepted_by(routings) == {"minilm": 120, "vote": 30}
    overall = {"agreement": 0.95, "low": 0.9, "high": 0.97, "audited": 60, "accepted_share": 0.1}
    estimate = {"reference": "reviewer", "reviewer_accuracy": None, "target": 0.97, "overall": overall}
    line = describe({**estimate, "capped_batches": 0, "unpaid": 0, "deciders": accepted_by(routings)})
    assert "; accepted by minilm (120 rows), vote (30 rows)" in line


def test_a_reviewed_row_is_as_sure_as_the_reviewer_on_calibration_rows_alike() -> None:
    """10 calibration rows, 2 labels. The reviewer answers 9 (row 9: none) and is right on 5 of them (its
    accuracy on the answered rows 5/9). Of the rows it would label (`asked`, rows 0-7), it agrees with the best
    guess on rows 0-3 (right on 0, 1, 2) and differs on rows 4-7 (right on 4). With 4 pseudo-rows at 5/9:
    agreeing (3 + 20/9) / 8 = 0.6528, differing (1 + 20/9) / 8 = 0.4028. Row 8 (not asked) counts only in the
    overall accuracy."""
    reference = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    said = np.array([0, 1, 0, 0, 0, 0, 1, 0, 0, -1])
    guess = np.array([0, 1, 0, 0, 1, 1, 0, 1, 1, 1])
    asked = np.array([True] * 8 + [False] * 2)
    assert np.sum(said == reference) == 5
    assert reviewed_accuracy(guess, said, reference, asked) == pytest.approx([29 / 72, 47 / 72])
    assert reviewed_accuracy(guess, said, reference, asked, prior=0.0) == pytest.approx([0.25, 0.75])


def test_cross_fitting_labels_each_trained_row_by_a_version_that_never_saw_it() -> None:
    """Texts told apart only by a token of their own, with coin-toss labels: a version trained on a row recalls
    its label, one that never saw it can only guess. The cross-fitted votes guess (about half right), on every
    row, the same on a second call; the version trained on all rows recalls them."""
    rng = np.random.default_rng(0)
    labels = [str(x) for x in rng.choice(["neg", "pos"], 400)]
    train = [(pos, f"id{pos}", f"row token{pos}x", label) for pos, label in enumerate(labels)]

    def make() -> TrainableSpecialist:
        return TrainableSpecialist(HashedTfidf(n_features=2**14), name="tfidf", c=100.0)

    found = cross_fit(make, train, seed=3, classes=("neg", "pos"))
    assert sorted(found) == list(range(400))
    truth = np.array(labels) == "pos"
    guessed = np.array([found[pos].argmax() == 1 for pos in range(400)]) == truth
    assert 0.4 < guessed.mean() < 0.6
    recalled = make().fit([t for _, _, t, _ in train], labels).predict([t for _, _, t, _ in train])
    assert ((recalled.argmax(axis=1) == 1) == truth).mean() > 0.95
    again = cross_fit(make, train, seed=3, classes=("neg", "pos"))
    assert all(np.array_equal(found[pos], again[pos]) for pos in found)
    assert cross_fit(make, train, seed=3, classes=("neg", "neutral", "pos")) == {}  # a label no version knows
