"""Staged continual learning: the trainable specialists learn from the reviewed rows, without silently
getting worse.

The first training comes after `warmup` reviewed rows (default 100), then each stage is twice as long as the
one before, up to `rows_per_stage` reviewed rows, so a small dataset sees several trainings and a large one
settles into stages of `rows_per_stage`. At most one training follows a batch. Each trainable specialist is
trained anew on:

- every reviewed row so far except the *validation slice*: the frozen half of the audit stream (see
  `autoannotator.trust.acceptance`), never trained on; with calibration labels, those are the validation slice
  (the truth) and every reviewed row trains;
- a *replay buffer* of rows the specialists labelled themselves, class-balanced (at most `replay_buffer` rows,
  chosen by a hash of the id), against forgetting and for the classes the reviewer rarely sees.

A trainable specialist's features are its own (MiniLM embeddings, TF-IDF) followed by the run's fixed
specialists' outputs (`Stacked`), so its head also learns how far to trust each of them.

The new version replaces the current one only if its agreement with the reviewer (or the truth) on the
validation slice is not worse; otherwise it is rolled back. For measured trust, `Learner.out_of_fold`
cross-fits the rows a version learnt from: each is labelled by a version trained on the other folds, so that
the router may judge the version on them too (`autoannotator.trust.routing`). Every version is saved under
``RUN_DIR/specialists/NAME/vSTAGE`` and recorded in the ledger (training rows, validation figures, promoted or
not, seconds), so a resumed run loads the last promoted versions and redoes an interrupted training identically
(fixed seeds, same rows).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from autoannotator.ledger import Ledger, training
from autoannotator.specialists.base import FloatArray, Specialist, Trainable
from autoannotator.trust.acceptance import draw
from autoannotator.trust.truth import FOLDS
from autoannotator.vote.labelsets import decide, encode

TRAIN_BUDGET_S = 300.0
"""The default seconds a stage's trainings may take: no default trainable comes near it (MiniLM and TF-IDF
heads, cross-fitted: under a minute per stage at 12,000 rows on 2 cores); it stops a fine-tuned encoder
(`minilm-finetune`: ~100 s per 800 rows on a CPU, six versions per stage) from taking over a CPU run's time
as its training rows grow."""


class LearningConfig(BaseModel):
    """How the trainable specialists learn during a run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows_per_stage: int = Field(
        default=2000, ge=10, description="reviewed rows per stage, at most (stages grow to it)"
    )
    warmup: int = Field(default=100, ge=10, description="reviewed rows before the first training")
    replay_buffer: int = Field(
        default=2000, ge=0, description="rows the specialists labelled, replayed per training"
    )
    seed: int = 0
    stack: bool = Field(
        default=True, description="trainable specialists also see the fixed specialists' outputs (stacking)"
    )
    cross_fit: bool = Field(
        default=True,
        description="for measured trust, judge a trained version on the rows it learnt from too, each labelled "
        "by one of `FOLDS` versions trained on the others (`FOLDS` more trainings per training)",
    )
    train_budget_s: float | None = Field(
        default=TRAIN_BUDGET_S,
        gt=0.0,
        description="seconds a stage's trainings may take (cross-fitting included), estimated before it from "
        "each specialist's last training; a specialist whose estimate does not fit is skipped that stage and "
        "keeps its version (None: no limit)",
    )
    relabel_final: bool = Field(
        default=False,
        description="at the end, the final specialists re-label the consensus rows of earlier stages (source "
        "relabelled); rows they are unsure about keep their label; no reviewer call",
    )

    def stage_rows(self, stage: int) -> int:
        """Reviewed rows that end stage `stage` (0: before the first training): doubling from `warmup`."""
        return min(self.warmup << stage, max(self.rows_per_stage, self.warmup))


def _fold(row_id: str, seed: int) -> int:
    """The cross-fitting part (0 to `FOLDS` - 1) of a row: a hash of its id."""
    return draw(f"fold:{seed}:{row_id}") % FOLDS


def cross_fit(
    make: Callable[[], Trainable],
    train: Sequence[tuple[int, str, str, str]],
    replay: Sequence[tuple[str, str]] = (),
    *,
    seed: int,
    classes: tuple[str, ...],
) -> dict[int, FloatArray]:
    """The native probabilities (k,) of each `train` row ((pos, id, text, label)), by position, from a version
    made by `make` and trained on the other rows and `replay` ((text, label)): `FOLDS` parts, a hash of the row
    id. A version trained on 80% is a little weaker than the whole: judged on these, it errs on the safe side. A
    part whose version does not know every one of `classes` (the current version's labels) is left out."""
    fold = np.array([_fold(ident, seed) for _, ident, _, _ in train], dtype=np.int64)
    found: dict[int, FloatArray] = {}
    for f in range(FOLDS):
        rows = [(t, lab) for (_, _, t, lab), g in zip(train, fold, strict=True) if g != f] + list(replay)
        held = [(pos, t) for (pos, _, t, _), g in zip(train, fold, strict=True) if g == f]
        if not held or len({lab for _, lab in rows}) < 2:
            continue
        version = make().fit([t for t, _ in rows], [lab for _, lab in rows])
        if version.card.native_labels != classes:
            continue
        probs = np.asarray(version.predict([t for _, t in held]), dtype=np.float64)
        found.update({pos: p for (pos, _), p in zip(held, probs, strict=True)})
    return found


CROSS_FIT_COST = 1 + 0.8 * FOLDS
"""A training followed by cross-fitting costs about this many plain trainings (`FOLDS` more, each on 80%)."""


def over_budget(estimates: dict[str, float | None], budget: float | None) -> dict[str, float]:
    """The specialists a stage skips, with their estimated seconds: cheapest first, each is trained while the
    stage's estimated total fits `budget` (None: no limit); one with no estimate (never trained) is always
    trained, and its first training is what its next estimates scale from."""
    if budget is None:
        return {}
    known = sorted((cost, name) for name, cost in estimates.items() if cost is not None)
    spent, skipped = 0.0, {}
    for cost, name in known:
        if spent + cost <= budget:
            spent += cost
        else:
            skipped[name] = cost
    return skipped


@dataclass(frozen=True)
class StageReport:
    """One training of one specialist."""

    specialist: str
    stage: int
    train_rows: int
    replay_rows: int
    val_rows: int
    val_accuracy: float
    previous_accuracy: float
    promoted: bool
    seconds: float
    path: str
    skipped: float | None = None
    """Not trained: the estimated seconds that did not fit `LearningConfig.train_budget_s`."""


class Learner:
    """Decides when a stage ends, trains the trainable specialists, and promotes or rolls back versions."""

    def __init__(
        self,
        config: LearningConfig,
        run_dir: Path,
        labels: Sequence[str],
        held_out: Callable[[str, int], bool],
        *,
        sets: tuple[int | None, bool] = (None, True),
        validation: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.config = config
        self.run_dir = run_dir
        self.labels = tuple(labels)
        self.held_out = held_out
        """(row id, input position) -> whether a reviewed row is in the validation slice."""
        self.validation = validation
        """(text, label) rows that judge the versions instead of the held-out reviewed rows (calibration
        labels: the truth)."""
        self.sets = sets
        """Multi-label: (max_labels, allow_empty), how a head's probabilities become a set."""

    def due(self, ledger: Ledger) -> bool:
        """True when the current stage's reviewed rows (`LearningConfig.stage_rows`) have come since the last
        training."""
        needed = self.config.stage_rows(training.stage(ledger))
        return training.reviewed_count(ledger, after=training.last_training_pos(ledger)) >= needed

    def train(
        self,
        ledger: Ledger,
        specialists: dict[str, Trainable],
        inputs: Sequence[tuple[str, Specialist]] = (),
    ) -> dict[str, Trainable]:
        """Train every specialist in `specialists` on the rows reviewed so far (see the module docstring), save
        and record each version; returns the promoted new versions by name (the others stay as they are).
        `inputs` are the fixed specialists whose outputs a stacked head sees."""
        stage = training.stage(ledger) + 1
        upto = ledger.next_pos()
        val, train, replay = self._rows(ledger, upto)
        texts = [t for _, _, t, _ in train] + [t for t, _ in replay]
        labels = [lab for *_, lab in train] + [lab for _, lab in replay]
        reports, promoted_versions = [], {}
        skipped = over_budget(self._estimates(ledger, specialists, len(texts)), self.config.train_budget_s)
        for name, current in specialists.items():
            if name in skipped:
                estimate = skipped[name]
                reports.append(
                    StageReport(name, stage, len(train), len(replay), len(val), 0, 0, False, 0, "", estimate)
                )
                continue
            tick = time.perf_counter()
            candidate = current.fresh(self._inputs(inputs), self.config.seed)
            if len(set(labels)) >= 2:
                candidate.fit(texts, labels)
            new = self._accuracy(candidate, val)
            old = self.previous(current, val, inputs)
            promoted = candidate.fitted and new >= old
            path = self.run_dir / "specialists" / name / f"v{stage}"
            if candidate.fitted:
                candidate.save(path)
            if promoted:
                promoted_versions[name] = candidate
            report = StageReport(
                specialist=name,
                stage=stage,
                train_rows=len(train),
                replay_rows=len(replay),
                val_rows=len(val),
                val_accuracy=new,
                previous_accuracy=old,
                promoted=promoted,
                seconds=time.perf_counter() - tick,
                path=str(path),
            )
            reports.append(report)
        training.record_training(ledger, stage, upto, reports)
        return promoted_versions

    def _estimates(self, ledger: Ledger, specialists: dict[str, Trainable], rows: int) -> dict[str, float | None]:
        """Each specialist's estimated seconds for this stage: its last training's seconds per row times `rows`,
        times `CROSS_FIT_COST` where versions are cross-fitted; None before its first training. From the
        ledger only, so a resumed run decides as the first attempt did."""
        last = training.costs(ledger)
        fits = CROSS_FIT_COST if self.config.cross_fit and not self.validation else 1.0
        return {
            name: None if name not in last else last[name][0] / max(last[name][1], 1) * rows * fits
            for name in specialists
        }

    def previous(
        self, current: Trainable, val: Sequence[tuple[str, str]], inputs: Sequence[tuple[str, Specialist]]
    ) -> float:
        """What the current version is worth on the validation slice: its agreement with the reviewer, or 0 for
        an untrained version beside fixed specialists (`inputs`), which does not vote (see `silent`)."""
        return 0.0 if inputs and not current.fitted else self._accuracy(current, val)

    def out_of_fold(
        self, ledger: Ledger, current: dict[str, Trainable], inputs: Sequence[tuple[str, Specialist]] = ()
    ) -> dict[str, dict[int, FloatArray]]:
        """Cross-fitting: for each of `current` that the last training made, by name, `cross_fit` over the
        rows it was trained on. Judged on these, the rows a version learnt from are fair evidence of it, not only
        the validation slice. Empty with calibration labels (never trained on), before a training and when
        `LearningConfig.cross_fit` is off."""
        stage = training.stage(ledger)
        made = {n for n, path in training.promoted_versions(ledger).items() if Path(path).name == f"v{stage}"}
        if self.validation or not self.config.cross_fit or not made & set(current):
            return {}
        _, train, replay = self._rows(ledger, training.last_training_pos(ledger))
        return {
            name: cross_fit(
                partial(current[name].fresh, self._inputs(inputs), self.config.seed),
                train,
                replay,
                seed=self.config.seed,
                classes=current[name].card.native_labels,
            )
            for name in sorted(made & set(current))
        }

    def _rows(
        self, ledger: Ledger, upto: int
    ) -> tuple[list[tuple[str, str]], list[tuple[int, str, str, str]], list[tuple[str, str]]]:
        """What a training of the rows before `upto` sees: the validation rows (text, label), the reviewed rows
        it trains on (pos, id, text, label) and the replay buffer (text, label)."""
        reviewed = training.reviewed_rows(ledger, upto=upto)
        val = list(self.validation) or [(t, lab) for pos, ident, t, lab in reviewed if self.held_out(ident, pos)]
        train = [r for r in reviewed if not self.held_out(r[1], r[0])]
        return val, train, self._replay(ledger, upto)

    def _replay(self, ledger: Ledger, upto: int) -> list[tuple[str, str]]:
        """Class-balanced rows the specialists labelled: for each label, the ones with the smallest hash rank."""
        per_label = self.config.replay_buffer // max(len(self.labels), 1)
        if per_label == 0:
            return []
        pools: dict[str, list[tuple[int, str]]] = {label: [] for label in self.labels}
        for ident, text, label in training.auto_rows(ledger, upto=upto):  # multi-label: pools by label set
            pools.setdefault(label, []).append((draw(f"replay:{self.config.seed}:{ident}"), text))
        chosen = []
        for label, pool in pools.items():
            pool.sort()
            chosen += [(text, label) for _, text in pool[:per_label]]
        return chosen

    def _accuracy(self, specialist: Specialist, rows: Sequence[tuple[str, str]]) -> float:
        """Agreement with the reviewer on `rows`; 0 for a specialist that cannot predict yet."""
        if not rows:
            return 0.0
        try:
            probs = specialist.predict([t for t, _ in rows])
        except Exception:  # an unfitted specialist (cold start) scores 0
            return 0.0
        native = specialist.card.native_labels
        if specialist.card.output == "multi":  # the whole set must match
            max_labels, allow_empty = self.sets
            sets = decide(np.asarray(probs), max_labels=max_labels, allow_empty=allow_empty)
            predicted = [encode(np.array(native)[chosen], native) for chosen in sets]
        else:
            predicted = [native[i] for i in np.asarray(probs).argmax(axis=1)]
        return float(np.mean([p == lab for p, (_, lab) in zip(predicted, rows, strict=True)]))

    def restore(
        self,
        ledger: Ledger,
        specialists: dict[str, Trainable],
        inputs: Sequence[tuple[str, Specialist]] = (),
    ) -> dict[str, Trainable]:
        """The last promoted version of each of `specialists` that has one (a resumed run), by name."""
        return {
            name: specialists[name].load_version(Path(path), self._inputs(inputs))
            for name, path in training.promoted_versions(ledger).items()
            if name in specialists
        }

    def _inputs(self, inputs: Sequence[tuple[str, Specialist]]) -> Sequence[tuple[str, Specialist]]:
        """The fixed specialists a candidate stacks on: `inputs` when stacking is on, else none."""
        return inputs if self.config.stack else ()
