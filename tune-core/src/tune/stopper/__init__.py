"""Stoppers: end trials, or the whole experiment, on conditions checked after each result.

``Stopper`` is the interface; the built-ins mirror Ray Tune's ``ray.tune.stopper``. Stoppers
from plugins are served here by class name.
"""

from __future__ import annotations

from tune.plugins import lazy_class_getattr
from tune.stopper.combined import CombinedStopper
from tune.stopper.experiment_plateau import ExperimentPlateauStopper
from tune.stopper.function_stopper import FunctionStopper
from tune.stopper.maximum_iteration import MaximumIterationStopper
from tune.stopper.stopper import Stopper
from tune.stopper.timeout import TimeoutStopper
from tune.stopper.trial_plateau import TrialPlateauStopper

__all__ = [
    "CombinedStopper",
    "ExperimentPlateauStopper",
    "FunctionStopper",
    "MaximumIterationStopper",
    "Stopper",
    "TimeoutStopper",
    "TrialPlateauStopper",
]

__getattr__ = lazy_class_getattr("stopper", __name__)
