"""Multi-label (issue 14): GoEmotions test set, Ekman's 6 emotions plus neutral, with the reviewer an oracle
(the gold sets replayed: no LLM answers were recorded for this set).

Per target agreement and seed: the run (``--specialists minilm,tfidf``, one-vs-rest heads learning in stages)
gives micro-F1 against gold and the share sent to the reviewer, per stage too. Beside each run, the plain
baseline at the same share sent: one-vs-rest MiniLM heads trained on that many oracle labels drawn at random,
the other rows labelled by those heads (mean of 3 draws).

    python bench/goemotions.py [--targets 0.97,0.9,0.8] [--seeds 0,1] [--rows N]
        [--out bench/results/goemotions.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from _report import emit, machine
from autoannotator import LearningConfig, RunConfig, TrustConfig, annotate, evaluate, load_task
from autoannotator.report.multieval import multi_scores
from autoannotator.review import ReviewConfig
from autoannotator.specialists.features import shared_minilm
from autoannotator.specialists.onevsrest import fit_one_vs_rest
from autoannotator.vote.labelsets import decide, indicators
from paper import DATA

HERE = Path(__file__).resolve().parent
TASK = HERE / "tasks" / "goemotions-ekman.yaml"
TEST = DATA / "goemotions" / "test.csv"


def oracle(rows: Sequence[dict[str, str]], folder: Path) -> Path:
    """A replay file whose answers are the gold sets (the reviewer is always right)."""
    path = folder / "oracle.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["text", "model", "setting", "llm_label", "raw_response", "prompt_tokens", "completion_tokens"]
        )
        for row in rows:
            answer = json.dumps({"labels": row["ekman"].split("|")})
            writer.writerow([row["text"], "oracle", "gold", answer, answer, "", ""])
    return path


def run(data: Path, replay: Path, folder: Path, *, target: float, seed: int, relabel: bool) -> dict[str, Any]:
    """One run: micro-F1 and share sent, overall and per stage."""
    config = RunConfig(
        input=data,
        task=load_task(TASK),
        specialists=("minilm", "tfidf"),
        review=ReviewConfig(method="replay", replay=replay),
        learning=LearningConfig(seed=seed, relabel_final=relabel),
        trust=TrustConfig(target=target, seed=seed),
    )
    out = folder / f"t{target}-s{seed}.jsonl"
    annotate(config, out=out, run_dir=folder / f"t{target}-s{seed}.run")
    report = evaluate(out, gold=data, gold_field="ekman", run_dir=folder / f"t{target}-s{seed}.run")
    assert report.multi_label is not None
    return {
        "target": target,
        "seed": seed,
        "micro_f1": report.multi_label["all"].micro_f1,
        "macro_f1": report.multi_label["all"].macro_f1,
        "exact": report.multi_label["all"].exact_set_accuracy,
        "sent": report.llm_share,
        "stages": [(s["stage"], s["rows"], s["llm_share"], s["micro_f1"]) for s in report.stages],
    }


def baseline(features: np.ndarray[Any, Any], gold: np.ndarray[Any, Any], share: float, seed: int) -> float:
    """Micro-F1 of: a random `share` of rows labelled by the oracle, the rest by one-vs-rest heads trained on
    them (at least one label a row, as the task says)."""
    n = len(gold)
    rng = np.random.default_rng(seed)
    sent = np.zeros(n, dtype=bool)
    sent[rng.choice(n, size=max(round(share * n), 10), replace=False)] = True
    coef, intercept = fit_one_vs_rest(features[sent], gold[sent], c=1.0, seed=seed)
    p = 1.0 / (1.0 + np.exp(-(features @ coef.T + intercept)))
    labels = np.where(sent[:, None], gold, decide(p, max_labels=None, allow_empty=False))
    return multi_scores(gold, labels, [str(j) for j in range(gold.shape[1])]).micro_f1 or 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="0.97,0.9,0.8")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--rows", type=int, default=None, help="the first N test rows (default: all 5,427)")
    parser.add_argument("--relabel-final", action="store_true", help="the final heads re-label earlier rows")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with TEST.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))[: args.rows]
    labels = load_task(TASK).label_names
    gold = indicators([r["ekman"].split("|") for r in rows], labels)
    features = np.asarray(shared_minilm().transform([r["text"] for r in rows]))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "test.csv"
        with data.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["id", "text", "ekman"], extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        replay = oracle(rows, folder)
        for target in [float(t) for t in args.targets.split(",")]:
            for seed in [int(s) for s in args.seeds.split(",")]:
                result = run(data, replay, folder, target=target, seed=seed, relabel=args.relabel_final)
                draws = [baseline(features, gold, result["sent"], seed=d) for d in range(3)]
                result["baseline"], result["baseline_sd"] = float(np.mean(draws)), float(np.std(draws))
                results.append(result)
                print(json.dumps(result), flush=True)
    emit(report(results, len(rows), relabel=args.relabel_final), args.out)


def report(results: Sequence[dict[str, Any]], n: int, *, relabel: bool = False) -> list[str]:
    lines = [
        f"# Multi-label: GoEmotions test (Ekman 7-way, {n:,} rows), oracle reviewer",
        "",
        machine(["autoannotator", "scikit-learn", "onnxruntime"]),
        "",
        "Specialists minilm,tfidf (one-vs-rest heads, staged learning"
        + (", --relabel-final" if relabel else "")
        + "), trust routing at each target (exact-set "
        "agreement of the whole output with the reviewer). Baseline: the same share of rows drawn at random and "
        "labelled by the oracle, the rest by one-vs-rest MiniLM heads trained on them (mean ± sd of 3 draws).",
        "",
        "| target | seed | sent to reviewer | micro-F1 | baseline micro-F1, same share | macro-F1 | exact set |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['target']} | {r['seed']} | {r['sent']:.1%} | {r['micro_f1']:.3f} | "
            f"{r['baseline']:.3f} ± {r['baseline_sd']:.3f} | {r['macro_f1']:.3f} | {r['exact']:.3f} |"
        )
    lines += ["", "Per stage (rows, share sent, micro-F1):", ""]
    for r in results:
        stages = "; ".join(
            f"stage {s}: {rows:,} rows, {sent:.1%} sent, F1 {f1:.3f}" for s, rows, sent, f1 in r["stages"]
        )
        lines.append(f"- target {r['target']}, seed {r['seed']}: {stages}")
    return lines


if __name__ == "__main__":
    main()
