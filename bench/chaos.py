"""Reliability under faults (prints counts, not a test; the same scenarios run in tests/integration):

- kills survived / tried: SIGKILL at 20 random points of a run with an HTTP reviewer and staged learning,
  resumed each time; the final output must equal an uninterrupted run's;
- faults injected / rows lost: 2,000 hard rows against an endpoint where 30% of requests fail (9 kinds);
- budget overshoot: what the server billed beyond the cap (every 200 reply counts, usable or not);
- attacks blocked / tried: generated adapter code against planted secrets.

    python bench/chaos.py [--out bench/results/chaos.md]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _report import emit, machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the fault scenarios the tests run
from faults import flaky_run, kill_run, run_attacks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "kill").mkdir()
        (Path(tmp) / "flaky").mkdir()
        (Path(tmp) / "attacks").mkdir()
        kills = kill_run(Path(tmp) / "kill", kills=args.kills, seed=7)
        flaky = flaky_run(Path(tmp) / "flaky", rows=args.rows, rate=0.3, budget_usd=0.05, seed=3)
        attacks = run_attacks(Path(tmp) / "attacks")
    blocked = sum(v is None for v in attacks.values())
    lines = [
        "# Chaos: kills, a flaky LLM endpoint, hostile generated code",
        "",
        machine(["autoannotator", "openai"]),
        "",
        f"- kills survived / tried: {kills.survived} / {kills.tried} (where they landed: {kills.phases}); "
        f"final output identical to an uninterrupted run: {kills.identical}; duplicate rows: {kills.duplicates}",
        f"- review prompts paid twice (in flight at a kill): {kills.paid_twice} of {kills.paid}",
        f"- faults injected / rows lost: {sum(flaky.faults.values())} of {flaky.requests} requests / {flaky.lost} "
        f"(must be 0); by kind: {dict(sorted(flaky.faults.items()))}",
        f"- outcomes of the {flaky.rows:,} rows: {dict(sorted(flaky.outcomes.items()))}",
        f"- budget ${flaky.budget_usd:.4f}: the server billed ${flaky.billed_usd:.4f}, the ledger recorded "
        f"${flaky.ledger_usd:.4f}; overshoot ${flaky.overshoot_usd:.4f} (must be $0)",
        f"- attacks blocked / tried: {blocked} / {len(attacks)}",
        "",
        "| attack | result |",
        "|---|---|",
        *(f"| {name} | {'blocked' if got is None else 'GOT THROUGH: ' + got} |" for name, got in attacks.items()),
    ]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
