"""Shared fixtures. No test touches the network or the user's folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the assembled local GGUF, shared by the whole session (it is 253 MB)."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, model_cache: Path
) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("AUTOANNOTATOR_CACHE", str(model_cache))
    yield


@pytest.fixture(scope="session")
def example_csv() -> Path:
    """The bundled example: 300 review sentences with gold labels."""
    return Path(str(resources.files("autoannotator").joinpath("data/examples/reviews.csv")))


SLOWEST_FIRST = (
    "test_chaos", "test_label_studio", "test_controller", "test_review_pipeline", "test_local_llm",
    "test_no_silent_failure", "test_first_hour", "test_learning", "test_multilabel", "test_trust",
)  # fmt: skip
"""Modules with the longest runs (seconds each, `make test --durations`): started first, so that two workers
(`--dist loadfile` hands out modules in collection order) do not end on one long module while the other waits."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that read the benchmark data (the `shared_data` fixture) carry the ``benchdata`` marker; the
    slowest modules come first (a stable sort: the order within a module is kept)."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.benchdata)
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The benchmark data beside the project (read-only). Absent on a user's clone: those tests are skipped,
    unless AUTOANNOTATOR_REQUIRE_BENCHDATA=1 (CI sets it, so a missing folder fails there)."""
    if not SHARED_DATA.is_dir():
        message = f"benchmark data not found at {SHARED_DATA} (a bare clone)"
        if os.environ.get("AUTOANNOTATOR_REQUIRE_BENCHDATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATA


collect_ignore = ["fixtures"]  # the example plugin package is imported by the extension tests, not collected
