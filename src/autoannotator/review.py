"""Reviewers of hard rows: an LLM (zero-shot, few-shot, chain of thought, self-consistency) or recorded answers.

A reviewer answers a batch of `HardRow` with one `Verdict` each. It never guesses: an answer that names no
task label is asked again once, then recorded as ``invalid`` (the row stays unresolved for a human), and a row
the budget cannot pay for is recorded as ``budget``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from autoannotator.errors import AutoAnnotatorError, BudgetError
from autoannotator.llm import chat_model
from autoannotator.llm.base import Message, Request
from autoannotator.llm.cost import Budget, PriceTable, load_prices
from autoannotator.llm.gateway import Cache, Gateway, RateLimiter
from autoannotator.specialists._common import softmax
from autoannotator.specialists.features import Featurizer
from autoannotator.task import Task

Status = Literal["ok", "invalid", "budget", "error"]
Strategy = Literal["zero-shot", "few-shot", "cot", "self-consistency"]


@dataclass(frozen=True)
class HardRow:
    """A row the specialists did not settle, with their votes (specialist -> label or None)."""

    pos: int
    text: str
    votes: dict[str, str | None]
    best_guess: str | None


@dataclass(frozen=True)
class Verdict:
    """A reviewer's answer for one row. `label` is None unless `status` is ``ok``."""

    label: str | None
    status: Status
    reviewer: str
    confidence: float | None = None
    rationale: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    raw: str | None = None
    reason: str | None = None


class Reviewer(Protocol):
    """Decides hard rows."""

    @property
    def name(self) -> str: ...

    def review(self, rows: Sequence[HardRow]) -> list[Verdict]:
        """One verdict per row, in order."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...


def parse_label(text: str, labels: Sequence[str]) -> tuple[str | None, str | None]:
    """(label, rationale) from an answer: JSON ``{"label": ..., "rationale": ...}`` or a bare label.

    Matching is exact after trimming quotes and case; anything else gives ``(None, rationale)``.
    """
    by_key = {label.casefold(): label for label in labels}
    cleaned = re.sub(r"^```(?:json)?|```$", "", text.strip()).strip()
    rationale = None
    try:
        value: Any = json.loads(cleaned)
    except json.JSONDecodeError:
        value = cleaned
    if isinstance(value, dict):
        rationale = value.get("rationale") if isinstance(value.get("rationale"), str) else None
        value = value.get("label")
    if not isinstance(value, str):
        return None, rationale
    return by_key.get(value.strip().strip("\"'.").casefold()), rationale


@dataclass
class Examples:
    """Few-shot examples: the task's own, plus up to `per_label` rows per label that the specialists agreed on,
    retrieved for each hard row by embedding similarity (MiniLM)."""

    featurizer: Featurizer
    per_label: int = 100
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    vectors: np.ndarray[Any, np.dtype[np.float64]] | None = None

    def add(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        """Offer agreed rows; a label keeps its first `per_label` (deterministic: input order)."""
        counts = Counter(self.labels)
        new = []
        for text, label in zip(texts, labels, strict=True):
            if counts[label] < self.per_label:
                counts[label] += 1
                new.append((text, label))
        if not new:
            return
        vectors = _dense(self.featurizer.transform([t for t, _ in new]))
        self.texts += [t for t, _ in new]
        self.labels += [lab for _, lab in new]
        self.vectors = vectors if self.vectors is None else np.vstack([self.vectors, vectors])

    def nearest(self, text: str, k: int) -> list[tuple[str, str]]:
        """The `k` pool examples most similar to `text`, most similar last (closest to the question)."""
        if self.vectors is None or k <= 0:
            return []
        query = _dense(self.featurizer.transform([text]))[0]
        order = np.argsort(-(self.vectors @ query), kind="stable")[:k]
        return [(self.texts[i], self.labels[i]) for i in order[::-1]]


def _dense(features: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Featurizer output (dense or scipy sparse) as a dense float array."""
    return np.asarray(features.toarray() if hasattr(features, "toarray") else features, dtype=np.float64)


class Prompts:
    """Builds the review messages for a task."""

    def __init__(self, task: Task, *, show_votes: bool = False) -> None:
        self.task = task
        self.show_votes = show_votes

    def system(self, *, rationale: bool) -> str:
        labels = "\n".join(f"- {lab.name}: {lab.description}".rstrip(": ") for lab in self.task.labels)
        answer = (
            '{"rationale": "<one or two sentences>", "label": "<label>"}' if rationale else '{"label": "<label>"}'
        )
        parts = [
            f"You label texts for the task {self.task.name!r}. {self.task.description}".strip(),
            f"Labels:\n{labels}",
            f"Guidelines: {self.task.guidelines.strip()}" if self.task.guidelines.strip() else "",
            f"Answer with JSON only: {answer}, where <label> is exactly one of: "
            + ", ".join(self.task.label_names)
            + ".",
        ]
        return "\n\n".join(p for p in parts if p)

    def user(self, row: HardRow) -> str:
        text = f"Text:\n{row.text}"
        if self.show_votes and row.votes:
            votes = ", ".join(f"{name}: {label or 'abstained'}" for name, label in row.votes.items())
            text += f"\n\nSmall models voted (they are often wrong): {votes}"
        return text

    def messages(
        self, row: HardRow, *, rationale: bool, shots: Sequence[tuple[str, str]] = ()
    ) -> tuple[Message, ...]:
        out: list[Message] = [{"role": "system", "content": self.system(rationale=rationale)}]
        for text, label in shots:
            out.append({"role": "user", "content": f"Text:\n{text}"})
            out.append({"role": "assistant", "content": json.dumps({"label": label})})
        out.append({"role": "user", "content": self.user(row)})
        return tuple(out)

    def schema(self, *, rationale: bool) -> dict[str, Any]:
        properties: dict[str, Any] = {"label": {"type": "string", "enum": list(self.task.label_names)}}
        if rationale:
            properties = {"rationale": {"type": "string"}, **properties}
        return {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }


class LLMReviewer:
    """Reviews hard rows with a chat model through a `Gateway`.

    `samples` (self-consistency): answers drawn at `temperature`; the majority label wins and its share is the
    confidence. `shots`: few-shot examples per row (from `examples`, plus the task's own).
    """

    def __init__(
        self,
        gateway: Gateway,
        task: Task,
        *,
        strategy: Strategy = "zero-shot",
        show_votes: bool = False,
        examples: Examples | None = None,
        shots: int = 4,
        samples: int = 5,
        temperature: float = 0.7,
    ) -> None:
        self.gateway = gateway
        self.task = task
        self.strategy = strategy
        self.prompts = Prompts(task, show_votes=show_votes)
        self.examples = examples
        self.shots = shots
        self.samples = samples
        self.temperature = temperature
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def name(self) -> str:
        return f"llm:{self.gateway.model.name}:{self.strategy}"

    def review(self, rows: Sequence[HardRow]) -> list[Verdict]:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self._review_all(rows))

    def close(self) -> None:
        if self._loop is not None:
            aclose = getattr(self.gateway.model, "aclose", None)
            if aclose is not None:
                self._loop.run_until_complete(aclose())
            self._loop.close()
            self._loop = None

    async def _review_all(self, rows: Sequence[HardRow]) -> list[Verdict]:
        return list(await asyncio.gather(*(self._review(row) for row in rows)))

    def _request(self, row: HardRow, *, retry: str | None = None, sample: int = 0) -> Request:
        rationale = self.strategy in ("cot", "self-consistency")
        shots: list[tuple[str, str]] = []
        if self.strategy == "few-shot":
            shots = [(e.text, e.label) for e in self.task.examples]
            if self.examples is not None:
                shots += self.examples.nearest(row.text, self.shots)
        messages = self.prompts.messages(row, rationale=rationale, shots=shots)
        if retry is not None:
            messages += (
                {"role": "assistant", "content": retry},
                {
                    "role": "user",
                    "content": "That is not a valid answer. Reply with JSON whose label is exactly one "
                    f"of: {', '.join(self.task.label_names)}.",
                },
            )
        sampling = self.strategy == "self-consistency"
        return Request(
            messages=messages,
            temperature=self.temperature if sampling else 0.0,
            max_tokens=256 if rationale else 32,
            seed=sample,
            choices=None if rationale else self.task.label_names,
            json_schema=self.prompts.schema(rationale=rationale),
        )

    async def _review(self, row: HardRow) -> Verdict:
        draws = self.samples if self.strategy == "self-consistency" else 1
        answers = await asyncio.gather(*(self._ask(row, sample=s) for s in range(draws)))
        spent = (
            sum(a.prompt_tokens for a in answers),
            sum(a.completion_tokens for a in answers),
            sum(a.cost_usd for a in answers),
        )
        labelled = [a for a in answers if a.status == "ok"]
        if not labelled:
            first = answers[0]
            return Verdict(None, first.status, self.name, None, first.rationale, *spent, first.raw, first.reason)
        counts = Counter(a.label for a in labelled)
        label, votes = max(counts.items(), key=lambda kv: (kv[1], -self.task.label_names.index(str(kv[0]))))
        chosen = next(a for a in labelled if a.label == label)
        confidence = votes / draws if draws > 1 else chosen.confidence  # agreement of samples, or choice odds
        return Verdict(label, "ok", self.name, confidence, chosen.rationale, *spent, chosen.raw)

    async def _ask(self, row: HardRow, *, sample: int) -> Verdict:
        """One answer for `row`: asked again once when it names no label or the call fails."""
        prompt_tokens = completion_tokens = 0
        cost = 0.0
        raw: str | None = None

        def verdict(
            status: Status,
            label: str | None = None,
            reason: str | None = None,
            *,
            confidence: float | None = None,
            rationale: str | None = None,
        ) -> Verdict:
            return Verdict(
                label,
                status,
                self.name,
                confidence,
                rationale,
                prompt_tokens,
                completion_tokens,
                cost,
                raw,
                reason,
            )

        for attempt in range(2):
            request = self._request(row, retry=raw if attempt else None, sample=sample)
            try:
                answer = await self.gateway.ask(request)
            except BudgetError as exc:
                return verdict("budget", reason=str(exc))
            except Exception as exc:  # the SDK already retried; one bad row must not stop the run
                if attempt:
                    return verdict("error", reason=f"{type(exc).__name__}: {exc}"[:300])
                continue
            completion = answer.completion
            prompt_tokens += completion.prompt_tokens
            completion_tokens += completion.completion_tokens
            cost += answer.cost_usd
            raw = completion.text
            label, rationale = parse_label(raw, self.task.label_names)
            if label is not None:
                confidence = _choice_confidence(completion.logprobs, label)
                return verdict("ok", label, confidence=confidence, rationale=rationale)
        return verdict("invalid", reason="no valid label after a retry")


def _choice_confidence(logprobs: dict[str, float], label: str) -> float | None:
    """Softmax share of `label` among the choices' log-probabilities (None without log-probabilities)."""
    if not logprobs:
        return None
    shares = softmax(np.array([list(logprobs.values())]))[0]
    return float(shares[list(logprobs).index(label)])


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
            return Verdict(None, "error", self.name, reason="no recorded answer for this text")
        answer, prompt_tokens, completion_tokens = recorded
        cost = self.prices.cost(str(self.model), prompt_tokens, completion_tokens)
        try:
            self.budget.settle(self.budget.reserve(cost), cost)
        except BudgetError as exc:
            return Verdict(None, "budget", self.name, reason=str(exc))
        label, _ = parse_label(answer, self.task.label_names)
        status: Status = "ok" if label is not None else "invalid"
        return Verdict(
            label,
            status,
            self.name,
            None,
            None,
            prompt_tokens,
            completion_tokens,
            cost,
            answer,
            None if label else "the recorded answer names no task label",
        )

    def close(self) -> None:
        """Nothing to release."""


def _tokens(row: dict[str, str]) -> tuple[int, int]:
    """Recorded (prompt, completion) tokens; where a file has none, ~4 bytes a token plus 60 of framing."""
    if row["prompt_tokens"].strip() and row["completion_tokens"].strip():
        return int(float(row["prompt_tokens"])), int(float(row["completion_tokens"]))
    return 60 + len(row["text"].encode("utf-8")) // 4, max(1, len(row["raw_response"].encode("utf-8")) // 4)


class ReviewConfig(BaseModel):
    """How hard rows are reviewed. `budget_usd` may change between a run and its resume; nothing else may."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Strategy | Literal["replay"] = "zero-shot"
    llm: str | None = Field(default=None, description="openai:MODEL, local, or gguf:PATH")
    replay: Path | None = None
    replay_model: str | None = None
    replay_setting: str | None = None
    show_votes: bool = False
    samples: int = Field(default=5, ge=1)
    shots: int = Field(default=4, ge=0)
    budget_usd: float | None = Field(default=None, ge=0)
    concurrency: int = Field(default=8, ge=1)
    timeout_s: float = Field(default=60.0, gt=0, description="seconds per LLM request attempt")
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    prices: Path | None = None

    @model_validator(mode="after")
    def _check(self) -> ReviewConfig:
        if self.method == "replay" and self.replay is None:
            raise ValueError("replay needs a file: --review replay:FILE")
        if self.method != "replay" and self.llm is None:
            raise ValueError(f"--review {self.method} needs --llm (openai:MODEL, local or gguf:PATH)")
        return self

    @property
    def local(self) -> bool:
        """True when the reviewer is a local GGUF model (weak: see the README)."""
        return self.llm is not None and not self.llm.startswith("openai:")

    @classmethod
    def parse(cls, review: str, **fields: Any) -> ReviewConfig:
        """From the CLI: ``zero-shot | few-shot | cot | self-consistency | replay:FILE[#MODEL|SETTING]``."""
        if review.startswith("replay:"):
            path, _, choice = review.removeprefix("replay:").partition("#")
            model, _, setting = choice.partition("|")
            return cls(
                method="replay",
                replay=Path(path),
                replay_model=model or None,
                replay_setting=setting or None,
                **fields,
            )
        return cls(method=review, **fields)  # type: ignore[arg-type]


def controller_gateway(config: ReviewConfig, cache: Cache, *, budget: Budget) -> Gateway:
    """A gateway to `config`'s LLM (its own connection), paying from the run's `budget`."""
    assert config.llm is not None
    return Gateway(
        chat_model(config.llm, timeout_s=config.timeout_s),
        prices=load_prices(config.prices),
        budget=budget,
        cache=cache,
        limiter=RateLimiter(concurrency=config.concurrency, rpm=config.rpm, tpm=config.tpm),
    )


def build_reviewer(
    config: ReviewConfig, task: Task, cache: Cache, *, budget: Budget, examples: Examples | None
) -> Reviewer:
    """The reviewer a `ReviewConfig` describes, paying from the run's `budget` (one for everything a run
    spends: the meta-controller, the reviewer, the calibration rows)."""
    if config.method == "replay":
        assert config.replay is not None
        return ReplayReviewer(
            config.replay,
            task,
            prices=load_prices(config.prices),
            budget=budget,
            model=config.replay_model,
            setting=config.replay_setting,
        )
    gateway = controller_gateway(config, cache, budget=budget)
    return LLMReviewer(
        gateway,
        task,
        strategy=config.method,
        show_votes=config.show_votes,
        examples=examples if config.method == "few-shot" else None,
        shots=config.shots,
        samples=config.samples,
    )
