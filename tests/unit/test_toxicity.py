"""better-profanity's word list, indexed by length for speed, answers exactly as the library does."""

from __future__ import annotations

import numpy as np
import pytest

from autoannotator.specialists import build

pytest.importorskip("better_profanity", reason="better-profanity is not installed")

TEXTS = [
    "what a lovely day",
    "this is shit",
    "this is sh1t and b!tch",
    "F U C K this",
    "you are an a$$hole",
    "mother fucker",
    "motherfucker",
    "assassin and classic grass",
    "s h i t",
    "@user #fuckthis https://t.co/x",
    "",
    "x" * 300,
    "\uff26\uff55\uff43\uff4b",  # fullwidth letters
    "b i t c h y people",
]


def test_the_indexed_word_list_gives_the_librarys_answers() -> None:
    from better_profanity import Profanity

    library = Profanity()
    library.load_censor_words()
    said = build("better-profanity").predict(TEXTS)
    expected = [library.contains_profanity(t) for t in TEXTS]
    np.testing.assert_array_equal(said.argmax(axis=1).astype(bool), expected)
    assert 3 <= sum(expected) < len(TEXTS)  # both answers occur: the comparison means something
