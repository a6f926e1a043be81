"""Any OpenAI-compatible Chat Completions endpoint (OpenAI, DeepSeek, vLLM, Ollama, llama.cpp's server,
LM Studio) through the official `openai` SDK.

The SDK retries 408/409/429/5xx answers, timeouts and dropped connections with exponential backoff and honours
``Retry-After``; `max_retries` and `timeout` (seconds per attempt) bound that. The base URL and key default
to ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``; the key is held by the SDK client only and never written.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from autoannotator.errors import AutoAnnotatorError
from autoannotator.llm.base import Completion, Request, UnbilledError, prompt_bytes

CHECK_TIMEOUT_S = 15.0
"""Seconds, at most, the endpoint check waits for an answer."""


class OpenAIChat:
    """`ChatModel` over the Chat Completions API. `structured`: send ``response_format`` JSON schemas."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        structured: bool = True,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.structured = structured

    @property
    def name(self) -> str:
        return self.model

    @cached_property
    def client(self) -> Any:
        """The SDK's `AsyncOpenAI` client (made on first use)."""
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            base_url=self.base_url or os.environ.get("OPENAI_BASE_URL"),
            api_key=self.api_key or os.environ.get("OPENAI_API_KEY") or "no-key",
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    def body(self, request: Request) -> dict[str, Any]:
        """The Chat Completions request body of `request` (as sent, and as a Batch API line's ``body``)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(request.messages),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.json_schema is not None and self.structured:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": request.json_schema, "strict": True},
            }
        return body

    async def complete(self, request: Request) -> Completion:
        import openai

        try:
            response = await self.client.chat.completions.create(**self.body(request))
        except openai.APIStatusError as exc:
            if exc.status_code == 429 or exc.status_code >= 500:
                raise UnbilledError(f"{self.model}: HTTP {exc.status_code} after retries: {exc.message}") from exc
            raise
        return completion_of(response, request, self.model)

    async def check(self) -> None:
        """List the endpoint's models (free, one retry): raise one line when it cannot be reached or refuses the
        key. An endpoint without the list (404, 405, 501) may still chat: that is not an error."""
        import openai

        client = self.client.with_options(max_retries=1, timeout=min(self.timeout, CHECK_TIMEOUT_S))
        where = f"--llm openai:{self.model} at {client.base_url}"
        try:
            await client.models.list()
        except openai.APIConnectionError as exc:
            cause = f"{type(exc).__name__}: {exc.__cause__ or exc}"
            raise AutoAnnotatorError(
                f"{where}: cannot reach the endpoint ({cause}); check OPENAI_BASE_URL"
            ) from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise AutoAnnotatorError(
                f"{where}: the endpoint refused the key (HTTP {exc.status_code}); check OPENAI_API_KEY"
            ) from None
        except openai.APIStatusError:
            return

    async def aclose(self) -> None:
        """Close the HTTP connections (call on the loop that used them)."""
        if "client" in self.__dict__:
            await self.client.close()
            del self.__dict__["client"]


def completion_of(response: Any, request: Request, model: str) -> Completion:
    """A `Completion` from a Chat Completions response (the SDK's object); tokens estimated when not reported."""
    text = (response.choices[0].message.content or "") if response.choices else ""
    usage = response.usage
    return Completion(
        text=text,
        prompt_tokens=usage.prompt_tokens if usage else prompt_bytes(request.messages) // 4,
        completion_tokens=usage.completion_tokens if usage else len(text.encode("utf-8")) // 4 + 1,
        model=str(response.model or model),
    )


def build(model: str, timeout_s: float) -> OpenAIChat:
    """``--llm openai:MODEL``: any OpenAI-compatible endpoint (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``)."""
    return OpenAIChat(model, timeout=timeout_s)
