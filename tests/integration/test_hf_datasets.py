"""Hugging Face datasets in and out (``hf-disk:``): a real `datasets` round trip, no network."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import datasets
import pytest

from autoannotator import RunConfig, annotate, evaluate, load_task
from autoannotator.errors import InputError
from autoannotator.read.hfdata import load, location
from entry import run_cli

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, example_csv: Path) -> Path:
    """The bundled example as a `DatasetDict` (train / test) with a `ClassLabel` label, saved to disk."""
    with example_csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    features = datasets.Features(
        {
            "source": datasets.Value("string"),
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=LABELS),
        }
    )
    data = {k: [r[k] for r in rows] for k in ("source", "text")}
    full = datasets.Dataset.from_dict(
        {**data, "label": [LABELS.index(r["label"]) for r in rows]}, features=features
    )
    folder = tmp_path_factory.mktemp("hf") / "reviews"
    datasets.DatasetDict({"train": full.select(range(200)), "test": full.select(range(200, 300))}).save_to_disk(
        str(folder)
    )
    return folder


def test_a_saved_dataset_split_is_labelled_and_written_back_as_a_dataset(saved: Path, tmp_path: Path) -> None:
    out = tmp_path / "labelled"
    run_cli(
        "annotate", f"hf-disk:{saved}:test", "--task", "sentiment-2", "--out", f"hf-disk:{out}",
        "--specialists", "vader,textblob,afinn", "--quiet",
    )  # fmt: skip
    written = datasets.load_from_disk(str(out))
    assert written.num_rows == 100
    assert written.features["label"] == datasets.ClassLabel(names=LABELS)
    for column in ("id", "text", "confidence", "source", "best_guess", "votes", "agreement", "stage"):
        assert column in written.column_names
    source = datasets.load_from_disk(str(saved))["test"]
    assert written["text"] == source["text"]  # input order, the test split's rows
    labelled = [r for r in written if r["label"] is not None]
    assert labelled and all(r["source"] == "consensus" for r in labelled)
    assert all(set(json.loads(r["votes"])) == {"vader", "textblob", "afinn"} for r in written)
    assert (out.parent / "labelled.run" / "ledger.sqlite").is_file()
    # eval reads the dataset output and takes gold from the input dataset (ClassLabel ids read as names)
    report = evaluate(Path(f"hf-disk:{out}"), gold=Path(f"hf-disk:{saved}:test"))
    assert report.gold is not None and report.gold["all"].rows == len(labelled)
    truth = dict(zip(source["text"], source["label"], strict=True))
    right = sum(LABELS[truth[r["text"]]] == LABELS[r["label"]] for r in labelled)
    assert report.gold["all"].accuracy == pytest.approx(right / len(labelled))


def test_a_resumed_run_on_a_dataset_keeps_its_rows(saved: Path, tmp_path: Path) -> None:
    task = load_task("sentiment-2")
    config = RunConfig(
        input=Path(f"hf-disk:{saved}:train"), task=task, specialists=("vader", "afinn"), batch_size=64
    )
    out = Path(f"hf-disk:{tmp_path / 'out'}")
    first = annotate(config, out=out, run_dir=tmp_path / "run")
    again = annotate(config, out=out, run_dir=tmp_path / "run", resume=True)
    assert first.rows == again.rows == 200
    assert datasets.load_from_disk(str(tmp_path / "out")).num_rows == 200


def test_a_parquet_folder_is_an_input(tmp_path: Path, example_csv: Path) -> None:
    folder = tmp_path / "parquet"
    folder.mkdir()
    with example_csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for i in range(2):
        datasets.Dataset.from_list(rows[i * 150 : (i + 1) * 150]).to_parquet(str(folder / f"part-{i}.parquet"))
    out = tmp_path / "out.jsonl"
    run_cli(
        "annotate", f"hf-disk:{folder}", "--task", "sentiment-2", "--out", out, "--specialists", "vader", "--quiet"
    )
    assert [json.loads(line)["text"] for line in out.read_text(encoding="utf-8").splitlines()] == [
        r["text"] for r in rows
    ]


def test_a_missing_split_or_folder_is_one_line_before_any_work(saved: Path, tmp_path: Path) -> None:
    result = run_cli(
        "annotate", f"hf-disk:{saved}:validation", "--task", "sentiment-2", "--out", tmp_path / "o.jsonl",
        "--specialists", "vader", check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "splits are ['train', 'test']" in result.stderr
    assert not (tmp_path / "o.jsonl.run").exists()
    missing = run_cli("annotate", f"hf-disk:{tmp_path / 'nowhere'}", "--task", "sentiment-2", "--out",
                      tmp_path / "o.jsonl", "--specialists", "vader", check=False)  # fmt: skip
    assert missing.returncode != 0 and "not found" in missing.stderr


def test_a_split_is_read_from_the_last_colon_unless_the_whole_path_is_a_folder(tmp_path: Path) -> None:
    odd = tmp_path / "a:b"
    odd.mkdir()
    assert location(Path(f"hf-disk:{odd}")) == (odd, None)
    assert location(Path(f"hf-disk:{tmp_path}/data:test")) == (tmp_path / "data", "test")
    with pytest.raises(InputError, match="not a saved dataset"):
        load(Path(f"hf-disk:{odd}"))
