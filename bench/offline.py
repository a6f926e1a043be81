"""Calibration labels without any LLM: measured trust offline, against the paper's gate that no one measures.

Per dataset and seed: the calibration file is drawn as in `bench/calibrated.py` (100 rows on offensive's 860,
else 200, at random from the scored file); the run has no reviewer and `--target-agreement` 0.7, 0.8 or 0.9 (the
accuracy the accepted rows must show, 95% sure: a user's choice, not tuned here). Scored on the other rows:
the share labelled (the rest are left to people), the true accuracy of the labelled rows beside the run's
estimate (95% interval) and the ECE of their `confidence`. Beside it, the same specialists with the paper's
gate (`--routing rule`, no calibration labels): the share it labels and how right those labels are.

    python bench/offline.py [--datasets a,b] [--seeds 0,1,2] [--out bench/results/offline.md]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _report import emit, machine
from autoannotator import RunConfig, TrustConfig, annotate, load_task
from calibrated import ROWS, draw, scored
from paper import rows_file
from trust import ALL, arguments, estimate_cell

TARGETS = (0.7, 0.8, 0.9)
"""The accuracies the accepted rows must show (`--target-agreement`): the CLI's example value and two lower."""


def bench(name: str, seeds: list[int], folder: Path) -> list[str]:
    dataset = ALL[name]
    data = rows_file(dataset, folder)
    specialists = () if dataset.specialists == ("auto",) else dataset.specialists
    task = load_task(dataset.task)
    lines = []
    for seed in seeds:
        calibration = folder / f"calibration-{seed}.csv"
        held = draw(data, ROWS.get(name, 200), seed, calibration)
        base = RunConfig(input=data, task=task, specialists=specialists, learning=None)
        gate = folder / f"g{seed}.jsonl"
        g = scored(
            gate,
            data,
            held,
            annotate(base.model_copy(update={"routing": "rule"}), out=gate, run_dir=folder / f"g{seed}.run"),
        )
        for target in TARGETS:
            trust = TrustConfig(seed=seed, target=target)
            measured = base.model_copy(update={"calibration": calibration, "trust": trust})
            out = folder / f"m{seed}-{target}.jsonl"
            f = scored(out, data, held, annotate(measured, out=out, run_dir=folder / f"m{seed}-{target}.run"))
            # no reviewer: the labelled rows are the accepted ones, the rest left to people
            lines.append(
                f"| {name} | {seed} | {len(held)} | {target} | {f['accepted']:.1%} | {f['true']:.3f} | "
                f"{estimate_cell(f)} | {f['ece']:.3f} | {g['accepted']:.1%} | {g['true']:.3f} |"
            )
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    args = arguments(__doc__)
    fixed = [n for n in args.datasets.split(",") if ALL[n].specialists != ("auto",)]  # emotion: no fixed set
    lines = [
        "# Calibration labels without an LLM",
        "",
        machine(["autoannotator", "numpy", "scikit-learn", "onnxruntime"]),
        "",
        "No reviewer; `--calibration` (rows drawn at random from the scored file) and `--target-agreement` "
        f"{', '.join(map(str, TARGETS))}; the fixed specialists of `bench/paper.py`, no learning (no "
        "reviewed rows to learn from). Every figure on the rows not in the calibration file. Gate: the same "
        "specialists, `--routing rule`, no calibration labels.",
        "",
        "| dataset | seed | calibration rows | target | labelled | accuracy of labelled | estimated [95% CI] | "
        "ECE | gate: labelled | gate: accuracy of labelled |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in fixed:
        with tempfile.TemporaryDirectory() as tmp:
            lines += bench(name, [int(s) for s in args.seeds.split(",")], Path(tmp))
    emit(lines, args.out)


if __name__ == "__main__":
    main()
