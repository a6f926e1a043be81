"""The run configuration: everything that decides a run's labels (a resumed run must have the same)."""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from autoannotator.errors import SpecialistError
from autoannotator.learn.stages import TRAIN_BUDGET_S, LearningConfig
from autoannotator.read import hfdata
from autoannotator.read.adapters import Adapts
from autoannotator.read.task import Task
from autoannotator.review import ReviewConfig
from autoannotator.specialists.base import Specialist
from autoannotator.trust.acceptance import TrustConfig
from autoannotator.version import __version__
from autoannotator.vote.aggregate import AggregatorName, HardRule


class RunConfig(BaseModel):
    """Everything that decides a run's labels (a resumed run must have the same)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Path
    task: Task
    specialists: tuple[str, ...] = ()
    aggregate: AggregatorName = "majority"
    hard_rule: HardRule = HardRule()
    batch_size: int = Field(default=1000, ge=1)
    first_batch: int = Field(default=100, ge=1)
    """Rows in the first batch; each next one is twice as large, up to `batch_size` (`io.batch_ends`): trust is
    measured and the first training done after 100 rows, not 1,000, so a small input benefits from both."""
    review: ReviewConfig | None = None
    """The reviewer of hard rows; None (the default, as in the CLI without --llm) leaves them unresolved."""
    allow_generated_code: bool = False
    candidates: tuple[str, ...] = ()
    learning: LearningConfig | None = Field(default_factory=LearningConfig)
    """Staged learning, on by default as in the CLI (None: off, like --no-learn)."""
    routing: Literal["trust", "rule"] = "trust"
    """trust: rows are accepted as far as the audit stream shows they agree with the reviewer (`TrustConfig`);
    rule: `aggregate` and `hard_rule` decide (the paper's gate), no audit. Trust needs a reference worth
    trusting, a reviewer or calibration labels: with neither (no reviewer, or the embedded local model, and no
    calibration labels) the rule decides."""
    trust: TrustConfig = Field(default_factory=TrustConfig)
    calibration: Path | None = None
    """A few hundred (or fewer) human-labelled rows (text and label): trust is then measured against the truth,
    and rows are accepted where the specialists are at least as accurate as the reviewer (its accuracy is
    measured on them too); with no reviewer, as accurate as `trust.target` (required), the rest left to people."""

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

    @property
    def trusting(self) -> bool:
        """Whether rows are routed by measured trust (calibration labels, or a reviewer worth trusting)."""
        trusted = self.review is not None and not self.review.local
        return self.routing == "trust" and (self.calibration is not None or trusted)


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
        return config.model_copy(update={"specialists": ("none",), "learning": None, "routing": "rule"})
    if method == "majority":
        return config.model_copy(
            update={
                "aggregate": "majority",
                "hard_rule": never_hard,
                "review": None,
                "learning": None,
                "routing": "rule",
            }
        )
    if method.startswith("specialist:"):
        name = method.removeprefix("specialist:")
        return config.model_copy(
            update={
                "specialists": (name,),
                "hard_rule": never_hard,
                "review": None,
                "learning": None,
                "routing": "rule",
            }
        )
    raise SpecialistError(f"unknown baseline {method!r}: llm, majority or specialist:NAME")


OPERATIONAL = {"budget_usd", "concurrency", "rpm", "tpm", "timeout_s", "batch_poll_s"}
"""Review settings a resumed run may change: they decide how calls are made, not what they answer."""


def fingerprint(path: Path) -> str:
    """Size plus sha256 of the first and last 64 KiB: cheap, and changes when the file does (a Hugging Face
    dataset: `hfdata.fingerprint`)."""
    if hfdata.is_hf(path):
        return hfdata.fingerprint(path)
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        digest.update(f.read(65536))
        f.seek(max(size - 65536, 0))
        digest.update(f.read(65536))
    return digest.hexdigest()


def adapter_json(task: Task, name: str) -> Any:
    """The task file's adapter for specialist `name`, as JSON (None: matched by label names)."""
    spec = task.specialists.get(name)
    return None if spec is None else spec.model_dump()


def stored_config(config: RunConfig, prepared: Sequence[tuple[str, Specialist, Adapts]]) -> dict[str, Any]:
    """What the ledger keeps of a run's configuration (a resumed run must match it; `OPERATIONAL` aside)."""
    return {
        "input": str(config.input if hfdata.is_hf(config.input) else config.input.resolve()),
        "input_fingerprint": fingerprint(config.input),
        "task": config.task.model_dump(mode="json"),
        "labels": list(config.task.label_names),
        "specialists": [name for name, _, _ in prepared],
        "aggregate": config.aggregate,
        "hard_rule": config.hard_rule.model_dump(),
        "batch_size": config.batch_size,
        "first_batch": config.first_batch,
        "review": None if config.review is None else config.review.model_dump(mode="json", exclude=OPERATIONAL),
        "learning": None if config.learning is None else config.learning.model_dump(mode="json"),
        "routing": "trust" if config.trusting else "rule",
        "trust": config.trust.model_dump(mode="json"),
        "calibration": None if config.calibration is None else str(config.calibration.resolve()),
    }


OPTIONS = {
    "input": "INPUT (its path)",
    "input_fingerprint": "INPUT (its content)",
    "task": "--task",
    "labels": "--task",
    "specialists": "--specialists",
    "aggregate": "--aggregate",
    "hard_rule": "--hard-rule",
    "batch_size": "--batch-size",
    "review": "--llm/--review",
    "review.llm": "--llm",
    "review.method": "--review",
    "review.replay": "--review",
    "review.replay_model": "--review",
    "review.replay_setting": "--review",
    "review.show_votes": "--show-votes",
    "review.prices": "--prices",
    "review.batch_api": "--batch-api",
    "learning": "--learn/--no-learn",
    "learning.rows_per_stage": "--rows-per-stage",
    "learning.warmup": "--warmup",
    "learning.replay_buffer": "--replay-buffer",
    "learning.cross_fit": "--cross-fit/--no-cross-fit",
    "learning.relabel_final": "--relabel-final",
    "learning.train_budget_s": "--train-budget-s",
    "routing": "--routing",
    "trust.target": "--target-agreement",
    "trust.share": "--audit-share",
    "trust.early_share": "--early-audit-share",
    "trust.llm_share": "--llm-share",
    "calibration": "--calibration",
}
"""The command-line option behind each setting of a stored configuration (`stored_config`), by dotted path."""


def options_of(paths: Sequence[str]) -> list[str]:
    """The options behind stored-config `paths` (the longest known prefix of each; the path itself when none),
    each once, in order."""
    found: list[str] = []
    for path in paths:
        parts = path.split(".")
        prefixes = (".".join(parts[:n]) for n in range(len(parts), 0, -1))
        option = next((OPTIONS[p] for p in prefixes if p in OPTIONS), path)
        if option not in found:
            found.append(option)
    return found


Stored = dict[str, Any]


def _renamed(section: str, old: str, new: str) -> Callable[[Stored], Stored]:
    def step(stored: Stored) -> Stored:
        part = stored.get(section)
        if not isinstance(part, dict) or old not in part:
            return stored
        renamed = {new if k == old else k: v for k, v in part.items()}
        return {**stored, section: renamed}

    return step


def _added(section: str | None, key: str, value: Callable[[Stored], Any]) -> Callable[[Stored], Stored]:
    def step(stored: Stored) -> Stored:
        part = stored if section is None else stored.get(section)
        if not isinstance(part, dict) or key in part:
            return stored
        if section is None:
            return {**stored, key: value(stored)}
        return {**stored, section: {**part, key: value(stored)}}

    return step


CONFIG_MIGRATIONS: tuple[tuple[str, Callable[[Stored], Stored]], ...] = (
    ("learning.beta is learning.rows_per_stage", _renamed("learning", "beta", "rows_per_stage")),
    ("learning.replay is learning.replay_buffer", _renamed("learning", "replay", "replay_buffer")),
    ("review.batch_api added: off before", _added("review", "batch_api", lambda _: False)),
    ("learning.cross_fit added: off before", _added("learning", "cross_fit", lambda _: False)),
    (  # no limit before; the default skips nothing a run of then would have trained in under 5 minutes a stage
        "learning.train_budget_s added: the default",
        _added("learning", "train_budget_s", lambda _: TRAIN_BUDGET_S),
    ),
    (
        "first_batch added: the first batch had --batch-size rows",
        _added(None, "first_batch", lambda c: c["batch_size"]),
    ),
    ("trust.reference added: the reviewer before", _added("trust", "reference", lambda _: "llm")),
)
"""How a configuration stored by an earlier version reads in this one (append-only, like the ledger's schema
migrations): each step fills or renames what a later version added, with the value that reproduces what the
earlier version did, and leaves a configuration that has it as it is."""


def migrate(stored: Stored) -> Stored:
    """A stored configuration (`stored_config`) of any earlier version, as this version stores it."""
    for _, step in CONFIG_MIGRATIONS:
        stored = step(stored)
    return stored


def resumed(config: RunConfig, stored: Stored) -> RunConfig:
    """`config` as it resumes the run stored as `stored` (migrated): with the settings no option sets (the first
    batch's size) as the run had them."""
    return config.model_copy(update={"first_batch": stored["first_batch"]})


def versions(prepared: Sequence[tuple[str, Specialist, Adapts]]) -> dict[str, str]:
    """The versions a run was made with: the package, Python, numpy and each specialist."""
    versions = {"autoannotator": __version__, "python": platform.python_version(), "numpy": np.__version__}
    versions.update({f"specialist:{name}": s.card.version for name, s, _ in prepared})
    return versions
