"""A Label Studio server as the people's side of a run, through the official `label-studio-sdk`.

`push` creates (or reuses) a project whose labelling config is generated from the task and imports the run's
unresolved rows as tasks, each specialist's vote and the reviewer's answer as predictions (model_version,
score). Tasks carry the row id, so a push that was killed half-way and run again imports only the rows not yet
there. `pull` reads the finished annotations back: row id -> label, with the annotator and the time Label
Studio recorded. The project (URL and id) is kept in the ledger, so a later push or pull finds it. Before a
run there is no ledger: `send` and `answers` do the same for rows drawn from the input (`ask-people-first`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from autoannotator.errors import LedgerError
from autoannotator.handoff.sheets import label_studio_config, predictions, task_data
from autoannotator.ledger import Ledger, humans, output

EXTRA = "pip install 'autoannotator[labelstudio]'"
PAGE = 100
"""Tasks per request when reading a project."""


@contextlib.contextmanager
def talking_to(url: str, then: str = "") -> Iterator[None]:
    """Turn the SDK's and the network's errors into one `LedgerError` line naming the server (and `then`: what
    to do next)."""
    try:
        yield
    except LedgerError:
        raise
    except Exception as exc:  # the SDK raises ApiError, httpx its own: both are one line for the user
        status = getattr(exc, "status_code", None)
        body = getattr(exc, "body", None)
        detail = body.get("detail") if isinstance(body, dict) else str(exc).splitlines()[0][:200]
        what = f"answered {status}: {detail}" if status else f"unreachable: {detail}"
        raise LedgerError(f"Label Studio at {url} {what}{then}") from None


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
        chosen = _create(ls, name, labels, multiple=bool(config.get("task", {}).get("multi_label")))
        ledger.set_meta("label_studio", {"url": url.rstrip("/"), "project": chosen})
    answers = humans.reviewer_labels(ledger)
    wanted = output.unresolved(ledger) if rows is None else rows

    def task(row: dict[str, Any]) -> dict[str, Any]:
        return {"data": task_data(row), "predictions": predictions(row, answers.get(row["id"]), labels)}

    return chosen, *_import(ls, chosen, wanted, task)


def send(
    url: str, token: str, labels: list[str], rows: list[dict[str, Any]], *, project: int | None, title: str
) -> tuple[int, int, int]:
    """Import `rows` (each with an ``id``: the data people see) not yet in `project` (None: a new project
    titled `title`, single-label) as tasks without predictions; (project id, tasks imported, already there)."""
    with talking_to(url):
        ls = client(url, token)
        chosen = _create(ls, title, labels, multiple=False) if project is None else project
    with talking_to(url, f"; run again with --project {chosen} (the tasks imported are kept; the rest follow)"):
        return chosen, *_import(ls, chosen, rows, lambda row: {"data": row})


def _create(ls: Any, title: str, labels: list[str], *, multiple: bool) -> int:
    """A new project whose labelling config is the task's labels; its id."""
    xml = label_studio_config(labels, multiple=multiple)
    return int(ls.projects.create(title=title[:50], label_config=xml).id)


def _import(
    ls: Any, project: int, rows: list[dict[str, Any]], task: Callable[[dict[str, Any]], dict[str, Any]]
) -> tuple[int, int]:
    """Import `task(row)` for each of `rows` whose ``id`` the project lacks, a page at a time (the tasks are made
    for those rows only); (imported, already there)."""
    present = {str(found.data.get("id")) for found in tasks(ls, project, annotated=False)}
    new = [task(row) for row in rows if str(row["id"]) not in present]
    for start in range(0, len(new), PAGE):
        ls.projects.import_tasks(id=project, request=new[start : start + PAGE])
    return len(new), len(rows) - len(new)


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
    return answers(url, token, chosen)


def answers(url: str, token: str, project: int) -> dict[str, tuple[list[str], str | None, str]]:
    """Task ``id`` -> (choices, annotator, ISO time) of each task's latest finished annotation in `project`."""
    decided: dict[str, tuple[list[str], str | None, str]] = {}
    with talking_to(url):
        for task in tasks(client(url, token), project):
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
