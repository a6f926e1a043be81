"""People's labels: recording them (from a file or a labelling tool) and reading them back."""

from __future__ import annotations

from autoannotator.ledger.store import Ledger


def set_human_labels(
    ledger: Ledger,
    decisions: dict[str, str],
    *,
    annotator: str | None,
    who: dict[str, tuple[str | None, str]] | None = None,
) -> int:
    """Record people's labels by row id (one transaction), by `annotator`, now; or, per row id in `who`, by
    (annotator, ISO time) as the labelling tool recorded them. Returns how many rows changed."""
    db = ledger.db
    positions = positions_of(ledger, list(decisions))
    known = who or {}
    with ledger.transaction():
        for ident, label in decisions.items():
            pos = positions[ident]
            person, at = known.get(ident, (annotator, None))
            db.execute(
                "INSERT OR REPLACE INTO human_labels VALUES (?, ?, ?, COALESCE(?, datetime('now')))",
                (pos, label, person, at),
            )
            db.execute(
                "UPDATE labels SET label = ?, confidence = 1.0, source = 'human' WHERE pos = ?", (label, pos)
            )
    return len(decisions)


def positions_of(ledger: Ledger, ids: list[str]) -> dict[str, int]:
    """Row id -> input position, for the `ids` that are rows of the run."""
    if not ids:
        return {}
    query = f"SELECT id, pos FROM rows WHERE id IN ({','.join('?' * len(ids))})"
    return {str(i): int(p) for i, p in ledger.db.execute(query, ids).fetchall()}


def reviewer_labels(ledger: Ledger) -> dict[str, str]:
    """Row id -> the label the reviewer answered (valid or not), for the rows it was asked about."""
    rows = ledger.db.execute(
        "SELECT r.id, v.label FROM reviews v JOIN rows r USING (pos) WHERE v.label IS NOT NULL"
    )
    return {str(i): str(label) for i, label in rows}


def human_labels(ledger: Ledger) -> dict[str, tuple[str, str | None, str]]:
    """Row id -> (label, annotator, time) of every human decision."""
    rows = ledger.db.execute(
        "SELECT r.id, h.label, h.annotator, h.imported_at FROM human_labels h JOIN rows r USING (pos)"
    )
    return {str(i): (str(label), who, str(at)) for i, label, who, at in rows}
