"""A weak reviewer for the people tests: recorded answers, wrong on a known share of the bundled example's rows."""

from __future__ import annotations

import csv
from pathlib import Path

from autoannotator.testing import read_jsonl


def gold(example_csv: Path) -> dict[str, str]:
    """Text -> gold label of the bundled example."""
    with example_csv.open(encoding="utf-8", newline="") as f:
        return {r["text"]: r["label"] for r in csv.DictReader(f)}


def weak_answers(example_csv: Path, folder: Path) -> Path:
    """Recorded answers that give the wrong label on every third row and on every eighth (62% right)."""
    flip = {"positive": "negative", "negative": "positive"}
    rows = []
    for i, (text, label) in enumerate(gold(example_csv).items()):
        said = flip[label] if i % 3 == 0 or i % 8 == 0 else label
        rows.append([text, said, "weak", "zero-shot", 40, 1, said])
    answers = folder / "answers.csv"
    with answers.open("w", encoding="utf-8", newline="") as f:
        columns = ["text", "llm_label", "model", "setting", "prompt_tokens", "completion_tokens", "raw_response"]
        csv.writer(f).writerows([columns, *rows])
    return answers


def accuracy(out: Path, truth: dict[str, str]) -> float:
    """The output's accuracy against `truth` (text -> label)."""
    rows = read_jsonl(out)
    return sum(bool(r["label"] == truth[r["text"]]) for r in rows) / len(rows)
