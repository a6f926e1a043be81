"""People's labels asked first (issue 27): `ask-people-first` draws rows uniformly from the input, people (gold
replayed) label them, and the run takes them as its truth (`--calibration`): the specialists keep the rows where
they are at least as accurate as the LLM, the people's rows keep their labels, and the run ends re-judged on
them with a prediction-powered estimate of the whole output's accuracy.

Per dataset and seed: accuracy against gold over every row (people's rows included), the share of rows the LLM
was asked about, the share of distinct texts it answered (the people's rows too: the run measures the LLM on
them), the estimate with its 95% interval against the truth; beside them the LLM alone and the default run.

    python bench/people_first.py [--datasets a,b] [--seeds 0,1,2] [--out bench/results/people_first.md]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import numpy as np

from _report import emit, machine
from ask_people import ROWS, accuracy
from autoannotator import LearningConfig, RunConfig, TrustConfig, annotate, baseline, load_task
from autoannotator.controller import selection
from autoannotator.handoff.first import first_rows, write_sheet
from autoannotator.read.io import Source, read_rows, unneutralise
from paper import replay_file, review, rows_file
from trust import ALL, ORDER


def filled(sheet: Path, data: Path) -> None:
    """The people: every drawn row's gold label written into the sheet."""
    with data.open(encoding="utf-8", newline="") as f:
        gold = {r["text"]: r["label"] for r in csv.DictReader(f)}
    with sheet.open(encoding="utf-8", newline="") as f:
        rows = [{**r, "label": gold[unneutralise(r["text"])]} for r in csv.DictReader(f)]
    with sheet.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def bench(name: str, seeds: list[int], folder: Path, added: tuple[str, ...] = ()) -> list[str]:
    dataset = ALL[name]
    data = rows_file(dataset, folder)
    task = load_task(dataset.task)
    reviewer = review(replay_file(dataset, dataset.review, folder), dataset.review)
    specialists: tuple[str, ...] = dataset.specialists if dataset.specialists == ("auto",) else ()
    if added and specialists == ("auto",):  # `auto` as it chooses where torch sees a GPU (mpnet in it)
        if added != ("mpnet",):
            raise SystemExit(f"{name} runs `auto`: --add can only be mpnet there (auto takes it on a GPU)")
        setattr(selection, "on_gpu", lambda: True)  # noqa: B010 (a module attribute the bench overrides)
    elif added:
        specialists = (*(specialists or tuple(task.specialists)), *added)
    base = RunConfig(input=data, task=task, specialists=specialists, review=reviewer)
    annotate(baseline(base, "llm"), out=folder / "llm.jsonl", run_dir=folder / "llm.run")
    llm = accuracy(folder / "llm.jsonl", data, folder / "llm.run")
    n, lines, found = ROWS[name], [], []
    for seed in seeds:
        run = folder / f"s{seed}"
        run.mkdir()
        plain = base.model_copy(update={"learning": LearningConfig(seed=seed), "trust": TrustConfig(seed=seed)})
        annotate(plain, out=run / "default.jsonl", run_dir=run / "default.run")
        default = accuracy(run / "default.jsonl", data, run / "default.run")
        sheet = run / "people.csv"
        source = Source(data, text_field=task.text_field, id_field=task.id_field)
        write_sheet(first_rows(source, n, seed=seed), sheet, task.text_field)
        filled(sheet, data)
        config = plain.model_copy(update={"calibration": sheet})
        result = annotate(config, out=run / "out.jsonl", run_dir=run / "run")
        now = accuracy(run / "out.jsonl", data, run / "run")
        rows = list(read_rows(run / "out.jsonl"))
        sent = float(np.mean([r["review"] is not None for r in rows]))
        people = {unneutralise(r["text"]) for r in read_rows(sheet)}
        texts = len({r["text"] for r in rows if r["review"] is not None} | people) / len(rows)
        assert result.people is not None
        est, low, high = result.people.estimate
        found.append((now, sent, texts, est - now, low <= now <= high))
        lines.append(
            f"| {name} | {seed} | {n} | {now:.3f} | {llm:.3f} | {default:.3f} | {sent:.1%} | {texts:.1%} | "
            f"{est:.3f} ({low:.3f}-{high:.3f}) | {est - now:+.3f} | {'yes' if low <= now <= high else 'no'} |"
        )
        print(lines[-1], flush=True)
    acc, sent_, texts_ = (np.array([f[i] for f in found]) for i in range(3))
    lines.append(
        f"| {name} | mean ± sd | {n} | {acc.mean():.3f} ± {acc.std():.3f} | {llm:.3f} | | "
        f"{sent_.mean():.1%} | {texts_.mean():.1%} | | within 3 points: {sum(abs(f[3]) <= 0.03 for f in found)} "
        f"of {len(found)} | {sum(f[4] for f in found)} of {len(found)} |"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(ORDER))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--add", default="", help="specialists added to every set's (comma-separated)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    added = tuple(n for n in args.add.split(",") if n)
    lines = [
        "# People's labels asked first",
        "",
        machine(["autoannotator", "numpy", "scipy", "scikit-learn", "onnxruntime"]),
        "",
        "Reviewer: replayed GPT-3.5 (zero-shot; 10-shot on Rotten Tomatoes); default settings plus the people's "
        "sheet as `--calibration` (gold replayed as the people). Emotion: `--specialists auto`."
        + (
            f" Added to every set's specialists: {', '.join(added)} (emotion: `auto` as it chooses where torch "
            "sees a GPU, which takes mpnet; computed here on the CPU)."
            if added
            else ""
        ),
        "",
        "| dataset | seed | people's rows | accuracy | LLM alone | default run | sent to the LLM | texts the LLM "
        "answered (people's rows too) | estimate (95%) | estimate - truth | interval holds the truth |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in args.datasets.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            lines += bench(name, seeds, Path(tmp), added)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
