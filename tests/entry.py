"""The command line, run by the tests: in this process through the application ``python -m autoannotator``
runs (`autoannotator.cli.app`: the same options, checks, output and exit codes; one interpreter per test
worker, so the packaged models load once, not once per command), or with ``child=True`` in a child process as
a user's shell runs it (`autoannotator.testing.run_cli`: for what needs a process of its own)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from typer.testing import CliRunner

from autoannotator import testing
from autoannotator.cli import app


def run_cli(
    *args: str | Path,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout_s: float = 600,
    child: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``autoannotator ARGS`` (with `env` as the whole environment, like a child's); with `check`, a
    non-zero exit raises `AssertionError` carrying its stderr. An exception the application does not turn into
    an exit code is written to stderr as a traceback, as the interpreter would. `timeout_s` bounds a child."""
    if child:
        return testing.run_cli(*args, env=env, check=check, timeout_s=timeout_s)
    argv = [str(a) for a in args]
    with _isolated(["autoannotator", *argv], env):
        result = CliRunner().invoke(app, argv, catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    if check and result.exit_code != 0:
        raise AssertionError(f"exit {result.exit_code}\n{stderr}")
    return subprocess.CompletedProcess([sys.executable, "-m", "autoannotator", *argv], result.exit_code,
                                       result.stdout, stderr)  # fmt: skip


@contextmanager
def _isolated(argv: list[str], env: dict[str, str] | None) -> Iterator[None]:
    """The process state a command may change, restored after it: the environment (replaced by `env` while it
    runs), `sys.argv`, and the Ctrl-C handler the labelling commands install."""
    saved_env, saved_argv = dict(os.environ), sys.argv
    handler = signal.getsignal(signal.SIGINT)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    sys.argv = argv
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
        signal.signal(signal.SIGINT, handler)
