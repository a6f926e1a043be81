"""The audit stream as stored: audited rows the reviewer answered (status ``ok``), their votes, their decisions."""

from __future__ import annotations

from collections.abc import Iterator

from autoannotator.ledger.store import Ledger


def audited_rows(ledger: Ledger, *, last: int) -> list[tuple[int, str, str, str]]:
    """(pos, id, text, reviewer's label) of the `last` audited rows with a valid review, in input order."""
    rows: list[tuple[int, str, str, str]] = ledger.db.execute(
        "SELECT * FROM (SELECT l.pos, r.id, r.text, v.label FROM labels l JOIN rows r USING (pos) "
        "JOIN reviews v USING (pos) WHERE l.audited = 1 AND v.status = 'ok' ORDER BY l.pos DESC LIMIT ?) "
        "ORDER BY pos",
        (last,),
    ).fetchall()
    return rows


def audited_votes(ledger: Ledger, *, first: int, m: int) -> Iterator[tuple[int, int, int, bytes]]:
    """(pos, specialist index, vote, float32 probabilities) of the first `m` specialists on audited rows from
    position `first`."""
    yield from ledger.db.execute(
        "SELECT o.pos, o.specialist, o.label, o.probs FROM votes o JOIN labels l USING (pos) "
        "WHERE l.audited = 1 AND o.pos >= ? AND o.specialist < ?",
        (first, m),
    )


def audited_decisions(ledger: Ledger) -> list[tuple[str, int, int, bool, str | None, str]]:
    """(id, pos, stage, hard, vote's best guess, reviewer's label) of every audited row with a valid review."""
    return [
        (str(i), int(pos), int(stage), bool(hard), guess, str(label))
        for i, pos, stage, hard, guess, label in ledger.db.execute(
            "SELECT r.id, l.pos, l.stage, l.hard, l.best_guess, v.label FROM labels l JOIN reviews v "
            "USING (pos) JOIN rows r USING (pos) WHERE l.audited = 1 AND v.status = 'ok'"
        )
    ]
