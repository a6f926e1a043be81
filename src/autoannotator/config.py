"""The run configuration: everything that decides a run's labels (a resumed run must have the same)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from autoannotator.errors import SpecialistError
from autoannotator.learning import LearningConfig
from autoannotator.review import ReviewConfig
from autoannotator.task import Task
from autoannotator.trust import TrustConfig
from autoannotator.voting import AggregatorName, HardRule


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
    routing: Literal["trust", "rule"] = "trust"
    """trust: rows are accepted as far as the audit stream shows they agree with the reviewer (`TrustConfig`);
    rule: `aggregate` and `hard_rule` decide (the paper's gate), no audit. Trust needs a reviewer worth
    trusting: with none, or the embedded local model, the rule decides."""
    trust: TrustConfig = Field(default_factory=TrustConfig)
    calibration: Path | None = None
    """A few hundred (or fewer) human-labelled rows (text and label): trust is then measured against the truth,
    and rows are accepted where the specialists are at least as accurate as the reviewer (its accuracy is
    measured on them too)."""

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
        """Whether rows are routed by measured trust (a reviewer worth trusting is there)."""
        return self.routing == "trust" and self.review is not None and not self.review.local


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
