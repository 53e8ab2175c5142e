"""``Result``: what one trial produced (last metrics, checkpoints, error, directory).

Also the names of the result fields tune fills in automatically and of the files in a trial
directory, as in Ray Tune's ``ray.tune.result`` (``from tune.result import TRAINING_ITERATION``).

A ``Result`` is cheap to build: the metric history (``metrics_dataframe``) and the list of
kept checkpoints (``best_checkpoints``) are read from the trial directory on first use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tune import _result_io

# -- auto-filled result fields (Ray Tune names) ---------------------------------------------
TRAINING_ITERATION = "training_iteration"
TIME_THIS_ITER_S = "time_this_iter_s"
TIME_TOTAL_S = "time_total_s"
TIMESTAMP = "timestamp"
DATE = "date"
DONE = "done"
TRIAL_ID = "trial_id"
EXPERIMENT_TAG = "experiment_tag"
HOSTNAME = "hostname"
NODE_IP = "node_ip"
PID = "pid"
ITERATIONS_SINCE_RESTORE = "iterations_since_restore"
TIME_SINCE_RESTORE = "time_since_restore"
TIMESTEPS_SINCE_RESTORE = "timesteps_since_restore"
TIMESTEPS_TOTAL = "timesteps_total"
TIMESTEPS_THIS_ITER = "timesteps_this_iter"
EPISODES_TOTAL = "episodes_total"
EPISODES_THIS_ITER = "episodes_this_iter"
SHOULD_CHECKPOINT = "should_checkpoint"
CHECKPOINT_DIR_NAME = _result_io.CHECKPOINT_DIR_NAME
CONFIG_KEY = "config"
# -- common user metrics the status table abbreviates ---------------------------------------
MEAN_ACCURACY = "mean_accuracy"
MEAN_LOSS = "mean_loss"
NEG_MEAN_LOSS = "neg_mean_loss"
EPISODE_REWARD_MEAN = "episode_reward_mean"
#: metric name used when only a mode is given
DEFAULT_METRIC = "_metric"

#: fields tune adds to every result; never inferred as user metrics
AUTO_RESULT_KEYS: tuple[str, ...] = (
    TRAINING_ITERATION,
    TIME_THIS_ITER_S,
    TIMESTEPS_THIS_ITER,
    TIME_TOTAL_S,
    TIMESTAMP,
    DATE,
    DONE,
    TRIAL_ID,
    EXPERIMENT_TAG,
    HOSTNAME,
    NODE_IP,
    PID,
    CONFIG_KEY,
    TIME_SINCE_RESTORE,
    ITERATIONS_SINCE_RESTORE,
    TIMESTEPS_SINCE_RESTORE,
    EPISODES_TOTAL,
    EPISODES_THIS_ITER,
    SHOULD_CHECKPOINT,
    CHECKPOINT_DIR_NAME,
)

# -- files in a trial directory -------------------------------------------------------------
EXPR_RESULT_FILE = _result_io.RESULT_FILE
EXPR_PROGRESS_FILE = _result_io.PROGRESS_FILE
EXPR_PARAM_FILE = _result_io.PARAMS_FILE
EXPR_PARAM_PICKLE_FILE = "params.pkl"
EXPR_ERROR_FILE = _result_io.ERROR_FILE

_NOT_LOADED: Any = object()


@dataclass(init=False, repr=False, eq=False)
class Result:
    """The outcome of one trial (Ray Tune's ``Result``).

    Attributes:
        metrics: the trial's last reported result (``{}`` if it never reported).
        checkpoint: its latest persisted ``tune.Checkpoint``, or ``None``.
        error: the exception it ended with, or ``None``.
        path: the trial directory.
        filesystem: ``None`` (paths are local paths or fsspec URLs).
    """

    metrics: dict[str, Any]
    checkpoint: Any
    error: BaseException | None
    path: str
    filesystem: Any

    def __init__(
        self,
        metrics: dict[str, Any] | None = None,
        checkpoint: Any = None,
        error: BaseException | None = None,
        path: str = "",
        metrics_dataframe: Any = None,
        best_checkpoints: list[tuple[Any, dict]] | None = None,
        *,
        config: dict | None = None,
        filesystem: Any = None,
    ) -> None:
        self.metrics = metrics if metrics is not None else {}
        self.checkpoint = checkpoint
        self.error = error
        self.path = path or ""
        self.filesystem = filesystem
        self._config = config
        self._metrics_dataframe = _NOT_LOADED if metrics_dataframe is None else metrics_dataframe
        self._best_checkpoints = (
            _NOT_LOADED
            if best_checkpoints is None
            else _result_io.kept_checkpoints(best_checkpoints, checkpoint)
        )

    @property
    def config(self) -> dict | None:
        """The trial's configuration."""
        config = self.metrics.get(CONFIG_KEY) if self.metrics else None
        return config if config is not None else self._config

    @property
    def metrics_dataframe(self) -> Any:
        """Every result of the trial as a pandas DataFrame (read from the trial directory)."""
        if self._metrics_dataframe is _NOT_LOADED:
            self._metrics_dataframe = _result_io.history_dataframe(self.path, self.metrics)
        return self._metrics_dataframe

    @property
    def best_checkpoints(self) -> list[tuple[Any, dict]]:
        """``[(checkpoint, metrics), ...]`` of the checkpoints kept, oldest first.

        Given to the constructor (the checkpoint manager's kept list; plain paths become
        ``Checkpoint`` objects), else found in the trial directory on first use."""
        if self._best_checkpoints is _NOT_LOADED:
            self._best_checkpoints = _result_io.trial_checkpoints(
                self.path, self.checkpoint, self.metrics
            )
        return self._best_checkpoints

    def get_best_checkpoint(self, metric: str, mode: str) -> Any:
        """The kept checkpoint whose result has the best ``metric`` (``mode`` "min"/"max").

        :raises TuneValueError: for a bad mode, or when no kept checkpoint has the metric.
        """
        from tune.errors import check_mode, invalid_value

        if mode is None:
            raise invalid_value("mode", mode, "must be 'min' or 'max'")
        check_mode(mode)
        best = _result_io.best_checkpoint(self.best_checkpoints, metric, mode)
        if best is None:
            raise invalid_value(
                "metric",
                metric,
                f"none of the {len(self.best_checkpoints)} checkpoints of trial {self.path!r} "
                "has a result with this metric",
            )
        return best

    @classmethod
    def from_path(cls, path: str) -> Result:
        """Build a ``Result`` from a trial directory written by tune's loggers."""
        from tune.errors import TrialError, invalid_value

        if not _result_io.exists(path):
            raise invalid_value("path", path, "no such trial directory")
        rows = _result_io.read_rows(path) or []
        metrics = dict(rows[-1]) if rows else {}
        params = _result_io.read_text(_result_io.join(path, EXPR_PARAM_FILE))
        config = None
        if params is not None:
            try:
                config = json.loads(params)
            except ValueError:
                config = None
        error = None
        error_text = _result_io.read_text(_result_io.join(path, EXPR_ERROR_FILE))
        if error_text:
            lines = [ln for ln in error_text.strip().splitlines() if ln.strip()]
            error = TrialError(lines[-1] if lines else "trial errored", error_text)
        checkpoint = None
        dirs = _result_io.list_checkpoint_dirs(path)
        if dirs:
            from tune.trainable.checkpoint import Checkpoint

            checkpoint = Checkpoint(dirs[-1][1])
        return cls(metrics, checkpoint, error, path, config=config)

    def __repr__(self) -> str:
        shown: dict[str, Any] = {}
        if self.error is not None:
            shown["error"] = type(self.error).__name__
        shown["metrics"] = {
            k: v for k, v in self.metrics.items() if k not in AUTO_RESULT_KEYS
        }
        shown["path"] = self.path
        if self.filesystem is not None:
            shown["filesystem"] = self.filesystem
        shown["checkpoint"] = self.checkpoint
        body = ",\n".join(f"  {k}={v!r}" for k, v in shown.items())
        return f"{type(self).__name__}(\n{body}\n)"
