"""Hugging Face sequence classifiers as specialists (extra ``torch``), from a local folder or a hub id, used as
they are (`HFClassifier`; fine-tuning on the reviewed rows is `autoannotator.specialists.finetune`).

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
