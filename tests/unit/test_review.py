from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from autoannotator.errors import AutoAnnotatorError
from autoannotator.llm import Budget, Gateway, RateLimiter, load_prices
from autoannotator.read.task import load_task
from autoannotator.review import (
    Examples,
    HardRow,
    LLMReviewer,
    Prompts,
    ReplayReviewer,
    ReviewConfig,
    Verdict,
    strategy,
)
from autoannotator.review.replay import recorded_setting
from autoannotator.review.watch import ReviewerFailedError, Watched
from autoannotator.specialists import HashedTfidf
from autoannotator.testing import FakeChat

TASK = load_task("toxicity")
COLUMNS = [
    "dataset",
    "split",
    "row",
    "text",
    "llm_label",
    "gold_label",
    "model",
    "setting",
    "raw_response",
    "prompt_tokens",
    "completion_tokens",
]


def replay_file(tmp_path: Path) -> Path:
    path = tmp_path / "replay.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerow(
            [
                "d",
                "test",
                0,
                "you idiot",
                "offensive",
                "offensive",
                "gpt-3.5-turbo",
                "zero-shot",
                "offensive",
                80,
                3,
            ]
        )
        writer.writerow(
            ["d", "test", 1, "hello", "invalid", "not-offensive", "gpt-3.5-turbo", "zero-shot", "Sorry", 70, 5]
        )
        writer.writerow(
            [
                "d",
                "test",
                0,
                "you idiot",
                "not-offensive",
                "offensive",
                "gpt-4",
                "zero-shot",
                "not-offensive",
                80,
                3,
            ]
        )
    return path


def test_replay_answers_with_recorded_tokens_and_price(tmp_path: Path) -> None:
    budget = Budget(None)
    reviewer = ReplayReviewer(
        replay_file(tmp_path), TASK, prices=load_prices(), budget=budget, model="gpt-3.5-turbo"
    )
    ok, invalid, missing = reviewer.review(
        [HardRow(0, "you idiot", {}, None), HardRow(1, "hello", {}, None), HardRow(2, "unseen", {}, None)]
    )
    assert (ok.label, ok.status, ok.prompt_tokens, ok.completion_tokens) == ("offensive", "ok", 80, 3)
    assert ok.cost_usd == pytest.approx((80 * 0.5 + 3 * 1.5) / 1e6)
    assert (invalid.label, invalid.status) == (None, "invalid")
    assert missing.status == "error"
    assert budget.spent == pytest.approx(ok.cost_usd + invalid.cost_usd)
    assert reviewer.name == "replay:gpt-3.5-turbo:zero-shot"


def test_replay_picks_the_named_model_and_respects_the_budget(tmp_path: Path) -> None:
    gpt4 = ReplayReviewer(
        replay_file(tmp_path), TASK, prices=load_prices(), budget=Budget(None), model="gpt-4", setting="zero-shot"
    )
    assert gpt4.review([HardRow(0, "you idiot", {}, None)])[0].label == "not-offensive"
    broke = ReplayReviewer(replay_file(tmp_path), TASK, prices=load_prices(), budget=Budget(0.0), model="gpt-4")
    assert broke.review([HardRow(0, "you idiot", {}, None)])[0].status == "budget"


def test_a_replay_of_several_settings_without_a_choice_is_refused_naming_them(tmp_path: Path) -> None:
    path = replay_file(tmp_path)
    with pytest.raises(AutoAnnotatorError) as info:
        recorded_setting(path, None, None)
    assert str(info.value) == (
        f"{path}: it records 2 settings (gpt-3.5-turbo|zero-shot, gpt-4|zero-shot); name one: "
        f"--review 'replay:{path}#MODEL|SETTING'"
    )
    assert recorded_setting(path, "gpt-4", None) == ("gpt-4", "zero-shot")
    with pytest.raises(AutoAnnotatorError, match=r"no recorded answers for gpt-5; it records: gpt-3\.5"):
        recorded_setting(path, "gpt-5", None)


def test_review_config_parse() -> None:
    replay = ReviewConfig.parse("replay:/x/a.csv#gpt-4|12-shot; default")
    assert (replay.method, replay.replay, replay.replay_model, replay.replay_setting) == (
        "replay",
        Path("/x/a.csv"),
        "gpt-4",
        "12-shot; default",
    )
    assert ReviewConfig.parse("cot", llm="openai:m").method == "cot"
    with pytest.raises(ValidationError, match="needs --llm"):
        ReviewConfig.parse("cot")
    with pytest.raises(ValidationError):
        ReviewConfig.parse("guess", llm="local")


def test_prompts_name_every_label_and_show_votes_only_when_asked() -> None:
    row = HardRow(0, "some text", {"a": "offensive", "b": None}, None)
    plain = Prompts(TASK).messages(row, rationale=False)
    assert all(label in plain[0]["content"] for label in TASK.label_names)
    assert "voted" not in plain[-1]["content"]
    hinted = Prompts(TASK, show_votes=True).messages(row, rationale=True, shots=[("x", "offensive")])
    assert "a: offensive, b: abstained" in hinted[-1]["content"]
    assert "rationale" in hinted[0]["content"]
    assert [m["role"] for m in hinted] == ["system", "user", "assistant", "user"]


def test_examples_keep_the_first_per_label_and_retrieve_the_nearest() -> None:
    featurizer = HashedTfidf(n_features=2**12)
    featurizer.fit(["red apple", "green apple", "blue sky", "grey sky", "red car"])
    pool = Examples(featurizer, per_label=2)
    pool.add(["red apple", "green apple", "blue sky"], ["fruit", "fruit", "sky"])
    pool.add(["yellow apple", "grey sky"], ["fruit", "sky"])
    assert pool.labels == ["fruit", "fruit", "sky", "sky"]
    nearest = pool.nearest("a grey sky today", 2)
    assert nearest[-1] == ("grey sky", "sky")
    assert pool.vectors is not None and np.asarray(pool.vectors).shape[0] == 4


def test_self_consistency_keeps_the_majority_and_pays_for_every_draw() -> None:
    """Five draws (seeds 0-4) answering positive, negative, positive, banana (asked again: negative), negative:
    the majority label with confidence 3/5, the spend of all six calls, and a distinct request per call."""
    answers = ["positive", "negative", "positive", "banana", "negative", "negative"]

    def answer(messages: list[dict[str, str]]) -> str:
        return json.dumps({"rationale": "r", "label": answers[len(chat.requests) - 1]})

    chat = FakeChat(answer)
    gateway = Gateway(chat, prices=load_prices(), budget=Budget(None), limiter=RateLimiter(concurrency=1))
    task = load_task("sentiment-2")
    reviewer = LLMReviewer(gateway, task, strategy=strategy("self-consistency"), samples=5)
    try:
        (verdict,) = reviewer.review([HardRow(0, "fine", {}, None)])
    finally:
        reviewer.close()
    assert (verdict.label, verdict.status, verdict.confidence) == ("negative", "ok", 3 / 5)
    assert len(chat.requests) == 6  # the off-label draw was asked again once
    assert {r.seed for r in chat.requests} == set(range(5)) and all(r.temperature == 0.7 for r in chat.requests)
    assert verdict.completion_tokens == sum(
        len(json.dumps({"rationale": "r", "label": a}).split()) for a in answers
    )
    assert verdict.reviewer == "llm:gpt-4o-mini:self-consistency"


class Failing:
    """A reviewer whose first `failing` rows of every request end in ``error``."""

    name = "failing"

    def __init__(self, failing: int) -> None:
        self.failing = failing

    def review(self, rows: Sequence[HardRow]) -> list[Verdict]:
        return [
            Verdict(label=None, status="error", reviewer=self.name, reason="APIConnectionError: Connection error.")
            if i < self.failing
            else Verdict(label="offensive", status="ok", reviewer=self.name)
            for i, _ in enumerate(rows)
        ]

    def close(self) -> None:
        """Nothing to release."""


@pytest.mark.parametrize(
    ("rows", "failing", "stops"), [(10, 5, False), (10, 6, True), (2, 2, True), (1, 0, False)]
)
def test_a_watched_reviewer_stops_when_most_rows_of_a_request_fail(rows: int, failing: int, stops: bool) -> None:
    watched = Watched(Failing(failing))
    asked = [HardRow(i, f"text {i}", {}, None) for i in range(rows)]
    if not stops:
        assert len(watched.review(asked)) == rows
        return
    with pytest.raises(ReviewerFailedError) as info:
        watched.review(asked)
    assert f"failed on {failing} of the {rows} rows" in str(info.value)
    assert f"({failing} x APIConnectionError: Connection error.)" in str(info.value)
    assert "--resume" in str(info.value)
