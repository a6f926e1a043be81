from __future__ import annotations

from pathlib import Path

import numpy as np

from autoannotator.learning import Learner, LearningConfig, Routing, choose_threshold, in_validation
from autoannotator.specialists import TrainableSpecialist, build, shared_minilm


def test_validation_membership_is_stable_and_near_the_share() -> None:
    ids = [f"row-{i}" for i in range(5000)]
    first = [in_validation(i, 0.15) for i in ids]
    assert first == [in_validation(i, 0.15) for i in ids]
    assert 0.13 < sum(first) / len(ids) < 0.17


def test_threshold_is_the_lowest_that_keeps_the_agreement() -> None:
    confidence = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    agrees = np.array([True, True, True, False, True, False])
    assert choose_threshold(confidence, agrees, 0.8) == 0.6  # top 5: 4/5 agree
    assert choose_threshold(confidence, agrees, 1.0) == 0.8
    assert choose_threshold(confidence, np.zeros(6, dtype=bool), 0.5) == np.inf


def test_learned_routing_trusts_the_accurate_specialist() -> None:
    routing = Routing({"good": 0.9, "weak": 0.55, "weaker": 0.55}, threshold=0.7)
    votes = np.array([[1, 0, 0], [1, 1, 1], [-1, -1, -1]])
    probs, hard = routing.decide(["good", "weak", "weaker"], votes, np.full((3, 3, 2), 0.5), 2)
    assert probs.argmax(axis=1)[:2].tolist() == [1, 1]
    assert hard.tolist() == [False, False, True]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_a_decider_labels_alone_with_its_own_confidence() -> None:
    routing = Routing({"head": 0.8, "lexicon": 0.6}, threshold=0.7, decider="head")
    votes = np.array([[0, 1], [1, 1]])
    adapted = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.4, 0.6], [0.1, 0.9]]])  # (n, m, k)
    probs, hard = routing.decide(["head", "lexicon"], votes, adapted, 2)
    np.testing.assert_allclose(probs, adapted[:, 0])
    assert hard.tolist() == [False, True]  # the head's 0.6 is under 0.7, whatever the lexicon says


def test_a_silent_untrained_version_is_worth_nothing_to_beat(tmp_path: Path) -> None:
    """Beside fixed specialists an untrained trainable does not vote, so its first trained version is compared
    with nothing, not with its label-prototype guesses (which may be lucky on a small slice)."""
    val = [("good", "pos"), ("great", "pos"), ("bad", "neg"), ("awful", "neg")]
    prototype = TrainableSpecialist(
        shared_minilm(), name="t", prototypes={"pos": ["wonderful"], "neg": ["terrible"]}
    )
    learner = Learner(LearningConfig(), tmp_path, ["neg", "pos"])
    assert learner.previous(prototype, val, inputs=()) > 0.5  # alone, its prototype head votes
    assert learner.previous(prototype, val, inputs=[("vader", build("vader"))]) == 0.0  # beside vader: silent
