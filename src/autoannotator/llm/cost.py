"""Money: a dated price table, and a budget that is never exceeded, even by concurrent calls.

A call first *reserves* its worst-case cost (prompt bytes as an upper bound on prompt tokens, plus
``max_tokens`` of output); the reservation is refused when it could push spending past the limit. When the
call returns, the reservation is settled at the real cost. So the sum of real costs never exceeds the limit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autoannotator.errors import AutoAnnotatorError, BudgetError, describe


class Rate(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class Price(Rate):
    """USD per million tokens, interactive; `batch`: through the provider's Batch API (None: no discount)."""

    batch: Rate | None = None


class PriceTable(BaseModel):
    """Prices per model name, as of `date`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: str
    models: dict[str, Price]

    def price(self, model: str) -> Price | None:
        """The price of `model`, also for provider-prefixed or dated names (``gpt-4o-mini-2024-07-18``)."""
        name = model.rsplit("/", 1)[-1]
        if name in self.models:
            return self.models[name]
        prefixes = [m for m in self.models if name.startswith(m + "-")]
        return self.models[max(prefixes, key=len)] if prefixes else None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int, *, batch: bool = False) -> float:
        """USD for one call (0 for a model not in the table); `batch`: at its Batch API rate where it has one."""
        price = self.price(model)
        if price is None:
            return 0.0
        rate: Rate = price.batch if batch and price.batch is not None else price
        return (prompt_tokens * rate.input + completion_tokens * rate.output) / 1e6


def load_prices(path: Path | None = None) -> PriceTable:
    """The bundled price table, or one read from a YAML file of the same shape."""
    text = (
        path.read_text(encoding="utf-8")
        if path is not None
        else resources.files("autoannotator").joinpath("data/prices.yaml").read_text(encoding="utf-8")
    )
    try:
        return PriceTable.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        raise AutoAnnotatorError(f"{path or 'bundled prices'}: {describe(exc)}") from None


@dataclass
class Reservation:
    """Money held for one call until it is settled."""

    amount: float
    settled: bool = False


class Budget:
    """A hard cap in USD. Thread-safe; `spent` starts from what earlier runs of the same ledger paid."""

    def __init__(self, limit_usd: float | None, *, spent: float = 0.0) -> None:
        self.limit_usd = limit_usd
        self.spent = spent
        self.reserved = 0.0
        self._lock = threading.Lock()

    def reserve(self, amount: float) -> Reservation:
        """Hold `amount` (USD, worst case) or raise `BudgetError`."""
        with self._lock:
            if self.limit_usd is not None and self.spent + self.reserved + amount > self.limit_usd + 1e-12:
                raise BudgetError(
                    f"budget ${self.limit_usd:.4f}: spent ${self.spent:.4f}, held ${self.reserved:.4f}, "
                    f"next call may cost ${amount:.4f}"
                )
            self.reserved += amount
            return Reservation(amount)

    def fits_later(self, amount: float) -> bool:
        """Whether `amount` would fit once the calls in flight settle (their holds are worst cases)."""
        with self._lock:
            return self.reserved > 0 and (self.limit_usd is None or self.spent + amount <= self.limit_usd + 1e-12)

    def settle(self, reservation: Reservation, cost: float) -> None:
        """Release the hold and record the real `cost` (at most the hold when the server honours max_tokens)."""
        with self._lock:
            if reservation.settled:
                return
            reservation.settled = True
            self.reserved -= reservation.amount
            self.spent += cost
