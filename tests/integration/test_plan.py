"""`plan`: a cost estimate before spending anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autoannotator.errors import InputError
from autoannotator.pipeline import RunConfig
from autoannotator.planning import plan
from autoannotator.review import ReviewConfig
from autoannotator.task import load_task


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
