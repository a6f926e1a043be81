"""People's labels as a guided step: the stratified draw, the stacked re-judgement and its estimate, on
synthetic rows whose truth and source accuracies are known."""

from __future__ import annotations

import numpy as np

from autoannotator.trust.people import draw, features, ppi, rejudge


def noisy(truth: np.ndarray, accuracy: float, k: int, rng: np.random.Generator) -> np.ndarray:
    """A source right on about `accuracy` of rows, otherwise a uniformly drawn other label."""
    wrong = rng.random(len(truth)) > accuracy
    return np.where(wrong, (truth + rng.integers(1, k, len(truth))) % k, truth)


def test_the_draw_asks_half_where_the_sources_differ_and_weighs_each_stratum_by_its_size() -> None:
    disagree = np.zeros(1000, dtype=bool)
    disagree[:80] = True
    index, weights, strata = draw(disagree, 100, 0.5, seed=3)
    assert len(index) == 100 and len(set(index.tolist())) == 100 and (np.diff(index) > 0).all()
    assert strata.sum() == 50 and (disagree[index] == strata).all()
    assert np.allclose(weights[strata], 80 / 50) and np.allclose(weights[~strata], 920 / 50)
    assert weights.sum() == 1000  # each row stands for its stratum: weighted figures cover the whole output
    again = draw(disagree, 100, 0.5, seed=3)
    assert (again[0] == index).all()
    short, _, marked = draw(disagree[:120], 100, 0.5, seed=0)  # 80 disagreements and 40 others: all of these
    assert len(short) == 100 and (~marked).sum() == 40


def test_features_one_hot_each_sources_label_or_silence_beside_its_probability() -> None:
    x = features(np.array([[0, -1], [1, 2]]), np.array([[1.0, 0.0], [1.0, 0.7]]), 3)
    assert x.shape == (2, 2 * 5)
    assert x[0].tolist() == [1, 0, 0, 0, 1.0, 0, 0, 0, 1, 0.0]
    assert x[1].tolist() == [0, 1, 0, 0, 1.0, 0, 0, 1, 0, 0.7]


def synthetic(seed: int, specialist: float) -> tuple[np.ndarray, ...]:
    """4,000 rows, 3 labels: a reviewer right on 0.70, a specialist right on `specialist` and its exact copy;
    the run's labels are the reviewer's."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, 4000)
    reviewer = noisy(truth, 0.70, 3, rng)
    expert = noisy(truth, specialist, 3, rng)
    said = np.column_stack([reviewer, expert, expert])
    prob = np.column_stack([np.ones(4000), np.full(4000, 0.8), np.full(4000, 0.8)])
    return truth, said, prob


def ask(truth: np.ndarray, said: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    index, weights, _ = draw(said[:, 0] != said[:, 1], n, 0.5, seed)
    return index, weights


def test_a_more_accurate_specialist_relabels_the_reviewers_rows_and_the_estimate_holds() -> None:
    for seed in range(3):
        truth, said, prob = synthetic(seed, 0.9)
        people, weights = ask(truth, said, 200, seed)
        result = rejudge(said, prob, said[:, 0], np.full(4000, 0.7), people, truth[people], weights, 3, seed=seed)
        assert result.used and result.after[0] > result.before[0]
        assert abs(result.before[0] - 0.70) < 0.08 and abs(result.reviewer[0] - 0.70) < 0.08  # weighted: unbiased
        accuracy = float((result.label == truth).mean())
        assert accuracy > 0.88  # the specialist's 0.9 (its copy adds nothing), the people's rows right
        assert (result.label[people] == truth[people]).all() and not result.changed[people].any()
        assert abs(result.estimate[0] - accuracy) < 0.03 and result.estimate[1] <= accuracy <= result.estimate[2]


def test_when_the_sources_add_nothing_the_run_keeps_its_labels() -> None:
    truth, said, prob = synthetic(0, 1 / 3)  # a specialist at chance
    people, weights = ask(truth, said, 200, 0)
    result = rejudge(said, prob, said[:, 0], np.full(4000, 0.7), people, truth[people], weights, 3)
    assert not result.used and not result.changed.any()
    assert (np.delete(result.label, people) == np.delete(said[:, 0], people)).all()


def test_the_prediction_powered_interval_covers_the_truth_on_nine_runs_in_ten() -> None:
    rng = np.random.default_rng(0)
    covered = []
    for _ in range(300):
        confidence = rng.uniform(0.5, 1.0, 3000)
        right = rng.random(3000) < confidence - 0.1  # the model is 0.1 too sure: PPI corrects it
        asked = rng.choice(3000, 150, replace=False)
        estimate, low, high = ppi(confidence, right[asked], confidence[asked], np.ones(150))
        covered.append(low <= right.mean() <= high)
        assert abs(estimate - right.mean()) < 0.12
    assert np.mean(covered) >= 0.9
