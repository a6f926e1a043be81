"""Refusals before any work: a bad path, unusable calibration labels, or an option a task cannot take is one
clear line, before the progress bar and before any money is spent."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from autoannotator.errors import AutoAnnotatorError, InputError
from autoannotator.read import hfdata
from autoannotator.read.io import Source, beside, exists, file_format
from autoannotator.review import check_reviewer
from autoannotator.run.config import RunConfig
from autoannotator.run.outputs import KEEP_ALL, check_keep
from autoannotator.trust.evidence import read_calibration


def check_run(
    config: RunConfig, out: Path, run_dir: Path | None = None, *, keep: str | list[str] = KEEP_ALL
) -> None:
    """Refuse, before any work, an input that is not a readable file, an output of unknown format, an output
    or run folder that would overwrite a file the run reads, input columns to keep that it does not have, a
    reviewer that cannot answer, unusable calibration labels, calibration labels without a reviewer and
    without a target to judge them by, or a label-model reference without a reviewer or beside the truth."""
    file_format(out)
    file_format(config.input)
    if not exists(config.input):
        raise InputError(config.input, "file not found")
    written = [("--out", hfdata.place(out)), ("--out", beside(out, ".skipped.jsonl", stem=True))]
    if run_dir is not None:
        written.append(("--run-dir", run_dir))
    check_overwrite(written, _read_by(config))
    source = Source(
        config.input, text_field=config.task.text_field, id_field=config.task.id_field, every_column=True
    )
    if hfdata.is_hf(config.input):  # the split and the columns, before the progress bar
        source.check()
    check_keep(source, keep)
    if config.task.multi_label:
        _multi_label(config)
    if config.review is not None:
        check_reviewer(config.review)
    if config.trust.reference == "label-model" and (config.review is None or config.calibration is not None):
        why = "the calibration labels are the truth" if config.calibration is not None else "it needs a reviewer"
        raise AutoAnnotatorError(f"--reference label-model: {why} (--reference llm)")
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
    if config.trust.reference == "label-model":
        raise AutoAnnotatorError(f"{where}: --reference label-model is for single-label tasks for now")
    if config.routing == "rule":  # without a reviewer (or with the weak local one) every row waits for people
        raise AutoAnnotatorError(f"{where}: it routes by measured trust only (--routing trust)")
    if config.specialists == ("auto",):
        raise AutoAnnotatorError(f"{where}: name its specialists (for example --specialists minilm,tfidf)")


def check_overwrite(written: Iterable[tuple[str, Path]], read: Iterable[tuple[str, Path]]) -> None:
    """Refuse (one line naming both) a path the command writes, as (option, path), that is, or is a folder
    holding, a file it reads, as (what, path): the output must never replace its own input."""
    sources = [(what, path) for what, path in read if path.exists()]
    for option, target in written:
        for what, source in sources:
            if _clobbers(target, source):
                raise AutoAnnotatorError(
                    f"{target}: {option} would overwrite the {what} {source}; choose another {option}"
                )


def _clobbers(target: Path, source: Path) -> bool:
    """Whether writing `target` (a file or a folder) can replace `source` (a file or a dataset's folder): the
    same file (links and symbolic links included), a folder that holds it, or a file inside it."""
    resolved, origin = target.resolve(), source.resolve()
    if resolved == origin or resolved in origin.parents or (source.is_dir() and origin in resolved.parents):
        return True
    return target.exists() and target.samefile(source)


def _read_by(config: RunConfig) -> list[tuple[str, Path]]:
    """What a run reads, as (what, path): the input, the calibration labels, the recorded answers, prices."""
    read = [("input", hfdata.place(config.input))]
    if config.calibration is not None:
        read.append(("calibration file", config.calibration))
    if config.review is not None:
        named = (("replay file", config.review.replay), ("price table", config.review.prices))
        read += [(what, path) for what, path in named if path is not None]
    return read
