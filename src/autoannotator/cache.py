"""Where models assembled from package parts are kept (the local reviewer's GGUF, all-mpnet-base-v2)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "AUTOANNOTATOR_CACHE"


def cache_dir() -> Path:
    """``$AUTOANNOTATOR_CACHE``, else ``$XDG_CACHE_HOME/autoannotator``, else ``~/.cache/autoannotator``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autoannotator"
