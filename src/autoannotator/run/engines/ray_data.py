"""The Ray engine: the input read as a stream of blocks by a Ray Data datasource, the fixed parts of inference
(`autoannotator.run.engines.parts`) computed by `map_batches` over a pool of actors (each builds its models once;
Ray restarts an actor that dies and recomputes its block), the results streamed back to the driver in input
order.

Every row of a block carries its batch number, so the driver rebuilds the run's batches exactly, whatever
blocks Ray makes of them. Outputs travel as raw float64 bytes per row with their row shape.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import ray
import ray.data
from ray.data import Datasource, ReadTask
from ray.data.block import BlockMetadata

from autoannotator.read.io import Record, Row, Skip, Source
from autoannotator.run.engines.base import Block
from autoannotator.run.engines.parts import Compute, Part
from autoannotator.specialists.base import FloatArray
from autoannotator.specialists.features import THREADS_ENV

BLOCK_BYTES = 64 * 1024
"""Ray Data's block size: by default it gathers a task's output into blocks of up to 128 MiB, which would make
the whole read one block for one actor, delivered at the end. At 64 KiB a block is a few hundred short texts:
they spread over the actors and stream to the driver as they are done."""


class RayEngine:
    """`address`: a running cluster (``ray start --head``; None starts a local runtime on 127.0.0.1);
    `actors` inference actors with `cpus` CPUs (one inference thread each per CPU) and `gpus` GPUs each."""

    def __init__(
        self, *, address: str | None = None, actors: int = 1, cpus: float = 1.0, gpus: float = 0.0
    ) -> None:
        self.address = address
        self.actors = actors
        self.cpus = cpus
        self.gpus = gpus

    def blocks(
        self, source: Source, batch_size: int, *, start: int, parts: Sequence[Part], first: int | None = None
    ) -> Iterator[Block]:
        started = not ray.is_initialized()
        if started:
            _init(self.address)
        try:
            yield from self._blocks(source, (batch_size, first), start, parts)
        finally:
            if started:
                ray.shutdown()

    def _blocks(
        self, source: Source, sizes: tuple[int, int | None], start: int, parts: Sequence[Part]
    ) -> Iterator[Block]:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # the driver commits in input order
        context.enable_progress_bars = False  # the CLI has its own
        context.print_on_execution_start = False
        context.target_max_block_size = BLOCK_BYTES
        reader = InputDatasource(source.path, source.text_field, source.id_field, sizes, start)
        # a read with no CPU of its own is not fused into the actors: it feeds all of them
        dataset = ray.data.read_datasource(reader, override_num_blocks=1, num_cpus=0)
        if parts:
            dataset = dataset.map_batches(
                Infer,
                fn_constructor_kwargs={"parts": list(parts), "threads": max(int(self.cpus), 1)},
                batch_size=None,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=self.actors),
                num_cpus=self.cpus,
                num_gpus=self.gpus or None,
            )
        chunks = dataset.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2)
        yield from regroup(chunks, [p.key for p in parts])


def regroup(chunks: Iterable[dict[str, Any]], keys: Sequence[str]) -> Iterator[Block]:
    """The run's batches again from column chunks in input order, however Ray cut them; the outputs of the
    parts named by `keys` decoded for each batch's usable rows."""
    rows: list[Row] = []
    outputs: dict[str, list[FloatArray]] = {key: [] for key in keys}
    current, read = -1, 0
    for chunk in chunks:
        for i in range(len(chunk["pos"])):
            if int(chunk["batch"][i]) != current and rows:
                yield _block(rows, read, outputs)
                rows, outputs = [], {key: [] for key in keys}
            current, read = int(chunk["batch"][i]), int(chunk["bytes"][i])
            row = _row(chunk, i)
            rows.append(row)
            if isinstance(row, Record):
                for key, values in outputs.items():
                    shape = tuple(int(d) for d in str(chunk[f"{key}#shape"][i]).split(",") if d)
                    values.append(np.frombuffer(chunk[key][i], dtype=np.float64).reshape(shape))
    if rows:
        yield _block(rows, read, outputs)


def _init(address: str | None) -> None:
    """Join the cluster at `address`, or start a local Ray runtime on 127.0.0.1; quiet either way."""
    for name in ("ray", "ray.data"):  # the run prints its own progress; Ray's notes would drown it
        logging.getLogger(name).setLevel(logging.ERROR)
    # Ray's core worker logs an error line for every restartable actor whose arguments live in the object
    # store (ray-project/ray#53727): true of every Ray Data actor, and not an error here. Real failures raise.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    # one read task streams every block: Ray's warning that one input cannot feed several actors is wrong here
    warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
    if address is None:
        ray.init(
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    else:
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)


def _block(rows: list[Row], read: int, outputs: dict[str, list[FloatArray]]) -> Block:
    return Block(rows, read, {key: np.stack(values) for key, values in outputs.items() if values})


def _row(chunk: dict[str, Any], i: int) -> Row:
    pos, ident = int(chunk["pos"][i]), (str(chunk["id"][i]) if chunk["has_id"][i] else None)
    if chunk["reason"][i]:
        return Skip(pos, ident, str(chunk["field"][i]), str(chunk["reason"][i]))
    assert ident is not None
    return Record(pos, ident, str(chunk["text"][i]))


class InputDatasource(Datasource):
    """The run's input as one Ray Data read task streaming its batches from row `start`, `sizes` = (batch size,
    first batch's) (the reader of the local engine, `autoannotator.read.io.Source`, so rows, ids, skips and batches
    are the same)."""

    def __init__(
        self, path: Path, text_field: str, id_field: str | None, sizes: tuple[int, int | None], start: int
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.path = path
        self.text_field = text_field
        self.id_field = id_field
        self.sizes = sizes
        self.start = start

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        meta = BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None)
        return [ReadTask(self._read, meta)]

    def _read(self) -> Iterator[pa.Table]:
        source = Source(self.path, text_field=self.text_field, id_field=self.id_field)
        size, first = self.sizes
        for number, rows in enumerate(source.batches(size, start=self.start, first=first)):
            yield pa.table(
                {
                    "batch": [number] * len(rows),
                    "pos": [r.pos for r in rows],
                    "id": [r.id or "" for r in rows],
                    "has_id": [r.id is not None for r in rows],
                    "text": [r.text if isinstance(r, Record) else "" for r in rows],
                    "field": [r.field if isinstance(r, Skip) else "" for r in rows],
                    "reason": [r.reason if isinstance(r, Skip) else "" for r in rows],
                    "bytes": [source.bytes_read] * len(rows),
                }
            )


class Infer:
    """A Ray actor's work: every part's outputs for the usable rows of a block, as bytes and shape columns.
    The parts are built on the first block (`THREADS_ENV` set first, for specialists that read it)."""

    def __init__(self, parts: Sequence[Part], threads: int) -> None:
        self.parts = parts
        self.threads = threads

    @cached_property
    def computes(self) -> list[Compute]:
        os.environ[THREADS_ENV] = str(self.threads)
        return [part.build(self.threads) for part in self.parts]

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        usable = batch["reason"] == ""
        texts = [str(t) for t in batch["text"][usable]]
        unique = list(dict.fromkeys(texts))
        index = {t: i for i, t in enumerate(unique)}
        rows = [index[t] for t in texts]
        for part, compute in zip(self.parts, self.computes, strict=True):
            out = np.asarray(compute(unique), dtype=np.float64) if unique else np.zeros((0,))
            cells, shapes = np.full(len(usable), b"", dtype=object), np.full(len(usable), "", dtype=object)
            cells[usable] = [out[r].tobytes() for r in rows]
            shapes[usable] = ",".join(str(d) for d in out.shape[1:])
            batch[part.key], batch[f"{part.key}#shape"] = cells, shapes
        return batch
