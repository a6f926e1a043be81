"""Lexicon sentiment specialists: VADER, TextBlob (Pattern analyser) and AFINN, each a polarity score.

Their bins are ``negative | neutral | positive``; a 2-way task maps ``neutral`` to abstain by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from autoannotator.specialists._common import clip, package_version
from autoannotator.specialists.base import Card, FloatArray

BINS = ("negative", "neutral", "positive")


class _Lexicon(ABC):
    """A score computed text by text, on the first ``card.max_chars`` characters; the scorer loads on first use."""

    @property
    @abstractmethod
    def card(self) -> Card:
        """The specialist's card."""

    @abstractmethod
    def _load(self) -> Callable[[str], float]:
        """Import the library and return its text -> score function."""

    @cached_property
    def _score(self) -> Callable[[str], float]:
        return self._load()

    def predict(self, texts: Sequence[str]) -> FloatArray:
        clipped = clip(texts, self.card.max_chars)
        return np.fromiter((self._score(t) for t in clipped), dtype=np.float64, count=len(clipped))


class Vader(_Lexicon):
    """VADER's compound score in [-1, 1] (Hutto & Gilbert, 2014); cuts at ±0.05 as its authors advise."""

    @cached_property
    def card(self) -> Card:
        return Card(
            name="vader",
            description="VADER rule + lexicon sentiment, tuned on social media text",
            task_kinds=("sentiment",),
            output="score",
            native_labels=BINS,
            cuts=(-0.05, 0.05),
            score_scale=0.1,
            licence="MIT",
            size_mb=0.4,
            speed="0.05 ms/text",
            source="pypi:vaderSentiment",
            version=package_version("vaderSentiment"),
            max_chars=5000,
        )

    def _load(self) -> Callable[[str], float]:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        analyzer = SentimentIntensityAnalyzer()
        return lambda text: float(analyzer.polarity_scores(text)["compound"])


class TextBlobPattern(_Lexicon):
    """TextBlob's Pattern-analyser polarity in [-1, 1] (offline; the NaiveBayes analyser is not)."""

    @cached_property
    def card(self) -> Card:
        return Card(
            name="textblob",
            description="TextBlob Pattern lexicon polarity (adjective-driven)",
            task_kinds=("sentiment",),
            output="score",
            native_labels=BINS,
            cuts=(-0.05, 0.05),
            score_scale=0.1,
            licence="MIT",
            size_mb=2.0,
            speed="0.1 ms/text",
            source="pypi:textblob",
            version=package_version("textblob"),
            max_chars=20000,
        )

    def _load(self) -> Callable[[str], float]:
        from textblob.en.sentiments import PatternAnalyzer

        analyzer = PatternAnalyzer()
        return lambda text: float(analyzer.analyze(text).polarity)


class Afinn(_Lexicon):
    """AFINN-165: the sum of word valences in [-5, 5] (unbounded sum; no negation handling)."""

    @cached_property
    def card(self) -> Card:
        return Card(
            name="afinn",
            description="AFINN word list valence sum (Nielsen, 2011)",
            task_kinds=("sentiment",),
            output="score",
            native_labels=BINS,
            cuts=(-0.5, 0.5),
            score_scale=1.0,
            licence="Apache-2.0 code; ODbL word list",
            size_mb=0.1,
            speed="0.1 ms/text",
            source="pypi:afinn",
            version=package_version("afinn"),
            max_chars=20000,
        )

    def _load(self) -> Callable[[str], float]:
        from afinn import Afinn as AfinnModel

        model = AfinnModel(emoticons=True)
        return lambda text: float(model.score(text))
