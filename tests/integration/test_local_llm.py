"""The embedded default reviewer: the packaged Gemma 3 270M GGUF run by llama.cpp (slow-ish, but CI runs it)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from autoannotator.llm import Request
from autoannotator.llm.local import LocalChat, default_gguf
from autoannotator.read.task import load_task
from autoannotator.review import HardRow, Prompts
from autoannotator.testing import read_jsonl
from entry import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local() -> LocalChat:
    return LocalChat()


def ask(model: LocalChat, text: str, task_name: str = "sentiment-2") -> tuple[str, dict[str, float]]:
    task = load_task(task_name)
    messages = Prompts(task).messages(
        HardRow(0, text, {}, None), rationale=False, shots=[(e.text, e.label) for e in task.examples]
    )
    completion = asyncio.run(model.complete(Request(messages, choices=task.label_names)))
    return completion.text, completion.logprobs


def test_the_packaged_gguf_is_assembled_once(model_cache: Path) -> None:
    path = default_gguf()
    assert path.parent == model_cache and path.stat().st_size > 200_000_000
    assert default_gguf() == path


def test_constrained_choice_scores_every_label_and_is_deterministic(local: LocalChat) -> None:
    label, logprobs = ask(local, "Absolutely wonderful, I love it, best purchase ever!")
    assert set(logprobs) == {"negative", "positive"}
    assert label == max(logprobs, key=lambda k: logprobs[k])
    assert all(v < 0 for v in logprobs.values())
    assert ask(local, "Absolutely wonderful, I love it, best purchase ever!") == (label, logprobs)


def test_clear_cut_sentiment_is_mostly_right(local: LocalChat) -> None:
    cases = {
        "Absolutely wonderful, I love it, best purchase ever!": "positive",
        "Terrible. It broke on the first day and support ignored me.": "negative",
        "Great sound, great price, I am very happy with it.": "positive",
        "The worst film I have ever seen, a total waste of time.": "negative",
    }
    right = sum(ask(local, text)[0] == gold for text, gold in cases.items())
    assert right >= 3


def test_annotate_with_the_local_model_end_to_end(example_csv: Path, tmp_path: Path) -> None:
    data = tmp_path / "small.csv"
    data.write_text("\n".join(example_csv.read_text(encoding="utf-8").splitlines()[:41]) + "\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    result = run_cli("annotate", data, "--task", "sentiment-2", "--out", out, "--llm", "local", "--quiet")
    assert "weak reviewer" in result.stderr
    rows = read_jsonl(out)
    reviewed = [r for r in rows if r["source"] == "llm"]
    assert reviewed and all(r["label"] in ("negative", "positive") and r["cost_usd"] == 0 for r in reviewed)
    assert all(0 < r["confidence"] < 1 for r in reviewed)


def test_with_calibration_labels_the_local_models_accuracy_is_measured_not_assumed(
    example_csv: Path, tmp_path: Path
) -> None:
    """Human labels make even a weak reviewer usable: its accuracy is measured on them, and the specialists
    keep the rows where they are shown at least as accurate (instead of the paper's gate deciding unmeasured)."""
    lines = example_csv.read_text(encoding="utf-8").splitlines()
    data, human = tmp_path / "small.csv", tmp_path / "human.csv"
    data.write_text("\n".join(lines[:41]) + "\n", encoding="utf-8")
    human.write_text("\n".join([lines[0], *lines[41:101]]) + "\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    run = run_cli(
        "annotate",
        data,
        "--task",
        "sentiment-2",
        "--out",
        out,
        "--llm",
        "local",
        "--calibration",
        human,
        "--quiet",
    )
    line = " ".join(run.stderr.split())
    said = re.search(r"the reviewer's accuracy (\d\.\d+)", line)
    assert said is not None and "calibration" in line, line
    rows = read_jsonl(out)
    assert len(rows) == 40 and all(r["label"] in ("negative", "positive") for r in rows)
    # a reviewed row says how often the local model is right on rows alike, measured: never 1
    assert all(r["confidence"] < 1 for r in rows if r["source"] == "llm")
