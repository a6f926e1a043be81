"""The LLM answer cache: every paid answer stored at once, keyed by its request, so nothing is paid twice; and
the journal of Batch API jobs in flight."""

from __future__ import annotations

from autoannotator.ledger.store import Ledger


class CallCache:
    """A run's stored LLM answers (the `Cache` protocol of `autoannotator.llm.gateway`)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def cached_call(self, key: str) -> tuple[str, float] | None:
        """A stored answer (JSON text) and its cost in USD."""
        row = self.ledger.db.execute("SELECT completion, cost_usd FROM llm_calls WHERE key = ?", (key,)).fetchone()
        return None if row is None else (str(row[0]), float(row[1]))

    def store_call(
        self, key: str, purpose: str, completion: str, tokens: tuple[int, int], cost_usd: float
    ) -> None:
        """Store an answer at once (outside any batch), so a crash never pays for it twice."""
        self.ledger.db.execute(
            "INSERT OR IGNORE INTO llm_calls VALUES (?, ?, ?, ?, ?, ?, datetime('now'))",
            (key, purpose, completion, *tokens, cost_usd),
        )

    def job(self, key: str) -> dict[str, str] | None:
        """A Batch API job journalled under `key` (its ids), or None."""
        saved: dict[str, str] | None = self.ledger.meta(f"job:{key}")
        return saved

    def record_job(self, key: str, job: dict[str, str]) -> None:
        """Journal a submitted Batch API job at once (a run killed while it is in flight re-attaches to it)."""
        self.ledger.set_meta(f"job:{key}", job)
