"""A version worse than the one before on the validation slice is rolled back: a real run (Python API, a replayed
weak reviewer) with a trainable that collapses after its first training, as a fine-tune on too few rows can."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from autoannotator import LearningConfig, RunConfig, annotate, load_task
from autoannotator.review import ReviewConfig
from autoannotator.specialists import ZOO, Card, Specialist, TrainableSpecialist, build, register
from autoannotator.specialists.base import FloatArray
from autoannotator.testing import read_jsonl
from weak_reviewer import weak_answers

pytestmark = pytest.mark.slow
FLIP = {"negative": "positive", "positive": "negative"}


class Collapsing:
    """TF-IDF whose every training after the first learns the opposite of its labels."""

    trainings = 0

    def __init__(self, inner: TrainableSpecialist) -> None:
        self.inner = inner

    @property
    def card(self) -> Card:
        return self.inner.card.model_copy(update={"name": "collapsing"})

    @property
    def ready(self) -> bool:
        return self.inner.ready

    @property
    def fitted(self) -> bool:
        return self.inner.fitted

    def predict(self, texts: Sequence[str]) -> FloatArray:
        return self.inner.predict(texts)

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Collapsing:
        Collapsing.trainings += 1
        self.inner.fit(texts, labels if Collapsing.trainings == 1 else [FLIP[label] for label in labels])
        return self

    def fresh(self, inputs: Sequence[tuple[str, Specialist]], seed: int) -> Collapsing:
        return Collapsing(self.inner.fresh(inputs, seed))

    def save(self, folder: Path) -> None:
        self.inner.save(folder)

    def load_version(self, folder: Path, inputs: Sequence[tuple[str, Specialist]]) -> Collapsing:
        return Collapsing(self.inner.load_version(folder, inputs))


def test_a_version_worse_on_the_validation_slice_is_rolled_back(example_csv: Path, tmp_path: Path) -> None:
    task = load_task("sentiment-2")
    register("collapsing", lambda t: Collapsing(build("tfidf", t)))  # type: ignore[arg-type]
    try:
        Collapsing.trainings = 0
        config = RunConfig(
            input=example_csv,
            task=task,
            specialists=("vader", "textblob", "collapsing"),
            review=ReviewConfig(method="replay", replay=weak_answers(example_csv, tmp_path)),
            batch_size=50,
            learning=LearningConfig(warmup=30, rows_per_stage=30, cross_fit=False),
        )
        annotate(config, out=tmp_path / "o.jsonl", run_dir=tmp_path / "run")
    finally:
        del ZOO["collapsing"]
    with sqlite3.connect(tmp_path / "run" / "ledger.sqlite") as db:
        found = db.execute(
            "SELECT stage, val_accuracy, previous_accuracy, promoted, path FROM trainings ORDER BY stage"
        ).fetchall()
    assert len(found) >= 3 and found[0][3] == 1  # the first version is kept
    for _, new, old, promoted, _ in found[1:]:  # every later one learnt the opposite: worse, rolled back
        assert new < old and not promoted
    rows = read_jsonl(tmp_path / "o.jsonl")
    late = [r for r in rows if r["stage"] == found[-1][0]]
    stacked = [(name, build(name, task)) for name in ("vader", "textblob")]  # what its head also learnt from
    first = Collapsing(build("tfidf", task)).load_version(Path(found[0][4]), stacked)  # type: ignore[arg-type]
    said = first.predict([r["text"] for r in late]).argmax(axis=1)
    assert [r["votes"]["collapsing"]["label"] for r in late] == [first.card.native_labels[i] for i in said]
