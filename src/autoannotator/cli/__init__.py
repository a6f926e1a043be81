"""AutoAnnotator's command line: `common` holds the application; each module registers its commands on it
(`run`: annotate, baseline, their work in `labelling`; `plan`: plan; `info`: eval, models, tasks; `people`:
export, import); `configure` turns the labelling commands' options into a run configuration."""

from __future__ import annotations

from autoannotator.cli import info, people, plan, run  # noqa: F401  (imported for their registrations on `app`)
from autoannotator.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
