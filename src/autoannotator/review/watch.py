"""A reviewer that fails loudly: when most rows of one request fail (an endpoint gone, a key revoked, a replay
file for other texts), the run stops with the cause instead of leaving every row unresolved."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from autoannotator.errors import AutoAnnotatorError
from autoannotator.review.base import HardRow, Reviewer, Verdict


class ReviewerFailedError(AutoAnnotatorError):
    """Most rows of a request failed; nothing of the batch was committed, so ``--resume`` goes on from it."""


class Watched:
    """`reviewer`, stopped with `ReviewerFailedError` when more than `most` of a request's rows (and at least
    `least` of them, or all of a smaller request) end in ``error``."""

    def __init__(self, reviewer: Reviewer, *, most: float = 0.5, least: int = 3) -> None:
        self.reviewer = reviewer
        self.most = most
        self.least = least

    @property
    def name(self) -> str:
        return self.reviewer.name

    def review(self, rows: Sequence[HardRow]) -> list[Verdict]:
        verdicts = self.reviewer.review(rows)
        failed = Counter(v.reason or "no reason given" for v in verdicts if v.status == "error")
        n = sum(failed.values())
        if n > self.most * len(verdicts) and n >= min(self.least, len(verdicts)):
            cause, times = failed.most_common(1)[0]
            raise ReviewerFailedError(
                f"the reviewer {self.name} failed on {n} of the {len(verdicts)} rows it was asked in this batch "
                f"({times} x {cause}); the batch was not kept: fix the cause, then run the same command with "
                "--resume"
            )
        return verdicts

    def close(self) -> None:
        self.reviewer.close()
