"""The engines' logic without a cluster: what is computed away from the driver, how it travels (the Ray
engine's columns), and that the driver's specialists then answer from it, bit for bit."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autoannotator.read.io import Record, Source
from autoannotator.read.task import load_task
from autoannotator.run.config import RunConfig
from autoannotator.run.engines import LocalEngine, parts, remember
from autoannotator.run.engines.parts import EmbeddingPart, SpecialistPart
from autoannotator.run.pipeline import prepare
from autoannotator.specialists._common import TextMemo
from autoannotator.specialists.base import Card, FloatArray
from autoannotator.specialists.features import OnnxMiniLM
from autoannotator.vote.inference import Remembered

ray_data = pytest.importorskip("autoannotator.run.engines.ray_data", reason="the ray extra is not installed")


def texts_of(example_csv: Path, n: int) -> list[str]:
    with example_csv.open(encoding="utf-8", newline="") as f:
        return [r["text"] for r in csv.DictReader(f)][:n]


def test_an_embedding_does_not_depend_on_its_batch_or_threads(example_csv: Path) -> None:
    texts = texts_of(example_csv, 120)
    whole = OnnxMiniLM(threads=2).embed(texts)
    part = OnnxMiniLM(threads=1).embed(texts[37:81])  # other padding, other thread count
    assert np.array_equal(whole[37:81], part)


def test_remembered_embeddings_are_used_and_not_computed_again(example_csv: Path) -> None:
    texts = texts_of(example_csv, 40)
    encoder = OnnxMiniLM()
    encoder.remember(texts, np.full((40, 384), 7.0))
    assert np.array_equal(encoder.transform(texts[5:9]), np.full((4, 384), 7.0))


class Counting:
    """A fixed specialist that counts the texts it is asked about."""

    card = Card(name="counting", description="test", task_kinds=("any",), output="score",
                native_labels=("negative", "positive"), cuts=(0.0,), licence="MIT", size_mb=0, speed="",
                source="test", version="1")  # fmt: skip

    def __init__(self) -> None:
        self.asked = 0

    def predict(self, texts: Sequence[str]) -> FloatArray:
        self.asked += len(texts)
        return np.array([float(len(t) % 3) - 1 for t in texts])


def test_parts_are_the_fixed_specialists_and_the_shared_encoder(tmp_path: Path) -> None:
    task = load_task("sentiment-2")
    prepared = prepare(RunConfig(input=tmp_path / "x.csv", task=task, specialists=("vader", "minilm", "tfidf")))
    found = parts(prepared, task)
    assert [p.key for p in found] == ["specialist:vader", "embedding:minilm"]
    assert isinstance(found[0], SpecialistPart) and isinstance(found[1], EmbeddingPart)


def test_the_ray_columns_give_back_the_local_engines_batches_and_outputs(
    example_csv: Path, tmp_path: Path
) -> None:
    data = tmp_path / "d.csv"
    with example_csv.open(encoding="utf-8", newline="") as f:
        rows = [[r["text"]] for r in csv.DictReader(f)][:45]
    rows[10] = ["   "]  # a skipped row travels too
    with data.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text"], *rows])
    task = load_task("sentiment-2")
    part = SpecialistPart("vader", task)
    reader = ray_data.InputDatasource(data, "text", None, (20, 4), 5)  # batches end at 4, 12, 28, 48
    infer = ray_data.Infer([part], threads=1)
    chunks: list[dict[str, Any]] = []
    for table in reader._read():  # as Ray would: a block to the actor, then cut anew on the way back
        batch = infer({k: table.column(k).to_numpy(zero_copy_only=False) for k in table.column_names})
        chunks.extend({k: v[i : i + 7] for k, v in batch.items()} for i in range(0, len(batch["pos"]), 7))
    blocks = list(ray_data.regroup(chunks, [part.key]))
    local = list(LocalEngine().blocks(Source(data), 20, start=5, parts=[part], first=4))
    assert [b.rows for b in blocks] == [b.rows for b in local]
    assert [[r.pos for r in b.rows][::-1][0] for b in local] == [11, 27, 44]
    assert [b.bytes_read for b in blocks] == [b.bytes_read for b in local]
    vader = part.build(1)
    for block in blocks:
        texts = [r.text for r in block.rows if isinstance(r, Record)]
        assert np.array_equal(block.computed[part.key], vader(texts))


def test_remember_hands_outputs_to_the_specialist_so_it_is_not_asked_again(tmp_path: Path) -> None:
    inner = Counting()
    prepared = [("counting", Remembered(inner), None)]
    part = SpecialistPart("counting", load_task("sentiment-2"))
    remember([part], prepared, ["a", "bb"], {part.key: np.array([0.5, -0.5])})  # type: ignore[arg-type]
    assert prepared[0][1].predict(["bb", "a"]).tolist() == [-0.5, 0.5]
    assert inner.asked == 0


def test_the_text_memo_computes_each_distinct_text_once_and_keeps_the_last_used() -> None:
    calls: list[list[str]] = []

    def compute(texts: list[str]) -> FloatArray:
        calls.append(texts)
        return np.array([[float(len(t))] for t in texts])

    memo = TextMemo(2)
    assert [r.tolist() for r in memo.rows(["a", "bb", "a", "ccc"], compute)] == [[1.0], [2.0], [1.0], [3.0]]
    assert calls == [["a", "bb", "ccc"]]  # more texts than it keeps in one call: all answered
    memo.rows(["ccc", "a"], compute)
    assert calls[-1] == ["a"]  # "a" was let go (least recently used), "ccc" kept
