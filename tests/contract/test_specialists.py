"""One contract, run over every specialist of the bundled zoo, each loaded from its package offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autoannotator.errors import SpecialistError
from autoannotator.read.adapters import Adapter, compile_adapter
from autoannotator.read.task import load_task
from autoannotator.specialists import ZOO, OnnxMiniLM, Specialist, Trainable, TrainableSpecialist, build

TASK = load_task("sentiment-3")
TRAIN_TEXTS = ["I love this", "great stuff", "terrible service", "I hate it", "it is a table", "the bus is at 5"]
TRAIN_LABELS = ["positive", "positive", "negative", "negative", "neutral", "neutral"]
EDGE_TEXTS = [
    "",
    "Das Essen war ausgezeichnet, très bon, 非常好",
    "I am so happy 😍🔥🎉 but also 😡",
    "x" * 50 + " you idiot " + "ü" * 50,
    "   leading and trailing   ",
    "\x00 nul \u200b zero-width",
]


@pytest.fixture(scope="module", params=sorted(ZOO))
def specialist(request: pytest.FixtureRequest) -> Specialist:
    made = build(request.param, TASK)
    if isinstance(made, Trainable) and not made.ready:  # cold start (tfidf, minilm-finetune): train it first
        made.fit(TRAIN_TEXTS, TRAIN_LABELS)
    return made


def check_output(specialist: Specialist, out: np.ndarray, n: int) -> None:
    card = specialist.card
    assert out.dtype == np.float64
    assert np.isfinite(out).all()
    if card.output == "score":
        assert out.shape == (n,)
    else:
        assert out.shape == (n, len(card.native_labels))
        assert (out >= 0).all()
        np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)


def test_card_is_complete(specialist: Specialist) -> None:
    card = specialist.card
    assert card.name and card.licence and card.source and card.speed
    assert card.version != "not installed"
    assert card.native_labels, "an unfitted specialist reached the contract"


def test_shapes_and_edge_texts(specialist: Specialist) -> None:
    check_output(specialist, specialist.predict(EDGE_TEXTS), len(EDGE_TEXTS))
    check_output(specialist, specialist.predict([]), 0)


def test_deterministic_and_batch_independent(specialist: Specialist) -> None:
    texts = ["what a wonderful day", "this is awful", "the report is due", "you are a moron"]
    first = specialist.predict(texts)
    np.testing.assert_allclose(specialist.predict(texts), first)
    singles = np.concatenate([specialist.predict([t]) for t in texts])
    np.testing.assert_allclose(singles, first, atol=1e-5)


def test_one_megabyte_text(specialist: Specialist) -> None:
    big = ("The food was great but the service was awful. " * 22_000)[:1_000_000]
    check_output(specialist, specialist.predict([big, "short"]), 2)


def test_default_adapter_fits_its_kind_of_task(specialist: Specialist) -> None:
    kind = specialist.card.task_kinds[0]
    task = load_task("toxicity" if kind == "toxicity" else "sentiment-3")
    if specialist.card.trainable and set(specialist.card.native_labels) != set(task.label_names):
        pytest.skip("a fitted trainable specialist speaks the labels it was trained on")
    adapter = compile_adapter(None, specialist.card, task)
    assert isinstance(adapter, Adapter)
    votes, probs = adapter.apply(specialist.predict(["you stupid idiot, I hate you", "lovely sunny day"]))
    assert probs.shape == (2, len(task.labels))
    assert (votes >= -1).all()
    assert adapter.matrix.sum(axis=0).min() >= 1, "some task label can never be voted"


def test_sentiment_specialists_tell_obvious_polarity() -> None:
    task = load_task("sentiment-2")
    for name in ("vader", "textblob", "afinn", "minilm"):
        made = build(name, task)
        votes, _ = compile_adapter(task.specialists.get(name), made.card, task).apply(
            made.predict(["This is wonderful, I love it, excellent!", "Horrible, awful, the worst I have seen."])
        )
        assert votes.tolist() == [1, 0], name


def test_toxicity_specialists_tell_obvious_insults() -> None:
    task = load_task("toxicity")
    for name in ("profanity-check", "hatesonar", "better-profanity", "safetype"):
        made = build(name, task)
        votes, _ = compile_adapter(None, made.card, task).apply(
            made.predict(["you are a fucking idiot", "I planted tomatoes in the garden today"])
        )
        assert votes.tolist() == [1, 0], name


@pytest.mark.parametrize("name", ["tfidf", "minilm"])
def test_trainable_fit_save_load_round_trip(name: str, tmp_path: Path) -> None:
    made = build(name, TASK)
    assert isinstance(made, TrainableSpecialist)
    made.fit(TRAIN_TEXTS * 3, TRAIN_LABELS * 3)
    assert made.card.native_labels == ("negative", "neutral", "positive")
    probe = ["I love it", "I hate it", "a bus"]
    before = made.predict_proba(probe)
    assert before.argmax(axis=1).tolist() == [2, 0, 1]
    made.save(tmp_path / name)
    loaded = TrainableSpecialist.load(tmp_path / name, type(made.featurizer)())
    np.testing.assert_allclose(loaded.predict_proba(probe), before)
    assert not any(p.suffix in {".pkl", ".joblib"} for p in (tmp_path / name).iterdir())


def test_load_rejects_another_featurizer(tmp_path: Path) -> None:
    made = build("tfidf", TASK)
    assert isinstance(made, TrainableSpecialist)
    made.fit(TRAIN_TEXTS, TRAIN_LABELS).save(tmp_path)
    with pytest.raises(SpecialistError, match="saved with featurizer 'tfidf'"):
        TrainableSpecialist.load(tmp_path, OnnxMiniLM())


def test_unfitted_tfidf_says_so() -> None:
    with pytest.raises(SpecialistError, match="not fitted"):
        build("tfidf", TASK).predict(["x"])


def test_onnx_and_torch_minilm_agree() -> None:
    texts = ["A great movie with a sad ending.", "Stocks fell sharply on Monday.", "¡Qué bueno! 😀"]
    onnx = build("minilm", TASK)
    torch = build("minilm-torch", TASK)
    assert isinstance(onnx, TrainableSpecialist) and isinstance(torch, TrainableSpecialist)
    a = onnx.featurizer.transform(texts)
    b = torch.featurizer.transform(texts)
    cosine = (a * b).sum(axis=1)
    assert cosine.min() > 0.98, cosine
