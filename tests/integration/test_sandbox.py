"""Generated adapter code runs in a locked-down child process: every attack below must be blocked."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from autoannotator.errors import AdapterError
from autoannotator.read.sandbox import run_adapter_code
from faults import ATTACKS, attack

NATIVE = [[0.9, 0.1], [0.2, 0.8]]
LABELS = (["clean", "profane"], ["not-offensive", "offensive"])
GOOD = """
def adapt(native, native_labels, task_labels):
    return [task_labels[1] if row[1] > 0.5 else task_labels[0] for row in native]
"""


def run(code: str, **limits: float) -> list[str | None]:
    return run_adapter_code(code, NATIVE, *LABELS, **limits)  # type: ignore[arg-type]


def test_a_well_behaved_adapter_runs() -> None:
    assert run(GOOD) == ["not-offensive", "offensive"]


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    key = tmp_path / ".ssh" / "id_rsa"
    key.parent.mkdir()
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY----- offensive", encoding="utf-8")
    ledger = tmp_path / "ledger.sqlite"
    with sqlite3.connect(ledger) as db:
        db.execute("CREATE TABLE t (x)")
    monkeypatch.setenv("OPENAI_API_KEY", "offensive")
    return {"key": key, "ledger": ledger, "out": tmp_path / "written.txt"}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_blocked(name: str, secrets: dict[str, Path]) -> None:
    code = attack(ATTACKS[name].format(**{k: str(v) for k, v in secrets.items()}))
    with pytest.raises(AdapterError) as info:
        run(code, cpu_s=2, timeout_s=10)
    assert "offensive" not in str(info.value) or "not task labels" in str(info.value)
    assert not secrets["out"].exists(), "the sandboxed code wrote a file"


def test_an_answer_outside_the_task_labels_is_rejected() -> None:
    with pytest.raises(AdapterError, match="not task labels"):
        run(attack("return ['maybe'] * len(native)"))


def test_code_adapters_need_the_flag_and_then_vote(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    data = tmp_path / "in.csv"
    data.write_text("text\nyou are a fucking idiot\nlovely garden today\n", encoding="utf-8")
    task = tmp_path / "task.yaml"
    code = GOOD.replace("\n", "\\n")
    task.write_text(
        "name: t\nlabels: [{name: not-offensive}, {name: offensive}]\n"
        f'specialists:\n  profanity-check: {{code: "{code}"}}\n  hatesonar: null\n',
        encoding="utf-8",
    )
    base = [
        sys.executable,
        "-m",
        "autoannotator",
        "annotate",
        str(data),
        "--task",
        str(task),
        "--out",
        str(tmp_path / "o.jsonl"),
        "--review",
        "none",
        "--quiet",
    ]
    refused = subprocess.run(base, capture_output=True, text=True, timeout=300, check=False)
    assert refused.returncode == 2 and "--allow-generated-code" in refused.stderr
    allowed = subprocess.run(
        [*base, "--allow-generated-code"], capture_output=True, text=True, timeout=300, check=False
    )
    assert allowed.returncode == 0, allowed.stderr
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["votes"]["profanity-check"]["label"] for r in rows] == ["offensive", "not-offensive"]
