"""`plan`: a cost estimate before spending anything."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from autoannotator.errors import InputError
from autoannotator.read.task import load_task
from autoannotator.review import ReviewConfig
from autoannotator.run.pipeline import RunConfig
from autoannotator.run.planning import plan
from autoannotator.testing import ChatServer, vader_reviewer


def test_plan_prices_the_hard_rows_against_labelling_everything(example_csv: Path) -> None:
    config = RunConfig(
        input=example_csv,
        task=load_task("sentiment-2"),
        review=ReviewConfig(method="zero-shot", llm="openai:gpt-3.5-turbo"),
    )
    estimate = plan(config, probe=100)
    assert estimate.rows == 300 and estimate.probe_rows == 100
    assert 0 < estimate.hard_share < 1
    assert estimate.model == "gpt-3.5-turbo" and estimate.calls_per_hard_row == 1
    assert 0 < estimate.review_usd < estimate.llm_only_usd
    assert estimate.review_usd == pytest.approx(estimate.llm_only_usd * estimate.hard_share, rel=0.35)
    costly = plan(
        config.model_copy(update={"review": ReviewConfig(method="self-consistency", llm="openai:gpt-3.5-turbo")}),
        probe=100,
    )
    assert costly.calls_per_hard_row == 5 and costly.review_usd > 5 * estimate.review_usd


def test_with_measured_trust_the_plan_is_a_range_from_the_audit_to_every_row(
    example_csv: Path, tmp_path: Path
) -> None:
    review = ReviewConfig(method="zero-shot", llm="openai:gpt-3.5-turbo")
    config = RunConfig(input=example_csv, task=load_task("sentiment-2"), review=review)
    estimate = plan(config, probe=100)
    assert estimate.sent == pytest.approx((100 + 0.2 * 200, 300))  # the first batch whole, a fifth of the rest
    small = plan(config.model_copy(update={"batch_size": 50}), probe=100)
    assert small.sent == pytest.approx((50 + 0.2 * 250, 300))  # the first batch is at most --batch-size rows
    low, high = estimate.review_range_usd
    assert high == pytest.approx(estimate.llm_only_usd, rel=0.05) and low == pytest.approx(high * 140 / 300)
    labels = tmp_path / "calibration.csv"
    labels.write_text("text,label\n" + "".join(f"row {i},positive\n" for i in range(40)), encoding="utf-8")
    calibrated = plan(config.model_copy(update={"calibration": labels}), probe=100)
    assert calibrated.sent == pytest.approx((0.05 * 300 + 40, 340))  # judged on the labels from the first row
    with pytest.raises(InputError, match=r"missing\.csv: file not found"):
        plan(config.model_copy(update={"calibration": tmp_path / "missing.csv"}), probe=100)
    ruled = plan(config.model_copy(update={"routing": "rule"}), probe=100)
    assert ruled.sent is None and ruled.review_range_usd == (ruled.review_usd, ruled.review_usd)


def test_plan_command_prints_the_estimate(example_csv: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autoannotator",
            "plan",
            str(example_csv),
            "--task",
            "sentiment-2",
            "--llm",
            "openai:gpt-4o-mini",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for words in ("rows", "300", "hard-row share", "gpt-4o-mini", "estimated review cost", "saving"):
        assert words in result.stdout
    assert "140 to 300" in result.stdout  # measured trust, the default: the audit decides within the range


def test_a_most_likely_figure_from_the_trust_test_on_reviewed_probe_rows(
    example_csv: Path, tmp_path: Path
) -> None:
    with example_csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    flip = {"positive": "negative", "negative": "positive"}

    def replay(name: str, answer: Callable[[str], str]) -> ReviewConfig:
        path = tmp_path / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(
                ["text", "llm_label", "model", "setting", "raw_response", "prompt_tokens", "completion_tokens"]
            )
            writer.writerows([r["text"], answer(r["label"]), "m", "s", answer(r["label"]), 50, 1] for r in rows)
        return ReviewConfig(method="replay", replay=path)

    task, specialists = load_task("sentiment-2"), ("vader", "textblob", "afinn", "minilm-sentiment")
    config = RunConfig(input=example_csv, task=task, specialists=specialists, review=replay("gold", str))
    agreeing = plan(config, probe=200)
    assert agreeing.sent is not None and agreeing.likely is not None and agreeing.likely_evidence == 200
    assert agreeing.sent[0] <= agreeing.likely < agreeing.sent[1]  # the specialists agree with this reviewer
    contrary = plan(config.model_copy(update={"review": replay("flipped", flip.__getitem__)}), probe=200)
    assert contrary.likely == pytest.approx(300)  # they never agree with this one: every row goes to it
    llm = ReviewConfig(method="zero-shot", llm="openai:gpt-4o-mini")
    assert plan(config.model_copy(update={"review": llm}), probe=100).likely is None  # nothing paid, none said
    with ChatServer(vader_reviewer) as server:
        os.environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="test-key")
        try:
            paid = plan(config.model_copy(update={"review": llm}), probe=100, probe_reviews=60)
        finally:
            del os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"]
    assert len(server.requests) == 60 and paid.likely_evidence == 60 and paid.likely is not None
