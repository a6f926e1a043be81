"""The command line end to end, as a user runs it: real specialists, real SQLite ledger, real files."""

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
from typing import Any

import pyarrow.parquet as pq
import pytest

from autoannotator import RunConfig, annotate, load_task
from autoannotator.specialists import ZOO
from autoannotator.testing import read_jsonl
from entry import run_cli
from faults import write_rows

SOURCES = {"consensus", "llm", "human", "unresolved"}


def cli(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the CLI; `annotate` gets ``--review none`` unless the test names a reviewer (the LLM path has its own
    tests)."""
    if args[0] == "annotate" and "--review" not in args:
        args = (*args, "--review", "none")
    return run_cli(*args, check=check)


def test_annotate_bundled_example_end_to_end(example_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    result = cli(
        "annotate",
        example_csv,
        "--task",
        "sentiment-2",
        "--out",
        out,
        "--specialists",
        "vader,textblob,afinn,minilm",
    )
    assert "300 rows" in result.stderr
    rows = read_jsonl(out)
    gold = [r["label"] for r in csv.DictReader(example_csv.open(encoding="utf-8", newline=""))]
    assert len(rows) == 300 and len({r["id"] for r in rows}) == 300
    assert set(rows[0]) == {
        "id",
        "text",
        "label",
        "confidence",
        "source",
        "best_guess",
        "votes",
        "agreement",
        "stage",
        "review",
        "rationale",
        "tokens",
        "cost_usd",
        "input_label",  # the example's gold label and source columns, kept (their names are output columns)
        "input_source",
    }
    assert [r["input_label"] for r in rows] == gold
    for row in rows:
        assert row["source"] in SOURCES
        assert set(row["votes"]) == {"vader", "textblob", "afinn", "minilm"}
        if row["source"] == "consensus":
            assert row["label"] == row["best_guess"] and row["agreement"] == 1.0
            assert 0.5 <= row["confidence"] <= 1.0
        else:
            assert row["label"] is None and row["confidence"] is None
    consensus = [(r["label"], g) for r, g in zip(rows, gold, strict=True) if r["source"] == "consensus"]
    assert len(consensus) > 100
    assert sum(a == b for a, b in consensus) / len(consensus) > 0.8  # easy review sentences
    ledger = sqlite3.connect(tmp_path / "labels.jsonl.run" / "ledger.sqlite")
    assert ledger.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 300 * 4
    assert ledger.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    config = json.loads(ledger.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
    assert config["specialists"] == ["vader", "textblob", "afinn", "minilm"]
    versions = json.loads(ledger.execute("SELECT value FROM meta WHERE key='versions'").fetchone()[0])
    assert versions["specialist:vader"] == "3.3.2"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_csv_and_parquet_outputs_match_jsonl(example_csv: Path, tmp_path: Path, suffix: str) -> None:
    cli("annotate", example_csv, "--task", "sentiment-2", "--out", tmp_path / "a.jsonl", "--quiet")
    cli("annotate", example_csv, "--task", "sentiment-2", "--out", tmp_path / f"a{suffix}", "--quiet")
    expected = read_jsonl(tmp_path / "a.jsonl")
    if suffix == ".csv":
        got: list[dict[str, Any]] = list(csv.DictReader((tmp_path / "a.csv").open(encoding="utf-8", newline="")))
    else:
        got = pq.read_table(tmp_path / "a.parquet").to_pylist()
    assert [g["id"] for g in got] == [e["id"] for e in expected]
    assert [json.loads(str(g["votes"])) for g in got] == [e["votes"] for e in expected]
    assert [g["label"] or None for g in got] == [e["label"] for e in expected]


def test_models_lists_the_zoo() -> None:
    listing = cli("models").stdout
    for name in ZOO:
        assert name in listing
    cards = json.loads(cli("models", "--json").stdout)
    assert [c["name"] for c in cards] == list(ZOO)
    assert {c["output"] for c in cards} == {"score", "proba"}


def test_bad_rows_are_skipped_with_reasons_and_the_rest_labelled(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_bytes(b"key,text\na,I love it\nb,\nc,caf\xe9 bad bytes\na,duplicate id\nd,I hate it\n")
    task = tmp_path / "task.yaml"
    task.write_text(
        "name: t\nid_field: key\nlabels: [{name: negative}, {name: positive}]\n"
        "specialists: {vader: null, afinn: null}\n",
        encoding="utf-8",
    )
    out = tmp_path / "o.jsonl"
    result = cli("annotate", data, "--task", task, "--out", out, "--quiet")
    assert "3 skipped" in result.stderr
    assert [r["id"] for r in read_jsonl(out)] == ["a", "d"]
    skipped = read_jsonl(tmp_path / "o.skipped.jsonl")
    assert skipped == [
        {"row": 3, "id": "b", "field": "text", "reason": "empty or whitespace-only text"},
        {"row": 4, "id": "c", "field": "text", "reason": "not valid UTF-8"},
        {"row": 5, "id": "a", "field": "id", "reason": "duplicate id"},
    ]  # as a spreadsheet numbers them (the header is row 1), as import and --calibration errors do


@pytest.mark.parametrize(
    ("content", "task_text", "message"),
    [
        (b"body\nhello\n", None, "no column 'text'"),
        (b"", None, "empty file"),
        (
            b"text\nhello\n",
            "name: t\nlabels: [{name: a}, {name: b}]\nexamples: [{text: x, label: c}]\n",
            "examples #1.label: unknown label 'c'",
        ),
        (
            b"text\nhello\n",
            "name: t\nlabels: [{name: up}, {name: down}]\nspecialists: {vader: null}\n",
            "no native label",
        ),
        (b"text\nhello\n", "name: t\nlabels: [{name: a}, {name: b}]\n", "names no specialists"),
        (b"text\nhello\n", "\xff\xfe", "cannot read task file"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(
    tmp_path: Path, content: bytes, task_text: str | None, message: str
) -> None:
    data = tmp_path / "in.csv"
    data.write_bytes(content)
    task: str | Path = "sentiment-2"
    if task_text is not None:
        task = tmp_path / "task.yaml"
        task.write_bytes(task_text.encode("latin-1"))
    out = tmp_path / "o.jsonl"
    result = cli("annotate", data, "--task", task, "--out", out, "--quiet", check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_existing_run_needs_resume_and_resume_needs_the_same_config(example_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    cli("annotate", example_csv, "--task", "sentiment-2", "--out", out, "--quiet")
    again = cli("annotate", example_csv, "--task", "sentiment-2", "--out", out, "--quiet", check=False)
    assert again.returncode == 2 and "--resume" in again.stderr
    other = cli(
        "annotate",
        example_csv,
        "--task",
        "sentiment-2",
        "--out",
        out,
        "--quiet",
        "--resume",
        "--specialists",
        "vader,afinn",
        check=False,
    )
    assert other.returncode == 2 and "cannot resume: --specialists differ" in other.stderr
    before = out.read_bytes()
    cli("annotate", example_csv, "--task", "sentiment-2", "--out", out, "--quiet", "--resume")
    assert out.read_bytes() == before


def test_python_api_reports_progress(example_csv: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int, int]] = []
    result = annotate(
        RunConfig(input=example_csv, task=load_task("sentiment-2"), batch_size=128),
        out=tmp_path / "o.parquet",
        run_dir=tmp_path / "run",
        progress=lambda *a: seen.append(a),
    )
    assert [s[0] for s in seen] == [100, 228, 300]  # batches of 100, then 128 (200 capped by --batch-size)
    assert seen[-1][1] == seen[-1][2] == example_csv.stat().st_size
    assert result.rows == 300 and result.counts["consensus"] + result.counts["unresolved"] == 300
    assert set(result.specialist_seconds) == {"vader", "textblob", "afinn", "minilm-sentiment", "minilm"}


def committed(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    try:
        with sqlite3.connect(ledger, timeout=1) as db:
            return int(db.execute("SELECT COALESCE(MAX(next_pos), 0) FROM batches").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    data = tmp_path / "reviews.csv"
    write_rows(data, 2000)
    args = [
        "--task",
        "sentiment-3",
        "--specialists",
        "vader,textblob,afinn,minilm",
        "--batch-size",
        "100",
        "--quiet",
        "--review",
        "none",
    ]
    cli("annotate", data, "--out", tmp_path / "whole.jsonl", *args)

    out, run = tmp_path / "killed.jsonl", tmp_path / "killed.run"
    ledger = run / "ledger.sqlite"
    for kills, target in enumerate((300, 900, 1500)):
        resume = ["--resume"] if kills else []
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autoannotator",
                "annotate",
                str(data),
                "--out",
                str(out),
                "--run-dir",
                str(run),
                *args,
                *resume,
            ],
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while committed(ledger) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert target <= committed(ledger) < 2000
        assert not out.exists()
    cli("annotate", data, "--out", out, "--run-dir", run, *args, "--resume")
    assert out.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
    with sqlite3.connect(ledger) as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT pos) FROM labels").fetchone() == (2000, 2000)
        assert db.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 2000 * 4
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
