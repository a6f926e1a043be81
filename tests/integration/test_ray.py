"""The Ray engine on a real Ray cluster started here (a head and a worker node on 127.0.0.1, one CPU each):
the same output as the local engine with learning on, after a SIGKILL of the driver and `--resume`, and after
an inference actor is killed mid-run (Ray restarts it and its block is computed again)."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoannotator.testing import RayCluster, committed, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # alone: Ray's start times out beside two busy workers
ray = pytest.importorskip("ray", reason="the ray extra is not installed")

ROWS = 1200
BATCH = 200


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """A head and one worker node, one CPU each."""
    with RayCluster((1, 1), tmp_path_factory.mktemp("ray")) as running:
        yield running


@pytest.fixture(scope="module")
def dataset(example_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """1,200 review sentences (the bundled 300, numbered), and a reviewer's answers: the gold label."""
    folder = tmp_path_factory.mktemp("data")
    with example_csv.open(encoding="utf-8", newline="") as f:
        base = list(csv.DictReader(f))
    rows = [(f"{r['text']} (#{i})", r["label"]) for i in range(ROWS // len(base)) for r in base]
    data, answers = folder / "reviews.csv", folder / "answers.csv"
    with data.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text", "label"], *rows])
    with answers.open("w", encoding="utf-8", newline="") as f:
        columns = ["text", "llm_label", "model", "setting", "prompt_tokens", "completion_tokens", "raw_response"]
        csv.writer(f).writerows([columns, *([t, g, "oracle", "gold", 40, 1, g] for t, g in rows)])
    return data, answers


def command(data: Path, answers: Path, out: Path, *engine: str) -> list[str]:
    return [sys.executable, "-m", "autoannotator", "annotate", str(data), "--task", "sentiment-2",
            "--specialists", "vader,minilm,tfidf", "--review", f"replay:{answers}", "--batch-size", str(BATCH),
            "--rows-per-stage", "200", "--warmup", "100", "--out", str(out), "--quiet", *engine]  # fmt: skip


def on_ray(cluster: RayCluster, actors: int) -> tuple[str, ...]:
    return ("--engine", "ray", "--ray-address", cluster.address, "--ray-actors", str(actors))


@pytest.fixture(scope="module")
def local_output(dataset: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("local") / "out.jsonl"
    subprocess.run(command(*dataset, out), check=True, capture_output=True, timeout=900)
    return out.read_bytes()


def test_without_an_address_the_run_starts_and_stops_a_ray_runtime_of_its_own(
    example_csv: Path, tmp_path: Path
) -> None:
    outputs: list[bytes] = []
    before = processes(b"gcs_server")
    for engine in ((), ("--engine", "ray")):
        out = tmp_path / f"out{len(outputs)}.csv"
        specialists = "vader,textblob,afinn"  # lexicons: this test is about the runtime, not the models
        run_cli("annotate", example_csv, "--task", "sentiment-2", "--specialists", specialists, "--out", out,
                "--quiet", *engine)  # fmt: skip
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert processes(b"gcs_server") == before  # its runtime was stopped


def test_a_killed_driver_resumes_on_two_nodes_to_the_local_engines_output_byte_for_byte(
    cluster: RayCluster, dataset: tuple[Path, Path], local_output: bytes, tmp_path: Path
) -> None:
    """Two actors on two nodes, the driver SIGKILLed after three batches, then `--resume`: the local engine's
    output, byte for byte, with learning on (one test, not two: each Ray run costs ~20 s of fixed start-up)."""
    out = tmp_path / "out.jsonl"
    args = command(*dataset, out, *on_ray(cluster, 2))
    proc = subprocess.Popen(args, env=cluster.env, stderr=subprocess.DEVNULL)
    wait_for(lambda: committed(tmp_path / "out.jsonl.run" / "ledger.sqlite") >= 3 * BATCH, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert committed(tmp_path / "out.jsonl.run" / "ledger.sqlite") < ROWS
    resumed = subprocess.run(
        [*args, "--resume"], env=cluster.env, capture_output=True, text=True, timeout=900, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes() == local_output
    with sqlite3.connect(tmp_path / "out.jsonl.run" / "ledger.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM trainings").fetchone()[0] >= 3  # learning was on
    assert "core_worker" not in resumed.stderr and "INFO" not in resumed.stderr  # Ray's logs stay out of the way


def test_an_actor_killed_mid_run_is_restarted_and_no_row_is_lost_or_repeated(
    cluster: RayCluster, dataset: tuple[Path, Path], local_output: bytes, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        command(*dataset, out, *on_ray(cluster, 2)), env=cluster.env, stderr=subprocess.PIPE, text=True
    )
    wait_for(lambda: len(actors()) == 2, proc)  # before the first batch is labelled: both have blocks to do
    first = actors()
    os.kill(first[0], signal.SIGKILL)
    seen = set(first)
    while proc.poll() is None:
        seen.update(actors())
        time.sleep(0.05)
    _, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stderr
    assert len(seen - set(first)) >= 1  # Ray started another actor in the killed one's place
    with sqlite3.connect(tmp_path / "out.jsonl.run" / "ledger.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == ROWS  # each once: the key is the row
    assert out.read_bytes() == local_output


def actors() -> list[int]:
    """The pids of the running inference actors (Ray names its worker processes after the actor)."""
    return processes(b"MapWorker(MapBatches(Infer))")


def processes(name: bytes) -> list[int]:
    """The pids of the processes whose command line holds `name`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and name in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return sorted(found)


def wait_for(ready: object, proc: subprocess.Popen[str] | subprocess.Popen[bytes], timeout: float = 600) -> None:
    assert callable(ready)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline and not ready():
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the fault could be injected"
