"""Search spaces and search algorithms: ``Searcher``, ``BasicVariantGenerator``, wrappers.

Names load lazily, so ``import tune.search`` costs nothing until one is used. Searchers that
plugins provide are served by class name too: ``from tune.search import OptunaSearch`` works
once ``tune-search[optuna]`` is installed, and says what to install when it is not.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tune.search.basic_variant import BasicVariantGenerator
    from tune.search.concurrency_limiter import ConcurrencyLimiter
    from tune.search.repeater import TRIAL_INDEX, Repeater
    from tune.search.sample import (
        Categorical,
        Domain,
        Float,
        Function,
        Integer,
        choice,
        grid_search,
        lograndint,
        loguniform,
        qlograndint,
        qloguniform,
        qrandint,
        qrandn,
        quniform,
        randint,
        randn,
        sample_from,
        uniform,
    )
    from tune.search.searcher import Searcher
    from tune.search.variant_generator import (
        count_variants,
        evaluated_params,
        flatten_dict,
        format_vars,
        generate_variants,
        unflatten_dict,
    )

_SAMPLE = "tune.search.sample"
_VARIANTS = "tune.search.variant_generator"

_EXPORTS: dict[str, str] = {
    "Searcher": "tune.search.searcher",
    "BasicVariantGenerator": "tune.search.basic_variant",
    "ConcurrencyLimiter": "tune.search.concurrency_limiter",
    "Repeater": "tune.search.repeater",
    "TRIAL_INDEX": "tune.search.repeater",
    "Domain": _SAMPLE,
    "Float": _SAMPLE,
    "Integer": _SAMPLE,
    "Categorical": _SAMPLE,
    "Function": _SAMPLE,
    "uniform": _SAMPLE,
    "quniform": _SAMPLE,
    "loguniform": _SAMPLE,
    "qloguniform": _SAMPLE,
    "randn": _SAMPLE,
    "qrandn": _SAMPLE,
    "randint": _SAMPLE,
    "qrandint": _SAMPLE,
    "lograndint": _SAMPLE,
    "qlograndint": _SAMPLE,
    "choice": _SAMPLE,
    "sample_from": _SAMPLE,
    "grid_search": _SAMPLE,
    "generate_variants": _VARIANTS,
    "count_variants": _VARIANTS,
    "evaluated_params": _VARIANTS,
    "format_vars": _VARIANTS,
    "flatten_dict": _VARIANTS,
    "unflatten_dict": _VARIANTS,
}

__all__ = [
    "BasicVariantGenerator",
    "Categorical",
    "ConcurrencyLimiter",
    "Domain",
    "Float",
    "Function",
    "Integer",
    "Repeater",
    "Searcher",
    "TRIAL_INDEX",
    "choice",
    "count_variants",
    "create_searcher",
    "evaluated_params",
    "flatten_dict",
    "format_vars",
    "generate_variants",
    "grid_search",
    "lograndint",
    "loguniform",
    "qlograndint",
    "qloguniform",
    "qrandint",
    "qrandn",
    "quniform",
    "randint",
    "randn",
    "sample_from",
    "unflatten_dict",
    "uniform",
]


def create_searcher(search_alg: str, **kwargs: Any) -> Any:
    """A searcher by registered name, e.g. ``create_searcher("random")`` or ``"optuna"``.

    Delegates to ``tune.plugins.create_searcher``; unknown names list the known ones.
    """
    from tune.plugins import create_searcher as _create

    return _create(search_alg, **kwargs)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is not None:
        value = getattr(importlib.import_module(module_name), name)
        globals()[name] = value
        return value
    # Anything else may be a searcher class a plugin registered (OptunaSearch, ...).
    from tune.plugins import lazy_class_getattr

    return lazy_class_getattr("searcher", __name__)(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
