"""A Label Studio server as the people's side of a run, through the official `label-studio-sdk`.

`push` creates (or reuses) a project whose labelling config is generated from the task and imports the run's
unresolved rows as tasks, each specialist's vote and the reviewer's answer as predictions (model_version,
score). Tasks carry the row id, so a push that was killed half-way and run again imports only the rows not yet
there. `pull` reads the finished annotations back: row id -> label, with the annotator and the time Label
Studio recorded. The project (URL and id) is kept in the ledger, so a later push or pull finds it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from autoannotator.errors import LedgerError
from autoannotator.handoff.sheets import label_studio_config, predictions, task_data
from autoannotator.ledger import Ledger, humans, output

EXTRA = "pip install 'autoannotator[labelstudio]'"
PAGE = 100
"""Tasks per request when reading a project."""


@contextlib.contextmanager
def talking_to(url: str) -> Iterator[None]:
    """Turn the SDK's and the network's errors into one `LedgerError` line naming the server."""
    try:
        yield
    except LedgerError:
        raise
    except Exception as exc:  # the SDK raises ApiError, httpx its own: both are one line for the user
        status = getattr(exc, "status_code", None)
        body = getattr(exc, "body", None)
        detail = body.get("detail") if isinstance(body, dict) else str(exc).splitlines()[0][:200]
        what = f"answered {status}: {detail}" if status else f"unreachable: {detail}"
        raise LedgerError(f"Label Studio at {url} {what}") from None


def client(url: str, token: str) -> Any:
    """A `label_studio_sdk.LabelStudio` client for `url` with an access token (personal or legacy)."""
    try:
        from label_studio_sdk import LabelStudio
    except ImportError:
        raise LedgerError(f"a Label Studio server needs label-studio-sdk: {EXTRA}") from None
    return LabelStudio(base_url=url.rstrip("/"), api_key=token)  # type: ignore[no-untyped-call]


def project_of(ledger: Ledger, url: str, project: int | None) -> int | None:
    """The given project, or the one an earlier push of this run to the same server created."""
    if project is not None:
        return project
    saved = ledger.meta("label_studio") or {}
    return int(saved["project"]) if saved.get("url") == url.rstrip("/") else None


def push(
    ledger: Ledger,
    url: str,
    token: str,
    *,
    project: int | None = None,
    title: str | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> tuple[int, int, int]:
    """Import `rows` (output rows; default the unresolved ones) not yet in the project as tasks; (project id,
    tasks imported, rows already there)."""
    with talking_to(url):
        return _push(ledger, client(url, token), url, project, title, rows)


def _push(
    ledger: Ledger, ls: Any, url: str, project: int | None, title: str | None, rows: list[dict[str, Any]] | None
) -> tuple[int, int, int]:
    config = ledger.meta("config")
    labels: list[str] = config["labels"]
    chosen = project_of(ledger, url, project)
    if chosen is None:
        name = title or f"autoannotator {ledger.meta('run_id') or ''}".strip()
        xml = label_studio_config(labels, multiple=bool(config.get("task", {}).get("multi_label")))
        chosen = int(ls.projects.create(title=name[:50], label_config=xml).id)
        ledger.set_meta("label_studio", {"url": url.rstrip("/"), "project": chosen})
    present = {str(task.data.get("id")) for task in tasks(ls, chosen, annotated=False)}
    answers = humans.reviewer_labels(ledger)
    wanted = output.unresolved(ledger) if rows is None else rows
    new = [row for row in wanted if row["id"] not in present]
    payload = [
        {"data": task_data(row), "predictions": predictions(row, answers.get(row["id"]), labels)} for row in new
    ]
    for start in range(0, len(payload), PAGE):
        ls.projects.import_tasks(id=chosen, request=payload[start : start + PAGE])
    return chosen, len(payload), len(wanted) - len(new)


def tasks(ls: Any, project: int, *, annotated: bool = True) -> Iterator[Any]:
    """Every task of the project, with its annotations and predictions unless `annotated` is off (data only)."""
    yield from ls.tasks.list(project=project, fields="all" if annotated else "task_only", page_size=PAGE)


def pull(
    ledger: Ledger, url: str, token: str, project: int | None = None
) -> dict[str, tuple[list[str], str | None, str]]:
    """Row id -> (choices, annotator, ISO time) of each task's latest finished annotation."""
    chosen = project_of(ledger, url, project)
    if chosen is None:
        raise LedgerError(f"{url}: this run has no Label Studio project there; name one (--project ID)")
    decided: dict[str, tuple[list[str], str | None, str]] = {}
    with talking_to(url):
        for task in tasks(client(url, token), chosen):
            for annotation in reversed(task.annotations or []):
                found = _choice(annotation)
                if found is not None:
                    decided[str(task.data.get("id"))] = found
                    break
    return decided


def _choice(annotation: Any) -> tuple[list[str], str | None, str] | None:
    """(choices, annotator, time) of an annotation that picked a choice and was not cancelled."""
    item = annotation if isinstance(annotation, dict) else annotation.__dict__
    if item.get("was_cancelled"):
        return None
    for result in item.get("result") or []:
        choices = (result.get("value") or {}).get("choices") or []
        if choices:
            who = item.get("completed_by")
            person = item.get("created_username") or (None if who is None else str(who))
            return [str(c) for c in choices], person, str(item.get("updated_at") or item.get("created_at"))
    return None
