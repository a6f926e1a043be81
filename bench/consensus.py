"""How right are the specialists where they all agree? (a benchmark that prints figures, not a test)

Annotates shared evaluation sets with a built-in task and its default specialists (no reviewer), then scores
against the gold labels: the share of rows that reach consensus, the accuracy of those consensus labels, the
accuracy of the vote's best guess on every row, and each specialist alone (an abstention counts as wrong).
No setting is tuned on these rows: tasks, adapters and the hard-row rule are the shipped defaults.

Issue 2's check: on TweetEval offensive test, the rows all toxicity specialists agree on are right >= 84%.

    python bench/consensus.py [--out bench/results/consensus.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

from _report import emit, machine
from autoannotator import RunConfig, annotate, load_task

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = (
    ("tweeteval-offensive/test.csv", "toxicity", {"offensive": "offensive", "not-offensive": "not-offensive"}),
    ("tweeteval-sentiment/test.csv", "sentiment-3", None),
    ("rotten-tomatoes-mr/test.csv", "sentiment-2", None),
)


def score(dataset: str, task_name: str, gold_map: dict[str, str] | None) -> dict[str, object]:
    path = DATA / dataset
    with path.open(encoding="utf-8", newline="") as f:
        gold = [row["label"] for row in csv.DictReader(f)]
    if gold_map is not None:
        gold = [gold_map[g] for g in gold]
    with tempfile.TemporaryDirectory() as tmp:
        result = annotate(
            RunConfig(input=path, task=load_task(task_name)), out=Path(tmp) / "o.jsonl", run_dir=Path(tmp) / "run"
        )
        rows = [json.loads(line) for line in (Path(tmp) / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(gold), "every row must be labelled"
    agreed = [(r["label"], g) for r, g in zip(rows, gold, strict=True) if r["source"] == "consensus"]
    alone = {
        name: sum(r["votes"][name]["label"] == g for r, g in zip(rows, gold, strict=True)) / len(rows)
        for name in rows[0]["votes"]
    }
    return {
        "dataset": dataset,
        "task": task_name,
        "rows": len(rows),
        "seconds": result.seconds,
        "consensus_share": len(agreed) / len(rows),
        "consensus_accuracy": sum(a == b for a, b in agreed) / max(len(agreed), 1),
        "best_guess_accuracy": sum(r["best_guess"] == g for r, g in zip(rows, gold, strict=True)) / len(rows),
        "alone": alone,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = [score(*case) for case in CASES]
    lines = [
        "# Consensus of the default specialists (no reviewer), against gold labels",
        "",
        machine(
            [
                "autoannotator",
                "vaderSentiment",
                "textblob",
                "afinn",
                "alt-profanity-check",
                "hatesonar",
                "better-profanity",
            ]
        ),
        "- hard rule: not unanimous or fewer than 2 votes; aggregate: majority",
        "",
        "| dataset | task | rows | consensus share | consensus accuracy | best-guess accuracy, all rows | "
        "each specialist alone | seconds |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        alone = ", ".join(f"{k} {v:.3f}" for k, v in r["alone"].items())  # type: ignore[attr-defined]
        lines.append(
            f"| {r['dataset']} | {r['task']} | {r['rows']:,} | {r['consensus_share']:.3f} | "
            f"{r['consensus_accuracy']:.3f} | {r['best_guess_accuracy']:.3f} | {alone} | {r['seconds']:.0f} |"
        )
    offensive = results[0]
    met = float(offensive["consensus_accuracy"]) >= 0.84  # type: ignore[arg-type]
    lines += ["", f"TweetEval offensive, consensus accuracy >= 0.84: {'met' if met else 'NOT met'}."]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
