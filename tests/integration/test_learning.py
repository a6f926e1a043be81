"""Staged continual learning end to end: reviewed rows train the trainable specialists, stage by stage."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from autoannotator.testing import read_jsonl
from autoannotator.trust.acceptance import TrustConfig
from entry import run_cli


def args_for(shared_data: Path, out: Path, run: Path) -> list[str]:
    data = shared_data / "tweeteval-offensive" / "test.csv"
    replay = shared_data / "llm-replay" / "tweeteval-offensive-test.csv"
    return [
        sys.executable,
        "-m",
        "autoannotator",
        "annotate",
        str(data),
        "--task",
        "toxicity",
        "--out",
        str(out),
        "--run-dir",
        str(run),
        "--specialists",
        "profanity-check,hatesonar,tfidf",
        "--review",
        f"replay:{replay}#gpt-3.5-turbo|zero-shot; default",
        "--rows-per-stage",
        "30",
        "--warmup",
        "30",
        "--replay-buffer",
        "100",
        "--batch-size",
        "50",
        "--relabel-final",
        "--quiet",
    ]


@pytest.fixture(scope="module")
def whole(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(output, run folder) of an uninterrupted run with staged learning on the offensive tweets."""
    folder = tmp_path_factory.mktemp("whole")
    out, run = folder / "o.jsonl", folder / "run"
    result = subprocess.run(
        args_for(shared_data, out, run), capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stderr
    return out, run


def test_the_cold_specialist_learns_in_stages(whole: tuple[Path, Path]) -> None:
    out, run = whole
    rows = read_jsonl(out)
    stages = [r["stage"] for r in rows]
    assert stages == sorted(stages) and stages[0] == 0 and stages[-1] >= 2
    assert all(r["votes"]["tfidf"]["label"] is None for r in rows if r["stage"] == 0)  # cold start abstains
    assert any(r["votes"]["tfidf"]["label"] is not None for r in rows if r["stage"] > 0)
    with sqlite3.connect(run / "ledger.sqlite") as db:
        trainings = db.execute("SELECT stage, val_rows, train_rows, promoted, path FROM trainings").fetchall()
    assert [t[0] for t in trainings] == list(range(1, len(trainings) + 1))
    assert trainings[0][3] == 1  # the first version beats a cold start
    for _, val_rows, train_rows, _, path in trainings:
        assert val_rows > 0 and train_rows > 0
        assert (Path(path) / "head.npz").is_file()
    reviewed = [(pos, r) for pos, r in enumerate(rows) if r["source"] == "llm"]
    held_out = sum(TrustConfig().held_out(r["id"], pos) for pos, r in reviewed)
    assert 0 < held_out < len(reviewed)
    head = json.loads((Path(trainings[-1][4]) / "specialist.json").read_text(encoding="utf-8"))
    assert head["featurizer"] == "tfidf+profanity-check+hatesonar"  # stacked on the fixed specialists


def test_relabel_final_reconsiders_earlier_consensus_rows_and_says_how(shared_data: Path, tmp_path: Path) -> None:
    data, replay = tmp_path / "tweets.csv", tmp_path / "answers.csv"
    with (shared_data / "tweeteval-sentiment" / "test.csv").open(encoding="utf-8", newline="") as f:
        tweets = list(csv.DictReader(f))[:1200]
    with data.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text", "label"], *([t["text"], t["label"]] for t in tweets)])
    with replay.open("w", encoding="utf-8", newline="") as f:  # a reviewer that answers the gold label
        columns = ["text", "llm_label", "model", "setting", "prompt_tokens", "completion_tokens", "raw_response"]
        csv.writer(f).writerows(
            [columns, *([t["text"], t["label"], "oracle", "gold", 50, 1, t["label"]] for t in tweets)]
        )
    out = tmp_path / "o.jsonl"
    result = run_cli(
        "annotate", data, "--task", "sentiment-3", "--specialists", "vader,minilm", "--review",
        f"replay:{replay}", "--rows-per-stage", "100", "--batch-size", "100", "--out", out, "--relabel-final",
        "--quiet",
        "--llm-share", "0.3",  # capped: vader labels early rows alone; the final vote weighs the trained head more
    )  # fmt: skip
    rows = read_jsonl(out)
    with sqlite3.connect(tmp_path / "o.jsonl.run" / "ledger.sqlite") as db:
        relabels = db.execute("SELECT old_label, new_label, stage FROM relabels").fetchall()
    (final,) = {s for _, _, s in relabels}  # all considered once, by the final versions
    relabelled = [r for r in rows if r["source"] == "relabelled"]
    earlier = [r for r in rows if r["source"] == "consensus" and r["stage"] < final]
    assert len(relabels) == len(relabelled) + len(earlier)
    changed = [(old, new) for old, new, _ in relabels if new is not None and new != old]
    assert len(changed) == len(relabelled) and len(relabels) > 0  # whether any changes depends on the data
    assert all(r["stage"] == final and r["label"] != r["best_guess"] for r in relabelled)
    counts = ", ".join(f"{old} -> {new}: {n:,}" for (old, new), n in sorted(Counter(changed).items())) or "none"
    assert f"{len(changed):,} labels relabelled at the end ({counts})" in " ".join(result.stderr.split())
    # the run's report: a row per stage with each specialist's agreement with the reviewer, the trainings
    run_cli("eval", out, "--gold", data)
    report = json.loads((tmp_path / "o.jsonl.report" / "report.json").read_text(encoding="utf-8"))
    assert report["gold"].get("relabelled", {"rows": 0})["rows"] == len(relabelled)
    assert [s["stage"] for s in report["stages"]] == sorted({r["stage"] for r in rows})
    assert set(report["stages"][0]["agreement"]) == {"vader", "minilm"}
    assert report["trainings"] and sum(report["relabelled"].values()) == len(relabelled)


def test_a_kill_during_learning_resumes_to_the_same_labels(
    shared_data: Path, whole: tuple[Path, Path], tmp_path: Path
) -> None:
    out, run = tmp_path / "o.jsonl", tmp_path / "run"
    proc = subprocess.Popen(args_for(shared_data, out, run), stderr=subprocess.DEVNULL)
    ledger = run / "ledger.sqlite"
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with sqlite3.connect(ledger, timeout=1) as db:
                if db.execute("SELECT COUNT(*) FROM trainings").fetchone()[0] >= 1:
                    break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(
        [*args_for(shared_data, out, run), "--resume"], capture_output=True, text=True, timeout=900, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    assert read_jsonl(out) == read_jsonl(whole[0])
