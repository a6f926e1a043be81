"""What the labelling commands do with their options (declared in `autoannotator.cli.run`): build the run's
configuration, run it with a progress bar, and print what happened."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Literal

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from autoannotator.cli.common import err, errors_as_lines, warn_deprecated
from autoannotator.cli.configure import NO_REVIEWER, routing_option, run_config
from autoannotator.learn.stages import LearningConfig
from autoannotator.read.io import beside
from autoannotator.report.evaluation import hard_share
from autoannotator.review import ReviewConfig
from autoannotator.run.config import RunConfig
from autoannotator.run.engines import Engine, build_engine
from autoannotator.run.outputs import KEEP_ALL
from autoannotator.run.pipeline import RunResult, annotate, baseline
from autoannotator.specialists import DEVICE_ENV, resolve_device
from autoannotator.trust.acceptance import TrustConfig
from autoannotator.trust.evidence import describe as describe_trust
from autoannotator.trust.people import describe as describe_people
from autoannotator.vote.aggregate import AggregatorName

Device = Literal["auto", "cpu", "cuda"]
INTERRUPTED = "interrupted: {kept} (committed); run the same command with --resume to go on"
LOCAL_WARNING = (
    "note: the embedded local model (Gemma 3 270M) is a weak reviewer, near chance on hard rows. For real "
    "labels use --llm openai:MODEL with OPENAI_BASE_URL / OPENAI_API_KEY (OpenAI, DeepSeek, vLLM, Ollama...)."
)

PEOPLE_HINT = (
    "The reviewer took {share:.0%} of the rows: its answers were the run's only reference, so no specialist "
    "could outvote it. 100-200 people's labels measure the specialists against the truth instead: "
    "`autoannotator ask-people {run} --rows 100`, then `import` (this run re-judged, no reviewer call); or, "
    "before the next run, `ask-people-first` (the rows the specialists then take are not sent at all)."
)
PEOPLE_HINT_SHARE = 0.5
"""Suggest people's labels when a run judged against the reviewer sent it at least this share of rows."""


def annotate_from_options(
    *,
    input: Path,
    task: str,
    out: Path,
    run_dir: Path | None,
    specialists: str | None,
    resume: bool,
    aggregate: AggregatorName,
    hard_rule: str,
    batch_size: int,
    llm: str | None,
    review: str,
    budget_usd: float | None,
    show_votes: bool,
    concurrency: int,
    rpm: int | None,
    tpm: int | None,
    llm_timeout: float,
    batch_api: bool,
    batch_poll_s: float,
    prices: Path | None,
    allow_generated_code: bool,
    candidates: str | None,
    learn: bool,
    rows_per_stage: int,
    replay_buffer: int,
    routing: str,
    target_agreement: float | None,
    calibration: Path | None,
    reference: Literal["llm", "label-model"],
    llm_share: float,
    audit_share: float,
    early_audit_share: float | None,
    warmup: int,
    relabel_final: bool,
    cross_fit: bool,
    train_budget_s: float,
    csv_safe: bool,
    keep_columns: str,
    quiet: bool,
    engine: Literal["local", "ray"],
    ray_address: str | None,
    ray_actors: int,
    ray_cpus: float,
    ray_gpus: float,
    device: Device,
) -> None:
    """`autoannotator annotate` (each option one keyword, as `annotate_command` declares it)."""
    warn_deprecated(sys.argv[1:])
    os.environ[DEVICE_ENV] = device
    with errors_as_lines():
        if device != "auto":
            resolve_device(device)  # no such device: one line now, not once the first batch has run
        config = run_config(
            input,
            task,
            specialists,
            aggregate,
            hard_rule,
            batch_size,
            llm,
            review,
            budget_usd,
            show_votes,
            concurrency,
            rpm,
            tpm,
            prices,
            timeout_s=llm_timeout,
        )
        learning = LearningConfig(
            rows_per_stage=rows_per_stage,
            warmup=warmup,
            replay_buffer=replay_buffer,
            relabel_final=relabel_final,
            cross_fit=cross_fit,
            train_budget_s=train_budget_s or None,
        )
        trust = TrustConfig(
            target=target_agreement,
            reference=reference,
            llm_share=None if llm_share >= 1 else llm_share,
            share=audit_share,
            early_share=early_audit_share,
        )
        config = config.model_copy(
            update={
                "review": _batching(config.review, batch_poll_s) if batch_api else config.review,
                "allow_generated_code": allow_generated_code,
                "candidates": tuple(c.strip() for c in (candidates or "").split(",") if c.strip()),
                "learning": learning if learn else None,
                "routing": routing_option(routing),
                "trust": trust,
                "calibration": calibration,
            }
        )
        _run(
            config,
            out,
            run_dir or beside(out, ".run"),
            resume=resume,
            quiet=quiet,
            csv_safe=csv_safe,
            engine=build_engine(engine, address=ray_address, actors=ray_actors, cpus=ray_cpus, gpus=ray_gpus),
            keep=_keep(keep_columns),
        )


def baseline_from_options(
    *,
    input: Path,
    task: str,
    method: str,
    out: Path,
    run_dir: Path | None,
    specialists: str | None,
    llm: str | None,
    review: str,
    budget_usd: float | None,
    concurrency: int,
    resume: bool,
    csv_safe: bool,
    keep_columns: str,
    quiet: bool,
) -> None:
    """`autoannotator baseline` (each option one keyword, as `baseline_command` declares it)."""
    with errors_as_lines():
        config = run_config(
            input,
            task,
            specialists,
            "majority",
            "not-unanimous",
            1000,
            llm,
            review if method == "llm" else "none",
            budget_usd,
            False,
            concurrency,
            None,
            None,
            None,
        )
        config = baseline(config, method)
        folder = run_dir or beside(out, ".run")
        _run(config, out, folder, resume=resume, quiet=quiet, csv_safe=csv_safe, keep=_keep(keep_columns))


def _batching(review: ReviewConfig | None, poll_s: float) -> ReviewConfig:
    """`review` through the OpenAI Batch API (--batch-api), polled every `poll_s` seconds."""
    if review is None:
        raise typer.BadParameter("--batch-api needs a reviewer: --llm openai:MODEL")
    return ReviewConfig.model_validate({**review.model_dump(), "batch_api": True, "batch_poll_s": poll_s})


def _run(
    config: RunConfig,
    out: Path,
    folder: Path,
    *,
    resume: bool,
    quiet: bool,
    csv_safe: bool,
    engine: Engine | None = None,
    keep: str | list[str] = KEEP_ALL,
) -> None:
    """Run `config` with a progress bar (shown from the first committed batch, so an error before any work is
    its one line alone), then print what happened."""
    kept: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: _interrupted(kept[-1] if kept else None))
    bar = Progress(
        TextColumn("[bold]labelling"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
        transient=False,
    )
    job = bar.add_task("", total=None)

    def report(rows: int, read: int, size: int) -> None:
        kept.append(rows)
        if not bar.live.is_started:
            bar.start()
        elapsed = bar.tasks[0].elapsed or 1e-9
        bar.update(job, completed=read, total=size, description=f"{rows:,} rows, {rows / elapsed:,.0f} rows/s")

    try:
        result = annotate(
            config,
            out=out,
            run_dir=folder,
            resume=resume,
            progress=report,
            csv_safe=csv_safe,
            engine=engine,
            say=lambda line: err.print(line, markup=False),
            keep_columns=keep,
        )
    finally:
        if bar.live.is_started:
            bar.stop()
    for line in (end_line(result), *paragraphs(result)):
        err.print(line, markup=False)
    if config.learning is not None and config.learning.relabel_final:
        changes = ", ".join(f"{old} -> {new}: {n:,}" for (old, new), n in result.relabelled.items()) or "none"
        err.print(f"{sum(result.relabelled.values()):,} labels relabelled at the end ({changes}).")
    if config.review is None and result.counts.get("unresolved", 0):
        err.print(NO_REVIEWER.format(run=folder), markup=False)
    elif config.review is not None and config.review.method != "replay" and config.review.local:
        err.print(LOCAL_WARNING)
    if (hint := people_hint(result, config, folder)) is not None:
        err.print(hint, markup=False)


def paragraphs(result: RunResult) -> list[str]:
    """What follows the end line: the trainings a budget skipped, the trust estimate, the people's re-judgement."""
    found = []
    if result.skipped_trainings:
        skips = ", ".join(f"{name} at {n} of {of} stages" for name, (n, of) in result.skipped_trainings.items())
        found.append(f"Over the training budget (--train-budget-s), kept their last version: {skips}.")
    if result.trust is not None:
        found.append(describe_trust(result.trust))
    if result.people is not None:
        found.append(describe_people(result.people))
    return found


def people_hint(result: RunResult, config: RunConfig, run_dir: Path) -> str | None:
    """The tool asking for people's labels: when a single-label run judged against the reviewer sent it at
    least `PEOPLE_HINT_SHARE` of its rows (no calibration labels), how to give the specialists a truth to be
    measured on; else None."""
    sent = result.review_usage.get("rows", 0) / max(result.rows, 1)
    against_reviewer = result.trust is not None and result.trust.get("reference") == "reviewer"
    if config.task.multi_label or config.calibration is not None or not against_reviewer:
        return None
    return PEOPLE_HINT.format(share=sent, run=run_dir) if sent >= PEOPLE_HINT_SHARE else None


def end_line(result: RunResult) -> str:
    """What a finished run did, in one line: where the labels came from, the share sent to the reviewer (the
    hard rows and the audited ones), what it cost, and about what the LLM on every row would have."""
    counts, usage = result.counts, result.review_usage
    tokens = usage["prompt_tokens"] + usage["completion_tokens"]
    sent = int(usage["rows"])
    labelled = result.rows  # the rows written (skips are not)
    line = (
        f"{result.rows:,} rows -> {result.out} in {result.seconds:.1f} s: {counts.get('consensus', 0):,} accepted "
        f"without review, {counts.get('llm', 0):,} llm, {counts.get('human', 0):,} human, "
        f"{counts.get('unresolved', 0):,} unresolved, {counts.get('skipped', 0):,} skipped. "
    )
    if sent:
        every_row = usage["cost_usd"] / sent * labelled
        saved = f", {1 - result.spent_usd / every_row:.0%} saved" if every_row > 0 else ""
        line += (
            f"Sent to the reviewer: {sent:,} rows, {sent / max(labelled, 1):.1%} ({hard_share(counts):.1%} hard, "
            f"the rest audited); {tokens:,.0f} tokens, ${result.spent_usd:.4f} spent (the LLM on every row: "
            f"about ${every_row:.4f}{saved}). "
        )
    else:
        line += f"{hard_share(counts):.1%} hard; nothing sent to a reviewer. "
    return line + f"Ledger: {result.ledger}"


def _interrupted(kept: int | None) -> None:
    """Ctrl-C during a run: say what is kept and how to go on, and leave at once. Every committed batch is in
    the ledger (a run survives even SIGKILL), so there is nothing to wait for: waiting would only finish a
    batch to redo it. `kept`: the input rows committed so far (None before this attempt committed any)."""
    if err.is_terminal:
        sys.stderr.write("\x1b[?25h")  # the progress bar hid the cursor
    sys.stderr.write(f"\n{INTERRUPTED.format(kept=_kept(kept))}\n")
    sys.stderr.flush()
    os._exit(130)


def _kept(rows: int | None) -> str:
    return "every committed batch is kept" if rows is None else f"the first {rows:,} input rows are kept"


def _keep(text: str) -> str | list[str]:
    """--keep-columns: ``all``, ``none`` (an empty list), or the names."""
    if text.strip() in (KEEP_ALL, "none"):
        return KEEP_ALL if text.strip() == KEEP_ALL else []
    return [name.strip() for name in text.split(",") if name.strip()]
