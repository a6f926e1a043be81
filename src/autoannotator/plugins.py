"""Third-party extensions found through Python entry points (installed packages declare them in pyproject):

- ``autoannotator.specialists``: NAME = a factory ``(task or None) -> Specialist``;
- ``autoannotator.providers``: NAME = an `autoannotator.llm.registry.Provider` (``--llm NAME:ARGUMENT``);
- ``autoannotator.strategies``: NAME = an `autoannotator.review.strategy.Strategy` (``--review NAME``).
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from autoannotator.errors import AutoAnnotatorError


@cache
def plugins(group: str) -> dict[str, object]:
    """name -> loaded object of every entry point in `group` (loaded once per process)."""
    found: dict[str, object] = {}
    for point in entry_points(group=group):
        try:
            found[point.name] = point.load()
        except Exception as exc:  # a broken plugin must say which one it is
            raise AutoAnnotatorError(f"plugin {point.name!r} ({point.value}, group {group}): {exc!r}") from None
    return found
