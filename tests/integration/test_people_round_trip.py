"""`ask-people` end to end through the real entry point: a weak reviewer (recorded answers, 62% right), the
rows people are asked, their sheet filled with the gold label, `import`, and the run re-judged on it without
a single new reviewer call."""

from __future__ import annotations

import csv
import re
import sqlite3
from pathlib import Path

import pytest

from autoannotator.testing import read_jsonl, run_cli
from weak_reviewer import accuracy, gold, weak_answers

pytestmark = pytest.mark.slow


def test_people_labels_rejudge_the_run_without_asking_the_reviewer_again(
    example_csv: Path, tmp_path: Path
) -> None:
    truth = gold(example_csv)
    out, run = tmp_path / "labels.jsonl", tmp_path / "labels.jsonl.run"
    run_cli("annotate", example_csv, "--task", "sentiment-2", "--specialists", "vader,textblob,afinn",
            "--review", f"replay:{weak_answers(example_csv, tmp_path)}", "--out", out, "--quiet")  # fmt: skip
    before = accuracy(out, truth)
    ledger = run / "ledger.sqlite"
    with sqlite3.connect(ledger) as db:
        reviews = db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0]
    sheet = tmp_path / "people.csv"
    asked = run_cli("ask-people", run, "--rows", "100", "--out", sheet)
    said = re.search(r"100 rows for people \((\d+) where the reviewer and the specialists differ\)", asked.stderr)
    assert said is not None and 20 <= int(said.group(1)) <= 50, asked.stderr
    with sheet.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 100
    again = tmp_path / "again.csv"
    run_cli("ask-people", run, "--rows", "100", "--out", again)  # one draw per run: the same rows again
    with again.open(encoding="utf-8", newline="") as f:
        assert [r["id"] for r in csv.DictReader(f)] == [r["id"] for r in rows]
    for row in rows:
        row["label"] = truth[row["text"]]
    with sheet.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    done = run_cli("import", run, sheet, "--out", out)
    line = " ".join(done.stderr.split())
    assert "People's labels on 100 asked rows" in line and "no reviewer call" in line, line
    estimate = re.search(r"Estimated accuracy of the output: (\d\.\d+) \((\d\.\d+)-(\d\.\d+)", line)
    assert estimate is not None
    after = accuracy(out, truth)
    assert after > before + 0.1  # the specialists outvote a reviewer the people show is wrong
    low, high = float(estimate.group(2)), float(estimate.group(3))
    assert low <= after <= high
    labelled = read_jsonl(out)
    assert sum(r["source"] == "relabelled" for r in labelled) > 30
    assert sum(r["source"] == "human" for r in labelled) == 100
    with sqlite3.connect(ledger) as db:
        assert db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == reviews  # nobody was asked again
    first = out.read_bytes()
    run_cli("import", run, sheet, "--out", out)  # importing again re-judges from the run's own labels
    assert out.read_bytes() == first
