"""The task spec: what to label, with which labels, read from a YAML file.

Example::

    name: sentiment-2
    description: Polarity of a review sentence.
    text_field: text
    labels:
      - name: negative
        description: The writer dislikes the thing.
      - name: positive
        description: The writer likes the thing.
"""

from __future__ import annotations

import unicodedata
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from autoannotator.errors import TaskError, describe
from autoannotator.read.adapters import AdapterSpec

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Label(BaseModel):
    """One label of the task; `aliases` help match specialists' native labels by name. In a file, a label is a
    mapping with these fields, or its name alone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    description: str = ""
    aliases: tuple[Name, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


class Example(BaseModel):
    """A labelled example, shown to reviewers and used to seed trainable specialists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Annotated[str, StringConstraints(min_length=1)]
    label: Name


class Task(BaseModel):
    """A text classification task: one label per text, or with `multi_label` a set of labels (at most
    `max_labels`; empty only when `allow_empty`). In files, a set is a JSON list or names joined by
    `label_separator`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    description: str = ""
    labels: tuple[Label, ...] = Field(min_length=2)
    text_field: Name = "text"
    id_field: Name | None = None
    guidelines: str = ""
    examples: tuple[Example, ...] = ()
    specialists: dict[Name, AdapterSpec | None] = Field(
        default_factory=dict,
        description="Default specialists of this task, each with its adapter (null: derive it by label names).",
    )
    multi_label: bool = False
    max_labels: int | None = Field(default=None, ge=1, description="multi-label: at most this many per text")
    allow_empty: bool = Field(default=False, description="multi-label: a text may carry no label")
    label_separator: str = Field(default="|", min_length=1, description="multi-label: joins names in CSV cells")

    @model_validator(mode="after")
    def _check_labels(self) -> Task:
        seen: dict[str, str] = {}
        for label in self.labels:
            for key in (label.name, *label.aliases):
                folded = unicodedata.normalize("NFKC", key).casefold()  # fullwidth, upper case: the same
                if folded in seen:
                    raise ValueError(f"duplicate label {key!r} (clashes with {seen[folded]!r})")
                seen[folded] = label.name
        names = set(self.label_names)
        for i, example in enumerate(self.examples):
            for name in self.split(example.label):
                if name not in names:
                    raise ValueError(f"examples #{i + 1}.label: unknown label {name!r}; known: {sorted(names)}")
        for specialist, adapter in self.specialists.items():
            if adapter is not None:
                adapter.check_targets(names, where=f"specialists.{specialist}", several=self.multi_label)
        if not self.multi_label and (self.max_labels is not None or self.allow_empty):
            raise ValueError("max_labels and allow_empty apply to multi_label tasks only")
        return self

    def split(self, label: str) -> list[str]:
        """The labels a file's cell names: itself, or in a multi-label task its `label_separator` parts."""
        if not self.multi_label:
            return [label]
        return [part.strip() for part in label.split(self.label_separator) if part.strip()]

    @property
    def label_names(self) -> tuple[str, ...]:
        """The label names, in index order (a label's index is its column in every (n, k) array)."""
        return tuple(label.name for label in self.labels)


BUILTIN_TASKS = ("sentiment-2", "sentiment-3", "toxicity", "aspects")


def load_task(source: str | Path) -> Task:
    """Read a task from a YAML file, or a built-in one by name (see `BUILTIN_TASKS`)."""
    if isinstance(source, str) and source in BUILTIN_TASKS:
        resource = resources.files("autoannotator").joinpath(f"data/tasks/{source}.yaml")
        return _parse(resource.read_text(encoding="utf-8"), f"built-in task {source!r}")
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaskError(f"{path}: task file not found (built-in tasks: {', '.join(BUILTIN_TASKS)})") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise TaskError(f"{str(path)!r}: cannot read task file: {exc}") from None
    return _parse(text, str(path))


def _parse(text: str, where: str) -> Task:
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TaskError(f"{where}: not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(raw, dict):
        raise TaskError(f"{where}: expected a mapping of task fields, got {type(raw).__name__}")
    try:
        return Task.model_validate(raw)
    except ValidationError as exc:
        raise TaskError(f"{where}: {describe(exc)}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error as ``line L, column C: problem`` (1-based), without PyYAML's name for an in-memory text."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
