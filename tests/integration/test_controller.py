"""The meta-controller: choice of specialists and generated adapters, checked on a probe sample."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from autoannotator import RunConfig, annotate
from autoannotator.controller import SLOW_ON_CPU, TRAINABLES, matching, select, summary
from autoannotator.controller.selection import _evidenced
from autoannotator.llm import Budget, Gateway, OpenAIChat, load_prices
from autoannotator.read.task import load_task
from autoannotator.review import ReplayReviewer, ReviewConfig
from autoannotator.specialists import build
from autoannotator.testing import ChatServer, vader_reviewer
from entry import run_cli

TOXICITY = load_task("toxicity").model_copy(update={"specialists": {}})


@pytest.fixture(scope="module")
def tweets(shared_data: Path) -> list[str]:
    with (shared_data / "tweeteval-offensive" / "test.csv").open(encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f)][:200]


def test_card_matching_finds_the_toxicity_specialists() -> None:
    cards = {name: build(name, TOXICITY).card for name in ("vader", "hatesonar", "profanity-check", "safetype")}
    assert matching(TOXICITY, cards) == ["hatesonar", "profanity-check", "safetype"]


def test_without_an_llm_the_probe_decides(tweets: list[str]) -> None:
    selection = select(TOXICITY, tweets, k=3)
    assert selection.fallback is not None
    fixed = [n for n in selection.specialists if n not in TRAINABLES]
    learners = [n for n in TRAINABLES if n not in fixed and n not in SLOW_ON_CPU]  # no GPU here
    assert len(fixed) == 3 and selection.specialists[3:] == learners
    assert selection.rejected_adapters["mpnet"] == SLOW_ON_CPU["mpnet"]  # installed (the dev environment)
    assert "Not chosen: mpnet (installed, but on a CPU it embeds" in summary(selection.as_json())
    assert set(fixed) <= {"profanity-check", "hatesonar", "better-profanity", "safetype"}
    assert selection.accuracy_source.startswith("Dawid-Skene")
    assert all(0 <= a <= 1 for a in selection.accuracy.values())


def llm_answers(messages: list[dict[str, str]]) -> str:
    """A controller LLM: picks four candidates, one of them with a useless adapter (everything offensive)."""
    if "Candidates:" in messages[-1]["content"]:
        names = ["hatesonar", "profanity-check", "vader", "better-profanity", "made-up-model"]
        return json.dumps({"chosen": [{"name": n, "reason": f"{n} fits"} for n in names]})
    if "Specialist vader" in messages[-1]["content"]:
        return json.dumps(
            {"label_map": {"negative": "offensive", "neutral": "offensive", "positive": "offensive"}}
        )
    if "Specialist hatesonar" in messages[-1]["content"]:
        return json.dumps(
            {
                "label_map": {
                    "hate_speech": "offensive",
                    "offensive_language": "offensive",
                    "neither": "not-offensive",
                }
            }
        )
    return "not json at all"


def test_llm_choice_and_adapters_checked_against_the_reviewer(tweets: list[str], shared_data: Path) -> None:
    replay = ReplayReviewer(
        shared_data / "llm-replay" / "tweeteval-offensive-test.csv",
        TOXICITY,
        prices=load_prices(),
        budget=Budget(None),
        model="gpt-3.5-turbo",
        setting="zero-shot; default",
    )
    with ChatServer(llm_answers) as server:
        gateway = Gateway(
            OpenAIChat("gpt-4o-mini", base_url=server.base_url, api_key="x"),
            prices=load_prices(),
            budget=Budget(None),
        )
        selection = select(TOXICITY, tweets, k=3, gateway=gateway, reviewer=replay, review_rows=100)
    assert selection.fallback is None
    assert "made-up-model" not in selection.specialists
    assert "vader" in selection.rejected_adapters
    assert "vader" not in selection.specialists
    assert selection.accuracy_source == "agreement with the reviewer on 100 probe rows"
    # hatesonar's written map is sound, but on these tweets it does not beat the reviewer's majority class
    assert selection.rejected_adapters["hatesonar"].startswith("agreement with the reviewer")
    assert "hatesonar" not in selection.specialists
    assert all(selection.adapters[n] is None for n in selection.specialists)  # the kept ones match by name
    assert selection.reasons[selection.specialists[0]].endswith("fits")


def test_auto_specialists_end_to_end_are_kept_in_the_ledger(shared_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "tweets.csv"  # the first 300 tweets: the choice and its record are tested, not the labels
    tweets = (shared_data / "tweeteval-offensive" / "test.csv").read_text(encoding="utf-8")
    data.write_text("".join(tweets.splitlines(keepends=True)[:301]), encoding="utf-8")
    replay = shared_data / "llm-replay" / "tweeteval-offensive-test.csv"
    out = tmp_path / "o.jsonl"
    args: list[str | Path] = [
        "annotate",
        data,
        "--task",
        "toxicity",
        "--out",
        out,
        "--specialists",
        "auto",
        "--review",
        f"replay:{replay}#gpt-3.5-turbo|zero-shot; default",
        "--no-learn",  # the choice is what is tested here; learning has its own tests
        "--quiet",
    ]
    run_cli(*args)
    with sqlite3.connect(tmp_path / "o.jsonl.run" / "ledger.sqlite") as db:
        stored = json.loads(db.execute("SELECT value FROM meta WHERE key LIKE 'selection:%'").fetchone()[0])
        config = json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    assert config["specialists"] == stored["specialists"]
    assert len(stored["specialists"]) >= 3 and {"minilm", "tfidf"} <= set(stored["specialists"])
    first = out.read_bytes()
    run_cli(*args, "--resume")
    assert out.read_bytes() == first


def test_selection_counts_twin_runtimes_once_and_drops_what_a_constant_guess_beats() -> None:
    cards = {name: build(name).card for name in ("minilm", "minilm-torch", "vader", "afinn")}
    reference = np.array([0] * 70 + [1] * 30)  # the reviewer's majority class: 70%
    accuracy = {"minilm": 0.55, "minilm-torch": 0.6, "vader": 0.65, "afinn": 0.8}
    rejected: dict[str, str] = {}
    kept = _evidenced(list(cards), cards, accuracy, reference, rejected)
    assert kept == ["minilm-torch", "afinn"]  # the better runtime of the one model; vader is under 70%
    assert "the same model as minilm-torch" in rejected["minilm"]
    assert "majority class 0.70" in rejected["vader"]


def controller_and_reviewer(messages: list[dict[str, str]]) -> str:
    """One endpoint for the whole run: the meta-controller's prompts, then the review of hard rows."""
    prompt = messages[-1]["content"]
    if "Candidates:" in prompt:
        return json.dumps({"chosen": [{"name": n, "reason": "fits"} for n in ("vader", "textblob", "afinn")]})
    if "Specialist " in prompt:
        return "no adapter"  # the name-matched adapters stay
    return vader_reviewer(messages)


def test_auto_selection_and_review_pay_from_one_budget(
    tmp_path: Path, example_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The meta-controller, its probe review and the run's review share `--budget-usd`: what the server billed
    stays under it (each used to get a budget of its own from the same snapshot, so together they overspent)."""
    budget = 0.0004  # about 16 review calls: less than the probe review alone would buy
    prices = load_prices()
    with ChatServer(controller_and_reviewer) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "x")
        config = RunConfig(
            input=example_csv,
            task=load_task("sentiment-2"),
            specialists=("auto",),
            review=ReviewConfig(llm="openai:gpt-4o-mini", method="zero-shot", budget_usd=budget),
            learning=None,
        )
        annotate(config, out=tmp_path / "out.jsonl", run_dir=tmp_path / "run")
        billed = sum(prices.cost("gpt-4o-mini", p, c) for p, c in server.replies)
    assert len(server.replies) > 10  # it did spend
    assert billed <= budget + 1e-9
    with sqlite3.connect(tmp_path / "run" / "ledger.sqlite") as db:
        (recorded,) = db.execute("SELECT SUM(cost_usd) FROM llm_calls").fetchone()
    assert recorded <= budget + 1e-9
