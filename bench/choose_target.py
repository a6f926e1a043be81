"""Choosing the default `--target-agreement` on dev data (issue 10), never on the scored rows.

Dev data: the Rotten Tomatoes *train* and *validation* rows that have recorded GPT-3.5 answers (10-shot; the only
splits outside the scored test files that have recorded answers). For each candidate target: accuracy against
gold beside the LLM alone, the share of rows sent, and the run's estimated agreement of its accepted rows
beside the true one. The default is the lowest target that keeps accuracy within 1 point of the LLM alone on
every dev set and seed (the issue's "never silently worse" bar), since a lower target sends fewer rows.

    python bench/choose_target.py [--targets 0.9,0.95,0.97] [--seeds 0,1] [--out FILE]

With ``--reference label-model --targets default`` it is the dev-data decision of issue 27: whether the
label-model reference (target: as accurate as it estimates the reviewer) may be the default
(bench/results/label_model_dev.md).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from dataclasses import replace
from pathlib import Path

from _report import emit, machine
from autoannotator import LearningConfig, RunConfig, TrustConfig, annotate, baseline, evaluate, load_task
from paper import DATA, DATASETS, replay_file, review, rows_file
from trust import answers, estimate_cell, figures

MR = DATASETS["rotten-tomatoes-mr"]
DEV = {
    f"rotten-tomatoes-mr {split}": replace(MR, data=DATA / "rotten-tomatoes-mr" / f"{split}.csv", split=split)
    for split in ("validation", "train")
}


def answered(data: Path, llm: dict[str, str], out: Path) -> Path:
    """The rows of `data` that have a recorded answer (the train split's replay covers 6,530 of 8,530 rows)."""
    with data.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["text"].strip() in llm]
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="0.9,0.95,0.97")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--sets", default=",".join(DEV))
    parser.add_argument("--reference", choices=("llm", "label-model"), default="llm")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    targets = [None if t == "default" else float(t) for t in args.targets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    lines = [
        f"# Choosing the default target on dev data (reference: {args.reference})",
        "",
        machine(["autoannotator", "numpy", "scikit-learn", "onnxruntime"]),
        "",
        "| dev set | target | seed | accuracy | LLM alone | difference | sent to LLM | estimated agreement "
        "[95% CI] | true agreement |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in args.sets.split(","):
        dataset = DEV[name]
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            replay = replay_file(dataset, dataset.review, folder)
            llm = answers(replay)
            data = answered(rows_file(dataset, folder), llm, folder / "answered.csv")
            base = RunConfig(input=data, task=load_task(dataset.task), review=review(replay, dataset.review))
            annotate(baseline(base, "llm"), out=folder / "llm.jsonl", run_dir=folder / "llm.run")
            only = evaluate(folder / "llm.jsonl", gold=data, run_dir=folder / "llm.run")
            assert only.gold is not None
            llm_accuracy = (only.gold["all"].accuracy or 0.0) * only.coverage
            for target in targets:
                for seed in seeds:
                    config = base.model_copy(
                        update={
                            "learning": LearningConfig(seed=seed),
                            "trust": TrustConfig(seed=seed, target=target, reference=args.reference),
                        }
                    )
                    out, run_dir = folder / f"t{target}-s{seed}.jsonl", folder / f"t{target}-s{seed}.run"
                    f = figures(out, data, run_dir, llm, annotate(config, out=out, run_dir=run_dir))
                    est = estimate_cell(f)
                    lines.append(
                        f"| {name} | {target or 'default'} | {seed} | {f['accuracy']:.3f} | {llm_accuracy:.3f} | "
                        f"{f['accuracy'] - llm_accuracy:+.3f} | {f['llm_share']:.1%} | {est} | "
                        f"{f['true_agreement']:.3f} |"
                    )
                    print(lines[-1], flush=True)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
