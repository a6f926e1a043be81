"""Small helpers shared by the bundled specialists."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from autoannotator.specialists.base import FloatArray


def package_version(distribution: str) -> str:
    """The installed version of `distribution`, or ``"not installed"``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def bundled(relative: str) -> Path:
    """A file or folder shipped in the package's data directory."""
    return Path(str(resources.files("autoannotator").joinpath(f"data/{relative}")))


def one_hot(columns: list[int], k: int) -> FloatArray:
    """(n, k) rows with a 1 in the given column of each row."""
    out = np.zeros((len(columns), k))
    out[np.arange(len(columns)), columns] = 1.0
    return out


def clip(texts: Sequence[str], max_chars: int | None) -> list[str]:
    """`texts` cut to their first `max_chars` characters (unchanged when `max_chars` is None)."""
    return list(texts) if max_chars is None else [t[:max_chars] for t in texts]
