"""Review strategies: how an LLM is asked about one row and how its answers become one verdict.

A strategy is a small class registered by name (``--review NAME``); the built-ins are in
`autoannotator.review.strategies`. Adding one is one file and one `register` call:

>>> class Terse(Strategy):
...     name = "terse"
>>> _ = register(Terse())
>>> strategy("terse").calls(samples=5), strategy("terse").answer_tokens
(1, 8)
>>> del STRATEGIES["terse"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from autoannotator.errors import AutoAnnotatorError
from autoannotator.plugins import plugins
from autoannotator.review.base import Verdict


class Strategy:
    """One answer per row at temperature 0, no rationale, no examples (zero-shot). Subclasses change:

    - `rationale`: ask for a short rationale before the label (longer answers);
    - `examples`: send few-shot examples (the task's own, plus agreed rows nearest the text);
    - `calls` / `temperature` / `combine`: draw several answers and combine them into one verdict.
    `answer_tokens` (completion tokens per call) prices the strategy in ``plan``.
    """

    name: ClassVar[str] = "zero-shot"
    rationale: ClassVar[bool] = False
    examples: ClassVar[bool] = False
    answer_tokens: ClassVar[int] = 8

    def calls(self, *, samples: int) -> int:
        """LLM calls per row (`samples`: the user's ``--samples``)."""
        return 1

    def temperature(self, temperature: float) -> float:
        """The sampling temperature of each call (`temperature`: the user's setting)."""
        return 0.0

    def combine(self, answers: Sequence[Verdict], labels: Sequence[str]) -> Verdict:
        """One verdict from the answers of `calls` calls (each already validated; spend summed by the caller)."""
        return answers[0]


STRATEGIES: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    """Make `strategy` available as ``--review NAME``; returns it."""
    STRATEGIES[strategy.name] = strategy
    return strategy


def strategies() -> dict[str, Strategy]:
    """The registered strategies, then those installed packages declare (entry points)."""
    found = {name: s for name, s in plugins("autoannotator.strategies").items() if isinstance(s, Strategy)}
    return {**STRATEGIES, **found}


def strategy(name: str) -> Strategy:
    """The strategy called `name`; `AutoAnnotatorError` when none is."""
    known = strategies()
    if name not in known:
        raise AutoAnnotatorError(f"unknown review strategy {name!r}: use {', '.join(known)} or replay:FILE")
    return known[name]
