"""``ResultGrid``: the results of ``Tuner.fit()``, one ``Result`` per trial (Ray Tune API).

Built from the controller's trial records. The best-trial choice and the dataframe come from
``tune.analysis`` so ``ResultGrid`` and ``ExperimentAnalysis`` always agree.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, overload

from tune import _result_io
from tune.analysis import (
    ExperimentAnalysis,
    check_scope,
    find_best_trial,
    resolve_metric_mode,
)
from tune.errors import TrialError, check_mode, invalid_type, invalid_value
from tune.result import Result
from tune.trial import ERROR, TERMINATED, Trial


def _trial_error(trial: Trial) -> BaseException | None:
    """The exception an errored trial ended with (rebuilt from error.txt when not kept)."""
    if trial.status != ERROR:
        return None
    exc = getattr(trial, "exception", None)
    if isinstance(exc, BaseException):
        return exc
    traceback = ""
    if trial.error_file:
        traceback = _result_io.read_text(trial.error_file) or ""
    return TrialError(trial.error_msg or f"Trial {trial} errored", traceback)


def trial_to_result(trial: Trial) -> Result:
    """The ``Result`` of one trial record."""
    return Result(
        metrics=dict(trial.last_result),
        checkpoint=trial.checkpoint,
        error=_trial_error(trial),
        path=trial.path or "",
        config=trial.config,
        best_checkpoints=getattr(trial, "kept_checkpoints", None),
    )


class ResultGrid:
    """The results of an experiment: indexable and iterable ``Result`` objects, in trial order.

    :param trials: the experiment's trial records (an ``ExperimentAnalysis`` is accepted too).
    :param experiment_path: the experiment directory.
    :param metric: the experiment's metric, the default for :meth:`get_best_result`.
    :param mode: its mode, "min" or "max".
    """

    def __init__(
        self,
        trials: list[Trial] | ExperimentAnalysis,
        experiment_path: str | os.PathLike | None = None,
        metric: str | None = None,
        mode: str | None = None,
    ) -> None:
        if isinstance(trials, ExperimentAnalysis):
            analysis = trials
        else:
            if experiment_path is None:
                raise invalid_value(
                    "experiment_path", None, "must be the experiment directory"
                )
            analysis = ExperimentAnalysis(
                experiment_path, trials=list(trials), default_metric=metric, default_mode=mode
            )
        self._experiment_analysis = analysis
        self._results = [trial_to_result(t) for t in analysis.trials]

    # -- container ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._results)

    @overload
    def __getitem__(self, i: int) -> Result: ...

    @overload
    def __getitem__(self, i: slice) -> list[Result]: ...

    def __getitem__(self, i: int | slice) -> Result | list[Result]:
        return self._results[i]

    def __iter__(self) -> Iterator[Result]:
        return iter(self._results)

    # -- summary --------------------------------------------------------------------------
    @property
    def experiment_path(self) -> str:
        """The experiment directory."""
        return self._experiment_analysis.experiment_path

    @property
    def filesystem(self) -> Any:
        """``None``: paths are local paths or fsspec URLs."""
        return None

    @property
    def errors(self) -> list[BaseException]:
        """The exceptions of the trials that ended in ERROR."""
        return [r.error for r in self._results if r.error is not None]

    @property
    def num_errors(self) -> int:
        return sum(1 for t in self._experiment_analysis.trials if t.status == ERROR)

    @property
    def num_terminated(self) -> int:
        return sum(1 for t in self._experiment_analysis.trials if t.status == TERMINATED)

    # -- analysis -------------------------------------------------------------------------
    def get_best_result(
        self,
        metric: str | None = None,
        mode: str | None = None,
        scope: str = "last",
        filter_nan_and_inf: bool = True,
    ) -> Result:
        """The ``Result`` of the best trial.

        :param metric: the metric to compare (default: the experiment's metric).
        :param mode: "min" or "max" (default: the experiment's mode).
        :param scope: "last" (default), "avg", "last-5-avg", "last-10-avg" compare that summary
            of each trial's results; "all" compares each trial's best result (its max for
            mode "max", its min for "min").
        :param filter_nan_and_inf: skip NaN and infinite values.
        :raises TuneValueError: for bad arguments, when no metric or mode is known, or when no
            trial reported the metric.
        """
        check_mode(mode)
        check_scope(scope)
        analysis = self._experiment_analysis
        metric, mode = resolve_metric_mode(
            metric, mode, analysis.default_metric, analysis.default_mode, "get_best_result"
        )
        best = find_best_trial(analysis.trials, metric, mode, scope, filter_nan_and_inf)
        if best is None:
            reported = sorted({m for t in analysis.trials for m in t.metric_analysis})
            raise invalid_value(
                "metric",
                metric,
                "no trial reported this metric"
                + (
                    " with a finite value (NaN and infinite values are skipped; pass "
                    "filter_nan_and_inf=False to compare them)"
                    if filter_nan_and_inf
                    else ""
                )
                + f"; numeric metrics reported: {', '.join(reported) or 'none'}",
            )
        return self._results[analysis.trials.index(best)]

    def get_dataframe(
        self, filter_metric: str | None = None, filter_mode: str | None = None
    ) -> Any:
        """One row per trial that reported: its last result, flattened (``config/lr``
        columns), plus ``logdir``.

        :param filter_metric: with ``filter_mode``, each trial's row is its result with the
            best value of this metric (read from the trial's ``result.json``).
        :param filter_mode: "min" or "max".
        """
        if filter_metric is not None and not isinstance(filter_metric, str):
            raise invalid_type("filter_metric", filter_metric, "expected a result key (string)")
        return self._experiment_analysis._dataframe(
            filter_metric, filter_mode, "filter_metric", "filter_mode"
        )

    def __repr__(self) -> str:
        inner = ",\n".join(
            "  " + repr(r).replace("\n", "\n  ") for r in self._results
        )
        return f"ResultGrid<[\n{inner}\n]>"
