"""`ask-people-first` through the real entry point: rows drawn uniformly from the input before any run, the
sheet filled with the gold label, `annotate --calibration` with a weak replayed reviewer: the people's rows
take their labels, the specialists are judged against them, and the run ends re-judged on them."""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import pytest

from autoannotator.testing import read_jsonl
from entry import run_cli
from weak_reviewer import accuracy, gold, weak_answers

pytestmark = pytest.mark.slow


def filled(sheet: Path, truth: dict[str, str]) -> list[dict[str, str]]:
    """The sheet's rows with the gold label filled in, written back."""
    with sheet.open(encoding="utf-8", newline="") as f:
        rows = [{**r, "label": truth[r["text"]]} for r in csv.DictReader(f)]
    with sheet.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_people_first_are_the_truth_and_the_estimate(example_csv: Path, tmp_path: Path) -> None:
    truth = gold(example_csv)
    sheet = tmp_path / "people.csv"
    run_cli("ask-people-first", example_csv, "--task", "sentiment-2", "--rows", "60", "--out", sheet)
    refused = run_cli("ask-people-first", example_csv, "--task", "sentiment-2", "--out", sheet, check=False)
    assert refused.returncode != 0 and "already exists" in refused.stderr  # a filled sheet is never replaced
    rows = filled(sheet, truth)
    assert len({r["id"] for r in rows}) == 60 and {r["weight"] for r in rows} == {"5.0"}  # 300 rows / 60
    out = tmp_path / "labels.jsonl"
    weak = f"replay:{weak_answers(example_csv, tmp_path)}"
    args = ("annotate", example_csv, "--task", "sentiment-2", "--review", weak, "--calibration", sheet,
            "--out", out, "--quiet")  # fmt: skip
    done = run_cli(*args)
    labelled = {r["id"]: r for r in read_jsonl(out)}
    people = {r["id"]: r["label"] for r in rows}
    assert {i: labelled[i]["label"] for i in people} == people
    assert {labelled[i]["source"] for i in people} == {"human"}
    said = " ".join(done.stderr.split())
    assert "People's labels on 60 asked rows" in said and "Estimated accuracy of the output" in said
    assert "only reference" not in said  # the people's labels were the reference: nothing to ask for
    assert accuracy(out, truth) > 0.62 + 0.1  # the weak reviewer alone is right on 62%
    first = out.read_bytes()
    run_cli(*args, "--resume")  # the end step again: the same draw, the same labels
    assert out.read_bytes() == first


def test_a_label_studio_server_that_fails_leaves_no_sheet(example_csv: Path, tmp_path: Path) -> None:
    """The rows go to the server before the sheet is written: a server that cannot be reached is one line,
    and the same command can run again (an existing sheet is never replaced)."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    sheet = tmp_path / "people.csv"
    failed = run_cli("ask-people-first", example_csv, url, "--task", "sentiment-2", "--out", sheet,
                     "--to", "label-studio", "--token", "t", check=False)  # fmt: skip
    assert failed.returncode != 0 and f"Label Studio at {url} unreachable" in failed.stderr
    assert "Traceback" not in failed.stderr and not sheet.exists()


def test_a_run_that_sends_most_rows_to_the_reviewer_asks_for_peoples_labels(
    example_csv: Path, tmp_path: Path
) -> None:
    """The tool asks for people's labels where the reviewer was the only reference and took most rows: one
    line after the end line names the run, and the command it gives works as written."""
    out = tmp_path / "labels.jsonl"
    weak = f"replay:{weak_answers(example_csv, tmp_path)}"
    done = run_cli("annotate", example_csv, "--task", "sentiment-2", "--review", weak, "--out", out, "--quiet")
    said = " ".join(done.stderr.split())
    sent = sum(r["review"] is not None for r in read_jsonl(out)) / 300
    assert sent >= 0.5, said  # a weak reviewer on 300 rows: the specialists cannot match it on most of them
    assert f"The reviewer took {sent:.0%} of the rows: its answers were the run's only reference" in said
    command = f"autoannotator ask-people {tmp_path / 'labels.jsonl.run'} --rows 100"
    assert command in said
    sheet = tmp_path / "people.csv"
    run_cli(*command.split()[1:], "--out", sheet)
    with sheet.open(encoding="utf-8", newline="") as f:
        assert len(list(csv.DictReader(f))) == 100
