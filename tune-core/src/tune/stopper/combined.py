"""``CombinedStopper``: several stoppers acting as one."""

from __future__ import annotations

from typing import Any

from tune.errors import invalid_value
from tune.stopper.stopper import Stopper

__all__ = ["CombinedStopper"]


class CombinedStopper(Stopper):
    """Stops a trial (or the experiment) when any of the given stoppers does.

    Unlike Ray Tune, every stopper sees every result even when an earlier one already said
    stop, so counting stoppers stay accurate.

    :param stoppers: ``Stopper`` instances (plain ``fn(trial_id, result)`` functions are
        wrapped in ``FunctionStopper``).
    """

    def __init__(self, *stoppers: Stopper) -> None:
        from tune.stopper.function_stopper import FunctionStopper

        converted: list[Stopper] = []
        for index, stopper in enumerate(stoppers):
            if isinstance(stopper, Stopper):
                converted.append(stopper)
            elif FunctionStopper.is_valid_function(stopper):
                converted.append(FunctionStopper(stopper))
            else:
                raise invalid_value(
                    f"stoppers[{index}]", stopper, "must be a tune.Stopper or a function"
                )
        self._stoppers = tuple(converted)

    @property
    def stoppers(self) -> tuple[Stopper, ...]:
        return self._stoppers

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        decisions = [stopper(trial_id, result) for stopper in self._stoppers]
        return any(decisions)

    def stop_all(self) -> bool:
        decisions = [stopper.stop_all() for stopper in self._stoppers]
        return any(decisions)

    def get_state(self) -> list | None:
        states = [stopper.get_state() for stopper in self._stoppers]
        if all(state is None for state in states):
            return None
        return states

    def set_state(self, state: list) -> None:
        for stopper, sub_state in zip(self._stoppers, state):
            if sub_state is not None:
                stopper.set_state(sub_state)
