"""The experiment settings users pass to ``Tuner``: TuneConfig, RunConfig and their parts.

Names, defaults and meanings follow Ray Tune. Every value is checked when the object is
built, so a mistake is reported before any trial starts.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tune.errors import check_mode, invalid_type, invalid_value


def _check_int(argument: str, value: Any, minimum: int, accepted: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(argument, value, accepted)
    if value < minimum:
        raise invalid_value(argument, value, accepted)


@dataclass
class CheckpointConfig:
    """Which checkpoints to take and keep (Ray Tune's ``CheckpointConfig``).

    num_to_keep: keep at most this many checkpoints per trial (None: all).
    checkpoint_score_attribute / checkpoint_score_order: rank kept checkpoints by this metric.
    checkpoint_frequency: class trainables save every this many iterations (0: never).
    checkpoint_at_end: class trainables save when they finish.
    """

    num_to_keep: int | None = None
    checkpoint_score_attribute: str | None = None
    checkpoint_score_order: str = "max"
    checkpoint_frequency: int = 0
    checkpoint_at_end: bool | None = None

    def __post_init__(self) -> None:
        if self.num_to_keep is not None:
            _check_int("num_to_keep", self.num_to_keep, 1, "must be None or an integer >= 1")
        if self.checkpoint_score_order not in ("max", "min"):
            raise invalid_value(
                "checkpoint_score_order", self.checkpoint_score_order, "must be 'max' or 'min'"
            )
        _check_int(
            "checkpoint_frequency", self.checkpoint_frequency, 0, "must be an integer >= 0"
        )


@dataclass
class FailureConfig:
    """What to do when trials fail (Ray Tune's ``FailureConfig``).

    max_failures: retry a failed trial this many times (-1: forever).
    fail_fast: end the experiment at the first error; ``"raise"`` re-raises it in the driver.
    """

    max_failures: int = 0
    fail_fast: bool | str = False

    def __post_init__(self) -> None:
        _check_int("max_failures", self.max_failures, -1, "must be an integer >= -1")
        if self.fail_fast not in (True, False, "raise"):
            raise invalid_value("fail_fast", self.fail_fast, "must be True, False or 'raise'")


@dataclass
class TuneConfig:
    """How to tune: metric, mode, search algorithm, scheduler, number of trials, budget.

    executor: where trials run: ``"local"`` (default: warm worker processes on this machine),
    ``"inline"`` (in the driver, one at a time, for debugging), or any registered executor
    name or ``Executor`` instance.
    trial_timeout_s: wall-clock seconds one run of a trial may take (from its launch; a
    retried or resumed trial starts afresh); a trial still running then is killed and
    handled as a failure (retried within ``FailureConfig(max_failures)``), so a hung trial
    cannot stall the experiment. None (default): no limit. Needs an executor that can kill
    trials (``local``, not ``inline``).
    """

    metric: str | None = None
    mode: str | None = None
    search_alg: Any = None
    scheduler: Any = None
    num_samples: int = 1
    max_concurrent_trials: int | None = None
    time_budget_s: float | datetime.timedelta | None = None
    reuse_actors: bool = False
    trial_name_creator: Callable[[Any], str] | None = None
    trial_dirname_creator: Callable[[Any], str] | None = None
    executor: Any = None
    trial_timeout_s: float | datetime.timedelta | None = None

    def __post_init__(self) -> None:
        if self.metric is not None and not isinstance(self.metric, str):
            raise invalid_type("metric", self.metric, "expected a string (a result key) or None")
        check_mode(self.mode)
        _check_int("num_samples", self.num_samples, -1, "must be -1 (no limit) or an integer >= 0")
        if self.max_concurrent_trials is not None:
            _check_int(
                "max_concurrent_trials",
                self.max_concurrent_trials,
                1,
                "must be None or an integer >= 1",
            )
        if isinstance(self.time_budget_s, datetime.timedelta):
            self.time_budget_s = self.time_budget_s.total_seconds()
        if self.time_budget_s is not None:
            if isinstance(self.time_budget_s, bool) or not isinstance(
                self.time_budget_s, (int, float)
            ):
                raise invalid_type(
                    "time_budget_s", self.time_budget_s, "expected seconds or a timedelta"
                )
            if self.time_budget_s <= 0 or math.isnan(self.time_budget_s):
                raise invalid_value("time_budget_s", self.time_budget_s, "must be > 0 seconds")
        if isinstance(self.trial_timeout_s, datetime.timedelta):
            self.trial_timeout_s = self.trial_timeout_s.total_seconds()
        if self.trial_timeout_s is not None:
            if isinstance(self.trial_timeout_s, bool) or not isinstance(
                self.trial_timeout_s, (int, float)
            ):
                raise invalid_type(
                    "trial_timeout_s", self.trial_timeout_s, "expected seconds, a timedelta or None"
                )
            if not self.trial_timeout_s > 0:  # also rejects NaN
                raise invalid_value(
                    "trial_timeout_s", self.trial_timeout_s, "must be > 0 seconds (None: no limit)"
                )
        for name in ("trial_name_creator", "trial_dirname_creator"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise invalid_type(name, value, "expected a function trial -> str")


@dataclass
class RunConfig:
    """Where results go and how the run behaves (Ray Tune's ``RunConfig``).

    name: experiment directory name (default: ``<trainable>_<date>``).
    storage_path: parent directory (default ``~/tune_results`` or ``TUNE_RESULTS_DIR``).
    stop: a dict ``{result_key: threshold}``, a function ``(trial_id, result) -> bool`` or a
        ``tune.Stopper``.
    callbacks: ``tune.Callback`` instances (loggers included).
    verbose: 0 silent, 1 status updates, 2 also trial status lines, 3 also every result.
    log_to_file: True, a file name, or a (stdout, stderr) pair of names, relative to the
        trial directory.
    """

    name: str | None = None
    storage_path: str | None = None
    stop: Any = None
    callbacks: list | None = None
    checkpoint_config: CheckpointConfig = field(default_factory=CheckpointConfig)
    failure_config: FailureConfig = field(default_factory=FailureConfig)
    progress_reporter: Any = None
    verbose: int | None = None
    log_to_file: bool | str | tuple = False

    def __post_init__(self) -> None:
        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()):
            raise invalid_value("name", self.name, "must be a non-empty string")
        if self.name is not None and ("/" in self.name or self.name in (".", "..")):
            raise invalid_value("name", self.name, "must be a single directory name")
        if self.storage_path is not None:
            import os

            if not isinstance(self.storage_path, (str, os.PathLike)):
                raise invalid_type("storage_path", self.storage_path, "expected a path string")
            self.storage_path = os.fspath(self.storage_path)
        if self.stop is not None and not (isinstance(self.stop, dict) or callable(self.stop)):
            raise invalid_type(
                "stop", self.stop, "expected a dict, a function (trial_id, result) -> bool or a Stopper"
            )
        if self.callbacks is not None and not isinstance(self.callbacks, (list, tuple)):
            raise invalid_type("callbacks", self.callbacks, "expected a list of tune.Callback")
        if self.checkpoint_config is None:
            self.checkpoint_config = CheckpointConfig()
        if not isinstance(self.checkpoint_config, CheckpointConfig):
            raise invalid_type(
                "checkpoint_config", self.checkpoint_config, "expected tune.CheckpointConfig"
            )
        if self.failure_config is None:
            self.failure_config = FailureConfig()
        if not isinstance(self.failure_config, FailureConfig):
            raise invalid_type("failure_config", self.failure_config, "expected tune.FailureConfig")
        if self.verbose is not None and self.verbose not in (0, 1, 2, 3):
            raise invalid_value("verbose", self.verbose, "must be 0, 1, 2 or 3")
        lf = self.log_to_file
        ok = isinstance(lf, (bool, str)) or (
            isinstance(lf, tuple) and len(lf) == 2 and all(isinstance(x, (str, type(None))) for x in lf)
        )
        if not ok:
            raise invalid_value(
                "log_to_file", lf, "must be True/False, a file name, or a (stdout, stderr) pair"
            )

    def log_files(self) -> tuple[str | None, str | None]:
        """The (stdout, stderr) file names relative to the trial dir, or (None, None)."""
        lf = self.log_to_file
        if lf is True:
            return "stdout", "stderr"
        if isinstance(lf, str):
            return lf, lf
        if isinstance(lf, tuple):
            return lf
        return None, None
