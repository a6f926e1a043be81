"""The command-line application every command registers on, and what they share: the error console, the
one-line error handling, the run folder's ledger."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from typer.core import TyperGroup

from autoannotator.errors import AutoAnnotatorError, LedgerError, describe

ORDER = ("annotate", "plan", "baseline", "eval", "export", "import", "models", "tasks")
HELP = (
    "AutoAnnotator: label a text dataset with small voting models; only the rows they cannot settle go to an "
    f"LLM (or to people). Commands: {', '.join(ORDER)}."
)


class Commands(TyperGroup):
    """The command group, listing commands in the order of a run (`ORDER`), not of registration."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(super().list_commands(ctx), key=lambda name: ORDER.index(name) if name in ORDER else 99)


app = typer.Typer(
    cls=Commands,
    no_args_is_help=True,
    add_completion=False,
    help=HELP,
    rich_markup_mode=None,  # help text is plain: [#MODEL|SETTING] is not markup, and nothing is cut at 80 columns
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True, highlight=False)  # never hard-wraps a line (logs, grep)


@contextlib.contextmanager
def errors_as_lines() -> Iterator[None]:
    """Turn expected errors into one clear line on stderr (never wrapped) and exit code 2."""
    try:
        yield
    except (AutoAnnotatorError, ValidationError) as exc:
        message = describe(exc) if isinstance(exc, ValidationError) else str(exc)
        typer.echo(typer.style("error:", fg="red") + " " + " ".join(message.split("\n")), err=True)
        sys.exit(2)


def ledger_path(run_dir: Path) -> Path:
    path = run_dir / "ledger.sqlite"
    if not path.is_file():
        raise LedgerError(f"{run_dir}: no run here (no ledger.sqlite)")
    return path


DEPRECATED = {"--beta": "--rows-per-stage", "--replay": "--replay-buffer"}
"""Old option names kept for one release, with the name that replaces each."""


def warn_deprecated(args: list[str]) -> None:
    """One line on stderr for each deprecated option name among the command line's `args`."""
    for arg in args:
        old = arg.partition("=")[0]
        if old in DEPRECATED:
            err.print(
                f"warning: {old} is deprecated; use {DEPRECATED[old]} (the old name goes in the next release)"
            )
