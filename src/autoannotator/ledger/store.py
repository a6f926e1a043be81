"""The run ledger: one SQLite file per run holding every row, vote, label and the run's configuration.

Durability: WAL journal with ``synchronous=FULL``: a committed batch survives a process kill and a power
cut (one fsync per batch). Each batch (its rows, skips, votes and labels, and the resume cursor) is one
transaction, so a run killed at any point resumes from the last committed batch with nothing lost or
repeated. The schema evolves by append-only, named migrations (`autoannotator.ledger.schema`).

This module stores; the query groups that read a run back are small modules beside it: `output` (the
labelled rows in input order), `humans` (people's labels), `training` (what learning reads and records),
`figures` (counts, spend, stages) and `cache` (the LLM answer cache).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from autoannotator.errors import ConfigMismatchError, LedgerError
from autoannotator.ledger.schema import MIGRATIONS


def differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """The dotted paths of the leaves where two JSON values differ (``trust.share``), sorted; a whole value
    where one side is not a mapping."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [] if old == new else [prefix or "<root>"]
    found: list[str] = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in old or key not in new:
            found.append(path)
        else:
            found += differences(old[key], new[key], path)
    return found


class Verdict(Protocol):
    """What the ledger keeps of a reviewer's answer (`autoannotator.review.Verdict` is one)."""

    @property
    def label(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def reviewer(self) -> str: ...
    @property
    def confidence(self) -> float | None: ...
    @property
    def rationale(self) -> str | None: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def cost_usd(self) -> float: ...
    @property
    def raw(self) -> str | None: ...
    @property
    def reason(self) -> str | None: ...


@dataclass(frozen=True)
class Decision:
    """The final label of one row and how it was reached."""

    pos: int
    label: str | None
    confidence: float | None
    source: str
    best_guess: str | None
    agreement: float
    margin: float
    hard: bool
    stage: int
    audited: bool = False
    scores: str | None = None
    """Multi-label: each chosen label's probability, as JSON (None for a single-label task or a reviewed row)."""


@dataclass(frozen=True)
class Batch:
    """Everything one batch commits. `votes` (n, m) and `probs` (n, m, k) follow the order of `rows`."""

    index: int
    first_pos: int
    next_pos: int
    rows: Sequence[tuple[int, str, str]]
    skips: Sequence[tuple[int, str | None, str, str]]
    votes: np.ndarray[Any, np.dtype[np.int64]]
    probs: np.ndarray[Any, np.dtype[np.float64]]
    decisions: Sequence[Decision]
    seconds: dict[str, float]
    reviews: Sequence[tuple[int, Verdict]] = ()
    acceptance: dict[str, Any] | None = None
    """The batch's routing by measured trust (decider, threshold, evidence, estimate...), stored as JSON."""
    multi_label: bool = False
    """`votes` are bit masks of each specialist's label set and `probs` its per-label probabilities."""


class Ledger:
    """A run's SQLite store. Use as a context manager: ``with Ledger(path) as ledger: ...``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> Ledger:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {name for (name,) in db.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name not in done:
                db.execute("BEGIN IMMEDIATE")
                for statement in filter(str.strip, sql.split(";")):
                    db.execute(statement)
                db.execute("INSERT INTO migrations VALUES (?, datetime('now'))", (name,))
                db.execute("COMMIT")
        self._db = db
        return self

    def __exit__(self, *exc: object) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise LedgerError(f"{self.path}: ledger is not open")
        return self._db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back when it raises."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def meta(self, key: str) -> Any:
        """A stored JSON value, or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))

    def begin_run(
        self,
        config: dict[str, Any],
        specialists: Sequence[tuple[str, str, str]],
        *,
        versions: dict[str, str],
        resume: bool,
    ) -> None:
        """Record a new run's config and specialists (name, card JSON, adapter JSON), or check that a resumed
        run has the same config. A run that committed no batch (it failed on bad input, or was stopped before
        its first batch) is replaced: nothing of it is lost. Raise `LedgerError` when the folder already holds a
        run and `resume` is false, or when the configs differ."""
        stored = self.meta("config")
        if stored is None or self.next_batch() == 0:
            with self.transaction() as db:
                db.execute("DELETE FROM specialists")
                self.set_meta("config", config)
                self.set_meta("versions", versions)
                db.executemany(
                    "INSERT INTO specialists VALUES (?, ?, ?, ?)", [(i, *s) for i, s in enumerate(specialists)]
                )
            return
        if not resume:
            raise LedgerError(
                f"{self.path.parent}: this run folder already holds a run; pass --resume to continue it, "
                "or choose another --run-dir (or delete this folder to start over)"
            )
        if stored != config:
            paths = differences(stored, config)
            raise ConfigMismatchError(
                f"{self.path}: cannot resume: the configuration differs in {', '.join(paths)}; run with the "
                "first configuration, or choose another --run-dir (or delete this folder to start over)",
                paths,
            )

    def next_pos(self) -> int:
        """The first input position not yet committed."""
        row = self.db.execute("SELECT MAX(next_pos) FROM batches").fetchone()
        return int(row[0] or 0)

    def next_batch(self) -> int:
        row = self.db.execute("SELECT MAX(batch) FROM batches").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Those of `ids` already stored."""
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            found.update(i for (i,) in self.db.execute(f"SELECT id FROM rows WHERE id IN ({marks})", part))
        return found

    def commit(self, batch: Batch) -> None:
        """Store one batch atomically and move the resume cursor past it."""
        with self.transaction() as db:
            db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", [(*r, batch.index) for r in batch.rows])
            db.executemany("INSERT INTO skips VALUES (?, ?, ?, ?, ?)", [(*s, batch.index) for s in batch.skips])
            db.executemany("INSERT INTO votes VALUES (?, ?, ?, ?, ?)", self._vote_rows(batch))
            db.executemany(
                "INSERT INTO labels VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [astuple(d) for d in batch.decisions],
            )
            db.executemany(
                "INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        pos,
                        v.reviewer,
                        v.label,
                        v.status,
                        v.confidence,
                        v.rationale,
                        v.prompt_tokens,
                        v.completion_tokens,
                        v.cost_usd,
                        v.raw,
                        v.reason,
                    )
                    for pos, v in batch.reviews
                ],
            )
            if batch.acceptance is not None:
                stage = batch.decisions[0].stage if batch.decisions else 0
                db.execute(
                    "INSERT INTO acceptances VALUES (?, ?, ?)", (batch.index, stage, json.dumps(batch.acceptance))
                )
            db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?)",
                (batch.index, batch.first_pos, batch.next_pos, len(batch.rows), json.dumps(batch.seconds)),
            )

    @staticmethod
    def _vote_rows(batch: Batch) -> Iterator[tuple[int, int, int, float, bytes]]:
        for i, (pos, _, _) in enumerate(batch.rows):
            for j in range(batch.votes.shape[1]):
                vote = int(batch.votes[i, j])
                p = batch.probs[i, j]
                if batch.multi_label:  # the confidence of its set: that of its least certain label
                    prob = float(np.maximum(p, 1.0 - p).min()) if len(p) else 1.0
                else:
                    prob = float(p[vote]) if vote >= 0 else float(p.max())
                yield pos, j, vote, prob, p.astype(np.float32).tobytes()

    def specialist_names(self) -> list[str]:
        return [name for (name,) in self.db.execute("SELECT name FROM specialists ORDER BY idx")]
