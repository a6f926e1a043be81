"""Concurrent review against a local Chat Completions server that answers after 300 ms (prints figures).

Reviews 1,000 hard rows with concurrency 32 through the real stack (LLMReviewer -> Gateway -> openai SDK ->
HTTP on localhost) and prints the wall time (issue 3 target: <= 15 s), calls/s, and the framework's CPU time
per review call (this process's CPU time, which includes the SDK, the HTTP client and the in-process test
server, divided by the calls: an upper bound).

    python bench/llm_concurrency.py [--rows 1000] [--concurrency 32] [--delay 0.3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _report import emit, machine
from autoannotator.llm import Budget, Gateway, OpenAIChat, RateLimiter, load_prices
from autoannotator.read.task import load_task
from autoannotator.review import HardRow, LLMReviewer
from autoannotator.testing import ChatServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    task = load_task("sentiment-2")
    rows = [
        HardRow(i, f"review number {i}: it was {'good' if i % 2 else 'bad'}", {}, None) for i in range(args.rows)
    ]
    with ChatServer(lambda m: json.dumps({"label": "positive"}), delay_s=args.delay) as server:
        model = OpenAIChat("gpt-4o-mini", base_url=server.base_url, api_key="bench", timeout=30)
        gateway = Gateway(
            model, prices=load_prices(), budget=Budget(None), limiter=RateLimiter(concurrency=args.concurrency)
        )
        reviewer = LLMReviewer(gateway, task)
        wall, cpu = time.perf_counter(), time.process_time()
        verdicts = reviewer.review(rows)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        reviewer.close()
    ok = sum(v.status == "ok" for v in verdicts)
    ideal = args.rows / args.concurrency * args.delay
    emit(
        [
            f"# LLM review concurrency: {args.rows:,} rows, concurrency {args.concurrency}, server delay "
            f"{args.delay * 1000:.0f} ms",
            "",
            machine(["autoannotator", "openai"]),
            "",
            "| measure | value |",
            "|---|---:|",
            f"| rows reviewed ok | {ok:,} / {args.rows:,} |",
            f"| wall time | {wall:.2f} s (target <= 15 s: {'met' if wall <= 15 else 'NOT met'}; "
            f"ideal {ideal:.1f} s) |",
            f"| calls/s | {gateway.calls / wall:,.1f} |",
            f"| CPU per call (SDK, HTTP client and server incl.) | {cpu / gateway.calls * 1000:.2f} ms |",
        ],
        args.out,
    )


if __name__ == "__main__":
    main()
