"""A test server for the OpenAI Batch API on 127.0.0.1: the Files and Batches endpoints the official `openai`
SDK talks to (upload, create, retrieve, content), answering each request line with `answer(messages)`.

`outcome` says how a job ends: ``completed`` (after `polls` retrievals in progress: a late batch), ``failed``
(no results), or ``expired`` (the first half of the lines answered, the rest in the error file). `billed`
counts, per request body, the answers the server delivered: what a provider would charge.

>>> with BatchServer(lambda messages: '{"label": "positive"}') as server:
...     server.base_url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from autoannotator.testing import MODELS, Answerer, LocalServer, Quiet, send

Outcome = Literal["completed", "failed", "expired"]


class BatchServer(LocalServer):
    """See the module docstring; `outcomes` gives each new job's ending in turn (then `outcome`)."""

    def __init__(
        self,
        answer: Answerer,
        *,
        outcome: Outcome = "completed",
        polls: int = 2,
        outcomes: list[Outcome] | None = None,
    ) -> None:
        self.answer = answer
        self.outcome = outcome
        self.polls = polls
        self.outcomes = list(outcomes or [])
        self.files: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.billed: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(Quiet):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner._lock:
                    if self.path.endswith("/files"):
                        reply = owner._upload(self.headers.get("Content-Type", ""), body)
                    else:
                        reply = owner._create(json.loads(body))
                send(self, 200, reply)

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                with owner._lock:
                    if self.path.endswith("/content"):
                        send(self, 200, owner.files[self.path.split("/")[-2]], raw=True)
                    elif self.path.rstrip("/").endswith("/models"):  # the endpoint check before a run
                        send(self, 200, MODELS)
                    else:
                        send(self, 200, owner._retrieve(self.path.rsplit("/", 1)[-1]))

        return Handler

    def _upload(self, content_type: str, body: bytes) -> dict[str, Any]:
        message = BytesParser(policy=default).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        data = next(
            part.get_content()
            for part in message.iter_parts()
            if part.get_param("name", header="content-disposition") == "file"
        )
        data = data if isinstance(data, bytes) else str(data).encode()
        file_id = f"file-{len(self.files)}"
        self.files[file_id] = data
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": 0, "filename": "requests.jsonl",
                "purpose": "batch", "status": "processed"}  # fmt: skip

    def _create(self, request: dict[str, Any]) -> dict[str, Any]:
        job_id = f"batch_{len(self.jobs)}"
        outcome = self.outcomes.pop(0) if self.outcomes else self.outcome
        lines = [json.loads(x) for x in self.files[request["input_file_id"]].decode().splitlines() if x.strip()]
        self.jobs[job_id] = {"request": request, "lines": lines, "outcome": outcome, "polls": 0}
        return self._batch(job_id, "validating")

    def _retrieve(self, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        job["polls"] += 1
        if job["polls"] <= self.polls:
            return self._batch(job_id, "in_progress")
        if "output" not in job:
            self._finish(job_id)
        return self._batch(job_id, job["outcome"])

    def _finish(self, job_id: str) -> None:
        """Answer the job's lines as its outcome says, into an output and an error file."""
        job = self.jobs[job_id]
        lines = job["lines"]
        answered = {"completed": len(lines), "failed": 0, "expired": len(lines) // 2}[job["outcome"]]
        output, errors = [], []
        for line in lines[:answered]:
            text = self.answer(line["body"]["messages"])
            tokens = (sum(len(m["content"]) for m in line["body"]["messages"]) // 4, max(1, len(text) // 4))
            self.billed[json.dumps(line["body"], sort_keys=True)] += 1
            body = {"id": "chatcmpl-0", "object": "chat.completion", "created": 0, "model": line["body"]["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": tokens[0], "completion_tokens": tokens[1],
                              "total_tokens": sum(tokens)}}  # fmt: skip
            output.append(
                {"id": "r", "custom_id": line["custom_id"], "response": {"status_code": 200, "body": body}}
            )
        if job["outcome"] == "expired":
            error = {"code": "batch_expired", "message": "not completed within the window"}
            errors = [
                {"id": "r", "custom_id": x["custom_id"], "response": None, "error": error}
                for x in lines[answered:]
            ]
        job["output"] = self._file(output)
        job["errors"] = self._file(errors)

    def _file(self, rows: list[dict[str, Any]]) -> str | None:
        if not rows:
            return None
        file_id = f"file-{len(self.files)}"
        self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
        return file_id

    def _batch(self, job_id: str, status: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        total = len(job["lines"])
        done = total if status == "completed" else total // 2 if status == "expired" else 0
        failed = total - done if status in ("expired", "failed") else 0
        return {
            "id": job_id,
            "object": "batch",
            "endpoint": job["request"]["endpoint"],
            "input_file_id": job["request"]["input_file_id"],
            "completion_window": job["request"]["completion_window"],
            "status": status,
            "created_at": 0,
            "output_file_id": job.get("output"),
            "error_file_id": job.get("errors"),
            "errors": {"data": [{"code": "invalid_request", "message": "rejected"}]}
            if status == "failed"
            else None,
            "request_counts": {"completed": done, "failed": failed, "total": total},
        }
