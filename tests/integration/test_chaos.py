"""Reliability under faults: SIGKILL at random points, a flaky LLM endpoint (see `autoannotator.chaos`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autoannotator.testing import FAULTS
from faults import flaky_run, kill_run


def test_twenty_kills_resume_to_the_uninterrupted_output(tmp_path: Path) -> None:
    result = kill_run(tmp_path, kills=20, seed=7)
    assert not result.failures, result.failures
    assert result.identical and result.duplicates == 0
    assert result.phases.get("output") == 1  # one kill lands while the output file is being written
    assert result.survived == result.tried - result.phases.get("after the end", 0) >= 18
    # a review call is paid again only when it was in flight at a kill (at most --concurrency per kill)
    assert result.paid_twice <= 4 * result.survived


def test_a_flaky_endpoint_loses_no_row_and_never_overspends(tmp_path: Path) -> None:
    result = flaky_run(tmp_path, rows=2000, rate=0.3, budget_usd=0.05, seed=3)
    assert result.exit_code == 0, result.stderr
    assert result.lost == 0 and result.output_rows == 2000
    assert set(result.faults) == set(FAULTS)  # every kind of fault was injected
    assert sum(result.faults.values()) >= 0.25 * result.requests
    assert result.billed_usd <= result.budget_usd + 1e-9  # what the server billed, not what the client thinks
    assert result.ledger_usd <= result.budget_usd + 1e-9
    labelled = result.outcomes.get("llm/ok", 0)
    assert labelled > 1000  # the budget bought most rows before it ran out
    unresolved = {k: v for k, v in result.outcomes.items() if k.startswith("unresolved/")}
    assert labelled + sum(unresolved.values()) == 2000, result.outcomes
    assert set(unresolved) <= {"unresolved/invalid", "unresolved/error", "unresolved/budget"}
    assert all(reason not in ("", "None") for reason in result.reasons)  # every unresolved row says why
    assert result.outcomes.get("unresolved/budget", 0) > 0  # and the cap stopped the rest, as the run says
    said = re.search(r"--budget-usd ran out: ([\d,]+) rows", " ".join(result.stderr.split()))
    assert said is not None and int(said.group(1).replace(",", "")) == result.outcomes["unresolved/budget"]


def test_without_faults_every_row_is_labelled_and_billed_once(tmp_path: Path) -> None:
    result = flaky_run(tmp_path, rows=200, rate=0.0, budget_usd=10.0)
    assert result.outcomes == {"llm/ok": 200} and result.faults == {}
    assert result.ledger_usd == pytest.approx(result.billed_usd)
