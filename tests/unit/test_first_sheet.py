"""People's labels before a run: the uniform sheet (`handoff.first`) and what the calibration reader keeps."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest

from autoannotator.cli import people
from autoannotator.errors import InputError, LedgerError
from autoannotator.handoff import labelstudio
from autoannotator.handoff.first import fill_sheet, first_rows, write_sheet
from autoannotator.read.io import Source, read_rows
from autoannotator.trust.evidence import read_calibration
from entry import run_cli

LABELS = ("negative", "positive")


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_sheet_is_a_uniform_draw_with_its_weights(tmp_path: Path) -> None:
    texts = [f"=row {i}" if i == 3 else f"row {i}" for i in range(50)]
    data = write(tmp_path / "in.csv", [{"id": str(i), "text": t} for i, t in enumerate(texts)])
    sheet = tmp_path / "people.csv"
    drawn = first_rows(Source(data, id_field="id"), 10, seed=1)
    assert len(drawn) == 10
    write_sheet(drawn, sheet, "text")
    with sheet.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), key=int)  # in input order
    assert {r["weight"] for r in rows} == {"5.0"} and {r["label"] for r in rows} == {""}
    other = tmp_path / "other.csv"
    write_sheet(first_rows(Source(data, id_field="id"), 10, seed=2), other, "text")
    assert other.read_text(encoding="utf-8") != sheet.read_text(encoding="utf-8")  # the seed draws


def test_the_reader_keeps_ids_and_weights_only_when_every_row_has_them(tmp_path: Path) -> None:
    rows = [{"id": "a", "text": "'=1+1 good", "label": "positive", "weight": "5"},
            {"id": "b", "text": "bad", "label": "negative", "weight": "5"}]  # fmt: skip
    truth = read_calibration(write(tmp_path / "s.csv", rows), "text", LABELS)
    assert truth.ids == ["a", "b"] and truth.weights is not None and truth.weights.tolist() == [5.0, 5.0]
    assert truth.texts[0] == "=1+1 good"  # a neutralised cell is read back as written
    assert np.array_equal(truth.reference, [1, 0])
    partly = read_calibration(write(tmp_path / "p.csv", [rows[0], {**rows[1], "weight": ""}]), "text", LABELS)
    assert partly.ids == ["a", "b"] and partly.weights is None
    plain = read_calibration(write(tmp_path / "n.csv", [{"text": "ok", "label": "positive"}]), "text", LABELS)
    assert plain.ids is None and plain.weights is None


def test_answers_fill_the_sheet_in_place_and_keep_its_cells(tmp_path: Path) -> None:
    """`fill_sheet` (the answers of a Label Studio project): labels by id, earlier labels kept unless answered
    again, a neutralised cell left neutralised (the calibration reader undoes it), the weights as they were."""
    rows = [{"id": "a", "text": "'=1+1 good", "label": "", "weight": "5.0"},
            {"id": "b", "text": "bad", "label": "negative", "weight": "5.0"},
            {"id": "c", "text": "fine", "label": "", "weight": "5.0"}]  # fmt: skip
    sheet = write(tmp_path / "people.csv", rows)
    assert fill_sheet(sheet, {"a": "positive", "x": "negative"}) == (1, 3)
    with sheet.open(encoding="utf-8", newline="") as f:
        assert [(r["id"], r["text"], r["label"], r["weight"]) for r in csv.DictReader(f)] == [
            ("a", "'=1+1 good", "positive", "5.0"), ("b", "bad", "negative", "5.0"), ("c", "fine", "", "5.0")
        ]  # fmt: skip
    with pytest.raises(InputError, match="not a sheet from ask-people-first"):
        fill_sheet(write(tmp_path / "other.csv", [{"id": "a", "text": "t", "label": ""}]), {"a": "positive"})


def test_a_server_that_fails_half_way_through_the_draw_says_which_project_to_resume(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The project is made, then the import fails: the line names the project to give `--project` (its tasks
    are kept, and a second send imports only the ids not there)."""

    class Server:
        def __init__(self) -> None:
            self.projects = SimpleNamespace(create=lambda **_: SimpleNamespace(id=7), import_tasks=self.refuse)
            self.tasks = SimpleNamespace(list=lambda **_: [])

        def refuse(self, **_: object) -> None:
            raise httpx.ConnectError("connection reset")

    monkeypatch.setattr(labelstudio, "client", lambda url, token: Server())
    with pytest.raises(LedgerError, match=r"unreachable: connection reset; run again with --project 7"):
        labelstudio.send(
            "http://127.0.0.1:1", "t", list(LABELS), [{"id": "a", "text": "x"}], project=None, title="t"
        )


def test_fill_sheet_with_a_task_refuses_answers_outside_it_before_touching_the_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fill-sheet --task`: an answer that is not one of the task's labels (a project made for another task)
    is one line naming the sheet, the field and the rows; the sheet is left as it was. Without `--task` the
    answers are written as given (the calibration reader checks them against the run's task)."""
    data = write(tmp_path / "in.csv", [{"id": str(i), "text": f"row {i}"} for i in range(6)])
    sheet = tmp_path / "people.csv"
    write_sheet(first_rows(Source(data, id_field="id"), 3, seed=0), sheet, "text")
    ids = [r["id"] for r in read_rows(sheet)]
    given = {ids[0]: (["positive"], "ann", "t"), ids[1]: (["spam"], "ann", "t")}
    monkeypatch.setattr(people, "answers", lambda url, token, project: given)
    before = sheet.read_bytes()
    args = ("fill-sheet", sheet, "http://127.0.0.1:9", "7", "--token", "t")
    refused = run_cli(*args, "--task", "sentiment-2", check=False)
    line = " ".join(refused.stderr.split())
    assert refused.returncode != 0 and sheet.read_bytes() == before, line
    assert (
        f"{sheet}, field 'label'" in line and "http://127.0.0.1:9/projects/7" in line and f"['{ids[1]}']" in line
    )
    given[ids[1]] = (["negative", "positive"], "ann", "t")
    several = run_cli(*args, "--task", "sentiment-2", check=False)
    assert several.returncode != 0 and "more than one choice" in several.stderr and sheet.read_bytes() == before
    given[ids[1]] = (["negative"], "ann", "t")
    run_cli(*args, "--task", "sentiment-2")
    assert {r["id"]: r["label"] for r in read_rows(sheet)} == {ids[0]: "positive", ids[1]: "negative", ids[2]: ""}
