"""AutoAnnotator: label text datasets with voting specialists; only the rows they disagree on need review.

Public surface (pinned by tests/unit/test_public_api.py)::

    from autoannotator import RunConfig, annotate, load_task
    result = annotate(RunConfig(input=Path("reviews.csv"), task=load_task("sentiment-2")),
                      out=Path("labels.jsonl"), run_dir=Path("run"))
    report = evaluate(Path("labels.jsonl"), gold=Path("reviews.csv"))
"""

from __future__ import annotations

from autoannotator.errors import (
    AdapterError,
    AutoAnnotatorError,
    InputError,
    LedgerError,
    SpecialistError,
    TaskError,
)
from autoannotator.learn.stages import LearningConfig
from autoannotator.read.adapters import AdapterSpec, compile_adapter
from autoannotator.read.task import Task, load_task
from autoannotator.report.evaluation import Report, evaluate
from autoannotator.run.config import RunConfig
from autoannotator.run.pipeline import RunResult, annotate, baseline
from autoannotator.trust.acceptance import TrustConfig
from autoannotator.version import __version__
from autoannotator.vote.aggregate import HardRule

__all__ = [
    "AdapterError",
    "AdapterSpec",
    "AutoAnnotatorError",
    "HardRule",
    "InputError",
    "LearningConfig",
    "LedgerError",
    "Report",
    "RunConfig",
    "RunResult",
    "SpecialistError",
    "Task",
    "TaskError",
    "TrustConfig",
    "__version__",
    "annotate",
    "baseline",
    "compile_adapter",
    "evaluate",
    "load_task",
]
