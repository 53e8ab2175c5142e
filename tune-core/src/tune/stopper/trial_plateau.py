"""``TrialPlateauStopper``: stop a trial once its metric has stopped changing."""

from __future__ import annotations

import numbers
from collections import deque
from typing import Any

from tune.errors import check_mode, invalid_value
from tune.stopper.stopper import (
    Stopper,
    _as_float,
    _check_int,
    _check_metric,
    _check_positive_number,
    _population_std,
)

__all__ = ["TrialPlateauStopper"]


class TrialPlateauStopper(Stopper):
    """Stop a trial when the last ``num_results`` values of ``metric`` are nearly constant.

    A trial is considered after at least ``grace_period`` results and once ``num_results``
    values are in its window; it stops when their (population) standard deviation is below
    ``std``. With ``metric_threshold`` the trial must also have reached that value (at most
    it for ``mode="min"``, at least it for ``mode="max"``). A window holding a missing or
    non-numeric value never counts as a plateau.

    :param metric: the metric to watch.
    :param std: the standard deviation (> 0) below which the metric counts as constant.
    :param num_results: how many of the latest results to consider (>= 1).
    :param grace_period: minimum number of results before a trial can stop (>= 0).
    :param metric_threshold: if set, only stop once the metric is at least this good.
    :param mode: ``"min"`` or ``"max"``; required with ``metric_threshold``.
    """

    def __init__(
        self,
        metric: str,
        std: float = 0.01,
        num_results: int = 4,
        grace_period: int = 4,
        metric_threshold: float | None = None,
        mode: str | None = None,
    ) -> None:
        _check_metric(metric)
        _check_positive_number("std", std)
        _check_int("num_results", num_results, 1)
        _check_int("grace_period", grace_period, 0)
        check_mode(mode)
        if metric_threshold is not None:
            if isinstance(metric_threshold, bool) or not isinstance(metric_threshold, numbers.Real):
                raise invalid_value(
                    "metric_threshold", metric_threshold, "must be a number or None"
                )
            if mode is None:
                raise invalid_value(
                    "mode", mode, 'must be "min" or "max" when metric_threshold is given'
                )
        self._metric = metric
        self._std = float(std)
        self._num_results = int(num_results)
        self._grace_period = int(grace_period)
        self._metric_threshold = metric_threshold
        self._mode = mode
        self._iter: dict[str, int] = {}
        self._trial_results: dict[str, deque] = {}

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        value = _as_float(result.get(self._metric))
        window = self._trial_results.get(trial_id)
        if window is None:
            window = self._trial_results[trial_id] = deque(maxlen=self._num_results)
        window.append(value)
        count = self._iter.get(trial_id, 0) + 1
        self._iter[trial_id] = count

        if count < self._grace_period or len(window) < self._num_results:
            return False
        if value is None or None in window:
            return False
        threshold = self._metric_threshold
        if threshold is not None:
            if self._mode == "min" and value > threshold:
                return False
            if self._mode == "max" and value < threshold:
                return False
        # NaN propagates into the std and the comparison is then False: no stop.
        return _population_std(window) < self._std

    def stop_all(self) -> bool:
        return False

    def get_state(self) -> dict:
        return {
            "iter": dict(self._iter),
            "results": {tid: list(window) for tid, window in self._trial_results.items()},
        }

    def set_state(self, state: dict) -> None:
        self._iter = dict(state["iter"])
        self._trial_results = {
            tid: deque(values, maxlen=self._num_results) for tid, values in state["results"].items()
        }
