"""The module named by the ``tune.plugins`` entry point: registration only.

Import strings, not classes, are registered, so listing the plugin imports no scheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tune.plugins import hookimpl

if TYPE_CHECKING:
    from tune.plugins import Registry

_ASHA = "tune_schedulers.async_hyperband:AsyncHyperBandScheduler"


@hookimpl
def tune_register(registry: Registry) -> None:
    registry.add_scheduler(
        "asha",
        "tune_schedulers.async_hyperband:ASHAScheduler",
        class_names=["ASHAScheduler", "AsyncHyperBandScheduler"],
    )
    registry.add_scheduler("async_hyperband", _ASHA)
    registry.add_scheduler(
        "median_stopping_rule",
        "tune_schedulers.median_stopping_rule:MedianStoppingRule",
        class_names=["MedianStoppingRule"],
    )
    registry.add_scheduler(
        "hyperband",
        "tune_schedulers.hyperband:HyperBandScheduler",
        class_names=["HyperBandScheduler"],
    )
    registry.add_scheduler(
        "hb_bohb",
        "tune_schedulers.hb_bohb:HyperBandForBOHB",
        class_names=["HyperBandForBOHB"],
    )
