"""Ctrl+C and SIGUSR1 during a run: the first stops gracefully, a second stops at once.

The first signal only sets a flag that the controller checks every step (a signal handler
must not touch the executor mid-call): running trials are asked to stop, saving a checkpoint
where they can, they stay unfinished in the record, and a final snapshot is written, so
``Tuner.restore`` continues them. ``TUNE_DISABLE_SIGINT_HANDLER=1`` leaves signals alone.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from tune import env

_SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGUSR1", None)) if s)


class InterruptHandler:
    """Installs the handlers for the duration of a ``with`` block (main thread only)."""

    def __init__(self) -> None:
        self.requested = False
        #: a second signal came: stop at once (checked by the controller too, since Python
        #: drops an exception raised while a finalizer happens to run)
        self.forced = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> InterruptHandler:
        if env.flag("TUNE_DISABLE_SIGINT_HANDLER"):
            return self
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in _SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            self.forced = True
            self._restore()
            raise KeyboardInterrupt
        self.requested = True
        print(
            f"\nReceived {signal.Signals(signum).name}: stopping trials gracefully and saving "
            "the experiment (send it again to stop at once).",
            file=sys.stderr,
        )

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def __exit__(self, *exc: Any) -> None:
        self._restore()
