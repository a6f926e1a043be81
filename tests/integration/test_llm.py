"""The LLM layer against a real Chat Completions server on localhost, through the official openai SDK."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from autoannotator.errors import BudgetError
from autoannotator.llm import Budget, Gateway, OpenAIChat, RateLimiter, Request, load_prices
from autoannotator.read.task import load_task
from autoannotator.review import HardRow, LLMReviewer, parse_label
from autoannotator.testing import ChatServer, Fault

TASK = load_task("sentiment-2")


def by_keyword(messages: list[dict[str, str]]) -> str:
    """Answers like a sensible model: positive when the last text mentions 'good'."""
    text = messages[-1]["content"]
    return json.dumps({"label": "positive" if "good" in text else "negative"})


def reviewer(
    server: ChatServer,
    *,
    budget: float | None = None,
    strategy: str = "zero-shot",
    timeout: float = 5.0,
    max_retries: int = 3,
) -> LLMReviewer:
    model = OpenAIChat(
        "gpt-4o-mini", base_url=server.base_url, api_key="sk-test-secret", timeout=timeout, max_retries=max_retries
    )
    gateway = Gateway(model, prices=load_prices(), budget=Budget(budget), limiter=RateLimiter(concurrency=4))
    return LLMReviewer(gateway, TASK, strategy=strategy)


ROWS = [HardRow(i, f"row {i} is {'good' if i % 2 else 'bad'}", {}, None) for i in range(6)]


def test_zero_shot_review_sends_the_task_and_reads_the_label() -> None:
    with ChatServer(by_keyword) as server:
        r = reviewer(server)
        verdicts = r.review(ROWS)
        r.close()
    assert [v.label for v in verdicts] == ["negative", "positive"] * 3
    assert all(v.status == "ok" and v.prompt_tokens > 0 and v.cost_usd > 0 for v in verdicts)
    first = server.requests[0]
    assert first["model"] == "gpt-4o-mini"
    assert first["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"] == [
        "negative",
        "positive",
    ]
    assert "negative" in first["messages"][0]["content"]
    assert first["headers"]["authorization"] == "Bearer sk-test-secret"


@pytest.mark.parametrize("fault", ["429", "500", "503", "reset", "timeout"])
def test_transient_faults_are_retried(fault: Fault) -> None:
    with ChatServer(by_keyword, faults=lambda n: fault if n == 0 else None, timeout_s=2.0) as server:
        r = reviewer(server, timeout=0.5)
        start = time.monotonic()
        (verdict,) = r.review(ROWS[1:2])
        elapsed = time.monotonic() - start
        r.close()
    assert verdict.label == "positive" and verdict.status == "ok"
    assert len(server.requests) == 2
    if fault == "429":
        assert elapsed >= 1.0, "Retry-After: 1 was not honoured"


@pytest.mark.parametrize("fault", ["truncated", "not-json"])
def test_broken_bodies_are_asked_again_then_reported(fault: Fault) -> None:
    with ChatServer(by_keyword, faults=lambda n: fault) as server:
        r = reviewer(server, max_retries=0)
        (verdict,) = r.review(ROWS[:1])
        r.close()
    assert verdict.status == "error" and verdict.label is None
    assert verdict.reason
    assert len(server.requests) == 2


def test_out_of_vocabulary_answer_is_retried_once_then_invalid() -> None:
    answers = iter(['{"label": "meh"}', '{"label": "positive"}'])
    with ChatServer(lambda m: next(answers)) as server:
        r = reviewer(server)
        (fixed,) = r.review(ROWS[:1])
    assert fixed.label == "positive" and fixed.status == "ok"
    assert "not a valid answer" in server.requests[1]["messages"][-1]["content"]
    with ChatServer(lambda m: "I think it is fine") as server:
        r = reviewer(server)
        (bad,) = r.review(ROWS[:1])
        r.close()
    assert bad.status == "invalid" and bad.label is None and bad.raw == "I think it is fine"
    assert len(server.requests) == 2


def test_budget_stops_calls_before_spending_past_it() -> None:
    with ChatServer(by_keyword) as server:
        r = reviewer(server, budget=0.0008)
        verdicts = r.review([HardRow(i, f"row {i} is {'good' if i % 2 else 'bad'}", {}, None) for i in range(60)])
        r.close()
    spent = sum(v.cost_usd for v in verdicts)
    assert spent <= 0.0008
    assert {v.status for v in verdicts} == {"ok", "budget"}
    assert len(server.requests) == sum(v.status == "ok" for v in verdicts)


def test_parse_label() -> None:
    labels = ("negative", "positive")
    assert parse_label('{"label": "Positive"}', labels) == ("positive", None)
    assert parse_label('```json\n{"rationale": "r", "label": "negative"}\n```', labels) == ("negative", "r")
    assert parse_label("positive.", labels) == ("positive", None)
    assert parse_label('{"label": "positive-ish"}', labels) == (None, None)
    assert parse_label("", labels) == (None, None)


class FakeModel:
    """In-process model with random token counts up to max_tokens, answering after a random delay."""

    name = "gpt-4o-mini"

    def __init__(self, seed: int) -> None:
        import random

        self.random = random.Random(seed)

    async def complete(self, request: Request) -> Any:
        from autoannotator.llm import Completion

        await asyncio.sleep(self.random.random() / 100)
        prompt = sum(len(m["content"]) for m in request.messages) // 4
        return Completion("positive", prompt, self.random.randint(1, request.max_tokens), self.name)


@pytest.mark.parametrize("seed", range(5))
def test_concurrent_calls_never_exceed_the_budget(seed: int) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=15, deadline=None)
    @given(limit=st.floats(0.0, 0.002), n=st.integers(1, 60), size=st.integers(1, 2000))
    def check(limit: float, n: int, size: int) -> None:
        budget = Budget(limit)
        gateway = Gateway(
            FakeModel(seed), prices=load_prices(), budget=budget, limiter=RateLimiter(concurrency=16)
        )

        async def one(i: int) -> float:
            request = Request(({"role": "user", "content": "x" * size + str(i)},), max_tokens=64)
            try:
                return (await gateway.ask(request)).cost_usd
            except BudgetError:
                return 0.0

        async def run() -> list[float]:
            return list(await asyncio.gather(*(one(i) for i in range(n))))

        costs = asyncio.run(run())
        assert sum(costs) <= limit + 1e-12
        assert budget.spent == pytest.approx(sum(costs))
        assert budget.reserved == pytest.approx(0.0, abs=1e-12)

    check()


def test_identical_prompts_in_flight_share_one_call() -> None:
    """Single flight: 5 copies of each of 3 prompts asked at once are 3 calls, paid once each; the copies
    are answered as cached, with the same completion."""
    with ChatServer(lambda messages: json.dumps({"label": "positive"}), delay_s=0.2) as server:
        budget = Budget(None)
        gateway = Gateway(OpenAIChat("gpt-4o-mini", base_url=server.base_url, api_key="x"),
                          prices=load_prices(), budget=budget)  # fmt: skip

        async def run() -> list[Any]:
            asks = [Request(({"role": "user", "content": f"prompt {i % 3}"},)) for i in range(15)]
            return list(await asyncio.gather(*(gateway.ask(r) for r in asks)))

        answers = asyncio.run(run())
    assert len(server.requests) == 3 and gateway.calls == 3
    assert sum(not a.cached for a in answers) == 3 and gateway.cache_hits == 12
    assert budget.spent == pytest.approx(sum(a.cost_usd for a in answers if not a.cached))
    assert {a.completion.text for a in answers} == {json.dumps({"label": "positive"})}


def test_rate_limiter_spaces_requests() -> None:
    """3 calls a minute: a burst of 3 goes at once, the 4th waits (the bucket leaks 1 call per 20 s)."""
    limiter = RateLimiter(concurrency=2, rpm=3)

    async def times() -> tuple[list[float], bool]:
        start = time.monotonic()
        for _ in range(3):
            await limiter.acquire(1)
            limiter.release()
        burst = [time.monotonic() - start]
        fourth = asyncio.ensure_future(limiter.acquire(1))
        await asyncio.sleep(1.0)
        waiting = not fourth.done()
        fourth.cancel()
        return burst, waiting

    burst, waiting = asyncio.run(times())
    assert burst[0] < 1.0 and waiting


def test_price_table_matches_dated_names(tmp_path: Path) -> None:
    prices = load_prices()
    assert prices.cost("gpt-3.5-turbo", 1_000_000, 1_000_000) == pytest.approx(2.0)
    assert prices.price("gpt-4o-mini-2024-07-18") == prices.price("gpt-4o-mini")
    assert prices.cost("some-local-model", 10**6, 10**6) == 0.0


@pytest.mark.parametrize("strategy", ["zero-shot", "cot"])
def test_text_is_sent_verbatim_never_formatted_or_evaluated(strategy: str) -> None:
    hostile = "{task} {labels[0]} {{7*7}} ${HOME} %s __import__('os').system('x') <|im_end|> =1+1"
    with ChatServer(by_keyword) as server:
        r = reviewer(server, strategy=strategy)
        (verdict,) = r.review([HardRow(0, hostile, {}, None)])
        r.close()
    assert verdict.status == "ok"
    assert hostile in server.requests[0]["messages"][-1]["content"]
