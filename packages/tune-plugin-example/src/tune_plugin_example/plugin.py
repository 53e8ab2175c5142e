"""The plugin module named by the ``tune.plugins`` entry point: registration hooks only.

It registers import strings, not classes, so ``tune`` can list this plugin (``tune plugins``)
without importing the implementations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tune.plugins import hookimpl

if TYPE_CHECKING:
    from tune.plugins import Registry


@hookimpl
def tune_register(registry: Registry) -> None:
    registry.add_searcher(
        "example_grid_walk",
        "tune_plugin_example.searcher:GridWalkSearch",
        class_names=["GridWalkSearch"],
    )
    registry.add_scheduler(
        "example_threshold",
        "tune_plugin_example.scheduler:ThresholdScheduler",
        class_names=["ThresholdScheduler"],
    )
    registry.add_callback(
        "example_counter",
        "tune_plugin_example.callback:CounterCallback",
        class_names=["CounterCallback"],
    )
