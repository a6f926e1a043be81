"""Refusals before any work: a bad path, unusable calibration labels, or an option a task cannot take is one
clear line, before the progress bar and before any money is spent."""

from __future__ import annotations

from pathlib import Path

from autoannotator import hfdata
from autoannotator.config import RunConfig
from autoannotator.errors import AutoAnnotatorError, InputError
from autoannotator.evidence import read_calibration
from autoannotator.io import Source, exists, file_format


def check_paths(config: RunConfig, out: Path) -> None:
    """Refuse, before any work, an input that is not a readable file, an output of unknown format, unusable
    calibration labels, or calibration labels without a reviewer and without a target to judge them by."""
    file_format(out)
    file_format(config.input)
    if not exists(config.input):
        raise InputError(config.input, "file not found")
    if hfdata.is_hf(config.input):  # the split and the columns, before the progress bar
        Source(config.input, text_field=config.task.text_field, id_field=config.task.id_field).check()
    if config.task.multi_label:
        _multi_label(config)
    if config.calibration is not None:
        read_calibration(config.calibration, config.task.text_field, config.task.label_names)
        if config.trusting and config.review is None and config.trust.target is None:
            raise AutoAnnotatorError(
                f"{config.calibration}: calibration labels without a reviewer: say how accurate the rows "
                "accepted without review must be (--target-agreement, for example 0.9); the others are left "
                "to people"
            )


def _multi_label(config: RunConfig) -> None:
    """What a multi-label run does not do yet, refused before any work."""
    where = f"task {config.task.name!r} is multi-label"
    if config.calibration is not None:
        raise AutoAnnotatorError(f"{where}: --calibration is for single-label tasks for now")
    if config.routing == "rule":  # without a reviewer (or with the weak local one) every row waits for people
        raise AutoAnnotatorError(f"{where}: it routes by measured trust only (--routing trust)")
    if config.specialists == ("auto",):
        raise AutoAnnotatorError(f"{where}: name its specialists (for example --specialists minilm,tfidf)")
