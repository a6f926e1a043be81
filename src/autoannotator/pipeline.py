"""The annotation loop: read a batch, let every specialist vote, aggregate, flag hard rows, commit.

Each batch is committed to the ledger in one transaction, and the output file is written from the ledger
at the end (atomically), so a killed run resumed with ``resume=True`` ends with exactly the output of an
uninterrupted run. Hard rows go to the reviewer, if any (an LLM, or replayed LLM answers); those it cannot
decide (no budget left, no valid answer) end as ``unresolved``, with the vote's best guess beside them.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from autoannotator import __version__
from autoannotator.adapters import AdapterSpec, Adapts, compile_adapter
from autoannotator.controller import select
from autoannotator.errors import InputError, SpecialistError
from autoannotator.io import ColumnType, Record, Row, Skip, Source, file_format, write_rows
from autoannotator.learning import Learner, LearningConfig, Routing, learn_routing, silent
from autoannotator.ledger import Batch, Decision, Ledger
from autoannotator.review import Examples, HardRow, ReviewConfig, Reviewer, build_reviewer, controller_gateway
from autoannotator.specialists import build, shared_minilm
from autoannotator.specialists.base import FloatArray, IntArray, Specialist, Trainable
from autoannotator.task import Task
from autoannotator.voting import AGGREGATORS, AggregatorName, BoolArray, HardRule, agreement, consensus, margin

OUTPUT_COLUMNS: dict[str, ColumnType] = {
    "id": "string",
    "text": "string",
    "label": "string",
    "confidence": "float",
    "source": "string",
    "best_guess": "string",
    "votes": "string",
    "agreement": "float",
    "stage": "int",
    "review": "string",
    "rationale": "string",
    "tokens": "int",
    "cost_usd": "float",
}
OPERATIONAL = {"budget_usd", "concurrency", "rpm", "tpm", "timeout_s"}
"""Review settings a resumed run may change: they decide how calls are made, not what they answer."""
Progress = Callable[[int, int, int], None]
"""Called after each batch with (rows done, bytes read, bytes total)."""


class RunConfig(BaseModel):
    """Everything that decides a run's labels (a resumed run must have the same)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Path
    task: Task
    specialists: tuple[str, ...] = ()
    aggregate: AggregatorName = "majority"
    hard_rule: HardRule = HardRule()
    batch_size: int = Field(default=1000, ge=1)
    review: ReviewConfig | None = None
    """The reviewer of hard rows; None (the default, as in the CLI without --llm) leaves them unresolved."""
    allow_generated_code: bool = False
    candidates: tuple[str, ...] = ()
    learning: LearningConfig | None = Field(default_factory=LearningConfig)
    """Staged learning, on by default as in the CLI (None: off, like --no-learn)."""

    def chosen(self) -> tuple[str, ...]:
        """The specialists to run: the given ones, else the task's; none at all for ``("none",)`` (every row
        goes to the reviewer: the LLM-only baseline)."""
        if self.specialists == ("none",):
            if self.review is None:
                raise SpecialistError("--specialists none needs a reviewer: every row goes to it")
            return ()
        names = self.specialists or tuple(self.task.specialists)
        if not names:
            raise SpecialistError(
                f"task {self.task.name!r} names no specialists: list some in the task file or with --specialists"
            )
        return names


@dataclass(frozen=True)
class RunResult:
    """What a finished run reports."""

    out: Path
    ledger: Path
    counts: dict[str, int]
    rows: int
    seconds: float
    specialist_seconds: dict[str, float]
    review_usage: dict[str, float]
    llm_usage: dict[str, dict[str, float]]
    relabelled: dict[tuple[str, str], int]
    """With ``relabel_final``: labels changed at the end, by (old, new)."""
    spent_usd: float
    """What the run paid the LLM, over all its attempts (a crash and resume included)."""


def check_paths(config: RunConfig, out: Path) -> None:
    """Refuse, before any work, an input that is not a readable file or an output of unknown format."""
    file_format(out)
    file_format(config.input)
    if not config.input.is_file():
        raise InputError(config.input, "file not found")


def fingerprint(path: Path) -> str:
    """Size plus sha256 of the first and last 64 KiB: cheap, and changes when the file does."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        digest.update(f.read(65536))
        f.seek(max(size - 65536, 0))
        digest.update(f.read(65536))
    return digest.hexdigest()


def prepare(config: RunConfig) -> list[tuple[str, Specialist, Adapts]]:
    """Build the chosen specialists and compile their adapters (errors surface before any work)."""
    prepared: list[tuple[str, Specialist, Adapts]] = []
    for name in config.chosen():
        specialist = build(name, config.task)
        card = specialist.card
        if isinstance(specialist, Trainable) and not card.native_labels:  # cold start: task labels
            card = card.model_copy(update={"native_labels": config.task.label_names})
        adapter = compile_adapter(
            config.task.specialists.get(name), card, config.task, allow_code=config.allow_generated_code
        )
        prepared.append((name, specialist, adapter))
    return prepared


def annotate(
    config: RunConfig,
    *,
    out: Path,
    run_dir: Path,
    resume: bool = False,
    progress: Progress | None = None,
    csv_safe: bool = False,
) -> RunResult:
    """Label `config.input` into `out` (JSONL, CSV or Parquet), keeping the run in `run_dir`/ledger.sqlite;
    `csv_safe` neutralises formula-like CSV cells."""
    started = time.perf_counter()
    check_paths(config, out)
    if config.specialists == ("auto",):
        config = choose(config, run_dir / "ledger.sqlite")
    prepared = prepare(config)
    source = Source(config.input, text_field=config.task.text_field, id_field=config.task.id_field)
    ledger_path = run_dir / "ledger.sqlite"
    with Ledger(ledger_path) as ledger:
        ledger.begin_run(
            _ledger_config(config, prepared),
            [
                (name, s.card.model_dump_json(), json.dumps(_adapter_json(config.task, name)))
                for name, s, _ in prepared
            ],
            versions=_versions(prepared),
            resume=resume,
        )
        done = ledger.next_pos()
        batch_index = ledger.next_batch()
        reviewer, examples = _reviewer(config, ledger)
        learner = None if config.learning is None else Learner(config.learning, run_dir, config.task.label_names)
        routing = None
        if learner is not None:
            prepared, routing = _learn(learner, ledger, prepared, config.task, restore=True)
        audit = _audit(config) if any(isinstance(s, Trainable) for _, s, _ in prepared) else None
        try:
            with ThreadPoolExecutor(max_workers=max(len(prepared), 1), thread_name_prefix="specialist") as pool:
                for rows in source.batches(config.batch_size, start=done):
                    batch = label_batch(
                        rows,
                        prepared,
                        config,
                        ledger.known_ids,
                        batch_index,
                        pool=pool,
                        stage=ledger.stage(),
                        routing=routing,
                    )
                    if reviewer is not None:
                        batch = review_batch(
                            batch,
                            reviewer,
                            config.task,
                            [n for n, _, _ in prepared],
                            examples,
                            audit=audit,
                        )
                    ledger.commit(batch)
                    done, batch_index = batch.next_pos, batch_index + 1
                    if learner is not None:
                        prepared, routing = _learn(learner, ledger, prepared, config.task)
                    if progress is not None:
                        progress(done, source.bytes_read, source.size)
                if learner is not None and learner.config.relabel_final:
                    relabel(ledger, prepared, config, routing, pool=pool)
        finally:
            if reviewer is not None:
                reviewer.close()
        ledger.set_meta("csv_safe", csv_safe)
        n = write_output(ledger, out)
        ledger.set_meta("status", "complete")
        return RunResult(
            out,
            ledger_path,
            ledger.counts(),
            n,
            time.perf_counter() - started,
            ledger.seconds_by_specialist(),
            ledger.review_usage(),
            ledger.llm_usage(),
            ledger.relabel_changes(),
            ledger.spent_usd(),
        )


def baseline(config: RunConfig, method: str) -> RunConfig:
    """`config` turned into a baseline run on the same rows, with no learning:

    - ``llm``: every row goes to the reviewer (its model and strategy, e.g. ``self-consistency`` for a
      majority over samples);
    - ``majority``: the specialists' majority vote labels every row they vote on, no reviewer;
    - ``specialist:NAME``: that specialist alone, no reviewer.
    """
    never_hard = HardRule(kind="agreement", threshold=0.0, min_votes=1)
    if method == "llm":
        if config.review is None:
            raise SpecialistError("the llm baseline needs a reviewer (--llm / --review)")
        return config.model_copy(update={"specialists": ("none",), "learning": None})
    if method == "majority":
        return config.model_copy(
            update={"aggregate": "majority", "hard_rule": never_hard, "review": None, "learning": None}
        )
    if method.startswith("specialist:"):
        name = method.removeprefix("specialist:")
        return config.model_copy(
            update={"specialists": (name,), "hard_rule": never_hard, "review": None, "learning": None}
        )
    raise SpecialistError(f"unknown baseline {method!r}: llm, majority or specialist:NAME")


def choose(config: RunConfig, ledger_path: Path, *, probe: int = 200, k: int = 3) -> RunConfig:
    """Resolve ``--specialists auto``: the meta-controller picks `k` specialists and their adapters on the first
    `probe` rows; the choice and its evidence are kept in the ledger, and a resumed run reuses them."""
    with Ledger(ledger_path) as ledger:
        key = f"selection:{fingerprint(config.input)[:16]}"
        stored = ledger.meta(key)
        if stored is None:
            texts = [
                r.text
                for batch in Source(
                    config.input, text_field=config.task.text_field, id_field=config.task.id_field
                ).batches(probe)
                for r in batch
                if isinstance(r, Record)
            ][:probe]
            review = config.review
            gateway = reviewer = None
            if review is not None and review.method != "replay" and not review.local:
                gateway = controller_gateway(review, ledger, spent_usd=ledger.spent_usd())
            if review is not None and not review.local:
                reviewer = build_reviewer(review, config.task, ledger, spent_usd=ledger.spent_usd(), examples=None)
            try:
                stored = select(
                    config.task,
                    texts,
                    k=k,
                    gateway=gateway,
                    reviewer=reviewer,
                    allow_code=config.allow_generated_code,
                ).as_json()
            finally:
                if reviewer is not None:
                    reviewer.close()
            ledger.set_meta(key, stored)
    adapters = {
        name: None if spec is None else AdapterSpec.model_validate(spec)
        for name, spec in stored["adapters"].items()
    }
    task = config.task.model_copy(update={"specialists": adapters})
    return config.model_copy(update={"task": task, "specialists": tuple(stored["specialists"])})


def _audit(config: RunConfig) -> Callable[[str], bool] | None:
    """With learned routing, the rows of the validation slice are reviewed even when the specialists agree, so
    that routing is learned on a sample of all rows, not only on the hard ones."""
    learning = config.learning
    if learning is None or learning.routing != "learned":
        return None
    return learning.validates


def _learn(
    learner: Learner,
    ledger: Ledger,
    prepared: list[tuple[str, Specialist, Adapts]],
    task: Task,
    *,
    restore: bool = False,
) -> tuple[list[tuple[str, Specialist, Adapts]], Routing | None]:
    """Train the trainable specialists when a stage is due (and, with `restore`, first load their last promoted
    versions); returns `prepared` with the promoted versions swapped in, and the stage's learned routing (kept
    in the ledger, so a resumed run routes as the first run did)."""
    trainables = {n: s for n, s, _ in prepared if isinstance(s, Trainable)}
    fixed = [(n, s) for n, s, _ in prepared if n not in trainables]
    if restore:
        learner.restore(ledger, trainables, fixed)
    trained = False
    while trainables and learner.due(ledger):
        learner.train(ledger, trainables, fixed)
        trained = True
    prepared = [
        (name, trainables[name], compile_adapter(None, trainables[name].card, task))
        if name in trainables and trainables[name] is not specialist
        else (name, specialist, adapter)
        for name, specialist, adapter in prepared
    ]
    stage = ledger.stage()
    if stage == 0 or learner.config.routing != "learned":
        return prepared, None
    stored = ledger.meta(f"routing:{stage}")
    if stored is None or trained:
        routing = learn_routing(ledger, prepared, task.label_names, learner.config)
        stored = None if routing is None else asdict(routing)
        ledger.set_meta(f"routing:{stage}", stored)
    return prepared, None if stored is None else Routing(**stored)


def relabel(
    ledger: Ledger,
    prepared: Sequence[tuple[str, Specialist, Adapts]],
    config: RunConfig,
    routing: Routing | None,
    *,
    pool: Executor | None = None,
) -> None:
    """The final specialists re-label the consensus rows of earlier stages, deciding as the last stage did;
    a row they find hard keeps its label. Chunk by chunk, each one transaction (a resumed run goes on)."""
    k = len(config.task.labels)
    names = config.task.label_names
    for chunk in ledger.relabel_candidates(ledger.stage()):
        votes, probs, _ = vote([t for _, t, _ in chunk], prepared, k, pool=pool)
        label_probs, hard = _decide(votes, probs, prepared, config, routing)
        best = label_probs.argmax(axis=1)
        ledger.record_relabels(
            ledger.stage(),
            [
                (pos, old, None if hard[i] else names[best[i]], None if hard[i] else float(label_probs[i].max()))
                for i, (pos, _, old) in enumerate(chunk)
            ],
        )


def _decide(
    votes: IntArray,
    probs: FloatArray,
    prepared: Sequence[tuple[str, Specialist, Adapts]],
    config: RunConfig,
    routing: Routing | None,
) -> tuple[FloatArray, BoolArray]:
    """(label probabilities (n, k), hard (n,)): the learned routing, else the run's aggregate and hard rule."""
    k = len(config.task.labels)
    if routing is not None:
        return routing.decide([n for n, _, _ in prepared], votes, probs, k)
    label_probs = AGGREGATORS[config.aggregate](votes, probs, k)
    return label_probs, config.hard_rule(votes, label_probs)


def write_output(ledger: Ledger, out: Path) -> int:
    """Write the run's rows to `out` (atomically) and its skipped rows beside it; returns the row count. CSV
    cells that a spreadsheet would run as formulas are neutralised when the run asked for it (``csv_safe``)."""
    n = write_rows(out, ledger.labelled(), columns=OUTPUT_COLUMNS, csv_safe=bool(ledger.meta("csv_safe")))
    skipped = ledger.skipped()
    if skipped:
        write_rows(
            out.with_name(out.stem + ".skipped.jsonl"),
            [skipped],
            columns={"row": "int", "id": "string", "field": "string", "reason": "string"},
        )
    return n


def _reviewer(config: RunConfig, ledger: Ledger) -> tuple[Reviewer | None, Examples | None]:
    """The run's reviewer, and the few-shot pool rebuilt from the rows already agreed on (as on a first run)."""
    if config.review is None:
        return None, None
    examples = None
    if config.review.method == "few-shot":
        examples = Examples(shared_minilm())
        for texts, labels in ledger.consensus_rows():
            examples.add(texts, labels)
    reviewer = build_reviewer(config.review, config.task, ledger, spent_usd=ledger.spent_usd(), examples=examples)
    return reviewer, examples


def review_batch(
    batch: Batch,
    reviewer: Reviewer,
    task: Task,
    names: Sequence[str],
    examples: Examples | None,
    audit: Callable[[str], bool] | None = None,
) -> Batch:
    """Send the batch's hard rows to `reviewer`, and the agreed rows that `audit` picks by id (an unbiased
    sample for learning how to route); a valid verdict makes the row's label (source ``llm``)."""
    texts = {pos: text for pos, _, text in batch.rows}
    ids = {pos: ident for pos, ident, _ in batch.rows}
    agreed = [d for d in batch.decisions if not d.hard]
    if examples is not None and agreed:
        examples.add([texts[d.pos] for d in agreed], [str(d.label) for d in agreed])
    index = {d.pos: i for i, d in enumerate(batch.decisions)}
    hard = [d for d in batch.decisions if d.hard or (audit is not None and audit(ids[d.pos]))]
    rows = [
        HardRow(
            d.pos,
            texts[d.pos],
            {
                name: (task.label_names[v] if v >= 0 else None)
                for name, v in zip(names, batch.votes[index[d.pos]], strict=True)
            },
            d.best_guess,
        )
        for d in hard
    ]
    verdicts = reviewer.review(rows) if rows else []
    decisions = list(batch.decisions)
    for decision, verdict in zip(hard, verdicts, strict=True):
        if verdict.status == "ok":
            decisions[index[decision.pos]] = replace(
                decision, label=verdict.label, confidence=verdict.confidence, source="llm"
            )
    return replace(batch, decisions=decisions, reviews=[(d.pos, v) for d, v in zip(hard, verdicts, strict=True)])


def vote(
    texts: Sequence[str],
    prepared: Sequence[tuple[str, Specialist, Adapts]],
    k: int,
    *,
    pool: Executor | None = None,
) -> tuple[IntArray, FloatArray, dict[str, float]]:
    """Every specialist's adapted vote on `texts`: votes (n, m), probs (n, m, k), and each one's seconds
    (an untrained specialist beside fixed ones abstains: see `silent`).

    With a `pool`, the specialists run concurrently (ONNX Runtime and the regex engines release the GIL).
    """

    def run(item: tuple[str, Specialist, Adapts]) -> tuple[IntArray, FloatArray, float]:
        _, specialist, adapter = item
        if silent(specialist, prepared):  # cold start: abstain
            return np.full(len(texts), -1, dtype=np.int64), np.full((len(texts), k), 1.0 / k), 0.0
        tick = time.perf_counter()
        native = specialist.predict(texts)
        seconds = time.perf_counter() - tick
        return *adapter.apply(native), seconds

    results = list(pool.map(run, prepared) if pool is not None else map(run, prepared))
    votes: IntArray = np.full((len(texts), len(prepared)), -1, dtype=np.int64)
    probs: FloatArray = np.zeros((len(texts), len(prepared), k))
    for j, (v, p, _) in enumerate(results):
        votes[:, j], probs[:, j] = v, p
    return votes, probs, {name: r[2] for (name, _, _), r in zip(prepared, results, strict=True)}


def label_batch(
    rows: Sequence[Row],
    prepared: Sequence[tuple[str, Specialist, Adapts]],
    config: RunConfig,
    known_ids: Callable[[Sequence[str]], set[str]],
    index: int,
    *,
    pool: Executor | None = None,
    stage: int = 0,
    routing: Routing | None = None,
) -> Batch:
    """Vote on one batch of rows and decide each usable row; pure apart from the specialists' inference.
    With a learned `routing`, the accuracy-weighted vote and its confidence threshold decide."""
    records, skips = _dedupe(rows, known_ids)
    k = len(config.task.labels)
    votes, probs, seconds = vote([r.text for r in records], prepared, k, pool=pool)
    label_probs, hard = _decide(votes, probs, prepared, config, routing)
    best = consensus(label_probs, votes)
    agree = agreement(votes, best)
    margins = margin(label_probs)
    names = config.task.label_names
    decisions = []
    for i, record in enumerate(records):
        guess = names[best[i]] if best[i] >= 0 else None
        confidence = float(label_probs[i].max())
        decisions.append(
            Decision(
                pos=record.pos,
                label=None if hard[i] else guess,
                confidence=None if hard[i] else confidence,
                source="unresolved" if hard[i] else "consensus",
                best_guess=guess,
                agreement=float(agree[i]),
                margin=float(margins[i]),
                hard=bool(hard[i]),
                stage=stage,
            )
        )
    return Batch(
        index=index,
        first_pos=rows[0].pos,
        next_pos=rows[-1].pos + 1,
        rows=[(r.pos, r.id, r.text) for r in records],
        skips=[(s.pos, s.id, s.field, s.reason) for s in skips],
        votes=votes,
        probs=probs,
        decisions=decisions,
        seconds=seconds,
    )


def _dedupe(
    rows: Sequence[Row], known_ids: Callable[[Sequence[str]], set[str]]
) -> tuple[list[Record], list[Skip]]:
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


def _adapter_json(task: Task, name: str) -> Any:
    spec = task.specialists.get(name)
    return None if spec is None else spec.model_dump()


def _ledger_config(config: RunConfig, prepared: Sequence[tuple[str, Specialist, Adapts]]) -> dict[str, Any]:
    return {
        "input": str(config.input.resolve()),
        "input_fingerprint": fingerprint(config.input),
        "task": config.task.model_dump(mode="json"),
        "labels": list(config.task.label_names),
        "specialists": [name for name, _, _ in prepared],
        "aggregate": config.aggregate,
        "hard_rule": config.hard_rule.model_dump(),
        "batch_size": config.batch_size,
        "review": None if config.review is None else config.review.model_dump(mode="json", exclude=OPERATIONAL),
        "learning": None if config.learning is None else config.learning.model_dump(mode="json"),
    }


def _versions(prepared: Sequence[tuple[str, Specialist, Adapts]]) -> dict[str, str]:
    versions = {"autoannotator": __version__, "python": platform.python_version(), "numpy": np.__version__}
    versions.update({f"specialist:{name}": s.card.version for name, s, _ in prepared})
    return versions
