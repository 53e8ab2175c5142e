"""``MaximumIterationStopper``: stop each trial after a fixed number of results."""

from __future__ import annotations

from typing import Any

from tune.stopper.stopper import Stopper, _check_int

__all__ = ["MaximumIterationStopper"]


class MaximumIterationStopper(Stopper):
    """Stop a trial once it has reported ``max_iter`` results.

    Like Ray Tune, this counts the results this stopper has seen for each trial, not the
    trial's ``training_iteration`` field.

    :param max_iter: number of results after which a trial stops (an integer >= 1).
    """

    def __init__(self, max_iter: int) -> None:
        _check_int("max_iter", max_iter, 1)
        self._max_iter = int(max_iter)
        self._iter: dict[str, int] = {}

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        count = self._iter.get(trial_id, 0) + 1
        self._iter[trial_id] = count
        return count >= self._max_iter

    def stop_all(self) -> bool:
        return False

    def get_state(self) -> dict:
        return {"iter": dict(self._iter)}

    def set_state(self, state: dict) -> None:
        self._iter = dict(state["iter"])
