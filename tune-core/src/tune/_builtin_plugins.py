"""The core's own built-ins, registered through the same hooks as any third-party plugin.

Loaded as the ``core`` entry point of the ``tune.plugins`` group (and directly when tune runs
from a source tree without installed metadata). Only import strings live here, so loading
this plugin imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tune.plugins import hookimpl

if TYPE_CHECKING:
    from tune.plugins import Registry

SEARCHERS = {
    "random": ("tune.search.basic_variant:BasicVariantGenerator", ("BasicVariantGenerator",)),
    "variant_generator": ("tune.search.basic_variant:BasicVariantGenerator", ()),
}
SCHEDULERS = {
    "fifo": ("tune.schedulers.trial_scheduler:FIFOScheduler", ("FIFOScheduler",)),
}
STOPPERS = {
    "maximum_iteration": (
        "tune.stopper.maximum_iteration:MaximumIterationStopper",
        ("MaximumIterationStopper",),
    ),
    "experiment_plateau": (
        "tune.stopper.experiment_plateau:ExperimentPlateauStopper",
        ("ExperimentPlateauStopper",),
    ),
    "trial_plateau": (
        "tune.stopper.trial_plateau:TrialPlateauStopper",
        ("TrialPlateauStopper",),
    ),
    "timeout": ("tune.stopper.timeout:TimeoutStopper", ("TimeoutStopper",)),
    "combined": ("tune.stopper.combined:CombinedStopper", ("CombinedStopper",)),
    "function": ("tune.stopper.function_stopper:FunctionStopper", ("FunctionStopper",)),
}
LOGGERS = {
    "json": ("tune.logger.json:JsonLoggerCallback", ("JsonLoggerCallback",)),
    "csv": ("tune.logger.csv:CSVLoggerCallback", ("CSVLoggerCallback",)),
}
EXECUTORS = {
    "local": ("tune.execution.local:LocalExecutor", ("LocalExecutor",)),
    "inline": ("tune.execution.inline:InlineExecutor", ("InlineExecutor",)),
}

BUILTINS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "searcher": SEARCHERS,
    "scheduler": SCHEDULERS,
    "stopper": STOPPERS,
    "logger": LOGGERS,
    "executor": EXECUTORS,
}


@hookimpl
def tune_register(registry: Registry) -> None:
    for kind, table in BUILTINS.items():
        for name, (target, class_names) in table.items():
            registry.add(kind, name, target, class_names=class_names)


@hookimpl(trylast=True)
def tune_make_trainable(obj: Any) -> Any:
    # trylast: a plugin that knows a more specific kind of callable (a framework trainer
    # object with __call__, say) gets to claim it before the generic function wrapper does.
    if not callable(obj):
        return None
    from tune.trainable.trainable import Trainable

    if isinstance(obj, type):
        return obj if issubclass(obj, Trainable) else None
    from tune.trainable.function_trainable import wrap_function

    return wrap_function(obj)
