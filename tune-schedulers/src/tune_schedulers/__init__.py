"""tune-schedulers: early-stopping and pausing trial schedulers for tune.

The classes are imported on first use (``from tune_schedulers import ASHAScheduler``), so
loading the plugin module through the ``tune.plugins`` entry point stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_CLASSES = {
    "AsyncHyperBandScheduler": "tune_schedulers.async_hyperband",
    "ASHAScheduler": "tune_schedulers.async_hyperband",
    "MedianStoppingRule": "tune_schedulers.median_stopping_rule",
    "HyperBandScheduler": "tune_schedulers.hyperband",
    "HyperBandForBOHB": "tune_schedulers.hb_bohb",
    "PopulationBasedTraining": "tune_schedulers.pbt",
    "PopulationBasedTrainingReplay": "tune_schedulers.pbt_replay",
    "PB2": "tune_schedulers.pb2",
    "ResourceChangingScheduler": "tune_schedulers.resource_changing_scheduler",
    "DistributeResources": "tune_schedulers.resource_changing_scheduler",
    "DistributeResourcesToTopJob": "tune_schedulers.resource_changing_scheduler",
}

__all__ = sorted(_CLASSES)


def __getattr__(name: str) -> Any:
    module = _CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_CLASSES])
