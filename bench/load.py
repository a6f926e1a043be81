"""Load: a million synthetic rows through the pipeline with the lexicon specialists (prints figures, not a test).

Peak RSS (VmHWM) is read when 100,000 rows are done and at the end; rows/s over the first and the last
100,000 rows show whether the ledger slows down as it grows. No reviewer: this measures the pipeline and the
ledger, not an LLM.

    python bench/load.py [--rows 1000000] [--out bench/results/load.md]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from _report import emit, machine
from autoannotator import RunConfig, annotate, load_task

WORDS = (
    "good", "bad", "great", "awful", "fine", "terrible", "lovely", "boring",
    "slow", "quick", "cheap", "broken", "solid", "nice", "poor",
)  # fmt: skip
SPECIALISTS = ("vader", "textblob", "afinn")
WINDOW = 100_000


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_rows(path: Path, n: int) -> None:
    """`n` synthetic review sentences of 8-20 words (deterministic)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        for i in range(n):
            length = 8 + i % 13
            words = [WORDS[(i * 7 + j * 3 + j * j) % len(WORDS)] for j in range(length)]
            writer.writerow([f"Item {i}: " + " ".join(words) + "."])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    marks: list[tuple[int, float]] = []
    rss_at_window: list[float] = []

    def progress(rows: int, read: int, size: int) -> None:
        marks.append((rows, time.perf_counter()))
        if rows >= WINDOW and not rss_at_window:
            rss_at_window.append(peak_rss_mb())

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows.csv"
        write_rows(data, args.rows)
        config = RunConfig(
            input=data, task=load_task("sentiment-3"), specialists=SPECIALISTS, batch_size=args.batch_size
        )
        start = time.perf_counter()
        marks.append((0, start))
        result = annotate(config, out=Path(tmp) / "o.jsonl", run_dir=Path(tmp) / "run", progress=progress)
        ledger_mb = result.ledger.stat().st_size / 2**20
    end_rss = peak_rss_mb()

    def rate(first: int, last: int) -> float:
        """rows/s between the marks nearest to row counts `first` and `last`."""
        a = min(marks, key=lambda m: abs(m[0] - first))
        b = min(marks, key=lambda m: abs(m[0] - last))
        return (b[0] - a[0]) / (b[1] - a[1])

    early, late = rate(0, WINDOW), rate(args.rows - WINDOW, args.rows)
    lines = [
        f"# Load: {args.rows:,} synthetic rows, specialists {', '.join(SPECIALISTS)}, no reviewer",
        "",
        machine(["autoannotator", "numpy", "vaderSentiment", "textblob"]),
        f"- batches of {args.batch_size:,}; ledger {ledger_mb:,.0f} MB at the end; wall {result.seconds:,.0f} s",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| peak RSS after {WINDOW:,} rows | {rss_at_window[0] if rss_at_window else float('nan'):,.0f} MB |",
        f"| peak RSS after {args.rows:,} rows | {end_rss:,.0f} MB |",
        f"| rows/s, first {WINDOW:,} rows | {early:,.0f} |",
        f"| rows/s, last {WINDOW:,} rows | {late:,.0f} |",
        f"| last / first | {late / early:.2f} |",
    ]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
