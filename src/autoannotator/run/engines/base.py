"""The engine interface, and the local engine (everything in the driver's process)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from autoannotator.read.io import Row, Source
from autoannotator.run.engines.parts import Part
from autoannotator.specialists.base import FloatArray


@dataclass(frozen=True)
class Block:
    """One batch of a run: its rows in input order, the input's bytes read once it was read, and what the
    engine computed elsewhere for it: part key -> (r, ...) outputs for its r usable rows, in order."""

    rows: list[Row]
    bytes_read: int
    computed: Mapping[str, FloatArray] = field(default_factory=dict)


class Engine(Protocol):
    """Reads a run's input and runs what it can of the specialists' inference."""

    def blocks(
        self, source: Source, batch_size: int, *, start: int, parts: Sequence[Part], first: int | None = None
    ) -> Iterator[Block]:
        """The input's batches (`Source.batches`: `first` rows, then doubling up to `batch_size`) from position
        `start`, in input order, with the `parts` it computed."""
        ...


class LocalEngine:
    """Reads the input in the driver and computes nothing ahead: the specialists run on the driver's thread
    pool when a batch is labelled."""

    def blocks(
        self, source: Source, batch_size: int, *, start: int, parts: Sequence[Part], first: int | None = None
    ) -> Iterator[Block]:
        for rows in source.batches(batch_size, start=start, first=first):
            yield Block(rows, source.bytes_read)
