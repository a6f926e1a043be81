"""Measured trust (issue 10): the default run against labelling every row with the LLM, on four datasets.

Reviewer: recorded GPT-3.5 answers (zero-shot; 10-shot for Rotten Tomatoes, the only setting recorded there).
Default settings; TweetEval emotion with ``--specialists auto`` and a plain task file (bench/tasks/emotion.yaml),
as a user would run it. Per dataset and seed: accuracy against gold (unlabelled rows count as wrong) beside the
LLM alone, the share of rows sent to the LLM, dollars, the run's own estimate of how often its auto-accepted
rows agree with the reviewer (95% interval) beside the true agreement (the replay file's answers on those
rows), and the expected calibration error of the ``confidence`` column against the reviewer's answers.

    python bench/trust.py [--datasets a,b] [--seeds 0,1,2] [--reference llm|label-model] [--out FILE]

With ``--reference label-model`` (bench/results/label_model.md) two more columns: the label model's estimate of
the accepted rows' accuracy and their true accuracy (gold).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from _report import emit, machine
from active_learning import curve, share_at
from autoannotator import LearningConfig, RunConfig, TrustConfig, annotate, baseline, evaluate, load_task
from autoannotator.read.io import read_rows
from autoannotator.report.evaluation import reliability
from autoannotator.trust.acceptance import DEFAULT_TARGET
from paper import DATA, DATASETS, Dataset, replay_file, review, rows_file

HERE = Path(__file__).resolve().parent
EMOTION = Dataset(
    "tweeteval-emotion",
    DATA / "tweeteval-emotion" / "test.csv",
    str(HERE / "tasks" / "emotion.yaml"),
    ("auto",),
    DATA / "llm-replay" / "tweeteval-emotion-test.csv",
    "zero-shot; default",
    "12-shot; default",
    "zero-shot; default",
)
ALL = {**DATASETS, EMOTION.name: EMOTION}
ACTIVE = ("tweeteval-emotion", "tweeteval-sentiment")
"""The sets where the plain active-learning baseline is run (the issue's comparison)."""
ORDER = ("tweeteval-offensive", "tweeteval-sentiment", "rotten-tomatoes-mr", "tweeteval-emotion")


def answers(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as f:
        return {r["text"].strip(): r["llm_label"] for r in csv.DictReader(f)}


def figures(
    out: Path, gold: Path, run_dir: Path, llm: dict[str, str], result: Any, reference: str = "llm"
) -> dict[str, Any]:
    report = evaluate(out, gold=gold, run_dir=run_dir)
    assert report.gold is not None
    rows = list(read_rows(out))
    said = [llm.get(str(r["text"]).strip()) for r in rows]
    accepted = [r["source"] == "consensus" for r in rows]
    agree_accepted = [r["label"] == s for r, s, a in zip(rows, said, accepted, strict=True) if a]
    labelled = [i for i, r in enumerate(rows) if r["label"] and r["confidence"] is not None]
    truth = {str(r["text"]).strip(): r["label"] for r in read_rows(gold)}
    modelled = (result.trust or {}).get("label_model") or {}
    conf = np.array([float(rows[i]["confidence"]) for i in labelled])
    # `confidence` is the probability of agreeing with the run's reference: the reviewer, or (label model) truth
    used = reference != "llm" and bool(modelled)  # else (no plausible fit) the reviewer was the reference
    right_of = (lambda i: truth.get(str(rows[i]["text"]).strip())) if used else said.__getitem__
    correct = np.array([rows[i]["label"] == right_of(i) for i in labelled])
    estimate = (result.trust or {}).get("overall", {})
    right = [r["label"] == truth.get(str(r["text"]).strip()) for r, a in zip(rows, accepted, strict=True) if a]
    return {
        "model": modelled.get("agreement"),
        "model_low": modelled.get("low"),
        "model_high": modelled.get("high"),
        "accepted_accuracy": float(np.mean(right)) if right else float("nan"),
        "accuracy": (report.gold["all"].accuracy or 0.0) * report.coverage,
        "llm_share": float(np.mean([r.get("review") is not None for r in rows])),  # audited rows included
        "usd": report.cost_usd,
        "accepted": float(np.mean(accepted)),
        "true_agreement": float(np.mean(agree_accepted)) if agree_accepted else float("nan"),
        "estimate": estimate.get("agreement"),
        "low": estimate.get("low"),
        "high": estimate.get("high"),
        "audited": estimate.get("audited", 0),
        "ece": reliability(conf, correct).ece if len(conf) else float("nan"),
    }


def estimate_cell(f: dict[str, Any]) -> str:
    """The run's estimate with its interval, as a table cell."""
    return "-" if f["estimate"] is None else f"{f['estimate']:.3f} [{f['low']:.3f}, {f['high']:.3f}]"


def active_baseline(
    data: Path, llm: dict[str, str], labels: Sequence[str], accuracy: float, seeds: list[int], name: str
) -> str:
    """The plain active-learning baseline's share sent to reach `accuracy` (our runs' mean), per seed."""
    with data.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = [r["text"] for r in rows]
    said = [llm.get(t.strip()) if llm.get(t.strip()) in labels else None for t in texts]
    shares = [share_at(curve(texts, said, [r["label"] for r in rows], seed=s), accuracy) for s in seeds]
    shown = ", ".join("never" if s is None else f"{s:.0%}" for s in shares)
    return f"| {name} | active learning | {accuracy:.3f} (ours, reached at) | | | {shown} | | | | | |"


def model_cells(f: dict[str, Any]) -> str:
    """The label model's estimate of the accepted rows' accuracy and their true accuracy, as two cells."""
    if f["model"] is None:
        return f" - | {f['accepted_accuracy']:.3f} |"
    return f" {f['model']:.3f} [{f['model_low']:.3f}, {f['model_high']:.3f}] | {f['accepted_accuracy']:.3f} |"


def bench(
    dataset: Dataset,
    seeds: list[int],
    folder: Path,
    reference: Literal["llm", "label-model"] = "llm",
    added: tuple[str, ...] = (),
) -> list[str]:
    task = load_task(dataset.task)
    data = rows_file(dataset, folder)
    replay = replay_file(dataset, dataset.review, folder)
    llm = answers(replay)
    reviewer = review(replay, dataset.review)
    specialists: tuple[str, ...] = dataset.specialists if dataset.specialists == ("auto",) else ()
    if added:
        specialists = (*(specialists or tuple(task.specialists)), *added)
    base = RunConfig(input=data, task=task, specialists=specialists, review=reviewer)
    only = baseline(base, "llm")
    annotate(only, out=folder / "llm.jsonl", run_dir=folder / "llm.run")
    llm_report = evaluate(folder / "llm.jsonl", gold=data, run_dir=folder / "llm.run")
    assert llm_report.gold is not None
    llm_accuracy = (llm_report.gold["all"].accuracy or 0.0) * llm_report.coverage
    lines = []
    runs = []
    for seed in seeds:
        trust = TrustConfig(seed=seed, reference=reference)
        config = base.model_copy(update={"learning": LearningConfig(seed=seed), "trust": trust})
        out, run_dir = folder / f"s{seed}.jsonl", folder / f"s{seed}.run"
        result = annotate(config, out=out, run_dir=run_dir)
        f = figures(out, data, run_dir, llm, result, reference)
        runs.append(f)
        est = estimate_cell(f)
        lines.append(
            f"| {dataset.name} | {seed} | {f['accuracy']:.3f} | {llm_accuracy:.3f} | "
            f"{f['accuracy'] - llm_accuracy:+.3f} | {f['llm_share']:.1%} | ${f['usd']:.4f} / "
            f"${llm_report.cost_usd:.4f} | {f['accepted']:.1%} | {est} ({f['audited']}) | "
            f"{f['true_agreement']:.3f} | {f['ece']:.3f} |" + (model_cells(f) if reference != "llm" else "")
        )
    mean = {k: float(np.nanmean([r[k] for r in runs])) for k in ("accuracy", "llm_share", "ece")}
    if dataset.name in ACTIVE:
        lines.append(active_baseline(data, llm, task.label_names, mean["accuracy"], seeds, dataset.name))
    spread = {k: float(np.nanstd([r[k] for r in runs])) for k in ("accuracy", "llm_share")}
    lines.append(
        f"| {dataset.name} | mean ± sd | {mean['accuracy']:.3f} ± {spread['accuracy']:.3f} | {llm_accuracy:.3f} | "
        f"{mean['accuracy'] - llm_accuracy:+.3f} | {mean['llm_share']:.1%} ± {spread['llm_share']:.1%} | | | | | "
        f"{mean['ece']:.3f} |"
    )
    return lines


def arguments(doc: str) -> argparse.Namespace:
    """--datasets (comma-separated, default all four), --seeds (default 0,1,2) and --out of a trust benchmark."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(ORDER))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--reference", choices=("llm", "label-model"), default="llm")
    parser.add_argument("--add", default="", help="specialists added to every set's (comma-separated)")
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__)
    seeds = [int(s) for s in args.seeds.split(",")]
    modelled = args.reference == "label-model"
    added = tuple(n for n in args.add.split(",") if n)
    title = "the label-model reference" if modelled else "the default run"
    title += f" with {', '.join(added)} added," if added else ""
    lines = [
        f"# Measured trust: {title} against the LLM alone",
        "",
        machine(["autoannotator", "numpy", "scipy", "scikit-learn", "onnxruntime"]),
        "",
        "Reviewer: replayed GPT-3.5 (zero-shot; 10-shot on Rotten Tomatoes). Default settings (the whole "
        f"output agrees with the reviewer on at least {DEFAULT_TARGET:.0%} of rows, 95% sure; audit 20% of the "
        "first 1,000 rows, then 5%). Emotion: `--specialists auto`, task file bench/tasks/emotion.yaml. "
        "Active learning: a MiniLM head trained on the LLM's answers, 100 random rows then the least "
        "confident 5% per round to the LLM; the share it needs to reach our mean accuracy, per seed.",
        "",
        "| dataset | seed | accuracy | LLM alone | difference | sent to LLM | USD (run / LLM alone) | "
        "accepted without review | estimated agreement [95% CI] (audited) | true agreement | ECE |"
        + (" label model's accuracy estimate [95% CI] | true accuracy (accepted) |" if modelled else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if modelled else ""),
    ]
    if modelled:
        lines[4] += (
            " Reference: `--reference label-model` (Dawid-Skene over the reviewer's audited answers and the fixed "
            "specialists; the accepted rows at least as accurate as it estimates the reviewer)."
        )
    if added:
        lines[4] += f" Added to every set's specialists: {', '.join(added)}."
    for name in args.datasets.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            lines += bench(ALL[name], seeds, Path(tmp), args.reference, added)
            print("\n".join(lines[-len(seeds) - 1 :]), flush=True)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
