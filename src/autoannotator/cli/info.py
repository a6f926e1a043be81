"""The commands that report: eval, models, tasks."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Annotated

import typer

from autoannotator.cli.common import app, err, errors_as_lines
from autoannotator.read.io import atomic_path
from autoannotator.read.task import BUILTIN_TASKS, load_task
from autoannotator.report import html_page, markdown
from autoannotator.report.evaluation import evaluate
from autoannotator.specialists import build, extra_installed, zoo


@app.command("eval")
def eval_command(
    out: Annotated[Path, typer.Argument(help="A run's output file.")],
    gold: Annotated[Path | None, typer.Option(help="A file with the input's rows and a gold label field.")] = None,
    gold_field: Annotated[str, typer.Option(help="The gold label field of --gold.")] = "label",
    run_dir: Annotated[Path | None, typer.Option(help="The run folder; default OUT's name + '.run'.")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Folder for report.json, .md, .html; default OUT's name + '.report'.")
    ] = None,
) -> None:
    """Score a run: accuracy, macro-F1, per class and per source against --gold; the run's own figures always.
    Writes JSON, Markdown and a self-contained HTML report with plots."""
    with errors_as_lines():
        result = evaluate(out, gold=gold, gold_field=gold_field, run_dir=run_dir)
        folder = report or out.with_name(out.name + ".report")
        folder.mkdir(parents=True, exist_ok=True)
        text = markdown(result)
        for name, content in (
            ("report.json", result.model_dump_json(indent=2)),
            ("report.md", text),
            ("report.html", html_page(result)),
        ):
            with atomic_path(folder / name) as tmp:
                tmp.write_text(content, encoding="utf-8")
        print(text)
        err.print(f"report: {folder / 'report.html'}")


@app.command("models")
def models_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the cards as a JSON list.")] = False,
) -> None:
    """List the bundled specialists with their cards."""
    cards = [build(name).card for name in zoo()]
    if as_json:
        typer.echo(json.dumps([card.model_dump(mode="json") for card in cards], indent=2))
        return
    width = min(shutil.get_terminal_size((80, 24)).columns, 120)
    for card in cards:
        trainable = ", trainable" if card.trainable else ""
        labels = ", ".join(card.native_labels) or "the task's"
        needs = ""
        if card.extra is not None:
            here = "installed" if extra_installed(card.extra) else "not installed"
            needs = f"needs the {card.extra} extra ({here}: pip install 'autoannotator[{card.extra}]'); "
        details = (
            f"{needs}{card.output}{trainable}; {card.size_mb:g} MB; {card.speed}; licence {card.licence}; tasks: "
            f"{', '.join(card.task_kinds)}; labels: {labels}; source: {card.source}; version {card.version}"
        )
        typer.echo(card.name)
        typer.echo(textwrap.fill(details, width, initial_indent="    ", subsequent_indent="    "))


@app.command("tasks")
def tasks_command() -> None:
    """List the built-in task specs."""
    for name in BUILTIN_TASKS:
        spec = load_task(name)
        typer.echo(f"{name}: {', '.join(spec.label_names)} (specialists: {', '.join(spec.specialists)})")
