"""Recorded real LLM answers as the reviewer (``--review replay:FILE[#MODEL|SETTING]``)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from autoannotator.errors import AutoAnnotatorError, BudgetError
from autoannotator.llm.cost import Budget, PriceTable
from autoannotator.review.base import HardRow, Status, Verdict, parse_answer
from autoannotator.task import Task


class ReplayReviewer:
    """Answers from recorded real LLM answers (a CSV keyed by text, outer whitespace aside: copies of a
    dataset differ in trailing spaces; see shared/data/README.md): exactly what
    that model said, with its recorded token counts and their price. One (model, setting) pair is used."""

    def __init__(
        self,
        path: Path,
        task: Task,
        *,
        prices: PriceTable,
        budget: Budget,
        model: str | None = None,
        setting: str | None = None,
    ) -> None:
        self.path = path
        self.task = task
        self.prices = prices
        self.budget = budget
        self.model = model
        self.setting = setting
        self._answers: dict[str, tuple[str, int, int]] | None = None

    @property
    def name(self) -> str:
        return f"replay:{self.model}:{self.setting}"

    def _load(self) -> dict[str, tuple[str, int, int]]:
        answers: dict[str, tuple[str, int, int]] = {}
        try:
            with self.path.open(encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    if self.model is None:
                        self.model, self.setting = row["model"], row["setting"]
                    if (row["model"], row["setting"]) == (self.model, self.setting):
                        answers.setdefault(row["text"].strip(), (row["llm_label"], *_tokens(row)))
        except (OSError, KeyError, UnicodeDecodeError) as exc:
            raise AutoAnnotatorError(f"{self.path}: not a replay file: {exc!r}") from None
        if not answers:
            raise AutoAnnotatorError(f"{self.path}: no answers for model {self.model!r}, setting {self.setting!r}")
        return answers

    def review(self, rows: Sequence[HardRow]) -> list[Verdict]:
        if self._answers is None:
            self._answers = self._load()
        return [self._one(row, self._answers) for row in rows]

    def _one(self, row: HardRow, answers: dict[str, tuple[str, int, int]]) -> Verdict:
        recorded = answers.get(row.text.strip())
        if recorded is None:
            missing = "no recorded answer for this text"
            return Verdict(label=None, status="error", reviewer=self.name, reason=missing)
        answer, prompt_tokens, completion_tokens = recorded
        cost = self.prices.cost(str(self.model), prompt_tokens, completion_tokens)
        try:
            self.budget.settle(self.budget.reserve(cost), cost)
        except BudgetError as exc:
            return Verdict(label=None, status="budget", reviewer=self.name, reason=str(exc))
        label, _ = parse_answer(answer, self.task)
        status: Status = "ok" if label is not None else "invalid"
        return Verdict(
            label=label,
            status=status,
            reviewer=self.name,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            raw=answer,
            reason=None if label else "the recorded answer names no task label",
        )

    def close(self) -> None:
        """Nothing to release."""


def _tokens(row: dict[str, str]) -> tuple[int, int]:
    """Recorded (prompt, completion) tokens; where a file has none, ~4 bytes a token plus 60 of framing."""
    if row["prompt_tokens"].strip() and row["completion_tokens"].strip():
        return int(float(row["prompt_tokens"])), int(float(row["completion_tokens"]))
    return 60 + len(row["text"].encode("utf-8")) // 4, max(1, len(row["raw_response"].encode("utf-8")) // 4)
