"""The run ledger: one SQLite file per run holding every row, vote, label and the run's configuration.

Durability: WAL journal with ``synchronous=FULL``: a committed batch survives a process kill and a power
cut (one fsync per batch). Each batch (its rows, skips, votes and labels, and the resume cursor) is one
transaction, so a run killed at any point resumes from the last committed batch with nothing lost or
repeated. The schema evolves by append-only, named migrations.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from autoannotator.errors import LedgerError


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


MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "m001_initial",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE specialists (idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, card TEXT NOT NULL,
                                  adapter TEXT NOT NULL);
        CREATE TABLE rows (pos INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL,
                           batch INTEGER NOT NULL);
        CREATE TABLE skips (pos INTEGER PRIMARY KEY, id TEXT, field TEXT NOT NULL, reason TEXT NOT NULL,
                            batch INTEGER NOT NULL);
        CREATE TABLE votes (pos INTEGER NOT NULL, specialist INTEGER NOT NULL, label INTEGER NOT NULL,
                            prob REAL NOT NULL, probs BLOB NOT NULL, PRIMARY KEY (pos, specialist))
                            WITHOUT ROWID;
        CREATE TABLE labels (pos INTEGER PRIMARY KEY, label TEXT, confidence REAL, source TEXT NOT NULL,
                             best_guess TEXT, agreement REAL NOT NULL, margin REAL NOT NULL,
                             hard INTEGER NOT NULL, stage INTEGER NOT NULL);
        CREATE TABLE batches (batch INTEGER PRIMARY KEY, first_pos INTEGER NOT NULL, next_pos INTEGER NOT NULL,
                              rows INTEGER NOT NULL, seconds TEXT NOT NULL);
        """,
    ),
    (
        "m002_reviews",
        """
        CREATE TABLE reviews (pos INTEGER PRIMARY KEY, reviewer TEXT NOT NULL, label TEXT, status TEXT NOT NULL,
                              confidence REAL, rationale TEXT, prompt_tokens INTEGER NOT NULL,
                              completion_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, raw TEXT, reason TEXT);
        CREATE TABLE llm_calls (key TEXT PRIMARY KEY, purpose TEXT NOT NULL, completion TEXT NOT NULL,
                                prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
                                cost_usd REAL NOT NULL, created TEXT NOT NULL);
        """,
    ),
    (
        "m003_human_labels",
        """
        CREATE TABLE human_labels (pos INTEGER PRIMARY KEY, label TEXT NOT NULL, annotator TEXT,
                                   imported_at TEXT NOT NULL);
        """,
    ),
    (
        "m004_trainings",
        """
        CREATE TABLE trainings (stage INTEGER NOT NULL, specialist TEXT NOT NULL, upto_pos INTEGER NOT NULL,
                                train_rows INTEGER NOT NULL, replay_rows INTEGER NOT NULL,
                                val_rows INTEGER NOT NULL, val_accuracy REAL NOT NULL,
                                previous_accuracy REAL NOT NULL, promoted INTEGER NOT NULL, seconds REAL NOT NULL,
                                path TEXT NOT NULL, PRIMARY KEY (stage, specialist));
        """,
    ),
    (
        "m005_relabels",
        """
        CREATE TABLE relabels (pos INTEGER PRIMARY KEY, old_label TEXT NOT NULL, new_label TEXT,
                               confidence REAL, stage INTEGER NOT NULL);
        """,
    ),
    (
        "m006_audit",
        """
        ALTER TABLE labels ADD COLUMN audited INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE acceptances (batch INTEGER PRIMARY KEY, stage INTEGER NOT NULL, routing TEXT NOT NULL);
        """,
    ),
)


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
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM specialists")
            self.set_meta("config", config)
            self.set_meta("versions", versions)
            self.db.executemany(
                "INSERT INTO specialists VALUES (?, ?, ?, ?)", [(i, *s) for i, s in enumerate(specialists)]
            )
            self.db.execute("COMMIT")
            return
        if not resume:
            raise LedgerError(
                f"{self.path.parent}: this run folder already holds a run; pass --resume to continue it, "
                "or choose another --run-dir (or delete this folder to start over)"
            )
        if stored != config:
            keys = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
            raise LedgerError(
                f"{self.path}: cannot resume: the configuration differs in {keys}; run with the first "
                "configuration, or choose another --run-dir (or delete this folder to start over)"
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
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", [(*r, batch.index) for r in batch.rows])
            db.executemany("INSERT INTO skips VALUES (?, ?, ?, ?, ?)", [(*s, batch.index) for s in batch.skips])
            db.executemany("INSERT INTO votes VALUES (?, ?, ?, ?, ?)", self._vote_rows(batch))
            db.executemany(
                "INSERT INTO labels VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        d.pos,
                        d.label,
                        d.confidence,
                        d.source,
                        d.best_guess,
                        d.agreement,
                        d.margin,
                        int(d.hard),
                        d.stage,
                        int(d.audited),
                    )
                    for d in batch.decisions
                ],
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
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @staticmethod
    def _vote_rows(batch: Batch) -> Iterator[tuple[int, int, int, float, bytes]]:
        for i, (pos, _, _) in enumerate(batch.rows):
            for j in range(batch.votes.shape[1]):
                vote = int(batch.votes[i, j])
                p = batch.probs[i, j]
                prob = float(p[vote]) if vote >= 0 else float(p.max())
                yield pos, j, vote, prob, p.astype(np.float32).tobytes()

    def specialist_names(self) -> list[str]:
        return [name for (name,) in self.db.execute("SELECT name FROM specialists ORDER BY idx")]

    def labelled(self, chunk: int = 2000, *, source: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Output rows in input order, `chunk` at a time: the decision plus every specialist's vote; only the
        rows of one `source` when given."""
        names = self.specialist_names()
        labels: list[str] = self.meta("config")["labels"]
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT r.pos, r.id, r.text, l.label, l.confidence, l.source, l.best_guess, l.agreement, "
                "l.stage, v.status, v.rationale, v.prompt_tokens + v.completion_tokens, v.cost_usd "
                "FROM rows r JOIN labels l USING (pos) LEFT JOIN reviews v USING (pos) "
                "WHERE r.pos > ? AND (? IS NULL OR l.source = ?) ORDER BY r.pos LIMIT ?",
                (last, source, source, chunk),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            votes: dict[int, dict[str, dict[str, Any]]] = {}
            for pos, j, vote, prob in self.db.execute(
                "SELECT pos, specialist, label, prob FROM votes WHERE pos BETWEEN ? AND ?", (rows[0][0], last)
            ):
                votes.setdefault(pos, {})[names[j]] = {
                    "label": labels[vote] if vote >= 0 else None,
                    "prob": round(prob, 6),
                }
            yield [
                {
                    "id": ident,
                    "text": text,
                    "label": label,
                    "confidence": confidence,
                    "source": source,
                    "best_guess": guess,
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
                ) in rows
            ]

    def unresolved(self) -> list[dict[str, Any]]:
        """The rows still without a label, with their votes and review outcome, in input order."""
        return [row for chunk in self.labelled(source="unresolved") for row in chunk]

    def set_human_labels(
        self,
        decisions: dict[str, str],
        *,
        annotator: str | None,
        who: dict[str, tuple[str | None, str]] | None = None,
    ) -> int:
        """Record people's labels by row id (one transaction), by `annotator`, now; or, per row id in `who`, by
        (annotator, ISO time) as the labelling tool recorded them. Returns how many rows changed."""
        db = self.db
        ids = list(decisions)
        positions = (
            dict(db.execute(f"SELECT id, pos FROM rows WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall())
            if ids
            else {}
        )
        known = who or {}
        db.execute("BEGIN IMMEDIATE")
        try:
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
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(decisions)

    def reviewer_labels(self) -> dict[str, str]:
        """Row id -> the label the reviewer answered (valid or not), for the rows it was asked about."""
        rows = self.db.execute(
            "SELECT r.id, v.label FROM reviews v JOIN rows r USING (pos) WHERE v.label IS NOT NULL"
        )
        return {str(i): str(label) for i, label in rows}

    def human_labels(self) -> dict[str, tuple[str, str | None, str]]:
        """Row id -> (label, annotator, time) of every human decision."""
        rows = self.db.execute(
            "SELECT r.id, h.label, h.annotator, h.imported_at FROM human_labels h JOIN rows r USING (pos)"
        )
        return {str(i): (str(label), who, str(at)) for i, label, who, at in rows}

    def reviewed_count(self, *, after: int) -> int:
        """Rows labelled by a reviewer (LLM or human) at positions >= `after`."""
        return int(
            self.db.execute(
                "SELECT COUNT(*) FROM labels WHERE source IN ('llm', 'human') AND pos >= ?", (after,)
            ).fetchone()[0]
        )

    def reviewed_rows(self, *, upto: int) -> list[tuple[int, str, str, str]]:
        """(pos, id, text, label) of the reviewed rows before position `upto`, in input order."""
        return self.db.execute(
            "SELECT r.pos, r.id, r.text, l.label FROM rows r JOIN labels l USING (pos) "
            "WHERE l.source IN ('llm', 'human') AND r.pos < ? ORDER BY r.pos",
            (upto,),
        ).fetchall()

    def auto_rows(self, *, upto: int) -> list[tuple[str, str, str]]:
        """(id, text, label) of the rows the specialists labelled (source consensus), before position `upto`."""
        return self.db.execute(
            "SELECT r.id, r.text, l.label FROM rows r JOIN labels l USING (pos) "
            "WHERE l.source = 'consensus' AND r.pos < ? ORDER BY r.pos",
            (upto,),
        ).fetchall()

    def stage(self) -> int:
        """How many trainings have been recorded (the current stage number)."""
        return int(self.db.execute("SELECT COALESCE(MAX(stage), 0) FROM trainings").fetchone()[0])

    def last_training_pos(self) -> int:
        """The input position up to which the last training saw the rows (0 before any)."""
        return int(self.db.execute("SELECT COALESCE(MAX(upto_pos), 0) FROM trainings").fetchone()[0])

    def relabel_candidates(self, stage: int, chunk: int = 1000) -> Iterator[list[tuple[int, str, str]]]:
        """(pos, text, label) of consensus rows labelled before `stage` and not yet considered for relabelling,
        in input order, `chunk` at a time."""
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT r.pos, r.text, l.label FROM rows r JOIN labels l USING (pos) "
                "WHERE l.source = 'consensus' AND l.stage < ? AND r.pos > ? "
                "AND r.pos NOT IN (SELECT pos FROM relabels) ORDER BY r.pos LIMIT ?",
                (stage, last, chunk),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [(int(p), t, lab) for p, t, lab in rows]

    def record_relabels(self, stage: int, rows: Sequence[tuple[int, str, str | None, float | None]]) -> None:
        """One transaction: record (pos, old label, new label or None when undecided, confidence) and give the
        changed rows their new label with source ``relabelled``."""
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("INSERT INTO relabels VALUES (?, ?, ?, ?, ?)", [(*r, stage) for r in rows])
        self.db.executemany(
            "UPDATE labels SET label = ?, confidence = ?, source = 'relabelled', stage = ? WHERE pos = ?",
            [(new, conf, stage, pos) for pos, old, new, conf in rows if new is not None and new != old],
        )
        self.db.execute("COMMIT")

    def relabel_changes(self) -> dict[tuple[str, str], int]:
        """How many labels the final specialists changed, by (old label, new label)."""
        return {
            (old, new): n
            for old, new, n in self.db.execute(
                "SELECT old_label, new_label, COUNT(*) FROM relabels WHERE new_label IS NOT NULL "
                "AND new_label != old_label GROUP BY old_label, new_label ORDER BY old_label, new_label"
            )
        }

    def acceptances(self) -> list[dict[str, Any]]:
        """Each batch's routing by measured trust, in batch order, with its batch and stage."""
        return [
            {"batch": b, "stage": s, **json.loads(r)}
            for b, s, r in self.db.execute("SELECT batch, stage, routing FROM acceptances ORDER BY batch")
        ]

    def stage_figures(self) -> list[dict[str, Any]]:
        """Per stage: rows, share of hard rows, share sent to the LLM."""
        return [
            {"stage": s, "rows": n, "hard_share": h / n, "llm_share": r / n}
            for s, n, h, r in self.db.execute(
                "SELECT stage, COUNT(*), SUM(hard), SUM(source = 'llm') FROM labels GROUP BY stage ORDER BY stage"
            )
        ]

    def record_training(self, stage: int, upto: int, reports: Sequence[Any]) -> None:
        """Record one stage's trainings (one transaction)."""
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(
            "INSERT INTO trainings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                )
                for r in reports
            ],
        )
        self.db.execute("COMMIT")

    def promoted_versions(self) -> dict[str, str]:
        """The folder of each specialist's last promoted version."""
        return dict(
            self.db.execute(
                "SELECT specialist, path FROM trainings t WHERE promoted = 1 AND stage = "
                "(SELECT MAX(stage) FROM trainings u WHERE u.specialist = t.specialist AND u.promoted = 1)"
            ).fetchall()
        )

    def trainings(self) -> list[dict[str, Any]]:
        """Every recorded training, by stage."""
        cursor = self.db.execute("SELECT * FROM trainings ORDER BY stage, specialist")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def consensus_rows(self, chunk: int = 5000) -> Iterator[tuple[list[str], list[str]]]:
        """(texts, labels) of the rows decided by consensus, in input order, `chunk` at a time."""
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT r.pos, r.text, l.label FROM rows r JOIN labels l USING (pos) "
                "WHERE l.source = 'consensus' AND r.pos > ? ORDER BY r.pos LIMIT ?",
                (last, chunk),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [r[1] for r in rows], [r[2] for r in rows]

    def skipped(self) -> list[dict[str, Any]]:
        """Skipped rows in input order, each with its 1-based row number, field and reason."""
        return [
            {"row": pos + 1, "id": ident, "field": field, "reason": reason}
            for pos, ident, field, reason in self.db.execute(
                "SELECT pos, id, field, reason FROM skips ORDER BY pos"
            )
        ]

    def counts(self) -> dict[str, int]:
        """Rows per source, plus ``skipped`` and ``hard``."""
        result = {s: n for s, n in self.db.execute("SELECT source, COUNT(*) FROM labels GROUP BY source")}
        result["skipped"] = self.db.execute("SELECT COUNT(*) FROM skips").fetchone()[0]
        result["hard"] = self.db.execute("SELECT COUNT(*) FROM labels WHERE hard = 1").fetchone()[0]
        return result

    def cached_call(self, key: str) -> tuple[str, float] | None:
        """A stored LLM answer (JSON text) and its cost (the `Cache` protocol of `autoannotator.llm.gateway`)."""
        row = self.db.execute("SELECT completion, cost_usd FROM llm_calls WHERE key = ?", (key,)).fetchone()
        return None if row is None else (str(row[0]), float(row[1]))

    def store_call(
        self, key: str, purpose: str, completion: str, tokens: tuple[int, int], cost_usd: float
    ) -> None:
        """Store an LLM answer at once (outside any batch), so a crash never pays for it twice."""
        self.db.execute(
            "INSERT OR IGNORE INTO llm_calls VALUES (?, ?, ?, ?, ?, ?, datetime('now'))",
            (
                key,
                purpose,
                completion,
                tokens[0],
                tokens[1],
                cost_usd,
            ),
        )

    def llm_usage(self) -> dict[str, dict[str, float]]:
        """Paid LLM calls by purpose: calls, prompt and completion tokens, USD."""
        return {
            purpose: {"calls": n, "prompt_tokens": p, "completion_tokens": c, "cost_usd": usd}
            for purpose, n, p, c, usd in self.db.execute(
                "SELECT purpose, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd) "
                "FROM llm_calls GROUP BY purpose"
            )
        }

    def review_usage(self) -> dict[str, float]:
        """What the committed reviews used: rows, tokens and USD (replayed answers included)."""
        n, p, c, usd = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
            "COALESCE(SUM(cost_usd), 0) FROM reviews"
        ).fetchone()
        return {"rows": n, "prompt_tokens": p, "completion_tokens": c, "cost_usd": usd}

    def spent_usd(self) -> float:
        """USD paid so far in this run: every stored LLM call, plus replayed reviews of committed batches."""
        calls = self.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls").fetchone()[0]
        replays = self.db.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM reviews WHERE reviewer LIKE 'replay:%'"
        ).fetchone()[0]
        return float(calls) + float(replays)

    def seconds_by_specialist(self) -> dict[str, float]:
        """Total inference seconds of each specialist over the committed batches."""
        total: dict[str, float] = {}
        for (seconds,) in self.db.execute("SELECT seconds FROM batches"):
            for name, value in json.loads(seconds).items():
                total[name] = total.get(name, 0.0) + value
        return total
