"""A run's figures for evaluation and reports: counts, spend, stages, trainings, routing, relabels, timings."""

from __future__ import annotations

import json
from typing import Any

from autoannotator.ledger.store import Ledger


def counts(ledger: Ledger) -> dict[str, int]:
    """Rows per source, plus ``skipped`` and ``hard``."""
    result = {s: n for s, n in ledger.db.execute("SELECT source, COUNT(*) FROM labels GROUP BY source")}
    result["skipped"] = ledger.db.execute("SELECT COUNT(*) FROM skips").fetchone()[0]
    result["hard"] = ledger.db.execute("SELECT COUNT(*) FROM labels WHERE hard = 1").fetchone()[0]
    return result


def stage_figures(ledger: Ledger) -> list[dict[str, Any]]:
    """Per stage: rows, share of hard rows, share sent to the LLM."""
    return [
        {"stage": s, "rows": n, "hard_share": h / n, "llm_share": r / n}
        for s, n, h, r in ledger.db.execute(
            "SELECT stage, COUNT(*), SUM(hard), SUM(source = 'llm') FROM labels GROUP BY stage ORDER BY stage"
        )
    ]


def acceptances(ledger: Ledger) -> list[dict[str, Any]]:
    """Each batch's routing by measured trust, in batch order, with its batch, stage and the number of rows it
    accepted (`accepted`: source consensus now)."""
    return [
        {"batch": b, "stage": s, **json.loads(r), "accepted": n}
        for b, s, r, n in ledger.db.execute(
            "SELECT a.batch, a.stage, a.routing, (SELECT COUNT(*) FROM labels l WHERE l.source = 'consensus' "
            "AND l.pos >= b.first_pos AND l.pos < b.next_pos) FROM acceptances a JOIN batches b USING (batch) "
            "ORDER BY a.batch"
        )
    ]


def trainings(ledger: Ledger) -> list[dict[str, Any]]:
    """Every recorded training, by stage."""
    cursor = ledger.db.execute("SELECT * FROM trainings ORDER BY stage, specialist")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def skipped_trainings(ledger: Ledger) -> dict[str, tuple[int, int]]:
    """(stages skipped, stages in all) of each specialist a training budget skipped at least once."""
    return {
        name: (int(skipped), int(stages))
        for name, skipped, stages in ledger.db.execute(
            "SELECT specialist, SUM(skipped IS NOT NULL), COUNT(*) FROM trainings GROUP BY specialist "
            "HAVING SUM(skipped IS NOT NULL) > 0 ORDER BY specialist"
        )
    }


def relabel_changes(ledger: Ledger) -> dict[tuple[str, str], int]:
    """How many labels the final specialists changed, by (old label, new label)."""
    return {
        (old, new): n
        for old, new, n in ledger.db.execute(
            "SELECT old_label, new_label, COUNT(*) FROM relabels WHERE new_label IS NOT NULL "
            "AND new_label != old_label GROUP BY old_label, new_label ORDER BY old_label, new_label"
        )
    }


def llm_usage(ledger: Ledger) -> dict[str, dict[str, float]]:
    """Paid LLM calls by purpose: calls, prompt and completion tokens, USD."""
    return {
        purpose: {"calls": n, "prompt_tokens": p, "completion_tokens": c, "cost_usd": usd}
        for purpose, n, p, c, usd in ledger.db.execute(
            "SELECT purpose, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd) "
            "FROM llm_calls GROUP BY purpose"
        )
    }


def review_usage(ledger: Ledger) -> dict[str, float]:
    """What the committed reviews used: rows, tokens and USD (replayed answers included)."""
    n, p, c, usd = ledger.db.execute(
        "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
        "COALESCE(SUM(cost_usd), 0) FROM reviews"
    ).fetchone()
    return {"rows": n, "prompt_tokens": p, "completion_tokens": c, "cost_usd": usd}


def unpaid(ledger: Ledger) -> int:
    """Rows left unresolved because the budget could not pay for their review (review status ``budget``)."""
    return int(
        ledger.db.execute(
            "SELECT COUNT(*) FROM reviews v JOIN labels l USING (pos) WHERE v.status = 'budget' "
            "AND l.source = 'unresolved'"
        ).fetchone()[0]
    )


def spent_usd(ledger: Ledger) -> float:
    """USD paid so far in this run: every stored LLM call, plus replayed reviews of committed batches."""
    calls = ledger.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls").fetchone()[0]
    replays = ledger.db.execute(
        "SELECT COALESCE(SUM(cost_usd), 0) FROM reviews WHERE reviewer LIKE 'replay:%'"
    ).fetchone()[0]
    return float(calls) + float(replays)


def seconds_by_specialist(ledger: Ledger) -> dict[str, float]:
    """Total inference seconds of each specialist over the committed batches."""
    total: dict[str, float] = {}
    for (seconds,) in ledger.db.execute("SELECT seconds FROM batches"):
        for name, value in json.loads(seconds).items():
            total[name] = total.get(name, 0.0) + value
    return total


def rows_by_stage(ledger: Ledger, *, source: str | None = None) -> dict[int, int]:
    """Decided rows per stage (only those of `source` when given)."""
    return {
        int(stage): int(n)
        for stage, n in ledger.db.execute(
            "SELECT stage, COUNT(*) FROM labels WHERE ? IS NULL OR source = ? GROUP BY stage", (source, source)
        )
    }
