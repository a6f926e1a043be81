"""The OpenAI Batch API reviewer against a local server that speaks the Files and Batches endpoints the
official SDK uses: late, failed and expired jobs; the batch price; a run killed while a job is in flight."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autoannotator.llm import load_prices
from autoannotator.testing import read_jsonl
from autoannotator.testing.batches import BatchServer
from entry import run_cli


def answer(messages: list[dict[str, str]]) -> str:
    """positive / negative by keyword; 'banana' (no task label) for texts ending in 7 (asked again: still)."""
    text = next(m["content"] for m in reversed(messages) if m["content"].startswith("Text:"))
    if text.rstrip().endswith("7"):
        return json.dumps({"label": "banana"})
    return json.dumps({"label": "positive" if "good" in text else "negative"})


def rows(folder: Path, n: int) -> Path:
    path = folder / "rows.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        writer.writerows([[f"{'good' if i % 3 else 'bad'} thing number {i}"] for i in range(n)])
    return path


def args(data: Path, out: Path) -> list[str]:
    return ["annotate", str(data), "--task", "sentiment-2", "--specialists", "none", "--llm",
            "openai:gpt-4o-mini", "--review", "zero-shot", "--batch-api", "--batch-poll-s", "0.05", "--out",
            str(out), "--quiet"]  # fmt: skip


def env(server: BatchServer) -> dict[str, str]:
    return {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "test-key"}


@pytest.mark.slow
def test_two_thousand_hard_rows_at_half_the_price_every_row_accounted_for(tmp_path: Path) -> None:
    data, out = rows(tmp_path, 2000), tmp_path / "out.jsonl"
    with BatchServer(answer, polls=3) as server:
        run_cli(*args(data, out), env=env(server))
    labelled = read_jsonl(out)
    assert len(labelled) == 2000
    for row in labelled:
        if row["text"].endswith("7"):
            assert (row["source"], row["review"]) == ("unresolved", "invalid")
        else:
            assert row["label"] == ("positive" if "good" in row["text"] else "negative") and row["source"] == "llm"
    assert len(server.jobs) == 10  # per batch (100, 200, 400, 800, 500 rows): one job + a retry
    with sqlite3.connect(tmp_path / "out.jsonl.run" / "ledger.sqlite") as db:
        calls = db.execute("SELECT prompt_tokens, completion_tokens, cost_usd FROM llm_calls").fetchall()
    prices = load_prices()
    interactive = sum(prices.cost("gpt-4o-mini", p, c) for p, c, _ in calls)
    assert sum(cost for _, _, cost in calls) == pytest.approx(interactive / 2)
    assert max(server.billed.values()) == 1  # no request paid twice


@pytest.mark.slow
def test_expired_jobs_are_asked_again_then_reported_and_a_failed_one_stops_the_run(tmp_path: Path) -> None:
    data, out = rows(tmp_path, 150), tmp_path / "out.jsonl"
    with BatchServer(answer, polls=1, outcomes=["expired", "expired"]) as server:
        run_cli(*args(data, out), env=env(server))
    labelled = read_jsonl(out)
    for row in labelled:
        if row["source"] == "llm":
            assert row["label"] == ("positive" if "good" in row["text"] else "negative")
        else:
            assert row["source"] == "unresolved" and row["review"] in ("error", "invalid")
    # first batch (100 rows): the expired job's first half answered, half the rest in the retry job, which
    # expired too: a quarter error; both batches: the 'banana' answers asked again and still invalid
    assert {r["review"] for r in labelled[:100]} == {"ok", "error", "invalid"}
    assert 0 < sum(r["review"] == "error" for r in labelled[:100]) < 50  # fewer than half: reported, not a stop
    assert {r["review"] for r in labelled[100:]} == {"ok", "invalid"}
    assert [job["outcome"] for job in server.jobs.values()][:2] == ["expired", "expired"]
    with sqlite3.connect(tmp_path / "out.jsonl.run" / "ledger.sqlite") as db:
        reasons = {r for (r,) in db.execute("SELECT reason FROM reviews WHERE status = 'error'")}
    assert reasons and all("batch_expired" in r for r in reasons)
    failing = tmp_path / "failing.jsonl"
    with BatchServer(answer, polls=1, outcomes=["expired", "failed"]) as server:  # most of a batch fails
        stopped = run_cli(*args(data, failing), env=env(server), check=False)
    assert stopped.returncode == 2 and "failed on 53 of the 100 rows" in stopped.stderr
    assert "batch failed" in stopped.stderr and "--resume" in stopped.stderr
    with BatchServer(answer, polls=1) as server:
        run_cli(*args(data, failing), "--resume", env=env(server))
    assert {r["review"] for r in read_jsonl(failing)} == {"ok", "invalid"}


@pytest.mark.slow
def test_a_run_killed_while_a_job_is_in_flight_reattaches_and_pays_nothing_twice(tmp_path: Path) -> None:
    data, out = rows(tmp_path, 300), tmp_path / "out.jsonl"
    with BatchServer(answer, polls=40) as server:
        command = [sys.executable, "-m", "autoannotator", *args(data, out)]
        run = subprocess.Popen(command, env=env(server), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not server.jobs and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        assert len(server.jobs) == 1 and not server.billed  # in flight, nothing answered yet
        server.polls = 1
        run_cli(*args(data, out), "--resume", env=env(server))
    # the job in flight re-attached, not submitted again: it, its retry job, the other rows' job and its retry
    assert len(server.jobs) == 4 and "output" in server.jobs["batch_0"]  # the first job was read after all
    assert max(server.billed.values()) == 1
    assert len(read_jsonl(out)) == 300


def test_an_endpoint_without_the_batch_api_is_one_line(tmp_path: Path) -> None:
    """A Chat Completions server that has no Files endpoint: the run stops with one line, no traceback."""
    from autoannotator.testing import ChatServer

    data, out = rows(tmp_path, 20), tmp_path / "out.jsonl"
    with ChatServer(answer) as server:
        environment = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "k"}
        # a child process: the server's own thread logs the missing endpoint on this process's stderr
        result = run_cli(*args(data, out), env=environment, check=False, child=True)
    assert result.returncode == 2 and "the Batch API failed" in result.stderr
    assert "Traceback" not in result.stderr
