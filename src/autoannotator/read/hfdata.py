"""Hugging Face `datasets` in and out: ``hf-disk:PATH[:SPLIT]`` names a dataset saved with ``save_to_disk``
(a `Dataset`, or a `DatasetDict` and one of its splits: default ``train``, or the only one) or a folder of
Arrow / Parquet files. Writing one saves a `Dataset` whose ``label`` is a `ClassLabel` over the task's labels
(``None`` where a row was left unresolved), beside the provenance columns. `datasets` is an optional
dependency (``pip install 'autoannotator[hf]'``); ``push_to_hub`` is left to the user.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoannotator.errors import InputError

if TYPE_CHECKING:
    from datasets import Dataset

PREFIX = "hf-disk:"
EXTRA = "pip install 'autoannotator[hf]'"
DEFAULT_SPLIT = "train"
CACHE = str(Path(tempfile.gettempdir()) / "autoannotator-hf")
"""Where a Parquet folder's Arrow conversion is cached (reused by the next read of the same files)."""


def is_hf(path: Path) -> bool:
    """Whether `path` names a Hugging Face dataset folder (``hf-disk:...``)."""
    return str(path).startswith(PREFIX)


def location(path: Path) -> tuple[Path, str | None]:
    """(folder, split or None) of ``hf-disk:PATH[:SPLIT]``; a trailing ``:NAME`` is a split unless the whole
    rest is an existing folder."""
    rest = str(path).removeprefix(PREFIX)
    folder, colon, split = rest.rpartition(":")
    if not colon or Path(rest).is_dir() or "/" in split:
        return Path(rest), None
    return Path(folder), split


def place(path: Path) -> Path:
    """The file or folder `path` names on disk: a Hugging Face dataset's folder, else `path` itself."""
    return location(path)[0] if is_hf(path) else path


def _datasets(path: Path) -> Any:
    """The `datasets` package, or one `InputError` naming `path` and the install command."""
    try:
        import datasets
    except ImportError:
        raise InputError(path, f"Hugging Face datasets need the `datasets` package: {EXTRA}") from None
    datasets.disable_progress_bars()
    return datasets


def load(path: Path) -> Dataset:
    """The dataset `path` names; `InputError` (one line) when it is missing, unreadable or lacks the split."""
    datasets = _datasets(path)
    folder, split = location(path)
    if not folder.is_dir():
        raise InputError(path, "no such folder")
    data_files = sorted(folder.glob("*.parquet")) or sorted(folder.glob("*.arrow"))
    try:
        if (folder / "state.json").is_file() or (folder / "dataset_dict.json").is_file():
            loaded = datasets.load_from_disk(str(folder))
        elif data_files and data_files[0].suffix == ".arrow":  # memory-mapped as they are
            loaded = datasets.concatenate_datasets([datasets.Dataset.from_file(str(f)) for f in data_files])
        elif data_files:
            files = [str(f) for f in data_files]
            loaded = datasets.load_dataset("parquet", data_files=files, split=DEFAULT_SPLIT, cache_dir=CACHE)
        else:
            raise InputError(
                path, "not a saved dataset (no state.json / dataset_dict.json) nor Arrow/Parquet files"
            )
    except InputError:
        raise
    except Exception as exc:  # datasets raises many types for a broken folder
        raise InputError(path, f"not a readable dataset: {str(exc).splitlines()[0][:200]}") from None
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        chosen = split or (DEFAULT_SPLIT if DEFAULT_SPLIT in loaded else splits[0] if len(splits) == 1 else None)
        if chosen not in loaded:
            raise InputError(path, f"name a split as hf-disk:{folder}:SPLIT; splits are {splits}")
        return loaded[chosen]
    if split is not None:
        raise InputError(path, f"a single dataset has no split {split!r}")
    dataset: Dataset = loaded
    return dataset


def columns(path: Path) -> list[str]:
    """The dataset's column names."""
    return list(load(path).column_names)


def num_rows(path: Path) -> int:
    return int(load(path).num_rows)


def rows(path: Path, fields: Sequence[str] | None = None, *, batch_size: int = 4096) -> Iterator[dict[str, Any]]:
    """The rows of the dataset (only `fields` when given), in order; `ClassLabel` values as label names."""
    dataset = load(path)
    if fields is not None:
        dataset = dataset.select_columns(list(fields))
    named = {name: f for name, f in dataset.features.items() if type(f).__name__ == "ClassLabel"}
    for batch in dataset.iter(batch_size=batch_size):
        for name, feature in named.items():
            batch[name] = [None if v is None or v < 0 else feature.int2str(v) for v in batch[name]]
        yield from (dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True))


def fingerprint(path: Path) -> str:
    """A digest of the dataset's content files (names, sizes and the metadata JSON): changes when it does."""
    folder, split = location(path)
    digest = hashlib.sha256(str(split).encode())
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(folder)}:{file.stat().st_size}".encode())
        if file.suffix == ".json":
            digest.update(file.read_bytes())
    return digest.hexdigest()


def write(
    path: Path,
    chunks: Iterable[list[dict[str, Any]]],
    *,
    kinds: dict[str, str],
    labels: Sequence[str],
) -> int:
    """Save rows as a `Dataset` at the folder `path` names (replacing it only once complete): ``label`` as a
    `ClassLabel` over `labels`, other columns by `kinds` (``string``, ``float``, ``int``); returns the count."""
    datasets = _datasets(path)
    folder, split = location(path)
    if split is not None:
        raise InputError(path, "write a dataset to a folder (hf-disk:PATH), not to a split")
    types = {"string": "string", "float": "float64", "int": "int64"}
    label = datasets.ClassLabel(names=list(labels))

    def feature(name: str, kind: str) -> Any:
        if kind == "labels":  # a multi-label set: the label column over the task's labels, others as names
            return datasets.Sequence(label if name == "label" else datasets.Value("string"))
        return label if name == "label" else datasets.Value(types[kind])

    features = datasets.Features({name: feature(name, kind) for name, kind in kinds.items()})
    index = {label: i for i, label in enumerate(labels)}
    multi = kinds.get("label") == "labels"
    count = 0

    def generate() -> Iterator[dict[str, Any]]:
        nonlocal count
        for chunk in chunks:
            for row in chunk:
                count += 1
                values = {n: row.get(n) if k == "labels" else _plain(row.get(n)) for n, k in kinds.items()}
                given = row.get("label")
                values["label"] = [index[g] for g in given or []] if multi else index.get(given or "")
                yield values

    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{folder.name}.", dir=folder.parent) as tmp:
        dataset = datasets.Dataset.from_generator(  # a fingerprint of our own: the rows stream from SQLite
            generate, features=features, cache_dir=str(Path(tmp) / "cache"), fingerprint=Path(tmp).name
        )
        staged = Path(tmp) / "dataset"
        dataset.save_to_disk(str(staged))
        old = Path(tmp) / "old"
        if folder.exists():
            folder.replace(old)
        staged.replace(folder)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(old)
    return count


def _plain(value: Any) -> Any:
    """Nested values (votes) as JSON text, as in CSV and Parquet outputs."""
    import json

    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
