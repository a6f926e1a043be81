"""The Label Studio round trip against a real server: label-studio from PyPI (in its own virtual environment,
`make labelstudio`) started on 127.0.0.1 with a throw-away data folder, an access token made the way a user
makes one, a script playing the annotator through the API, and the server stopped at the end."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

from autoannotator.handoff.labelstudio import client
from autoannotator.testing import read_jsonl
from entry import run_cli
from weak_reviewer import accuracy, gold, weak_answers

pytestmark = pytest.mark.slow
SERVER = Path(
    os.environ.get("AUTOANNOTATOR_LABEL_STUDIO", Path(__file__).resolve().parents[2] / ".venv-ls/bin/label-studio")
)
TEMPLATE = SERVER.parents[1] / "template"
"""A data folder `make labelstudio` made: the database migrated (~40 s) and this module's user."""
USER, PASSWORD = "annotator@example.com", "a-long-test-password-1"  # the Makefile's template user
LABELS = ["negative", "positive"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def access_token(url: str) -> str:
    """A personal access token, made as in the UI: sign in, then ask /api/token/ for one."""
    with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as web:
        web.get("/user/login/")
        csrf = web.cookies.get("csrftoken")
        web.post("/user/login/", data={"email": USER, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
                 headers={"Referer": f"{url}/user/login/"})  # fmt: skip
        made = web.post("/api/token/", headers={"X-CSRFToken": web.cookies.get("csrftoken") or "", "Referer": url})
        made.raise_for_status()
        return str(made.json()["token"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(URL, token) of a Label Studio server of our own, stopped after the module."""
    if not SERVER.is_file():
        if os.environ.get("AUTOANNOTATOR_REQUIRE_TOOLS") == "1":
            pytest.fail(f"label-studio not found at {SERVER}: `make labelstudio` installs it")
        pytest.skip(f"label-studio not installed at {SERVER} (`make labelstudio`; make test installs it)")
    data, port = tmp_path_factory.mktemp("label-studio"), free_port()
    if (TEMPLATE / "label_studio.sqlite3").is_file():
        shutil.copytree(TEMPLATE, data, dirs_exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data), "HOME": str(data)}
    log = (data / "server.log").open("w")
    process = subprocess.Popen(
        [str(SERVER), "start", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data / "data"),
         "--username", USER, "--password", PASSWORD, "--no-browser"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert process.poll() is None, (data / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("Label Studio did not start in 300 s")
        yield url, access_token(url)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        log.close()


def annotate_as_a_person(url: str, token: str, project: int, n: int) -> dict[str, str]:
    """Label the first `n` tasks through the API (every 7th is skipped, i.e. cancelled); row id -> label."""
    ls = client(url, token)
    decided = {}
    for i, task in enumerate(ls.tasks.list(project=project, fields="all")):
        if i == n:
            break
        label = LABELS[i % 2]
        result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]
        ls.annotations.create(id=task.id, result=result, was_cancelled=i % 7 == 6)
        if i % 7 != 6:
            decided[str(task.data["id"])] = label
    return decided


def test_unresolved_rows_go_to_label_studio_and_the_annotations_come_back(
    server: tuple[str, str], tmp_path: Path, example_csv: Path
) -> None:
    url, token = server
    env = {**os.environ, "LABEL_STUDIO_API_KEY": token}
    out = tmp_path / "labels.jsonl"
    run_cli(
        "annotate", example_csv, "--task", "sentiment-2", "--out", out, "--specialists", "vader,textblob,afinn"
    )
    unresolved = {r["id"]: r for r in read_jsonl(out) if r["source"] == "unresolved"}
    assert len(unresolved) > 40
    # our process is killed between export and import: the project it made is in the ledger, nothing is lost
    code = (
        "import os, signal, sys\n"
        "from autoannotator.handoff.labelstudio import push\n"
        "from pathlib import Path\n"
        "from autoannotator.ledger import Ledger\n"
        "with Ledger(Path(sys.argv[1])) as ledger:\n"
        "    print(push(ledger, sys.argv[2], sys.argv[3])[0], flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    ledger = tmp_path / "labels.jsonl.run" / "ledger.sqlite"
    killed = subprocess.run([sys.executable, "-c", code, str(ledger), url, token],
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    project = int(killed.stdout.strip())
    again = run_cli("export", tmp_path / "labels.jsonl.run", url, "--to", "label-studio", env=env)
    assert int(again.stdout.strip()) == project  # nothing imported twice, and it says so
    assert f"0 new unresolved rows -> {url}/projects/{project} ({len(unresolved)} already there)" in again.stderr
    ls = client(url, token)
    config = str(ls.projects.get(id=project).label_config)
    assert '<Choices name="label" toName="text" choice="single">' in config
    assert all(f'<Choice value="{label}"/>' in config for label in LABELS)
    tasks = list(ls.tasks.list(project=project, fields="all"))
    assert sorted(str(t.data["id"]) for t in tasks) == sorted(unresolved)
    first = tasks[0]
    votes = unresolved[str(first.data["id"])]["votes"]
    shown = {p.model_version: (p.score, p.result[0]["value"]["choices"][0]) for p in first.predictions}
    assert shown == {name: (pytest.approx(v["prob"]), v["label"]) for name, v in votes.items() if v["label"]}
    decided = annotate_as_a_person(url, token, project, 40)
    run_cli("import", tmp_path / "labels.jsonl.run", url, str(project), "--from", "label-studio", "--out", out,
            env=env)  # fmt: skip
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert {i for i, r in rows.items() if r["source"] == "human"} == set(decided)
    assert all(rows[i]["label"] == label for i, label in decided.items())
    with sqlite3.connect(ledger) as db:
        kept = db.execute("SELECT annotator, imported_at FROM human_labels").fetchall()
    assert len(kept) == len(decided) and all(USER in str(who) and at.startswith("20") for who, at in kept)
    sampled = run_cli(
        "export", tmp_path / "labels.jsonl.run", url, "--to", "label-studio", "--sample", "5", env=env
    )
    assert "5 new sampled labelled rows" in sampled.stderr  # a spot-check of labelled rows, with the run's label
    spot = [t for t in ls.tasks.list(project=project, fields="all") if str(t.data["id"]) not in unresolved]
    assert len(spot) == 5 and all(t.data["run_label"] == rows[str(t.data["id"])]["label"] for t in spot)


def test_a_wrong_token_is_one_line(server: tuple[str, str], tmp_path: Path, example_csv: Path) -> None:
    url, _ = server
    out = tmp_path / "labels.jsonl"
    run_cli("annotate", example_csv, "--task", "sentiment-2", "--out", out, "--specialists", "vader", "--quiet")
    bad = run_cli(
        "export", tmp_path / "labels.jsonl.run", url, "--to", "label-studio", "--token", "nope", check=False
    )
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == [f"error: Label Studio at {url} answered 401: Invalid token."]


def test_a_multi_label_run_round_trips_with_several_choices(server: tuple[str, str], tmp_path: Path) -> None:
    """A multi-label task: the project's choices are `multiple`, people pick several, and the set comes back."""
    url, token = server
    env = {**os.environ, "LABEL_STUDIO_API_KEY": token}
    example = Path(str(resources.files("autoannotator").joinpath("data/examples/aspects.csv")))
    out = tmp_path / "aspects.jsonl"
    run_cli("annotate", example, "--task", "aspects", "--specialists", "minilm", "--out", out, "--quiet")
    project = int(run_cli("export", tmp_path / "aspects.jsonl.run", url, "--to", "label-studio", env=env).stdout)
    ls = client(url, token)
    assert 'choice="multiple"' in str(ls.projects.get(id=project).label_config)
    sets = [["price", "delivery"], ["service"], ["quality", "price", "service"]]
    decided = {}
    for i, task in enumerate(ls.tasks.list(project=project, fields="task_only")):
        if i == len(sets):
            break
        value = {"choices": sets[i]}
        ls.annotations.create(id=task.id, result=[{"from_name": "label", "to_name": "text", "type": "choices",
                                                   "value": value}])  # fmt: skip
        decided[str(task.data["id"])] = sorted(sets[i], key=["price", "quality", "delivery", "service"].index)
    run_cli("import", tmp_path / "aspects.jsonl.run", url, str(project), "--from", "label-studio", "--out", out,
            env=env)  # fmt: skip
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert {i: r["label"] for i, r in rows.items() if r["source"] == "human"} == decided


def test_rows_asked_of_people_in_label_studio_rejudge_the_run_with_no_reviewer_call(
    server: tuple[str, str], tmp_path: Path, example_csv: Path
) -> None:
    """`ask-people --to label-studio`, a person labels every task with the truth, `import --from
    label-studio`: the run is re-judged on their labels, and the affected rows change with no reviewer call."""
    url, token = server
    env = {**os.environ, "LABEL_STUDIO_API_KEY": token}
    truth = gold(example_csv)
    out, run = tmp_path / "labels.jsonl", tmp_path / "labels.jsonl.run"
    run_cli("annotate", example_csv, "--task", "sentiment-2", "--specialists", "vader,textblob,afinn",
            "--review", f"replay:{weak_answers(example_csv, tmp_path)}", "--out", out, "--quiet")  # fmt: skip
    before = accuracy(out, truth)
    with sqlite3.connect(run / "ledger.sqlite") as db:
        reviews = db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0]
    project = int(run_cli("ask-people", run, url, "--rows", "60", "--to", "label-studio", env=env).stdout)
    ls = client(url, token)
    tasks = list(ls.tasks.list(project=project, fields="all"))
    assert len(tasks) == 60
    for task in tasks:
        value = {"choices": [truth[task.data["text"]]]}
        ls.annotations.create(id=task.id, result=[{"from_name": "label", "to_name": "text", "type": "choices",
                                                   "value": value}])  # fmt: skip
    done = run_cli("import", run, url, str(project), "--from", "label-studio", "--out", out, env=env)
    line = " ".join(done.stderr.split())
    assert "People's labels on 60 asked rows" in line and "no reviewer call" in line, line
    rows = read_jsonl(out)
    assert sum(r["source"] == "relabelled" for r in rows) > 20 and sum(r["source"] == "human" for r in rows) == 60
    after = accuracy(out, truth)
    assert after > before + 0.1  # the specialists outvote a reviewer the people show is wrong
    estimate = re.search(r"Estimated accuracy of the output: (\d\.\d+) \((\d\.\d+)-(\d\.\d+)", line)
    assert estimate is not None and float(estimate.group(2)) <= after <= float(estimate.group(3))
    with sqlite3.connect(run / "ledger.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == reviews  # nobody was asked again
    first = out.read_bytes()
    run_cli("import", run, url, str(project), "--from", "label-studio", "--out", out, env=env)
    assert out.read_bytes() == first  # importing again re-judges from the run's own labels: the same output


def test_rows_drawn_first_go_to_label_studio_and_fill_the_sheet_the_run_is_judged_on(
    server: tuple[str, str], tmp_path: Path, example_csv: Path
) -> None:
    """`ask-people-first --to label-studio`: the drawn rows become a project (and a sheet); a person labels
    them there; `fill-sheet` writes the answers into the sheet; `annotate --calibration` takes them as truth."""
    url, token = server
    env = {**os.environ, "LABEL_STUDIO_API_KEY": token}
    truth = gold(example_csv)
    sheet = tmp_path / "people.csv"
    drawn = run_cli("ask-people-first", example_csv, url, "--task", "sentiment-2", "--rows", "40", "--out", sheet,
                    "--to", "label-studio", env=env)  # fmt: skip
    project = int(drawn.stdout)
    assert f"fill-sheet {sheet} {url} {project} --task sentiment-2" in " ".join(drawn.stderr.split())
    ls = client(url, token)
    tasks = list(ls.tasks.list(project=project, fields="all"))
    with sheet.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(str(t.data["id"]) for t in tasks) == sorted(r["id"] for r in rows) and len(rows) == 40
    assert {float(t.data["weight"]) for t in tasks} == {300 / 40}
    for task in tasks[:30]:  # people label part of it first
        value = {"choices": [truth[task.data["text"]]]}
        ls.annotations.create(id=task.id, result=[{"from_name": "label", "to_name": "text", "type": "choices",
                                                   "value": value}])  # fmt: skip
    part = run_cli("fill-sheet", sheet, url, str(project), env=env)
    assert "30 of the sheet's 40 rows labelled" in " ".join(part.stderr.split())
    out = tmp_path / "labels.jsonl"
    weak = f"replay:{weak_answers(example_csv, tmp_path)}"
    args = ("annotate", example_csv, "--task", "sentiment-2", "--review", weak, "--calibration", sheet,
            "--out", out, "--quiet")  # fmt: skip
    early = run_cli(*args, check=False)  # a sheet with empty labels is refused before any work, naming rows
    assert early.returncode != 0 and "10 unusable calibration rows" in early.stderr and not out.exists()
    for task in tasks[30:]:
        value = {"choices": [truth[task.data["text"]]]}
        ls.annotations.create(id=task.id, result=[{"from_name": "label", "to_name": "text", "type": "choices",
                                                   "value": value}])  # fmt: skip
    run_cli("fill-sheet", sheet, url, str(project), "--task", "sentiment-2", env=env)
    with sheet.open(encoding="utf-8", newline="") as f:
        filled = {r["id"]: r["label"] for r in csv.DictReader(f)}
    assert filled == {str(t.data["id"]): truth[t.data["text"]] for t in tasks}
    done = run_cli(*args)
    labelled = {r["id"]: r for r in read_jsonl(out)}
    assert {i: (labelled[i]["label"], labelled[i]["source"]) for i in filled} == {
        i: (label, "human") for i, label in filled.items()
    }
    assert "People's labels on 40 asked rows" in " ".join(done.stderr.split())
