"""``ThresholdScheduler``: registered as scheduler "example_threshold".

Stops a trial once it has run ``grace_period`` iterations and its metric is still worse than
``threshold``. It shows the ``TrialScheduler`` contract: metric and mode from the experiment,
one decision per result and saved state; the rest (first-in first-out trial choice, no-op
notifications) is inherited from the base class.
"""

from __future__ import annotations

from tune.errors import TuneValueError, check_mode, invalid_value
from tune.schedulers.trial_scheduler import TrialScheduler
from tune.trial import Trial


class ThresholdScheduler(TrialScheduler):
    """Stop trials whose ``metric`` is worse than ``threshold`` after ``grace_period`` steps.

    :param threshold: the value a trial must reach (at most it for ``"min"``, at least it for
        ``"max"``) by the end of the grace period to keep running.
    :param metric: the metric; defaults to ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"``; defaults to ``TuneConfig.mode``.
    :param grace_period: how far (in ``time_attr`` units) a trial may run before it is judged.
    :param time_attr: the result field that measures progress.
    """

    def __init__(
        self,
        threshold: float,
        metric: str | None = None,
        mode: str | None = None,
        grace_period: int = 1,
        time_attr: str = "training_iteration",
    ) -> None:
        check_mode(mode)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise invalid_value("threshold", threshold, "must be a number")
        if isinstance(grace_period, bool) or not isinstance(grace_period, int) or grace_period < 0:
            raise invalid_value("grace_period", grace_period, "must be an integer >= 0")
        super().__init__()
        self._threshold = float(threshold)
        self._metric = metric
        self._mode = mode
        self._grace_period = grace_period
        self._time_attr = time_attr
        self._stopped: set[str] = set()
        self._num_results = 0

    @property
    def stopped_trial_ids(self) -> set[str]:
        """Ids of the trials this scheduler stopped."""
        return set(self._stopped)

    def on_trial_result(self, trial: Trial, result: dict) -> str:
        self._num_results += 1
        if self._metric is None or self._mode is None:
            raise TuneValueError(
                "ThresholdScheduler needs `metric` and `mode` (pass them to the scheduler or "
                "to TuneConfig)."
            )
        if result.get(self._time_attr, 0) < self._grace_period or self._metric not in result:
            return TrialScheduler.CONTINUE
        value = float(result[self._metric])
        worse = value > self._threshold if self._mode == "min" else value < self._threshold
        if worse:
            self._stopped.add(trial.trial_id)
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def debug_string(self) -> str:
        return (
            f"Using ThresholdScheduler: {len(self._stopped)} trials stopped "
            f"({self._metric} {'>' if self._mode == 'min' else '<'} {self._threshold} "
            f"after {self._time_attr} {self._grace_period})."
        )

    def get_state(self) -> dict:
        return {"stopped": sorted(self._stopped), "num_results": self._num_results}

    def set_state(self, state: dict) -> None:
        self._stopped = set(state["stopped"])
        self._num_results = state["num_results"]
