"""tune: hyperparameter tuning with Ray Tune's API, fast on one machine, pluggable everywhere.

Scripts written for Ray Tune work with ``import tune`` in place of ``from ray import tune``::

    import tune

    def objective(config):
        for step in range(10):
            tune.report({"loss": (config["x"] - 3) ** 2 / (step + 1)})

    results = tune.Tuner(
        objective,
        param_space={"x": tune.uniform(0, 10)},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=20),
    ).fit()
    print(results.get_best_result().config)

Public names are imported lazily so that ``import tune`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # running experiments
    "Tuner": "tune.tuner:Tuner",
    "TuneConfig": "tune.config:TuneConfig",
    "RunConfig": "tune.config:RunConfig",
    "CheckpointConfig": "tune.config:CheckpointConfig",
    "FailureConfig": "tune.config:FailureConfig",
    "run": "tune.run:run",
    # trainables
    "Trainable": "tune.trainable.trainable:Trainable",
    "report": "tune.trainable.session:report",
    "get_checkpoint": "tune.trainable.session:get_checkpoint",
    "get_context": "tune.trainable.session:get_context",
    "Checkpoint": "tune.trainable.checkpoint:Checkpoint",
    "with_parameters": "tune.trainable.util:with_parameters",
    "with_resources": "tune.trainable.util:with_resources",
    "PlacementGroupFactory": "tune.resources:PlacementGroupFactory",
    # search spaces
    "uniform": "tune.search.sample:uniform",
    "quniform": "tune.search.sample:quniform",
    "loguniform": "tune.search.sample:loguniform",
    "qloguniform": "tune.search.sample:qloguniform",
    "randn": "tune.search.sample:randn",
    "qrandn": "tune.search.sample:qrandn",
    "randint": "tune.search.sample:randint",
    "qrandint": "tune.search.sample:qrandint",
    "lograndint": "tune.search.sample:lograndint",
    "qlograndint": "tune.search.sample:qlograndint",
    "choice": "tune.search.sample:choice",
    "sample_from": "tune.search.sample:sample_from",
    "grid_search": "tune.search.sample:grid_search",
    # plugins and extension points
    "hookimpl": "tune.plugins:hookimpl",
    "create_searcher": "tune.plugins:create_searcher",
    "create_scheduler": "tune.plugins:create_scheduler",
    "create_stopper": "tune.plugins:create_stopper",
    "create_logger": "tune.plugins:create_logger",
    "create_callback": "tune.plugins:create_callback",
    "create_executor": "tune.plugins:create_executor",
    "Callback": "tune.callback:Callback",
    "Stopper": "tune.stopper:Stopper",
    # results and progress
    "ResultGrid": "tune.result_grid:ResultGrid",
    "Result": "tune.result:Result",
    "ExperimentAnalysis": "tune.analysis:ExperimentAnalysis",
    "ProgressReporter": "tune.progress_reporter:ProgressReporter",
    "CLIReporter": "tune.progress_reporter:CLIReporter",
    "JupyterNotebookReporter": "tune.progress_reporter:JupyterNotebookReporter",
    # errors
    "TuneError": "tune.errors:TuneError",
}

_SUBMODULES = {
    "search", "schedulers", "stopper", "logger", "execution", "trainable", "plugins",
    "errors", "hookspecs", "progress_reporter", "utils",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is not None:
        module_name, attr = target.split(":")
        value = getattr(importlib.import_module(module_name), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"tune.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tune' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)
