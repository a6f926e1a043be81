"""Measured trust with calibration labels (issue 10): a few human-labelled rows make the truth the reference.

Per dataset and seed: `--rows` rows (100 on offensive's 860, else 200) drawn at random from the scored file
become the calibration file (their gold labels); the run is scored on the *other* rows: accuracy (unlabelled
rows count as wrong), the share of all rows the LLM was asked about (whatever label was kept), the share of
distinct texts asked with the calibration rows (the reviewer labels them too), the run's estimated accuracy of
its accepted rows
(95% interval) beside their true accuracy, the reviewer's accuracy as the run measured it, and the expected
calibration error of the `confidence` column against the truth.

    python bench/calibrated.py [--datasets a,b] [--seeds 0,1,2] [--out bench/results/calibrated.md]
"""

from __future__ import annotations

import csv
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from _report import emit, machine
from autoannotator import LearningConfig, RunConfig, TrustConfig, annotate, load_task
from autoannotator.read.io import read_rows
from autoannotator.report.evaluation import reliability
from paper import replay_file, review, rows_file
from trust import ALL, arguments, estimate_cell

ROWS = {"tweeteval-offensive": 100}
"""Calibration rows per dataset (the issue's sizes); 200 where not named."""


def draw(data: Path, n: int, seed: int, out: Path) -> set[str]:
    """Write `n` random rows of `data` (text, label) to `out`; their texts."""
    with data.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    chosen = random.Random(seed).sample(rows, n)
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(chosen)
    return {r["text"] for r in chosen}


def scored(out: Path, data: Path, held: set[str], result: Any) -> dict[str, Any]:
    with data.open(encoding="utf-8", newline="") as f:
        gold = {r["text"]: r["label"] for r in csv.DictReader(f)}
    rows = [r for r in read_rows(out) if r["text"] not in held]
    right = np.array([r["label"] == gold[r["text"]] for r in rows])
    accepted = np.array([r["source"] == "consensus" for r in rows])
    labelled = [i for i, r in enumerate(rows) if r["label"] and r["confidence"] is not None]
    conf = np.array([float(rows[i]["confidence"]) for i in labelled])
    estimate = (result.trust or {}).get("overall", {})
    return {
        "accuracy": float(right.mean()),
        "sent": float(np.mean([r["review"] is not None for r in read_rows(out)])),  # asked, whatever kept
        "asked": len({r["text"] for r in read_rows(out) if r["review"] is not None} | held) / len(gold),
        "accepted": float(accepted.mean()),
        "true": float(right[accepted].mean()) if accepted.any() else float("nan"),
        "estimate": estimate.get("agreement"),
        "low": estimate.get("low"),
        "high": estimate.get("high"),
        "reviewer": (result.trust or {}).get("reviewer_accuracy"),
        "ece": reliability(conf, right[labelled]).ece if len(conf) else float("nan"),
    }


def bench(name: str, seeds: list[int], folder: Path) -> list[str]:
    dataset = ALL[name]
    data = rows_file(dataset, folder)
    reviewer = review(replay_file(dataset, dataset.review, folder), dataset.review)
    specialists = dataset.specialists if dataset.specialists == ("auto",) else ()
    lines = []
    for seed in seeds:
        calibration = folder / f"calibration-{seed}.csv"
        held = draw(data, ROWS.get(name, 200), seed, calibration)
        config = RunConfig(
            input=data,
            task=load_task(dataset.task),
            specialists=specialists,
            review=reviewer,
            calibration=calibration,
            learning=LearningConfig(seed=seed),
            trust=TrustConfig(seed=seed),
        )
        out = folder / f"c{seed}.jsonl"
        f = scored(out, data, held, annotate(config, out=out, run_dir=folder / f"c{seed}.run"))
        lines.append(
            f"| {name} | {seed} | {len(held)} | {f['accuracy']:.3f} | {f['sent']:.1%} | {f['asked']:.1%} | "
            f"{f['accepted']:.1%} | "
            f"{estimate_cell(f)} | {f['true']:.3f} | {f['reviewer']:.3f} | {f['ece']:.3f} |"
        )
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    args = arguments(__doc__)
    lines = [
        "# Measured trust with calibration labels",
        "",
        machine(["autoannotator", "numpy", "scikit-learn", "onnxruntime"]),
        "",
        "Reviewer: replayed GPT-3.5 (zero-shot; 10-shot on Rotten Tomatoes); default settings plus `--calibration`"
        " (rows drawn at random from the scored file; every figure but 'sent' on the other rows).",
        "",
        "| dataset | seed | calibration rows | accuracy | sent to LLM | texts asked, calibration rows included | "
        "accepted | estimated accuracy of accepted [95% CI] | true accuracy of accepted | reviewer accuracy "
        "(measured) | ECE |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in args.datasets.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            lines += bench(name, [int(s) for s in args.seeds.split(",")], Path(tmp))
    emit(lines, args.out)


if __name__ == "__main__":
    main()
