"""Exceptions raised by autoannotator.

Hierarchy::

    AutoAnnotatorError
    ├── TaskError          the task file is unreadable or invalid
    ├── InputError         an input file cannot be read as a dataset
    ├── AdapterError       an adapter does not fit its specialist or the task
    ├── SpecialistError    a specialist is unknown, not installed, or not fitted
    ├── LedgerError        a run folder cannot be created or resumed
    │   └── ConfigMismatchError  a resumed run's configuration differs
    └── BudgetError        the next LLM call could cost more than the budget has left
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError


class AutoAnnotatorError(Exception):
    """Base class of every error this package raises on purpose."""


class TaskError(AutoAnnotatorError):
    """The task file is unreadable or invalid; the message names the file and field."""


class InputError(AutoAnnotatorError):
    """An input file cannot be read; the message names the file and, where known, the row and field."""

    def __init__(self, path: Path, problem: str, *, row: int | None = None, field: str | None = None) -> None:
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.row = row
        self.field = field


class AdapterError(AutoAnnotatorError):
    """An adapter spec names labels that its specialist or the task does not have."""


class SpecialistError(AutoAnnotatorError):
    """A specialist is unknown, its package is missing, or it must be fitted first."""


class BudgetError(AutoAnnotatorError):
    """The next LLM call could cost more than what is left of the budget (raised before spending)."""


class LedgerError(AutoAnnotatorError):
    """A run folder cannot be used: for example resuming with a different configuration."""


class ConfigMismatchError(LedgerError):
    """A resumed run's configuration differs from the stored one; `paths`: the differing settings, dotted
    (``trust.share``)."""

    def __init__(self, message: str, paths: list[str]) -> None:
        super().__init__(message)
        self.paths = paths


def describe(exc: ValidationError) -> str:
    """One line per problem of a pydantic error: ``field.path: message``."""
    return "; ".join(f"{_where(err['loc'])}: {_message(err)}" for err in exc.errors())


def _where(loc: tuple[Any, ...]) -> str:
    """A field path, items counted as people count: ``labels #1.name`` for pydantic's ``labels.0.name``."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int) and parts:
            parts[-1] += f" #{part + 1}"
        else:
            parts.append(str(part))
    return ".".join(parts) or "<root>"


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "too_short" and err["loc"] == ("labels",):
        return "needs at least two labels"
    return str(err["msg"]).removeprefix("Value error, ")
