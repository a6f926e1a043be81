"""An LLM as the reviewer through the OpenAI Batch API (``--batch-api``): a batch's rows are asked as the
strategy says, all at once, as one Batch API job at the batch price.

Each round sends the requests not already answered (the run's cache: a resumed run pays for nothing twice;
identical requests share one line). The whole job's worst case is held from the budget before it is submitted
(the rows that do not fit are ``budget``). The job's ids are journalled in the ledger before waiting, so a
run killed while a job is in flight re-attaches to it on ``--resume``. Answers that name no task label, and
requests the job did not answer (failed lines, an expired window), are asked again in a second job, then
recorded as ``invalid`` or ``error``.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any, Protocol

from autoannotator.errors import AutoAnnotatorError, BudgetError
from autoannotator.llm.base import Completion, Request, prompt_bytes
from autoannotator.llm.gateway import Cache, Gateway, completion_from_json, completion_json
from autoannotator.llm.openai_batch import BatchJob, OpenAIBatches
from autoannotator.review.base import HardRow, Status, Verdict, parse_answer
from autoannotator.review.llm import LLMReviewer

Key = tuple[int, int]
"""(row index in the batch, draw)."""


class Journal(Cache, Protocol):
    """The run's cache, which also keeps the Batch API jobs in flight (`autoannotator.ledger.cache.CallCache`)."""

    def job(self, key: str) -> dict[str, str] | None: ...

    def record_job(self, key: str, job: dict[str, str]) -> None: ...


def stderr_progress(status: str, done: int, total: int) -> None:
    """One line per poll on stderr: the job's status and requests done."""
    print(f"batch api: {status}, {done}/{total} requests", file=sys.stderr, flush=True)


class BatchAPIReviewer(LLMReviewer):
    """Reviews hard rows as `LLMReviewer` does (prompts, strategy, validation), through `batches`."""

    def __init__(
        self,
        gateway: Gateway,
        batches: OpenAIBatches,
        journal: Journal,
        *args: Any,
        progress: Callable[[str, int, int], None] | None = stderr_progress,
        **kwargs: Any,
    ) -> None:
        super().__init__(gateway, *args, **kwargs)
        self.batches = batches
        self.journal = journal
        self.progress = progress

    @property
    def name(self) -> str:
        return f"llm:{self.gateway.model.name}:{self.strategy.name}:batch"

    async def _review_all(self, rows: Sequence[HardRow]) -> list[Verdict]:
        draws = self.strategy.calls(samples=self.samples)
        pending = {(i, s): self._request(row, sample=s) for i, row in enumerate(rows) for s in range(draws)}
        answers: dict[Key, Verdict] = {}
        spent: dict[Key, Verdict] = {k: self._verdict("invalid", "no valid label after a retry") for k in pending}
        for attempt in range(2):
            got = await self._round(pending, attempt)
            retry: dict[Key, Request] = {}
            for key, verdict in got.items():
                spent[key] = replace(
                    verdict,
                    prompt_tokens=spent[key].prompt_tokens + verdict.prompt_tokens,
                    completion_tokens=spent[key].completion_tokens + verdict.completion_tokens,
                    cost_usd=spent[key].cost_usd + verdict.cost_usd,
                )
                if verdict.status in ("ok", "budget") or attempt == 1:
                    answers[key] = spent[key]
                else:
                    retry[key] = self._request(rows[key[0]], retry=verdict.raw, sample=key[1])
            pending = retry
        return [self._combine([answers[(i, s)] for s in range(draws)]) for i in range(len(rows))]

    def _verdict(self, status: Status, reason: str | None = None, **fields: Any) -> Verdict:
        return Verdict(label=None, status=status, reviewer=self.name, reason=reason, **fields)

    async def _round(self, pending: dict[Key, Request], attempt: int) -> dict[Key, Verdict]:
        """One verdict per pending request: from the cache, or from one Batch API job."""
        ids = {key: self.gateway.key(request) for key, request in pending.items()}
        found: dict[str, tuple[Completion, float] | str] = {}
        for cid in set(ids.values()):
            hit = self.journal.cached_call(cid)
            if hit is not None:
                found[cid] = (completion_from_json(hit[0]), hit[1])
        asked = {cid: pending[key] for key, cid in ids.items() if cid not in found}
        if asked:
            found |= await self._job(asked, attempt)
        return {key: self._read(found[cid]) for key, cid in ids.items()}

    async def _job(self, asked: dict[str, Request], attempt: int) -> dict[str, tuple[Completion, float] | str]:
        """Hold the budget for the requests that fit, run them as one job, store and settle their answers."""
        model, prices = self.gateway.model.name, self.gateway.prices
        held, refused = {}, {}
        for cid, request in sorted(asked.items()):
            worst = prices.cost(model, prompt_bytes(request.messages), request.max_tokens, batch=True)
            try:
                held[cid] = self.gateway.budget.reserve(worst)
            except BudgetError as exc:
                refused[cid] = f"budget: {exc}"
        found: dict[str, tuple[Completion, float] | str] = dict(refused)
        if not held:
            return found
        paid = dict.fromkeys(held, 0.0)
        try:
            requests = {cid: asked[cid] for cid in held}
            try:
                job = await self._attach(requests, attempt)
                batch = await self.batches.wait(job, self.progress)
                results = await self.batches.results(batch, requests)
            except Exception as exc:  # the SDK retried: stop with one line; --resume re-attaches to a job
                raise AutoAnnotatorError(f"the Batch API failed: {type(exc).__name__}: {exc}"[:400]) from None
            for cid, result in results.items():
                if isinstance(result, str):
                    found[cid] = result
                    continue
                paid[cid] = prices.cost(model, result.prompt_tokens, result.completion_tokens, batch=True)
                tokens = (result.prompt_tokens, result.completion_tokens)
                self.journal.store_call(cid, "review-batch", completion_json(result), tokens, paid[cid])
                found[cid] = (result, paid[cid])
        finally:
            for cid, reservation in held.items():
                self.gateway.budget.settle(reservation, paid[cid])
        return found

    async def _attach(self, requests: dict[str, Request], attempt: int) -> BatchJob:
        """The job for exactly these requests in this round: the one journalled (a resumed run), else a new one,
        journalled before anything waits on it."""
        key = f"batch:{attempt}:" + hashlib.sha256("\n".join(sorted(requests)).encode()).hexdigest()
        saved = self.journal.job(key)
        if saved is not None:
            return BatchJob(**saved)
        job = await self.batches.submit([self.batches.line(cid, request) for cid, request in requests.items()])
        self.journal.record_job(key, asdict(job))
        return job

    def _read(self, found: tuple[Completion, float] | str) -> Verdict:
        """A verdict from an answer (validated like any) or from the reason there is none."""
        if isinstance(found, str):
            status: Status = "budget" if found.startswith("budget:") else "error"
            return self._verdict(status, found.removeprefix("budget: "))
        completion, cost = found
        spent = self._verdict(
            "invalid",
            "no valid label after a retry",
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cost_usd=cost,
            raw=completion.text,
        )
        label, rationale = parse_answer(completion.text, self.task)
        if label is None:
            return spent
        return replace(spent, label=label, status="ok", rationale=rationale, reason=None)
