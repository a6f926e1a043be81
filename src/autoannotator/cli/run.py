"""The commands that label: annotate, baseline."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from autoannotator.cli.common import app, err, errors_as_lines, warn_deprecated
from autoannotator.cli.configure import (
    LLM_HELP,
    NO_REVIEWER,
    REVIEW_HELP,
    SPECIALISTS_HELP,
    routing_option,
    run_config,
)
from autoannotator.learn.stages import LearningConfig
from autoannotator.read.io import beside
from autoannotator.read.task import BUILTIN_TASKS
from autoannotator.report.evaluation import hard_share
from autoannotator.review import ReviewConfig
from autoannotator.run.config import RunConfig
from autoannotator.run.engines import Engine, build_engine
from autoannotator.run.outputs import KEEP_ALL
from autoannotator.run.pipeline import RunResult, annotate, baseline
from autoannotator.specialists import DEVICE_ENV, resolve_device
from autoannotator.trust.acceptance import TrustConfig
from autoannotator.trust.evidence import describe as describe_trust
from autoannotator.vote.aggregate import AggregatorName

Device = Literal["auto", "cpu", "cuda"]
DEVICE_HELP = (
    "Where the PyTorch specialists (minilm-finetune, mpnet, minilm-torch) compute: auto (a GPU when torch sees "
    "one), cpu or cuda."
)
INTERRUPTED = "interrupted: {kept} (committed); run the same command with --resume to go on"
KEEP_HELP = (
    "The input's other columns the output keeps: all, none, or comma-separated names (a column named like an "
    "output column is kept as input_NAME)."
)
LOCAL_WARNING = (
    "note: the embedded local model (Gemma 3 270M) is a weak reviewer, near chance on hard rows. For real "
    "labels use --llm openai:MODEL with OPENAI_BASE_URL / OPENAI_API_KEY (OpenAI, DeepSeek, vLLM, Ollama...)."
)


@app.command("annotate")
def annotate_command(
    input: Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet file to label.")],
    task: Annotated[str, typer.Option(help=f"Task YAML file, or a built-in: {', '.join(BUILTIN_TASKS)}.")],
    out: Annotated[Path, typer.Option(help="Output file: .jsonl, .csv or .parquet.")],
    run_dir: Annotated[Path | None, typer.Option(help="Run folder (ledger); default OUT's name + '.run'.")] = None,
    specialists: Annotated[str | None, typer.Option(help=SPECIALISTS_HELP)] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --run-dir where it stopped.")] = False,
    aggregate: Annotated[AggregatorName, typer.Option(help="How votes combine.")] = "majority",
    hard_rule: Annotated[
        str, typer.Option(help="KIND[:THRESHOLD][,min_votes=N]; KIND: not-unanimous, agreement, margin, entropy.")
    ] = "not-unanimous",
    batch_size: Annotated[int, typer.Option(help="Rows per batch, at most (the first: 100, 200, 400...).")] = 1000,
    llm: Annotated[str | None, typer.Option(help=LLM_HELP)] = None,
    review: Annotated[str, typer.Option(help=REVIEW_HELP)] = "auto",
    budget_usd: Annotated[float | None, typer.Option(help="Hard cap on LLM spending, USD.")] = None,
    show_votes: Annotated[bool, typer.Option(help="Show the specialists' votes to the LLM.")] = False,
    concurrency: Annotated[int, typer.Option(help="LLM calls in flight at once.")] = 8,
    rpm: Annotated[int | None, typer.Option(help="LLM requests per minute, at most.")] = None,
    tpm: Annotated[int | None, typer.Option(help="LLM prompt tokens per minute, at most.")] = None,
    llm_timeout: Annotated[float, typer.Option(help="Seconds per LLM request attempt.")] = 60.0,
    batch_api: Annotated[
        bool,
        typer.Option(
            help="Review each batch's hard and audit rows as one OpenAI Batch API job (batch price, answers "
            "within 24 h; a killed run re-attaches to a job in flight on --resume). Needs --llm openai:MODEL."
        ),
    ] = False,
    batch_poll_s: Annotated[float, typer.Option(help="With --batch-api: seconds between polls of a job.")] = 30.0,
    prices: Annotated[Path | None, typer.Option(help="Price table YAML (default: the bundled one).")] = None,
    allow_generated_code: Annotated[
        bool, typer.Option(help="Allow Python adapters (written by the LLM or in the task), run sandboxed.")
    ] = False,
    candidates: Annotated[
        str | None, typer.Option(help="With --specialists auto: more candidates (local folders, hf:ID).")
    ] = None,
    learn: Annotated[
        bool, typer.Option(help="Train the trainable specialists on reviewed rows, in stages.")
    ] = True,
    rows_per_stage: Annotated[
        int,
        typer.Option(
            "--rows-per-stage",
            "--beta",
            help="Reviewed rows per learning stage, at most (stages double to it). --beta: deprecated name.",
        ),
    ] = 2000,
    replay_buffer: Annotated[
        int,
        typer.Option(
            "--replay-buffer",
            "--replay",
            help="Rows the specialists labelled, replayed in each training (class-balanced). --replay: "
            "deprecated name.",
        ),
    ] = 2000,
    routing: Annotated[
        str,
        typer.Option(
            help="trust: accept rows only as far as the audit shows they agree with the reviewer; rule: "
            "--aggregate and --hard-rule decide (the paper's gate, no audit). 'learned' is an old name of trust."
        ),
    ] = "trust",
    target_agreement: Annotated[
        float | None,
        typer.Option(
            help="Trust (95% sure): the output matches labelling every row with the LLM on this share of rows "
            "(default 0.97); with --calibration, the accepted rows' accuracy (default: the LLM's, measured; "
            "needed without --llm)."
        ),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            help="Human labels (text and label columns, a few hundred rows or fewer): trust is measured against "
            "the truth, and the specialists keep the rows where they are at least as accurate as the reviewer "
            "(without --llm: as --target-agreement; the rest are left to people)."
        ),
    ] = None,
    reference: Annotated[
        Literal["llm", "label-model"],
        typer.Option(
            help="Trust: judge the specialists against the LLM's answers (llm), or against a label model over "
            "the LLM and the fixed specialists (label-model: they may outvote the LLM; a model-based estimate)."
        ),
    ] = "llm",
    llm_share: Annotated[
        float,
        typer.Option(help="Trust: send at most this share of a batch to the reviewer, even past the evidence."),
    ] = 1.0,
    audit_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Trust: the share of rows after the first 1,000 audited (sent to the reviewer "
            "whatever the vote); a larger one narrows the estimate of the accepted rows at its cost.",
        ),
    ] = 0.05,
    early_audit_share: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Trust: the share of the first 1,000 rows audited (default 0.2; with "
            "--calibration, --audit-share).",
        ),
    ] = None,
    warmup: Annotated[int, typer.Option(help="Reviewed rows before the first training.")] = 100,
    relabel_final: Annotated[
        bool, typer.Option(help="At the end, the final specialists re-label earlier consensus rows.")
    ] = False,
    cross_fit: Annotated[
        bool,
        typer.Option(
            help="Trust: judge a trained version on the rows it learnt from too, each labelled by one of five "
            "versions trained on the others (five more trainings per training)."
        ),
    ] = True,
    csv_safe: Annotated[
        bool, typer.Option(help="CSV output: cells starting with = + - @ get a leading ' (no formulas).")
    ] = False,
    keep_columns: Annotated[str, typer.Option(help=KEEP_HELP)] = "all",
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    engine: Annotated[
        Literal["local", "ray"],
        typer.Option(
            help="local: everything in this process. ray: the input read and the fixed specialists and MiniLM "
            "embeddings computed on a Ray cluster (the ray extra); same output."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="With --engine ray: a running cluster (HOST:PORT); default: start one here.")
    ] = None,
    ray_actors: Annotated[int, typer.Option(min=1, help="With --engine ray: inference actors.")] = 1,
    ray_cpus: Annotated[
        float, typer.Option(help="With --engine ray: CPUs per actor (its inference threads).")
    ] = 1.0,
    ray_gpus: Annotated[float, typer.Option(help="With --engine ray: GPUs per actor.")] = 0.0,
    device: Annotated[Device, typer.Option(help=DEVICE_HELP)] = "auto",
) -> None:
    """Label every row of INPUT: the specialists vote, and the rows they disagree on go to the reviewer."""
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
        if batch_api:
            if config.review is None:
                raise typer.BadParameter("--batch-api needs a reviewer: --llm openai:MODEL")
            batching = {"batch_api": True, "batch_poll_s": batch_poll_s}
            config = config.model_copy(
                update={"review": ReviewConfig.model_validate({**config.review.model_dump(), **batching})}
            )
        config = config.model_copy(
            update={
                "allow_generated_code": allow_generated_code,
                "candidates": tuple(c.strip() for c in (candidates or "").split(",") if c.strip()),
                "learning": LearningConfig(
                    rows_per_stage=rows_per_stage,
                    warmup=warmup,
                    replay_buffer=replay_buffer,
                    relabel_final=relabel_final,
                    cross_fit=cross_fit,
                )
                if learn
                else None,
                "routing": routing_option(routing),
                "trust": TrustConfig(
                    target=target_agreement,
                    reference=reference,
                    llm_share=None if llm_share >= 1 else llm_share,
                    share=audit_share,
                    early_share=early_audit_share,
                ),
                "calibration": calibration,
            }
        )
        folder = run_dir or beside(out, ".run")
        runner = build_engine(engine, address=ray_address, actors=ray_actors, cpus=ray_cpus, gpus=ray_gpus)
        keep = _keep(keep_columns)
        _run(config, out, folder, resume=resume, quiet=quiet, csv_safe=csv_safe, engine=runner, keep=keep)


@app.command("baseline")
def baseline_command(
    input: Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet file to label.")],
    task: Annotated[str, typer.Option(help=f"Task YAML file, or a built-in: {', '.join(BUILTIN_TASKS)}.")],
    method: Annotated[
        str, typer.Option(help="llm (every row to --llm with --review), majority, or specialist:NAME.")
    ],
    out: Annotated[Path, typer.Option(help="Output file: .jsonl, .csv or .parquet.")],
    run_dir: Annotated[Path | None, typer.Option(help="Run folder (ledger); default OUT's name + '.run'.")] = None,
    specialists: Annotated[str | None, typer.Option(help="For majority: comma-separated zoo names.")] = None,
    llm: Annotated[str | None, typer.Option(help=LLM_HELP)] = None,
    review: Annotated[str, typer.Option(help=REVIEW_HELP)] = "auto",
    budget_usd: Annotated[float | None, typer.Option(help="Hard cap on LLM spending, USD.")] = None,
    concurrency: Annotated[int, typer.Option(help="LLM calls in flight at once.")] = 8,
    resume: Annotated[bool, typer.Option(help="Continue the run in --run-dir where it stopped.")] = False,
    csv_safe: Annotated[
        bool, typer.Option(help="CSV output: cells starting with = + - @ get a leading ' (no formulas).")
    ] = False,
    keep_columns: Annotated[str, typer.Option(help=KEEP_HELP)] = "all",
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Label INPUT with a baseline (the LLM alone, one specialist alone, or the specialists' majority), as an
    ordinary run: score it with `autoannotator eval`."""
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
    err.print(end_line(result), markup=False)
    if result.trust is not None:
        err.print(describe_trust(result.trust), markup=False)
    if config.learning is not None and config.learning.relabel_final:
        changes = ", ".join(f"{old} -> {new}: {n:,}" for (old, new), n in result.relabelled.items()) or "none"
        err.print(f"{sum(result.relabelled.values()):,} labels relabelled at the end ({changes}).")
    if config.review is None and result.counts.get("unresolved", 0):
        err.print(NO_REVIEWER.format(run=folder), markup=False)
    elif config.review is not None and config.review.method != "replay" and config.review.local:
        err.print(LOCAL_WARNING)


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
