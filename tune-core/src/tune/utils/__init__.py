"""Debugging helpers for trainables (Ray Tune's ``tune.utils``).

* :func:`validate_save_restore`: check that a Trainable class saves and restores correctly
  before running an experiment that depends on it (pausing schedulers, PBT, fault tolerance).
* :func:`diagnose_serialization`: find the objects that keep a trainable from being pickled
  (it must be, to reach worker processes).
"""

from __future__ import annotations

from tune.utils.serialization import FailureTuple, diagnose_serialization
from tune.utils.validation import validate_save_restore

__all__ = ["FailureTuple", "diagnose_serialization", "validate_save_restore"]
