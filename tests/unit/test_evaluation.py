from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from autoannotator.report import (
    calibration_note,
    figures,
    html_page,
    markdown,
    markdown_to_html,
    table,
    tradeoff_figure,
)
from autoannotator.report.evaluation import Report, agreement_on, pairwise_agreement, reliability, scores


def test_scores_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 500)
    predicted = np.where(rng.random(500) < 0.7, gold, rng.integers(0, 3, 500))
    result = scores(gold, predicted, 3, ["a", "b", "c"])
    assert result.accuracy == pytest.approx(float((gold == predicted).mean()))
    assert result.macro_f1 == pytest.approx(f1_score(gold, predicted, average="macro"))
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted)
    for i, label in enumerate("abc"):
        assert result.per_class[label].precision == pytest.approx(precision[i])
        assert result.per_class[label].recall == pytest.approx(recall[i])
        assert result.per_class[label].f1 == pytest.approx(f1[i])
        assert result.per_class[label].support == support[i]
    assert result.confusion == confusion_matrix(gold, predicted).tolist()


def test_macro_f1_ignores_labels_absent_from_gold() -> None:
    result = scores(np.array([0, 0, 1]), np.array([0, 0, 1]), 3, ["a", "b", "c"])
    assert result.macro_f1 == 1.0


def test_reliability_of_a_calibrated_and_an_overconfident_model() -> None:
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.5, 1.0, 20000)
    calibrated = reliability(confidence, rng.random(20000) < confidence)
    assert calibrated.ece < 0.02
    assert sum(calibrated.rows) == 20000 and len(calibrated.rows) == 5  # bins under 0.5 are empty
    overconfident = reliability(confidence, rng.random(20000) < confidence - 0.3)
    assert overconfident.ece == pytest.approx(0.3, abs=0.02)


def test_pairwise_agreement_counts_rows_where_both_voted() -> None:
    votes = np.array([[0, 0, -1], [1, 0, 1], [1, 1, 1], [0, -1, 0]])
    agreement = pairwise_agreement(votes)
    assert agreement[0, 1] == pytest.approx(2 / 3)
    assert agreement[0, 2] == 1.0 and agreement[1, 2] == 0.5
    np.testing.assert_array_equal(agreement, agreement.T)


def test_report_html_escapes_what_it_shows() -> None:
    page = markdown_to_html(table(["label", "f1"], [["<script>alert(1)</script>", 0.5]]))
    assert "<script>" not in page and "&lt;script&gt;" in page and "<table>" in page


def test_agreement_on_counts_only_the_chosen_rows_where_each_voted() -> None:
    votes = np.array([[0, 1], [1, -1], [1, 1], [0, 0]])
    labels = np.array([0, 1, 0, 0])
    rows = np.array([True, True, True, False])
    np.testing.assert_allclose(agreement_on(votes, labels, rows), [2 / 3, 0.0])
    assert np.isnan(agreement_on(votes, labels, np.zeros(4, dtype=bool))).all()


def test_the_report_says_what_the_confidence_column_means_and_why_reviewed_rows_miss_gold() -> None:
    base = Report(
        out="o.jsonl", labels=["a", "b"], rows=10, labelled=10, coverage=1.0, sources={}, hard_share=0.5,
        llm_share=0.5, tokens=0, cost_usd=0.0, specialists={}, pairwise_agreement=[],
        reliability=reliability(np.ones(10), np.array([True] * 8 + [False] * 2)),
        reliability_accepted=reliability(np.full(5, 0.9), np.array([True] * 5)), reviewed_accuracy=0.6,
    )  # fmt: skip
    with_reviewer = calibration_note(base.model_copy(update={"trust": {"reference": "reviewer"}}))
    assert with_reviewer.startswith("The confidence column is the estimated probability that the label agrees")
    assert "0.200 on all labelled rows, 0.100 on the rows accepted without review" in with_reviewer
    assert "against gold they are right 0.600 of the time, which is the reviewer's own error" in with_reviewer
    plain = calibration_note(base)
    assert "no reference: not calibrated" in plain and "Reviewed rows" not in plain


def report_of(**fields: Any) -> Report:
    """A report of 10 rows with `fields` set."""
    base: dict[str, Any] = {
        "out": "o.jsonl", "labels": ["a", "b"], "rows": 10, "labelled": 10, "coverage": 1.0, "sources": {},
        "hard_share": 0.5, "llm_share": 0.5, "tokens": 0, "cost_usd": 0.0, "specialists": {},
        "pairwise_agreement": [],
    }  # fmt: skip
    return Report(**{**base, **fields})


def test_the_summary_stands_beside_the_llm_on_every_row() -> None:
    text = markdown(report_of(cost_usd=0.02, llm_share=0.25, reviewed_accuracy=0.75))
    assert "- the LLM on every row: about $0.0800 at this run's price per reviewed row (75% saved)" in text
    assert "- the reviewer's accuracy against gold on the rows it labelled: 0.750" in text
    two = {"a": {"coverage": 1.0}, "b": {"coverage": 1.0}}
    page = html_page(report_of(cost_usd=0.02, llm_share=0.25, specialists=two, pairwise_agreement=[[1, 0.5]] * 2))
    assert page.index("the LLM on every row") < page.index("<figure>")  # the summary first, then the plots


def test_a_stage_with_nothing_audited_shows_no_interval() -> None:
    stage = {"accepted_share": 0.0, "agreement": None, "low": 0.0, "high": 1.0, "audited": 0}
    trust = {
        "reference": "reviewer", "reviewer_accuracy": None, "target": 0.97, "capped_batches": 0, "unpaid": 0,
        "overall": stage, "stages": {"0": stage},
    }  # fmt: skip
    text = markdown(report_of(trust=trust))
    assert "| 0 | 0.0% | - | - (nothing audited) | 0 |" in text and "0.000-1.000" not in text


def test_one_specialist_draws_no_agreement_heatmap_and_labels_stay_inside_the_axes() -> None:
    lone = report_of(specialists={"vader": {"coverage": 1.0}}, pairwise_agreement=[[1.0]])
    assert "The specialists' agreement" not in dict(figures(lone))
    figure = tradeoff_figure([("this run", 1.0, 1.0), ("stage 0", 0.98, 0.2), ("stage 1", 0.0, 0.5)])
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    inside = figure.axes[0].get_window_extent(renderer)
    for label in figure.axes[0].texts:
        box = label.get_window_extent(renderer)
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1, (
            label.get_text()
        )
