"""``TimeoutStopper``: end the experiment after a time budget."""

from __future__ import annotations

import datetime
import math
import numbers
import time
from typing import Any

from tune.errors import invalid_value
from tune.stopper.stopper import Stopper

__all__ = ["TimeoutStopper"]


class TimeoutStopper(Stopper):
    """Stop all trials once ``timeout`` has elapsed.

    The clock starts at the first ``stop_all()`` check (after setup) and only counts time
    between checks, so a restored experiment spends what was left of its budget, not the
    time it was down.

    :param timeout: the budget, in seconds (int or float >= 0) or as a ``datetime.timedelta``.
    """

    def __init__(self, timeout: float | datetime.timedelta) -> None:
        if isinstance(timeout, datetime.timedelta):
            seconds = timeout.total_seconds()
        elif isinstance(timeout, numbers.Real) and not isinstance(timeout, bool):
            seconds = float(timeout)
        else:
            raise invalid_value(
                "timeout", timeout, "must be a number of seconds or a datetime.timedelta"
            )
        if math.isnan(seconds) or seconds < 0:
            raise invalid_value("timeout", timeout, "must not be negative")
        self._timeout_seconds = seconds
        self._budget = seconds
        self._last_check: float | None = None

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        now = time.monotonic()
        if self._last_check is not None:
            self._budget -= now - self._last_check
        self._last_check = now
        return self._budget <= 0

    def get_state(self) -> dict:
        return {"budget": self._budget}

    def set_state(self, state: dict) -> None:
        self._budget = float(state["budget"])
        self._last_check = None

    def __getstate__(self) -> dict:
        # A monotonic timestamp means nothing in another process.
        state = self.__dict__.copy()
        state["_last_check"] = None
        return state
