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
from typing import Any, cast

import numpy as np

from autoannotator.read.task import Task, load_task
from autoannotator.specialists import FineTunedClassifier, build
from autoannotator.trust.acceptance import accept_threshold

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Set:
    name: str
    task: str
    replay: Path
    setting: str
    split: str | None = None
    train: int | None = None  # rows trained on (default: --rows)
    scored: int | None = None  # at most this many other rows scored (a seeded draw)


EMOTION_REPLAY = DATA / "llm-replay" / "tweeteval-emotion-test.csv"
SETS = (
    Set("tweeteval-emotion", str(HERE / "tasks" / "emotion.yaml"), EMOTION_REPLAY, "zero-shot; default"),
    Set("rotten-tomatoes-mr", "sentiment-2", DATA / "llm-replay" / "rotten-tomatoes-mr.csv", "10-shot", "test"),
    Set("tweeteval-sentiment", "sentiment-3", DATA / "llm-replay" / "tweeteval-sentiment-test.csv",
        "zero-shot; default", scored=3000),
    Set("tweeteval-offensive", "toxicity", DATA / "llm-replay" / "tweeteval-offensive-test.csv",
        "zero-shot; default", train=400),
)  # fmt: skip
TARGETS = (0.97, 0.95)
"""Whole-output targets at which the ceiling and the audited share are computed (0.97 is the default)."""
AUDITS = (200, 750)
"""Audited rows: a 1,000-row run's early audit (20%), and a 12,284-row run's (200 + 5% of the rest)."""
FIELDS = ("ceiling", "accuracy", "audit", "truth")
LABELLED = 200
"""People's labels in the simulated truth-reference test (issue 26's calibrated bars)."""
CANDIDATES = 5
"""The run splits its risk between about this many candidate deciders (Bonferroni)."""
TESTS = {
    "labelled": (LABELLED, CANDIDATES),
    "alone": (LABELLED, 1),
    "split": (LABELLED * 2 // 3, 1),
}
"""Against people's labels: today's test (risk split), the same decider tested alone at the whole risk (as if it
were chosen without the labels), and tested alone on two thirds of them (the other third having chosen it)."""


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


NAMES = {
    "minilm": "minilm (frozen ONNX MiniLM + logistic head)",
    "minilm-finetune": "minilm-finetune (all weights, CPU)",
    "mpnet": "mpnet (frozen all-mpnet-base-v2 + logistic head)",
}


def fresh(key: str, task: Task, seed: int) -> Any:
    """An untrained decider of the kind `key` (one of `NAMES`)."""
    if key == "minilm-finetune":
        return FineTunedClassifier(seed=seed, device="cpu")
    return cast(Any, build(key, task)).fresh((), seed)


def ceiling(confidence: np.ndarray, agree: np.ndarray, target: float) -> int:
    """The most rows a router that knew every row's agreement could accept, most confident first, with the
    whole output (the other rows take the LLM's answer) agreeing with the LLM on a `target` share of rows."""
    order = np.argsort(-confidence, kind="stable")
    wrong = np.cumsum(~agree[order])
    return int(np.searchsorted(wrong, (1.0 - target) * len(agree), side="right"))


def audited(confidence: np.ndarray, agree: np.ndarray, target: float, n: int, seed: int) -> float:
    """The mean share of rows today's test accepts (`accept_threshold` on the whole output, its risk split
    between `CANDIDATES` deciders) on a uniform audit of `n` rows, over 20 draws."""
    rng = np.random.default_rng(seed)
    shares = []
    for _ in range(20):
        drawn = rng.choice(len(agree), size=min(n, len(agree)), replace=False)
        t = accept_threshold(confidence[drawn], agree[drawn], target=target, delta=0.05 / CANDIDATES, overall=True)
        shares.append(float((confidence >= t).mean()))
    return float(np.mean(shares))


def limits(
    predicted: list[str], confidence: np.ndarray, llm: list[str], gold: list[str], seed: int
) -> dict[str, float]:
    """Per target: the ceiling share (and the whole output's accuracy there), and the audited shares."""
    p, a, g = np.array(predicted), np.array(llm), np.array(gold)
    agree = p == a
    found: dict[str, float] = {}
    for target in TARGETS:
        top = np.argsort(-confidence, kind="stable")[: ceiling(confidence, agree, target)]
        output = a.copy()
        output[top] = p[top]
        found[f"ceiling {target}"] = len(top) / len(agree)
        found[f"accuracy {target}"] = float((output == g).mean()) - float((a == g).mean())
        for n in AUDITS:
            found[f"audit {n} {target}"] = audited(confidence, agree, target, n, seed)
    return found | against_truth(p, confidence, a, g, seed)


def against_truth(
    predicted: np.ndarray, confidence: np.ndarray, llm: np.ndarray, gold: np.ndarray, seed: int
) -> dict[str, float]:
    """With people's labels as the reference (the run's rule: the accepted rows at least as accurate as the
    reviewer measured): the largest share of most confident rows whose accuracy is at least the LLM's (the
    ceiling), the output's accuracy there minus the LLM's, and the mean share today's test accepts on `LABELLED`
    labelled rows (20 draws, its risk split between `CANDIDATES`)."""
    right = predicted == gold
    order = np.argsort(-confidence, kind="stable")
    reviewer = float((llm == gold).mean())
    running = np.cumsum(right[order]) / np.arange(1, len(right) + 1)
    fits = np.nonzero(running >= reviewer)[0]
    top = order[: int(fits[-1]) + 1 if len(fits) else 0]
    output = llm.copy()
    output[top] = predicted[top]
    found = {"truth ceiling": len(top) / len(right), "truth accuracy": float((output == gold).mean()) - reviewer}
    for name, (n, split) in TESTS.items():
        rng, shares = np.random.default_rng(seed), []
        for _ in range(20):
            drawn = rng.choice(len(right), size=n, replace=False)
            target = float((llm[drawn] == gold[drawn]).mean())
            t = accept_threshold(confidence[drawn], right[drawn], target=target, delta=0.05 / split)
            shares.append(float((confidence >= t).mean()))
        found[f"truth {name}"] = float(np.mean(shares))
    return found


def one(dataset: Set, n: int, seed: int, names: tuple[str, ...]) -> list[dict[str, Any]]:
    texts, llm, gold = rows(dataset)
    n = dataset.train or n
    order = np.random.default_rng(seed).permutation(len(texts))
    train, rest = order[:n], order[n:][: dataset.scored]
    train_texts, train_labels = [texts[i] for i in train], [llm[i] for i in train]
    rest_texts = [texts[i] for i in rest]
    rest_llm, rest_gold = [llm[i] for i in rest], [gold[i] for i in rest]
    task = load_task(dataset.task)
    found = []
    common = Counter(train_labels).most_common(1)[0][0]
    agree, accuracy = score([common] * len(rest), rest_llm, rest_gold)
    found.append({"decider": "majority answer (plain baseline)", "agreement": agree, "accuracy": accuracy,
                  "fit_s": 0.0, "predict_s": 0.0})  # fmt: skip
    for key in names:
        name, decider = NAMES[key], fresh(key, task, seed)
        tick = time.perf_counter()
        decider.fit(train_texts, train_labels)
        fitted = time.perf_counter() - tick
        tick = time.perf_counter()
        probs = decider.predict(rest_texts)
        predicted = [decider.card.native_labels[j] for j in probs.argmax(axis=1)]
        agree, accuracy = score(predicted, rest_llm, rest_gold)
        found.append({"decider": name, "agreement": agree, "accuracy": accuracy, "fit_s": fitted,
                      "predict_s": time.perf_counter() - tick,
                      **limits(predicted, probs.max(axis=1), rest_llm, rest_gold, seed)})  # fmt: skip
    for entry in found:
        entry.update(
            set=dataset.name, seed=seed, scored=len(rest), llm_accuracy=score(rest_llm, rest_llm, rest_gold)[1]
        )
    return found


def shares(results: list[dict[str, Any]]) -> list[str]:
    """Per (set, decider) with a confidence: the share sent to the LLM at each target, by a router that knew
    every row (the ceiling) and by today's test on 200 and 750 audited rows, means over seeds."""
    head = " | ".join(
        f"sent at {t}: ceiling / audit {AUDITS[0]} / audit {AUDITS[1]} | accuracy at ceiling" for t in TARGETS
    )
    lines = [f"| set | decider | {head} |", "|---|---|" + "---|---|" * len(TARGETS)]
    for key in dict.fromkeys((r["set"], r["decider"]) for r in results if "ceiling 0.97" in r):
        chosen = [r for r in results if (r["set"], r["decider"]) == key]
        mean = {f: float(np.mean([r[f] for r in chosen])) for f in chosen[0] if f.split(" ")[0] in FIELDS}
        cells = [
            f"{1 - mean[f'ceiling {t}']:.0%} / {1 - mean[f'audit {AUDITS[0]} {t}']:.0%} / "
            f"{1 - mean[f'audit {AUDITS[1]} {t}']:.0%} | {mean[f'accuracy {t}']:+.3f}"
            for t in TARGETS
        ]
        lines.append(f"| {key[0]} | {key[1].split(' ')[0]} | {' | '.join(cells)} |")
    lines += [
        "",
        f"Against people's labels (the run's rule with `--calibration`: the accepted rows at least as accurate "
        f"as the LLM measured on the labelled rows): sent by a router that knew every row (ceiling) and by "
        f"today's test on {LABELLED} labelled rows (risk split between {CANDIDATES}); by the same decider "
        f"tested alone at the whole risk (*alone*: as if chosen without the labels) and alone on "
        f"{TESTS['split'][0]} of them (*split*: the other third chose it); the output's accuracy at the ceiling "
        "minus GPT-3.5's.",
        "",
        f"| set | decider | sent: ceiling / {LABELLED} labelled rows / alone / split | accuracy at ceiling |",
        "|---|---|---|---|",
    ]
    for key in dict.fromkeys((r["set"], r["decider"]) for r in results if "truth ceiling" in r):
        chosen = [r for r in results if (r["set"], r["decider"]) == key]
        mean = {
            f: float(np.mean([r[f] for r in chosen]))
            for f in ("truth ceiling", "truth accuracy", *(f"truth {name}" for name in TESTS))
        }
        sent = " / ".join(f"{1 - mean[f]:.0%}" for f in ("truth ceiling", *(f"truth {name}" for name in TESTS)))
        lines.append(f"| {key[0]} | {key[1].split(' ')[0]} | {sent} | {mean['truth accuracy']:+.3f} |")
    return lines


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
    parser.add_argument("--sets", default=",".join(s.name for s in SETS))
    parser.add_argument("--deciders", default=",".join(NAMES))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    names = tuple(args.deciders.split(","))
    started = time.perf_counter()
    chosen = [s for s in SETS if s.name in args.sets.split(",")]
    results = [r for dataset in chosen for seed in seeds for r in one(dataset, args.rows, seed, names)]
    import torch

    lines = [
        "# Deciders the run can train: frozen and fine-tuned MiniLM, frozen MPNet",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.node()}, {platform.machine()}, Python "
        f"{platform.python_version()}, torch {torch.__version__} (CPU, 2 cores); "
        f"{time.perf_counter() - started:.0f} s.",
        "",
        f"Each decider is trained on the recorded GPT-3.5 answers of {args.rows} random rows (offensive: 400) and "
        f"scored on the other rows (sentiment: 3,000 of them); seeds {args.seeds} (mean ± sd over seeds). "
        "Agreement with GPT-3.5 is what measured trust needs: at a whole-output target t, a decider that "
        "disagrees with the LLM on a share mu of rows can take at most about (1 - t) / mu of them.",
        "",
        *table(results),
        "",
        "## The share a decider lets the run send, with perfect and with audited evidence",
        "",
        "Sent = 1 - the share of scored rows accepted, most confident first. *Ceiling*: a router that knew every "
        "row's agreement with GPT-3.5 accepts the most confident rows while the whole output (the other rows "
        "take GPT-3.5's answer) agrees with GPT-3.5 on the target share; no test can send less with this "
        "decider. *Audit n*: today's acceptance test (`accept_threshold`, whole output, its 5% risk split "
        f"between {CANDIDATES} candidates) on n uniformly audited rows (20 draws): 200 is a 1,000-row run's "
        "early audit, 750 a 12,284-row run's. *Accuracy at ceiling*: the ceiling output's accuracy against gold "
        "minus GPT-3.5's.",
        "",
        *shares(results),
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
