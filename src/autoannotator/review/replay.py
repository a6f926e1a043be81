"""Recorded real LLM answers as the reviewer (``--review replay:FILE[#MODEL|SETTING]``)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from autoannotator.errors import AutoAnnotatorError, BudgetError
from autoannotator.llm.cost import Budget, PriceTable
from autoannotator.read.task import Task
from autoannotator.review.base import HardRow, Status, Verdict, parse_answer


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
        rows = _recorded(self.path)
        self.model, self.setting = _chosen(rows, self.path, self.model, self.setting)
        answers: dict[str, tuple[str, int, int]] = {}
        for row in rows:
            if (row["model"], row["setting"]) == (self.model, self.setting):
                answers.setdefault(row["text"].strip(), (row["llm_label"], *_tokens(row)))
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


def recorded_setting(path: Path, model: str | None, setting: str | None) -> tuple[str, str]:
    """The (model, setting) whose answers a replay of `path` uses: the one named, or the only one recorded
    (for `model`, when only it is named). One error naming the file and what it records when that is not one."""
    return _chosen(_recorded(path), path, model, setting)


def _chosen(rows: list[dict[str, str]], path: Path, model: str | None, setting: str | None) -> tuple[str, str]:
    """`recorded_setting` over the rows of `path`, already read."""
    recorded = sorted({(row["model"], row["setting"]) for row in rows})
    fits = [(m, s) for m, s in recorded if model in (None, m) and setting in (None, s)]
    if len(fits) == 1:
        return fits[0]
    wanted = "" if model is None else f" for {model}" + ("" if setting is None else f"|{setting}")
    listed = ", ".join(f"{m}|{s}" for m, s in recorded) or "none"
    if not fits:
        raise AutoAnnotatorError(f"{path}: no recorded answers{wanted}; it records: {listed}")
    raise AutoAnnotatorError(
        f"{path}: it records {len(fits)} settings{wanted} ({listed}); name one: "
        f"--review 'replay:{path}#MODEL|SETTING'"
    )


REPLAY_COLUMNS = frozenset({"text", "llm_label", "model", "setting", "raw_response"})
"""The columns every replay file has (`prompt_tokens` and `completion_tokens` may be empty)."""


def _recorded(path: Path) -> list[dict[str, str]]:
    """The rows of a replay file (one error naming it when it is not one)."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = REPLAY_COLUMNS - set(reader.fieldnames or ())
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AutoAnnotatorError(f"{path}: not a replay file: {exc}") from None
    if missing:
        raise AutoAnnotatorError(f"{path}: not a replay file: no column {', '.join(sorted(missing))}")
    return rows


def _tokens(row: dict[str, str]) -> tuple[int, int]:
    """Recorded (prompt, completion) tokens; where a file has none, ~4 bytes a token plus 60 of framing."""
    if row["prompt_tokens"].strip() and row["completion_tokens"].strip():
        return int(float(row["prompt_tokens"])), int(float(row["completion_tokens"]))
    return 60 + len(row["text"].encode("utf-8")) // 4, max(1, len(row["raw_response"].encode("utf-8")) // 4)
