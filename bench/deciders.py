"""How good a decider the run can train: the frozen MiniLM head (`minilm`, today's trainable) against the
fine-tuned MiniLM (`minilm-finetune`: mean pooling, warm-started head, early stopping) and a larger frozen
encoder (`mpnet`: all-mpnet-base-v2 from its PyPI parts, with the same logistic head), each trained on the
recorded GPT-3.5 answers of N random rows and scored on all the other rows: agreement with GPT-3.5 (what
measured trust needs: a decider's disagreement rate bounds the share it can take) and accuracy against gold,
with the training and prediction seconds. A plain baseline beside them: the majority answer of the N rows.

Nothing is tuned on the scored rows: the recipe's settings are fixed in `FineTunedClassifier` before this
ran, and the early stopping holds out a slice of the N training rows.

    .venv/bin/python bench/deciders.py --out bench/results/deciders.md [--rows 800] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from autoannotator.read.task import load_task
from autoannotator.specialists import FineTunedClassifier, build

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Set:
    name: str
    task: str
    replay: Path
    setting: str
    split: str | None = None


EMOTION_REPLAY = DATA / "llm-replay" / "tweeteval-emotion-test.csv"
SETS = (
    Set("tweeteval-emotion", str(HERE / "tasks" / "emotion.yaml"), EMOTION_REPLAY, "zero-shot; default"),
    Set("rotten-tomatoes-mr", "sentiment-2", DATA / "llm-replay" / "rotten-tomatoes-mr.csv", "10-shot", "test"),
)  # fmt: skip


def rows(dataset: Set) -> tuple[list[str], list[str], list[str]]:
    """(texts, GPT-3.5 answers, gold) of one set, each text once, answers that name a task label only."""
    labels = set(load_task(dataset.task).label_names)
    seen: dict[str, tuple[str, str]] = {}
    with dataset.replay.open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            fits = r["model"] == "gpt-3.5-turbo" and r["setting"].startswith(dataset.setting)
            if fits and (dataset.split is None or r["split"] == dataset.split) and r["llm_label"] in labels:
                seen.setdefault(r["text"].strip(), (r["llm_label"], r["gold_label"]))
    texts = list(seen)
    return texts, [seen[t][0] for t in texts], [seen[t][1] for t in texts]


def score(predicted: list[str], llm: list[str], gold: list[str]) -> tuple[float, float]:
    """(agreement with the LLM, accuracy against gold) of `predicted`."""
    p, a, g = np.array(predicted), np.array(llm), np.array(gold)
    return float((p == a).mean()), float((p == g).mean())


def one(dataset: Set, n: int, seed: int) -> list[dict[str, Any]]:
    texts, llm, gold = rows(dataset)
    order = np.random.default_rng(seed).permutation(len(texts))
    train, rest = order[:n], order[n:]
    train_texts, train_labels = [texts[i] for i in train], [llm[i] for i in train]
    rest_texts = [texts[i] for i in rest]
    rest_llm, rest_gold = [llm[i] for i in rest], [gold[i] for i in rest]
    task = load_task(dataset.task)
    found = []
    common = Counter(train_labels).most_common(1)[0][0]
    agree, accuracy = score([common] * len(rest), rest_llm, rest_gold)
    found.append({"decider": "majority answer (plain baseline)", "agreement": agree, "accuracy": accuracy,
                  "fit_s": 0.0, "predict_s": 0.0})  # fmt: skip
    deciders: dict[str, Any] = {
        "minilm (frozen ONNX MiniLM + logistic head)": build("minilm", task).fresh((), seed),  # type: ignore[attr-defined]
        "minilm-finetune (all weights, CPU)": FineTunedClassifier(seed=seed, device="cpu"),
        "mpnet (frozen all-mpnet-base-v2 + logistic head)": build("mpnet", task).fresh((), seed),  # type: ignore[attr-defined]
    }
    for name, decider in deciders.items():
        tick = time.perf_counter()
        decider.fit(train_texts, train_labels)
        fitted = time.perf_counter() - tick
        tick = time.perf_counter()
        probs = decider.predict(rest_texts)
        predicted = [decider.card.native_labels[j] for j in probs.argmax(axis=1)]
        agree, accuracy = score(predicted, rest_llm, rest_gold)
        found.append({"decider": name, "agreement": agree, "accuracy": accuracy, "fit_s": fitted,
                      "predict_s": time.perf_counter() - tick})  # fmt: skip
    for entry in found:
        entry.update(
            set=dataset.name, seed=seed, scored=len(rest), llm_accuracy=score(rest_llm, rest_llm, rest_gold)[1]
        )
    return found


def table(results: list[dict[str, Any]]) -> list[str]:
    """One line per (set, decider), in the order run: mean ± sd over seeds, seconds as means."""
    lines = [
        "| set (GPT-3.5 accuracy on the scored rows) | decider | agreement with GPT-3.5 | accuracy | fit s "
        "| predict s |",
        "|---|---|---|---|---|---|",
    ]
    for key in dict.fromkeys((r["set"], r["decider"]) for r in results):
        chosen = [r for r in results if (r["set"], r["decider"]) == key]
        mean = {f: float(np.mean([r[f] for r in chosen])) for f in ("agreement", "accuracy", "fit_s", "predict_s")}
        sd = {f: float(np.std([r[f] for r in chosen])) for f in ("agreement", "accuracy")}
        llm = float(np.mean([r["llm_accuracy"] for r in chosen]))
        lines.append(
            f"| {key[0]} ({llm:.3f}) | {key[1]} | {mean['agreement']:.3f} ± {sd['agreement']:.3f} | "
            f"{mean['accuracy']:.3f} ± {sd['accuracy']:.3f} | {mean['fit_s']:.0f} | {mean['predict_s']:.0f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=800)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    results = [r for dataset in SETS for seed in seeds for r in one(dataset, args.rows, seed)]
    import torch

    lines = [
        "# Deciders the run can train: frozen and fine-tuned MiniLM, frozen MPNet",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.node()}, {platform.machine()}, Python "
        f"{platform.python_version()}, torch {torch.__version__} (CPU, 2 cores); "
        f"{time.perf_counter() - started:.0f} s.",
        "",
        f"Each decider is trained on the recorded GPT-3.5 answers of {args.rows} random rows and scored on all "
        f"the other rows; seeds {args.seeds} (mean ± sd over seeds). Agreement with GPT-3.5 is what measured "
        "trust needs: at a whole-output target t, a decider that disagrees with the LLM on a share mu of rows "
        "can take at most about (1 - t) / mu of them.",
        "",
        *table(results),
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
