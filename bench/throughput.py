"""Throughput and memory of the annotation pipeline (a benchmark that prints figures, not a test).

Annotates N rows (default 10,000) of TweetEval sentiment test with the default sentiment specialists plus the
MiniLM backbone, and, in the same run, times each specialist alone on the same texts and batches. Then
annotates a 10x larger file (rows cycled) to check that peak memory stays flat. Each measurement runs in a
fresh child process so that its peak RSS is its own.

Targets (issue 2): pipeline rows/s >= 80% of the slowest specialist's standalone rows/s;
peak RSS at 10x rows <= 1.2 x peak RSS at N rows.

    python bench/throughput.py [--rows 10000] [--scale 10] [--out bench/results/throughput.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path
from typing import cast

from _report import emit, machine

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tweeteval-sentiment" / "test.csv"
SPECIALISTS = ("vader", "textblob", "afinn", "minilm")
BATCH = 1000


def make_input(rows: int, folder: Path) -> Path:
    """The first `rows` texts of TweetEval sentiment test, cycled when more are asked for."""
    with DATA.open(encoding="utf-8", newline="") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    path = folder / f"tweets-{rows}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        writer.writerows([t] for t in islice(cycle(texts), rows))
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_pipeline(path: Path) -> dict[str, object]:
    from autoannotator import RunConfig, annotate, load_task

    config = RunConfig(input=path, task=load_task("sentiment-3"), specialists=SPECIALISTS, batch_size=BATCH)
    with tempfile.TemporaryDirectory() as tmp:
        result = annotate(config, out=Path(tmp) / "out.jsonl", run_dir=Path(tmp) / "run")
    return {
        "rows": result.rows,
        "seconds": result.seconds,
        "rows_per_s": result.rows / result.seconds,
        "peak_rss_mb": peak_rss_mb(),
        "specialist_seconds": result.specialist_seconds,
    }


def child_standalone(path: Path) -> dict[str, object]:
    """Each specialist alone, on the same texts in the same batches, warmed up first."""
    from autoannotator.read.io import Record, Source
    from autoannotator.read.task import load_task
    from autoannotator.specialists import build

    task = load_task("sentiment-3")
    texts = [[r.text for r in batch if isinstance(r, Record)] for batch in Source(path).batches(BATCH)]
    rates = {}
    for name in SPECIALISTS:
        specialist = build(name, task)
        specialist.predict(texts[0][:8])
        tick = time.perf_counter()
        for batch in texts:
            specialist.predict(batch)
        rates[name] = sum(map(len, texts)) / (time.perf_counter() - tick)
    return {"rows_per_s": rates}


def run_child(mode: str, path: Path) -> dict[str, object]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, object] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=10, help="the memory check annotates rows x scale")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as Markdown here")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path = args.child
        print(json.dumps((child_pipeline if mode == "pipeline" else child_standalone)(Path(path))))
        return

    with tempfile.TemporaryDirectory() as tmp:
        small = make_input(args.rows, Path(tmp))
        alone = cast(dict[str, float], run_child("standalone", small)["rows_per_s"])
        pipe = run_child("pipeline", small)
        big = run_child("pipeline", make_input(args.rows * args.scale, Path(tmp))) if args.scale > 1 else None

    slowest = min(alone, key=lambda name: alone[name])
    ratio = float(pipe["rows_per_s"]) / alone[slowest]  # type: ignore[arg-type]
    lines = [
        f"# Throughput: {args.rows:,} TweetEval sentiment rows, specialists {', '.join(SPECIALISTS)}",
        "",
        machine(["autoannotator", "numpy", "onnxruntime", "tokenizers", "vaderSentiment", "textblob", "afinn"]),
        "",
        "| measure | value |",
        "|---|---:|",
        *(f"| standalone {name} | {rate:,.0f} rows/s |" for name, rate in alone.items()),
        f"| pipeline, {pipe['rows']:,} rows | {pipe['rows_per_s']:,.0f} rows/s |",
        f"| pipeline / slowest specialist alone ({slowest}) | {ratio:.2f} (target >= 0.80: "
        f"{'met' if ratio >= 0.8 else 'NOT met'}) |",
        f"| peak RSS, {pipe['rows']:,} rows | {pipe['peak_rss_mb']:,.0f} MB |",
    ]
    if big is not None:
        growth = float(big["peak_rss_mb"]) / float(pipe["peak_rss_mb"])  # type: ignore[arg-type]
        lines += [
            f"| pipeline, {big['rows']:,} rows | {big['rows_per_s']:,.0f} rows/s |",
            f"| peak RSS, {big['rows']:,} rows | {big['peak_rss_mb']:,.0f} MB |",
            f"| peak RSS ratio {args.scale}x rows / 1x | {growth:.2f} (target <= 1.20: "
            f"{'met' if growth <= 1.2 else 'NOT met'}) |",
        ]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
