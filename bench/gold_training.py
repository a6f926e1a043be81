"""Would people's labels help as training data? A frozen MiniLM head (`minilm`) trained on the recorded GPT-3.5
answers of N rows, on those plus the gold labels of M other rows (the people's labels of `ask-people-first`),
and on the M gold labels alone; accuracy against gold on (up to 3,000 of) the remaining rows, 3 seeds. Nothing
is tuned here: the head's settings are the run's.

    .venv/bin/python bench/gold_training.py [--out bench/results/gold_training.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from _report import emit, machine
from autoannotator.read.task import load_task
from deciders import SETS, fresh, rows

SIZES = {"tweeteval-offensive": (300, 100), "tweeteval-sentiment": (800, 200), "tweeteval-emotion": (800, 200)}
"""(rows with the LLM's answers, rows with gold labels) per set: the people's rows of bench/people_first.py."""
KINDS = ("LLM answers", "LLM answers + gold", "gold only")


def accuracies(name: str, seed: int) -> dict[str, float]:
    """Accuracy against gold of the head trained each way, on the rows neither training saw."""
    dataset = next(s for s in SETS if s.name == name)
    texts, llm, gold = rows(dataset)
    task = load_task(dataset.task)
    n_llm, n_gold = SIZES[name]
    order = np.random.default_rng(seed).permutation(len(texts))
    answered, labelled, rest = order[:n_llm], order[n_llm : n_llm + n_gold], order[n_llm + n_gold :][:3000]
    sets = {
        KINDS[0]: [(texts[i], llm[i]) for i in answered],
        KINDS[1]: [(texts[i], llm[i]) for i in answered] + [(texts[i], gold[i]) for i in labelled],
        KINDS[2]: [(texts[i], gold[i]) for i in labelled],
    }
    truth = np.array([gold[i] for i in rest])
    found = {}
    for kind, training in sets.items():
        head = fresh("minilm", task, seed).fit([t for t, _ in training], [label for _, label in training])
        predicted = np.array(head.card.native_labels)[head.predict([texts[i] for i in rest]).argmax(axis=1)]
        found[kind] = float((predicted == truth).mean())
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    lines = [
        "# People's labels as training data for a head (a measurement, not a run)",
        "",
        machine(["autoannotator", "numpy", "scikit-learn", "onnxruntime"]),
        "",
        "| set (LLM answers + gold rows) | " + " | ".join(f"trained on {k}" for k in KINDS) + " |",
        "|---|---|---|---|",
    ]
    for name, (n_llm, n_gold) in SIZES.items():
        runs = [accuracies(name, seed) for seed in (0, 1, 2)]
        cells = [f"{np.mean([r[k] for r in runs]):.3f} ± {np.std([r[k] for r in runs]):.3f}" for k in KINDS]
        lines.append(f"| {name} ({n_llm} + {n_gold}) | " + " | ".join(cells) + " |")
    lines += ["", f"Accuracy against gold, mean ± sd over seeds 0-2; {time.perf_counter() - started:.0f} s."]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
