"""People's labels as a guided step (issue 27): the default run, then `ask-people` on N rows with the gold
label replayed as the people, then the re-judgement (no reviewer call), against the LLM alone.

Per dataset and seed: accuracy against gold of the run before people (unlabelled rows count as wrong), after
the re-judgement (the people's rows included, as a user's output has them), the LLM alone, the share of rows
sent to the LLM (unchanged by people: the re-judgement asks nobody), the rows re-labelled, and the
prediction-powered estimate of the output's accuracy (95% interval) beside the truth.

    python bench/ask_people.py [--datasets a,b] [--seeds 0,1,2] [--rows N] [--reference llm|label-model]
        [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from _report import emit, machine
from autoannotator import LearningConfig, RunConfig, TrustConfig, annotate, baseline, evaluate, load_task
from autoannotator.ledger import Ledger, humans
from autoannotator.run.outputs import write_output
from autoannotator.trust.people import ask, rejudge_run
from paper import replay_file, review, rows_file
from trust import ALL, ORDER

ROWS = {
    "tweeteval-offensive": 100,
    "tweeteval-sentiment": 200,
    "tweeteval-emotion": 200,
    "rotten-tomatoes-mr": 200,
}
"""People's labels per dataset: the issue's figures (100 on offensive, 200 elsewhere)."""


def accuracy(out: Path, data: Path, run_dir: Path) -> float:
    """Accuracy against gold over every row (unlabelled rows wrong)."""
    report = evaluate(out, gold=data, run_dir=run_dir)
    assert report.gold is not None
    return (report.gold["all"].accuracy or 0.0) * report.coverage


def people(run_dir: Path, data: Path, n: int, seed: int) -> dict[str, Any]:
    """Ask `n` rows, answer them with the gold label, re-judge; the re-judgement's figures."""
    with data.open(encoding="utf-8", newline="") as f:
        gold = {r["text"]: r["label"] for r in csv.DictReader(f)}
    with Ledger(run_dir / "ledger.sqlite") as ledger:
        chosen = {pos for pos, _, _ in ask(ledger, n, seed=seed)[0]}
        marks = ",".join("?" * len(chosen))
        rows = ledger.db.execute(f"SELECT id, text FROM rows WHERE pos IN ({marks})", sorted(chosen)).fetchall()
        humans.set_human_labels(ledger, {i: gold[t] for i, t in rows}, annotator="gold")
        result = rejudge_run(ledger)
        assert result is not None
        write_output(ledger, run_dir.parent / "people.jsonl")
    return {"changed": int(result.changed.sum()), "used": result.used, "estimate": result.estimate}


def bench(name: str, seeds: list[int], rows: int | None, reference: str, folder: Path) -> list[str]:
    dataset = ALL[name]
    data = rows_file(dataset, folder)
    reviewer = review(replay_file(dataset, dataset.review, folder), dataset.review)
    specialists = dataset.specialists if dataset.specialists == ("auto",) else ()
    base = RunConfig(input=data, task=load_task(dataset.task), specialists=specialists, review=reviewer)
    annotate(baseline(base, "llm"), out=folder / "llm.jsonl", run_dir=folder / "llm.run")
    llm = accuracy(folder / "llm.jsonl", data, folder / "llm.run")
    n = rows or ROWS[name]
    lines, after = [], []
    for seed in seeds:
        trust = TrustConfig(seed=seed, reference=reference)  # type: ignore[arg-type]
        config = base.model_copy(update={"learning": LearningConfig(seed=seed), "trust": trust})
        run = folder / f"s{seed}"
        run.mkdir()
        annotate(config, out=run / "out.jsonl", run_dir=run / "run")
        before = accuracy(run / "out.jsonl", data, run / "run")
        with Ledger(run / "run" / "ledger.sqlite") as ledger:
            total = ledger.db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
            sent = ledger.db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] / total
        f = people(run / "run", data, n, seed)
        now = accuracy(run / "people.jsonl", data, run / "run")
        after.append(now)
        est, low, high = f["estimate"]
        covered = "yes" if low <= now <= high else "no"
        lines.append(
            f"| {name} | {seed} | {n} | {before:.3f} | {now:.3f} | {llm:.3f} | {now - llm:+.3f} | {sent:.1%} | "
            f"{f['changed']:,}{'' if f['used'] else ' (kept)'} | {est:.3f} ({low:.3f}-{high:.3f}) | {covered} |"
        )
    lines.append(
        f"| {name} | mean ± sd | {n} | | {np.mean(after):.3f} ± {np.std(after):.3f} | {llm:.3f} | "
        f"{np.mean(after) - llm:+.3f} | | | | |"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(ORDER))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--reference", choices=("llm", "label-model"), default="llm")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    lines = [
        "# People's labels as a guided step",
        "",
        machine(["autoannotator", "numpy", "scipy", "scikit-learn", "onnxruntime"]),
        "",
        f"Reference during the run: {args.reference}. Gold replayed as the people on the asked rows.",
        "",
        "| dataset | seed | people's rows | run before | after re-judging | LLM alone | vs LLM | "
        "sent to the LLM | re-labelled | estimate (95%) | covers the truth |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in args.datasets.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            lines += bench(name, seeds, args.rows, args.reference, Path(tmp))
            print("\n".join(lines[-len(seeds) - 1 :]), flush=True)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
