"""`--train-budget-s`: a learning stage trains the specialists whose estimated training (from their last one,
cross-fitting included) fits the budget, keeps the others as they are, records and says which."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from autoannotator.learn.stages import over_budget
from entry import run_cli
from weak_reviewer import weak_answers

pytestmark = pytest.mark.slow


def test_the_cheapest_fit_first_and_a_first_training_always_runs() -> None:
    estimates: dict[str, float | None] = {"slow": 250.0, "fast": 20.0, "mid": 90.0, "new": None}
    assert over_budget(estimates, 120.0) == {"slow": 250.0}  # fast + mid fit; new has no estimate yet
    assert over_budget(estimates, 10.0) == {"fast": 20.0, "mid": 90.0, "slow": 250.0}
    assert over_budget(estimates, None) == {}


def trainings(run: Path) -> list[tuple[int, str, int, float | None]]:
    with sqlite3.connect(run / "ledger.sqlite") as db:
        return db.execute(
            "SELECT stage, specialist, promoted, skipped FROM trainings ORDER BY stage, specialist"
        ).fetchall()


def test_a_stage_over_the_budget_keeps_the_versions_and_says_so(example_csv: Path, tmp_path: Path) -> None:
    weak = f"replay:{weak_answers(example_csv, tmp_path)}"

    def args(out: Path, run: Path) -> tuple[str | Path, ...]:
        return ("annotate", example_csv, "--task", "sentiment-2", "--specialists", "vader,textblob,tfidf,minilm",
                "--review", weak, "--out", out, "--run-dir", run, "--warmup", "30", "--rows-per-stage", "30",
                "--batch-size", "50", "--quiet")  # fmt: skip

    out, run = tmp_path / "o.jsonl", tmp_path / "run"
    done = run_cli(*args(out, run), "--train-budget-s", "0.001")
    found = trainings(run)
    first = [t for t in found if t[0] == 1]
    later = [t for t in found if t[0] > 1]
    assert {t[1] for t in first} == {"minilm", "tfidf"} and all(t[3] is None for t in first)  # no estimate yet
    assert later and all(t[3] is not None and t[3] > 0 and not t[2] for t in later)
    stages = len({t[0] for t in found})
    said = " ".join(done.stderr.split())
    assert f"kept their last version: minilm at {stages - 1} of {stages} stages" in said, said
    report = run_cli("eval", out, "--run-dir", run)
    assert "skipped (estimated" in report.stdout
    other = run_cli(
        *args(out, run), "--resume", "--train-budget-s", "5", check=False
    )  # the decisions depend on it
    assert other.returncode == 2 and "--train-budget-s" in other.stderr
    again, rerun = tmp_path / "again.jsonl", tmp_path / "again"  # the default budget: nothing skipped here
    run_cli(*args(again, rerun))
    assert trainings(rerun) and all(t[3] is None for t in trainings(rerun))
