"""Readers of the audit stream in the ledger: the evidence trust is measured on, and the run's self-estimate.

Both read only rows that the reviewer answered (review status ``ok``); the reviewer's label is the reference.
The evidence is the audited rows and the rows of batches that accepted nothing (all reviewed); the
self-estimate, the audited rows the routing accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autoannotator.errors import InputError
from autoannotator.ledger import Ledger, audit, figures
from autoannotator.read.io import file_format, read_rows, unneutralise
from autoannotator.specialists.base import FloatArray, IntArray
from autoannotator.trust.acceptance import TrustConfig, interval
from autoannotator.trust.truth import Calibration
from autoannotator.vote.aggregate import BoolArray

COARSE = 0.15
"""An estimate whose 95% interval is wider than this is called coarse in the end line (19 audited rows that all
agree: 0.832-1.000), with the way to narrow it."""


@dataclass(frozen=True)
class Evidence:
    """Audited rows: positions (n,), ids and texts (n,), reference label indices (n,), every specialist's
    stored vote (n, m) and adapted probabilities (n, m, k)."""

    pos: IntArray
    ids: list[str]
    texts: list[str]
    reference: IntArray
    votes: IntArray
    probs: FloatArray


def audit_evidence(ledger: Ledger, labels: list[str], m: int, *, last: int = 5000) -> Evidence:
    """The `last` committed rows of the evidence with a valid review, in input order (recent evidence: drift
    ages out): the audited rows and every row of the batches that accepted nothing (`ledger.audit`)."""
    k = len(labels)
    index = {label: i for i, label in enumerate(labels)}
    rows = audit.audited_rows(ledger, last=last, census=True)
    where = {pos: i for i, (pos, _, _, _) in enumerate(rows)}
    votes = np.full((len(rows), m), -1, dtype=np.int64)
    probs = np.full((len(rows), m, k), 1.0 / k)
    first = rows[0][0] if rows else 0
    for pos, j, vote, blob in audit.audited_votes(ledger, first=first, m=m, census=True):
        if pos in where:
            votes[where[pos], j] = vote
            probs[where[pos], j] = np.frombuffer(blob, dtype=np.float32)
    return Evidence(
        np.array([r[0] for r in rows], dtype=np.int64),
        [str(r[1]) for r in rows],
        [str(r[2]) for r in rows],
        np.array([index[r[3]] for r in rows], dtype=np.int64),
        votes,
        probs,
    )


def self_estimate(ledger: Ledger, config: TrustConfig) -> dict[str, Any]:
    """The run's estimate of how often its auto-accepted rows are right, overall and per stage, each with a 95%
    interval, the rows it rests on and the share of rows accepted.

    Against the reviewer: the audited rows that the routing accepted (not hard) are a uniform sample of all
    accepted rows, and none of them chose the routing that accepted it (it was measured on earlier batches, see
    `autoannotator.run.batch`); each weighs 1 / its audit probability (early rows are audited more). Against the
    truth (calibration labels): the accuracy the routings of the stage (or run) measured on them, each weighted by
    the rows it accepted."""
    totals = figures.rows_by_stage(ledger)
    accepted = figures.rows_by_stage(ledger, source="consensus")
    routings = figures.acceptances(ledger)
    calibration = ledger.meta("calibration")

    def share(stage: int | None) -> float:
        rows = sum(totals.values()) if stage is None else totals.get(stage, 0)
        return (sum(accepted.values()) if stage is None else accepted.get(stage, 0)) / rows if rows else 0.0

    if calibration is not None:
        estimates = _measured(routings, sorted(totals))
    else:
        estimates = _audited(ledger, config, sorted(totals))
    overall, stages = estimates[None], {s: e for s, e in estimates.items() if s is not None}
    modelled = [r for r in routings if r.get("reference") == "label-model"]  # a plausible fit judged them
    return {
        "reference": "truth" if calibration is not None else "label-model" if modelled else "reviewer",
        "label_model": _measured(modelled, [])[None] if modelled else None,
        "label_model_unused": config.reference == "label-model" and not modelled and calibration is None,
        "reviewer_accuracy": None if calibration is None else calibration["reviewer_accuracy"],
        "target": (modelled or routings)[-1]["target"] if routings else config.target,
        "overall": {**overall, "accepted_share": share(None)},
        "stages": {s: {**e, "accepted_share": share(s)} for s, e in stages.items()},
        "capped_batches": sum(bool(r["capped"]) for r in routings),
        "unpaid": figures.unpaid(ledger),
        "deciders": accepted_by(routings),
    }


def accepted_by(routings: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Rows accepted without review per decider (a specialist's name, or the weighted vote), most first."""
    counts: dict[str, int] = {}
    for routing in routings:
        if routing["accepted"] and routing.get("decider"):
            counts[routing["decider"]] = counts.get(routing["decider"], 0) + routing["accepted"]
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def _measured(routings: Sequence[dict[str, Any]], stages: Sequence[int]) -> dict[int | None, dict[str, Any]]:
    """Against the truth: for the run (None) and each stage, the estimates the batches' routings measured,
    weighted by the rows each accepted (their intervals too, a conservative mix: they share the calibration
    rows)."""

    def measured(chosen: Sequence[dict[str, Any]]) -> dict[str, Any]:
        usable = [(r["estimate"], r["accepted"]) for r in chosen if r.get("estimate") and r["estimate"][3]]
        weights = np.array([w for _, w in usable], dtype=np.float64)
        if not usable or weights.sum() == 0:  # no row to estimate on: say so, not "nan"
            return {"agreement": None, "low": 0.0, "high": 1.0, "audited": 0}
        rate, low, high = (float(np.array([e[i] for e, _ in usable]) @ weights / weights.sum()) for i in range(3))
        return {"agreement": rate, "low": low, "high": high, "audited": max(e[3] for e, _ in usable)}

    per_stage = {s: measured([r for r in routings if r["stage"] == s]) for s in stages}
    return {None: measured(routings)} | per_stage


def _audited(ledger: Ledger, config: TrustConfig, stages: Sequence[int]) -> dict[int | None, dict[str, Any]]:
    """Against the reviewer: the inverse-probability-weighted agreement of the accepted audited rows, for the run
    (None) and each stage."""
    rows = [r[1:] for r in audit.audited_decisions(ledger)]
    pos = np.array([r[0] for r in rows], dtype=np.int64)
    stage = np.array([r[1] for r in rows], dtype=np.int64)
    accepted: BoolArray = np.array([not r[2] for r in rows], dtype=bool)
    agree: BoolArray = np.array([r[3] == r[4] for r in rows], dtype=bool)
    weights = 1.0 / np.array([config.audit_share(int(p)) for p in pos]) if len(pos) else np.zeros(0)

    def estimate(chosen: BoolArray) -> dict[str, Any]:
        rate, low, high, n = interval(agree[chosen], weights[chosen])
        return {"agreement": None if n == 0 else rate, "low": low, "high": high, "audited": n}

    return {None: estimate(accepted)} | {s: estimate(accepted & (stage == s)) for s in stages}


def describe(estimate: dict[str, Any]) -> str:
    """One line for people: the share accepted without review and how far it can be trusted."""
    overall = estimate["overall"]
    truth = estimate["reference"] == "truth"
    target = estimate["target"]
    wanted = "target: none" if target is None else f"target {target:.3f}"
    measured = estimate["reviewer_accuracy"]
    reviewer = f"; the reviewer's accuracy {measured:.3f}" if measured is not None else ""
    if overall["accepted_share"] == 0:
        people = truth and measured is None  # calibration labels, no reviewer
        rest = "every row is left to people" if people else "every labelled row is the reviewer's"
        line = (
            f"trust: no row could be accepted without review ({wanted} not shown on the evidence{reviewer}): "
            f"{rest}"
        )
    else:
        measure = "accuracy (calibration labels)" if truth else "agreement with the reviewer"
        rows = "calibration rows" if truth else "audited rows"
        value = "n/a" if overall["agreement"] is None else f"{overall['agreement']:.3f}"
        line = (
            f"trust: {overall['accepted_share']:.1%} of rows accepted without review; their estimated {measure} "
            f"{value} (95% CI {overall['low']:.3f}-{overall['high']:.3f}, {overall['audited']} {rows}"
        )
        if truth:  # the target is the accepted rows' accuracy
            line += f"; {wanted}{reviewer})"
        elif estimate.get("label_model"):  # assumption-free agreement, then the model's estimate and target
            line += _modelled(overall, estimate["label_model"], target)
        else:  # the target is the whole output's agreement: reviewed rows agree with the reviewer
            share = overall["accepted_share"]
            whole = [1 - share * (1 - overall[k]) for k in ("low", "high")]
            point = "" if overall["agreement"] is None else f"{1 - share * (1 - overall['agreement']):.3f} "
            line += f"); the whole output's {point}(95% CI {whole[0]:.3f}-{whole[1]:.3f}; {wanted})"
        if estimate.get("deciders"):
            line += "; accepted by " + ", ".join(f"{n} ({k:,} rows)" for n, k in estimate["deciders"].items())
        if overall["high"] - overall["low"] > COARSE:
            more = (
                "more calibration labels narrow"
                if truth
                else "larger audit shares (--early-audit-share, --audit-share) narrow"
            )
            line += f"; a coarse estimate: {more} it"
    if estimate.get("label_model_unused"):
        line += (
            "; --reference label-model was not used: it needs two fixed specialists beside the reviewer, each "
            "estimated better than chance, so the reviewer was the reference"
        )
    if estimate.get("unpaid"):
        line += (
            f"; --budget-usd ran out: {estimate['unpaid']:,} rows meant for the reviewer are unresolved (the "
            "target holds on the labelled rows only; `autoannotator export` hands them to people)"
        )
    if estimate["capped_batches"]:
        line += (
            f"; --llm-share accepted rows past the evidence in {estimate['capped_batches']} batches: "
            "the target was out of reach"
        )
    return line


def _modelled(overall: dict[str, Any], model: dict[str, Any], target: float) -> str:
    """The end of the trust line with a label-model reference: the figure above is assumption-free; the model's
    estimate of the accepted rows' accuracy and of the reviewer's, and what its estimate needs to hold."""
    value = "n/a" if model["agreement"] is None else f"{model['agreement']:.3f}"
    text = (
        f", assumption-free); the label model estimates their accuracy {value} (95% CI {model['low']:.3f}-"
        f"{model['high']:.3f}) and the reviewer's {target:.3f}, the target (model-based: it assumes the sources "
        "err independently given the truth; people's labels check it, --calibration)"
    )
    agree = overall["agreement"]
    if model["agreement"] is not None and agree is not None and model["agreement"] > agree:
        wrong = (model["agreement"] - agree) / (1 - agree)  # of the audited accepted rows where they differ
        text += f"; it holds only if the reviewer is wrong on {wrong:.0%} of the audited rows where they differ"
    return text


def read_calibration(path: Path, text_field: str, labels: Sequence[str], *, limit: int = 20) -> Calibration:
    """Human-labelled rows (`text_field` and ``label``; CSV, JSONL or Parquet) as a `Calibration`, with their
    ``id`` and ``weight`` where every row has them (a sheet from `ask-people-first`). Rows with a missing text
    or an unknown label are one `InputError` naming each (up to `limit`) by row number (for CSV, the
    spreadsheet's: the header is row 1)."""
    if not path.is_file():
        raise InputError(path, "file not found")
    csv = file_format(path) == "csv"
    texts: list[str] = []
    reference: list[int] = []
    ids: list[Any] = []
    weights: list[Any] = []
    bad: list[str] = []
    for i, row in enumerate(read_rows(path), start=2 if csv else 1):
        text, label = row.get(text_field), row.get("label")
        if not isinstance(text, str) or not text.strip():
            bad.append(f"row {i}: no {text_field!r}")
        elif label not in labels:
            bad.append(f"row {i}: label {label!r}")
        else:
            texts.append(unneutralise(text) if csv else text)
            reference.append(list(labels).index(str(label)))
            ids.append(row.get("id"))
            weights.append(row.get("weight"))
    if bad:
        more = f" and {len(bad) - limit} more" if len(bad) > limit else ""
        raise InputError(
            path, f"{len(bad)} unusable calibration rows ({'; '.join(bad[:limit])}{more}); labels: {list(labels)}"
        )
    if not texts:
        raise InputError(path, "no calibration rows")
    known = all(isinstance(x, str | int) and str(x) for x in ids)
    drawn = known and all(_positive(w) for w in weights)
    return Calibration(
        texts,
        np.array(reference, dtype=np.int64),
        ids=[str(x) for x in ids] if known else None,
        weights=np.array([float(w) for w in weights]) if drawn else None,
    )


def _positive(value: Any) -> bool:
    """Whether a cell is a positive number (a sheet's ``weight``; CSV cells are text)."""
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False
