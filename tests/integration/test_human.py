"""Human review: export the unresolved rows, fill them in, import the decisions back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from autoannotator.testing import read_jsonl
from entry import run_cli

cli = run_cli


@pytest.fixture(scope="module")
def run(example_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("human")
    out = folder / "labels.jsonl"
    cli(
        "annotate",
        example_csv,
        "--task",
        "sentiment-2",
        "--out",
        out,
        "--run-dir",
        folder / "run",
        "--review",
        "none",
        "--quiet",
    )
    return out, folder / "run"


def test_csv_sheet_round_trip(run: tuple[Path, Path], tmp_path: Path) -> None:
    out, run_dir = run
    unresolved = [r for r in read_jsonl(out) if r["source"] == "unresolved"]
    sheet = tmp_path / "review.csv"
    cli("export", run_dir, "--out", sheet)
    rows = list(csv.DictReader(sheet.open(encoding="utf-8", newline="")))
    assert [r["id"] for r in rows] == [r["id"] for r in unresolved]
    assert all(r["label"] == "" and json.loads(r["votes"]) for r in rows)
    rows[0]["label"], rows[1]["label"] = "positive", "negative"
    with sheet.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    copy = tmp_path / "labels.jsonl"
    copy.write_bytes(out.read_bytes())
    cli("import", run_dir, sheet, "--out", copy, "--annotator", "ana")
    after = {r["id"]: r for r in read_jsonl(copy)}
    assert (after[rows[0]["id"]]["label"], after[rows[0]["id"]]["source"]) == ("positive", "human")
    assert (after[rows[1]["id"]]["label"], after[rows[1]["id"]]["source"]) == ("negative", "human")
    assert sum(r["source"] == "unresolved" for r in after.values()) == len(unresolved) - 2


def test_label_studio_round_trip(run: tuple[Path, Path], tmp_path: Path) -> None:
    _, run_dir = run
    tasks_path = tmp_path / "tasks.json"
    result = cli("export", run_dir, "--out", tasks_path)
    assert '<Choices name="label"' in result.stdout
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert tasks and {"id", "text"} <= set(tasks[0]["data"])
    voted = next(t for t in tasks if t["predictions"])
    prediction = voted["predictions"][0]
    assert prediction["result"][0]["value"]["choices"][0] in ("negative", "positive")
    assert 0 <= prediction["score"] <= 1
    tasks[0]["annotations"] = [{"was_cancelled": False, "result": [{"value": {"choices": ["positive"]}}]}]
    tasks_path.write_text(json.dumps(tasks), encoding="utf-8")
    copy = tmp_path / "labels.parquet"
    cli("import", run_dir, tasks_path, "--out", copy)
    import pyarrow.parquet as pq

    rows = {r["id"]: r for r in pq.read_table(copy).to_pylist()}
    assert rows[tasks[0]["data"]["id"]]["source"] == "human"


def test_import_rejects_unknown_labels_and_ids(run: tuple[Path, Path], tmp_path: Path) -> None:
    _, run_dir = run
    sheet = tmp_path / "bad.csv"
    sheet.write_text("id,label\nwhatever,positive\n", encoding="utf-8")
    result = cli("import", run_dir, sheet, "--out", tmp_path / "o.jsonl", check=False)
    assert result.returncode == 2 and "ids not in this run" in result.stderr
    sheet.write_text("id,label\nx,great\n", encoding="utf-8")
    result = cli("import", run_dir, sheet, "--out", tmp_path / "o.jsonl", check=False)
    assert result.returncode == 2
    assert "field 'label': unknown labels in 1 rows (row 2: 'great')" in result.stderr
