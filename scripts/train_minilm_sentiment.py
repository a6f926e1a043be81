"""Build the bundled ``minilm-sentiment`` head: MiniLM embeddings + a softmax head trained on the 4,200
human-rated tweets that ship in the vaderSentiment 3.3.2 sdist (Hutto & Gilbert, ICWSM 2014; MIT licence).

Each tweet's mean rating (-4..4) becomes negative / neutral / positive with a cut at +-c; c is chosen on the
TweetEval-sentiment *validation* split (a dev split: the benchmarks score the test split), when ../shared/data
is there. Writes ``src/autoannotator/data/heads/minilm-sentiment/`` (npz + json, no pickle).

    python scripts/train_minilm_sentiment.py
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from autoannotator.specialists import TrainableSpecialist
from autoannotator.specialists.features import shared_minilm

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "tweeteval-sentiment" / "validation.csv"
OUT = ROOT / "src" / "autoannotator" / "data" / "heads" / "minilm-sentiment"
CUTS = (0.25, 0.5, 0.75, 1.0)


def vader_tweets() -> tuple[list[str], list[float]]:
    """(texts, mean ratings) of tweets_GroundTruth.txt from the vaderSentiment sdist (downloaded from PyPI)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "vaderSentiment==3.3.2",
                "--no-binary",
                ":all:",
                "--no-deps",
                "-q",
                "-d",
                tmp,
            ],
            check=True,
        )
        with tarfile.open(next(Path(tmp).glob("vaderSentiment-*.tar.gz"))) as sdist:
            inner = sdist.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
            assert inner is not None
            with tarfile.open(fileobj=inner) as resources:
                member = resources.extractfile("hutto_ICWSM_2014/tweets_GroundTruth.txt")
                assert member is not None
                lines = member.read().decode("utf-8", errors="replace").splitlines()
    parts = [line.split("\t") for line in lines]
    return [p[2] for p in parts if len(p) >= 3], [float(p[1]) for p in parts if len(p) >= 3]


def bins(ratings: list[float], cut: float) -> list[str]:
    return ["positive" if r > cut else "negative" if r < -cut else "neutral" for r in ratings]


def main() -> None:
    texts, ratings = vader_tweets()
    features = shared_minilm()
    candidates = {
        cut: TrainableSpecialist(features, name="minilm-sentiment").fit(texts, bins(ratings, cut)) for cut in CUTS
    }
    cut = 0.75
    if DEV.is_file():
        with DEV.open(encoding="utf-8", newline="") as f:
            dev = list(csv.DictReader(f))
        dev_texts, gold = [r["text"] for r in dev], np.array([r["label"] for r in dev])
        scores = {}
        for c, model in candidates.items():
            probs = model.predict(dev_texts)
            scores[c] = float(np.mean(np.array(model.card.native_labels)[probs.argmax(axis=1)] == gold))
            print(f"cut {c}: TweetEval validation accuracy {scores[c]:.3f}")
        cut = max(scores, key=lambda c: scores[c])
    print(f"{len(texts)} tweets, cut {cut}: writing {OUT}")
    candidates[cut].save(OUT)


if __name__ == "__main__":
    main()
