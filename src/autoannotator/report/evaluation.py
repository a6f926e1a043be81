"""Scoring a run: against gold labels when there are some, and always from the run's own figures.

The metrics are pure functions over arrays; `evaluate` reads an output file (and the run's ledger, when it is
there) and returns a JSON-ready `Report`; `autoannotator.report` renders it as Markdown and HTML.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from autoannotator.errors import InputError
from autoannotator.ledger import Ledger, figures
from autoannotator.read.io import Source, beside, exists, read_rows
from autoannotator.report.multieval import MultiScores, gold_sets, labels_of, multi_scores, specialist_agreement
from autoannotator.specialists.base import FloatArray, IntArray
from autoannotator.trust.acceptance import TrustConfig
from autoannotator.trust.evidence import self_estimate
from autoannotator.vote.aggregate import BoolArray
from autoannotator.vote.labelsets import indicators

SOURCES = ("consensus", "llm", "human", "relabelled", "unresolved")


class ClassScores(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


class Scores(BaseModel):
    """Agreement of predicted labels with gold on the rows that have both (None: no row has both)."""

    rows: int
    accuracy: float | None
    macro_f1: float | None
    per_class: dict[str, ClassScores]
    confusion: list[list[int]]
    """confusion[i][j]: rows of gold label i predicted as j (labels in `Report.labels` order)."""


class Reliability(BaseModel):
    """Reliability diagram: per confidence bin, mean confidence, accuracy and row count."""

    confidence: list[float]
    accuracy: list[float]
    rows: list[int]
    ece: float
    """Expected calibration error: the row-weighted mean gap between confidence and accuracy."""


class Report(BaseModel):
    """Everything `autoannotator eval` says about a run."""

    out: str
    labels: list[str]
    rows: int
    labelled: int
    coverage: float
    sources: dict[str, int]
    hard_share: float
    llm_share: float
    tokens: int
    cost_usd: float
    specialists: dict[str, dict[str, float]]
    """Per specialist: coverage (share of rows it voted on), agreement with the reviewer on reviewed rows,
    and accuracy against gold when there is gold."""
    pairwise_agreement: list[list[float]]
    gold: dict[str, Scores] | None = None
    """Against gold: ``all`` plus one entry per source."""
    reliability: Reliability | None = None
    """Against gold: how well the confidence column predicts being right, all labelled rows."""
    reliability_accepted: Reliability | None = None
    """The same on the rows accepted without review (the ones whose confidence the run estimated)."""
    reviewed_accuracy: float | None = None
    """Against gold: the accuracy of the reviewed rows' labels (their confidence is 1 against the reviewer)."""
    stages: list[dict[str, Any]] = []
    trainings: list[dict[str, Any]] = []
    relabelled: dict[str, int] = {}
    check_first: list[dict[str, Any]] = []
    """The labelled rows nobody reviewed with the lowest confidence (id, text, label, confidence): where a
    person's look is worth most."""
    multi_label: dict[str, MultiScores] | None = None
    """A multi-label run against gold: ``all`` plus one entry per source."""
    trust: dict[str, Any] | None = None
    """With trust routing: the run's own estimate of the agreement of its auto-accepted rows with the reviewer
    (overall and per stage, 95% intervals, audited rows)."""


def scores(gold: IntArray, predicted: IntArray, k: int, labels: Sequence[str]) -> Scores:
    """Accuracy, macro-F1 (over the labels found in gold or predicted, as scikit-learn does), per-class
    precision / recall / F1 and the (k, k) confusion matrix of (n,) label indices; with no rows, no accuracy
    and no F1 (None), zero counts."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    if not len(gold):
        empty = ClassScores(precision=0.0, recall=0.0, f1=0.0, support=0)
        return Scores(
            rows=0,
            accuracy=None,
            macro_f1=None,
            per_class=dict.fromkeys(labels, empty),
            confusion=[[0] * k for _ in range(k)],
        )
    every = list(range(k))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=every, zero_division=0.0
    )
    seen = sorted(set(gold.tolist()) | set(predicted.tolist()))
    return Scores(
        rows=len(gold),
        accuracy=float(np.mean(gold == predicted)),
        macro_f1=float(np.mean(f1[seen])),
        per_class={
            label: ClassScores(
                precision=float(precision[i]), recall=float(recall[i]), f1=float(f1[i]), support=int(support[i])
            )
            for i, label in enumerate(labels)
        },
        confusion=confusion_matrix(gold, predicted, labels=every).tolist(),
    )


def reliability(confidence: FloatArray, correct: BoolArray, bins: int = 10) -> Reliability:
    """Bin (n,) confidences into `bins` equal-width bins over [0, 1]; empty bins are left out."""
    index = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    kept = [b for b in range(bins) if (index == b).any()]
    mean_conf = [float(confidence[index == b].mean()) for b in kept]
    accuracy = [float(correct[index == b].mean()) for b in kept]
    rows = [int((index == b).sum()) for b in kept]
    gaps = np.abs(np.array(mean_conf) - np.array(accuracy)) * np.array(rows)
    return Reliability(
        confidence=mean_conf, accuracy=accuracy, rows=rows, ece=float(gaps.sum() / max(len(confidence), 1))
    )


def agreement_on(votes: IntArray, labels: IntArray, rows: BoolArray) -> FloatArray:
    """(m,) share of the `rows` (n,) on which each specialist, where it voted, voted `labels` (n,); NaN where
    it voted on none of them. votes (n, m), -1 abstains."""
    voted = (votes >= 0) & rows[:, None]
    same = (votes == labels[:, None]) & voted
    counts = voted.sum(axis=0)
    result: FloatArray = np.where(counts > 0, same.sum(axis=0) / np.maximum(counts, 1), np.nan)
    return result


def pairwise_agreement(votes: IntArray) -> FloatArray:
    """(m, m) share of rows on which two specialists, both voting, voted the same; votes (n, m), -1 abstains."""
    m = votes.shape[1]
    out = np.eye(m)
    for a, b in itertools.combinations(range(m), 2):
        both = (votes[:, a] >= 0) & (votes[:, b] >= 0)
        out[a, b] = out[b, a] = float((votes[both, a] == votes[both, b]).mean()) if both.any() else np.nan
    return out


def check_first(rows: Sequence[dict[str, Any]], n: int = 10) -> list[dict[str, Any]]:
    """The `n` labelled, unreviewed rows of an output with the lowest confidence, least confident first."""
    unreviewed = [r for r in rows if r.get("label") and r.get("source") == "consensus" and r.get("confidence")]
    unreviewed.sort(key=lambda r: float(r["confidence"]))
    return [{k: r.get(k) for k in ("id", "text", "label", "confidence")} for r in unreviewed[:n]]


def evaluate(
    out: Path, *, gold: Path | None = None, gold_field: str = "label", run_dir: Path | None = None
) -> Report:
    """Read the output file `out` (and the ledger in `run_dir`, default OUT's name + '.run', when it exists)
    and score it; with `gold` (a file with the input's text and id fields plus `gold_field`), against gold."""
    if not exists(out):
        raise InputError(out, "file not found")
    rows = list(read_rows(out, nested=("votes",)))
    config, run_figures = _run_figures(run_dir or beside(out, ".run"))
    if config.get("task", {}).get("multi_label"):
        return _evaluate_multi(out, rows, config, run_figures, gold=gold, gold_field=gold_field)
    if any(isinstance(r.get("label"), list) for r in rows):
        raise InputError(
            out, "a multi-label output is scored with its run folder (--run-dir: its task and labels)"
        )
    output = Output.of(rows, config)
    report = _plain_report(out, rows, output)
    if config:
        cost = np.array([_number(r.get("cost_usd")) for r in rows])
        for entry in run_figures["stages"]:
            in_stage = output.stage == entry["stage"]
            per_stage = agreement_on(output.votes, output.predicted, output.reviewed & in_stage)
            entry["agreement"] = dict(zip(output.names, per_stage.tolist(), strict=True))
            entry["cost_usd"] = float(cost[in_stage].sum())
        report = report.model_copy(update=run_figures)
    if gold is None:
        return report
    truth = _gold(gold, gold_field, config, [str(r["id"]) for r in rows], output.index)
    return report.model_copy(update=_against_gold(report, rows, output, truth))


@dataclass(frozen=True)
class Output:
    """An output file as arrays over its n rows and m specialists: `predicted` (n,) and `votes` (n, m) label
    indices (-1: none), `source` (n,), `reviewed` (n,) bool, `stage` (n,)."""

    labels: list[str]
    names: list[str]
    predicted: IntArray
    votes: IntArray
    source: np.ndarray[Any, np.dtype[np.str_]]
    reviewed: BoolArray
    stage: IntArray

    @property
    def index(self) -> dict[str, int]:
        return {lab: i for i, lab in enumerate(self.labels)}

    @classmethod
    def of(cls, rows: Sequence[dict[str, Any]], config: dict[str, Any]) -> Output:
        names = sorted({name for r in rows for name in (r.get("votes") or {})})
        labels = list(config.get("labels") or sorted({str(r["label"]) for r in rows if r.get("label")}))
        index = {lab: i for i, lab in enumerate(labels)}
        source = np.array([str(r.get("source")) for r in rows])
        votes = np.array(
            [[index.get((r["votes"].get(n) or {}).get("label") or "", -1) for n in names] for r in rows],
            dtype=np.int64,
        ).reshape(len(rows), len(names))
        return cls(
            labels=labels,
            names=names,
            predicted=np.array([index.get(r.get("label") or "", -1) for r in rows], dtype=np.int64),
            votes=votes,
            source=source,
            reviewed=source == "llm",
            stage=np.array([int(_number(r.get("stage"))) for r in rows], dtype=np.int64),
        )


def _run_figures(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's config and its figures from the ledger in `folder` (empty when there is none)."""
    if not (folder / "ledger.sqlite").is_file():
        return {}, {}
    with Ledger(folder / "ledger.sqlite") as ledger:
        config: dict[str, Any] = ledger.meta("config") or {}
        run_figures: dict[str, Any] = {
            "stages": figures.stage_figures(ledger),
            "trainings": figures.trainings(ledger),
            "relabelled": {f"{old} -> {new}": n for (old, new), n in figures.relabel_changes(ledger).items()},
            "cost_usd": figures.spent_usd(ledger),  # what was paid, crashed attempts included
            "hard_share": hard_share(figures.counts(ledger)),  # the ledger knows which rows were hard
        }
        if config.get("routing") == "trust":
            run_figures["trust"] = self_estimate(ledger, TrustConfig.model_validate(config["trust"]))
    return config, run_figures


def _plain_report(out: Path, rows: Sequence[dict[str, Any]], output: Output) -> Report:
    """What the output file alone says: coverage, sources, spend, each specialist's agreement with the reviewer."""
    n = len(rows)
    with_reviewer = agreement_on(output.votes, output.predicted, output.reviewed)
    specialists = {
        name: {
            "coverage": float((output.votes[:, j] >= 0).mean()) if n else 0.0,
            "agreement_with_reviewer": float(with_reviewer[j]),
        }
        for j, name in enumerate(output.names)
    }
    return Report(
        out=str(out),
        labels=output.labels,
        rows=n,
        labelled=int((output.predicted >= 0).sum()),
        coverage=float((output.predicted >= 0).mean()) if n else 0.0,
        sources=dict(Counter(output.source.tolist())),
        hard_share=float(np.mean([source_is_hard(s) for s in output.source])) if n else 0.0,
        llm_share=float(output.reviewed.mean()) if n else 0.0,
        tokens=int(sum(_number(r.get("tokens")) for r in rows)),
        cost_usd=float(sum(_number(r.get("cost_usd")) for r in rows)),
        specialists=specialists,
        pairwise_agreement=pairwise_agreement(output.votes).tolist(),
        check_first=check_first(rows),
    )


def _against_gold(
    report: Report, rows: Sequence[dict[str, Any]], output: Output, truth: IntArray
) -> dict[str, Any]:
    """The report's gold fields: scores by source, each specialist's accuracy, reliability, accuracy per stage."""
    predicted, labels = output.predicted, output.labels
    has = truth >= 0
    labelled = has & (predicted >= 0)
    by_source = {"all": scores(truth[labelled], predicted[labelled], len(labels), labels)}
    for s in SOURCES:
        chosen = labelled & (output.source == s)
        if chosen.any():
            by_source[s] = scores(truth[chosen], predicted[chosen], len(labels), labels)
    specialists = {name: dict(v) for name, v in report.specialists.items()}
    for name, accuracy in zip(output.names, agreement_on(output.votes, truth, has).tolist(), strict=True):
        specialists[name]["accuracy"] = accuracy
    confidence = np.array([_number(r.get("confidence")) for r in rows])
    with_conf = labelled & np.array([r.get("confidence") not in (None, "") for r in rows])
    update: dict[str, Any] = {"gold": by_source, "specialists": specialists}
    if with_conf.any():
        update["reliability"] = reliability(confidence[with_conf], predicted[with_conf] == truth[with_conf])
    accepted = with_conf & ~output.reviewed
    if accepted.any():
        update["reliability_accepted"] = reliability(confidence[accepted], predicted[accepted] == truth[accepted])
    reviewed = labelled & output.reviewed
    if reviewed.any():
        update["reviewed_accuracy"] = float((predicted[reviewed] == truth[reviewed]).mean())
    stages = [dict(s) for s in report.stages]
    for entry in stages:
        chosen = labelled & (output.stage == entry["stage"])
        entry["accuracy"] = float((predicted[chosen] == truth[chosen]).mean()) if chosen.any() else None
    update["stages"] = stages
    return update


def _evaluate_multi(
    out: Path,
    rows: Sequence[dict[str, Any]],
    config: dict[str, Any],
    run_figures: dict[str, Any],
    *,
    gold: Path | None,
    gold_field: str,
) -> Report:
    """The report of a multi-label output (`config`: the run's, from its ledger), scored by `multieval`."""
    labels, separator = list(config["labels"]), config.get("task", {}).get("label_separator", "|")
    sets = [labels_of(r.get("label"), separator) for r in rows]
    source = np.array([str(r.get("source")) for r in rows])
    n = len(rows)
    report = Report(
        out=str(out),
        labels=labels,
        rows=n,
        labelled=sum(s is not None for s in sets),
        coverage=float(np.mean([s is not None for s in sets])) if n else 0.0,
        sources=dict(Counter(source.tolist())),
        hard_share=float(np.mean([source_is_hard(s) for s in source])) if n else 0.0,
        llm_share=float((source == "llm").mean()) if n else 0.0,
        tokens=int(sum(float(r.get("tokens") or 0) for r in rows)),
        cost_usd=float(sum(float(r.get("cost_usd") or 0) for r in rows)),
        specialists=specialist_agreement(rows, sets, source, separator),
        pairwise_agreement=[],
        check_first=check_first(rows),
    ).model_copy(update=run_figures)
    if gold is None:
        return report
    truth = gold_sets(gold, gold_field, config, [str(r["id"]) for r in rows], separator)
    has = np.array([t is not None and s is not None for t, s in zip(truth, sets, strict=True)], dtype=bool)
    gold_matrix = indicators([t or [] for t in truth], labels)
    predicted = indicators([s or [] for s in sets], labels)
    by_source = {"all": multi_scores(gold_matrix[has], predicted[has], labels)}
    for s in SOURCES:
        chosen = has & (source == s)
        if chosen.any():
            by_source[s] = multi_scores(gold_matrix[chosen], predicted[chosen], labels)
    stage_of = np.array([int(float(r.get("stage") or 0)) for r in rows])
    stages = [dict(s) for s in report.stages]
    for entry in stages:
        chosen = has & (stage_of == entry["stage"])
        entry["micro_f1"] = multi_scores(gold_matrix[chosen], predicted[chosen], labels).micro_f1
    return report.model_copy(update={"multi_label": by_source, "stages": stages})


def hard_share(counts: dict[str, int]) -> float:
    """The one definition of the hard share: rows the specialists did not settle (``hard``, reviewed or not)
    over the rows they voted on (skipped rows apart; audited rows they agreed on are not hard). `counts` as
    `Ledger.counts` gives them: rows per source plus ``skipped`` and ``hard``."""
    voted = sum(n for source, n in counts.items() if source not in ("skipped", "hard"))
    return counts.get("hard", 0) / voted if voted else 0.0


def source_is_hard(source: str) -> bool:
    """Whether a row of this source went past the specialists (to the LLM, a human, or nobody yet); without
    the ledger, the best guess at a hard row (an audited row that the specialists agreed on counts too)."""
    return source in ("llm", "human", "unresolved")


def _number(value: Any) -> float:
    """A numeric cell (CSV cells are strings; missing ones count 0)."""
    if value in (None, ""):
        return 0.0
    return float(value)


def _gold(
    path: Path, field: str, config: dict[str, Any], ids: Sequence[str], label_set: dict[str, int]
) -> IntArray:
    """(n,) gold label index of each output row (-1 where the gold file has none), matched by row id; ids are
    computed as the run computed them (the task's text and id fields)."""
    task = config.get("task", {})
    source = Source(path, text_field=task.get("text_field", "text"), id_field=task.get("id_field"))
    values = dict(source.column(field))
    if not values:
        raise InputError(path, f"no usable rows with a {field!r} field", field=field)
    unknown = {str(v) for v in values.values() if v not in (None, "") and str(v) not in label_set}
    if unknown:
        raise InputError(path, f"gold labels not in the task: {sorted(unknown)[:5]}", field=field)
    return np.array([label_set.get(str(values.get(i, "")), -1) for i in ids], dtype=np.int64)
