"""Warnings about a struggling event loop: slow steps, and trials starved of resources.

``TUNE_WARN_THRESHOLD_S``: a step that spends longer than this processing events is logged.
``TUNE_WARN_INSUFFICENT_RESOURCE_THRESHOLD_S``: trials waiting while none runs for this long
are logged, and again every such period while it lasts.
"""

from __future__ import annotations

import logging
import time

from tune import env

logger = logging.getLogger("tune")


class LoopWarnings:
    def __init__(self) -> None:
        self.slow_s = env.number("TUNE_WARN_THRESHOLD_S")
        self.starved_s = env.number("TUNE_WARN_INSUFFICENT_RESOURCE_THRESHOLD_S")
        self._starved_since: float | None = None

    def check(self, busy_since: float, n_events: int, starved: bool) -> None:
        now = time.monotonic()
        took = now - busy_since
        if took > self.slow_s:
            logger.warning(
                "The event loop took %.2f s to process %d events (TUNE_WARN_THRESHOLD_S=%s); "
                "a slow callback, logger or scheduler may be the cause.",
                took, n_events, self.slow_s,
            )
        if not starved:
            self._starved_since = None
            return
        if self._starved_since is None:
            self._starved_since = now
        elif now - self._starved_since >= self.starved_s:
            logger.warning(
                "Trials are waiting but none has been running for %.0f s: the executor has no "
                "free resources for them, or the scheduler is holding them back "
                "(TUNE_WARN_INSUFFICENT_RESOURCE_THRESHOLD_S=%s).",
                now - self._starved_since, self.starved_s,
            )
            self._starved_since = now
