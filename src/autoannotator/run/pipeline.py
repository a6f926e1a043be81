"""The annotation run: read a batch, let `autoannotator.run.batch` label it, commit, learn; write the output.

Each batch is committed to the ledger in one transaction, and the output file is written from the ledger
at the end (atomically), so a killed run resumed with ``resume=True`` ends with exactly the output of an
uninterrupted run. Rows are accepted without review as far as the audit stream shows they agree with the
reviewer (`autoannotator.trust.acceptance`); the others go to the reviewer, if any; those it cannot decide (no
budget left, no valid answer) end as ``unresolved``, with the vote's best guess beside them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from autoannotator.errors import ConfigMismatchError, LedgerError
from autoannotator.learn.stages import Learner
from autoannotator.ledger import Ledger, figures, training
from autoannotator.ledger.cache import CallCache
from autoannotator.llm.cost import Budget
from autoannotator.read.adapters import Adapts, compile_adapter
from autoannotator.read.io import Record, Source
from autoannotator.read.task import Task
from autoannotator.review import Examples, HardRow, Reviewer, build_reviewer
from autoannotator.run.batch import Kind, run_batch
from autoannotator.run.checks import check_run
from autoannotator.run.choice import choose
from autoannotator.run.config import (
    RunConfig,
    adapter_json,
    baseline,
    migrate,
    options_of,
    resumed,
    stored_config,
    versions,
)
from autoannotator.run.engines import Engine, LocalEngine, parts, remember
from autoannotator.run.outputs import KEEP_ALL, write_output
from autoannotator.run.sets import LabelSets
from autoannotator.run.single import SingleLabel
from autoannotator.specialists import build, require_extra, shared_minilm
from autoannotator.specialists.base import Specialist, Trainable
from autoannotator.trust.evidence import read_calibration, self_estimate
from autoannotator.trust.people import Rejudgement, people_first
from autoannotator.trust.routing import Router
from autoannotator.trust.sets import SetRouter
from autoannotator.vote.inference import Remembered, vote

__all__ = ["RunConfig", "RunResult", "annotate", "baseline", "prepare", "vote", "write_output"]

Progress = Callable[[int, int, int], None]
"""Called after each batch is committed with (rows done, bytes read, bytes total)."""


@dataclass(frozen=True)
class RunResult:
    """What a finished run reports."""

    out: Path
    ledger: Path
    counts: dict[str, int]
    rows: int
    seconds: float
    specialist_seconds: dict[str, float]
    review_usage: dict[str, float]
    llm_usage: dict[str, dict[str, float]]
    relabelled: dict[tuple[str, str], int]
    """With ``relabel_final``: labels changed at the end, by (old, new)."""
    spent_usd: float
    """What the run paid the LLM, over all its attempts (a crash and resume included)."""
    trust: dict[str, Any] | None = None
    """With trust routing: the estimated agreement of the auto-accepted rows with the reviewer, overall and per
    stage, with 95% intervals (`autoannotator.trust.evidence.self_estimate`), and whether a cap overrode the
    evidence."""
    skipped_trainings: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Specialists a training budget skipped: (stages skipped, stages), by name."""
    people: Rejudgement | None = None
    """With people's labels drawn before the run (`ask-people-first`, given as calibration labels): the run
    re-judged on them, with the prediction-powered estimate of the output's accuracy."""


def prepare(config: RunConfig) -> list[tuple[str, Specialist, Adapts]]:
    """Build the chosen specialists and compile their adapters (errors surface before any work)."""
    prepared: list[tuple[str, Specialist, Adapts]] = []
    for name in config.chosen():
        specialist = build(name, config.task)
        card = specialist.card
        require_extra(name, card)
        if isinstance(specialist, Trainable) and not card.native_labels:  # cold start: task labels
            card = card.model_copy(update={"native_labels": config.task.label_names})
        adapter = compile_adapter(
            config.task.specialists.get(name), card, config.task, allow_code=config.allow_generated_code
        )
        prepared.append(
            (name, specialist if isinstance(specialist, Trainable) else Remembered(specialist), adapter)
        )
    return prepared


def annotate(
    config: RunConfig,
    *,
    out: Path,
    run_dir: Path,
    resume: bool = False,
    progress: Progress | None = None,
    csv_safe: bool = False,
    engine: Engine | None = None,
    say: Callable[[str], None] | None = None,
    keep_columns: str | list[str] = KEEP_ALL,
) -> RunResult:
    """Label `config.input` into `out` (JSONL, CSV or Parquet), keeping the run in `run_dir`/ledger.sqlite;
    `csv_safe` neutralises formula-like CSV cells; `engine` reads the input and runs the specialists' first
    pass (default: `LocalEngine`; the output is the same with any); `say` gets the lines a person should read
    as the run goes (what ``--specialists auto`` chose); `keep_columns`: the input's other columns the output
    keeps (``all``, a list, or none: an empty list)."""
    started = time.perf_counter()
    check_run(config, out, run_dir, keep=keep_columns)
    budget = run_budget(config, run_dir / "ledger.sqlite")
    if config.calibration is not None and not config.task.multi_label:
        config = config.model_copy(update={"trust": config.trust.calibrated()})
    if config.specialists == ("auto",):
        config = choose(config, run_dir / "ledger.sqlite", budget, say=say)
    prepared = prepare(config)
    source = Source(config.input, text_field=config.task.text_field, id_field=config.task.id_field)
    ledger_path = run_dir / "ledger.sqlite"
    with Ledger(ledger_path) as ledger:
        config = _begin(ledger, config, prepared, run_dir, resume=resume)
        reviewer, examples = _reviewer(config, ledger, budget)
        router = _router(config, ledger, reviewer)
        learner = _learner(config, run_dir, router)
        if learner is not None:
            prepared = _learn(learner, ledger, prepared, config.task, None, restore=True)
        if router is not None:  # once, after any training due at the start
            _rejudge(router, learner, ledger, prepared)
        try:
            kind = _kind(config, router, examples)
            stages = Stages(reviewer, router, learner, kind, engine or LocalEngine())
            _run_batches(config, ledger, source, prepared, stages, progress)
        finally:
            if reviewer is not None:
                reviewer.close()
        people = _people_first(ledger, router)
        ledger.set_meta("csv_safe", csv_safe)
        ledger.set_meta("keep_columns", keep_columns)
        n = write_output(ledger, out)
        ledger.set_meta("status", "complete")
        return RunResult(
            out=out,
            ledger=ledger_path,
            counts=figures.counts(ledger),
            rows=n,
            seconds=time.perf_counter() - started,
            specialist_seconds=figures.seconds_by_specialist(ledger),
            review_usage=figures.review_usage(ledger),
            llm_usage=figures.llm_usage(ledger),
            relabelled=figures.relabel_changes(ledger),
            spent_usd=figures.spent_usd(ledger),
            trust=self_estimate(ledger, config.trust) if config.trusting else None,
            skipped_trainings=figures.skipped_trainings(ledger),
            people=people,
        )


def _begin(
    ledger: Ledger,
    config: RunConfig,
    prepared: list[tuple[str, Specialist, Adapts]],
    run_dir: Path,
    *,
    resume: bool,
) -> RunConfig:
    """Record the run in `ledger`, or check that a resumed one is the same run. A run stored by an earlier
    version is migrated first (`config.migrate`) and keeps the settings no option sets (`config.resumed`); an
    input moved elsewhere (another folder, another machine) is the same input when its content is. Returns the
    configuration the run goes on with."""
    stored = ledger.meta("config")
    if resume and stored is not None:
        stored = migrate(stored)
        config = resumed(config, stored)
    current = stored_config(config, prepared)
    if stored is not None and stored.get("input_fingerprint") == current["input_fingerprint"]:
        current["input"] = stored["input"]
    try:
        if resume and stored is not None:
            ledger.set_meta("config", stored)
        ledger.begin_run(
            current,
            [(n, s.card.model_dump_json(), json.dumps(adapter_json(config.task, n))) for n, s, _ in prepared],
            versions=versions(prepared),
            resume=resume,
        )
    except ConfigMismatchError as exc:
        raise LedgerError(
            f"{run_dir}: cannot resume: {', '.join(options_of(exc.paths))} differ from the command that "
            "started this run; run it as it was started, or choose another --run-dir"
        ) from None
    return config


@dataclass(frozen=True)
class Stages:
    """What acts on a run's batches besides the specialists: the reviewer, the trust router, the learner (each
    None when the run has none), how the task's rows are decided, and the engine that reads them."""

    reviewer: Reviewer | None
    router: Router | SetRouter | None
    learner: Learner | None
    kind: Kind[Any]
    engine: Engine


def _run_batches(
    config: RunConfig,
    ledger: Ledger,
    source: Source,
    prepared: list[tuple[str, Specialist, Adapts]],
    stages: Stages,
    progress: Progress | None,
) -> None:
    """Every batch not yet committed, in input order: label, commit, then learn; at the end, relabel."""
    done, batch_index = ledger.next_pos(), ledger.next_batch()
    router = stages.router
    audited = config.trust.audited if router is not None and stages.reviewer is not None else None
    fixed = parts(prepared, config.task)
    with ThreadPoolExecutor(max_workers=max(len(prepared), 1), thread_name_prefix="specialist") as pool:
        batches = stages.engine.blocks(
            source, config.batch_size, start=done, parts=fixed, first=config.first_batch
        )
        for block in batches:
            rows = block.rows
            remember(fixed, prepared, [r.text for r in rows if isinstance(r, Record)], block.computed)
            batch = run_batch(
                rows,
                stages.kind,
                prepared,
                ledger,
                batch_index,
                reviewer=stages.reviewer,
                audited=audited,
                stage=training.stage(ledger),
                pool=pool,
            )
            ledger.commit(batch)
            done, batch_index = batch.next_pos, batch_index + 1
            if progress is not None:
                progress(done, block.bytes_read, source.size)
            if stages.learner is not None:
                prepared = _learn(stages.learner, ledger, prepared, config.task, router)
        if stages.learner is not None and stages.learner.config.relabel_final:
            stages.kind.relabel(ledger, prepared, pool)


def run_budget(config: RunConfig, ledger_path: Path) -> Budget:
    """The one budget everything in a run pays from: `--budget-usd`, less what earlier attempts paid."""
    with Ledger(ledger_path) as ledger:
        return Budget(None if config.review is None else config.review.budget_usd, spent=figures.spent_usd(ledger))


def _learn(
    learner: Learner,
    ledger: Ledger,
    prepared: list[tuple[str, Specialist, Adapts]],
    task: Task,
    router: Router | SetRouter | None,
    *,
    restore: bool = False,
) -> list[tuple[str, Specialist, Adapts]]:
    """Train the trainable specialists when a stage is due (and, with `restore`, first load their last promoted
    versions); returns `prepared` with the promoted versions swapped in. The router then re-judges them."""
    trainables, fixed = _kinds(prepared)
    changed = learner.restore(ledger, trainables, fixed) if restore else {}
    trained = bool(trainables) and learner.due(ledger)
    if trained:
        changed |= learner.train(ledger, {**trainables, **changed}, fixed)
    prepared = [
        (name, changed[name], compile_adapter(None, changed[name].card, task))
        if name in changed
        else (name, specialist, adapter)
        for name, specialist, adapter in prepared
    ]
    if router is not None and trained:
        _rejudge(router, learner, ledger, prepared)
    return prepared


def _kinds(
    prepared: Sequence[tuple[str, Specialist, Adapts]],
) -> tuple[dict[str, Trainable], list[tuple[str, Specialist]]]:
    """The trainable specialists by name, and the fixed ones as (name, specialist)."""
    trainables = {n: s for n, s, _ in prepared if isinstance(s, Trainable)}
    return trainables, [(n, s) for n, s, _ in prepared if n not in trainables]


def _rejudge(
    router: Router | SetRouter,
    learner: Learner | None,
    ledger: Ledger,
    prepared: Sequence[tuple[str, Specialist, Adapts]],
) -> None:
    """The router re-judges the current versions, single-label on cross-fitted votes of the rows they learnt
    from (`Learner.out_of_fold`)."""
    trainables, fixed = _kinds(prepared)
    crossfit = None
    if isinstance(router, Router) and learner is not None:
        crossfit = learner.out_of_fold(ledger, trainables, fixed)
    router.refresh(ledger, list(prepared), crossfit)


def _router(config: RunConfig, ledger: Ledger, reviewer: Reviewer | None) -> Router | SetRouter | None:
    """The run's router when it routes by measured trust; with calibration labels, the reviewer (if any) first
    labels them too (its accuracy is measured; the answers are cached like any)."""
    if not config.trusting:
        return None
    if config.task.multi_label:
        return SetRouter(config.trust, config.task)
    labels = config.task.label_names
    if config.calibration is None:
        return Router(config.trust, labels)
    calibration = read_calibration(config.calibration, config.task.text_field, labels)
    if reviewer is None:  # the accepted rows are judged against the given target; the rest wait for people
        ledger.set_meta("calibration", {"rows": len(calibration.texts), "reviewer_accuracy": None})
        return Router(config.trust, labels, calibration)
    verdicts = reviewer.review([HardRow(-1 - i, t, {}, None) for i, t in enumerate(calibration.texts)])
    said = np.array([labels.index(v.label) if v.label is not None else -1 for v in verdicts], dtype=np.int64)
    calibration = replace(calibration, said=said)
    ledger.set_meta("calibration", {"rows": len(said), "reviewer_accuracy": calibration.reviewer_accuracy})
    return Router(config.trust, labels, calibration)


def _kind(config: RunConfig, router: Router | SetRouter | None, examples: Examples | None) -> Kind[Any]:
    """How the run's rows are decided: label sets for a multi-label task, else one label per row."""
    if config.task.multi_label:
        return LabelSets(config.task, router if isinstance(router, SetRouter) else None)
    return SingleLabel(
        config.task.label_names,
        aggregate=config.aggregate,
        hard_rule=config.hard_rule,
        llm_share=config.trust.llm_share,
        router=router if isinstance(router, Router) else None,
        examples=examples,
    )


def _people_first(ledger: Ledger, router: Router | SetRouter | None) -> Rejudgement | None:
    """Calibration rows that are rows of the run (the file gives their ids) take the people's labels; drawn
    uniformly from the input (the file gives their weights), the run is re-judged on them (`people_first`)."""
    truth = router.calibration if isinstance(router, Router) else None
    if truth is None or truth.ids is None:
        return None
    labels = ledger.meta("config")["labels"]
    people = {ident: labels[r] for ident, r in zip(truth.ids, truth.reference.tolist(), strict=True)}
    weights = None if truth.weights is None else dict(zip(truth.ids, truth.weights.tolist(), strict=True))
    return people_first(ledger, people, weights)


def _learner(config: RunConfig, run_dir: Path, router: Router | SetRouter | None) -> Learner | None:
    """The run's learner: versions are judged on the calibration rows (the truth) when there are some, else on
    the validation half of the audit (multi-label: on every audited row, never trained on)."""
    if config.learning is None:
        return None
    labels, sets = config.task.label_names, (config.task.max_labels, config.task.allow_empty)
    if isinstance(router, Router) and router.calibration is not None:
        truth = router.calibration
        validation = [(t, labels[r]) for t, r in zip(truth.texts, truth.reference.tolist(), strict=True)]
        return Learner(config.learning, run_dir, labels, held_out=_never, sets=sets, validation=validation)
    held_out = config.trust.audited if config.task.multi_label else config.trust.held_out
    return Learner(config.learning, run_dir, labels, held_out=held_out, sets=sets)


def _never(row_id: str, pos: int) -> bool:
    """No reviewed row is held out (with calibration labels, those are the validation slice)."""
    return False


def _reviewer(config: RunConfig, ledger: Ledger, budget: Budget) -> tuple[Reviewer | None, Examples | None]:
    """The run's reviewer, and the few-shot pool rebuilt from the rows already agreed on (as on a first run)."""
    if config.review is None:
        return None, None
    examples = None
    if config.review.strategy.examples:
        examples = Examples(shared_minilm())
        for texts, labels in training.consensus_rows(ledger):
            examples.add(texts, labels)
    reviewer = build_reviewer(config.review, config.task, CallCache(ledger), budget=budget, examples=examples)
    return reviewer, examples
