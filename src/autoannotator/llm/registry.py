"""LLM providers by name: ``--llm NAME[:ARGUMENT]`` builds a chat model through the registered `Provider`.

Adding one is one file (its chat model and a `build` function) and one `register` line; a package can also
declare one under the entry-point group ``autoannotator.providers``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from autoannotator.errors import AutoAnnotatorError
from autoannotator.llm.base import ChatModel, Checked
from autoannotator.plugins import plugins


@dataclass(frozen=True)
class Provider:
    """How a chat model is built. `build(argument, timeout_s)`: `argument` is what follows ``NAME:`` (empty
    when none), `timeout_s` the seconds per request attempt. `local`: it runs on this machine (free, weak:
    few-shot by default). `argument`: what the user writes after ``NAME:`` ("" when nothing)."""

    build: Callable[[str, float], ChatModel]
    local: bool
    argument: str = ""


PROVIDERS: dict[str, Provider] = {}


def register(name: str, provider: Provider) -> Provider:
    """Make `provider` available as ``--llm NAME[:ARGUMENT]``; returns it."""
    PROVIDERS[name] = provider
    return provider


def providers() -> dict[str, Provider]:
    """The registered providers, then those installed packages declare (entry points)."""
    found = {name: p for name, p in plugins("autoannotator.providers").items() if isinstance(p, Provider)}
    return {**PROVIDERS, **found}


def usage() -> str:
    """The accepted ``--llm`` forms, e.g. ``openai:MODEL, local, gguf:PATH``."""
    return ", ".join(f"{name}:{p.argument}" if p.argument else name for name, p in providers().items())


def provider(spec: str) -> tuple[Provider, str]:
    """The provider of ``NAME[:ARGUMENT]`` and the argument; `AutoAnnotatorError` when none fits."""
    name, _, argument = spec.partition(":")
    found = providers().get(name)
    if found is None or bool(found.argument) != bool(argument):
        raise AutoAnnotatorError(f"unknown --llm {spec!r}: use {usage()}")
    return found, argument


def chat_model(spec: str, *, timeout_s: float = 60.0) -> ChatModel:
    """The chat model ``--llm`` `spec` names (`timeout_s` seconds per request attempt)."""
    found, argument = provider(spec)
    return found.build(argument, timeout_s)


def check(spec: str, *, timeout_s: float = 60.0) -> None:
    """Raise one line when the hosted chat model `spec` names cannot answer (`Checked`: unreachable, key
    refused), before any work; a local model, or one that cannot tell, passes."""
    found, argument = provider(spec)
    if found.local:
        return
    model = found.build(argument, timeout_s)
    if isinstance(model, Checked):
        asyncio.run(_check(model))


async def _check(model: Checked) -> None:
    try:
        await model.check()
    finally:
        aclose = getattr(model, "aclose", None)
        if aclose is not None:
            await aclose()
