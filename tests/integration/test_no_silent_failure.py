"""The first hour, second pass: nothing lost, no failure that looks like success, a run that says what it did.
Each test runs the real command line in a child process, as a user would."""

from __future__ import annotations

import csv
import json
import os
import re
import socket
from pathlib import Path

import pytest

from autoannotator.read.io import read_rows, write_rows
from autoannotator.testing import ChatServer, read_jsonl, vader_reviewer
from entry import run_cli
from faults import write_rows as write_reviews

pytestmark = pytest.mark.slow


def one_error(stderr: str) -> str:
    """The one line of stderr, an error (no progress bar above it, no traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    return lines[0]


def endpoint(server: ChatServer | None = None, *, key: str = "test-key") -> dict[str, str]:
    """The environment of a run whose LLM is `server` (none: a port nobody listens on)."""
    if server is None:
        with socket.socket() as s:  # bound, then closed: nothing listens there
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    else:
        url = server.base_url
    return {**os.environ, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": key}


def test_an_output_or_run_folder_that_would_overwrite_an_input_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    write_reviews(data, 20)
    before = data.read_bytes()
    same = run_cli("annotate", data, "--task", "sentiment-2", "--out", data, check=False)
    assert same.returncode == 2
    assert one_error(same.stderr) == f"error: {data}: --out would overwrite the input {data}; choose another --out"
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    assert "would overwrite the input" in one_error(
        run_cli("annotate", data, "--task", "sentiment-2", "--out", link, check=False).stderr
    )
    holder = run_cli(
        "annotate",
        data,
        "--task",
        "sentiment-2",
        "--out",
        tmp_path / "o.jsonl",
        "--run-dir",
        tmp_path,
        check=False,
    )
    assert "--run-dir would overwrite the input" in one_error(holder.stderr)
    labels = tmp_path / "gold.csv"
    labels.write_text("text,label\ngreat,positive\nawful,negative\n", encoding="utf-8")
    calibrated = run_cli(
        "annotate", data, "--task", "sentiment-2", "--out", labels, "--calibration", labels,
        "--target-agreement", "0.9", check=False,
    )  # fmt: skip
    assert "--out would overwrite the calibration file" in one_error(calibrated.stderr)
    assert data.read_bytes() == before and labels.read_text(encoding="utf-8").startswith("text,label")
    assert not (tmp_path / "in.csv.run").exists()


def test_an_unreachable_endpoint_or_a_refused_key_stops_before_any_work(tmp_path: Path) -> None:
    data, out = tmp_path / "in.csv", tmp_path / "o.jsonl"
    write_reviews(data, 50)
    args = ("annotate", data, "--task", "sentiment-2", "--out", out, "--llm", "openai:gpt-4o-mini")
    dead = run_cli(*args, env=endpoint(), check=False, timeout_s=60)
    assert dead.returncode == 2
    assert "cannot reach the endpoint" in one_error(dead.stderr) and "OPENAI_BASE_URL" in dead.stderr
    with ChatServer(vader_reviewer, api_key="right-key") as server:
        refused = run_cli(*args, env=endpoint(server, key="wrong-key"), check=False)
        assert server.requests == []  # not one chat request was made
    assert refused.returncode == 2
    assert "refused the key (HTTP 401); check OPENAI_API_KEY" in one_error(refused.stderr)
    assert not out.exists()


def test_a_key_revoked_mid_run_stops_with_the_cause_and_the_run_resumes(tmp_path: Path) -> None:
    data, out = tmp_path / "in.csv", tmp_path / "o.jsonl"
    write_reviews(data, 300)
    args = ("annotate", data, "--task", "sentiment-2", "--specialists", "vader,afinn", "--no-learn", "--out", out)
    with ChatServer(vader_reviewer, faults=lambda n: "401" if n >= 40 else None) as server:
        failed = run_cli(*args, "--llm", "openai:gpt-4o-mini", env=endpoint(server), check=False)
    assert failed.returncode == 2
    line = failed.stderr.strip().splitlines()[-1]
    assert re.search(r"failed on \d+ of the \d+ rows .* x AuthenticationError", line), failed.stderr
    assert "run the same command with --resume" in line and "Traceback" not in failed.stderr
    kept = sum(1 for _ in (tmp_path / "o.jsonl.run").glob("ledger.sqlite"))
    assert kept == 1 and not out.exists()
    with ChatServer(vader_reviewer) as server:
        run_cli(*args, "--llm", "openai:gpt-4o-mini", "--resume", "--quiet", env=endpoint(server))
    rows = read_jsonl(out)
    assert len(rows) == 300 and all(r["review"] in (None, "ok") for r in rows)


def test_the_output_keeps_the_input_columns_unless_told_otherwise(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text(
        "id,text,label,note\n7,great stuff,positive,a\n8,awful stuff,negative,b\n9,,negative,c\n"
        "10,fine,positive,d\n",
        encoding="utf-8",
    )
    out = tmp_path / "o.jsonl"
    run_cli("annotate", data, "--task", "sentiment-2", "--out", out, "--quiet")
    rows = read_jsonl(out)  # row 3 (empty text) is skipped: the others keep their own columns
    assert [(r["input_id"], r["input_label"], r["note"]) for r in rows] == [
        ("7", "positive", "a"), ("8", "negative", "b"), ("10", "positive", "d"),
    ]  # fmt: skip
    assert rows[0]["text"] == "great stuff" and "label" in rows[0] and "source" in rows[0]
    only = tmp_path / "only.csv"
    run_cli("annotate", data, "--task", "sentiment-2", "--out", only, "--quiet", "--keep-columns", "note")
    assert list(read_rows(only))[2]["note"] == "d" and "input_label" not in next(read_rows(only))
    none = tmp_path / "none.jsonl"
    run_cli("annotate", data, "--task", "sentiment-2", "--out", none, "--quiet", "--keep-columns", "none")
    assert "note" not in read_jsonl(none)[0]
    typed = tmp_path / "in.jsonl"
    typed.write_text('{"text": "great", "score": 3, "meta": {"a": 1}}\n{"text": "awful", "score": null}\n')
    parquet = tmp_path / "o.parquet"
    run_cli("annotate", typed, "--task", "sentiment-2", "--out", parquet, "--quiet")
    assert [(r["score"], r["meta"]) for r in read_rows(parquet)] == [("3", '{"a": 1}'), (None, None)]
    wrong = run_cli("annotate", data, "--task", "sentiment-2", "--out", tmp_path / "w.jsonl", "--keep-columns",
                    "note,colour", check=False)  # fmt: skip
    assert "no column colour to keep (--keep-columns)" in one_error(wrong.stderr)
    data.write_text("id,text\n1,changed\n", encoding="utf-8")
    sheet = tmp_path / "review.csv"
    sheet.write_text("id,label\n", encoding="utf-8")
    moved = run_cli("import", tmp_path / "o.jsonl.run", sheet, "--out", out, check=False)
    assert "the input is missing or changed since the run" in one_error(moved.stderr)


def test_a_replay_file_of_several_settings_needs_a_choice(tmp_path: Path) -> None:
    data, replay = tmp_path / "in.csv", tmp_path / "answers.csv"
    write_reviews(data, 10)
    with data.open(encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    with replay.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["text", "llm_label", "model", "setting", "raw_response", "prompt_tokens", "completion_tokens"]
        )
        for model in ("gpt-3.5-turbo", "gpt-4"):
            writer.writerows([t, "positive", model, "zero-shot", "positive", 50, 1] for t in texts)
    args = ("annotate", data, "--task", "sentiment-2", "--out", tmp_path / "o.jsonl", "--quiet")
    ambiguous = run_cli(*args, "--review", f"replay:{replay}", check=False)
    assert one_error(ambiguous.stderr) == (
        f"error: {replay}: it records 2 settings (gpt-3.5-turbo|zero-shot, gpt-4|zero-shot); name one: "
        f"--review 'replay:{replay}#MODEL|SETTING'"
    )
    run_cli(*args, "--review", f"replay:{replay}#gpt-4")
    assert {r["source"] for r in read_jsonl(tmp_path / "o.jsonl")} <= {"consensus", "llm"}


def test_eval_of_an_output_with_nothing_labelled_prints_dashes(tmp_path: Path) -> None:
    data, out = tmp_path / "in.csv", tmp_path / "o.jsonl"
    data.write_text("id,text,label\n1,great stuff,positive\n2,awful stuff,negative\n", encoding="utf-8")
    run_cli("annotate", data, "--task", "sentiment-2", "--out", out, "--quiet")
    rows = [{**r, "label": None, "source": "unresolved", "confidence": None} for r in read_jsonl(out)]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_cli("eval", out, "--gold", data)
    assert "| all | 0 | - | - |" in result.stdout and "Nothing to score" in result.stdout
    assert "0.000" not in result.stdout.split("## Against gold")[1].split("## ")[0]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv"])
def test_every_review_sheet_export_writes_is_read_back_by_import(tmp_path: Path, suffix: str) -> None:
    data, out, run = tmp_path / "in.csv", tmp_path / "o.jsonl", tmp_path / "run"
    write_reviews(data, 60)
    run_cli("annotate", data, "--task", "sentiment-2", "--out", out, "--run-dir", run, "--quiet")
    sheet = tmp_path / f"review{suffix}"
    run_cli("export", run, "--out", sheet)
    rows = list(read_rows(sheet))
    assert rows, "the run left no unresolved row to export"
    filled = [{**r, "label": "positive"} for r in rows]
    write_rows(sheet, [filled], columns=dict.fromkeys(filled[0], "string"))
    imported = run_cli("import", run, sheet, "--out", out)
    assert f"{len(rows)} human labels imported" in imported.stderr
    humans = [r for r in read_jsonl(out) if r["source"] == "human"]
    assert len(humans) == len(rows) and {r["label"] for r in humans} == {"positive"}
    same = run_cli("import", run, sheet, "--out", sheet, check=False)
    assert "--out would overwrite the review sheet" in one_error(same.stderr)


def test_a_sample_of_labelled_rows_goes_to_people_and_their_corrections_come_back(tmp_path: Path) -> None:
    data, out, run = tmp_path / "in.csv", tmp_path / "o.jsonl", tmp_path / "run"
    write_reviews(data, 200)
    run_cli("annotate", data, "--task", "sentiment-2", "--out", out, "--run-dir", run, "--quiet")
    sheet = tmp_path / "check.csv"
    said = run_cli("export", run, "--out", sheet, "--sample", "10", "--seed", "3")
    assert "10 sampled labelled rows" in said.stderr
    rows = list(read_rows(sheet))
    assert len(rows) == 10 and all(r["run_label"] in ("positive", "negative") and r["label"] == "" for r in rows)
    again = tmp_path / "again.csv"
    run_cli("export", run, "--out", again, "--sample", "10", "--seed", "3")
    assert again.read_bytes() == sheet.read_bytes()  # the same draw for the same seed
    flipped = {rows[0]["id"]: "negative" if rows[0]["run_label"] == "positive" else "positive"}
    write_rows(
        sheet, [[{**r, "label": flipped.get(r["id"], "")} for r in rows]], columns=dict.fromkeys(rows[0], "string")
    )
    run_cli("import", run, sheet, "--out", out)
    corrected = {r["id"]: r for r in read_jsonl(out)}[rows[0]["id"]]
    assert (corrected["label"], corrected["source"]) == (flipped[rows[0]["id"]], "human")


def test_specialists_auto_without_an_llm_says_what_it_chose_and_can_learn(tmp_path: Path) -> None:
    data, out = tmp_path / "in.csv", tmp_path / "o.jsonl"
    write_reviews(data, 120)
    result = run_cli("annotate", data, "--task", "sentiment-2", "--specialists", "auto", "--out", out, "--quiet")
    chose = [line for line in result.stderr.splitlines() if line.startswith("--specialists auto chose: ")]
    assert len(chose) == 1, result.stderr
    assert "minilm (learns the task from the reviewed rows)" in chose[0] and "card matching" in chose[0]
    voters = {name for row in read_jsonl(out) for name in row["votes"]}
    assert len(voters) >= 2 and {"minilm", "tfidf"} <= voters
    planned = run_cli(
        "plan", data, "--task", "sentiment-2", "--specialists", "auto", env={**os.environ, "COLUMNS": "250"}
    )
    assert "unknown specialist" not in planned.stderr
    assert re.search(r"specialists\s+│?\s*\S.*minilm, tfidf \(auto, by card matching", planned.stdout), (
        planned.stdout
    )


def test_help_names_auto_and_none_and_a_resume_mismatch_names_the_option(tmp_path: Path) -> None:
    text = " ".join(run_cli("annotate", "--help", env={**os.environ, "COLUMNS": "200"}).stdout.split())
    assert "auto: chosen on the first rows' evidence" in text and "none: no specialists" in text
    cards = {c["name"]: c for c in json.loads(run_cli("models", "--json").stdout)}
    assert {n for n, c in cards.items() if c["extra"] == "torch"} == {"minilm-torch", "minilm-finetune"}
    listed = " ".join(run_cli("models", env={**os.environ, "COLUMNS": "200"}).stdout.split())
    assert "minilm-finetune needs the torch extra (installed: pip install 'autoannotator[torch]')" in listed
    data, out = tmp_path / "in.csv", tmp_path / "o.jsonl"
    write_reviews(data, 30)
    run_cli("annotate", data, "--task", "sentiment-2", "--out", out, "--quiet")
    again = run_cli(
        "annotate", data, "--task", "sentiment-2", "--out", out, "--quiet", "--resume", "--audit-share", "0.2",
        "--no-cross-fit", check=False,
    )  # fmt: skip
    assert "cannot resume: --cross-fit/--no-cross-fit, --audit-share differ" in one_error(again.stderr)
