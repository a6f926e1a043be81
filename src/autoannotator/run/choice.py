"""``--specialists auto`` in a run: the meta-controller's choice made once on the first rows, kept in the run's
ledger (a resumed run reuses it), and the run configuration it resolves to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from autoannotator.controller.selection import select, summary
from autoannotator.ledger import Ledger
from autoannotator.ledger.cache import CallCache
from autoannotator.llm.cost import Budget
from autoannotator.read.adapters import AdapterSpec
from autoannotator.read.io import Record, Source
from autoannotator.review import build_reviewer, llm_gateway
from autoannotator.run.config import RunConfig, fingerprint


def choose(
    config: RunConfig,
    ledger_path: Path,
    budget: Budget,
    *,
    probe: int = 200,
    k: int = 3,
    say: Callable[[str], None] | None = None,
) -> RunConfig:
    """Resolve ``--specialists auto``: the meta-controller picks `k` specialists and their adapters on the first
    `probe` rows, and the trainable ones (`controller.TRAINABLES`); the choice and its evidence are kept in the
    ledger, and a resumed run reuses them. `say` gets one line: what was chosen, and why."""
    with Ledger(ledger_path) as ledger:
        key = f"selection:{fingerprint(config.input)[:16]}"
        stored = ledger.meta(key)
        if stored is None:
            texts = [
                r.text
                for batch in Source(
                    config.input, text_field=config.task.text_field, id_field=config.task.id_field
                ).batches(probe)
                for r in batch
                if isinstance(r, Record)
            ][:probe]
            review = config.review
            gateway = reviewer = None
            if review is not None and review.method != "replay" and not review.local:
                gateway = llm_gateway(review, CallCache(ledger), budget=budget)
            if review is not None and not review.local:
                reviewer = build_reviewer(review, config.task, CallCache(ledger), budget=budget, examples=None)
            try:
                stored = select(
                    config.task,
                    texts,
                    k=k,
                    gateway=gateway,
                    reviewer=reviewer,
                    allow_code=config.allow_generated_code,
                    extra=config.candidates,
                ).as_json()
            finally:
                if reviewer is not None:
                    reviewer.close()
            ledger.set_meta(key, stored)
    if say is not None:
        say(summary(stored))
    return with_selection(config, stored)


def with_selection(config: RunConfig, stored: dict[str, Any]) -> RunConfig:
    """`config` with the specialists and adapters of a stored `Selection` (``--specialists auto`` resolved)."""
    adapters = {
        name: None if spec is None else AdapterSpec.model_validate(spec)
        for name, spec in stored["adapters"].items()
    }
    task = config.task.model_copy(update={"specialists": adapters})
    return config.model_copy(update={"task": task, "specialists": tuple(stored["specialists"])})
