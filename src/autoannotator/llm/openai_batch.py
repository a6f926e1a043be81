"""The OpenAI Batch API through the official SDK: many chat requests as one JSONL file, answered within a 24 h
window at the provider's batch price.

`submit` uploads the requests (``purpose="batch"``) and creates the batch; `wait` polls it until it ends
(completed, failed, expired or cancelled), reporting its request counts; `results` reads the output and
error files: custom id -> a `Completion`, or the reason there is none (a failed line, an expired request).
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from autoannotator.llm.base import Completion, Request
from autoannotator.llm.openai_compat import OpenAIChat, completion_of

ENDED = ("completed", "failed", "expired", "cancelled")
WINDOW = "24h"


@dataclass(frozen=True)
class BatchJob:
    """A submitted batch: its id and its input file's, as the ledger keeps them (to re-attach on resume)."""

    batch_id: str
    input_file_id: str


class OpenAIBatches:
    """Batch API calls for the model and endpoint of `chat` (same base URL and key); polls every `poll_s`."""

    def __init__(self, chat: OpenAIChat, *, poll_s: float = 30.0) -> None:
        self.chat = chat
        self.poll_s = poll_s

    def line(self, custom_id: str, request: Request) -> dict[str, Any]:
        """One JSONL line of a batch input file."""
        return {
            "custom_id": custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": self.chat.body(request),
        }

    async def submit(self, lines: Sequence[dict[str, Any]]) -> BatchJob:
        """Upload `lines` as one file and create a batch over it."""
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
        upload = await self.chat.client.files.create(file=("requests.jsonl", io.BytesIO(data)), purpose="batch")
        batch = await self.chat.client.batches.create(
            input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window=WINDOW
        )
        return BatchJob(str(batch.id), str(upload.id))

    async def wait(self, job: BatchJob, progress: Callable[[str, int, int], None] | None = None) -> Any:
        """The batch once it has ended; `progress(status, done, total)` after each poll."""
        while True:
            batch = await self.chat.client.batches.retrieve(job.batch_id)
            counts = batch.request_counts
            if progress is not None and counts is not None:
                progress(str(batch.status), counts.completed + counts.failed, counts.total)
            if batch.status in ENDED:
                return batch
            await asyncio.sleep(self.poll_s)

    async def results(self, batch: Any, requests: dict[str, Request]) -> dict[str, Completion | str]:
        """custom id -> its `Completion`, or why there is none, for every id of `requests`."""
        found: dict[str, Completion | str] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await self.chat.client.files.content(file_id)
            for text in content.text.splitlines():
                if text.strip():
                    item = json.loads(text)
                    found[str(item["custom_id"])] = self._answer(item, requests.get(str(item["custom_id"])))
        reason = f"batch {batch.status}" + (f": {batch.errors}" if getattr(batch, "errors", None) else "")
        return {cid: found.get(cid, f"no result ({reason})") for cid in requests}

    def _answer(self, item: dict[str, Any], request: Request | None) -> Completion | str:
        response, error = item.get("response") or {}, item.get("error")
        if error or response.get("status_code") != 200 or request is None:
            return f"failed: {error or response.get('status_code')}"[:300]
        from openai.types.chat import ChatCompletion

        return completion_of(ChatCompletion.model_validate(response["body"]), request, self.chat.model)
