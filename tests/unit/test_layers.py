"""The import graph: no cycle, and every module imports only from its own layer or below (type-only imports
under ``if TYPE_CHECKING:`` excepted). The layers follow the data's way through a run, bottom first."""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path

import networkx as nx

LAYERS = (
    ("version", "errors", "plugins", "cache"),  # foundations
    ("specialists", "llm"),  # models and providers: no knowledge of a run
    ("read",),  # rows in: files, datasets, the task, adapters
    ("vote",),  # the specialists' votes and how they are combined
    ("ledger",),  # storage: schema, migrations, transactions
    ("review", "testing"),  # the reviewer (an LLM, a replay, people); local servers for tests
    ("trust",),  # audit, acceptance, references (reviewer, truth, label model), evidence, routing
    ("learn",),  # staged training on reviewed rows
    ("handoff",),  # sheets and Label Studio for people
    ("controller",),  # choose specialists, write adapters
    ("run",),  # config, checks, batches, engines, the driver, the estimate, outputs
    ("report",),  # evaluation, text, plots, page
    ("cli", "autoannotator", "__main__"),  # the user's surface
)
RANK = {group: i for i, groups in enumerate(LAYERS) for group in groups}


def modules() -> dict[str, Path]:
    root = Path(str(resources.files("autoannotator")))
    found = {}
    for path in root.rglob("*.py"):
        parts = ("autoannotator", *path.relative_to(root).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(path: Path, known: dict[str, Path]) -> set[str]:
    """The autoannotator modules `path` imports at run time."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("autoannotator"):
                submodules = {f"{child.module}.{a.name}" for a in child.names} & set(known)
                found.update(submodules)
                if len(submodules) < len(child.names):  # a name defined in the module itself
                    found.add(child.module)
            elif isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("autoannotator"))
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in known}


def group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def graph() -> nx.DiGraph:
    known = modules()
    edges = nx.DiGraph()
    edges.add_nodes_from(known)
    for name, path in known.items():
        # a module of a subpackage may use the subpackage's own names (cli.run: cli.common), never the root's
        inside = {
            m
            for m in imported(path, known)
            if m != name and not (m != "autoannotator" and name.startswith(m + "."))
        }
        edges.add_edges_from((name, m) for m in inside)
    return edges


def test_every_module_has_a_layer() -> None:
    assert sorted({group(m) for m in modules()} - set(RANK)) == []


def test_no_import_cycle() -> None:
    assert list(nx.simple_cycles(graph())) == []


def test_imports_only_go_down() -> None:
    upward = [
        f"{a} (layer {RANK[group(a)]}) imports {b} (layer {RANK[group(b)]})"
        for a, b in graph().edges
        if RANK[group(b)] > RANK[group(a)]
    ]
    assert upward == []


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    """The walker sees imports inside functions too, and skips type-only ones."""
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from autoannotator.cli import app\n"
        "def f():\n    from autoannotator.run.pipeline import annotate\n"
        "    from autoannotator.read import hfdata\n",
        encoding="utf-8",
    )
    assert imported(source, modules()) == {"autoannotator.run.pipeline", "autoannotator.read.hfdata"}
