"""What happens when a trial fails: error.txt, retries within ``max_failures``, fail-fast.

Each failure's traceback is appended to ``<trial dir>/error.txt`` and recorded in the trial's
``failures`` list. A trial with retries left goes back in line (from its latest checkpoint);
otherwise it ends in ERROR. ``fail_fast`` stops the experiment; ``"raise"`` also re-raises the
trial's exception from ``fit()``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from tune import env
from tune.errors import TrialError
from tune.execution.executor import TrialFailed
from tune.trial import ERROR, Trial

if TYPE_CHECKING:
    from tune.controller import TuneController

ERROR_FILE = "error.txt"


class FailureHandler:
    """Decides retry or ERROR for failed trials of one controller."""

    def __init__(self, controller: TuneController, max_failures: int, fail_fast: bool | str):
        self.controller = controller
        self.max_failures = max_failures
        self.fail_fast = fail_fast
        self.exception_to_raise: BaseException | None = None

    def _record(self, trial: Trial, message: str, traceback: str) -> None:
        trial.num_failures += 1
        when = time.strftime("%Y-%m-%d_%H-%M-%S")
        trial.error_msg = message
        trial.failures.append({"time": time.time(), "error": message, "traceback": traceback})
        if trial.path:
            os.makedirs(trial.path, exist_ok=True)
            trial.error_file = os.path.join(trial.path, ERROR_FILE)
            with open(trial.error_file, "a", encoding="utf-8") as f:
                f.write(f"Failure # {trial.num_failures} (occurred at {when})\n")
                f.write(traceback or message)
                if not (traceback or message).endswith("\n"):
                    f.write("\n")

    def on_failed(self, trial: Trial, event: TrialFailed) -> None:
        ctl = self.controller
        self._record(trial, event.error, event.traceback)
        retries_left = self.max_failures == -1 or trial.num_failures <= self.max_failures
        if retries_left and not self.fail_fast:
            checkpoint = trial.checkpoint.path if trial.checkpoint is not None else None
            ctl.requeue(trial, checkpoint)
            ctl.bus.on_trial_recover(ctl.iteration, ctl.trials, trial)
            ctl.recorder.trial_changed(trial, len(ctl.trials))
            return
        trial.exception = event.exception or TrialError(event.error, event.traceback)
        self._end_in_error(trial)
        if env.flag("TUNE_PRINT_ALL_TRIAL_ERRORS"):
            print(
                f"Trial {trial} errored ({trial.num_failures} failure(s)); "
                f"error file: {trial.error_file}\n{event.traceback or event.error}",
                file=sys.stderr,
            )
        if self.fail_fast:
            if self.fail_fast == "raise":
                self.exception_to_raise = trial.exception
            ctl.stop_experiment()

    def fail_unschedulable(self, trial: Trial, error: Exception) -> None:
        """A trial that can never get its resources ends in ERROR at once."""
        self._record(trial, str(error), f"{type(error).__name__}: {error}\n")
        trial.exception = error
        self._end_in_error(trial)

    def _end_in_error(self, trial: Trial) -> None:
        ctl = self.controller
        ctl.end_trial(trial, ERROR)
        ctl.bus.searcher_on_complete(trial.trial_id, trial.last_result or None, True)
        ctl.bus.scheduler_on_error(trial)
        ctl.bus.on_trial_error(ctl.iteration, ctl.trials, trial)
        ctl.recorder.trial_changed(trial, len(ctl.trials))
