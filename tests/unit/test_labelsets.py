"""Label sets as arrays: encoding, the per-label decision, the row confidence, parsing an answer, combining."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autoannotator.errors import InputError
from autoannotator.handoff.sheets import label_studio_config, read_decisions
from autoannotator.vote.labelsets import combine, decide, decode, encode, indicators, parse_set, row_confidence

NAMES = ("anger", "joy", "sadness", "neutral")


def test_a_set_is_stored_in_the_task_label_order() -> None:
    assert encode(["neutral", "anger", "anger"], NAMES) == '["anger", "neutral"]'
    assert decode(encode([], NAMES)) == [] and decode(None) == []
    assert indicators([["joy"], [], ["sadness", "anger", "other"]], NAMES).astype(int).tolist() == [
        [0, 1, 0, 0],
        [0, 0, 0, 0],
        [1, 0, 1, 0],
    ]


def test_decide_keeps_labels_above_half_at_most_max_and_never_an_empty_set_unless_allowed() -> None:
    p = np.array([[0.9, 0.8, 0.7, 0.1], [0.2, 0.4, 0.1, 0.3], [0.5, 0.5, 0.5, 0.5]])
    assert decide(p, max_labels=None, allow_empty=True).astype(int).tolist() == [
        [1, 1, 1, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
    ]
    capped = decide(p, max_labels=2, allow_empty=False).astype(int).tolist()
    assert capped == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]  # an undecided row stays empty: it is hard


def test_row_confidence_is_that_of_the_least_certain_decision() -> None:
    p = np.array([[0.95, 0.1, 0.3, 0.02], [0.5, 0.0, 1.0, 1.0], [0.2, 0.1, 0.05, 0.1]])
    sets = decide(p, max_labels=None, allow_empty=False)  # the last row's set is forced: anger at 0.2
    assert row_confidence(p, sets).tolist() == pytest.approx([0.7, 0.5, 0.2])
    capped = decide(p, max_labels=1, allow_empty=False)  # the second row keeps one of two sure labels
    assert row_confidence(p, capped)[1] == pytest.approx(0.0)


def test_combine_averages_only_the_specialists_that_speak_about_a_label() -> None:
    presence = np.array([[[0.9, 0.2, 0.0, 0.0], [0.7, 0.9, 0.0, 0.0]]])  # (1 row, 2 specialists, 4 labels)
    covered = np.array([[True, True, False, False], [True, False, False, True]])
    assert combine(presence, covered)[0].tolist() == pytest.approx([0.8, 0.2, 0.5, 0.0])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"labels": ["Joy", "anger"]}', ["anger", "joy"]),
        ('```json\n["sadness"]\n```', ["sadness"]),
        ("joy | neutral", ["joy", "neutral"]),
        ('{"labels": []}', None),  # empty, and the task does not allow it
        ('{"labels": ["joy", "banana"]}', None),  # one name is not a label: the whole answer is invalid
        ('{"labels": ["joy", "anger", "sadness"]}', None),  # more than max_labels
        ('{"label": "joy"}', None),
    ],
)
def test_parse_set(answer: str, expected: list[str] | None) -> None:
    assert parse_set(answer, NAMES, allow_empty=False, max_labels=2)[0] == expected


def test_parse_set_allows_the_empty_set_when_the_task_does() -> None:
    assert parse_set('{"labels": [], "rationale": "none"}', NAMES, allow_empty=True, max_labels=None) == (
        [],
        "none",
    )


def test_people_name_a_set_in_a_review_sheet_and_bad_names_are_one_line(tmp_path: Path) -> None:
    sheet = tmp_path / "review.csv"
    sheet.write_text("id,label\nr1,sadness|anger\nr2,\nr3,joy| banana\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 4: 'banana'"):
        read_decisions(sheet, list(NAMES), multi=True)
    sheet.write_text("id,label\nr1,sadness|anger\nr2,\nr3,neutral\n", encoding="utf-8")
    assert read_decisions(sheet, list(NAMES), multi=True) == {"r1": '["anger", "sadness"]', "r3": '["neutral"]'}
    assert 'choice="multiple"' in label_studio_config(list(NAMES), multiple=True)
