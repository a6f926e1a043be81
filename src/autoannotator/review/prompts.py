"""The review prompt: system message (task, labels, guidelines, answer format), few-shot examples, the row."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autoannotator.llm.base import Message
from autoannotator.read.task import Task
from autoannotator.review.base import HardRow
from autoannotator.specialists.features import Featurizer


@dataclass
class Examples:
    """Few-shot examples: the task's own, plus up to `per_label` rows per label that the specialists agreed on,
    retrieved for each hard row by embedding similarity (MiniLM)."""

    featurizer: Featurizer
    per_label: int = 100
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    vectors: np.ndarray[Any, np.dtype[np.float64]] | None = None

    def add(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        """Offer agreed rows; a label keeps its first `per_label` (deterministic: input order)."""
        counts = Counter(self.labels)
        new = []
        for text, label in zip(texts, labels, strict=True):
            if counts[label] < self.per_label:
                counts[label] += 1
                new.append((text, label))
        if not new:
            return
        vectors = _dense(self.featurizer.transform([t for t, _ in new]))
        self.texts += [t for t, _ in new]
        self.labels += [lab for _, lab in new]
        self.vectors = vectors if self.vectors is None else np.vstack([self.vectors, vectors])

    def nearest(self, text: str, k: int) -> list[tuple[str, str]]:
        """The `k` pool examples most similar to `text`, most similar last (closest to the question)."""
        if self.vectors is None or k <= 0:
            return []
        query = _dense(self.featurizer.transform([text]))[0]
        order = np.argsort(-(self.vectors @ query), kind="stable")[:k]
        return [(self.texts[i], self.labels[i]) for i in order[::-1]]


def _dense(features: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Featurizer output (dense or scipy sparse) as a dense float array."""
    return np.asarray(features.toarray() if hasattr(features, "toarray") else features, dtype=np.float64)


class Prompts:
    """Builds the review messages for a task."""

    def __init__(self, task: Task, *, show_votes: bool = False) -> None:
        self.task = task
        self.show_votes = show_votes

    def system(self, *, rationale: bool) -> str:
        labels = "\n".join(f"- {lab.name}: {lab.description}".rstrip(": ") for lab in self.task.labels)
        key, value = ("labels", '["<label>", ...]') if self.task.multi_label else ("label", '"<label>"')
        answer = (
            f'{{"rationale": "<one or two sentences>", "{key}": {value}}}'
            if rationale
            else f'{{"{key}": {value}}}'
        )
        parts = [
            f"You label texts for the task {self.task.name!r}. {self.task.description}".strip(),
            f"Labels:\n{labels}",
            f"Guidelines: {self.task.guidelines.strip()}" if self.task.guidelines.strip() else "",
            f"Answer with JSON only: {answer}, where <label> is exactly one of: "
            + ", ".join(self.task.label_names)
            + "."
            + (self._set_rule() if self.task.multi_label else ""),
        ]
        return "\n\n".join(p for p in parts if p)

    def _set_rule(self) -> str:
        """Multi-label: every label that applies, how many at most, and whether none may."""
        most = f" (at most {self.task.max_labels})" if self.task.max_labels else ""
        empty = "; an empty list when none applies" if self.task.allow_empty else "; at least one"
        return f" List every label that applies{most}{empty}."

    def user(self, row: HardRow) -> str:
        text = f"Text:\n{row.text}"
        if self.show_votes and row.votes:
            votes = ", ".join(f"{name}: {label or 'abstained'}" for name, label in row.votes.items())
            text += f"\n\nSmall models voted (they are often wrong): {votes}"
        return text

    def messages(
        self, row: HardRow, *, rationale: bool, shots: Sequence[tuple[str, str]] = ()
    ) -> tuple[Message, ...]:
        out: list[Message] = [{"role": "system", "content": self.system(rationale=rationale)}]
        for text, label in shots:
            out.append({"role": "user", "content": f"Text:\n{text}"})
            answer = {"labels": self.task.split(label)} if self.task.multi_label else {"label": label}
            out.append({"role": "assistant", "content": json.dumps(answer)})
        out.append({"role": "user", "content": self.user(row)})
        return tuple(out)

    def schema(self, *, rationale: bool) -> dict[str, Any]:
        one = {"type": "string", "enum": list(self.task.label_names)}
        properties: dict[str, Any] = (
            {"labels": {"type": "array", "items": one, "uniqueItems": True}}
            if self.task.multi_label
            else {"label": one}
        )
        if rationale:
            properties = {"rationale": {"type": "string"}, **properties}
        return {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }
