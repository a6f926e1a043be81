"""Streaming dataset readers (CSV, JSONL, Parquet) and atomic writers, with stable row ids.

Rows arrive in batches of `Record` (usable) and `Skip` (unusable, with the reason); a file is never loaded
whole. A row's `pos` is its 0-based position among the data rows; messages name rows 1-based (``row 1`` is
the first data row). Without an id field, a row's id is ``<12 hex of sha256(text)>-<pos>``.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from autoannotator.errors import InputError
from autoannotator.read import hfdata

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class Record:
    """A usable row."""

    pos: int
    id: str
    text: str


@dataclass(frozen=True)
class Skip:
    """A row that cannot be labelled, kept with its reason."""

    pos: int
    id: str | None
    field: str
    reason: str


Row = Record | Skip


def file_format(path: Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the file suffix, ``hf-disk`` for a Hugging Face dataset folder
    (see `autoannotator.read.hfdata`); `InputError` for anything else."""
    if hfdata.is_hf(path):
        return "hf-disk"
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise InputError(path, f"unknown format {path.suffix!r}; use one of {sorted(FORMATS)}") from None


def row_id(text: str, pos: int) -> str:
    """Content hash plus position: stable across runs on the same file."""
    return f"{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}-{pos}"


def batch_ends(size: int, first: int) -> Iterator[int]:
    """Where a run's batches end, as input positions (exclusive): the first holds `first` rows, each next one twice
    as many, up to `size`: (1000, 100) -> 100, 300, 700, 1500, 2500, 3500, ... Small first batches let trust be
    measured and the trainable specialists learn before most of a small input is labelled."""
    end, step = 0, max(min(first, size), 1)
    while True:
        end += step
        yield end
        step = min(step * 2, size)


class Source:
    """A dataset file read as a stream of batches. `bytes_read` / `size` tell the progress."""

    def __init__(
        self, path: Path, *, text_field: str = "text", id_field: str | None = None, every_column: bool = False
    ) -> None:
        self.path = path
        self.text_field = text_field
        self.id_field = id_field
        self.every_column = every_column
        """Read every column (for `fields`), not only the text and id."""
        self.bytes_read = 0

    @functools.cached_property
    def size(self) -> int:
        """File size in bytes (rows, for a Hugging Face dataset: `bytes_read` counts rows too); read once, as
        the progress bar asks for it after every batch."""
        return hfdata.num_rows(self.path) if hfdata.is_hf(self.path) else self.path.stat().st_size

    def batches(self, batch_size: int, *, start: int = 0, first: int | None = None) -> Iterator[list[Row]]:
        """The input's batches (see `batch_ends`: `first` rows, then doubling up to `batch_size`; all of
        `batch_size` when `first` is None), beginning with the row at position `start` (a batch boundary
        on resume, else the rest of its batch comes first)."""
        if not exists(self.path):
            raise InputError(self.path, "file not found")
        ends = batch_ends(batch_size, batch_size if first is None else first)
        end = next(ends)
        batch: list[Row] = []
        for pos, values in enumerate(self._values()):
            if pos < start:
                continue
            while end <= pos:
                end = next(ends)
            batch.append(self._row(pos, values))
            if pos + 1 == end:
                yield batch
                batch = []
        if batch:
            yield batch

    def column(self, field: str) -> Iterator[tuple[str, Any]]:
        """(row id, value of `field`) of every usable row, ids as `batches` gives them (for gold labels)."""
        if not exists(self.path):
            raise InputError(self.path, "file not found")
        for pos, values in enumerate(self._values()):
            row = self._row(pos, values)
            if isinstance(row, Record) and isinstance(values, dict):
                yield row.id, values.get(field)

    def fields(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(position, field values) of every data row that parses, positions as `batches` gives them (with
        `every_column`: all its fields, for the output's kept columns)."""
        if not exists(self.path):
            raise InputError(self.path, "file not found")
        for pos, values in enumerate(self._values()):
            if isinstance(values, dict):
                yield pos, values

    def _values(self) -> Iterator[dict[str, Any] | Skip]:
        """One item per data row: its field values, or a `Skip` when the row cannot be parsed."""
        reader = {"csv": self._csv, "jsonl": self._jsonl, "parquet": self._parquet, "hf-disk": self._hf}
        return reader[file_format(self.path)]()

    def _row(self, pos: int, values: dict[str, Any] | Skip) -> Row:
        if isinstance(values, Skip):
            return Skip(pos, None, values.field, values.reason)
        raw_id = values.get(self.id_field) if self.id_field else None
        ident = None if raw_id is None else _clean(raw_id)
        if self.id_field and (ident is None or not ident.strip()):
            return Skip(pos, None, self.id_field, "missing or empty id")
        text = values.get(self.text_field)
        problem = None
        if text is None:
            problem = "missing text"
        elif not isinstance(text, str):
            problem = f"text is a {type(text).__name__}, not a string"
        elif _has_bad_bytes(text):
            problem = "not valid UTF-8"
        elif not text.strip():
            problem = "empty or whitespace-only text"
        if problem is not None:
            return Skip(pos, ident, self.text_field, problem)
        assert isinstance(text, str)
        if ident is not None and _has_bad_bytes(ident):
            return Skip(pos, None, str(self.id_field), "id is not valid UTF-8")
        return Record(pos, ident if ident is not None else row_id(text, pos), text)

    def _missing(self, columns: Iterable[str]) -> None:
        names = list(columns)
        for field in (self.text_field, self.id_field):
            if field is not None and field not in names:
                raise InputError(self.path, f"no column {field!r}; columns are {names}", field=field)

    def _csv(self) -> Iterator[dict[str, Any] | Skip]:
        with self.path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
            reader = csv.reader(text)
            try:
                header = next(reader)
            except StopIteration:
                raise InputError(self.path, "empty file: no header row") from None
            except csv.Error as exc:
                raise InputError(self.path, f"unreadable header: {exc}", row=0) from None
            self._missing(header)
            width = len(header)
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    yield Skip(-1, None, "", f"unparseable CSV: {exc}")
                    continue
                self.bytes_read = raw.tell()
                if not cells:  # a blank line is not a row
                    continue
                if len(cells) < width:
                    yield Skip(-1, None, "", f"{len(cells)} fields where the header has {width}")
                    continue
                yield dict(zip(header, cells, strict=False))

    def _jsonl(self) -> Iterator[dict[str, Any] | Skip]:
        checked = False
        with self.path.open("rb") as raw:
            for line in raw:
                self.bytes_read += len(line)
                if not line.strip():
                    continue
                try:
                    value = json.loads(line.decode("utf-8"))
                except UnicodeDecodeError:
                    yield Skip(-1, None, "", "not valid UTF-8")
                    continue
                except (json.JSONDecodeError, RecursionError) as exc:
                    yield Skip(-1, None, "", f"invalid JSON: {str(exc)[:120]}")
                    continue
                if not isinstance(value, dict):
                    yield Skip(-1, None, "", f"a JSON {type(value).__name__}, not an object")
                    continue
                if not checked:
                    self._missing(value)
                    checked = True
                yield value
        if not checked and self.bytes_read == 0:
            raise InputError(self.path, "empty file")

    def _parquet(self) -> Iterator[dict[str, Any] | Skip]:
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(self.path)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise InputError(self.path, f"not a readable Parquet file: {exc}") from None
        self._missing(parquet.schema_arrow.names)
        columns = None if self.every_column else [c for c in (self.text_field, self.id_field) if c is not None]
        total = max(parquet.metadata.num_rows, 1)
        done = 0
        for table in parquet.iter_batches(batch_size=4096, columns=columns):
            yield from table.to_pylist()
            done += table.num_rows
            self.bytes_read = self.size * done // total

    def check(self) -> None:
        """Raise `InputError` unless a Hugging Face dataset input loads and has the text (and id) column."""
        self._missing(hfdata.columns(self.path))

    def _hf(self) -> Iterator[dict[str, Any] | Skip]:
        self.check()
        for done, row in enumerate(hfdata.rows(self.path), start=1):
            self.bytes_read = done
            yield row


def exists(path: Path) -> bool:
    """Whether the input `path` names is there: a file, or a Hugging Face dataset's folder."""
    return hfdata.location(path)[0].is_dir() if hfdata.is_hf(path) else path.is_file()


def beside(out: Path, suffix: str, *, stem: bool = False) -> Path:
    """A companion of the output `out`: its name (or `stem`) plus `suffix`, in its folder (for a Hugging Face
    dataset, beside the dataset's folder): the run folder, the skipped rows, a config."""
    target = hfdata.place(out)
    return target.with_name((target.stem if stem else target.name) + suffix)


def _clean(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _has_bad_bytes(text: str) -> bool:
    """True when `text` holds surrogate escapes (undecodable bytes) or NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return "\x00" in text


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it only when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    Path(tmp).chmod(0o666 & ~umask)  # mkstemp makes 0600; the result gets an ordinary file's mode
    try:
        yield Path(tmp)
        Path(tmp).replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()


ColumnType = Literal["string", "float", "int", "labels"]
"""A column's type in Parquet and dataset outputs (``labels``: a list of label names)."""


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula (OWASP CSV injection)."""


def neutralise(cell: Any) -> Any:
    """A CSV cell a spreadsheet will not evaluate: a text starting like a formula gets a leading ``'``."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(FORMULA_START) else cell


def unneutralise(cell: str) -> str:
    """Undo `neutralise` (for cells read back from a sheet we wrote)."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_START) else cell


def write_rows(
    path: Path,
    chunks: Iterable[list[dict[str, Any]]],
    *,
    columns: dict[str, ColumnType],
    csv_safe: bool = False,
    labels: Sequence[str] = (),
) -> int:
    """Write dict rows atomically as JSONL, CSV, Parquet (by suffix) or a Hugging Face dataset (``hf-disk:``,
    its ``label`` a `ClassLabel` over `labels`), keeping `columns` in order (their types fix the Parquet and
    dataset schema); nested values become JSON text except in JSONL; with `csv_safe`, CSV cells that start
    like a formula are neutralised. Returns the row count."""
    fmt = file_format(path)
    if fmt == "hf-disk":
        return hfdata.write(path, chunks, kinds=dict(columns), labels=labels)
    count = 0
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            count = _write_parquet(tmp, chunks, columns)
        else:
            with tmp.open("w", encoding="utf-8", newline="") as out:
                count = _write_text(out, fmt, chunks, list(columns), csv_safe=csv_safe)
    return count


def read_rows(path: Path, *, nested: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL, CSV or Parquet file written by `write_rows`; the `nested` fields, JSON text in CSV
    and Parquet, are parsed back. CSV cells stay strings."""
    for row in _read(path, file_format(path)):
        for field in nested:
            if isinstance(row.get(field), str):
                row[field] = json.loads(row[field])
        yield row


def _read(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    if fmt == "hf-disk":
        yield from hfdata.rows(path)
        return
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches():
            yield from batch.to_pylist()
        return
    with path.open(encoding="utf-8", newline="") as f:
        if fmt == "csv":
            yield from csv.DictReader(f)
        else:
            yield from (json.loads(line) for line in f if line.strip())


def _cell(value: Any, kind: ColumnType) -> Any:
    """A Parquet cell: a list of labels as it is, other nested values as JSON text."""
    return value if kind == "labels" else _flat(value)


def _flat(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def _write_text(
    out: Any, fmt: str, chunks: Iterable[list[dict[str, Any]]], columns: list[str], *, csv_safe: bool
) -> int:
    count = 0
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for chunk in chunks:
        for row in chunk:
            if writer is not None:
                cells = {c: _flat(row.get(c)) for c in columns}
                writer.writerow({c: neutralise(v) for c, v in cells.items()} if csv_safe else cells)
            else:
                out.write(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) + "\n")
        count += len(chunk)
    return count


def _write_parquet(tmp: Path, chunks: Iterable[list[dict[str, Any]]], columns: dict[str, ColumnType]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"string": pa.string(), "float": pa.float64(), "int": pa.int64(), "labels": pa.list_(pa.string())}
    schema = pa.schema([(name, types[kind]) for name, kind in columns.items()])
    count = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for chunk in chunks:
            data = [
                {c: row.get(c) if k == "labels" else _flat(row.get(c)) for c, k in columns.items()}
                for row in chunk
            ]
            writer.write_table(pa.Table.from_pylist(data, schema=schema))
            count += len(chunk)
    return count
