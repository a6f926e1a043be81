"""How hard rows are reviewed (`ReviewConfig`), and the reviewer it describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from autoannotator.errors import AutoAnnotatorError
from autoannotator.llm import chat_model, check, provider, usage
from autoannotator.llm.cost import Budget, load_prices
from autoannotator.llm.gateway import Cache, Gateway, RateLimiter
from autoannotator.llm.openai_batch import OpenAIBatches
from autoannotator.llm.openai_compat import OpenAIChat
from autoannotator.read.task import Task
from autoannotator.review.base import Reviewer
from autoannotator.review.batch import BatchAPIReviewer, Journal
from autoannotator.review.llm import LLMReviewer
from autoannotator.review.prompts import Examples
from autoannotator.review.replay import ReplayReviewer, recorded_setting
from autoannotator.review.strategy import Strategy, strategy
from autoannotator.review.watch import Watched


class ReviewConfig(BaseModel):
    """How hard rows are reviewed. `budget_usd` may change between a run and its resume; nothing else may."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = Field(default="zero-shot", description="a registered strategy's name, or replay")
    llm: str | None = Field(default=None, description="a provider: openai:MODEL, local, or gguf:PATH")
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
    batch_api: bool = Field(default=False, description="review through the OpenAI Batch API (batch price)")
    batch_poll_s: float = Field(default=30.0, gt=0, description="seconds between polls of a Batch API job")

    @model_validator(mode="after")
    def _check(self) -> ReviewConfig:
        if self.method == "replay":
            if self.replay is None:
                raise ValueError("replay needs a file: --review replay:FILE")
            return self
        if self.llm is None:
            raise ValueError(f"--review {self.method} needs --llm ({usage()})")
        try:
            strategy(self.method)
            provider(self.llm)
        except AutoAnnotatorError as exc:
            raise ValueError(str(exc)) from None
        if self.batch_api and not self.llm.startswith("openai:"):
            raise ValueError("--batch-api needs --llm openai:MODEL (an endpoint with the OpenAI Batch API)")
        return self

    @property
    def local(self) -> bool:
        """True when the reviewer runs on this machine (weak: see the README)."""
        return self.llm is not None and provider(self.llm)[0].local

    @property
    def strategy(self) -> Strategy:
        """The review strategy (zero-shot for a replay: recorded answers are one call each)."""
        return strategy("zero-shot" if self.method == "replay" else self.method)

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
        return cls(method=review, **fields)


def check_reviewer(config: ReviewConfig) -> None:
    """Refuse, before any work, a reviewer that cannot answer: a replay file without exactly one recorded
    setting to use, an LLM endpoint that cannot be reached or refuses the key (one free call)."""
    if config.replay is not None:
        recorded_setting(config.replay, config.replay_model, config.replay_setting)
    elif config.llm is not None:
        check(config.llm, timeout_s=config.timeout_s)


def llm_gateway(config: ReviewConfig, cache: Cache, *, budget: Budget) -> Gateway:
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
    config: ReviewConfig, task: Task, cache: Journal, *, budget: Budget, examples: Examples | None
) -> Reviewer:
    """The reviewer a `ReviewConfig` describes, paying from the run's `budget` (one for everything a run
    spends: the meta-controller, the reviewer, the calibration rows)."""
    if config.method == "replay":
        assert config.replay is not None
        return Watched(
            ReplayReviewer(
                config.replay,
                task,
                prices=load_prices(config.prices),
                budget=budget,
                model=config.replay_model,
                setting=config.replay_setting,
            )
        )
    gateway = llm_gateway(config, cache, budget=budget)
    asking: dict[str, Any] = {
        "strategy": config.strategy,
        "show_votes": config.show_votes,
        "examples": examples if config.strategy.examples else None,
        "shots": config.shots,
        "samples": config.samples,
    }
    if config.batch_api:
        assert isinstance(gateway.model, OpenAIChat)
        batches = OpenAIBatches(gateway.model, poll_s=config.batch_poll_s)
        return Watched(BatchAPIReviewer(gateway, batches, cache, task, **asking))
    return Watched(LLMReviewer(gateway, task, **asking))
