"""``FunctionStopper``: a plain ``fn(trial_id, result) -> bool`` used as a stopper."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tune.errors import invalid_value
from tune.stopper.stopper import Stopper

__all__ = ["FunctionStopper"]


class FunctionStopper(Stopper):
    """Wraps a user function ``fn(trial_id, result) -> bool`` (``RunConfig(stop=fn)``).

    :param function: called after each result; a true return value stops that trial.
    """

    def __init__(self, function: Callable[[str, dict], bool]) -> None:
        if not callable(function) or isinstance(function, type):
            raise invalid_value(
                "function", function, "must be a callable taking (trial_id, result)"
            )
        self._fn = function

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return bool(self._fn(trial_id, result))

    def stop_all(self) -> bool:
        return False

    @classmethod
    def is_valid_function(cls, fn: Any) -> bool:
        """Whether ``fn`` is a plain callable (not a ``Stopper``) usable as a stop function.

        :raises TuneValueError: for a callable that has ``stop_all`` but is no ``Stopper``
            subclass, which would otherwise silently lose its ``stop_all``.
        """
        is_function = callable(fn) and not isinstance(fn, (Stopper, type))
        if is_function and hasattr(fn, "stop_all"):
            raise invalid_value(
                "stop", fn, "an object with stop_all must subclass tune.Stopper to be used"
            )
        return is_function
