"""Engines: where a run's rows are read and its specialists' first pass runs.

An engine yields a run's batches in input order (`Block`); the driver (`autoannotator.run.pipeline`) votes,
routes, reviews, commits and learns on each, whatever the engine, so the ledger, resume and the output are
the same. `local` reads and infers in the driver's process; `ray` reads the input as a stream of blocks on a
Ray cluster and runs the fixed parts of inference there (`autoannotator.run.engines.parts`), handing their
results to the driver's specialists before each batch is labelled.
"""

from __future__ import annotations

from autoannotator.errors import AutoAnnotatorError
from autoannotator.run.engines.base import Block, Engine, LocalEngine
from autoannotator.run.engines.parts import Part, parts, remember

__all__ = ["Block", "Engine", "LocalEngine", "Part", "build_engine", "parts", "remember"]


def build_engine(
    name: str, *, address: str | None = None, actors: int = 1, cpus: float = 1.0, gpus: float = 0.0
) -> Engine:
    """The engine called `name` (``local`` or ``ray``); the Ray settings are ignored by ``local``."""
    if name == "local":
        return LocalEngine()
    if name == "ray":
        try:
            from autoannotator.run.engines.ray_data import RayEngine
        except ImportError as error:
            raise AutoAnnotatorError(
                f"--engine ray needs the ray extra: pip install 'autoannotator[ray]' ({error})"
            ) from None
        return RayEngine(address=address, actors=actors, cpus=cpus, gpus=gpus)
    raise AutoAnnotatorError(f"unknown engine {name!r}: local or ray")
