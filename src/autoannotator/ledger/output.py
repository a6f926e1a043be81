"""Reading a run's rows back: the output in input order, the unresolved rows, the skipped rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from autoannotator.ledger.store import Ledger
from autoannotator.vote.labelsets import decode


def labelled(ledger: Ledger, chunk: int = 2000, *, source: str | None = None) -> Iterator[list[dict[str, Any]]]:
    """Output rows in input order, `chunk` at a time: the input position (`pos`), the decision plus every
    specialist's vote; only the rows of one `source` when given."""
    names = ledger.specialist_names()
    config = ledger.meta("config")
    labels: list[str] = config["labels"]
    multi = bool(config.get("task", {}).get("multi_label"))
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
        last = rows[-1][0]
        votes: dict[int, dict[str, dict[str, Any]]] = {}
        for pos, j, vote, prob in ledger.db.execute(
            "SELECT pos, specialist, label, prob FROM votes WHERE pos BETWEEN ? AND ?", (rows[0][0], last)
        ):
            votes.setdefault(pos, {})[names[j]] = {
                "label": _vote(vote, labels, multi),
                "prob": round(prob, 6),
            }
        yield [
            {
                "pos": pos,
                "id": ident,
                "text": text,
                "label": decode(label) if multi and source != "unresolved" else label,
                **({"label_scores": _scores(scores, label, confidence)} if multi else {}),
                "confidence": confidence,
                "source": source,
                "best_guess": decode(guess) if multi else guess,
                "votes": votes.get(pos, {}),
                "agreement": agreement,
                "stage": stage,
                "review": review,
                "rationale": rationale,
                "tokens": tokens,
                "cost_usd": cost,
            }
            for (
                pos,
                ident,
                text,
                label,
                confidence,
                source,
                guess,
                agreement,
                stage,
                review,
                rationale,
                tokens,
                cost,
                scores,
            ) in rows
        ]


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
