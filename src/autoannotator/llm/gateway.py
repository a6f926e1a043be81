"""The one door to a chat model: cache, budget, rate limits and usage accounting around `ChatModel.complete`.

Order per call: a cache hit answers at no cost; otherwise the worst-case cost is reserved from the budget
(waiting while calls in flight hold it; `BudgetError` when it can never fit), the call waits for a
concurrency slot and the requests/min and tokens/min windows, runs, is settled at its real cost, and its
answer is cached (errors never are). A call that fails after it was sent is settled at its worst case (the
provider may have charged it), unless the model says the provider refused it (`UnbilledError`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Protocol

from aiolimiter import AsyncLimiter

from autoannotator.errors import BudgetError
from autoannotator.llm.base import ChatModel, Completion, Request, UnbilledError, prompt_bytes
from autoannotator.llm.cost import Budget, PriceTable, Reservation


@dataclass(frozen=True)
class Answer:
    """A completion, what it cost when it was bought (a cached answer keeps its price: the row it labels
    shows what its label cost; the run's spend is what the cache stored), and whether it came from the cache."""

    completion: Completion
    cost_usd: float
    cached: bool


class Cache(Protocol):
    """Stored answers by key. The run ledger implements it (`autoannotator.ledger.Ledger`)."""

    def cached_call(self, key: str) -> tuple[str, float] | None:
        """The stored answer to `key` (as `completion_json` wrote it) and what it cost when it was bought."""
        ...

    def store_call(
        self, key: str, purpose: str, completion: str, tokens: tuple[int, int], cost_usd: float
    ) -> None:
        """Store an answer (`completion_json`), its (prompt, completion) tokens and its cost."""
        ...


class RateLimiter:
    """At most `concurrency` calls in flight, `rpm` calls and `tpm` prompt tokens a minute (aiolimiter's leaky
    buckets: a burst up to the minute's allowance, then an even pace)."""

    def __init__(self, *, concurrency: int = 8, rpm: int | None = None, tpm: int | None = None) -> None:
        self.concurrency = concurrency
        self.rpm = rpm
        self.tpm = tpm
        self._semaphore: asyncio.Semaphore | None = None
        self._calls = None if rpm is None else AsyncLimiter(rpm, 60.0)
        self._tokens = None if tpm is None else AsyncLimiter(tpm, 60.0)

    async def acquire(self, tokens: int) -> None:
        """Wait for a slot and for room in the minute's allowances, then take them."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        await self._semaphore.acquire()
        try:
            if self._calls is not None:
                await self._calls.acquire()
            if self._tokens is not None and self.tpm is not None:
                await self._tokens.acquire(min(tokens, self.tpm))  # a prompt over the allowance waits a minute
        except BaseException:
            self._semaphore.release()
            raise

    def release(self) -> None:
        assert self._semaphore is not None
        self._semaphore.release()


class Gateway:
    """Calls `model` through the cache, the budget and the limiter; see the module docstring."""

    def __init__(
        self,
        model: ChatModel,
        *,
        prices: PriceTable,
        budget: Budget,
        cache: Cache | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.model = model
        self.prices = prices
        self.budget = budget
        self.cache = cache
        self.limiter = limiter or RateLimiter()
        self.calls = 0
        self.cache_hits = 0
        self._in_flight: dict[str, asyncio.Future[Answer]] = {}
        self._settled = asyncio.Condition()

    def key(self, request: Request) -> str:
        """The cache key: sha256 of the model name, messages and parameters (never a credential)."""
        material = json.dumps(request.key_material(self.model.name), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def worst_case_usd(self, request: Request) -> float:
        """The most `request` can cost: prompt bytes as prompt tokens plus `max_tokens` of output."""
        return self.prices.cost(self.model.name, prompt_bytes(request.messages), request.max_tokens)

    async def ask(self, request: Request) -> Answer:
        """Answer `request`; raises `BudgetError` before spending, or the model's own error. Identical requests
        in flight at once share one call (single flight): the others get its answer as a cached one."""
        key = self.key(request)
        if self.cache is not None and (hit := self.cache.cached_call(key)) is not None:
            self.cache_hits += 1  # bought earlier in this run (an attempt that crashed, or an identical prompt)
            return Answer(completion_from_json(hit[0]), hit[1], cached=True)
        if key in self._in_flight:
            first = await asyncio.shield(self._in_flight[key])
            self.cache_hits += 1
            return Answer(first.completion, first.cost_usd, cached=True)
        flight: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = flight
        try:
            answer = await self._buy(key, request)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                flight.cancel()
            else:
                flight.set_exception(exc)
                flight.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            del self._in_flight[key]
        flight.set_result(answer)
        return answer

    async def _reserve(self, worst: float) -> Reservation:
        """Hold `worst` USD of the budget, waiting while calls in flight hold what it needs (their holds shrink
        to their real costs as they settle); `BudgetError` when it can never fit."""
        while True:
            try:
                return self.budget.reserve(worst)
            except BudgetError:
                if not self.budget.fits_later(worst):  # spent for good: this call can never be paid
                    raise
            async with self._settled:  # no await between the failed hold and the wait: no settle is missed
                await self._settled.wait()

    async def _buy(self, key: str, request: Request) -> Answer:
        """One paid call: reserve the worst case, respect the limiter, settle the real cost, store the answer."""
        worst = self.worst_case_usd(request)
        reservation = await self._reserve(worst)
        cost = 0.0
        try:
            await self.limiter.acquire(prompt_bytes(request.messages))
            try:
                self.calls += 1
                cost = worst  # a failure once the request is sent may have been charged: its worst case
                completion = await self.model.complete(request)
            except UnbilledError:
                cost = 0.0
                raise
            finally:
                self.limiter.release()
            cost = self.prices.cost(self.model.name, completion.prompt_tokens, completion.completion_tokens)
        finally:
            self.budget.settle(reservation, cost)
            async with self._settled:
                self._settled.notify_all()  # calls waiting for budget may fit now
        if self.cache is not None:
            tokens = (completion.prompt_tokens, completion.completion_tokens)
            self.cache.store_call(key, request.purpose, completion_json(completion), tokens, cost)
        return Answer(completion, cost, cached=False)


def completion_json(completion: Completion) -> str:
    """A completion as JSON, for the cache."""
    return json.dumps(asdict(completion), ensure_ascii=False)


def completion_from_json(text: str) -> Completion:
    return Completion(**json.loads(text))
