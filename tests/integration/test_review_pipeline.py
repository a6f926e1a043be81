"""Hard rows reviewed end to end: the CLI, a real localhost Chat Completions server, the ledger's cache."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

from autoannotator.testing import ChatServer, read_jsonl
from entry import run_cli as cli

SECRET = "sk-test-never-written-anywhere-42"


def by_keyword(messages: list[dict[str, str]]) -> str:
    text = messages[-1]["content"].lower()
    good = any(w in text for w in ("good", "great", "love", "excellent", "best", "nice"))
    return json.dumps({"label": "positive" if good else "negative"})


def run_cli(server: ChatServer, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": SECRET}
    return cli("annotate", *args, env=env)


def test_hard_rows_go_to_the_llm_and_a_rerun_costs_nothing(example_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    args: list[str | Path] = [
        example_csv,
        "--task",
        "sentiment-2",
        "--out",
        out,
        "--llm",
        "openai:gpt-4o-mini",
        "--quiet",
    ]
    with ChatServer(by_keyword) as server:
        result = run_cli(server, *args)
        first_calls = len(server.requests)
        rows = read_jsonl(out)
        hard = [r for r in rows if r["source"] != "consensus"]
        assert hard and first_calls == len(hard)
        assert {r["source"] for r in hard} == {"llm"}
        for row in hard:
            assert row["label"] == json.loads(by_keyword([{"content": f"Text:\n{row['text']}"}]))["label"]
            assert row["tokens"] > 0 and row["cost_usd"] > 0 and row["review"] == "ok"
        assert "$" in result.stderr and "llm" in result.stderr

        out.unlink()
        run_cli(server, *args, "--resume")
        assert len(server.requests) == first_calls, "a rerun must be served from the cache"
        assert read_jsonl(out) == rows

    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_budget_leaves_the_rest_unresolved(example_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    with ChatServer(by_keyword) as server:
        run_cli(
            server,
            example_csv,
            "--task",
            "sentiment-2",
            "--out",
            out,
            "--llm",
            "openai:gpt-4o-mini",
            "--budget-usd",
            "0.0005",
            "--quiet",
        )
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    spent = sum(float(r["cost_usd"] or 0) for r in rows)
    assert 0 < spent <= 0.0005
    reviews = {r["review"] for r in rows if r["source"] != "consensus"}
    assert reviews == {"ok", "budget"}
    # a hard row the budget did not reach stays unresolved (an audit row keeps its consensus label)
    assert all(r["label"] == "" for r in rows if r["review"] == "budget" and r["source"] != "consensus")
    assert any(r["review"] == "budget" and r["source"] == "unresolved" for r in rows)


def test_few_shot_prompts_carry_retrieved_agreed_rows(example_csv: Path, tmp_path: Path) -> None:
    with ChatServer(by_keyword) as server:
        run_cli(
            server,
            example_csv,
            "--task",
            "sentiment-2",
            "--out",
            tmp_path / "o.jsonl",
            "--llm",
            "openai:gpt-4o-mini",
            "--review",
            "few-shot",
            "--routing",
            "rule",  # the paper's gate: agreed rows from the first batch on (trust needs 100 audited rows)
            "--quiet",
            "--batch-size",
            "100",
        )
    last = server.requests[-1]["messages"]
    shots = [m for m in last[1:-1] if m["role"] == "user"]
    assert len(shots) >= 10 + 4  # the task's 10 examples plus 4 retrieved agreed rows
    agreed = {r["text"] for r in read_jsonl(tmp_path / "o.jsonl") if r["source"] == "consensus"}
    assert {s["content"].removeprefix("Text:\n") for s in shots[-4:]} <= agreed


def test_replay_of_gpt35_on_offensive_tweets(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "tweeteval-offensive" / "test.csv"
    replay = shared_data / "llm-replay" / "tweeteval-offensive-test.csv"
    out = tmp_path / "o.jsonl"
    result = cli(
        "annotate",
        data,
        "--task",
        "toxicity",
        "--out",
        out,
        "--review",
        f"replay:{replay}#gpt-3.5-turbo|zero-shot; default",
        "--routing",
        "rule",
        "--quiet",
    )
    rows = read_jsonl(out)
    gold = [r["label"] for r in csv.DictReader(data.open(encoding="utf-8", newline=""))]
    assert len(rows) == 860
    accuracy = sum(r["label"] == g for r, g in zip(rows, gold, strict=True)) / 860
    llm_rows = [r for r in rows if r["source"] == "llm"]
    assert 0.1 < len(llm_rows) / 860 < 0.3
    assert accuracy >= 0.80, accuracy
    assert all(r["tokens"] > 0 for r in llm_rows)
    assert "tokens" in result.stderr and "$" in result.stderr
