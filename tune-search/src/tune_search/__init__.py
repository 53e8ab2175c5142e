"""tune-search: search algorithms for tune that drive optimizer libraries.

One adapter per library, each behind its own extra (``pip install 'tune-search[optuna]'``).
The classes are imported on first use (``from tune_search import OptunaSearch``), so loading
the plugin module through the ``tune.plugins`` entry point imports no optimizer library.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_CLASSES = {
    "HyperOptSearch": "tune_search.hyperopt_search",
    "OptunaSearch": "tune_search.optuna_search",
    "BayesOptSearch": "tune_search.bayesopt_search",
    "AxSearch": "tune_search.ax_search",
    "NevergradSearch": "tune_search.nevergrad_search",
    "TuneBOHB": "tune_search.bohb_search",
}

__all__ = sorted(_CLASSES)


def __getattr__(name: str) -> Any:
    module = _CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_CLASSES])
