"""Hostile and broken input: random bytes, wrong encodings, NUL bytes, formula strings, deep nesting, huge lines,
look-alike labels, random CLI arguments. Nothing may crash with a traceback: a clear error or a recorded skip."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from autoannotator.cli import app
from autoannotator.errors import InputError, TaskError
from autoannotator.read.io import FORMULA_START, Record, Skip, Source, read_rows, write_rows
from autoannotator.read.task import load_task

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=200)


@FUZZ
@given(content=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".jsonl", ".parquet"]))
def test_random_bytes_give_rows_skips_or_one_clear_error(tmp_path: Path, content: bytes, suffix: str) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_bytes(content)
    try:
        rows = [row for batch in Source(path).batches(50) for row in batch]
    except InputError as exc:
        assert str(path) in str(exc)
        return
    for row in rows:
        assert isinstance(row, Record | Skip)
        if isinstance(row, Skip):
            assert row.reason


@FUZZ
@given(values=st.lists(texts, min_size=1, max_size=20))
def test_any_text_comes_back_exactly_as_written(tmp_path: Path, values: list[str]) -> None:
    path = tmp_path / "data.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        writer.writerows([v] for v in values)
    rows = [row for batch in Source(path).batches(7) for row in batch]
    assert len(rows) == len(values)
    for row, value in zip(rows, values, strict=True):
        if isinstance(row, Record):
            assert row.text == value  # never evaluated, trimmed or re-encoded
        else:
            assert not value.strip() or "\x00" in value or row.reason  # blank text is a recorded skip


@FUZZ
@given(values=st.lists(texts, min_size=1, max_size=20))
def test_csv_safe_output_has_no_formula_cells_and_keeps_the_text(tmp_path: Path, values: list[str]) -> None:
    path = tmp_path / "out.csv"
    rows = [{"text": v, "label": "=1+1"} for v in values]
    write_rows(path, [rows], columns={"text": "string", "label": "string"}, csv_safe=True)
    back = list(read_rows(path))
    for row, value in zip(back, values, strict=True):
        assert not any(cell.startswith(FORMULA_START) for cell in row.values())
        assert row["text"] in (value, "'" + value) and row["label"] == "'=1+1"


def test_deep_nesting_and_huge_lines_are_skipped_or_read(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    huge = json.dumps({"text": "x" * 10_000_000})
    path.write_text(f"{deep}\n{huge}\n" + json.dumps({"text": "fine"}) + "\n", encoding="utf-8")
    rows = [row for batch in Source(path).batches(10) for row in batch]
    assert isinstance(rows[0], Skip) and rows[0].field == "" and "JSON" in rows[0].reason
    assert isinstance(rows[1], Record) and len(rows[1].text) == 10_000_000
    assert isinstance(rows[2], Record) and rows[2].text == "fine"


def test_wrong_encoding_and_nul_bytes_are_skips_naming_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"id,text\n1,caf\xe9 latin-1\n2,nul \x00 byte\n3,fine\n")
    rows = [row for batch in Source(path, id_field="id").batches(10) for row in batch]
    assert [type(r).__name__ for r in rows] == ["Skip", "Skip", "Record"]
    assert isinstance(rows[0], Skip) and rows[0].field == "text" and "UTF-8" in rows[0].reason
    assert isinstance(rows[1], Skip) and rows[1].pos == 1 and rows[1].reason  # the CSV reader refuses NUL


@FUZZ
@given(text=st.text(max_size=300))
def test_random_task_files_load_or_name_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "task.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_task(path)
    except TaskError as exc:
        assert str(path) in str(exc)


def test_look_alike_labels_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in "positive")  # NFKC folds it to "positive"
    path.write_text(f"name: t\nlabels: [{{name: positive}}, {{name: {fullwidth}}}]\n", encoding="utf-8")
    with pytest.raises(TaskError, match="duplicate label"):
        load_task(path)


OPTIONS = ["--task", "--specialists", "--hard-rule", "--rows-per-stage", "--batch-size", "--aggregate", "--review",
           "--llm", "--budget-usd", "--llm-share", "--warmup", "--out"]  # fmt: skip


@FUZZ
@given(
    pairs=st.lists(st.tuples(st.sampled_from(OPTIONS), texts.filter(lambda t: not t.startswith("-"))), max_size=4)
)
def test_random_cli_arguments_never_crash_with_a_traceback(tmp_path: Path, pairs: list[tuple[str, str]]) -> None:
    data = tmp_path / "in.csv"
    data.write_text("text\nhello\n", encoding="utf-8")
    args = ["annotate", str(data), "--task", "sentiment-2", "--out", str(tmp_path / "o.jsonl"), "--review", "none"]
    args += ["--quiet", "--specialists", "vader"] + [a for pair in pairs for a in pair]
    result = CliRunner().invoke(app, args, catch_exceptions=True)
    assert result.exit_code in (0, 2), (args, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
