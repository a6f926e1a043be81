"""Specialists + replayed real GPT-3.5 answers on the hard rows, against gold (prints figures, not a test).

For each data set with recorded answers: the shipped task and its default specialists vote; hard rows (the
paper's rule: not unanimous) are answered by the recorded GPT-3.5 zero-shot answers, with their real token
counts priced at GPT-3.5-turbo list prices. Printed beside the LLM-only baseline on the same rows (every row
answered by the same recorded answers). Nothing is tuned on these rows.

    python bench/review_replay.py [--out bench/results/review_replay.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

from _report import emit, machine
from autoannotator import RunConfig, annotate, load_task
from autoannotator.llm import Budget, load_prices
from autoannotator.review import HardRow, ReplayReviewer, ReviewConfig

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = (
    (
        "tweeteval-offensive/test.csv",
        "toxicity",
        "tweeteval-offensive-test.csv",
        "gpt-3.5-turbo",
        "zero-shot; default",
    ),
    (
        "tweeteval-sentiment/test.csv",
        "sentiment-3",
        "tweeteval-sentiment-test.csv",
        "gpt-3.5-turbo",
        "zero-shot; default",
    ),
)


def run(dataset: str, task_name: str, replay_name: str, model: str, setting: str) -> dict[str, float | str]:
    path, replay = DATA / dataset, DATA / "llm-replay" / replay_name
    task = load_task(task_name)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    gold = [r["label"] for r in rows]
    review = ReviewConfig(method="replay", replay=replay, replay_model=model, replay_setting=setting)
    with tempfile.TemporaryDirectory() as tmp:
        result = annotate(
            RunConfig(input=path, task=task, review=review), out=Path(tmp) / "o.jsonl", run_dir=Path(tmp) / "run"
        )
        out = [json.loads(line) for line in (Path(tmp) / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    only = ReplayReviewer(replay, task, prices=load_prices(), budget=Budget(None), model=model, setting=setting)
    verdicts = only.review([HardRow(i, r["text"], {}, None) for i, r in enumerate(rows)])
    n = len(rows)
    usage = result.review_usage
    llm_only_usd = sum(v.cost_usd for v in verdicts)
    return {
        "dataset": dataset,
        "rows": n,
        "llm_share": sum(r["source"] == "llm" for r in out) / n,
        "accuracy": sum(r["label"] == g for r, g in zip(out, gold, strict=True)) / n,
        "unresolved": sum(r["source"] == "unresolved" for r in out) / n,
        "tokens": usage["prompt_tokens"] + usage["completion_tokens"],
        "usd": usage["cost_usd"],
        "llm_only_accuracy": sum(v.label == g for v, g in zip(verdicts, gold, strict=True)) / n,
        "llm_only_tokens": sum(v.prompt_tokens + v.completion_tokens for v in verdicts),
        "llm_only_usd": llm_only_usd,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = [run(*case) for case in CASES]
    lines = [
        "# Default specialists + replayed GPT-3.5 zero-shot answers on the hard rows",
        "",
        machine(["autoannotator"]),
        "- hard rule: not unanimous (or fewer than 2 votes); prices: gpt-3.5-turbo $0.50 / $1.50 per M tokens",
        "",
        "| dataset | rows | sent to LLM | accuracy | unresolved (invalid answers) | tokens | USD | "
        "LLM-only accuracy | LLM-only tokens | LLM-only USD | saving |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        saving = 1 - float(r["usd"]) / float(r["llm_only_usd"])
        lines.append(
            f"| {r['dataset']} | {r['rows']:,} | {r['llm_share']:.1%} | {r['accuracy']:.3f} | "
            f"{r['unresolved']:.1%} | {r['tokens']:,.0f} | {r['usd']:.4f} | {r['llm_only_accuracy']:.3f} | "
            f"{r['llm_only_tokens']:,.0f} | {r['llm_only_usd']:.4f} | {saving:.0%} |"
        )
    emit(lines, args.out)


if __name__ == "__main__":
    main()
