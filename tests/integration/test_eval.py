"""`autoannotator baseline` and `autoannotator eval` on real rows and real recorded LLM answers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from autoannotator.testing import read_jsonl
from entry import run_cli


def offensive(shared_data: Path) -> tuple[Path, str, list[str]]:
    """The TweetEval offensive test file, its replay reviewer argument, and its gold labels in row order."""
    data = shared_data / "tweeteval-offensive" / "test.csv"
    replay = shared_data / "llm-replay" / "tweeteval-offensive-test.csv"
    with data.open(encoding="utf-8", newline="") as f:
        gold = [row["label"] for row in csv.DictReader(f)]
    return data, f"replay:{replay}#gpt-3.5-turbo|zero-shot; default", gold


def test_llm_baseline_scores_as_the_recorded_answers(shared_data: Path, tmp_path: Path) -> None:
    data, review, _ = offensive(shared_data)
    out = tmp_path / "llm.jsonl"
    run_cli("baseline", data, "--task", "toxicity", "--method", "llm", "--review", review, "--out", out, "--quiet")
    run_cli("eval", out, "--gold", data)
    report = json.loads((tmp_path / "llm.jsonl.report" / "report.json").read_text(encoding="utf-8"))
    with (shared_data / "llm-replay" / "tweeteval-offensive-test.csv").open(encoding="utf-8", newline="") as f:
        answers = [
            r for r in csv.DictReader(f) if r["model"] == "gpt-3.5-turbo" and r["setting"] == "zero-shot; default"
        ]
    expected = sum(r["llm_label"] == r["gold_label"] for r in answers) / len(answers)
    assert report["sources"] == {"llm": len(answers)}
    assert report["gold"]["all"]["accuracy"] == pytest.approx(expected)
    assert report["tokens"] == sum(int(r["prompt_tokens"]) + int(r["completion_tokens"]) for r in answers)


def test_eval_splits_by_source_and_writes_a_self_contained_report(shared_data: Path, tmp_path: Path) -> None:
    data, review, gold = offensive(shared_data)
    out = tmp_path / "run.csv"
    run_cli(
        "annotate", data, "--task", "toxicity", "--specialists", "profanity-check,hatesonar",
        "--review", review, "--no-learn", "--routing", "rule", "--out", out, "--quiet",
    )  # fmt: skip
    shown = run_cli("eval", out, "--gold", data, "--report", tmp_path / "report").stdout
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(gold)  # no row skipped: output row i is input row i
    for row, label in zip(rows, gold, strict=True):
        row["gold"] = label
    for source in ("consensus", "llm"):
        chosen = [r for r in rows if r["source"] == source]
        accuracy = sum(r["label"] == r["gold"] for r in chosen) / len(chosen)
        assert report["gold"][source]["accuracy"] == pytest.approx(accuracy)
        assert report["gold"][source]["rows"] == len(chosen)
    assert report["llm_share"] == pytest.approx(sum(r["source"] == "llm" for r in rows) / len(rows))
    hatesonar = sum(json.loads(r["votes"])["hatesonar"]["label"] == r["gold"] for r in rows) / len(rows)
    assert report["specialists"]["hatesonar"]["accuracy"] == pytest.approx(hatesonar)
    assert sum(report["reliability"]["rows"]) == sum(r["confidence"] != "" for r in rows) > 0
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3 and "http" not in page  # plots inside, nothing fetched
    assert "| consensus |" in shown


def test_eval_without_gold_still_reports_the_run(shared_data: Path, tmp_path: Path) -> None:
    data, _, _ = offensive(shared_data)
    out = tmp_path / "majority.jsonl"
    run_cli(
        "baseline", data, "--task", "toxicity", "--method", "majority",
        "--specialists", "profanity-check,hatesonar", "--out", out, "--quiet",
    )  # fmt: skip
    rows = read_jsonl(out)
    assert {r["source"] for r in rows} == {"consensus"}  # the majority labels every row, no reviewer
    run_cli("eval", out)
    report = json.loads((tmp_path / "majority.jsonl.report" / "report.json").read_text(encoding="utf-8"))
    assert report["gold"] is None and report["cost_usd"] == 0 and report["coverage"] == 1.0
    assert report["pairwise_agreement"][0][1] == pytest.approx(
        sum(r["votes"]["profanity-check"]["label"] == r["votes"]["hatesonar"]["label"] for r in rows) / len(rows)
    )


def test_eval_names_the_file_when_gold_labels_are_not_the_task_s(shared_data: Path, tmp_path: Path) -> None:
    data, _, _ = offensive(shared_data)
    out = tmp_path / "one.jsonl"
    run_cli("baseline", data, "--task", "toxicity", "--method", "specialist:hatesonar", "--out", out, "--quiet")
    wrong = tmp_path / "gold.csv"
    wrong.write_text(
        "text,label\n" + "\n".join(f'"{r["text"]}",maybe' for r in read_jsonl(out)[:3]), encoding="utf-8"
    )
    result = run_cli("eval", out, "--gold", wrong, check=False)
    assert result.returncode == 2 and "gold.csv" in result.stderr and "maybe" in result.stderr
