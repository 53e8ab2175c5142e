"""The ``Stopper`` interface: decide after each result whether a trial, or everything, stops.

Stoppers carry their hookimpls, so the controller registers any number of them on the
experiment bus; a trial stops when any stopper says so, the experiment when any
``stop_all()`` says so.
"""

from __future__ import annotations

import abc
import math
import numbers
from typing import Any

from tune.errors import invalid_value
from tune.plugins import hookimpl
from tune.stateful import StatefulPlugin

__all__ = ["Stopper"]


class Stopper(StatefulPlugin, abc.ABC):
    """Base class of stoppers (Ray Tune's ``tune.Stopper``).

    Implement ``__call__(trial_id, result)`` (stop this trial?) and, to end the whole
    experiment, ``stop_all()`` (stop every trial and start no new ones?).

    Stateful stoppers override ``get_state()``/``set_state()`` so a restored experiment
    carries on where it left off. The state is saved under ``state_key``, which defaults to
    the class's qualified name; set ``state_key`` on instances when an experiment has two
    stateful stoppers of the same class.
    """

    #: Key the experiment state keeps ``get_state()`` under (default: the class's qualname).
    state_key: str | None = None

    @abc.abstractmethod
    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """Return whether trial ``trial_id`` should stop after ``result``."""

    def stop_all(self) -> bool:
        """Return whether to stop all trials and start no new ones."""
        return False

    def get_state(self) -> Any:
        """A picklable snapshot of this stopper's progress, or ``None`` if it keeps none."""
        return None

    def set_state(self, state: Any) -> None:
        """Bring back what ``get_state`` returned."""
        return None


    # -- hookimpls ----------------------------------------------------------------------------
    @hookimpl
    def tune_should_stop_trial(self, trial_id: str, result: dict) -> bool:
        return bool(self(trial_id, result))

    @hookimpl
    def tune_should_stop_all(self) -> bool:
        return bool(self.stop_all())




def _population_std(values: Any) -> float:
    """Population standard deviation (as ``numpy.std``) of a non-empty sequence of floats."""
    n = len(values)
    mean = sum(values) / n
    return math.sqrt(sum((x - mean) * (x - mean) for x in values) / n)


def _as_float(value: Any) -> float | None:
    """``value`` as a float if it is a real number (numpy scalars included), else ``None``."""
    if type(value) is float or type(value) is int:
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return None


def _check_int(argument: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise invalid_value(argument, value, f"must be an integer >= {minimum}")


def _check_positive_number(argument: str, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or math.isnan(value)
        or value <= 0
    ):
        raise invalid_value(argument, value, "must be a number > 0")


def _check_metric(value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise invalid_value("metric", value, "must be the name of a reported metric (a str)")


def __getattr__(name: str) -> Any:
    # Ray Tune defines CombinedStopper in this module; serve it without a circular import.
    if name == "CombinedStopper":
        from tune.stopper.combined import CombinedStopper

        return CombinedStopper
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
