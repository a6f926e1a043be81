"""Shared by the benchmarks: the machine line of a report, and printing / saving it."""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib.metadata import version
from pathlib import Path


def machine(packages: list[str]) -> str:
    """A Markdown bullet list: date, machine and the versions of `packages`."""
    return (
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, {platform.system()} {platform.release()}; Python {platform.python_version()}\n"
        f"- versions: {', '.join(f'{p} {version(p)}' for p in packages)}"
    )


def emit(lines: list[str], out: Path | None) -> None:
    """Print the report and, when `out` is given, write it there too."""
    report = "\n".join(lines) + "\n"
    print(report)
    if out is not None:
        out.write_text(report, encoding="utf-8")
