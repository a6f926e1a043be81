"""The meta-controller's questions to the LLM: which candidates fit the task (a ranked JSON choice with
reasons), and each chosen specialist's adapter (declarative JSON, optionally code); answers are validated."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from autoannotator.errors import AdapterError, BudgetError
from autoannotator.llm.base import Request
from autoannotator.llm.gateway import Gateway
from autoannotator.read.adapters import AdapterSpec, compile_adapter
from autoannotator.read.task import Task
from autoannotator.specialists.base import Card


class Pick(BaseModel):
    """One chosen candidate with the LLM's reason."""

    model_config = ConfigDict(extra="forbid")

    name: str
    reason: str = ""


class Picks(BaseModel):
    """The LLM's ranked choice."""

    model_config = ConfigDict(extra="forbid")

    chosen: list[Pick]


def choice_prompt(task: Task, cards: dict[str, Card], k: int) -> Request:
    """Ask for a ranked JSON choice of `k` specialists."""
    catalogue = "\n".join(
        f"- {name}: {card.description}; kinds {list(card.task_kinds)}; native labels {list(card.native_labels)}; "
        f"output {card.output}; speed {card.speed}"
        for name, card in cards.items()
    )
    labels = ", ".join(f"{lab.name} ({lab.description})" if lab.description else lab.name for lab in task.labels)
    system = (
        "You choose small models to label a text classification data set. Reply with JSON only: "
        '{"chosen": [{"name": "<candidate>", "reason": "<why>"}, ...]}, best first.'
    )
    user = (
        f"Task {task.name!r}: {task.description}\nLabels: {labels}\n\nCandidates:\n{catalogue}\n\n"
        f"Choose the {k} candidates most likely to label this task well; their labels must fit the task."
    )
    return Request(
        ({"role": "system", "content": system}, {"role": "user", "content": user}),
        max_tokens=400,
        purpose="selection",  # no response_format: OpenAI's strict mode rejects optional fields; parsed below
    )


def adapter_prompt(task: Task, card: Card, *, allow_code: bool = False) -> Request:
    """Ask for the adapter of one specialist as JSON (or, with `allow_code`, optionally Python code)."""
    scores = (
        (
            f"It outputs a score cut at {list(card.cuts)} into the bins {list(card.native_labels)}; you may "
            'move the cuts with "cuts".'
        )
        if card.output == "score"
        else (f"It outputs probabilities over {list(card.native_labels)}.")
    )
    system = (
        'Reply with JSON only: {"label_map": {"<native label>": "<task label or null>"}, '
        '"cuts": null}. null maps a native label to abstain.'
    )
    if allow_code:
        system += (
            ' Where a mapping cannot say it, you may add "code": Python defining adapt(native, native_labels, '
            "task_labels) that returns a list of task labels or None (it runs in a sandbox)."
        )
    user = (
        f"Specialist {card.name}: {card.description}. {scores}\nTask labels: {list(task.label_names)} "
        f"({task.description})\nMap each native label onto the task label it means, or null if none."
    )
    return Request(
        ({"role": "system", "content": system}, {"role": "user", "content": user}),
        max_tokens=300,
        purpose="adapters",
    )


def _ask_json(gateway: Gateway, request: Request, runner: asyncio.Runner) -> Any:
    """The JSON object an LLM answered, or None (invalid JSON, an error, or no budget)."""
    try:
        answer = runner.run(gateway.ask(request))
    except BudgetError:
        return None
    except Exception:  # a failing endpoint means: fall back, never crash the run
        return None
    text = answer.completion.text.strip().removeprefix("```json").removeprefix("```").removesuffix("```")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def llm_choice(
    gateway: Gateway | None, task: Task, cards: dict[str, Card], k: int, runner: asyncio.Runner
) -> tuple[list[str], dict[str, str]]:
    """The LLM's ranked, validated choice (names it invented are dropped), or ``([], {})``."""
    if gateway is None:
        return [], {}
    raw = _ask_json(gateway, choice_prompt(task, cards, k), runner)
    try:
        picks = Picks.model_validate(raw)
    except ValidationError:
        return [], {}
    valid = [p for p in picks.chosen if p.name in cards]
    return list(dict.fromkeys(p.name for p in valid)), {p.name: p.reason for p in valid}


def llm_adapter(
    gateway: Gateway | None, task: Task, card: Card, runner: asyncio.Runner, *, allow_code: bool = False
) -> AdapterSpec | None:
    """The LLM's adapter for `card`, validated against its native labels and the task; None if unusable."""
    if gateway is None:
        return None
    raw = _ask_json(gateway, adapter_prompt(task, card, allow_code=allow_code), runner)
    try:
        spec = AdapterSpec.model_validate(raw)
        compile_adapter(spec, card, task, allow_code=allow_code)
    except (ValidationError, AdapterError):
        return None
    return spec
