"""The built-in review strategies: zero-shot, few-shot, chain of thought, self-consistency."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from autoannotator.review.base import Verdict
from autoannotator.review.strategy import Strategy, register


class ZeroShot(Strategy):
    """The task, its labels and the text; one answer at temperature 0."""

    name = "zero-shot"


class FewShot(Strategy):
    """Zero-shot plus examples: the task's own, then the agreed rows most similar to the text."""

    name = "few-shot"
    examples = True


class ChainOfThought(Strategy):
    """A short rationale before the label."""

    name = "cot"
    rationale = True
    answer_tokens = 80


class SelfConsistency(ChainOfThought):
    """`samples` rationales drawn at the user's temperature; the majority label wins (ties: the task's label
    order) and its share of the draws is the confidence."""

    name = "self-consistency"

    def calls(self, *, samples: int) -> int:
        return samples

    def temperature(self, temperature: float) -> float:
        return temperature

    def combine(self, answers: Sequence[Verdict], labels: Sequence[str]) -> Verdict:
        counts = Counter(a.label for a in answers if a.status == "ok")
        if not counts:
            return answers[0]
        label, votes = max(counts.items(), key=lambda kv: (kv[1], -labels.index(str(kv[0]))))
        chosen = next(a for a in answers if a.label == label)
        return replace(chosen, confidence=votes / len(answers))


register(ZeroShot())
register(FewShot())
register(ChainOfThought())
register(SelfConsistency())
