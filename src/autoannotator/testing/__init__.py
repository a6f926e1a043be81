"""Test helpers shipped with the package: a real Chat Completions HTTP server on localhost, an in-process
chat model (`FakeChat`, for unit tests of logic), and the CLI run as a child process.

`ChatServer` speaks the OpenAI Chat Completions protocol (``POST /v1/chat/completions``, ``GET /v1/models``)
and answers with a function of the messages; `faults` injects failures by request number, so tests and
benchmarks exercise the real SDK, sockets and retries; with `api_key`, a request without that key is refused
(HTTP 401), as a hosted endpoint does.

>>> with ChatServer(lambda messages: '{"label": "positive"}') as server:
...     server.base_url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Self

from autoannotator.llm.base import Completion, Request, prompt_bytes
from autoannotator.read.io import read_rows

Fault = Literal["401", "429", "500", "503", "timeout", "reset", "truncated", "not-json", "off-label", "empty"]
FAULTS: tuple[Fault, ...] = (  # what a healthy endpoint does now and then (a refused key is not among them)
    "429",
    "500",
    "503",
    "timeout",
    "reset",
    "truncated",
    "not-json",
    "off-label",
    "empty",
)
ANSWER_FAULTS = {"off-label": '{"label": "banana"}', "empty": ""}  # well-formed replies that are no answer
Answerer = Callable[[list[dict[str, str]]], str]


class FakeChat:
    """An in-process `ChatModel` answering with `answer(messages)`; `requests` keeps every request it saw.
    Tokens are estimated at 4 bytes each (prompt) and counted by whitespace (answer).

    >>> import asyncio
    >>> chat = FakeChat(lambda messages: '{"label": "positive"}')
    >>> asyncio.run(chat.complete(Request(({"role": "user", "content": "hi"},)))).text
    '{"label": "positive"}'
    """

    def __init__(self, answer: Answerer, *, name: str = "gpt-4o-mini") -> None:
        self.answer = answer
        self.name = name
        self.requests: list[Request] = []

    async def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        text = self.answer([{"role": m["role"], "content": m["content"]} for m in request.messages])
        return Completion(text, prompt_bytes(request.messages) // 4, max(1, len(text.split())), self.name)


class Quiet(BaseHTTPRequestHandler):
    """A request handler that logs nothing."""

    def log_message(self, format: str, *args: Any) -> None:
        return


class LocalServer:
    """An HTTP server on 127.0.0.1 (a free port) in a background thread, while used as a context manager;
    subclasses give the request handler."""

    _server: ThreadingHTTPServer | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class ChatServer(LocalServer):
    """A Chat Completions server on 127.0.0.1 (random port), run in a background thread.

    `answer(messages) -> content`; `faults(n) -> Fault | None` for the n-th request (0-based); `delay_s` before
    each answer; `usage` gives (prompt_tokens, completion_tokens) for an answer (default: bytes / 4).
    """

    def __init__(
        self,
        answer: Answerer,
        *,
        faults: Callable[[int], Fault | None] | None = None,
        delay_s: float = 0.0,
        timeout_s: float = 5.0,
        retry_after_s: int = 1,
        api_key: str | None = None,
    ) -> None:
        self.answer = answer
        self.api_key = api_key
        self.faults = faults
        self.delay_s = delay_s
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.requests: list[dict[str, Any]] = []
        self.fault_counts: dict[str, int] = {}
        self.replies: list[tuple[int, int]] = []
        """(prompt, completion) tokens of every 200 reply, usable or not: what a provider would bill."""
        self._lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(Quiet):
            def do_GET(self) -> None:
                if not owner._authorised(self):
                    return
                if self.path.rstrip("/").endswith("/models"):
                    send(self, 200, MODELS)
                else:
                    send(self, 404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if not owner._authorised(self):
                    return
                with owner._lock:
                    n = len(owner.requests)
                    owner.requests.append({**body, "headers": {k.lower(): v for k, v in self.headers.items()}})
                fault = owner.faults(n) if owner.faults else None
                if fault is not None:
                    with owner._lock:
                        owner.fault_counts[fault] = owner.fault_counts.get(fault, 0) + 1
                owner._respond(self, body, fault)

        return Handler

    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        """Whether `handler`'s request carries the key (always, without `api_key`); answers 401 if not."""
        if self.api_key is None or handler.headers.get("Authorization") == f"Bearer {self.api_key}":
            return True
        send(handler, 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
        return False

    def _respond(self, handler: BaseHTTPRequestHandler, body: dict[str, Any], fault: Fault | None) -> None:
        if fault == "401":
            send(handler, 401, {"error": {"message": "the key was revoked", "type": "invalid_request_error"}})
            return
        if fault == "timeout":
            time.sleep(self.timeout_s)
            return
        if fault == "reset":
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if fault in ("429", "500", "503"):
            retry = {"Retry-After": str(self.retry_after_s)} if fault == "429" else {}
            error = {"error": {"message": f"injected {fault}", "type": "server_error"}}
            send(handler, int(fault), error, headers=retry)
            return
        if self.delay_s:
            time.sleep(self.delay_s)
        content = ANSWER_FAULTS[fault] if fault in ANSWER_FAULTS else self.answer(body["messages"])
        prompt = sum(len(m["content"].encode()) for m in body["messages"]) // 4 + 1
        completion = len(content.encode()) // 4 + 1
        document = json.dumps(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        ).encode()
        with self._lock:
            self.replies.append((prompt, completion))
        if fault == "truncated":
            document = document[: len(document) // 2]
        elif fault == "not-json":
            document = b"<html>502 Bad Gateway</html>"
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(document)))
        handler.end_headers()
        handler.wfile.write(document)


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    raw: bool = False,
) -> None:
    """Answer with `status`, `headers` and `body`: JSON, or with `raw` the bytes as they are."""
    data = body if raw else json.dumps(body).encode()
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Type", "application/octet-stream" if raw else "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


MODELS = {"object": "list", "data": [{"id": "test-model", "object": "model", "created": 0, "owned_by": "test"}]}
"""What the test servers answer to ``GET /v1/models``."""


def vader_reviewer(messages: list[dict[str, str]]) -> str:
    """A `ChatServer` answerer for sentiment-2 that says what VADER says of the last message: a reviewer the
    lexicon specialists can earn the trust of."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    score = SentimentIntensityAnalyzer().polarity_scores(messages[-1]["content"])["compound"]
    return json.dumps({"label": "positive" if score > 0 else "negative"})


def run_cli(
    *args: str | Path, env: dict[str, str] | None = None, check: bool = True, timeout_s: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m autoannotator ARGS`` in a child process, as a user would; with `check`, a non-zero exit
    raises `AssertionError` carrying its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "autoannotator", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env=env,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stderr}")
    return result


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file (split on newlines only: texts may hold U+2028 or U+0085)."""
    return list(read_rows(path))


def committed(ledger: Path) -> int:
    """The input position up to which a run's ledger holds committed batches (0 before any, or while it
    cannot be read): a running run's progress, read without disturbing it."""
    try:
        with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COALESCE(MAX(next_pos), 0) FROM batches").fetchone()[0])
    except sqlite3.Error:
        return 0


class RayCluster:
    """A Ray cluster on this machine while used as a context manager, for tests and benchmarks: ``ray start
    --head`` on a free port, then one worker node per further entry of `cpus` (the CPUs of each node), all with
    a random token of their own (Ray's servers listen on every interface); ``ray stop --force`` on exit.
    `env` is the environment a driver needs (the token); `address` is HOST:PORT."""

    def __init__(self, cpus: tuple[int, ...] = (2,), temp: Path | None = None) -> None:
        self.cpus = cpus
        self.temp = temp
        self.env: dict[str, str] = {}
        self.address = ""

    @property
    def binary(self) -> str:
        """The ``ray`` command beside this Python."""
        return shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"

    def __enter__(self) -> Self:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"127.0.0.1:{port}"
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        temp = ["--temp-dir", str(self.temp)] if self.temp is not None else []
        nodes = [["--head", "--port", str(port), "--include-dashboard", "false", *temp]]
        nodes += [["--address", self.address]] * (len(self.cpus) - 1)
        try:
            for cpus, node in zip(self.cpus, nodes, strict=True):
                subprocess.run(
                    [self.binary, "start", *node, "--num-cpus", str(cpus), "--disable-usage-stats",
                     "--node-ip-address", "127.0.0.1"],
                    env=self.env, check=True, capture_output=True, timeout=120,
                )  # fmt: skip
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(
            [self.binary, "stop", "--force"], env=self.env, capture_output=True, timeout=120, check=False
        )
