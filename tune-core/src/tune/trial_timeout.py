"""``TuneConfig(trial_timeout_s=...)``: a wall-clock limit on each run of a trial.

A trial still running ``trial_timeout_s`` seconds after its launch is killed through
``Executor.kill``; the executor reports it as ``TrialFailed`` and the usual failure handling
follows (a retry within ``FailureConfig(max_failures)``, else ERROR), so a hung trial cannot
stall the experiment. The clock starts at every launch: a trial resumed after a pause or
retried after a failure gets the full limit again. The controller owns one ``TrialTimeouts``
and tells it when trials start and end.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from tune.errors import TuneValueError


def check_executor_can_kill(trial_timeout_s: float | None, executor: Any) -> None:
    """Before anything runs: a limit needs an executor that can end trials."""
    if trial_timeout_s is not None and not getattr(executor, "supports_kill", False):
        raise TuneValueError(
            f"Invalid trial_timeout_s={trial_timeout_s!r}: the {executor.name!r} executor "
            f"({type(executor).__name__}) cannot end a running trial. Use "
            "TuneConfig(executor='local') (the default), or leave trial_timeout_s=None."
        )


class TrialTimeouts:
    """Launch times of live trials, and the kills of those past ``limit_s``.

    :param limit_s: seconds one run of a trial may take; None disables everything.
    :param clock: ``time.monotonic`` (replaceable in tests).
    """

    def __init__(self, limit_s: float | None, clock: Any = time.monotonic) -> None:
        self.limit_s = limit_s
        self._clock = clock
        self._launched: dict[str, float] = {}

    def launched(self, trial_id: str) -> None:
        """A run of the trial starts now."""
        if self.limit_s is not None:
            self._launched[trial_id] = self._clock()

    def ended(self, trial_id: str) -> None:
        """The run ended (completed, paused, failed, requeued): its clock stops."""
        self._launched.pop(trial_id, None)

    def poll_timeout(self, timeout: float) -> float:
        """``timeout`` shortened so the controller wakes when the next limit is reached."""
        if self.limit_s is None or not self._launched:
            return timeout
        first = min(self._launched.values()) + self.limit_s
        return max(0.0, min(timeout, first - self._clock()))

    def kill_overdue(self, executor: Any, live: Mapping[str, Any]) -> list[str]:
        """Kill every live trial past the limit; returns their ids. Each is killed once
        (its clock stops here); the ``TrialFailed`` comes with the executor's next poll."""
        limit = self.limit_s
        if limit is None or not self._launched:
            return []
        now = self._clock()
        killed = []
        for trial_id, launched in list(self._launched.items()):
            ran = now - launched
            if ran < limit:
                continue
            del self._launched[trial_id]
            trial = live.get(trial_id)
            if trial is None:
                continue
            executor.kill(
                trial_id, f"Trial {trial} exceeded trial_timeout_s={limit} (ran {ran:.1f} s)"
            )
            killed.append(trial_id)
        return killed
