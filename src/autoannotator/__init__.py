"""AutoAnnotator: label text datasets with voting specialists; only the rows they disagree on need review.

Public surface (pinned by tests/unit/test_public_api.py)::

    from autoannotator import RunConfig, annotate, load_task
    result = annotate(RunConfig(input=Path("reviews.csv"), task=load_task("sentiment-2")),
                      out=Path("labels.jsonl"), run_dir=Path("run"))
"""

from __future__ import annotations

__version__ = "0.1.0"

from autoannotator.adapters import AdapterSpec, compile_adapter
from autoannotator.errors import (
    AdapterError,
    AutoAnnotatorError,
    InputError,
    LedgerError,
    SpecialistError,
    TaskError,
)
from autoannotator.pipeline import RunConfig, RunResult, annotate
from autoannotator.task import Task, load_task
from autoannotator.voting import HardRule

__all__ = [
    "AdapterError",
    "AdapterSpec",
    "AutoAnnotatorError",
    "HardRule",
    "InputError",
    "LedgerError",
    "RunConfig",
    "RunResult",
    "SpecialistError",
    "Task",
    "TaskError",
    "__version__",
    "annotate",
    "compile_adapter",
    "load_task",
]
