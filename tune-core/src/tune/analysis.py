"""``ExperimentAnalysis``: results of an experiment as ``tune.run`` returns them (Ray Tune API).

It also holds the logic ``ResultGrid`` builds on: choosing the best trial for a metric, mode
and scope (:func:`find_best_trial`) and the one-row-per-trial dataframe.
An analysis is built from the controller's trial records, or loaded from an experiment
directory's ``experiment_state.json``.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from tune import _result_io
from tune.errors import TuneValueError, check_mode, invalid_type, invalid_value
from tune.experiment_state import STATE_FILE
from tune.result import TRAINING_ITERATION
from tune.trial import Trial, trial_from_state

logger = logging.getLogger(__name__)

#: scopes accepted by ``get_best_trial`` / ``get_best_result``
SCOPES = ("last", "avg", "last-5-avg", "last-10-avg", "all")


def check_scope(scope: Any) -> None:
    if scope not in SCOPES:
        raise invalid_value(
            "scope",
            scope,
            "must be one of " + ", ".join(map(repr, SCOPES))
            + " ('all' compares each trial's best value over all its results)",
        )


def _trial_score(trial: Trial, metric: str, mode: str, scope: str) -> Any:
    analysis = trial.metric_analysis.get(metric)
    if analysis is None:
        if scope == "last":
            # Nested metrics ("info/loss") have no running summary; their last value is known.
            value = _result_io.lookup(trial.last_result, metric, _result_io.result_delim())
            return value if _result_io.is_number(value) else None
        return None
    return analysis[mode] if scope == "all" else analysis.get(scope)


def find_best_trial(
    trials: list[Trial],
    metric: str,
    mode: str,
    scope: str = "last",
    filter_nan_and_inf: bool = True,
) -> Trial | None:
    """The trial with the best ``metric`` under ``scope``, or ``None`` if none reported it.

    ``scope`` "last", "avg", "last-5-avg", "last-10-avg" compare that summary of each trial's
    results; "all" compares each trial's best result (its max for mode "max", its min for
    "min"). NaN and infinite scores are skipped unless ``filter_nan_and_inf`` is False. Ties
    go to the earlier trial. Arguments are assumed valid (see :func:`resolve_metric_mode`).
    """
    best, best_score = None, None
    for trial in trials:
        score = _trial_score(trial, metric, mode, scope)
        if score is None:
            continue
        if filter_nan_and_inf and _result_io.is_nan_or_inf(score):
            continue
        if best is None or (score > best_score if mode == "max" else score < best_score):
            best, best_score = trial, score
    return best


def resolve_metric_mode(
    metric: str | None,
    mode: str | None,
    default_metric: str | None,
    default_mode: str | None,
    where: str,
) -> tuple[str, str]:
    """The metric and mode to use: the arguments, else the experiment's defaults.

    :param where: the call, for messages (``"get_best_result"``).
    :raises TuneValueError: naming ``metric``/``mode`` when neither is known or mode is bad.
    """
    check_mode(mode)
    if metric is not None and not isinstance(metric, str):
        raise invalid_type("metric", metric, "expected a result key (string)")
    metric = metric or default_metric
    mode = mode or default_mode
    if not metric:
        raise invalid_value(
            "metric",
            None,
            f"no metric known: pass {where}(metric=...) or set the experiment's metric "
            "(TuneConfig(metric=...) or tune.run(metric=...))",
        )
    if not mode:
        raise invalid_value(
            "mode",
            None,
            f"no mode known: pass {where}(mode='min' or 'max') or set the experiment's mode "
            "(TuneConfig(mode=...) or tune.run(mode=...))",
        )
    return metric, mode


def _load_trials(path: str) -> tuple[list[Trial], dict]:
    """Trials and settings from ``experiment_state.json`` (``path`` is the file or its dir)."""
    state_file = os.path.join(path, STATE_FILE) if os.path.isdir(path) else path
    if os.path.isfile(state_file):
        # Local experiments: the snapshot plus the journal written since (a run that was
        # killed has its newest trial endings only there).
        from tune.journal import load_experiment

        state = load_experiment(os.path.dirname(state_file))
        return _trials_from_state(state, os.path.dirname(state_file)), state
    text = _result_io.read_text(state_file)
    if text is None:
        raise invalid_value(
            "experiment_checkpoint_path",
            path,
            f"no {STATE_FILE} there; pass an experiment directory written by tune "
            f"(<storage_path>/<name>) or the path of its {STATE_FILE}",
        )
    try:
        state = json.loads(text)
    except ValueError as exc:
        raise TuneValueError(
            f"The experiment state file {state_file!r} cannot be read ({exc})."
        ) from exc
    return _trials_from_state(state, os.path.dirname(state_file)), state


def _trials_from_state(state: dict, experiment_dir: str) -> list[Trial]:
    trials = []
    for trial_state in state.get("trials", []):
        trial_state.pop("_end_seq", None)
        trial = trial_from_state(trial_state)
        trial.experiment_path = experiment_dir
        _rebase(trial, experiment_dir)
        trials.append(trial)
    return trials


def _rebase(trial: Trial, experiment_dir: str) -> None:
    """Point a trial at ``experiment_dir`` when the experiment was moved or copied."""
    path = trial.path
    if not path or _result_io._is_url(path) or os.path.exists(path):
        return
    moved = os.path.join(experiment_dir, os.path.basename(os.path.normpath(path)))
    if os.path.exists(moved):
        trial.path = moved
        checkpoint_path = getattr(trial.checkpoint, "path", None)
        if checkpoint_path and not os.path.exists(checkpoint_path):
            candidate = os.path.join(moved, os.path.basename(os.path.normpath(checkpoint_path)))
            if os.path.exists(candidate):
                from tune.trainable.checkpoint import Checkpoint

                trial.checkpoint = Checkpoint(candidate)


class ExperimentAnalysis:
    """Analyze the results of an experiment (Ray Tune's ``tune.ExperimentAnalysis``).

    :param experiment_checkpoint_path: the experiment directory, or its
        ``experiment_state.json``.
    :param trials: the trial records; loaded from ``experiment_state.json`` when ``None``.
    :param default_metric: metric used when a method gets none (and by the ``best_*``
        properties).
    :param default_mode: "min" or "max", likewise.
    """

    def __init__(
        self,
        experiment_checkpoint_path: str | os.PathLike,
        *,
        trials: list[Trial] | None = None,
        default_metric: str | None = None,
        default_mode: str | None = None,
    ) -> None:
        path = os.fspath(experiment_checkpoint_path)
        check_mode(default_mode, "default_mode")
        if default_metric is not None and not isinstance(default_metric, str):
            raise invalid_type("default_metric", default_metric, "expected a result key (string)")
        if trials is None and "://" in path:
            # An experiment at a URL: read it from a local copy, report the URL's paths.
            from tune.storage import StorageContext, point_trials_at

            storage = StorageContext.for_restore(path)
            trials, state = _load_trials(storage.local_experiment_dir)
            point_trials_at(trials, storage)
            default_metric = default_metric or _single(state.get("metric"))
            default_mode = default_mode or _single(state.get("mode"))
            path = storage.experiment_path
        elif trials is None:
            trials, state = _load_trials(path)
            default_metric = default_metric or _single(state.get("metric"))
            default_mode = default_mode or _single(state.get("mode"))
            if not os.path.isdir(path):  # the state file itself was given
                path = os.path.dirname(path)
        self.trials: list[Trial] = list(trials)
        self._experiment_path = path
        self.default_metric = default_metric
        self.default_mode = default_mode
        self._trial_dataframes: dict[str, Any] | None = None

    # -- basics ---------------------------------------------------------------------------
    @property
    def experiment_path(self) -> str:
        """The experiment directory."""
        return self._experiment_path

    @property
    def results(self) -> dict[str, dict]:
        """``{trial_id: last result}`` of every trial."""
        return {t.trial_id: t.last_result for t in self.trials}

    @property
    def results_df(self) -> Any:
        """The last result of each trial that reported, flattened, indexed by trial id."""
        pd = _result_io.pandas()
        delim = _result_io.result_delim()
        records = []
        for t in self.trials:
            if t.last_result:
                row = _result_io.flatten_dict(t.last_result, delim)
                row.setdefault("trial_id", t.trial_id)
                records.append(row)
        if not records:
            return pd.DataFrame()
        return pd.DataFrame.from_records(records, index="trial_id")

    @property
    def trial_dataframes(self) -> dict[str, Any]:
        """``{trial_id: DataFrame of all its results}`` (read once from the trial dirs)."""
        if self._trial_dataframes is None:
            self._trial_dataframes = {
                t.trial_id: _result_io.history_dataframe(t.path, t.last_result)
                for t in self.trials
            }
        return self._trial_dataframes

    def fetch_trial_dataframes(self) -> dict[str, Any]:
        """Read the trials' histories again (e.g. while the experiment still runs)."""
        self._trial_dataframes = None
        return self.trial_dataframes

    def get_all_configs(self, prefix: bool = False) -> dict[str, dict]:
        """``{trial_id: config}``; with ``prefix`` flattened as ``{"config/lr": ...}``."""
        if not prefix:
            return {t.trial_id: t.config for t in self.trials}
        delim = _result_io.result_delim()
        return {
            t.trial_id: _result_io.flatten_dict({"config": t.config}, delim) for t in self.trials
        }

    def dataframe(self, metric: str | None = None, mode: str | None = None) -> Any:
        """One row per trial that reported: its last result, flattened, plus ``config/...``
        columns and ``logdir``.

        With ``metric`` and ``mode`` each trial's row is instead its result with the best
        value of ``metric`` (read from the trial's history). The defaults are not used here:
        ``dataframe()`` always means last results.
        """
        return self._dataframe(metric, mode, "metric", "mode")

    def _dataframe(self, metric: Any, mode: Any, metric_arg: str, mode_arg: str) -> Any:
        check_mode(mode, mode_arg)
        if mode and not metric:
            raise invalid_value(
                mode_arg, mode, f"needs {metric_arg} as well: pass {metric_arg}=... with it"
            )
        if metric is not None and not isinstance(metric, str):
            raise invalid_type(metric_arg, metric, "expected a result key (string)")
        pd = _result_io.pandas()
        delim = _result_io.result_delim()
        rows = []
        for trial in self.trials:
            if not trial.last_result:
                continue
            row: Any = trial.last_result
            if metric and mode:
                history = _result_io.read_rows(trial.path) or [trial.last_result]
                row = _result_io.best_row(history, metric, mode, delim) or trial.last_result
            flat = _result_io.flatten_dict(row, delim)
            flat.update(_result_io.flatten_dict({"config": trial.config}, delim))
            flat["logdir"] = trial.path
            rows.append(flat)
        return pd.DataFrame(rows)

    # -- best trial -----------------------------------------------------------------------
    def get_best_trial(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> Trial | None:
        """The best trial for ``metric`` and ``mode`` under ``scope``; ``None`` (with a warning)
        if no trial reported the metric.

        :param scope: "last" (default), "avg", "last-5-avg", "last-10-avg" compare that summary
            of each trial's results; "all" compares each trial's best result.
        :param filter_nan_and_inf: skip NaN and infinite scores.
        """
        metric, mode = resolve_metric_mode(
            metric, mode, self.default_metric, self.default_mode, "get_best_trial"
        )
        check_scope(scope)
        best = find_best_trial(self.trials, metric, mode, scope, filter_nan_and_inf)
        if best is None:
            logger.warning(
                "Could not find a best trial for metric=%r: no trial reported it%s.",
                metric,
                " (NaN and infinite values are skipped)" if filter_nan_and_inf else "",
            )
        return best

    def get_best_config(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> dict | None:
        """The config of :meth:`get_best_trial`, or ``None``."""
        best = self.get_best_trial(metric, mode, scope, filter_nan_and_inf)
        return best.config if best is not None else None

    def get_best_logdir(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> str | None:
        """The directory of :meth:`get_best_trial`, or ``None``."""
        best = self.get_best_trial(metric, mode, scope, filter_nan_and_inf)
        return best.path if best is not None else None

    def get_trial_checkpoints_paths(
        self, trial: Trial, metric: str = TRAINING_ITERATION
    ) -> list[tuple[str, Any]]:
        """``[(checkpoint path, value of metric), ...]`` for the trial's kept checkpoints."""
        delim = _result_io.result_delim()
        return [
            (getattr(cp, "path", cp), _result_io.lookup(metrics, metric, delim))
            for cp, metrics in _result_io.trial_checkpoints_of(trial)
        ]

    def get_best_checkpoint(
        self,
        trial: Trial,
        metric: str | None = None,
        mode: str | None = None,
        return_path: bool = False,
    ) -> Any:
        """The trial's kept checkpoint with the best ``metric`` (default: the experiment's
        metric, else ``training_iteration``); ``None`` if it has none with that metric."""
        if not isinstance(trial, Trial):
            raise invalid_type("trial", trial, "expected a tune.trial.Trial (see .trials)")
        metric = metric or self.default_metric or TRAINING_ITERATION
        if mode is None and self.default_mode is None and metric == TRAINING_ITERATION:
            mode = "max"
        metric, mode = resolve_metric_mode(
            metric, mode, None, self.default_mode, "get_best_checkpoint"
        )
        checkpoints = _result_io.trial_checkpoints_of(trial)
        best = _result_io.best_checkpoint(checkpoints, metric, mode)
        if best is None:
            logger.warning("No checkpoints with metric %r found for trial %s.", metric, trial)
            return None
        return getattr(best, "path", best) if return_path else best

    def get_last_checkpoint(
        self,
        trial: Trial | None = None,
        metric: str = TRAINING_ITERATION,
        mode: str = "max",
    ) -> Any:
        """The trial's checkpoint with the highest ``training_iteration`` (by default).

        Without ``trial``, uses the best trial by the experiment's default metric and mode.
        """
        trial = trial or self.get_best_trial()
        if trial is None:
            return None
        return self.get_best_checkpoint(trial, metric, mode)

    # -- best_* properties (need default metric and mode) ----------------------------------
    def _require_defaults(self, name: str) -> None:
        if not self.default_metric or not self.default_mode:
            raise TuneValueError(
                f"To use ExperimentAnalysis.{name}, the experiment needs a default metric and "
                f"mode (got metric={self.default_metric!r}, mode={self.default_mode!r}): pass "
                "metric and mode to tune.run() / TuneConfig, or call get_best_trial(metric, "
                "mode) and friends with them."
            )

    @property
    def best_trial(self) -> Trial | None:
        self._require_defaults("best_trial")
        return self.get_best_trial(self.default_metric, self.default_mode)

    @property
    def best_config(self) -> dict | None:
        self._require_defaults("best_config")
        return self.get_best_config(self.default_metric, self.default_mode)

    @property
    def best_logdir(self) -> str | None:
        self._require_defaults("best_logdir")
        return self.get_best_logdir(self.default_metric, self.default_mode)

    @property
    def best_checkpoint(self) -> Any:
        self._require_defaults("best_checkpoint")
        best = self.best_trial
        if best is None:
            return None
        return self.get_best_checkpoint(best, self.default_metric, self.default_mode)

    @property
    def best_dataframe(self) -> Any:
        self._require_defaults("best_dataframe")
        best = self.best_trial
        if best is None:
            return None
        return self.trial_dataframes[best.trial_id]

    @property
    def best_result(self) -> dict | None:
        self._require_defaults("best_result")
        best = self.best_trial
        return best.last_result if best is not None else None

    @property
    def best_result_df(self) -> Any:
        self._require_defaults("best_result_df")
        pd = _result_io.pandas()
        best = self.best_trial
        if best is None:
            return pd.DataFrame()
        row = _result_io.flatten_dict(best.last_result, _result_io.result_delim())
        row.setdefault("trial_id", best.trial_id)
        return pd.DataFrame.from_records([row], index="trial_id")

    def __repr__(self) -> str:
        return (
            f"ExperimentAnalysis(experiment_path={self.experiment_path!r}, "
            f"trials={len(self.trials)}, default_metric={self.default_metric!r}, "
            f"default_mode={self.default_mode!r})"
        )


def _single(value: Any) -> Any:
    """The experiment state may hold a list of metrics; the first is the default one."""
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value
