"""Training loops that `model.fit` cannot run (multi-worker strategies)."""

from vlpk.training.distributed import DistributedTrainer

__all__ = ["DistributedTrainer"]
