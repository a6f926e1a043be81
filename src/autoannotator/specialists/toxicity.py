"""Toxicity specialists: alt-profanity-check, HateSonar, better-profanity, SafeType."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from autoannotator.specialists._common import clip, one_hot, package_version
from autoannotator.specialists.base import Card, FloatArray


class ProfanityCheck:
    """alt-profanity-check: a calibrated linear SVM over a bag of words; P(profane)."""

    @cached_property
    def card(self) -> Card:
        return Card(
            name="profanity-check",
            description="calibrated linear SVM on words (alt-profanity-check)",
            task_kinds=("toxicity",),
            output="proba",
            native_labels=("clean", "profane"),
            licence="MIT",
            size_mb=0.9,
            speed="9 µs/text batched",
            source="pypi:alt-profanity-check",
            version=package_version("alt-profanity-check"),
        )

    @cached_property
    def _profane(self) -> Callable[[list[str]], Any]:
        from profanity_check import predict_prob

        return predict_prob  # type: ignore[no-any-return]

    def predict(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, 2))
        p = np.asarray(self._profane(list(texts)), dtype=np.float64)
        return np.column_stack([1.0 - p, p])


class HateSonar:
    """HateSonar: TF-IDF + logistic regression in ONNX over hate speech / offensive language / neither.

    Needs the ``en_US.UTF-8`` locale (its ONNX string normaliser asks for it).
    """

    @cached_property
    def card(self) -> Card:
        return Card(
            name="hatesonar",
            description="TF-IDF + logistic regression (Davidson et al. 2017 tweets), ONNX",
            task_kinds=("toxicity",),
            output="proba",
            native_labels=("hate_speech", "offensive_language", "neither"),
            licence="MIT",
            size_mb=1.1,
            speed="0.12 ms/text",
            source="pypi:hatesonar",
            version=package_version("hatesonar"),
        )

    @cached_property
    def _session(self) -> Any:
        from hatesonar.api import Sonar

        return Sonar().sess

    def predict(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, 3))
        _, probs = self._session.run(None, {"text": np.array(list(texts), dtype=object)})
        return np.array([[row[0], row[1], row[2]] for row in probs], dtype=np.float64)


class BetterProfanity:
    """better-profanity: a word list with leetspeak variants; a hard yes/no."""

    @cached_property
    def card(self) -> Card:
        return Card(
            name="better-profanity",
            description="profanity word list with leetspeak variants",
            task_kinds=("toxicity",),
            output="proba",
            native_labels=("clean", "profane"),
            licence="MIT",
            size_mb=0.2,
            speed="2.4 ms/text",
            source="pypi:better-profanity",
            version=package_version("better-profanity"),
            max_chars=2000,
        )

    @cached_property
    def _contains(self) -> Callable[[str], bool]:
        from better_profanity import Profanity

        checker = Profanity()
        checker.load_censor_words()
        checker.CENSOR_WORDSET = _ByLength.of(checker.CENSOR_WORDSET)
        return checker.contains_profanity  # type: ignore[no-any-return]

    def predict(self, texts: Sequence[str]) -> FloatArray:
        return one_hot([int(self._contains(t)) for t in clip(texts, self.card.max_chars)], 2)


class _ByLength(list[Any]):
    """better-profanity's word list with a fast `in`: a word is compared only with the entries whose variants
    can have its length (`VaryingString._min_len`..`_max_len`; an entry says unequal to any other length), not
    with all ~900 of them in turn, which made `contains_profanity` take ~25 ms per tweet. Same answers."""

    def __init__(self, words: list[Any], by_length: dict[int, list[Any]]) -> None:
        super().__init__(words)
        self._by_length = by_length

    @classmethod
    def of(cls, words: list[Any]) -> _ByLength:
        """The list `words` (VaryingStrings) indexed by every length their variants can have."""
        by_length: dict[int, list[Any]] = {}
        for word in words:
            for n in range(word._min_len, word._max_len + 1):
                by_length.setdefault(n, []).append(word)
        return cls(words, by_length)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and any(word == text for word in self._by_length.get(len(text), ()))


class SafeType:
    """SafeType rule packs (English + Hinglish): per category, the highest confidence of its matches."""

    CATEGORIES = ("profanity", "hate", "harassment", "sexual")

    @cached_property
    def card(self) -> Card:
        return Card(
            name="safetype",
            description="rule packs for profanity, hate, harassment, sexual content",
            task_kinds=("toxicity",),
            output="proba",
            native_labels=("clean", *self.CATEGORIES),
            licence="MIT",
            size_mb=0.1,
            speed="0.2 ms/text",
            source="pypi:safetype",
            version=package_version("safetype"),
            max_chars=20000,
        )

    @cached_property
    def _moderate(self) -> Callable[[str], Any]:
        from safetype import create_moderation_engine

        return create_moderation_engine(mode="mask").moderate

    def predict(self, texts: Sequence[str]) -> FloatArray:
        out = np.zeros((len(texts), 1 + len(self.CATEGORIES)))
        column = {c: j + 1 for j, c in enumerate(self.CATEGORIES)}
        for i, text in enumerate(clip(texts, self.card.max_chars)):
            for match in self._moderate(text).matches:
                j = column.get(match.category)
                if j is not None:
                    out[i, j] = max(out[i, j], float(match.confidence))
        out[:, 0] = 1.0 - out[:, 1:].max(axis=1)
        result: FloatArray = out / out.sum(axis=1, keepdims=True)
        return result
