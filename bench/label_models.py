"""Which label model? Ours beside crowd-kit's and cleanlab's, on the rows a run fits it on (issue 27).

A run with `--reference label-model` fits a label model on its audited rows: the reviewer's answer (replayed
GPT-3.5) and the fixed specialists' votes, no gold. This bench draws those rows as a run does (20% of the first
1,000 rows, 5% of the rest; 3 seeds) and fits, on the same sources:

- the majority vote (the plain baseline);
- ours (`autoannotator.trust.labelmodel.reference`: Dawid-Skene, dependent sources merged), and the same EM
  without merging;
- crowd-kit's Dawid-Skene, one-coin Dawid-Skene, MACE and GLAD;
- cleanlab's CROWDLAB, with the out-of-sample probabilities of a logistic head on the packaged MiniLM
  embeddings, cross-fitted (5 folds) on the majority labels of the same rows (what CROWDLAB asks for).

For each: the accuracy of its labels against gold; its estimate of the LLM's accuracy beside the truth; the
mean absolute error of its estimate of every source's accuracy (a source's estimated accuracy: the mean
posterior probability of what it said, or for CROWDLAB its agreement with the consensus). Two synthetic sets
show dependence: a source and its exact copy, and three sources that share their errors.

    pip install -e .[labelmodels]
    python bench/label_models.py [--datasets a,b] [--seeds 0,1,2] [--out bench/results/label_models.md]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from cleanlab.multiannotator import get_label_quality_multiannotator
from crowdkit.aggregation import GLAD, MACE, DawidSkene, OneCoinDawidSkene
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_predict

from _report import emit, machine
from autoannotator import RunConfig, annotate, load_task
from autoannotator.read.io import read_rows
from autoannotator.specialists.features import shared_minilm
from autoannotator.trust import labelmodel
from paper import DATA, DATASETS, Dataset

Fit = Callable[[np.ndarray, int, list[str]], tuple[np.ndarray, np.ndarray]]
"""(sources (n, s) with -1 for no answer, k, texts) -> (labels (n,), each source's estimated accuracy (s,))."""
RT_DEV = Dataset(
    "rotten-tomatoes-mr (validation: dev)",
    DATA / "rotten-tomatoes-mr" / "validation.csv",
    "sentiment-2",
    DATASETS["rotten-tomatoes-mr"].specialists,
    DATASETS["rotten-tomatoes-mr"].replay,
    None,
    "10-shot",
    "10-shot",
    split="validation",
)
SETS = {d.name: d for d in (RT_DEV, *DATASETS.values())}


def posterior_estimates(sources: np.ndarray, posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels (n,), estimated accuracy of each source (s,)): argmax, and the mean posterior of what it said."""
    said = [(sources[:, s] >= 0) for s in range(sources.shape[1])]
    estimates = [posteriors[m, sources[m, s]].mean() if m.any() else np.nan for s, m in enumerate(said)]
    return posteriors.argmax(axis=1), np.array(estimates)


def majority(sources: np.ndarray, k: int, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    counts = np.stack([(sources == c).sum(axis=1) for c in range(k)], axis=1).astype(float)
    return posterior_estimates(sources, counts / np.maximum(counts.sum(axis=1, keepdims=True), 1))


def ours(sources: np.ndarray, k: int, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    fitted = labelmodel.reference(sources[:, 0], sources[:, 1:], [True] * (sources.shape[1] - 1), k)
    return posterior_estimates(sources, fitted.posteriors)


def unmerged(sources: np.ndarray, k: int, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return posterior_estimates(sources, labelmodel.fit(sources, k).posteriors)


def crowdkit(model: Callable[[], object]) -> Fit:
    """A crowd-kit aggregator's probabilities over the sources, as long-format (task, worker, label) rows."""

    def fit(sources: np.ndarray, k: int, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.nonzero(sources >= 0)
        frame = pd.DataFrame({"task": rows, "worker": cols, "label": sources[rows, cols]})
        probs = model().fit_predict_proba(frame)  # type: ignore[attr-defined]
        probs = probs.reindex(index=range(len(sources)), columns=range(k)).fillna(0.0).to_numpy()
        return posterior_estimates(sources, probs)

    return fit


def crowdlab(sources: np.ndarray, k: int, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """CROWDLAB over the sources, with a MiniLM head cross-fitted on the majority labels."""
    target, _ = majority(sources, k, texts)
    embedded = np.asarray(shared_minilm().transform(texts))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        head = LogisticRegression(max_iter=1000)
        folds = KFold(5, shuffle=True, random_state=0)
        pred = cross_val_predict(head, embedded, target, cv=folds, method="predict_proba")
        probs = np.zeros((len(texts), k))
        probs[:, np.unique(target)] = pred
        labels = pd.DataFrame(np.where(sources >= 0, sources, np.nan).astype(float))
        found = get_label_quality_multiannotator(labels, probs, verbose=False)
    consensus = found["label_quality"]["consensus_label"].to_numpy()
    agreement = found["annotator_stats"]["agreement_with_consensus"].reindex(range(sources.shape[1])).to_numpy()
    return consensus, agreement


MODELS: dict[str, Fit] = {
    "majority vote (plain baseline)": majority,
    "ours: Dawid-Skene, dependent sources merged (the run's)": ours,
    "Dawid-Skene, no merging (our EM)": unmerged,
    "crowd-kit Dawid-Skene": crowdkit(lambda: DawidSkene(n_iter=100)),
    "crowd-kit one-coin Dawid-Skene": crowdkit(lambda: OneCoinDawidSkene(n_iter=100)),
    "crowd-kit MACE": crowdkit(lambda: MACE(random_state=0)),
    "crowd-kit GLAD": crowdkit(lambda: GLAD(n_iter=100)),
    "cleanlab CROWDLAB (MiniLM head)": crowdlab,
}


def truths(sources: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """(s,) each source's true accuracy on the rows it answered."""
    return np.array([(sources[m, s] == gold[m]).mean() for s, m in enumerate((sources >= 0).T)])


def load(dataset: Dataset, folder: Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(source names, texts, sources (n, s): the LLM's answers then the fixed specialists', gold (n,))."""
    labels = list(load_task(dataset.task).label_names)
    out = folder / "votes.jsonl"
    annotate(RunConfig(input=dataset.data, task=load_task(dataset.task), specialists=dataset.specialists),
             out=out, run_dir=folder / "run")  # fmt: skip
    rows = list(read_rows(out))
    with dataset.data.open(encoding="utf-8", newline="") as f:
        gold = np.array([labels.index(r["label"]) for r in csv.DictReader(f)])
    with dataset.replay.open(encoding="utf-8", newline="") as f:
        llm = {
            r["text"].strip(): r["llm_label"]
            for r in csv.DictReader(f)
            if r["model"] == "gpt-3.5-turbo"
            and r["setting"].startswith(dataset.review)
            and (dataset.split is None or r["split"] == dataset.split)
        }
    names = list(rows[0]["votes"])
    index = {label: i for i, label in enumerate(labels)}
    sources = np.array(
        [
            [index.get(llm.get(r["text"].strip(), ""), -1)]
            + [index.get(r["votes"][n]["label"] or "", -1) for n in names]
            for r in rows
        ]
    )
    return ["GPT-3.5", *names], [r["text"] for r in rows], sources, gold


def audited(n: int, seed: int) -> np.ndarray:
    """(n,) the rows a run audits: 20% of the first 1,000, 5% of the rest (uniform, seeded)."""
    share = np.where(np.arange(n) < 1000, 0.2, 0.05)
    return np.random.default_rng(seed).random(n) < share


def scored(sources: np.ndarray, gold: np.ndarray, texts: list[str], k: int) -> dict[str, list[float]]:
    """Per model: [accuracy, estimated LLM accuracy, mean absolute error of the sources' estimates, seconds]."""
    true = truths(sources, gold)
    result = {}
    for name, fit in MODELS.items():
        tick = time.perf_counter()
        labels, estimated = fit(sources, k, texts)
        result[name] = [
            float((labels == gold).mean()),
            float(estimated[0]),
            float(np.nanmean(np.abs(estimated - true))),
            time.perf_counter() - tick,
        ]
    return result


def real(dataset: Dataset, seeds: list[int], folder: Path) -> list[str]:
    names, texts, sources, gold = load(dataset, folder)
    k = len(load_task(dataset.task).label_names)
    runs, llm_true, sizes = [], [], []
    for seed in seeds:
        rows = audited(len(gold), seed) & (sources >= 0).any(axis=1)
        runs.append(scored(sources[rows], gold[rows], [texts[i] for i in np.nonzero(rows)[0]], k))
        llm_true.append(truths(sources[rows], gold[rows])[0])
        sizes.append(int(rows.sum()))
    whole = ", ".join(f"{n} {a:.3f}" for n, a in zip(names, truths(sources, gold), strict=True))
    lines = [
        "",
        f"## {dataset.name}: {len(gold):,} rows, {min(sizes)}-{max(sizes)} audited",
        "",
        f"Sources' true accuracy (all rows): {whole}",
        "",
        "| model | accuracy of its labels | LLM's accuracy: estimated (true) | sources' accuracy: mean abs error "
        "| s |",
        "|---|---|---|---|---|",
    ]
    for name in MODELS:
        cells = np.array([run[name] for run in runs])
        mean, sd = cells.mean(axis=0), cells.std(axis=0)
        lines.append(
            f"| {name} | {mean[0]:.3f} ± {sd[0]:.3f} | {mean[1]:.3f} ± {sd[1]:.3f} ({np.mean(llm_true):.3f}) | "
            f"{mean[2]:.3f} ± {sd[2]:.3f} | {mean[3]:.1f} |"
        )
    return lines


def synthetic(shared_errors: bool, seed: int = 0, n: int = 1000, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(sources (n, 4), gold (n,)): an LLM right on 0.75; with `shared_errors`, three sources right on 0.6 that
    make the same error on a shared third of the rows (a lexicon family); else a source right on 0.8, its exact
    copy, and one right on 0.65. Wrong answers are uniform among the other labels."""
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, k, n)

    def noisy(accuracy: float) -> np.ndarray:
        wrong = (gold + rng.integers(1, k, n)) % k
        return np.where(rng.random(n) < accuracy, gold, wrong)

    if shared_errors:
        common = (gold + rng.integers(1, k, n)) % k
        shared = rng.random(n) < 0.3
        family = [np.where(shared, common, noisy(0.6 / 0.7)) for _ in range(3)]
        return np.column_stack([noisy(0.75), *family]), gold
    first = noisy(0.8)
    return np.column_stack([noisy(0.75), first, first, noisy(0.65)]), gold


def synthetic_lines() -> list[str]:
    lines = [
        "",
        "## Synthetic: dependence (1,000 rows, 3 labels, no text: CROWDLAB left out)",
        "",
        "| model | a copy: accuracy / estimates (true: LLM 0.75, A 0.80, A's copy 0.80, B 0.65) | shared errors: "
        "accuracy / estimates (true: LLM 0.75, three sources 0.60 each) |",
        "|---|---|---|",
    ]
    cases = [synthetic(shared) for shared in (False, True)]
    for name, fit in MODELS.items():
        if fit is crowdlab:
            continue
        cells = []
        for sources, gold in cases:
            labels, estimated = fit(sources, 3, [])
            cells.append(f"{(labels == gold).mean():.3f} / " + ", ".join(f"{e:.2f}" for e in estimated))
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(SETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    lines = [
        "# Label models compared on the rows a run fits them on",
        "",
        machine(["autoannotator", "crowd-kit", "cleanlab", "numpy", "scikit-learn"]),
        "- sources: GPT-3.5's replayed answers (the run's reviewer setting) and the dataset's fixed specialists; "
        f"seeds {args.seeds} (the audit draw); mean ± sd over seeds",
    ]
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(args.datasets.split(",")):
            folder = Path(tmp) / str(i)
            folder.mkdir()
            lines += real(SETS[name], seeds, folder)
    lines += synthetic_lines()
    lines += ["", f"{time.perf_counter() - started:.0f} s in all."]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
