"""The run ledger (`store`: schema, migrations, transactions) and the small readers beside it."""

from autoannotator.ledger.store import Batch, Decision, Ledger, Verdict

__all__ = ["Batch", "Decision", "Ledger", "Verdict"]
