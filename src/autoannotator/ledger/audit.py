"""The audit stream as stored: audited rows the reviewer answered (status ``ok``), their votes, their decisions.

With ``census``, the evidence also holds every reviewed row of the batches whose routing accepted nothing (no
decider qualified, stored threshold null): all their rows went to the reviewer, so they are a complete sample
of those batches, chosen on earlier batches' evidence only, as unbiased as the audit and five to twenty times
larger early in a run.
"""

from __future__ import annotations

from collections.abc import Iterator

from autoannotator.ledger.store import Ledger

_CENSUS = "r.batch IN (SELECT batch FROM acceptances WHERE json_extract(routing, '$.threshold') IS NULL)"


def _evidence(census: bool) -> str:
    """The SQL condition on labels ``l`` and rows ``r`` for a row of the evidence."""
    return f"(l.audited = 1 OR {_CENSUS})" if census else "l.audited = 1"


def audited_rows(ledger: Ledger, *, last: int, census: bool = False) -> list[tuple[int, str, str, str]]:
    """(pos, id, text, reviewer's label) of the `last` audited rows with a valid review (with `census`, and
    the rows of batches that accepted nothing), in input order."""
    rows: list[tuple[int, str, str, str]] = ledger.db.execute(
        "SELECT * FROM (SELECT l.pos, r.id, r.text, v.label FROM labels l JOIN rows r USING (pos) "
        f"JOIN reviews v USING (pos) WHERE {_evidence(census)} AND v.status = 'ok' ORDER BY l.pos DESC LIMIT ?) "
        "ORDER BY pos",
        (last,),
    ).fetchall()
    return rows


def audited_votes(
    ledger: Ledger, *, first: int, m: int, census: bool = False
) -> Iterator[tuple[int, int, int, bytes]]:
    """(pos, specialist index, vote, float32 probabilities) of the first `m` specialists on the rows of
    `audited_rows` from position `first`."""
    yield from ledger.db.execute(
        "SELECT o.pos, o.specialist, o.label, o.probs FROM votes o JOIN labels l USING (pos) "
        f"JOIN rows r USING (pos) WHERE {_evidence(census)} AND o.pos >= ? AND o.specialist < ?",
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
