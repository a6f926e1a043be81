"""One protocol for every chat model: a hosted OpenAI-compatible endpoint, a local GGUF, or a test fake."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable


class Message(TypedDict):
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Request:
    """What to ask: the messages and the sampling parameters (all part of the cache key).

    `choices`: when given, the answer must be one of them; a local model then picks by comparing the
    log-probabilities of the choices instead of generating. `json_schema`: ask for JSON of this schema.
    """

    messages: tuple[Message, ...]
    temperature: float = 0.0
    max_tokens: int = 64
    seed: int | None = 0
    choices: tuple[str, ...] | None = None
    json_schema: dict[str, Any] | None = None
    purpose: str = "review"

    def key_material(self, model: str) -> dict[str, Any]:
        """Everything that determines the answer (the purpose does not)."""
        return {
            "model": model,
            "messages": list(self.messages),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "choices": self.choices,
            "json_schema": self.json_schema,
        }


@dataclass(frozen=True)
class Completion:
    """A model's answer with its token counts; `logprobs` per choice when the model picked by log-probability."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    logprobs: dict[str, float] = field(default_factory=dict)


class UnbilledError(Exception):
    """A failure the provider does not charge for (it refused the request: 429, 5xx); any other failure after
    a request was sent may have been charged, and the budget counts it at its worst case."""


class ChatModel(Protocol):
    """Anything that answers a `Request`. `name` identifies the model in prices, cache keys and the ledger."""

    @property
    def name(self) -> str: ...

    async def complete(self, request: Request) -> Completion:
        """Answer `request`; raise on failure (retries are the model's own business), `UnbilledError` when the
        provider refused it."""
        ...


@runtime_checkable
class Checked(Protocol):
    """A chat model that can tell, with one cheap call, whether it can answer at all."""

    async def check(self) -> None:
        """Raise `autoannotator.errors.AutoAnnotatorError` (one line: the cause) when the model cannot answer:
        its endpoint unreachable, or its key refused."""
        ...


def prompt_bytes(messages: Sequence[Message]) -> int:
    """An upper bound on the prompt's tokens: its UTF-8 bytes plus 8 per message of chat framing."""
    return sum(len(m["content"].encode("utf-8")) + 8 for m in messages) + 8
