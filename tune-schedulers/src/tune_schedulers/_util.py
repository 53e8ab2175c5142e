"""Argument checks and small helpers shared by the schedulers."""

from __future__ import annotations

from typing import Any

from tune.errors import TuneValueError, invalid_value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_number(argument: str, value: Any, *, minimum: float, strict: bool) -> float:
    """``value`` must be a number above ``minimum`` (``strict``) or at least ``minimum``."""
    if not _is_number(value) or value != value or (value <= minimum if strict else value < minimum):
        relation = ">" if strict else ">="
        raise invalid_value(argument, value, f"must be a number {relation} {minimum:g}")
    return value


def check_int(argument: str, value: Any, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise invalid_value(argument, value, f"must be an integer >= {minimum}")
    return value


def check_time_attr(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid_value("time_attr", value, "must be the name of a result field")
    return value


def require_metric(scheduler: Any) -> None:
    """Raise unless the scheduler knows its metric and mode (given or from TuneConfig)."""
    if scheduler._metric is None or scheduler._mode is None:
        name = type(scheduler).__name__
        raise TuneValueError(
            f"{name} needs `metric` and `mode`: pass them to {name}(metric=..., mode=...) "
            "or to TuneConfig(metric=..., mode=...)."
        )


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation, like ``numpy.percentile``."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: list[float]) -> float:
    return percentile(values, 50.0)


def check_searcher_is_basic(scheduler: Any, spec: dict) -> None:
    """PBT-like schedulers pick configs themselves: no search algorithm can drive them."""
    from tune.search.basic_variant import BasicVariantGenerator

    searcher_class = spec.get("searcher_class")
    if searcher_class is not None and not issubclass(searcher_class, BasicVariantGenerator):
        name = type(scheduler).__name__
        raise TuneValueError(
            f"Search algorithms cannot be used with {name} schedulers: {name} chooses the "
            f"configs itself. Remove search_alg={searcher_class.__name__} from TuneConfig "
            "(random and grid search over param_space are fine)."
        )


def check_trainable_checkpoints(scheduler: Any, spec: dict) -> None:
    if spec.get("trainable_can_checkpoint") is False:
        name = type(scheduler).__name__
        raise TuneValueError(
            f"{name} needs checkpoints: it restarts trials from saved state, but the "
            "trainable class does not implement save_checkpoint() and load_checkpoint(). "
            "Implement both (see the Trainable API), or use a scheduler that only stops "
            "trials (ASHAScheduler, MedianStoppingRule)."
        )
