"""Fault scenarios shared by the test-suite and ``bench/chaos.py``: a run killed with SIGKILL at random
points and resumed; a run against a flaky Chat Completions endpoint; the sandbox attack list.

Each scenario runs the real CLI in child processes against a real HTTP server on localhost, and returns
counts; the tests assert on them and the benchmark prints them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autoannotator.llm.cost import load_prices
from autoannotator.testing import FAULTS, ChatServer, Fault, committed, read_jsonl

LABELS = ("negative", "positive")
MODEL = "gpt-4o-mini"
BETA = 40


def write_rows(path: Path, n: int) -> None:
    """`n` short synthetic reviews (CSV `id,text`), half of them clearly positive."""
    words = ("great", "awful", "fine", "broken", "lovely", "slow", "cheap", "solid")
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        for i in range(n):
            a, b = words[i % 8], words[(i * 5 + 3) % 8]
            writer.writerow([f"r{i}", f"Review {i}: the product is {a}, and the delivery was {b}."])


def answer(messages: list[dict[str, str]]) -> str:
    """A deterministic reviewer: the label follows a hash of the last message."""
    digest = hashlib.sha256(messages[-1]["content"].encode()).digest()
    return json.dumps({"label": LABELS[digest[0] % 2]})


def fault_plan(rate: float, seed: int) -> dict[int, Fault]:
    """Request number -> fault, for the first 100,000 requests: each fails with probability `rate`, the kind
    drawn uniformly from `FAULTS`."""
    rng = random.Random(seed)
    return {n: rng.choice(FAULTS) for n in range(100_000) if rng.random() < rate}


def cli(*args: str | Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "autoannotator", *map(str, args)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def llm_env(server: ChatServer) -> dict[str, str]:
    return {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-chaos-not-a-real-key"}


@dataclass
class FlakyResult:
    """What a run against the flaky endpoint did."""

    rows: int
    output_rows: int
    requests: int
    faults: dict[str, int]
    outcomes: dict[str, int]
    """Output rows by source and review status, e.g. ``llm/ok``, ``unresolved/invalid``."""
    reasons: dict[str, int]
    budget_usd: float
    billed_usd: float
    """What the server's replies would have cost: every 200 reply at the price table (even ones the client
    could not use: a real provider bills those)."""
    ledger_usd: float
    exit_code: int
    stderr: str = ""

    @property
    def lost(self) -> int:
        return self.rows - self.output_rows

    @property
    def overshoot_usd(self) -> float:
        return max(0.0, self.billed_usd - self.budget_usd)


def flaky_run(
    folder: Path, *, rows: int = 2000, rate: float = 0.3, budget_usd: float = 0.05, seed: int = 0
) -> FlakyResult:
    """Label `rows` rows, every one of them hard (no specialists), through a server where a share `rate` of
    requests fail (every `FAULTS` kind), with a budget that runs out before the end."""
    data, out = folder / "rows.csv", folder / "out.jsonl"
    write_rows(data, rows)
    plan = fault_plan(rate, seed)
    prices = load_prices(None)
    with ChatServer(answer, faults=plan.get, timeout_s=1.5, retry_after_s=0) as server:
        proc = cli(
            "annotate", data, "--task", "sentiment-2", "--specialists", "none", "--llm", f"openai:{MODEL}",
            "--review", "zero-shot", "--budget-usd", str(budget_usd), "--concurrency", "16", "--llm-timeout",
            "0.5", "--out", out, "--quiet", env=llm_env(server),
        )  # fmt: skip
        _, stderr = proc.communicate(timeout=900)
        requests = len(server.requests)
        billed = sum(prices.cost(MODEL, p, c) for p, c in server.replies)
        faults = dict(server.fault_counts)
    output = read_jsonl(out) if out.exists() else []
    with sqlite3.connect(out.with_name(out.name + ".run") / "ledger.sqlite") as db:
        ledger_usd = float(db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls").fetchone()[0])
        reasons = Counter(str(r) for (r,) in db.execute("SELECT reason FROM reviews WHERE status != 'ok'"))
    return FlakyResult(
        rows=rows,
        output_rows=len({r["id"] for r in output}),
        requests=requests,
        faults=faults,
        outcomes=dict(Counter(f"{r['source']}/{r['review']}" for r in output)),
        reasons=dict(reasons),
        budget_usd=budget_usd,
        billed_usd=billed,
        ledger_usd=ledger_usd,
        exit_code=proc.returncode,
        stderr=stderr[-2000:],
    )


@dataclass
class KillResult:
    """What killing and resuming a run did."""

    tried: int
    survived: int
    """Kills that landed (before the run ended) and were resumed to the uninterrupted run's exact output."""
    phases: dict[str, int]
    """Where each kill landed: inference, review, training, output."""
    identical: bool
    duplicates: int
    """Rows that appear more than once in the final output."""
    paid_twice: int
    """Review prompts the server answered more than once (a call in flight when the process died)."""
    paid: int
    failures: list[str] = field(default_factory=list)


def kill_run(folder: Path, *, kills: int = 20, rows: int = 600, seed: int = 0) -> KillResult:
    """Run a labelling job with specialists, an HTTP reviewer and staged learning; SIGKILL it `kills` times at
    random points (a random delay after a random number of committed rows, and once while the output is being
    written), resume each time, and compare the final output with an uninterrupted run's."""
    data = folder / "rows.csv"
    write_rows(data, rows)
    rng = random.Random(seed)
    args = ["--task", "sentiment-2", "--specialists", "vader,afinn,tfidf", "--llm", f"openai:{MODEL}", "--review",
            "zero-shot", "--rows-per-stage", str(BETA), "--batch-size", "25", "--concurrency", "4",
            "--quiet"]  # fmt: skip
    with ChatServer(answer, delay_s=0.01) as server:
        cli("annotate", data, "--out", folder / "whole.jsonl", *args, env=llm_env(server)).communicate(timeout=600)
    targets = sorted(rng.sample(range(1, rows), kills - 1))
    out, run = folder / "killed.jsonl", folder / "killed.run"
    phases: Counter[str] = Counter()
    failures = []
    with ChatServer(answer, delay_s=0.01) as server:
        env = llm_env(server)
        for attempt in range(kills):
            resume = ["--resume"] if (run / "ledger.sqlite").exists() else []
            proc = cli("annotate", data, "--out", out, "--run-dir", run, *args, *resume, env=env)
            target = targets[attempt] if attempt < len(targets) else None
            trigger = _kill_at(proc, out, run / "ledger.sqlite", target, rng.uniform(0, 0.3))
            if trigger is None:
                phases["after the end"] += 1
                if proc.returncode != 0:
                    failures.append(f"run {attempt + 1}: exit {proc.returncode}")
            else:
                phases[_phase(run, trigger)] += 1
        final = cli("annotate", data, "--out", out, "--run-dir", run, *args, "--resume", env=env)
        _, stderr = final.communicate(timeout=600)
        if final.returncode != 0:
            failures.append(f"final resume: exit {final.returncode}: {stderr[-500:]}")
        prompts = Counter(r["messages"][-1]["content"] for r in server.requests)
    killed = read_jsonl(out) if out.exists() else []
    ids = Counter(r["id"] for r in killed)
    identical = killed == read_jsonl(folder / "whole.jsonl")
    duplicates = sum(n - 1 for n in ids.values())
    landed = kills - phases["after the end"]
    return KillResult(
        tried=kills,
        survived=landed if identical and not duplicates and not failures else 0,
        phases=dict(phases),
        identical=identical,
        duplicates=duplicates,
        paid_twice=sum(n > 1 for n in prompts.values()),
        paid=len(prompts),
        failures=failures,
    )


def _kill_at(
    proc: subprocess.Popen[str], out: Path, ledger: Path, target: int | None, delay_s: float
) -> str | None:
    """SIGKILL `proc` `delay_s` after the ledger has committed rows up to position `target`, or (target None)
    as soon as it starts writing the output; returns the trigger, or None when the process ended first."""
    while proc.poll() is None:
        if target is None and any(out.parent.glob(f".{out.name}.*.tmp")):
            break
        if target is not None and committed(ledger) >= target:
            time.sleep(delay_s)
            break
        # the output is written in milliseconds: watch for it closely; progress (an SQLite read) every 20 ms,
        # not to take a core from the run it watches
        time.sleep(0.002 if target is None else 0.02)
    if proc.poll() is not None:
        return None
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    return "output" if target is None else "progress"


def _phase(run: Path, trigger: str) -> str:
    """Where a kill landed, from what the ledger holds afterwards (the output trigger is exact)."""
    if trigger == "output":
        return "output"
    try:
        with sqlite3.connect(run / "ledger.sqlite", timeout=5) as db:
            batches = db.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
            trained, since = db.execute("SELECT COUNT(*), COALESCE(MAX(upto_pos), 0) FROM trainings").fetchone()
            reviewed = db.execute(
                "SELECT COUNT(*) FROM labels WHERE source = 'llm' AND pos >= ?", (since,)
            ).fetchone()[0]
    except sqlite3.Error:
        return "start-up"
    if batches == 0:
        return "start-up"
    due = BETA if trained else BETA // 2
    return "training" if reviewed >= due else "inference or review"


# Generated-code attacks: each is the body of an adapter; `{key}`, `{ledger}` and `{out}` name a fake SSH key,
# a ledger and a file the code must not write.
ATTACKS = {
    "read an SSH key": "return [open({key!r}).read().split()[-1]] * len(native)",
    "read the ledger": "return [str(len(open({ledger!r}, 'rb').read()))] * len(native)",
    "read the ledger with sqlite3": "import sqlite3\nreturn [str(sqlite3.connect({ledger!r}))] * len(native)",
    "read an environment secret": "import os\nreturn [os.environ['OPENAI_API_KEY']] * len(native)",
    "list a folder": "import os\nreturn [str(os.listdir('/'))] * len(native)",
    "write a file": "open({out!r}, 'w').write('x')\nreturn [None] * len(native)",
    "write with io": "import io\nio.open({out!r}, 'w').write('x')\nreturn [None] * len(native)",
    "open a socket": "import socket\nsocket.create_connection(('127.0.0.1', 80))\nreturn [None] * len(native)",
    "resolve a host": "import _socket\n_socket.getaddrinfo('example.com', 80)\nreturn [None] * len(native)",
    "start a process": "import subprocess\nsubprocess.run(['true'])\nreturn [None] * len(native)",
    "os.system": "import os\nos.system('touch {out}')\nreturn [None] * len(native)",
    "posix_spawn": "import os\nos.posix_spawn('/bin/true', ['true'], {{}})\nreturn [None] * len(native)",
    "fork bomb": "import os\nwhile True:\n    os.fork()",
    "unbounded memory": "x = bytearray(10 ** 11)\nreturn [None] * len(native)",
    "infinite loop": "while True:\n    pass",
    "ctypes escape": "import ctypes\nctypes.CDLL(None).system(b'touch {out}')\nreturn [None] * len(native)",
    "ctypes via builtins": "__import__('ctypes')\nreturn [None] * len(native)",
    "remove the audit hook": "import sys\nsys.audit = None\nopen({key!r}).read()\nreturn [None] * len(native)",
}


def attack(body: str) -> str:
    """An adapter whose body is `body`."""
    return "def adapt(native, native_labels, task_labels):\n" + "\n".join(
        f"    {line}" for line in body.splitlines()
    )


def run_attacks(folder: Path) -> dict[str, str | None]:
    """Run every attack in the sandbox against real secrets planted in `folder`; name -> None when it was
    blocked, else what got through."""
    from autoannotator.errors import AdapterError
    from autoannotator.read.sandbox import run_adapter_code

    key = folder / ".ssh" / "id_rsa"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY----- offensive", encoding="utf-8")
    ledger = folder / "ledger.sqlite"
    with sqlite3.connect(ledger) as db:
        db.execute("CREATE TABLE IF NOT EXISTS t (x)")
    out = folder / "written.txt"
    os.environ["OPENAI_API_KEY"] = "offensive"
    results: dict[str, str | None] = {}
    for name, body in ATTACKS.items():
        code = attack(body.format(key=key, ledger=ledger, out=out))
        try:
            labels = run_adapter_code(code, [[0.9, 0.1]], ["clean", "profane"], ["not-offensive", "offensive"],
                                      cpu_s=2, timeout_s=10)  # fmt: skip
            results[name] = f"ran and returned {labels}"
        except AdapterError:
            results[name] = None
        if out.exists():
            results[name] = "wrote a file"
            out.unlink()
    return results
