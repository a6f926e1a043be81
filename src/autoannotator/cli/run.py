"""The commands that label: annotate, baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from autoannotator.cli.common import app
from autoannotator.cli.configure import LLM_HELP, REVIEW_HELP, SPECIALISTS_HELP
from autoannotator.cli.labelling import Device, annotate_from_options, baseline_from_options
from autoannotator.learn.stages import TRAIN_BUDGET_S
from autoannotator.read.task import BUILTIN_TASKS
from autoannotator.vote.aggregate import AggregatorName

DEVICE_HELP = (
    "Where the PyTorch specialists (minilm-finetune, mpnet, minilm-torch) compute: auto (a GPU when torch sees "
    "one), cpu or cuda."
)
KEEP_HELP = (
    "The input's other columns the output keeps: all, none, or comma-separated names (a column named like an "
    "output column is kept as input_NAME)."
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
    train_budget_s: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Seconds a learning stage's trainings may take, estimated from each specialist's last training "
            "(cross-fitting included); one that does not fit keeps its version that stage. 0: no limit.",
        ),
    ] = TRAIN_BUDGET_S,
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
    annotate_from_options(
        input=input,
        task=task,
        out=out,
        run_dir=run_dir,
        specialists=specialists,
        resume=resume,
        aggregate=aggregate,
        hard_rule=hard_rule,
        batch_size=batch_size,
        llm=llm,
        review=review,
        budget_usd=budget_usd,
        show_votes=show_votes,
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        llm_timeout=llm_timeout,
        batch_api=batch_api,
        batch_poll_s=batch_poll_s,
        prices=prices,
        allow_generated_code=allow_generated_code,
        candidates=candidates,
        learn=learn,
        rows_per_stage=rows_per_stage,
        replay_buffer=replay_buffer,
        routing=routing,
        target_agreement=target_agreement,
        calibration=calibration,
        reference=reference,
        llm_share=llm_share,
        audit_share=audit_share,
        early_audit_share=early_audit_share,
        warmup=warmup,
        relabel_final=relabel_final,
        cross_fit=cross_fit,
        train_budget_s=train_budget_s,
        csv_safe=csv_safe,
        keep_columns=keep_columns,
        quiet=quiet,
        engine=engine,
        ray_address=ray_address,
        ray_actors=ray_actors,
        ray_cpus=ray_cpus,
        ray_gpus=ray_gpus,
        device=device,
    )


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
    baseline_from_options(
        input=input,
        task=task,
        method=method,
        out=out,
        run_dir=run_dir,
        specialists=specialists,
        llm=llm,
        review=review,
        budget_usd=budget_usd,
        concurrency=concurrency,
        resume=resume,
        csv_safe=csv_safe,
        keep_columns=keep_columns,
        quiet=quiet,
    )
