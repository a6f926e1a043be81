"""Measured trust end to end: calibration labels against a weak reviewer, over the real HTTP path."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from autoannotator.learn.stages import Learner, LearningConfig
from autoannotator.ledger import Ledger, training
from autoannotator.read.adapters import compile_adapter
from autoannotator.read.task import load_task
from autoannotator.specialists import build
from autoannotator.testing import ChatServer, read_jsonl, vader_reviewer
from autoannotator.trust.acceptance import TrustConfig
from autoannotator.trust.evidence import audit_evidence
from autoannotator.trust.routing import Router
from autoannotator.vote.inference import Prepared
from entry import run_cli
from faults import answer, write_rows

pytestmark = pytest.mark.slow


def test_calibration_labels_let_accurate_specialists_outvote_a_weak_reviewer(tmp_path: Path) -> None:
    """A reviewer near chance (a hash of the prompt), and 150 human labels that say what VADER says but on its
    two least sure kinds of review (a quarter of rows): with them the run measures the reviewer (about 0.5)
    and keeps the specialists' labels where they are shown right; without, it cannot trust the specialists
    (they do not agree with the reviewer) and every row goes to it."""
    data = tmp_path / "in.csv"
    write_rows(data, 1500)
    with data.open(encoding="utf-8", newline="") as f:
        texts = [r["text"] for r in csv.DictReader(f)][:150]
    calibration = tmp_path / "human.csv"
    unsure = ("solid, and the delivery was cheap", "fine, and the delivery was slow")
    flip = {"positive": "negative", "negative": "positive"}

    def true_label(text: str) -> str:
        said = json.loads(vader_reviewer([{"content": text}]))["label"]
        return flip[said] if any(u in text for u in unsure) else str(said)

    truth = {t: true_label(t) for t in texts}
    calibration.write_text(
        "text,label\n" + "".join(f'"{t}",{label}\n' for t, label in truth.items()), encoding="utf-8"
    )
    common = ["--task", "sentiment-2", "--specialists", "vader,afinn", "--no-learn", "--quiet"]
    with ChatServer(answer) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "test-key"}
        llm = ["--llm", "openai:gpt-4o-mini"]
        plain = run_cli("annotate", data, "--out", tmp_path / "plain.jsonl", *common, *llm, env=env)
        helped = run_cli(
            "annotate", data, "--out", tmp_path / "c.jsonl", "--calibration", calibration, *common, *llm, env=env
        )
    assert all(r["source"] == "llm" for r in read_jsonl(tmp_path / "plain.jsonl"))
    assert "no row could be accepted" in plain.stderr
    rows = read_jsonl(tmp_path / "c.jsonl")
    assert sum(r["source"] == "consensus" for r in rows) / len(rows) > 0.6
    line = " ".join(helped.stderr.split())
    assert "estimated accuracy (calibration labels)" in line and "150 calibration rows" in line
    reviewer = float(re.search(r"the reviewer's accuracy (\d\.\d+)", line).group(1))  # type: ignore[union-attr]
    assert 0.35 < reviewer < 0.65
    # a reviewed row's confidence is the reviewer's accuracy on the calibration rows alike (hard or not, agreeing
    # with the specialists' best guess or not): here it tracks how often those rows really are right
    reviewed: dict[float, list[bool]] = {}
    for r in rows:
        if r["source"] == "llm":
            reviewed.setdefault(round(r["confidence"], 6), []).append(r["label"] == true_label(r["text"]))
    groups = {conf: right for conf, right in reviewed.items() if len(right) >= 4}
    assert len(groups) >= 2, {c: (len(r), sum(r)) for c, r in reviewed.items()}
    assert all(abs(conf - sum(right) / len(right)) < 0.2 for conf, right in groups.items()), groups
    # the calibration rows judge, so the audit is 5% from the start (not 20% of the first 1,000 rows), and an
    # audited row the specialists were trusted on keeps their label where it is likelier right than the reviewer's
    accepted = [r for r in rows if r["source"] == "consensus"]
    audited = [r for r in accepted if r["review"] is not None]
    assert audited and all(r["confidence"] > reviewer and r["label"] == r["best_guess"] for r in audited)
    assert len(audited) < 0.1 * len(accepted)


def test_calibration_labels_without_a_reviewer_accept_what_they_vouch_for_and_leave_the_rest_to_people(
    tmp_path: Path,
) -> None:
    """Offline, no LLM: 150 human labels judge the specialists against the truth, as with a reviewer. The rows
    they are shown right on (at the given target) are labelled, with a calibrated confidence; the others are
    left unresolved for people; the run says how accurate its labels are. Without a target, one line refuses
    before any work (there is no reviewer's accuracy to default to)."""
    data = tmp_path / "in.csv"
    write_rows(data, 1500)
    with data.open(encoding="utf-8", newline="") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    unsure = ("solid, and the delivery was cheap", "fine, and the delivery was slow")
    flip = {"positive": "negative", "negative": "positive"}

    def true_label(text: str) -> str:
        said = json.loads(vader_reviewer([{"content": text}]))["label"]
        return flip[said] if any(u in text for u in unsure) else str(said)

    calibration = tmp_path / "human.csv"
    calibration.write_text(
        "text,label\n" + "".join(f'"{t}",{true_label(t)}\n' for t in texts[:150]), encoding="utf-8"
    )
    common = ["--task", "sentiment-2", "--specialists", "vader,afinn", "--no-learn", "--quiet"]
    refused = run_cli(
        "annotate", data, "--out", tmp_path / "r.jsonl", "--calibration", calibration, *common, check=False
    )
    assert refused.returncode != 0 and "--target-agreement" in refused.stderr
    assert not (tmp_path / "r.jsonl").exists()

    run = run_cli(
        "annotate",
        data,
        "--out",
        tmp_path / "c.jsonl",
        "--calibration",
        calibration,
        "--target-agreement",
        "0.9",
        *common,
    )
    rows = read_jsonl(tmp_path / "c.jsonl")
    accepted = [r for r in rows if r["source"] == "consensus"]
    left = [r for r in rows if r["source"] == "unresolved"]
    assert len(accepted) + len(left) == len(rows) and accepted and left
    assert all(r["label"] is None for r in left) and not any(r["source"] == "llm" for r in rows)
    # the specialists' labels are right where VADER is (3/4 of rows): the accepted rows are those, the two
    # kinds of review the humans contradict are left to people
    assert not [r for r in accepted if any(u in r["text"] for u in unsure)]
    right = sum(r["label"] == true_label(r["text"]) for r in accepted) / len(accepted)
    assert right >= 0.9
    # a calibrated confidence: the estimated probability of being right, never 1.0 on 150 rows
    assert all(0.9 <= r["confidence"] < 1.0 for r in accepted)
    line = " ".join(run.stderr.split())
    assert "estimated accuracy (calibration labels)" in line and "target 0.900" in line
    assert "reviewer's accuracy" not in line and "left unresolved" in line
    # the run's estimate (cross-fitted on the 150 rows) is near the accepted rows' true accuracy
    said = re.search(r"estimated accuracy \(calibration labels\) (\d\.\d+) \(95% CI (\d\.\d+)-", line)
    assert said is not None
    estimate, low = float(said.group(1)), float(said.group(2))
    assert abs(estimate - right) < 0.05 and low < right
    # `eval` says the same, against the calibration labels (not an audit stream there is none of)
    report = run_cli("eval", tmp_path / "c.jsonl")
    assert "## Trust (measured on the calibration labels)" in report.stdout + report.stderr
    assert "| estimated accuracy |" in report.stdout + report.stderr


def test_cross_fitted_votes_make_the_rows_a_trainable_learnt_from_fair_evidence(tmp_path: Path) -> None:
    """A cold TF-IDF head learns the reviewer's labels over the real HTTP path. Re-judged after the run, it is
    judged only on the rows it did not learn from (the validation half of the audit, the rows after its last
    training) unless the rows it learnt from come with cross-fitted votes: then on every row of the evidence,
    and those votes are a version's that never saw the row (they differ from its own on some rows)."""
    data = tmp_path / "in.csv"
    write_rows(data, 1200)
    out = tmp_path / "out.jsonl"
    with ChatServer(vader_reviewer) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "test-key"}
        args = ["--task", "sentiment-2", "--specialists", "tfidf", "--llm", "openai:gpt-4o-mini", "--quiet"]
        run_cli("annotate", data, "--out", out, *args, env=env)
    task = load_task("sentiment-2")
    config = TrustConfig()
    learner = Learner(LearningConfig(), tmp_path / "out.jsonl.run", task.label_names, held_out=config.held_out)
    with Ledger(tmp_path / "out.jsonl.run" / "ledger.sqlite") as ledger:
        assert training.stage(ledger) >= 2
        head = learner.restore(ledger, {"tfidf": build("tfidf", task)})["tfidf"]  # type: ignore[dict-item]
        prepared: Prepared = [("tfidf", head, compile_adapter(None, head.card, task))]
        evidence = audit_evidence(ledger, list(task.label_names), 1)
        plain, fitted = Router(config, task.label_names), Router(config, task.label_names)
        plain.refresh(ledger, prepared)
        crossfit = learner.out_of_fold(ledger, {"tfidf": head})
        off = Learner(LearningConfig(cross_fit=False), learner.run_dir, task.label_names, held_out=config.held_out)
        assert off.out_of_fold(ledger, {"tfidf": head}) == {}  # --no-cross-fit
        fitted.refresh(ledger, prepared, crossfit)
        judged = {r.evidence for r in (plain.acceptance(ledger, prepared), fitted.acceptance(ledger, prepared))}
    trained = [pos for pos in evidence.pos.tolist() if pos in crossfit["tfidf"]]
    assert len(trained) > 100 and sorted(judged) == [len(evidence.pos) - len(trained), len(evidence.pos)]
    texts = dict(zip(evidence.pos.tolist(), evidence.texts, strict=True))
    own = head.predict([texts[pos] for pos in trained])
    assert not np.allclose(own, np.stack([crossfit["tfidf"][pos] for pos in trained]))
