"""The public surface is what `autoannotator.__all__` says; changing it must be deliberate."""

from __future__ import annotations

import autoannotator

PUBLIC = [
    "AdapterError",
    "AdapterSpec",
    "AutoAnnotatorError",
    "HardRule",
    "LearningConfig",
    "Report",
    "InputError",
    "LedgerError",
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


def test_public_surface_is_pinned() -> None:
    assert sorted(autoannotator.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert hasattr(autoannotator, name), name


def test_errors_share_one_base() -> None:
    for name in PUBLIC:
        obj = getattr(autoannotator, name)
        if name.endswith("Error") and name != "AutoAnnotatorError":
            assert issubclass(obj, autoannotator.AutoAnnotatorError), name
