"""The module named by the ``tune.plugins`` entry point: registration only.

Import strings, not classes, are registered, so listing the plugin imports no optimizer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tune.plugins import hookimpl

if TYPE_CHECKING:
    from tune.plugins import Registry

# (registered name, "module:class", extra)
_SEARCHERS = [
    ("hyperopt", "tune_search.hyperopt_search:HyperOptSearch", "hyperopt"),
    ("optuna", "tune_search.optuna_search:OptunaSearch", "optuna"),
    ("bayesopt", "tune_search.bayesopt_search:BayesOptSearch", "bayesopt"),
    ("ax", "tune_search.ax_search:AxSearch", "ax"),
    ("nevergrad", "tune_search.nevergrad_search:NevergradSearch", "nevergrad"),
    ("bohb", "tune_search.bohb_search:TuneBOHB", "bohb"),
]


@hookimpl
def tune_register(registry: Registry) -> None:
    for name, target, extra in _SEARCHERS:
        registry.add_searcher(
            name,
            target,
            class_names=[target.rsplit(":", 1)[1]],
            extra=f"tune-search[{extra}]",
        )
