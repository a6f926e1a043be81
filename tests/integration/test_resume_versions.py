"""A run started by the previous release resumes with this one. The fixture is a real ledger: release 0.1.0
(commit c146e3e) labelling the bundled example with vader, afinn and tfidf in batches of 100, killed with
SIGKILL after its first batch (see tests/fixtures/runs/README.md)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from entry import run_cli

pytestmark = pytest.mark.slow
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "0.1.0" / "ledger.sqlite"
ARGS = ("--task", "sentiment-2", "--specialists", "vader,afinn,tfidf", "--batch-size", "100", "--quiet")


def test_a_run_of_the_previous_release_moved_here_resumes_to_the_uninterrupted_output(
    example_csv: Path, tmp_path: Path
) -> None:
    data = tmp_path / "moved" / "in.csv"  # the same file, in another folder than the run knew
    data.parent.mkdir()
    shutil.copyfile(example_csv, data)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(FIXTURE, run / "ledger.sqlite")
    with sqlite3.connect(run / "ledger.sqlite") as db:
        before = db.execute("SELECT pos, label, source FROM labels ORDER BY pos").fetchall()
    assert len(before) == 100
    resumed, fresh = tmp_path / "resumed.jsonl", tmp_path / "fresh.jsonl"
    run_cli("annotate", data, *ARGS, "--out", resumed, "--run-dir", run, "--resume")
    run_cli("annotate", data, *ARGS, "--out", fresh, "--run-dir", tmp_path / "fresh")
    assert resumed.read_bytes() == fresh.read_bytes()
    with sqlite3.connect(run / "ledger.sqlite") as db:
        assert (
            db.execute("SELECT pos, label, source FROM labels WHERE pos < 100 ORDER BY pos").fetchall() == before
        )
        assert db.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 300
