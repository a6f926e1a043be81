"""`ask-people` through a review sheet and the real entry point, with no LLM: the rows people are asked, the
sheet filled with the gold label, `import`, and the run re-judged on it. With a weak reviewer and a Label
Studio server: tests/integration/test_label_studio.py."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from autoannotator.testing import read_jsonl
from entry import run_cli
from weak_reviewer import accuracy, gold

pytestmark = pytest.mark.slow


def test_without_an_llm_people_labels_settle_the_rows_nobody_could(example_csv: Path, tmp_path: Path) -> None:
    """No reviewer: the rows in doubt are the unresolved ones; 60 people's labels train the stacked specialists,
    which label the rest of them (the estimate says how well)."""
    truth = gold(example_csv)
    out, run = tmp_path / "labels.jsonl", tmp_path / "labels.jsonl.run"
    run_cli("annotate", example_csv, "--task", "sentiment-2", "--out", out, "--quiet")
    unresolved = sum(r["source"] == "unresolved" for r in read_jsonl(out))
    assert unresolved > 50
    sheet = tmp_path / "people.csv"
    run_cli("ask-people", run, "--rows", "60", "--out", sheet)
    text = {r["id"]: r["text"] for r in read_jsonl(out)}
    with sheet.open(encoding="utf-8", newline="") as f:
        rows = [{**r, "label": truth[text[r["id"]]]} for r in csv.DictReader(f)]
    assert sum(r["source"] == "unresolved" for r in rows) == 30  # half the rows asked are the ones in doubt
    again = tmp_path / "again.csv"
    run_cli("ask-people", run, "--rows", "60", "--out", again)  # one draw per run: the same rows again
    with again.open(encoding="utf-8", newline="") as f:
        assert [r["id"] for r in csv.DictReader(f)] == [r["id"] for r in rows]
    first = tmp_path / "first.csv"  # a few answers first: too few to judge by, and the run says so
    for where, chosen in ((first, [{**r, "label": r["label"] if i < 5 else ""} for i, r in enumerate(rows)]),
                          (sheet, rows)):  # fmt: skip
        with where.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(chosen)
    early = run_cli("import", run, first, "--out", out)
    assert "Not re-judged: 5 of the 60 rows asked of people have their label" in " ".join(early.stderr.split())
    done = run_cli("import", run, sheet, "--out", out)
    labelled = read_jsonl(out)
    assert sum(r["source"] == "unresolved" for r in labelled) == 0 and "reviewer's on -" in done.stderr
    assert accuracy(out, truth) > 0.8
