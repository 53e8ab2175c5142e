"""``StatefulPlugin``: the state hooks shared by callbacks and stoppers.

A plugin object whose ``get_state()`` returns something other than ``None`` has that state
saved with the experiment under ``state_key`` (default: the class's qualified name) and
handed back to its ``set_state()`` when the experiment is restored.
"""

from __future__ import annotations

from typing import Any

from tune.plugins import hookimpl


class StatefulPlugin:
    state_key: str | None = None

    def get_state(self) -> Any:
        """State to save with the experiment, or ``None`` for none."""
        return None

    def set_state(self, state: Any) -> None:
        """Bring back what ``get_state`` returned."""

    def _state_key(self) -> str:
        return self.state_key or type(self).__qualname__

    @hookimpl
    def tune_get_state(self) -> tuple[str, Any] | None:
        state = self.get_state()
        if state is None:
            return None
        return self._state_key(), state

    @hookimpl
    def tune_set_state(self, key: str, state: Any) -> None:
        if key == self._state_key():
            self.set_state(state)
