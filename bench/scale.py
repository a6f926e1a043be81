"""Past one machine: the Ray engine against the local engine on this machine (a benchmark that prints figures).

On a Ray cluster started here (`ray start --head`, 2 CPUs):

- speed: rows/s of the local engine on one inference thread, and of `--engine ray` with 1 and 2 actors of one
  CPU (one inference thread) each, in the same run; each in a fresh child process (its peak RSS is the
  driver's own). Specialists vader, textblob, afinn and minilm-sentiment (MiniLM is what costs), no reviewer,
  no learning: the rows/s of inference. "steady" leaves out the start (Ray's actors load their models, the
  first blocks fill the pipe) and counts from the third batch committed to the last. A fourth run with vader
  alone measures the driver's own ceiling (voting, deciding, committing): the bound of any number of actors
  feeding one driver.
- sameness: 10,000 TweetEval sentiment rows, the replayed GPT-3.5 reviewer, default settings (trust routing,
  learning on), local vs ray with 2 actors, byte for byte; then the ray run killed (SIGKILL) mid-run and
  resumed, byte for byte again.
- cost: the 10,000 rows as hard rows (recorded GPT-3.5 tokens) priced interactive and through the Batch API.

Targets (issue 12): Ray at 2 actors >= 1.6x the rows/s of 1 actor; Ray at 1 actor within 10% of the local
engine on one thread.

    python bench/scale.py [--speed-rows 8000] [--rows 10000] [--out bench/results/scale.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _report import emit, machine
from autoannotator.testing import RayCluster, committed

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA = SHARED / "tweeteval-sentiment" / "test.csv"
REPLAY = SHARED / "llm-replay" / "tweeteval-sentiment-test.csv"
SPEED_SPECIALISTS = ("vader", "textblob", "afinn", "minilm-sentiment")
BATCH = 500


def make_input(rows: int, folder: Path) -> Path:
    with DATA.open(encoding="utf-8", newline="") as f:
        texts = [r["text"] for r in csv.DictReader(f)][:rows]
    path = folder / f"tweets-{rows}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text"], *([t] for t in texts)])
    return path


def child_speed(path: Path, engine: str, actors: int, specialists: tuple[str, ...]) -> dict[str, Any]:
    """One run (no reviewer, no learning); rows/s overall and from the first committed batch to the last."""
    from autoannotator import RunConfig, annotate, load_task
    from autoannotator.run.engines import build_engine

    config = RunConfig(
        input=path, task=load_task("sentiment-3"), specialists=specialists, batch_size=BATCH, learning=None
    )
    marks: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        result = annotate(
            config,
            out=Path(tmp) / "out.jsonl",
            run_dir=Path(tmp) / "run",
            engine=build_engine(engine, address=os.environ.get("RAY_ADDRESS"), actors=actors, cpus=1),
            progress=lambda rows, _read, _size: marks.append((time.perf_counter(), rows)),
        )
    (t0, r0), (t1, r1) = marks[min(2, len(marks) - 2)], marks[-1]  # past the start: actors loaded, pipe full
    return {
        "rows": result.rows,
        "rows_per_s": result.rows / result.seconds,
        "steady_rows_per_s": (r1 - r0) / (t1 - t0),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True, env=env
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def annotate_args(data: Path, out: Path, *engine: str) -> list[str]:
    return [sys.executable, "-m", "autoannotator", "annotate", str(data), "--task", "sentiment-3", "--out",
            str(out), "--review", f"replay:{REPLAY}#gpt-3.5-turbo|zero-shot; default", "--quiet",
            *engine]  # fmt: skip


def sameness(data: Path, rows: int, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    """Local vs ray outputs, byte for byte; then a ray run killed mid-run and resumed."""
    timings = {}
    outputs = {}
    for name, engine in (("local", ()), ("ray", ("--engine", "ray", "--ray-actors", "2"))):
        out = folder / f"{name}.jsonl"
        tick = time.perf_counter()
        subprocess.run(annotate_args(data, out, *engine), check=True, capture_output=True, env=env)
        timings[name], outputs[name] = time.perf_counter() - tick, out.read_bytes()
    out = folder / "killed.jsonl"
    args = annotate_args(data, out, "--engine", "ray", "--ray-actors", "2")
    proc = subprocess.Popen(args, env=env, stderr=subprocess.DEVNULL)
    at = 0
    while proc.poll() is None and (at := committed(folder / "killed.jsonl.run" / "ledger.sqlite")) < rows * 0.3:
        time.sleep(0.05)
    if proc.poll() is not None:
        raise SystemExit("the ray run ended before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    subprocess.run([*args, "--resume"], check=True, capture_output=True, env=env)
    return {
        "identical": outputs["local"] == outputs["ray"],
        "resumed_identical": out.read_bytes() == outputs["local"],
        "killed_at": at,
        "seconds": timings,
    }


def cost(rows: int) -> tuple[float, float]:
    """USD for `rows` hard rows at GPT-3.5's recorded zero-shot tokens: interactive, Batch API."""
    from autoannotator.llm import load_prices

    with REPLAY.open(encoding="utf-8", newline="") as f:
        calls = [r for r in csv.DictReader(f) if r["setting"] == "zero-shot; default"][:rows]
    prices = load_prices()
    tokens = [(int(r["prompt_tokens"]), int(r["completion_tokens"])) for r in calls]
    interactive = sum(prices.cost("gpt-3.5-turbo", p, c) for p, c in tokens)
    return interactive, sum(prices.cost("gpt-3.5-turbo", p, c, batch=True) for p, c in tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed-rows", type=int, default=8000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as Markdown here")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, engine, actors, specialists = args.child
        print(json.dumps(child_speed(Path(path), engine, int(actors), tuple(specialists.split(",")))))
        return
    with tempfile.TemporaryDirectory() as tmp, RayCluster((2,)) as cluster:
        env = {**cluster.env, "RAY_ADDRESS": cluster.address}
        folder = Path(tmp)
        speed_input = str(make_input(args.speed_rows, folder))
        everything = ",".join(SPEED_SPECIALISTS)
        one_thread = {**env, "AUTOANNOTATOR_THREADS": "1"}
        runs = {
            "local engine, 1 inference thread": run_child(one_thread, speed_input, "local", "1", everything),
            "ray, 1 actor (1 CPU)": run_child(env, speed_input, "ray", "1", everything),
            "ray, 2 actors (1 CPU each)": run_child(env, speed_input, "ray", "2", everything),
            "driver ceiling (local, vader only)": run_child(env, speed_input, "local", "1", "vader"),
        }
        same = sameness(make_input(args.rows, folder), args.rows, folder, env)
    interactive, batch = cost(args.rows)
    emit(report(args, runs, same, interactive, batch), args.out)


def report(
    args: argparse.Namespace,
    runs: dict[str, dict[str, Any]],
    same: dict[str, Any],
    interactive: float,
    batch: float,
) -> list[str]:
    local, one, two = (runs[k]["steady_rows_per_s"] for k in list(runs)[:3])
    scaling, parity = two / one, one / local
    lines = [
        f"# Scale: the Ray engine against the local engine ({args.speed_rows:,} TweetEval sentiment rows)",
        "",
        machine(["autoannotator", "ray", "numpy", "onnxruntime", "pyarrow"]),
        "",
        f"Specialists {', '.join(SPEED_SPECIALISTS)}; batches of {BATCH}; no reviewer, no learning. A Ray cluster "
        "started here (`ray start --head`, 2 CPUs, on 127.0.0.1).",
        "",
        "| run | rows/s overall | rows/s steady | driver peak RSS |",
        "|---|---:|---:|---:|",
        *(
            f"| {name} | {r['rows_per_s']:,.1f} | {r['steady_rows_per_s']:,.1f} | {r['peak_rss_mb']:,.0f} MB |"
            for name, r in runs.items()
        ),
        "",
        f"- ray 2 actors / 1 actor (steady): **{scaling:.2f}x** (target >= 1.6: "
        f"{'met' if scaling >= 1.6 else 'NOT met'})",
        f"- ray 1 actor / local engine on 1 thread (steady): **{parity:.2f}** (target within 10%: "
        f"{'met' if abs(parity - 1) <= 0.1 else 'NOT met'})",
        "",
        f"## The same {args.rows:,}-row run on both engines (replayed GPT-3.5, trust routing, learning on)",
        "",
        f"- local vs ray (2 actors), byte for byte: **{'identical' if same['identical'] else 'DIFFERENT'}** "
        f"({same['seconds']['local']:.0f} s local, {same['seconds']['ray']:.0f} s ray)",
        f"- ray run SIGKILLed after {same['killed_at']:,} rows, then `--resume`: "
        f"**{'identical' if same['resumed_identical'] else 'DIFFERENT'}** to the local output",
        "",
        f"## {args.rows:,} hard rows through GPT-3.5 (recorded zero-shot tokens)",
        "",
        f"- interactive: ${interactive:.4f}; Batch API: ${batch:.4f} ({batch / interactive:.0%} of interactive)",
    ]
    return lines


if __name__ == "__main__":
    main()
