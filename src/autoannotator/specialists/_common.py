"""Small helpers shared by the bundled specialists, and the text-keyed memo that keeps their outputs."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
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


class TextMemo:
    """Outputs kept by text: the `size` texts used last (least recently used ones go first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: OrderedDict[str, FloatArray] = OrderedDict()

    def keep(self, texts: Sequence[str], rows: Sequence[FloatArray] | FloatArray) -> None:
        """Keep one output row per text (replacing what was kept for it)."""
        for text, row in zip(texts, rows, strict=True):
            self._rows[text] = row
            self._rows.move_to_end(text)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def rows(self, texts: Sequence[str], compute: Callable[[list[str]], FloatArray]) -> list[FloatArray]:
        """The output row of each text, `compute` (n texts -> n rows) called once for the distinct texts not
        kept; every one of them kept after."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._rows]
        found = dict(zip(missing, compute(missing), strict=True)) if missing else {}
        found.update((t, self._rows[t]) for t in texts if t not in found)
        self.keep(list(found), list(found.values()))
        return [found[t] for t in texts]
