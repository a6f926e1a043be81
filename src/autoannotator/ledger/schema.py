"""The ledger's schema: append-only, named migrations, applied in order when a ledger is opened."""

from __future__ import annotations

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
    (
        "m007_multi_label",
        """
        ALTER TABLE labels ADD COLUMN scores TEXT;
        """,
    ),
    (
        "m008_asked_people",
        """
        CREATE TABLE asks (pos INTEGER PRIMARY KEY, stratum TEXT NOT NULL, weight REAL NOT NULL, label TEXT,
                           source TEXT NOT NULL, confidence REAL);
        CREATE TABLE rejudged (pos INTEGER PRIMARY KEY, label TEXT, source TEXT NOT NULL, confidence REAL);
        """,
    ),
    (
        "m009_training_budget",
        """
        ALTER TABLE trainings ADD COLUMN skipped REAL;
        """,
    ),
)
