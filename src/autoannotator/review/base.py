"""What a reviewer is: it answers a batch of `HardRow` with one `Verdict` each.

A reviewer never guesses: an answer that names no task label is asked again once, then recorded as
``invalid`` (the row stays unresolved for a human), and a row the budget cannot pay for is recorded as
``budget``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from autoannotator.read.task import Task
from autoannotator.vote.labelsets import encode, parse_set, read_answer

Status = Literal["ok", "invalid", "budget", "error"]


@dataclass(frozen=True)
class HardRow:
    """A row the specialists did not settle, with their votes (specialist -> label or None)."""

    pos: int
    text: str
    votes: dict[str, str | None]
    best_guess: str | None


@dataclass(frozen=True)
class Verdict:
    """A reviewer's answer for one row. `label` is None unless `status` is ``ok``."""

    label: str | None
    status: Status
    reviewer: str
    confidence: float | None = None
    rationale: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    raw: str | None = None
    reason: str | None = None


class Reviewer(Protocol):
    """Decides hard rows."""

    @property
    def name(self) -> str: ...

    def review(self, rows: Sequence[HardRow]) -> list[Verdict]:
        """One verdict per row, in order."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...


def parse_label(text: str, labels: Sequence[str]) -> tuple[str | None, str | None]:
    """(label, rationale) from an answer: JSON ``{"label": ..., "rationale": ...}`` or a bare label.

    Matching is exact after trimming quotes and case; anything else gives ``(None, rationale)``.
    """
    by_key = {label.casefold(): label for label in labels}
    value, rationale = read_answer(text, "label")
    if not isinstance(value, str):
        return None, rationale
    return by_key.get(value.strip().strip("\"'.").casefold()), rationale


def parse_answer(text: str, task: Task) -> tuple[str | None, str | None]:
    """(label, rationale) from an answer to `task`: for a multi-label task the label is the set's canonical text
    (`autoannotator.vote.labelsets.encode`), else as `parse_label`."""
    if not task.multi_label:
        return parse_label(text, task.label_names)
    names = task.label_names
    labels, rationale = parse_set(text, names, allow_empty=task.allow_empty, max_labels=task.max_labels)
    return (None if labels is None else encode(labels, names)), rationale
