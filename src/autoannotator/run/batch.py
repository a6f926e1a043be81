"""One batch on its way through a run, whatever the task's kind: the specialists vote; trust is measured on the
audit evidence of earlier batches (so this batch's audit rows measure its routing without bias: the run's
self-estimate rests on them); every row is decided; the audit rows and the rows nobody may accept go to the
reviewer, in one request; its answers settle them. The result is one `Batch`, committed by the caller in one
transaction.

What differs between a task with one label per row and one with a set of labels is its `Kind`, in one place
each: `autoannotator.run.single` and `autoannotator.run.sets`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from autoannotator.ledger import Batch, Decision, Ledger
from autoannotator.read.io import Record, Row, Skip
from autoannotator.review import HardRow, Reviewer, Verdict
from autoannotator.specialists.base import BoolArray, FloatArray, IntArray
from autoannotator.vote.inference import Prepared


@dataclass(frozen=True)
class Scores:
    """The specialists' outputs on a batch's n rows (m specialists, k labels): `votes` (n, m) (a label index, or
    a set's bit mask; -1 abstains), `probs` (n, m, k) (label probabilities, or each label's presence), the
    seconds each took, and, for sets, which labels each specialist speaks about, `covered` (m, k)."""

    votes: IntArray
    probs: FloatArray
    seconds: dict[str, float]
    covered: BoolArray | None = None


class Route(Protocol):
    """A batch's routing, measured before it is decided."""

    def as_json(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Route)


class Kind(Protocol[R]):
    """How a task's rows are scored, decided and settled by the reviewer's answers."""

    multi_label: bool

    def score(self, texts: Sequence[str], prepared: Prepared, pool: Executor | None) -> Scores:
        """The specialists' outputs on `texts`."""
        ...

    def route(self, ledger: Ledger, prepared: Prepared, scores: Scores, *, reviewed: bool) -> R | None:
        """The batch's routing, measured on the committed evidence (None: decided by rule, or not routed)."""
        ...

    def decisions(
        self,
        records: Sequence[Record],
        scores: Scores,
        prepared: Prepared,
        route: R | None,
        *,
        stage: int,
        audited: Sequence[bool],
    ) -> list[Decision]:
        """Each record's decision before review (see `pending`)."""
        ...

    def said(self, vote: int) -> str | None:
        """A specialist's vote as the reviewer reads it (None: it abstained)."""
        ...

    def settle(self, decisions: list[Decision], verdicts: dict[int, Verdict], route: R | None) -> None:
        """The reviewed rows (`verdicts` by index into `decisions`) take the reviewer's answers, in place."""
        ...

    def relabel(self, ledger: Ledger, prepared: Prepared, pool: Executor | None) -> None:
        """At the end (``--relabel-final``): the final specialists re-label the accepted rows of earlier
        stages."""
        ...


def run_batch(
    rows: Sequence[Row],
    kind: Kind[Any],
    prepared: Prepared,
    ledger: Ledger,
    index: int,
    *,
    reviewer: Reviewer | None,
    audited: Callable[[str, int], bool] | None,
    stage: int,
    pool: Executor | None = None,
) -> Batch:
    """Label one batch (see the module docstring); reads the ledger, writes nothing. `audited(id, pos)`: whether
    a row is in the audit draw (None: no audit, the run is not routed by trust or has no reviewer)."""
    records, skips = dedupe(rows, ledger.known_ids)
    scores = kind.score([r.text for r in records], prepared, pool)
    route = kind.route(ledger, prepared, scores, reviewed=reviewer is not None)
    drawn = [audited is not None and audited(r.id, r.pos) for r in records]
    decisions = kind.decisions(records, scores, prepared, route, stage=stage, audited=drawn)
    verdicts: dict[int, Verdict] = {}
    if reviewer is not None:
        chosen = [i for i, d in enumerate(decisions) if d.hard or d.audited]
        asked = [_hard_row(records[i], scores.votes[i], prepared, kind, decisions[i]) for i in chosen]
        verdicts.update(zip(chosen, reviewer.review(asked) if asked else [], strict=True))
    kind.settle(decisions, verdicts, route)
    return Batch(
        index=index,
        first_pos=rows[0].pos,
        next_pos=rows[-1].pos + 1,
        rows=[(r.pos, r.id, r.text) for r in records],
        skips=[(s.pos, s.id, s.field, s.reason) for s in skips],
        votes=scores.votes,
        probs=scores.probs,
        decisions=decisions,
        seconds=scores.seconds,
        reviews=[(records[i].pos, v) for i, v in sorted(verdicts.items())],
        acceptance=None if route is None else route.as_json(),
        multi_label=kind.multi_label,
    )


def pending(
    records: Sequence[Record],
    guesses: Sequence[str | None],
    hard: BoolArray,
    confidence: FloatArray,
    agreement: FloatArray,
    margins: FloatArray,
    *,
    stage: int,
    audited: Sequence[bool],
    scores: Sequence[str | None] | None = None,
) -> list[Decision]:
    """The decisions of n `records` before review: a row is accepted with its best guess and its calibrated
    `confidence`, or `hard` (``unresolved`` until reviewed); `agreement` and `margins` (n,) describe the vote,
    `scores` (multi-label) each chosen label's probability as JSON."""
    return [
        Decision(
            pos=r.pos,
            label=None if hard[i] else guesses[i],
            confidence=None if hard[i] else float(confidence[i]),
            source="unresolved" if hard[i] else "consensus",
            best_guess=guesses[i],
            agreement=float(agreement[i]),
            margin=float(margins[i]),
            hard=bool(hard[i]),
            stage=stage,
            audited=audited[i],
            scores=None if scores is None else scores[i],
        )
        for i, r in enumerate(records)
    ]


def _hard_row(record: Record, votes: IntArray, prepared: Prepared, kind: Kind[Any], decision: Decision) -> HardRow:
    """A row as the reviewer sees it: its text, each specialist's vote (m,), the best guess where it has one."""
    said = {name: kind.said(int(v)) for (name, _, _), v in zip(prepared, votes, strict=True)}
    return HardRow(record.pos, record.text, said, None if kind.multi_label else decision.best_guess)


def dedupe(rows: Sequence[Row], known_ids: Callable[[Sequence[str]], set[str]]) -> tuple[list[Record], list[Skip]]:
    """Split usable rows from skips; a repeated id (earlier in the run or this batch) becomes a skip."""
    records = [r for r in rows if isinstance(r, Record)]
    skips = [r for r in rows if isinstance(r, Skip)]
    taken = known_ids([r.id for r in records])
    kept = []
    for record in records:
        if record.id in taken:
            skips.append(Skip(record.pos, record.id, "id", "duplicate id"))
        else:
            taken.add(record.id)
            kept.append(record)
    return kept, sorted(skips, key=lambda s: s.pos)
