from __future__ import annotations

from pathlib import Path

import pytest

from autoannotator.errors import TaskError
from autoannotator.read.task import BUILTIN_TASKS, load_task

VALID = """
name: demo
labels:
  - name: yes
    description: it is
  - name: no
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "task.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", BUILTIN_TASKS)
def test_builtin_tasks_load_with_their_specialists(name: str) -> None:
    task = load_task(name)
    assert len(task.labels) >= 2
    assert task.specialists


def test_valid_task_keeps_label_order(tmp_path: Path) -> None:
    task = load_task(write(tmp_path, VALID.replace("yes", "'yes'").replace("no\n", "'no'\n")))
    assert task.label_names == ("yes", "no")
    assert task.text_field == "text"
    assert task.id_field is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: t\nlabels: [{name: a}, {name: a}]\n", "duplicate label 'a'"),
        ("name: t\nlabels: [{name: a}, {name: A}]\n", "duplicate label 'A'"),
        ("name: t\nlabels: [{name: a, aliases: [b]}, {name: b}]\n", "duplicate label 'b'"),
        ("name: t\nlabels: []\n", "labels: needs at least two labels"),
        ("name: t\nlabels: [{name: a}]\n", "labels: needs at least two labels"),
        ("name: t\nlabelz: [{name: a}, {name: b}]\n", "labelz: unknown key"),
        (
            "name: t\nlabels: [{name: a}, {name: b}]\nexamples: [{text: x, label: c}]\n",
            "examples #1.label: unknown label 'c'",
        ),
        (
            "name: t\nlabels: [{name: a}, {name: b}]\nspecialists: {vader: {label_map: {positive: z}}}\n",
            "specialists.vader.label_map.positive: unknown label 'z'",
        ),
        ("name: t\nlabels: [{name: a, colour: red}, {name: b}]\n", "labels #1.colour: unknown key"),
        ("- just\n- a list\n", "expected a mapping"),
        ("name: [unclosed\n", "not valid YAML: line 2, column 1: expected ',' or ']'"),
        ("name: t\nlabels: [a, b]\nguidelines: [\n", "not valid YAML: line 4, column 1"),
        ("labels: [{name: a}, {name: b}]\n", "name: Field required"),
    ],
)
def test_invalid_task_names_file_field_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TaskError) as info:
        load_task(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_missing_and_unreadable_task_files(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="task file not found"):
        load_task(tmp_path / "absent.yaml")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\nlabels: [{name: a}, {name: b}]\n")
    with pytest.raises(TaskError, match="cannot read task file"):
        load_task(path)


def test_labels_may_be_a_plain_list_of_names(tmp_path: Path) -> None:
    task = load_task(write(tmp_path, "name: support\nlabels: [billing, technical, other]\n"))
    assert task.label_names == ("billing", "technical", "other")
    assert task.labels[0].description == ""


def test_a_yaml_error_names_the_file_not_an_in_memory_string(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\nlabels: [a, b\n")
    with pytest.raises(TaskError) as info:
        load_task(path)
    assert str(info.value).startswith(f"{path}: not valid YAML: line ")
    assert "<unicode string>" not in str(info.value)
