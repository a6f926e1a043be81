"""The run configuration that the command-line options describe, shared by annotate, baseline and plan."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from autoannotator.llm import provider
from autoannotator.read.task import load_task
from autoannotator.review import ReviewConfig
from autoannotator.run.config import RunConfig
from autoannotator.vote.aggregate import AggregatorName, HardRule

LLM_HELP = (
    "The reviewer: openai:MODEL (any OpenAI-compatible endpoint: OPENAI_BASE_URL, OPENAI_API_KEY), local or "
    "gguf:PATH (the local extra). Default: none, hard rows are left unresolved for people (export)."
)
NO_REVIEWER = (
    "no reviewer (no --llm): hard rows are left unresolved. Hand them to people with `autoannotator export "
    "{run} --out review.csv`, or label with a reviewer: --llm openai:MODEL (in a new --run-dir)."
)
SPECIALISTS_HELP = (
    "Comma-separated zoo names (autoannotator models); auto: chosen on the first rows' evidence (by the LLM "
    "with --llm, by card matching without), always with the trainable ones; none: no specialists, every row to "
    "the reviewer. Default: the task's."
)
REVIEW_HELP = (
    "auto (zero-shot for openai:MODEL, few-shot for a local model, none without --llm), zero-shot, few-shot, "
    "cot, self-consistency, replay:FILE[#MODEL|SETTING], or none."
)


def run_config(
    input: Path,
    task: str,
    specialists: str | None,
    aggregate: AggregatorName,
    hard_rule: str,
    batch_size: int,
    llm: str | None,
    review: str,
    budget_usd: float | None,
    show_votes: bool,
    concurrency: int,
    rpm: int | None,
    tpm: int | None,
    prices: Path | None,
    *,
    timeout_s: float = 60.0,
) -> RunConfig:
    """The run configuration the annotate and plan options describe."""
    reviewing = None
    if review == "auto":
        review = "none" if llm is None else "few-shot" if provider(llm)[0].local else "zero-shot"
    if review != "none":
        reviewing = ReviewConfig.parse(
            review,
            llm=None if review.startswith("replay:") else llm,
            budget_usd=budget_usd,
            show_votes=show_votes,
            concurrency=concurrency,
            rpm=rpm,
            tpm=tpm,
            prices=prices,
            timeout_s=timeout_s,
        )
    return RunConfig(
        input=input,
        task=load_task(task),
        specialists=tuple(s.strip() for s in specialists.split(",") if s.strip()) if specialists else (),
        aggregate=aggregate,
        hard_rule=parse_hard_rule(hard_rule),
        batch_size=batch_size,
        review=reviewing,
    )


def parse_hard_rule(text: str) -> HardRule:
    try:
        return HardRule.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--hard-rule") from None


def routing_option(text: str) -> Literal["trust", "rule"]:
    """--routing: trust (also its old name, learned) or rule."""
    if text in ("trust", "learned"):
        return "trust"
    if text == "rule":
        return "rule"
    raise typer.BadParameter(f"{text!r}: use trust or rule", param_hint="--routing")
