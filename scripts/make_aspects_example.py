"""Write the bundled multi-label example, ``data/examples/aspects.csv``: 600 short shop reviews written for this
project (no third-party text), each about zero to three of four aspects (price, quality, delivery, service).

    python scripts/make_aspects_example.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

PHRASES = {
    "price": [
        "it was cheap for what you get",
        "way too expensive",
        "the price was fair",
        "I paid far more than it is worth",
        "a bargain at this cost",
        "overpriced compared to other shops",
    ],
    "quality": [
        "it broke after two days",
        "the material feels solid",
        "very well made",
        "the stitching came apart",
        "sturdy and built to last",
        "it looks cheap and flimsy",
    ],
    "delivery": [
        "the parcel arrived a week late",
        "shipping was fast",
        "it came the next morning",
        "the box was crushed in transit",
        "the courier lost my package twice",
        "delivered right on time",
    ],
    "service": [
        "the staff were rude on the phone",
        "support answered my email within an hour",
        "the seller refunded me without questions",
        "nobody replied to my complaint",
        "customer care was friendly and helpful",
        "the agent hung up on me",
    ],
}
NEUTRAL = [
    "I bought this for my brother",
    "ordered it on a Tuesday",
    "this is my second order",
    "got it as a gift",
]


def main() -> None:
    rng = random.Random(14)
    aspects = list(PHRASES)
    rows = []
    for i in range(600):
        count = rng.choice([0, 1, 1, 1, 2, 2, 3])
        chosen = sorted(rng.sample(aspects, count), key=aspects.index)
        parts = [rng.choice(PHRASES[a]) for a in chosen] or [rng.choice(NEUTRAL)]
        rng.shuffle(parts)
        joined = ", and ".join(parts) + "."
        text = joined[0].upper() + joined[1:]
        rows.append({"id": f"a{i:03d}", "text": text, "labels": "|".join(chosen)})
    path = Path(__file__).resolve().parents[1] / "src" / "autoannotator" / "data" / "examples" / "aspects.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "text", "labels"])
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
