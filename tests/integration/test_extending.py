"""Extension points: a specialist, an LLM provider and a review strategy each added by one file and one
registration, in process (`register`) and by an installed package's entry points (the CLI finds them)."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from autoannotator.llm import Provider, chat_model, provider, register, usage
from autoannotator.llm.registry import PROVIDERS
from autoannotator.review import STRATEGIES, ReviewConfig, Strategy, strategy
from autoannotator.review import register as register_strategy
from autoannotator.specialists import ZOO, build, zoo
from autoannotator.specialists import register as register_specialist
from autoannotator.testing import FakeChat, read_jsonl, run_cli

PLUGIN = Path(__file__).resolve().parents[1] / "fixtures" / "plugin"


def test_a_provider_is_one_registration() -> None:
    upper = FakeChat(lambda messages: messages[-1]["content"].upper())
    register("upper", Provider(lambda argument, timeout_s: upper, local=True))
    try:
        assert chat_model("upper") is upper
        assert provider("upper")[0].local and "upper" in usage()
        assert ReviewConfig(method="zero-shot", llm="upper").local
        with pytest.raises(ValueError, match="unknown --llm 'upper:x'"):
            ReviewConfig(method="zero-shot", llm="upper:x")  # registered without an argument
    finally:
        del PROVIDERS["upper"]
    with pytest.raises(ValueError, match="unknown --llm 'upper'"):
        ReviewConfig(method="zero-shot", llm="upper")


def test_a_strategy_is_one_registration() -> None:
    class Thrice(Strategy):
        name = "thrice"
        rationale = True

        def calls(self, *, samples: int) -> int:
            return 3

    register_strategy(Thrice())
    try:
        config = ReviewConfig(method="thrice", llm="openai:gpt-4o-mini")
        assert config.strategy.calls(samples=5) == 3 and config.strategy.rationale
    finally:
        del STRATEGIES["thrice"]
    with pytest.raises(ValueError, match="unknown review strategy 'thrice'"):
        ReviewConfig(method="thrice", llm="openai:gpt-4o-mini")
    assert strategy("self-consistency").calls(samples=5) == 5 and strategy("cot").calls(samples=5) == 1


def test_a_specialist_is_one_registration() -> None:
    sys.path.insert(0, str(PLUGIN))
    try:
        from aa_example_plugin import keyword

        register_specialist("keyword-here", keyword)
        try:
            assert build("keyword-here").predict(["great fun", "dull"]).argmax(axis=1).tolist() == [1, 0]
        finally:
            del ZOO["keyword-here"]
    finally:
        sys.path.remove(str(PLUGIN))
    assert "keyword-here" not in zoo()


@pytest.mark.slow
def test_an_installed_package_extends_the_cli(example_csv: Path, tmp_path: Path) -> None:
    """The fixture package is found by its entry points: its specialist votes, its provider reviews with
    its strategy (two calls per hard row), and `models` lists its specialist."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGIN), os.environ.get("PYTHONPATH", "")])}
    models = run_cli("models", "--json", env=env).stdout
    assert "keyword" in [card["name"] for card in json.loads(models)]
    out = tmp_path / "out.jsonl"
    args: list[str | Path] = [
        "annotate",
        example_csv,
        "--task",
        "sentiment-2",
        "--out",
        out,
        "--specialists",
        "keyword,vader",
    ]
    run_cli(*args, "--llm", "echo:m1", "--review", "twice", "--routing", "rule", "--no-learn", "--quiet", env=env)
    rows = read_jsonl(out)
    assert all("keyword" in row["votes"] for row in rows)
    reviewed = [row for row in rows if row["source"] == "llm"]
    assert reviewed and {row["review"] for row in reviewed} == {"ok"}
    with sqlite3.connect(tmp_path / "out.jsonl.run" / "ledger.sqlite") as db:
        reviewers = {r for (r,) in db.execute("SELECT DISTINCT reviewer FROM reviews")}
        calls = db.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0]
    assert reviewers == {"llm:echo-m1:twice"}
    assert calls == 2 * len(reviewed)  # the strategy's two calls per row, each sent and recorded


@pytest.mark.slow
def test_old_option_names_still_work_and_say_so(example_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = run_cli(
        *("annotate", example_csv, "--task", "sentiment-2", "--out", out, "--specialists", "vader,afinn"),
        *("--beta", "500", "--replay=100", "--quiet"),
    )
    assert "--beta is deprecated; use --rows-per-stage" in result.stderr
    assert "--replay is deprecated; use --replay-buffer" in result.stderr
    with sqlite3.connect(tmp_path / "out.jsonl.run" / "ledger.sqlite") as db:
        config = json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    assert (config["learning"]["rows_per_stage"], config["learning"]["replay_buffer"]) == (500, 100)
