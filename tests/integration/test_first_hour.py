"""A new user's first hour with the CLI: each problem found there, with the test that would have caught it."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from autoannotator import RunConfig, load_task
from autoannotator.learn.stages import LearningConfig
from autoannotator.report.evaluation import hard_share
from autoannotator.specialists import ZOO
from autoannotator.testing import ChatServer, committed, read_jsonl, vader_reviewer
from entry import run_cli
from faults import write_rows

pytestmark = pytest.mark.slow
NARROW = {**os.environ, "COLUMNS": "40", "TERM": "xterm-256color"}


def deep(tmp_path: Path) -> Path:
    """A folder whose path is longer than any terminal line."""
    folder = tmp_path.joinpath(*[f"a-rather-long-folder-name-{i}" for i in range(6)])
    folder.mkdir(parents=True)
    return folder


def error_line(stderr: str) -> str:
    """The one line of stderr that carries the error; fails unless there is exactly one and nothing else."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


def test_a_missing_input_is_one_unwrapped_line_and_leaves_no_run_folder(tmp_path: Path) -> None:
    folder = deep(tmp_path)
    missing = folder / "missing.csv"
    result = run_cli(
        "annotate", missing, "--task", "sentiment-2", "--out", folder / "o.jsonl", env=NARROW, check=False
    )
    assert result.returncode == 2
    assert error_line(result.stderr) == f"error: {missing}: file not found"
    assert not (folder / "o.jsonl.run").exists()


def test_an_unknown_output_format_is_refused_before_any_work(example_csv: Path, tmp_path: Path) -> None:
    tick = time.monotonic()
    result = run_cli("annotate", example_csv, "--task", "sentiment-2", "--out", tmp_path / "o.txt", check=False)
    assert result.returncode == 2 and "unknown format '.txt'" in error_line(result.stderr)
    assert time.monotonic() - tick < 30  # no model was loaded, no row labelled
    assert not (tmp_path / "o.txt.run").exists()


def test_a_run_that_failed_on_bad_input_does_not_block_the_retry(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("id,body\n1,great stuff\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    failed = run_cli("annotate", data, "--task", "sentiment-2", "--out", out, "--quiet", check=False)
    assert failed.returncode == 2 and "no column 'text'" in error_line(failed.stderr)
    data.write_text("id,text\n1,great stuff\n2,awful stuff\n", encoding="utf-8")
    run_cli("annotate", data, "--task", "sentiment-2", "--out", out, "--quiet")  # same folder, no --resume
    assert [r["text"] for r in read_jsonl(out)] == ["great stuff", "awful stuff"]


def test_validation_errors_name_every_bad_row_by_spreadsheet_row_on_one_line(
    example_csv: Path, tmp_path: Path
) -> None:
    folder = deep(tmp_path)
    out, run = folder / "o.jsonl", folder / "run"
    run_cli("annotate", example_csv, "--task", "sentiment-2", "--out", out, "--run-dir", run, "--quiet")
    ids = [r["id"] for r in read_jsonl(out)]
    sheet = folder / "review.csv"
    # Saved by a spreadsheet as "CSV UTF-8": a byte-order mark before the header.
    sheet.write_text(f"id,label\n{ids[0]},great\n{ids[1]},positive\n{ids[2]},meh\n", encoding="utf-8-sig")
    result = run_cli("import", run, sheet, "--out", out, env=NARROW, check=False)
    line = error_line(result.stderr)
    assert f"{sheet}, field 'label': unknown labels in 2 rows (row 2: 'great'; row 4: 'meh')" in line
    sheet.write_text(f"id,label\n{ids[0]},negative\n{ids[2]},positive\n", encoding="utf-8-sig")
    run_cli("import", run, sheet, "--out", out)
    after = {r["id"]: (r["label"], r["source"]) for r in read_jsonl(out)}
    assert after[ids[0]] == ("negative", "human") and after[ids[2]] == ("positive", "human")


def test_help_and_the_model_list_are_readable_at_80_columns_and_piped() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    top = run_cli("--help", env=env)
    assert "``" not in top.stdout and "annotate" in top.stdout
    annotate = run_cli("annotate", "--help", env=env).stdout
    assert "replay:FILE[#MODEL|SETTING]" in " ".join(annotate.split())
    assert "--allow-generated-code" in annotate and "…" not in annotate
    models = run_cli("models", env=env).stdout.splitlines()
    assert max(len(line) for line in models) <= 80
    assert [line.split()[0] for line in models if not line.startswith(" ")] == list(ZOO)


def test_label_studio_config_is_escaped_saved_and_printed(tmp_path: Path) -> None:
    task = tmp_path / "task.yaml"
    task.write_text(
        "name: kinds\nlabels:\n  - name: Q&A\n  - name: 'say \"hi\" <now>'\nspecialists: {tfidf: null}\n",
        encoding="utf-8",
    )
    data = tmp_path / "in.csv"
    data.write_text("text\nhow do I?\nhello there\n", encoding="utf-8")
    run = tmp_path / "run"
    run_cli("annotate", data, "--task", task, "--out", tmp_path / "o.jsonl", "--run-dir", run, "--quiet")
    result = run_cli("export", run, "--out", tmp_path / "tasks.json")
    saved = (tmp_path / "tasks.label_config.xml").read_text(encoding="utf-8")
    assert result.stdout == saved
    choices = [c.attrib["value"] for c in ET.fromstring(saved).iter("Choice")]
    assert choices == ["Q&A", 'say "hi" <now>']


def test_one_hard_share_in_the_end_line_eval_and_the_ledger(tmp_path: Path) -> None:
    data, out, run = tmp_path / "in.csv", tmp_path / "o.jsonl", tmp_path / "run"
    write_rows(data, 1500)
    with ChatServer(vader_reviewer) as server:  # target 0.9: a few dozen agreeing audited rows vouch for rows
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "test-key"}
        result = run_cli(
            "annotate", data, "--task", "sentiment-2", "--specialists", "vader,afinn", "--no-learn", "--out", out,
            "--run-dir", run, "--quiet", "--llm", "openai:gpt-4o-mini", "--target-agreement", "0.9",
            "--early-audit-share", "0.5", "--audit-share", "0.3", env=env,
        )  # fmt: skip
    printed = re.search(
        r"Sent to the reviewer: [\d,]+ rows, [\d.]+% \((\d+\.\d)% hard, the rest audited\)", result.stderr
    )
    assert printed is not None, result.stderr
    with sqlite3.connect(run / "ledger.sqlite") as db:
        audited = db.execute("SELECT COUNT(*) FROM labels WHERE hard = 0 AND source = 'llm'").fetchone()[0]
        counts = dict(db.execute("SELECT source, COUNT(*) FROM labels GROUP BY source").fetchall())
        counts["hard"] = db.execute("SELECT COUNT(*) FROM labels WHERE hard = 1").fetchone()[0]
        drawn = db.execute("SELECT SUM(pos < 1000), SUM(pos >= 1000) FROM labels WHERE audited = 1").fetchone()
        evidence = db.execute(
            "SELECT b.first_pos, json_extract(a.routing, '$.evidence') FROM acceptances a JOIN batches b "
            "USING (batch) ORDER BY batch"
        ).fetchall()
        earlier = [
            db.execute(
                "SELECT COUNT(*) FROM labels l JOIN reviews v USING (pos) JOIN rows r USING (pos) "
                "WHERE (l.audited = 1 OR r.batch IN (SELECT batch FROM acceptances "
                "WHERE json_extract(routing, '$.threshold') IS NULL)) AND v.status = 'ok' AND l.pos < ?",
                (first,),
            ).fetchone()[0]
            for first, _ in evidence
        ]
    low, high = binom.ppf([[1e-6], [1 - 1e-6]], [1000, 500], [0.5, 0.3])  # the shares given (default .2, .05)
    assert (low <= np.array(drawn)).all() and (np.array(drawn) <= high).all(), drawn
    assert audited > 0 and counts.get("consensus", 0) > 0  # audited rows the routing accepted are not hard
    # each batch's routing rests on the earlier batches' evidence only (its own audit rows check it): their
    # audited rows, and every row of a batch that accepted nothing (the first batch's 100: nothing to judge on)
    assert [n for _, n in evidence] == earlier and [first for first, _ in evidence] == [0, 100, 300, 700]
    assert evidence[1][1] == 100
    assert printed.group(1) == f"{hard_share(counts):.1%}".rstrip("%")
    assert "trust: " in result.stderr and "audited rows" in result.stderr
    run_cli("eval", out, "--run-dir", run, "--report", tmp_path / "report")
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert f"{report['hard_share']:.1%}" == printed.group(1) + "%"
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert f"hard-row share {printed.group(1)}%" in markdown


def test_plan_annotate_and_the_api_share_their_defaults(example_csv: Path, tmp_path: Path) -> None:
    api = RunConfig(input=example_csv, task=load_task("sentiment-2"))
    assert api.review is None and api.learning == LearningConfig()
    run_cli("annotate", example_csv, "--task", "sentiment-2", "--out", tmp_path / "o.jsonl", "--quiet")
    with sqlite3.connect(tmp_path / "o.jsonl.run" / "ledger.sqlite") as db:
        stored = json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    assert stored["review"] is None and stored["learning"] == LearningConfig().model_dump(mode="json")
    planned = run_cli("plan", example_csv, "--task", "sentiment-2", env={**os.environ, "COLUMNS": "200"})
    assert "no reviewer (no --llm)" in planned.stderr and "openai:gpt-3.5-turbo, for reference" in planned.stderr


def test_ctrl_c_stops_within_two_seconds_with_a_resume_hint(tmp_path: Path) -> None:
    data, out = tmp_path / "in.csv", tmp_path / "o.jsonl"
    write_rows(data, 1200)
    args = ["annotate", str(data), "--task", "sentiment-2", "--out", str(out), "--batch-size", "200"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoannotator", *args, "--quiet"], stderr=subprocess.PIPE, text=True
    )
    ledger = tmp_path / "o.jsonl.run" / "ledger.sqlite"
    deadline = time.monotonic() + 120
    while not committed(ledger) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    tick = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - tick < 2.0
    assert proc.returncode == 130 and "--resume" in stderr and "Traceback" not in stderr
    run_cli(*args, "--quiet", "--resume")
    assert len(read_jsonl(out)) == 1200
