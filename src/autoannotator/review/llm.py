"""An LLM as the reviewer, through a `Gateway` (budget, cache, rate limits), asked as a `Strategy` says."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from scipy.special import softmax

from autoannotator.errors import BudgetError
from autoannotator.llm.base import Request
from autoannotator.llm.gateway import Gateway
from autoannotator.read.task import Task
from autoannotator.review.base import HardRow, Status, Verdict, parse_answer
from autoannotator.review.prompts import Examples, Prompts
from autoannotator.review.strategy import Strategy
from autoannotator.review.strategy import strategy as lookup


class LLMReviewer:
    """Reviews hard rows with a chat model through a `Gateway`.

    `strategy` (or its registered name) says how a row is asked (rationale, examples) and how its `samples`
    answers (drawn at `temperature` where the strategy samples) become one verdict. `shots`: examples per row
    from `examples`.
    """

    def __init__(
        self,
        gateway: Gateway,
        task: Task,
        *,
        strategy: Strategy | str = "zero-shot",
        show_votes: bool = False,
        examples: Examples | None = None,
        shots: int = 4,
        samples: int = 5,
        temperature: float = 0.7,
    ) -> None:
        self.gateway = gateway
        self.task = task
        self.strategy = lookup(strategy) if isinstance(strategy, str) else strategy
        self.prompts = Prompts(task, show_votes=show_votes)
        self.examples = examples
        self.shots = shots
        self.samples = samples
        self.temperature = temperature
        self._runner: asyncio.Runner | None = None

    @property
    def name(self) -> str:
        return f"llm:{self.gateway.model.name}:{self.strategy.name}"

    def review(self, rows: Sequence[HardRow]) -> list[Verdict]:
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(self._review_all(rows))

    def close(self) -> None:
        if self._runner is not None:
            aclose = getattr(self.gateway.model, "aclose", None)
            if aclose is not None:
                self._runner.run(aclose())
            self._runner.close()
            self._runner = None

    async def _review_all(self, rows: Sequence[HardRow]) -> list[Verdict]:
        return list(await asyncio.gather(*(self._review(row) for row in rows)))

    def _request(self, row: HardRow, *, retry: str | None = None, sample: int = 0) -> Request:
        rationale = self.strategy.rationale
        shots: list[tuple[str, str]] = []
        if self.strategy.examples:
            shots = [(e.text, e.label) for e in self.task.examples]
            if self.examples is not None:
                shots += self.examples.nearest(row.text, self.shots)
        messages = self.prompts.messages(row, rationale=rationale, shots=shots)
        if retry is not None:
            messages += (
                {"role": "assistant", "content": retry},
                {
                    "role": "user",
                    "content": "That is not a valid answer. Reply with JSON whose "
                    f"{'labels are each' if self.task.multi_label else 'label is'} exactly one "
                    f"of: {', '.join(self.task.label_names)}.",
                },
            )
        return Request(
            messages=messages,
            temperature=self.strategy.temperature(self.temperature),
            max_tokens=256 if rationale else 32,
            seed=sample,
            choices=None if rationale or self.task.multi_label else self.task.label_names,
            json_schema=self.prompts.schema(rationale=rationale),
        )

    async def _review(self, row: HardRow) -> Verdict:
        draws = self.strategy.calls(samples=self.samples)
        return self._combine(await asyncio.gather(*(self._ask(row, sample=s) for s in range(draws))))

    def _combine(self, answers: Sequence[Verdict]) -> Verdict:
        """One verdict from a row's answers (the strategy combines them), with the spend of all of them."""
        verdict = self.strategy.combine(answers, self.task.label_names)
        return replace(
            verdict,
            prompt_tokens=sum(a.prompt_tokens for a in answers),
            completion_tokens=sum(a.completion_tokens for a in answers),
            cost_usd=sum(a.cost_usd for a in answers),
        )

    async def _ask(self, row: HardRow, *, sample: int) -> Verdict:
        """One answer for `row`: asked again once when it names no label or the call fails."""
        spent = Verdict(label=None, status="invalid", reviewer=self.name, reason="no valid label after a retry")
        for attempt in range(2):
            request = self._request(row, retry=spent.raw if attempt else None, sample=sample)
            try:
                answer = await self.gateway.ask(request)
            except BudgetError as exc:
                return self._failed(spent, "budget", str(exc))
            except Exception as exc:  # the SDK already retried; one bad row must not stop the run
                if attempt:
                    return self._failed(spent, "error", f"{type(exc).__name__}: {exc}"[:300])
                continue
            completion = answer.completion
            spent = replace(
                spent,
                prompt_tokens=spent.prompt_tokens + completion.prompt_tokens,
                completion_tokens=spent.completion_tokens + completion.completion_tokens,
                cost_usd=spent.cost_usd + answer.cost_usd,
                raw=completion.text,
            )
            label, rationale = parse_answer(completion.text, self.task)
            if label is not None:
                confidence = _choice_confidence(completion.logprobs, label)
                return replace(
                    spent, label=label, status="ok", confidence=confidence, rationale=rationale, reason=None
                )
        return spent

    @staticmethod
    def _failed(spent: Verdict, status: Status, reason: str) -> Verdict:
        return replace(spent, status=status, reason=reason)


def _choice_confidence(logprobs: dict[str, float], label: str) -> float | None:
    """Softmax share of `label` among the choices' log-probabilities (None without log-probabilities)."""
    if not logprobs:
        return None
    shares = softmax(list(logprobs.values()))
    return float(shares[list(logprobs).index(label)])
