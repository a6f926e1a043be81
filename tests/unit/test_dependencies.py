"""pyproject.toml declares compatible ranges; constraints.txt pins the exact tested set, inside those ranges."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def declared() -> dict[str, list[Requirement]]:
    """Requirements by group: ``default`` and each extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {"default": project["dependencies"], **project["optional-dependencies"]}
    return {group: [Requirement(r) for r in reqs] for group, reqs in groups.items()}


def pinned() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for raw in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_every_declared_dependency_is_a_range_and_its_pin_satisfies_it() -> None:
    pins = pinned()
    for group, requirements in declared().items():
        for req in requirements:
            assert not any(s.operator == "==" for s in req.specifier), f"{group}: {req} is an exact pin"
            version = pins.get(canonicalize_name(req.name))
            assert version is not None, f"{group}: {req.name} is not pinned in constraints.txt"
            assert req.specifier.contains(version, prereleases=True), f"{group}: {req.name}=={version} vs {req}"


def test_the_default_install_needs_no_compiler() -> None:
    """The one dependency that builds from source (llama.cpp) lives in the ``local`` extra only."""
    default = {canonicalize_name(r.name) for r in declared()["default"]}
    local = {canonicalize_name(r.name) for r in declared()["local"]}
    assert "llama-cpp-python" not in default and "llama-cpp-python" in local
