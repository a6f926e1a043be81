"""The meta-controller: choose the specialists for a task and write their adapters, checked against evidence.

1. **Choice.** The LLM reads the task and the candidates' cards and returns a ranked JSON choice with reasons.
   A weak (local) or failing LLM falls back to card matching: candidates whose native labels map onto at least
   two task labels by name.
2. **Evidence.** The candidates label a probe sample; the reviewer labels a budgeted part of it. Each
   candidate's accuracy is measured against the reviewer, or estimated by Dawid-Skene where there are no
   reviewer labels. The k kept are chosen greedily: best accuracy first, then the best accuracy minus its
   agreement with those already kept (least redundancy).
3. **Adapters.** For each kept specialist the LLM writes a declarative adapter (JSON, `AdapterSpec`), which is
   validated against the specialist's real native labels and then checked on the probe: it is rejected when it
   maps every probe row to one label, or when its agreement with the reviewer is no better than chance. A
   rejected or missing adapter falls back to name matching.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autoannotator.controller.asking import llm_adapter, llm_choice
from autoannotator.errors import AdapterError, AutoAnnotatorError, SpecialistError
from autoannotator.llm.gateway import Gateway
from autoannotator.read.adapters import ABSTAIN, Adapter, AdapterSpec, Adapts, compile_adapter
from autoannotator.read.task import Task
from autoannotator.review import HardRow, Reviewer
from autoannotator.specialists import build, on_gpu, require_extra, zoo
from autoannotator.specialists.base import Card
from autoannotator.vote.aggregate import dawid_skene


@dataclass
class Selection:
    """What the controller decided, and why (stored in the ledger)."""

    specialists: list[str]
    adapters: dict[str, AdapterSpec | None]
    reasons: dict[str, str]
    accuracy: dict[str, float]
    accuracy_source: str
    rejected_adapters: dict[str, str] = field(default_factory=dict)
    fallback: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "specialists": self.specialists,
            "adapters": {k: (v.model_dump() if v else None) for k, v in self.adapters.items()},
            "reasons": self.reasons,
            "accuracy": self.accuracy,
            "accuracy_source": self.accuracy_source,
            "rejected_adapters": self.rejected_adapters,
            "fallback": self.fallback,
        }


def summary(stored: dict[str, Any]) -> str:
    """One line of a stored `Selection` (`Selection.as_json`): what was chosen, and why."""
    reasons, accuracy = stored["reasons"], stored["accuracy"]
    chosen = "; ".join(
        f"{n} ({reasons.get(n)})" if n in TRAINABLES else f"{n} ({reasons.get(n) or 'chosen'}, {accuracy[n]:.2f})"
        for n in stored["specialists"]
    )
    fallback = f"; {stored['fallback']}" if stored.get("fallback") else ""
    passed = [f"{n} ({why})" for n, why in stored.get("rejected_adapters", {}).items() if n in SLOW_ON_CPU]
    left = f" Not chosen: {'; '.join(passed)}." if passed else ""
    return f"--specialists auto chose: {chosen}. Judged by {stored['accuracy_source']}{fallback}.{left}"


def candidate_cards(task: Task, extra: Sequence[str] = ()) -> dict[str, Card]:
    """The cards of the zoo and of the `extra` candidates the user registered (local folders, ``hf:ID``);
    trainable ones carry this task's labels; unfitted or unloadable ones are left out."""
    cards = {}
    for name in [*filter(_affordable, zoo()), *extra]:
        try:
            card = build(name, task).card
        except SpecialistError:
            continue
        if card.native_labels:
            cards[name] = card
    return cards


def matching(task: Task, cards: dict[str, Card]) -> list[str]:
    """Candidates whose native labels map onto at least two task labels by name (the card-matching fallback)."""
    names = []
    for name, card in cards.items():
        try:
            adapter = compile_adapter(None, card, task)
        except AdapterError:
            continue
        if isinstance(adapter, Adapter) and int((adapter.matrix.sum(axis=0) > 0).sum()) >= 2:
            names.append(name)
    return names


def probe_check(
    adapter: Adapts, native: np.ndarray[Any, Any], reference: np.ndarray[Any, Any], k: int
) -> str | None:
    """Why an adapter fails on the probe (None if it passes): every row one label, or agreement with the
    reviewer's labels (`reference`, -1 where none) no better than chance."""
    votes, _ = adapter.apply(native)
    voted = votes[votes != ABSTAIN]
    if len(voted) and len(set(voted.tolist())) == 1 and len(votes) >= 20:
        return "maps every probe row to one label"
    both = (votes != ABSTAIN) & (reference != ABSTAIN)
    if both.sum() >= 20 and float((votes[both] == reference[both]).mean()) <= 1.0 / k:
        return "agreement with the reviewer no better than chance"
    return None


def select(
    task: Task,
    probe_texts: Sequence[str],
    *,
    k: int = 3,
    gateway: Gateway | None = None,
    reviewer: Reviewer | None = None,
    review_rows: int = 50,
    shortlist: int = 6,
    allow_code: bool = False,
    extra: Sequence[str] = (),
) -> Selection:
    """Choose `k` specialists and their adapters for `task` from evidence on `probe_texts`; see the module."""
    with asyncio.Runner() as runner:
        try:
            return _select(
                task, probe_texts, k, gateway, reviewer, review_rows, shortlist, runner, allow_code, extra
            )
        finally:
            aclose = getattr(gateway.model, "aclose", None) if gateway is not None else None
            if aclose is not None:
                runner.run(aclose())


def _select(
    task: Task,
    probe_texts: Sequence[str],
    k: int,
    gateway: Gateway | None,
    reviewer: Reviewer | None,
    review_rows: int,
    shortlist: int,
    runner: asyncio.Runner,
    allow_code: bool,
    extra: Sequence[str],
) -> Selection:
    cards = candidate_cards(task, extra)
    ranked, reasons = llm_choice(gateway, task, cards, shortlist, runner)
    fallback = None
    if not ranked:
        ranked = matching(task, cards)
        reasons = {name: "its native labels match the task's labels by name" for name in ranked}
        fallback = "card matching (the LLM gave no usable choice)"
    if not ranked:
        raise AutoAnnotatorError(f"no candidate specialist fits task {task.name!r}; name them with --specialists")
    native = {}
    for name in list(ranked):
        try:
            native[name] = build(name, task).predict(list(probe_texts))
        except SpecialistError:  # not installed here (an extra), or not fitted
            ranked.remove(name)
    kk = len(task.labels)
    reference = _reference(reviewer, task, probe_texts, review_rows)
    rejected: dict[str, str] = {}
    adapters: dict[str, AdapterSpec | None] = {}
    compiled: dict[str, Adapts] = {}
    for name in ranked:
        spec = task.specialists.get(name) or llm_adapter(gateway, task, cards[name], runner, allow_code=allow_code)
        checked = _checked_adapter(
            spec, cards[name], task, native[name], reference, rejected, allow_code=allow_code
        )
        if checked is not None:
            adapters[name], compiled[name] = checked
    names = list(compiled)
    votes = np.column_stack([compiled[n].apply(native[n])[0] for n in names]) if names else np.zeros((0, 0))
    accuracy, source = _accuracy(votes, reference, kk, names)
    names = _evidenced(names, cards, accuracy, reference, rejected)
    kept = _greedy(names, votes[:, [list(compiled).index(n) for n in names]], accuracy, k, kk) if names else []
    installed = [n for n in TRAINABLES if n not in kept and _installed(n, task)]
    learners = [n for n in installed if _affordable(n)]  # always: they learn
    rejected.update({n: SLOW_ON_CPU[n] for n in installed if n not in learners})
    why = "learns the task from the reviewed rows"
    if not kept:
        why += " (no fixed specialist beat the reviewer's majority class)"
    reasons.update(dict.fromkeys(learners, why))
    adapters.update(dict.fromkeys(learners))
    accuracy.update({n: accuracy.get(n, 0.0) for n in learners})
    kept += learners
    return Selection(
        kept,
        {n: adapters[n] for n in kept},
        {n: reasons.get(n, "") for n in kept},
        {n: accuracy[n] for n in kept},
        source,
        rejected,
        fallback,
    )


def _checked_adapter(
    spec: AdapterSpec | None,
    card: Card,
    task: Task,
    native: np.ndarray[Any, Any],
    reference: np.ndarray[Any, Any],
    rejected: dict[str, str],
    *,
    allow_code: bool,
) -> tuple[AdapterSpec | None, Adapts] | None:
    """`spec` compiled and checked on the probe; where a written adapter fails, name matching instead; None
    (the reason noted in `rejected` under the card's name) when neither passes."""
    try:
        adapter = compile_adapter(spec, card, task, allow_code=allow_code)
    except AdapterError as exc:
        rejected[card.name] = str(exc)
        return None
    problem = probe_check(adapter, native, reference, len(task.labels))
    if problem is not None and spec is not None:  # a written adapter failed: try name matching
        rejected[card.name] = problem
        try:
            spec, adapter = None, compile_adapter(None, card, task)
        except AdapterError:
            return None
        problem = probe_check(adapter, native, reference, len(task.labels))
    if problem is not None:
        rejected.setdefault(card.name, problem)
        return None
    return spec, adapter


TRAINABLES = ("minilm", "tfidf", "mpnet")
"""The trainable specialists every automatic choice includes (where installed, and `SLOW_ON_CPU` ones only on a
GPU): they learn the task from the reviewed rows, so a run always has something that learns, and never a
single voter."""
SLOW_ON_CPU = {
    "mpnet": "installed, but on a CPU it embeds ~20 rows/s (MiniLM ~180): name it in --specialists where it "
    "pays (bench/results/trust_mpnet.md), or run where torch sees a GPU"
}
"""Specialists an automatic choice takes only where torch sees a GPU (`on_gpu`), with the reason noted."""


def _affordable(name: str) -> bool:
    """Whether an automatic choice may take zoo specialist `name` here (`SLOW_ON_CPU` ones only on a GPU)."""
    return name not in SLOW_ON_CPU or on_gpu()


def _installed(name: str, task: Task) -> bool:
    """Whether specialist `name` can be built here (its extra installed)."""
    try:
        require_extra(name, build(name, task).card)
    except SpecialistError:
        return False
    return True


def _evidenced(
    names: list[str],
    cards: dict[str, Card],
    accuracy: dict[str, float],
    reference: np.ndarray[Any, Any],
    rejected: dict[str, str],
) -> list[str]:
    """`names` less the second runtime of a model (same card weights: one voter; the better stays) and, where
    the reviewer labelled probe rows, less those that do not beat its majority-class rate (a constant guess);
    the dropped ones are noted in `rejected`."""
    kept: list[str] = []
    for name in sorted(names, key=lambda n: -accuracy[n]):
        twin = next((o for o in kept if cards[name].weights and cards[o].weights == cards[name].weights), None)
        if twin is not None:
            rejected[name] = f"the same model as {twin} (weights {cards[name].weights}): one voter"
        else:
            kept.append(name)
    reviewed = reference[reference != ABSTAIN]
    if len(reviewed) >= 20:
        base = float(np.bincount(reviewed).max() / len(reviewed))
        for name in [n for n in kept if not cards[n].trainable and accuracy[n] <= base]:
            rejected[name] = f"agreement with the reviewer {accuracy[name]:.2f} <= its majority class {base:.2f}"
            kept.remove(name)
    return [n for n in names if n in kept]


def _reference(reviewer: Reviewer | None, task: Task, texts: Sequence[str], n: int) -> np.ndarray[Any, Any]:
    """The reviewer's labels for the first `n` probe rows (-1 elsewhere or where it gave none)."""
    reference = np.full(len(texts), ABSTAIN, dtype=np.int64)
    if reviewer is None or n <= 0:
        return reference
    verdicts = reviewer.review([HardRow(i, t, {}, None) for i, t in enumerate(texts[:n])])
    for i, verdict in enumerate(verdicts):
        if verdict.label is not None:
            reference[i] = task.label_names.index(verdict.label)
    return reference


def _accuracy(
    votes: np.ndarray[Any, Any], reference: np.ndarray[Any, Any], k: int, names: list[str]
) -> tuple[dict[str, float], str]:
    """Each specialist's accuracy on the reviewed probe rows, or its Dawid-Skene estimate (abstentions skip)."""
    reviewed = reference != ABSTAIN
    if reviewed.sum() >= 20:
        result = {}
        for j, name in enumerate(names):
            both = reviewed & (votes[:, j] != ABSTAIN)
            result[name] = float((votes[both, j] == reference[both]).mean()) if both.any() else 0.0
        return result, f"agreement with the reviewer on {int(reviewed.sum())} probe rows"
    model = dawid_skene(votes, k)
    return (
        {name: float(np.diagonal(model.confusions[j]) @ model.priors) for j, name in enumerate(names)},
        "Dawid-Skene estimate (no reviewer labels)",
    )


def _greedy(
    names: list[str], votes: np.ndarray[Any, Any], accuracy: dict[str, float], k: int, n_labels: int
) -> list[str]:
    """Best accuracy first; then the best accuracy minus redundancy: how much more a candidate agrees with one
    already kept than two independent voters of their accuracies would (shared errors show up there)."""
    kept: list[str] = []

    def redundancy(a: str, b: str) -> float:
        va, vb = votes[:, names.index(a)], votes[:, names.index(b)]
        both = (va != ABSTAIN) & (vb != ABSTAIN)
        if not both.any():
            return 0.0
        expected = accuracy[a] * accuracy[b] + (1 - accuracy[a]) * (1 - accuracy[b]) / max(n_labels - 1, 1)
        return max(0.0, float((va[both] == vb[both]).mean()) - expected)

    while len(kept) < min(k, len(names)):
        rest = [n for n in names if n not in kept]
        kept.append(max(rest, key=lambda n: accuracy[n] - max((redundancy(n, o) for o in kept), default=0.0)))
    return kept
