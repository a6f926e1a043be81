"""People's labels as a guided step: which rows to ask, and the run re-judged on their answers.

The draw is stratified: the rows in doubt (the reviewer's answer differs from the specialists' best guess, so
one of them is wrong there; or nobody settled the row) and every other row, each stratum sampled uniformly. A
row's weight is its stratum's size over the rows asked in it, so weighted figures on the asked rows are
unbiased for the whole output although the disagreements are asked far more often than their share.

The re-judgement stacks the sources: on the asked rows, a weighted logistic regression learns the true label
from what each source said (the reviewer's answer, each specialist's vote and its probability), so two sources
that err together share one weight instead of counting twice. Five of them are fitted, each on all but one
fold of the people's rows; they re-label the other rows (their mean) only when their cross-fitted accuracy on
the people's rows beats the run's own labels there; no reviewer is asked. The output's accuracy is estimated
as prediction-powered inference does (Angelopoulos et al. 2023, cross-fitted as in Zrnic and Candes 2024): the
model's confidence on every row, corrected by its error on the people's rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

from autoannotator.ledger import Ledger, asks, humans
from autoannotator.specialists.base import FloatArray, IntArray
from autoannotator.trust.acceptance import interval
from autoannotator.vote.aggregate import BoolArray

DISAGREE, REST = "disagree", "rest"
"""The strata of the draw."""
FOLDS = 5
"""Parts in cross-fitting the stacker on the people's rows."""
MIN_ROWS = 20
"""People's labels needed before the run is re-judged on them."""


def draw(disagree: BoolArray, n: int, share: float, seed: int) -> tuple[IntArray, FloatArray, BoolArray]:
    """Rows to ask: of the candidates (whether each is a disagreement (c,)), up to `share` of `n` uniformly
    from the disagreements and the rest uniformly from the other rows (any stratum short of rows gives its
    spare to the other); (indices (a,) in order, weights (a,), disagreement (a,))."""
    rng = np.random.default_rng(seed)
    strata = [np.nonzero(disagree)[0], np.nonzero(~disagree)[0]]
    want = min(len(strata[0]), round(n * share))
    sizes = [want, min(len(strata[1]), n - want)]
    sizes[0] = min(len(strata[0]), n - sizes[1])
    chosen, weights = [], []
    for rows, size in zip(strata, sizes, strict=True):
        picked = rng.choice(rows, size=size, replace=False) if size else np.zeros(0, dtype=np.int64)
        chosen.append(picked)
        weights.append(np.full(size, len(rows) / max(size, 1)))
    order = np.argsort(np.concatenate(chosen), kind="stable")
    index = np.concatenate(chosen)[order].astype(np.int64)
    return index, np.concatenate(weights)[order], disagree[index]


def features(said: IntArray, prob: FloatArray, k: int) -> FloatArray:
    """(n, s * (k + 2)) the stacker's inputs from what s sources said (n, s; -1: nothing) with the probability
    each gave (n, s): per source a one-hot of its label (or of silence) and its probability."""
    n, s = said.shape
    onehot = np.zeros((n, s, k + 1))
    onehot[np.arange(n)[:, None], np.arange(s)[None, :], np.where(said < 0, k, said)] = 1.0
    return np.concatenate([onehot, prob[:, :, None]], axis=2).reshape(n, s * (k + 2))


def _stacker(x: FloatArray, y: IntArray, w: FloatArray) -> tuple[LogisticRegression, IntArray]:
    """A logistic regression of the labels y (t,) on x (t, d), rows weighted by w (t,); with the labels it saw."""
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(x, y, sample_weight=w / w.mean())
    return model, model.classes_.astype(np.int64)


def _probs(model: LogisticRegression, classes: IntArray, x: FloatArray, k: int) -> FloatArray:
    """(n, k) the stacker's label probabilities (labels it never saw: 0)."""
    out = np.zeros((len(x), k))
    out[:, classes] = model.predict_proba(x)
    return out


def crossfit(
    x: FloatArray, people: IntArray, y: IntArray, w: FloatArray, k: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Stackers fitted on all but one fold of the people's rows `people` (t,) of x (n, d): each people's row's
    label probabilities by the one that did not see it (t, k), and every row's mean over them (n, k), as
    cross-fitted prediction-powered inference pairs them (a model fitted on all the people's rows would be
    surer on the other rows than on its held-out ones, and the estimate optimistic)."""
    fold = np.random.default_rng(seed).permutation(len(y)) % FOLDS
    held, mean = np.zeros((len(y), k)), np.zeros((len(x), k))
    for f in range(FOLDS):
        fit = fold != f
        if len(np.unique(y[fit])) < 2:
            probs = np.tile(np.bincount(y[fit], minlength=k) / fit.sum(), (len(x), 1))
        else:
            model, classes = _stacker(x[people[fit]], y[fit], w[fit])
            probs = _probs(model, classes, x, k)
        held[~fit] = probs[people[~fit]]
        mean += probs / FOLDS
    return held, mean


def ppi(
    confidence: FloatArray, correct: BoolArray, predicted: FloatArray, w: FloatArray
) -> tuple[float, float, float]:
    """(estimate, low, high) of the mean accuracy of rows whose model confidence is `confidence` (n,): its mean
    corrected by the model's weighted error on the people's rows, where it was `correct` (t,) with confidence
    `predicted` (t,), weights `w` (t,); a 95% normal interval."""
    rectifier = correct.astype(np.float64) - predicted
    p = w / w.sum()
    shift = float(p @ rectifier)
    n_eff = w.sum() ** 2 / (w**2).sum()
    variance = float(confidence.var()) / len(confidence) + float(p @ (rectifier - shift) ** 2) / n_eff
    estimate = float(confidence.mean()) + shift
    half = float(norm.ppf(0.975)) * variance**0.5
    return estimate, max(estimate - half, 0.0), min(estimate + half, 1.0)


@dataclass(frozen=True)
class Rejudgement:
    """The run re-judged on people's labels: each row's `label` (n,) and `confidence` (n,) (the stacker's, for
    rows it `changed` (n,)), whether the stacker is `used`, and figures on the people's rows (weighted, each
    (rate, low, high, rows)): the run's labels `before`, the reviewer where it answered, the stacker
    cross-fitted (`after`); `estimate`: the whole output's accuracy (people's rows right), PPI (rate, low,
    high)."""

    label: IntArray
    confidence: FloatArray
    changed: BoolArray
    used: bool
    before: tuple[float, float, float, int]
    reviewer: tuple[float, float, float, int]
    after: tuple[float, float, float, int]
    estimate: tuple[float, float, float]


def rejudge(
    said: IntArray,
    prob: FloatArray,
    run: IntArray,
    confidence: FloatArray,
    people: IntArray,
    truth: IntArray,
    weights: FloatArray,
    k: int,
    *,
    seed: int = 0,
) -> Rejudgement:
    """Re-judge n rows from what their sources said (n, s; the reviewer first) with probabilities (n, s), the
    run's labels `run` (n,; -1: none) and confidences (n,), given people's labels `truth` (t,) on rows `people`
    (t,) with draw `weights` (t,). People's rows keep their label; see the module docstring."""
    x = features(said, prob, k)
    oof, stacked = crossfit(x, people, truth, weights, k, seed)
    before = interval(run[people] == truth, weights)
    answered = said[people, 0] >= 0
    reviewer = interval((said[people, 0] == truth)[answered], weights[answered])
    after = interval(oof.argmax(axis=1) == truth, weights)
    used = after[0] > before[0]
    label = np.where(used, stacked.argmax(axis=1), run)
    others = np.ones(len(run), dtype=bool)
    others[people] = False
    changed = others & (label != run)
    label[people] = truth
    given = np.where(changed, stacked.max(axis=1), confidence)
    own = np.where(label >= 0, stacked[np.arange(len(run)), np.maximum(label, 0)], 0.0)
    picked = oof.argmax(axis=1) if used else run[people]
    held = np.where(picked >= 0, oof[np.arange(len(truth)), np.maximum(picked, 0)], 0.0)
    rest = ppi(own[others], picked == truth, held, weights) if others.any() else (1.0, 1.0, 1.0)
    share = others.mean()  # the people's rows are right by definition
    estimate = (rest[0] * share + 1 - share, rest[1] * share + 1 - share, rest[2] * share + 1 - share)
    return Rejudgement(label, given, changed, bool(used), before, reviewer, after, estimate)


def ask(ledger: Ledger, n: int, *, share: float = 0.5, seed: int = 0) -> tuple[list[tuple[int, str, float]], bool]:
    """Choose and record `n` rows of the run for people (see `draw`): (pos, stratum, weight) of each, and
    whether they were drawn before: one draw per run (its weights hold for that draw only), so rows asked
    before are asked again."""
    before = asks.asked(ledger)
    if before:
        return [(pos, stratum, weight) for pos, stratum, weight, _, _ in before], True
    positions, disagree = asks.draw_frame(ledger)
    index, weights, strata = draw(disagree, n, share, seed)
    chosen = [
        (int(positions[i]), DISAGREE if d else REST, float(w))
        for i, w, d in zip(index.tolist(), weights.tolist(), strata.tolist(), strict=True)
    ]
    asks.record_asks(ledger, chosen)
    return chosen, False


def people_first(ledger: Ledger, people: dict[str, str], weights: dict[str, float] | None) -> Rejudgement | None:
    """A run's end with people's labels asked before it (`people`: row id -> label): the rows of the run among
    them take their labels; drawn uniformly from the input (`weights`: row id -> the rows each stands for),
    they are the run's draw for people (recorded once, with the run's labels before the people's) and the run
    is re-judged on them (`rejudge_run`). Repeatable: a resumed run ends the same."""
    where = humans.positions_of(ledger, list(people))
    if not where:
        return None
    if weights is not None and not asks.asked(ledger):
        asks.record_asks(ledger, sorted((pos, REST, weights[ident]) for ident, pos in where.items()))
    humans.set_human_labels(ledger, {i: people[i] for i in where}, annotator="people (before the run)")
    return None if weights is None else rejudge_run(ledger)


def rejudge_run(ledger: Ledger) -> Rejudgement | None:
    """Re-judge the run on the people's labels of its asked rows and store the labels that change (no reviewer
    call); None when fewer than `MIN_ROWS` asked rows have a person's label, or all the same one."""
    answered = [(pos, weight, person) for pos, _, weight, _, person in asks.asked(ledger) if person is not None]
    if len(answered) < MIN_ROWS or len({person for _, _, person in answered}) < 2:
        return None
    labels: list[str] = ledger.meta("config")["labels"]
    index = {label: c for c, label in enumerate(labels)}
    positions, run_label, run_confidence = asks.run_labels(ledger)
    said, prob = asks.sources(ledger, positions, labels, len(ledger.specialist_names()))
    where = {int(p): i for i, p in enumerate(positions.tolist())}
    result = rejudge(
        said,
        prob,
        np.array([index.get(label, -1) if label else -1 for label in run_label], dtype=np.int64),
        np.array([c if c is not None else 0.0 for c in run_confidence]),
        np.array([where[pos] for pos, _, _ in answered], dtype=np.int64),
        np.array([index[person] for _, _, person in answered], dtype=np.int64),
        np.array([weight for _, weight, _ in answered]),
        len(labels),
    )
    changed = np.nonzero(result.changed)[0].tolist()
    asks.record_rejudged(
        ledger, [(int(positions[i]), labels[result.label[i]], float(result.confidence[i])) for i in changed]
    )
    return result


def describe(result: Rejudgement) -> str:
    """One paragraph on a re-judgement: what people's labels measured, what changed, and the estimate."""

    def rate(figure: tuple[float, float, float, int]) -> str:
        return "-" if not figure[3] else f"{figure[0]:.3f} ({figure[1]:.3f}-{figure[2]:.3f})"

    low, high = result.estimate[1:]
    what = (
        f"{int(result.changed.sum()):,} rows re-labelled from the sources (no reviewer call)"
        if result.used
        else "labels kept (the stacked sources were not more accurate than the run on them)"
    )
    return (
        f"People's labels on {result.before[3]:,} asked rows (weighted to the whole output, 95% intervals): the "
        f"run's labels right on {rate(result.before)}, the reviewer's on {rate(result.reviewer)}, the stacked "
        f"sources' (cross-fitted) on {rate(result.after)}; {what}. Estimated accuracy of the output: "
        f"{result.estimate[0]:.3f} ({low:.3f}-{high:.3f}; prediction-powered: the model's confidence on every "
        f"row, corrected by its errors on the people's rows)."
    )
