"""The plain active-learning baseline of issue 10: a MiniLM head trained on the LLM's labels, the least
confident rows sent to the LLM, step by step; the rows never sent are labelled by the head.

    curve(texts, llm, gold) -> [(share sent, accuracy)], one point per step
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autoannotator.specialists.features import shared_minilm
from autoannotator.specialists.trainable import LinearHead


def curve(
    texts: Sequence[str],
    llm: Sequence[str | None],
    gold: Sequence[str],
    *,
    seed: int = 0,
    first: int = 100,
    step: float = 0.05,
) -> list[tuple[float, float]]:
    """(share of rows sent to the LLM, accuracy against `gold`) after each round: `first` random rows, then
    `step` of all rows per round, the least confident by the head trained on the LLM's answers so far (rows
    the LLM did not answer validly stay unlabelled and count as wrong, as in the runs)."""
    features = np.asarray(shared_minilm().transform(list(texts)))
    n = len(texts)
    rng = np.random.default_rng(seed)
    sent = np.zeros(n, dtype=bool)
    sent[rng.choice(n, size=min(first, n), replace=False)] = True
    gold_arr, points = np.array(gold, dtype=object), []
    while True:
        taught = [int(i) for i in np.nonzero(sent)[0] if llm[int(i)] is not None]
        head = LinearHead.fit(features[taught], [str(llm[i]) for i in taught], seed=seed)
        proba = head.predict_proba(features)
        guess = np.array(head.classes, dtype=object)[proba.argmax(axis=1)]
        labels = np.where(sent, np.array(llm, dtype=object), guess)
        points.append((float(sent.mean()), float(np.mean(labels == gold_arr))))
        if sent.all():
            return points
        unsent = np.nonzero(~sent)[0]
        ask = unsent[np.argsort(proba[unsent].max(axis=1))[: max(int(step * n), 1)]]
        sent[ask] = True


def share_at(points: Sequence[tuple[float, float]], accuracy: float) -> float | None:
    """The smallest share sent at which the curve reaches `accuracy` (None: never)."""
    return next((share for share, acc in points if acc >= accuracy), None)
