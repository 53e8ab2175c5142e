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
    registry.add_scheduler(
        "pbt", "tune_schedulers.pbt:PopulationBasedTraining", class_names=["PopulationBasedTraining"]
    )
    registry.add_scheduler(
        "pbt_replay",
        "tune_schedulers.pbt_replay:PopulationBasedTrainingReplay",
        class_names=["PopulationBasedTrainingReplay"],
    )
    registry.add_scheduler("pb2", "tune_schedulers.pb2:PB2", class_names=["PB2"], extra="tune-schedulers[pb2]")
    registry.add_scheduler(
        "resource_changing",
        "tune_schedulers.resource_changing_scheduler:ResourceChangingScheduler",
        class_names=[
            "ResourceChangingScheduler",
            "DistributeResources",
            "DistributeResourcesToTopJob",
        ],
    )
