"""Command line: ``autoannotator annotate | models | tasks``. A thin layer over the Python API."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from autoannotator.errors import AutoAnnotatorError, describe
from autoannotator.pipeline import RunConfig, annotate
from autoannotator.specialists import ZOO, build
from autoannotator.task import BUILTIN_TASKS, load_task
from autoannotator.voting import AggregatorName, HardRule

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
err = Console(stderr=True)


@app.command("annotate")
def annotate_command(
    input: Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet file to label.")],
    task: Annotated[str, typer.Option(help=f"Task YAML file, or a built-in: {', '.join(BUILTIN_TASKS)}.")],
    out: Annotated[Path, typer.Option(help="Output file: .jsonl, .csv or .parquet.")],
    run_dir: Annotated[Path | None, typer.Option(help="Run folder (ledger); default OUT's name + '.run'.")] = None,
    specialists: Annotated[
        str | None, typer.Option(help="Comma-separated zoo names; default: the task's.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --run-dir where it stopped.")] = False,
    aggregate: Annotated[AggregatorName, typer.Option(help="How votes combine.")] = "majority",
    hard_rule: Annotated[
        str, typer.Option(help="KIND[:THRESHOLD][,min_votes=N]; KIND: not-unanimous, agreement, margin, entropy.")
    ] = "not-unanimous",
    batch_size: Annotated[int, typer.Option(help="Rows per batch (and per ledger transaction).")] = 1000,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Label every row of INPUT; rows the specialists disagree on end as 'unresolved'."""
    with _errors():
        config = RunConfig(
            input=input,
            task=load_task(task),
            specialists=tuple(s.strip() for s in specialists.split(",") if s.strip()) if specialists else (),
            aggregate=aggregate,
            hard_rule=_hard_rule(hard_rule),
            batch_size=batch_size,
        )
        folder = run_dir or out.with_name(out.name + ".run")
        with Progress(
            TextColumn("[bold]labelling"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err,
            disable=quiet,
            transient=False,
        ) as bar:
            job = bar.add_task("", total=None)

            def report(rows: int, read: int, size: int) -> None:
                elapsed = bar.tasks[0].elapsed or 1e-9
                bar.update(
                    job, completed=read, total=size, description=f"{rows:,} rows, {rows / elapsed:,.0f} rows/s"
                )

            result = annotate(config, out=out, run_dir=folder, resume=resume, progress=report)
        counts = result.counts
        labelled = sum(v for k, v in counts.items() if k not in ("skipped", "hard"))
        err.print(
            f"{result.rows:,} rows -> {out} in {result.seconds:.1f} s: "
            f"{counts.get('consensus', 0):,} consensus, {counts.get('unresolved', 0):,} unresolved "
            f"({counts.get('hard', 0) / max(labelled, 1):.1%} hard), {counts.get('skipped', 0):,} skipped. "
            f"Ledger: {result.ledger}"
        )


@app.command("models")
def models_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the cards as a JSON list.")] = False,
) -> None:
    """List the bundled specialists with their cards."""
    cards = [build(name).card for name in ZOO]
    if as_json:
        typer.echo(json.dumps([card.model_dump(mode="json") for card in cards], indent=2))
        return
    table = Table(
        Column("name", no_wrap=True),
        "tasks",
        "output",
        "native labels",
        "licence",
        "size MB",
        "speed",
        "source",
        "version",
    )
    for card in cards:
        table.add_row(
            card.name,
            ",".join(card.task_kinds),
            card.output + (" (trainable)" if card.trainable else ""),
            ", ".join(card.native_labels) or "the task's labels",
            card.licence,
            f"{card.size_mb:g}",
            card.speed,
            card.source,
            card.version,
        )
    Console().print(table)


@app.command("tasks")
def tasks_command() -> None:
    """List the built-in task specs."""
    for name in BUILTIN_TASKS:
        spec = load_task(name)
        typer.echo(f"{name}: {', '.join(spec.label_names)} (specialists: {', '.join(spec.specialists)})")


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn expected errors into one clear line on stderr and exit code 2."""
    try:
        yield
    except (AutoAnnotatorError, ValidationError) as exc:
        message = describe(exc) if isinstance(exc, ValidationError) else str(exc)
        err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
        sys.exit(2)


def _hard_rule(text: str) -> HardRule:
    try:
        return HardRule.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--hard-rule") from None


def main() -> None:
    """Console-script entry point."""
    app()
