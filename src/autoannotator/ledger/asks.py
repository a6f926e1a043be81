"""The rows asked of people (`ask-people`) and the labels the run had before people re-judged it.

`asks`: each asked row's stratum, its weight (rows in its stratum / rows asked in it) and the label, source and
confidence the run gave it when it was asked. `rejudged`: the label, source and confidence a row had before the
re-judgement changed it, so that a later import re-judges from the run's own labels again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autoannotator.ledger.store import Ledger
from autoannotator.specialists.base import FloatArray, IntArray


def record_asks(ledger: Ledger, rows: Sequence[tuple[int, str, float]]) -> None:
    """One transaction: the asked rows as (pos, stratum, weight), with the run's label of each now."""
    with ledger.transaction() as db:
        db.executemany(
            "INSERT INTO asks SELECT ?, ?, ?, label, source, confidence FROM labels WHERE pos = ?",
            [(pos, stratum, weight, pos) for pos, stratum, weight in rows],
        )


def asked(ledger: Ledger) -> list[tuple[int, str, float, str | None, str | None]]:
    """(pos, stratum, weight, the run's label when asked, the person's label or None) of each asked row, in
    input order."""
    return [
        (int(pos), str(stratum), float(weight), label, person)
        for pos, stratum, weight, label, person in ledger.db.execute(
            "SELECT a.pos, a.stratum, a.weight, a.label, h.label FROM asks a LEFT JOIN human_labels h USING (pos) "
            "ORDER BY a.pos"
        )
    ]


def draw_frame(ledger: Ledger) -> tuple[IntArray, np.ndarray]:
    """The rows people may be asked about: positions (n,) and whether the sources left the row in doubt (n,):
    the reviewer's valid answer differs from the specialists' best guess there, or nobody settled it (no
    reviewer, or it failed); rows people labelled already are left out."""
    rows = ledger.db.execute(
        "SELECT l.pos, l.source = 'unresolved' OR (v.status = 'ok' AND v.label IS NOT NULL "
        "AND l.best_guess IS NOT NULL AND v.label != l.best_guess) FROM labels l LEFT JOIN reviews v USING (pos) "
        "WHERE l.pos NOT IN (SELECT pos FROM human_labels) ORDER BY l.pos"
    ).fetchall()
    return np.array([p for p, _ in rows], dtype=np.int64), np.array([bool(d) for _, d in rows], dtype=bool)


def run_labels(ledger: Ledger) -> tuple[IntArray, list[str | None], list[float | None]]:
    """Every row's position (n,) and the run's own label and confidence (before any re-judgement; people's
    rows: as when they were asked, else as now)."""
    rows = ledger.db.execute(
        "SELECT l.pos, "
        + ", ".join(
            f"CASE WHEN j.pos IS NOT NULL THEN j.{c} WHEN a.pos IS NOT NULL THEN a.{c} ELSE l.{c} END"
            for c in ("label", "confidence")
        )
        + " FROM labels l LEFT JOIN rejudged j USING (pos) LEFT JOIN asks a USING (pos) ORDER BY l.pos"
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows], [r[2] for r in rows]


def sources(ledger: Ledger, positions: IntArray, labels: Sequence[str], m: int) -> tuple[IntArray, FloatArray]:
    """What each row's sources said: (n, m + 1) label indices, the reviewer's valid answer first then each
    specialist's vote (-1: none), and (n, m + 1) the probability each gave its label (the reviewer's: 1)."""
    where = {int(p): i for i, p in enumerate(positions.tolist())}
    said = np.full((len(positions), m + 1), -1, dtype=np.int64)
    prob = np.zeros((len(positions), m + 1))
    index = {label: c for c, label in enumerate(labels)}
    for pos, label in ledger.db.execute("SELECT pos, label FROM reviews WHERE status = 'ok'"):
        if pos in where and label in index:
            said[where[pos], 0], prob[where[pos], 0] = index[label], 1.0
    for pos, j, vote, p in ledger.db.execute("SELECT pos, specialist, label, prob FROM votes"):
        if pos in where and j < m:
            said[where[pos], j + 1], prob[where[pos], j + 1] = vote, p
    return said, prob


def record_rejudged(ledger: Ledger, changes: Sequence[tuple[int, str, float]]) -> None:
    """One transaction: the run's labels restored from any earlier re-judgement, then each (pos, label,
    confidence) of `changes` set (source ``relabelled``), the run's label kept in `rejudged`."""
    with ledger.transaction() as db:
        db.execute(
            "UPDATE labels SET label = j.label, source = j.source, confidence = j.confidence FROM rejudged j "
            "WHERE labels.pos = j.pos AND labels.source != 'human'"
        )
        db.execute("DELETE FROM rejudged")
        db.executemany(
            "INSERT INTO rejudged SELECT pos, label, source, confidence FROM labels WHERE pos = ?",
            [(pos,) for pos, _, _ in changes],
        )
        db.executemany(
            "UPDATE labels SET label = ?, confidence = ?, source = 'relabelled' WHERE pos = ?",
            [(label, confidence, pos) for pos, label, confidence in changes],
        )
