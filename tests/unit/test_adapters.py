from __future__ import annotations

import numpy as np
import pytest

from autoannotator.errors import AdapterError
from autoannotator.read.adapters import ABSTAIN, AdapterSpec, bin_probabilities, compile_adapter, match_by_name
from autoannotator.read.task import Label, Task
from autoannotator.specialists.base import Card

SENT3 = Task(name="s3", labels=(Label(name="negative"), Label(name="neutral"), Label(name="positive")))
SENT2 = Task(name="s2", labels=(Label(name="negative"), Label(name="positive")))
TOX = Task(name="tox", labels=(Label(name="not-offensive"), Label(name="offensive", aliases=("toxic",))))


def card(output: str, labels: tuple[str, ...], cuts: tuple[float, ...] = ()) -> Card:
    return Card(
        name="c",
        description="",
        task_kinds=("any",),
        output=output,  # type: ignore[arg-type]
        native_labels=labels,
        cuts=cuts,
        score_scale=0.1,
        licence="",
        size_mb=0,
        speed="",
        source="",
        version="0",
    )


SCORE = card("score", ("negative", "neutral", "positive"), (-0.05, 0.05))
SONAR = card("proba", ("hate_speech", "offensive_language", "neither"))


def test_score_bins_map_by_name_and_neutral_abstains_in_a_two_way_task() -> None:
    adapter = compile_adapter(None, SCORE, SENT2)
    votes, probs = adapter.apply(np.array([-0.8, 0.0, 0.6]))
    assert votes.tolist() == [0, ABSTAIN, 1]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_score_three_way_and_cuts_override() -> None:
    votes, _ = compile_adapter(None, SCORE, SENT3).apply(np.array([-0.5, 0.01, 0.5]))
    assert votes.tolist() == [0, 1, 2]
    wide = compile_adapter(AdapterSpec(cuts=(-0.6, 0.6)), SCORE, SENT3)
    assert wide.apply(np.array([-0.5, 0.5]))[0].tolist() == [1, 1]


def test_proba_native_labels_merge_into_task_labels() -> None:
    adapter = compile_adapter(None, SONAR, TOX)
    votes, probs = adapter.apply(np.array([[0.3, 0.3, 0.4], [0.1, 0.1, 0.8]]))
    assert votes.tolist() == [1, 0]  # hate + offensive = 0.6 beats neither = 0.4
    np.testing.assert_allclose(probs[0], [0.4, 0.6])


def test_explicit_null_abstains_and_min_confidence_abstains() -> None:
    spec = AdapterSpec(label_map={"hate_speech": None})
    votes, _ = compile_adapter(spec, SONAR, TOX).apply(np.array([[0.7, 0.1, 0.2]]))
    assert votes.tolist() == [ABSTAIN]
    unsure = compile_adapter(AdapterSpec(min_confidence=0.9), SONAR, TOX)
    assert unsure.apply(np.array([[0.3, 0.3, 0.4]]))[0].tolist() == [ABSTAIN]


def test_match_by_name_uses_aliases_and_synonym_groups() -> None:
    assert match_by_name("neither", TOX) == "not-offensive"
    assert match_by_name("TOXIC", TOX) == "offensive"
    assert match_by_name("profane", TOX) == "offensive"
    assert match_by_name("neutral", TOX) is None


@pytest.mark.parametrize(
    ("spec", "target", "message"),
    [
        (AdapterSpec(label_map={"angry": "negative"}), SCORE, "unknown native label"),
        (AdapterSpec(label_map={"positive": "great"}), SCORE, "unknown label 'great'"),
        (AdapterSpec(cuts=(0.1,)), SCORE, "cuts must be 2 ascending numbers"),
        (AdapterSpec(cuts=(0.5, -0.5)), SCORE, "cuts must be 2 ascending numbers"),
        (AdapterSpec(cuts=(0.1, 0.2)), SONAR, "outputs probabilities"),
    ],
)
def test_bad_specs_are_rejected(spec: AdapterSpec, target: Card, message: str) -> None:
    with pytest.raises(AdapterError, match=message):
        compile_adapter(spec, target, SENT3)


def test_adapter_that_maps_nothing_is_rejected() -> None:
    with pytest.raises(AdapterError, match="no native label"):
        compile_adapter(None, SONAR, SENT3)


def test_bin_probabilities_prefer_the_containing_bin() -> None:
    p = bin_probabilities(np.array([-1.0, 0.0, 0.049, 1.0]), np.array([-0.05, 0.05]), 0.1)
    assert p.argmax(axis=1).tolist() == [0, 1, 1, 2]
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert p[2, 2] > p[1, 2]  # closer to the positive bin -> more positive mass
