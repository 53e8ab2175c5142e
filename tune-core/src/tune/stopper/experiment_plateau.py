"""``ExperimentPlateauStopper``: end the experiment once the best results stop improving."""

from __future__ import annotations

import bisect
import math
from typing import Any

from tune.errors import check_choice
from tune.stopper.stopper import (
    Stopper,
    _as_float,
    _check_int,
    _check_metric,
    _check_positive_number,
    _population_std,
)

__all__ = ["ExperimentPlateauStopper"]


class ExperimentPlateauStopper(Stopper):
    """Stop the whole experiment when the top results across all trials have plateaued.

    After each result the ``top`` best values of ``metric`` seen so far (over all trials) are
    kept. Once there are ``top`` of them and their (population) standard deviation is at
    most ``std`` for ``patience`` further consecutive results, every trial stops and no new
    one starts. Results without ``metric`` (or with a NaN or non-numeric value) are ignored.

    :param metric: the metric to watch.
    :param std: the standard deviation (> 0) at or below which the top values count as a
        plateau.
    :param top: how many of the best values to consider (an integer > 1).
    :param mode: ``"min"`` or ``"max"``: which values are the best.
    :param patience: how many further results the plateau must last before stopping (>= 0).
    """

    def __init__(
        self,
        metric: str,
        std: float = 0.001,
        top: int = 10,
        mode: str = "min",
        patience: int = 0,
    ) -> None:
        _check_metric(metric)
        check_choice("mode", mode, ["min", "max"])
        _check_int("top", top, 2)
        _check_int("patience", patience, 0)
        _check_positive_number("std", std)
        self._metric = metric
        self._std = float(std)
        self._top = int(top)
        self._mode = mode
        self._patience = int(patience)
        self._iterations = 0
        # Ascending; for "min" the top values are the smallest, for "max" the largest.
        self._top_values: list[float] = []

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        value = _as_float(result.get(self._metric))
        if value is None or math.isnan(value):
            return self.stop_all()
        values = self._top_values
        bisect.insort(values, value)
        if len(values) > self._top:
            if self._mode == "min":
                values.pop()
            else:
                values.pop(0)
        if self.has_plateaued():
            self._iterations += 1
        else:
            self._iterations = 0
        return self.stop_all()

    def has_plateaued(self) -> bool:
        """Whether the top values are complete and within ``std`` of each other."""
        return len(self._top_values) == self._top and _population_std(self._top_values) <= self._std

    def stop_all(self) -> bool:
        return self.has_plateaued() and self._iterations >= self._patience

    def get_state(self) -> dict:
        return {"top_values": list(self._top_values), "iterations": self._iterations}

    def set_state(self, state: dict) -> None:
        self._top_values = sorted(state["top_values"])
        self._iterations = int(state["iterations"])
