"""Run LLM-written adapter code in a separate, locked-down Python process (only with --allow-generated-code).

The code must define ``adapt(native, native_labels, task_labels) -> list`` that returns, for each row of
`native` (a list of probability lists, or of scores), a task label or None (abstain). It never runs in the
main process. The child process:

- starts as ``python -I -S`` with an empty environment (no secrets) in an empty temporary folder;
- has OS limits: CPU seconds, address space, no file writes (``RLIMIT_FSIZE`` 0), no new processes
  (``RLIMIT_NPROC`` 0 where the user is not root), and is killed after `timeout_s` of wall time;
- installs a Python audit hook (PEP 578, which cannot be removed) before the code is even compiled, that
  refuses: opening any file, sockets and DNS, starting processes or forking, ``os`` calls that touch the
  file system, ``ctypes``, and importing any module outside a small allowlist (math, re, json, statistics...).

Input goes in on stdin and the result comes back on stdout as JSON; anything else is an `AdapterError`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from autoannotator.errors import AdapterError

ALLOWED_MODULES = frozenset(
    {
        "math",
        "re",
        "json",
        "statistics",
        "collections",
        "itertools",
        "functools",
        "operator",
        "string",
        "unicodedata",
        "_strptime",
    }
)

_CHILD = r"""
import sys, json, math, re, statistics, collections, itertools, functools, operator, string, unicodedata
data = json.loads(sys.stdin.read())
ALLOWED = set(data["allowed"])
BLOCKED_PREFIXES = ("open", "os.", "socket.", "subprocess.", "shutil.", "ctypes.", "pty.", "fcntl.", "mmap.",
                    "sqlite3.", "urllib.", "http.", "ftplib.", "smtplib.", "webbrowser.", "glob.", "pathlib.",
                    "builtins.input", "resource.", "signal.", "sys.setrecursionlimit", "_posixsubprocess")
def hook(event, args):
    if event == "import":
        name = str(args[0]).split(".")[0]
        if name not in ALLOWED and name not in sys.builtin_module_names:
            raise PermissionError(f"sandbox: import of {args[0]} refused")
        return
    if event.startswith(BLOCKED_PREFIXES):
        raise PermissionError(f"sandbox: {event} refused")
sys.addaudithook(hook)
del hook
namespace = {"__builtins__": __builtins__}
try:
    exec(compile(data["code"], "<adapter>", "exec"), namespace)
    result = namespace["adapt"](data["native"], data["native_labels"], data["task_labels"])
    sys.stdout.write(json.dumps({"ok": [None if r is None else str(r) for r in result]}))
except BaseException as exc:
    sys.stdout.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:500]}))
"""


def _limits(cpu_s: int, memory_mb: int) -> None:
    """In the child, before exec: CPU, memory, file size and process limits."""
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.getuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def run_adapter_code(
    code: str,
    native: Sequence[Any],
    native_labels: Sequence[str],
    task_labels: Sequence[str],
    *,
    cpu_s: int = 5,
    memory_mb: int = 512,
    timeout_s: float = 20.0,
) -> list[str | None]:
    """The task label (or None) the sandboxed `code` gives each native output; `AdapterError` on any failure,
    including a label that is not one of `task_labels`."""
    payload = json.dumps(
        {
            "code": code,
            "native": [_plain(x) for x in native],
            "native_labels": list(native_labels),
            "task_labels": list(task_labels),
            "allowed": sorted(ALLOWED_MODULES),
        }
    )
    with tempfile.TemporaryDirectory(prefix="aa-sandbox-") as empty:
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-S", "-c", _CHILD],
                input=payload,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                cwd=empty,
                env={"PATH": "/usr/bin:/bin"},
                check=False,
                preexec_fn=lambda: _limits(cpu_s, memory_mb),
            )
        except subprocess.TimeoutExpired:
            raise AdapterError(f"generated adapter ran past {timeout_s:.0f} s and was killed") from None
    try:
        answer = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AdapterError(f"generated adapter died (exit {done.returncode}): {done.stderr[-300:]}") from None
    if "error" in answer:
        raise AdapterError(f"generated adapter failed: {answer['error']}")
    labels: list[str | None] = answer["ok"]
    if len(labels) != len(native):
        raise AdapterError(f"generated adapter returned {len(labels)} labels for {len(native)} rows")
    unknown = {label for label in labels if label is not None and label not in task_labels}
    if unknown:
        raise AdapterError(f"generated adapter returned {len(unknown)} value(s) that are not task labels")
    return labels


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value
