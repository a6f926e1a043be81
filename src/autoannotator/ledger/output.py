"""Reading a run's rows back: the output in input order, the unresolved rows, the skipped rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from autoannotator.ledger.store import Ledger
from autoannotator.vote.labelsets import decode

COLUMNS = ("pos", "id", "text", "label", "confidence", "source", "best_guess", "agreement", "stage", "review",
           "rationale", "tokens", "cost_usd", "scores")  # fmt: skip
"""The columns `labelled` reads per row (as the names of the output fields they become)."""


def labelled(ledger: Ledger, chunk: int = 2000, *, source: str | None = None) -> Iterator[list[dict[str, Any]]]:
    """Output rows in input order, `chunk` at a time: the input position (`pos`), the decision plus every
    specialist's vote; only the rows of one `source` when given."""
    config = ledger.meta("config")
    labels: list[str] = config["labels"]
    multi = bool(config.get("task", {}).get("multi_label"))
    names = ledger.specialist_names()
    last = -1
    while True:
        rows = ledger.db.execute(
            "SELECT r.pos, r.id, r.text, l.label, l.confidence, l.source, l.best_guess, l.agreement, "
            "l.stage, v.status, v.rationale, v.prompt_tokens + v.completion_tokens, v.cost_usd, l.scores "
            "FROM rows r JOIN labels l USING (pos) LEFT JOIN reviews v USING (pos) "
            "WHERE r.pos > ? AND (? IS NULL OR l.source = ?) ORDER BY r.pos LIMIT ?",
            (last, source, source, chunk),
        ).fetchall()
        if not rows:
            return
        votes = _votes(ledger, names, rows[0][0], rows[-1][0], labels, multi)
        yield [_row(dict(zip(COLUMNS, row, strict=True)), votes, multi) for row in rows]
        last = rows[-1][0]


def _votes(
    ledger: Ledger, names: list[str], first: int, last: int, labels: list[str], multi: bool
) -> dict[int, dict[str, Any]]:
    """Every specialist's vote (`names` in the ledger's order) on the rows at positions `first` to `last`:
    {pos: {name: {label, prob}}}."""
    votes: dict[int, dict[str, Any]] = {}
    for pos, j, vote, prob in ledger.db.execute(
        "SELECT pos, specialist, label, prob FROM votes WHERE pos BETWEEN ? AND ?", (first, last)
    ):
        votes.setdefault(pos, {})[names[j]] = {"label": _vote(vote, labels, multi), "prob": round(prob, 6)}
    return votes


def _row(stored: dict[str, Any], votes: dict[int, dict[str, Any]], multi: bool) -> dict[str, Any]:
    """One output row from its stored `COLUMNS` and the votes by position (a set decoded in a multi-label run)."""
    label, scores, guess = stored.pop("label"), stored.pop("scores"), stored.pop("best_guess")
    row = {k: stored[k] for k in ("pos", "id", "text")}
    row["label"] = decode(label) if multi and stored["source"] != "unresolved" else label
    if multi:
        row["label_scores"] = _scores(scores, label, stored["confidence"])
    row.update(confidence=stored["confidence"], source=stored["source"])
    row["best_guess"] = decode(guess) if multi else guess
    row["votes"] = votes.get(stored["pos"], {})
    row.update({k: stored[k] for k in ("agreement", "stage", "review", "rationale", "tokens", "cost_usd")})
    return row


def _vote(vote: int, labels: list[str], multi: bool) -> str | list[str] | None:
    """A stored vote as the output shows it: a label, or (multi-label: a bit mask) a list of labels."""
    if vote < 0:
        return None
    return [lab for j, lab in enumerate(labels) if vote >> j & 1] if multi else labels[vote]


def _scores(scores: str | None, label: str | None, confidence: float | None) -> dict[str, float | None] | None:
    """Multi-label: each label of the row's set with its probability (the specialists'), or, for a reviewed row,
    the review's confidence."""
    if scores is not None:
        return {k: float(v) for k, v in json.loads(scores).items()}
    return None if label is None else dict.fromkeys(decode(label), confidence)


def unresolved(ledger: Ledger) -> list[dict[str, Any]]:
    """The rows still without a label, with their votes and review outcome, in input order."""
    return [row for chunk in labelled(ledger, source="unresolved") for row in chunk]


def sample(ledger: Ledger, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` labelled rows (any source but unresolved) drawn uniformly at random without replacement (seeded),
    in input order: rows for people to spot-check."""
    labelled_pos = [pos for (pos,) in ledger.db.execute("SELECT pos FROM labels WHERE source != 'unresolved'")]
    rng = np.random.default_rng(seed)
    return at(ledger, {int(p) for p in rng.choice(labelled_pos, size=min(n, len(labelled_pos)), replace=False)})


def at(ledger: Ledger, positions: set[int]) -> list[dict[str, Any]]:
    """The output rows at input `positions`, in input order."""
    return [row for chunk in labelled(ledger) for row in chunk if row["pos"] in positions]


def skipped(ledger: Ledger) -> list[dict[str, Any]]:
    """Skipped rows in input order, each with its row number as every message counts rows (a CSV's as a
    spreadsheet shows them: the header is row 1; other formats' from 1), field and reason."""
    first = 2 if str(ledger.meta("config")["input"]).lower().endswith(".csv") else 1
    return [
        {"row": pos + first, "id": ident, "field": field, "reason": reason}
        for pos, ident, field, reason in ledger.db.execute("SELECT pos, id, field, reason FROM skips ORDER BY pos")
    ]
