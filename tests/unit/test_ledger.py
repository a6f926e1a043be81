from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from autoannotator.errors import ConfigMismatchError, LedgerError
from autoannotator.ledger import Batch, Decision, Ledger, figures, output
from autoannotator.ledger.schema import MIGRATIONS
from autoannotator.ledger.store import differences
from autoannotator.run.config import migrate, options_of

CONFIG = {"labels": ["neg", "pos"], "specialists": ["a", "b"], "batch_size": 2}


def batch(index: int, positions: list[int], *, source: str = "consensus") -> Batch:
    n = len(positions)
    return Batch(
        index=index,
        first_pos=positions[0],
        next_pos=positions[-1] + 1,
        rows=[(p, f"id{p}", f"text {p}") for p in positions],
        skips=[],
        votes=np.array([[1, 1]] * n),
        probs=np.full((n, 2, 2), 0.5),
        decisions=[Decision(p, "pos", 0.9, source, "pos", 1.0, 0.8, False, 0) for p in positions],
        seconds={"a": 0.1, "b": 0.2},
    )


def started(path: Path) -> Ledger:
    ledger = Ledger(path).__enter__()
    ledger.begin_run(CONFIG, [("a", "{}", "null"), ("b", "{}", "null")], versions={"x": "1"}, resume=False)
    return ledger


def test_commits_advance_the_cursor_and_output_keeps_input_order(tmp_path: Path) -> None:
    ledger = started(tmp_path / "l.sqlite")
    assert ledger.next_pos() == 0
    ledger.commit(batch(0, [0, 1]))
    ledger.commit(batch(1, [2, 3]))
    assert (ledger.next_pos(), ledger.next_batch()) == (4, 2)
    rows = [r for chunk in output.labelled(ledger, chunk=3) for r in chunk]
    assert [r["id"] for r in rows] == ["id0", "id1", "id2", "id3"]
    assert rows[0]["votes"] == {"a": {"label": "pos", "prob": 0.5}, "b": {"label": "pos", "prob": 0.5}}
    assert ledger.known_ids(["id1", "zzz"]) == {"id1"}
    assert figures.seconds_by_specialist(ledger) == pytest.approx({"a": 0.2, "b": 0.4})


def test_a_failing_batch_leaves_nothing_behind(tmp_path: Path) -> None:
    ledger = started(tmp_path / "l.sqlite")
    ledger.commit(batch(0, [0, 1]))
    with pytest.raises(sqlite3.IntegrityError):
        ledger.commit(batch(1, [2, 3], source=None))  # type: ignore[arg-type]  # NOT NULL fails after rows, votes
    assert ledger.next_pos() == 2
    counts = [ledger.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("rows", "votes", "labels")]
    assert counts == [2, 4, 2]


def test_reopening_runs_no_migration_twice_and_checks_the_config(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    first = started(path)
    first.commit(batch(0, [0, 1]))
    first.__exit__()
    with Ledger(path) as ledger:
        applied = [n for (n,) in ledger.db.execute("SELECT name FROM migrations")]
        assert applied == [name for name, _ in MIGRATIONS]
        with pytest.raises(LedgerError, match="--resume"):
            ledger.begin_run(CONFIG, [], versions={}, resume=False)
        with pytest.raises(ConfigMismatchError, match=r"differs in batch_size;") as info:
            ledger.begin_run({**CONFIG, "batch_size": 3}, [], versions={}, resume=True)
        assert info.value.paths == ["batch_size"]
        ledger.begin_run(CONFIG, [], versions={}, resume=True)
        assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_run_that_committed_nothing_is_replaced_by_the_next(tmp_path: Path) -> None:
    """A run stopped before its first batch (bad input, a missing extra) must not block the retry."""
    path = tmp_path / "l.sqlite"
    started(path).__exit__()
    with Ledger(path) as ledger:
        ledger.begin_run({**CONFIG, "batch_size": 3}, [("c", "{}", "null")], versions={}, resume=False)
        assert ledger.meta("config")["batch_size"] == 3 and ledger.specialist_names() == ["c"]


def test_differences_name_the_leaves_that_differ() -> None:
    old = {"trust": {"share": 0.05, "target": None}, "batch_size": 10, "routing": "trust"}
    new = {"trust": {"share": 0.1, "target": None}, "batch_size": 10, "learning": None, "routing": "trust"}
    assert differences(old, new) == ["learning", "trust.share"]
    assert differences(old, old) == []
    assert options_of(["trust.share", "learning.warmup", "review.replay_model", "review.replay", "x.y"]) == [
        "--audit-share",
        "--warmup",
        "--review",
        "x.y",
    ]


def test_a_config_stored_before_the_renames_and_additions_migrates_to_what_its_run_did() -> None:
    old = {
        "batch_size": 500,
        "learning": {"beta": 1000, "warmup": 100, "replay": 300, "seed": 0},
        "review": {"method": "zero-shot", "llm": "openai:gpt-4o-mini"},
    }
    new = migrate(old)
    assert new == {
        "batch_size": 500,
        "first_batch": 500,
        "learning": {
            "rows_per_stage": 1000,
            "warmup": 100,
            "replay_buffer": 300,
            "seed": 0,
            "cross_fit": False,
            "train_budget_s": 300.0,
        },
        "review": {"method": "zero-shot", "llm": "openai:gpt-4o-mini", "batch_api": False},
    }
    assert migrate(new) == new  # a current config is left as it is
    assert migrate({"batch_size": 10, "learning": None, "review": None}) == {
        "batch_size": 10,
        "learning": None,
        "review": None,
        "first_batch": 10,
    }
