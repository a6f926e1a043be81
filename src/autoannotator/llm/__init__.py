"""Chat models behind one protocol, with cost accounting, a hard budget and a response cache.

>>> chat_model("openai:gpt-4o-mini").name
'gpt-4o-mini'
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from autoannotator.errors import AutoAnnotatorError, BudgetError
from autoannotator.llm.base import ChatModel, Completion, Message, Request
from autoannotator.llm.cost import Budget, PriceTable, load_prices
from autoannotator.llm.gateway import Answer, Gateway, RateLimiter
from autoannotator.llm.openai_compat import OpenAIChat

LOCAL_EXTRA = (
    "--llm local and gguf:PATH need the local extra: pip install 'autoannotator[local]' (it compiles llama.cpp: "
    "a C++ compiler and ~5 min); or use --llm openai:MODEL, or no --llm (hard rows are left for people)"
)


def chat_model(spec: str, *, timeout_s: float = 60.0) -> ChatModel:
    """``openai:MODEL`` (any OpenAI-compatible endpoint; `timeout_s` per attempt), ``local`` (the bundled GGUF)
    or ``gguf:PATH``."""
    kind, _, rest = spec.partition(":")
    if kind == "openai" and rest:
        return OpenAIChat(rest, timeout=timeout_s)
    if (kind == "local" and not rest) or (kind == "gguf" and rest):
        if importlib.util.find_spec("llama_cpp") is None:
            raise AutoAnnotatorError(LOCAL_EXTRA)
        from autoannotator.llm.local import LocalChat

        return LocalChat(Path(rest) if rest else None)
    raise AutoAnnotatorError(f"unknown --llm {spec!r}: use openai:MODEL, local, or gguf:PATH")


__all__ = [
    "Answer",
    "Budget",
    "BudgetError",
    "ChatModel",
    "Completion",
    "Gateway",
    "Message",
    "OpenAIChat",
    "PriceTable",
    "RateLimiter",
    "Request",
    "chat_model",
    "load_prices",
]
