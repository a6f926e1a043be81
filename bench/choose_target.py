"""Choosing the default `--target-agreement` on dev data (issue 10), never on the scored rows.

Dev data: Rotten Tomatoes *train* and *validation* rows with recorded GPT-3.5 answers (10-shot; the only
splits outside the scored test files that have recorded answers). For each candidate target: accuracy against
gold beside the LLM alone, the share of rows sent, and the run's estimated agreement of its accepted rows
beside the true one. The default is the lowest target that keeps accuracy within 1 point of the LLM alone on
every dev set and seed (the issue's "never silently worse" bar), since a lower target sends fewer rows.

    python bench/choose_target.py [--targets 0.95,0.97,0.98,0.99] [--seeds 0,1] [--out FILE]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from _report import emit, machine
from autoannotator import LearningConfig, RunConfig, TrustConfig, annotate, baseline, evaluate, load_task
from paper import DATA, DATASETS, replay_file, review, rows_file
from trust import answers, figures

MR = DATASETS["rotten-tomatoes-mr"]
DEV = {
    "rotten-tomatoes-mr validation": replace(MR, data=DATA / "rotten-tomatoes-mr" / "validation.csv", split="validation"),
    "rotten-tomatoes-mr train": replace(MR, data=DATA / "rotten-tomatoes-mr" / "train.csv", split="train"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="0.95,0.97,0.98,0.99")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--sets", default=",".join(DEV))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    targets = [float(t) for t in args.targets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    lines = [
        "# Choosing the default target on dev data",
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
            data = rows_file(dataset, folder)
            replay = replay_file(dataset, dataset.review, folder)
            llm = answers(replay)
            base = RunConfig(input=data, task=load_task(dataset.task), review=review(replay, dataset.review))
            annotate(baseline(base, "llm"), out=folder / "llm.jsonl", run_dir=folder / "llm.run")
            only = evaluate(folder / "llm.jsonl", gold=data, run_dir=folder / "llm.run")
            assert only.gold is not None
            llm_accuracy = only.gold["all"].accuracy * only.coverage
            for target in targets:
                for seed in seeds:
                    config = base.model_copy(
                        update={
                            "learning": LearningConfig(seed=seed),
                            "trust": TrustConfig(seed=seed, target=target),
                        }
                    )
                    out, run_dir = folder / f"t{target}-s{seed}.jsonl", folder / f"t{target}-s{seed}.run"
                    f = figures(out, data, run_dir, llm, annotate(config, out=out, run_dir=run_dir))
                    est = "-" if f["estimate"] is None else f"{f['estimate']:.3f} [{f['low']:.3f}, {f['high']:.3f}]"
                    lines.append(
                        f"| {name} | {target} | {seed} | {f['accuracy']:.3f} | {llm_accuracy:.3f} | "
                        f"{f['accuracy'] - llm_accuracy:+.3f} | {f['llm_share']:.1%} | {est} | "
                        f"{f['true_agreement']:.3f} |"
                    )
                    print(lines[-1], flush=True)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
