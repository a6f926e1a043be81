"""Small helpers shared by the bundled specialists, and the text-keyed memo that keeps their outputs."""

from __future__ import annotations

import importlib.util
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from autoannotator.errors import SpecialistError
from autoannotator.specialists.base import FloatArray

DEVICE_ENV = "AUTOANNOTATOR_DEVICE"
"""Environment variable: where the PyTorch specialists compute, ``auto`` (unset), ``cpu`` or ``cuda``; the CLI's
``--device`` sets it (Ray's workers on this machine inherit it)."""
DEVICES = ("auto", "cpu", "cuda")
NEEDS_TORCH = "install the extra: pip install 'autoannotator[torch]'"


def torch_module() -> Any:
    """The ``torch`` module (one line naming the extra when it, or transformers, is not installed)."""
    if importlib.util.find_spec("transformers") is None:
        raise SpecialistError(NEEDS_TORCH)
    try:
        import torch
    except ImportError:
        raise SpecialistError(NEEDS_TORCH) from None
    return torch


def quiet_transformers() -> None:
    """No "Loading weights" progress bars from transformers under the run's own bar (call before loading)."""
    from transformers.utils import logging

    logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def resolve_device(device: str | None = None) -> Any:
    """The torch device for `device` (default ``$AUTOANNOTATOR_DEVICE``, else ``auto``): ``auto`` is CUDA when
    torch sees a GPU, else the CPU; ``cpu`` or ``cuda`` as said (one line when CUDA is asked for and there is
    none)."""
    torch = torch_module()
    device = device or os.environ.get(DEVICE_ENV) or "auto"
    if device not in DEVICES:
        raise SpecialistError(f"unknown device {device!r}: use auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise SpecialistError("--device cuda: torch sees no GPU here (use auto or cpu)")
    return torch.device("cuda" if device != "cpu" and torch.cuda.is_available() else "cpu")


def on_gpu() -> bool:
    """Whether the PyTorch specialists would compute on a GPU here (`resolve_device`; False without torch)."""
    try:
        return bool(resolve_device().type == "cuda")
    except SpecialistError:
        return False


def package_version(distribution: str) -> str:
    """The installed version of `distribution`, or ``"not installed"``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def extra_installed(extra: str) -> bool:
    """Whether every package the extra ``autoannotator[EXTRA]`` declares is installed (read from the installed
    metadata: ``NAME<bounds; extra == "EXTRA"``)."""
    marker = f'extra == "{extra}"'
    try:
        requires = metadata.requires("autoannotator") or []
    except metadata.PackageNotFoundError:  # run from a source tree: nothing to read, nothing to refuse
        return True
    declared = [r.split(";")[0] for r in requires if marker in r]
    names = [re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0] for r in declared]
    return bool(names) and all(package_version(name) != "not installed" for name in names)


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
