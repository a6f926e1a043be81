"""How close an estimate of the accepted rows' agreement from their audited rows can be (issue 10's 3-point bar).

The run's estimate rests on the audited rows the routing accepted: n of them, each agreeing with the reviewer
with probability p. Their agreement k/n (or an inverse-probability-weighted mean of as many rows) falls within
`--points` of p only as often as the binomial allows. Prints that probability, exact, for each
n and p, and the audited rows needed to reach 90% and 95% (the chance that three seeds in a row all do is
its cube).

    python bench/estimate_power.py [--points 0.03] [--out bench/results/estimate_power.md]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.stats import binom

from _report import emit, machine

ROWS = (5, 10, 20, 30, 50, 100, 150, 200, 400)
RATES = (0.85, 0.9, 0.95)


def within(n: int, p: float, points: float) -> float:
    """P(|k/n - p| <= points) for k ~ Binomial(n, p)."""
    k = np.arange(n + 1)
    return float(binom.pmf(k, n, p)[np.abs(k / n - p) <= points + 1e-12].sum())


def needed(p: float, points: float, chance: float) -> int:
    """The fewest audited rows from which the estimate is within `points` with at least `chance`, and stays so
    for every larger sample up to 2,000 rows (the probability is not monotone in n for small n)."""
    last = 0
    for n in range(2000, 0, -1):
        if within(n, p, points) < chance:
            last = n
            break
    return last + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=float, default=0.03)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    lines = [
        "# How close an estimate from n audited accepted rows can be",
        "",
        machine(["numpy", "scipy"]),
        "",
        f"Probability that the agreement of n audited rows is within {args.points:.0%} of the true agreement p "
        "(exact binomial; three seeds all within: its cube).",
        "",
        "| p | " + " | ".join(f"n = {n}" for n in ROWS) + " | rows for 90% | rows for 95% |",
        "|---|" + "---|" * (len(ROWS) + 2),
    ]
    for p in RATES:
        cells = " | ".join(f"{within(n, p, args.points):.2f}" for n in ROWS)
        lines.append(f"| {p} | {cells} | {needed(p, args.points, 0.9)} | {needed(p, args.points, 0.95)} |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
