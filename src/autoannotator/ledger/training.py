"""What learning reads from a run (reviewed and auto-labelled rows) and what it records (trainings, relabels)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from autoannotator.ledger.store import Ledger


def reviewed_count(ledger: Ledger, *, after: int) -> int:
    """Rows labelled by a reviewer (LLM or human) at positions >= `after`."""
    return int(
        ledger.db.execute(
            "SELECT COUNT(*) FROM labels WHERE source IN ('llm', 'human') AND pos >= ?", (after,)
        ).fetchone()[0]
    )


def reviewed_rows(ledger: Ledger, *, upto: int) -> list[tuple[int, str, str, str]]:
    """(pos, id, text, label) of the reviewed rows before position `upto`, in input order."""
    return ledger.db.execute(
        "SELECT r.pos, r.id, r.text, l.label FROM rows r JOIN labels l USING (pos) "
        "WHERE l.source IN ('llm', 'human') AND r.pos < ? ORDER BY r.pos",
        (upto,),
    ).fetchall()


def auto_rows(ledger: Ledger, *, upto: int) -> list[tuple[str, str, str]]:
    """(id, text, label) of the rows the specialists labelled (source consensus), before position `upto`."""
    return ledger.db.execute(
        "SELECT r.id, r.text, l.label FROM rows r JOIN labels l USING (pos) "
        "WHERE l.source = 'consensus' AND r.pos < ? ORDER BY r.pos",
        (upto,),
    ).fetchall()


def consensus_rows(ledger: Ledger, chunk: int = 5000) -> Iterator[tuple[list[str], list[str]]]:
    """(texts, labels) of the rows decided by consensus, in input order, `chunk` at a time."""
    last = -1
    while True:
        rows = ledger.db.execute(
            "SELECT r.pos, r.text, l.label FROM rows r JOIN labels l USING (pos) "
            "WHERE l.source = 'consensus' AND r.pos > ? ORDER BY r.pos LIMIT ?",
            (last, chunk),
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield [r[1] for r in rows], [r[2] for r in rows]


def stage(ledger: Ledger) -> int:
    """How many trainings have been recorded (the current stage number)."""
    return int(ledger.db.execute("SELECT COALESCE(MAX(stage), 0) FROM trainings").fetchone()[0])


def last_training_pos(ledger: Ledger) -> int:
    """The input position up to which the last training saw the rows (0 before any)."""
    return int(ledger.db.execute("SELECT COALESCE(MAX(upto_pos), 0) FROM trainings").fetchone()[0])


def record_training(ledger: Ledger, stage: int, upto: int, reports: Sequence[Any]) -> None:
    """Record one stage's trainings (one transaction)."""
    with ledger.transaction() as db:
        db.executemany(
            "INSERT INTO trainings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    stage,
                    r.specialist,
                    upto,
                    r.train_rows,
                    r.replay_rows,
                    r.val_rows,
                    r.val_accuracy,
                    r.previous_accuracy,
                    int(r.promoted),
                    r.seconds,
                    r.path,
                    r.skipped,
                )
                for r in reports
            ],
        )


def costs(ledger: Ledger) -> dict[str, tuple[float, int]]:
    """(seconds, rows trained on incl. replayed ones) of each specialist's last training that was not skipped."""
    return {
        name: (float(seconds), int(rows))
        for name, seconds, rows in ledger.db.execute(
            "SELECT specialist, seconds, train_rows + replay_rows FROM trainings t WHERE skipped IS NULL AND "
            "stage = (SELECT MAX(stage) FROM trainings u WHERE u.specialist = t.specialist AND u.skipped IS NULL)"
        )
    }


def promoted_versions(ledger: Ledger) -> dict[str, str]:
    """The folder of each specialist's last promoted version."""
    return dict(
        ledger.db.execute(
            "SELECT specialist, path FROM trainings t WHERE promoted = 1 AND stage = "
            "(SELECT MAX(stage) FROM trainings u WHERE u.specialist = t.specialist AND u.promoted = 1)"
        ).fetchall()
    )


def relabel_candidates(ledger: Ledger, stage: int, chunk: int = 1000) -> Iterator[list[tuple[int, str, str]]]:
    """(pos, text, label) of consensus rows labelled before `stage` and not yet considered for relabelling,
    in input order, `chunk` at a time."""
    last = -1
    while True:
        rows = ledger.db.execute(
            "SELECT r.pos, r.text, l.label FROM rows r JOIN labels l USING (pos) "
            "WHERE l.source = 'consensus' AND l.stage < ? AND r.pos > ? "
            "AND r.pos NOT IN (SELECT pos FROM relabels) ORDER BY r.pos LIMIT ?",
            (stage, last, chunk),
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield [(int(p), t, lab) for p, t, lab in rows]


def record_relabels(
    ledger: Ledger,
    stage: int,
    rows: Sequence[tuple[int, str, str | None, float | None]],
    scores: Sequence[str | None] | None = None,
) -> None:
    """One transaction: record (pos, old label, new label or None when undecided, confidence) and give the
    changed rows their new label with source ``relabelled`` (multi-label: and their per-label `scores`)."""
    given = list(scores) if scores is not None else [None] * len(rows)
    with ledger.transaction() as db:
        db.executemany("INSERT INTO relabels VALUES (?, ?, ?, ?, ?)", [(*r, stage) for r in rows])
        db.executemany(
            "UPDATE labels SET label = ?, confidence = ?, source = 'relabelled', stage = ?, "
            "scores = COALESCE(?, scores) WHERE pos = ?",
            [
                (new, conf, stage, score, pos)
                for (pos, old, new, conf), score in zip(rows, given, strict=True)
                if new is not None and new != old
            ],
        )
