"""The code's shape: no function whose body runs over 60 lines (a command's option declarations are its
signature, not its body)."""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path

MAX_BODY = 60


def long_functions(root: Path) -> list[str]:
    """`file:function (lines)` for every function under `root` whose body (docstring included) is too long."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.body[-1].end_lineno or node.body[-1].lineno) - node.body[0].lineno + 1
                if lines > MAX_BODY:
                    found.append(f"{path.relative_to(root)}:{node.name} ({lines} lines)")
    return found


def test_no_long_function() -> None:
    assert long_functions(Path(str(resources.files("autoannotator")))) == []


def test_the_check_counts_the_body(tmp_path: Path) -> None:
    """A long signature is not counted; a long body is."""
    params = "".join(f"    p{i}: int,\n" for i in range(80))
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_BODY + 1))
    (tmp_path / "m.py").write_text(f"def short(\n{params}) -> None:\n    pass\n\n\ndef long() -> None:\n{body}")
    assert long_functions(tmp_path) == [f"m.py:long ({MAX_BODY + 1} lines)"]
