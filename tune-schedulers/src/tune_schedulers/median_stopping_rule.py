"""``MedianStoppingRule``: stop trials that do worse than the median of the others.

As in Golovin et al., "Google Vizier" and Ray Tune's implementation. After
``grace_period`` (in ``time_attr`` units), a trial is stopped when its best result so far is
worse than the median of the running averages (from ``grace_period`` up to the same time) of
the other trials that have reached that time. With fewer than ``min_samples_required`` such
trials nothing is decided; the trial may instead yield its place (PAUSE) to trials waiting to
run once it has run ``min_time_slice`` since its last pause. With ``hard_stop=False`` a trial
below the median is paused rather than stopped and is never judged again (it goes on
first-in first-out).
"""

from __future__ import annotations

import copy
from typing import Any

from tune.errors import check_mode, invalid_value
from tune.schedulers.trial_scheduler import FIFOScheduler
from tune.trial import PAUSED, PENDING, Trial
from tune_schedulers._util import check_int, check_number, check_time_attr, median, require_metric

__all__ = ["MedianStoppingRule"]


class MedianStoppingRule(FIFOScheduler):
    """Stop (or pause) trials whose best result is worse than the others' median.

    :param time_attr: the result field measuring progress (default ``time_total_s``).
    :param metric: the metric; defaults to ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"``; defaults to ``TuneConfig.mode``.
    :param grace_period: trials are judged only from this much ``time_attr`` on, and results
        before it are left out of the running averages.
    :param min_samples_required: how many other trials must have reached the same time.
    :param min_time_slice: a trial runs at least this long (``time_attr``) before yielding to
        waiting trials when there are too few samples to judge it.
    :param hard_stop: stop trials below the median; if False, pause them instead.
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        grace_period: float = 60.0,
        min_samples_required: int = 3,
        min_time_slice: float = 0,
        hard_stop: bool = True,
    ) -> None:
        check_time_attr(time_attr)
        check_mode(mode)
        check_number("grace_period", grace_period, minimum=0, strict=False)
        check_int("min_samples_required", min_samples_required, minimum=1)
        check_number("min_time_slice", min_time_slice, minimum=0, strict=False)
        if not isinstance(hard_stop, bool):
            raise invalid_value("hard_stop", hard_stop, "must be True or False")
        super().__init__()
        self._time_attr = time_attr
        self._metric = metric
        self._mode = mode
        self._grace_period = grace_period
        self._min_samples_required = min_samples_required
        self._min_time_slice = min_time_slice
        self._hard_stop = hard_stop
        self._stopped_trials: set[str] = set()
        self._last_pause: dict[str, float] = {}
        # trial_id -> [(time, metric)] of every result it reported
        self._results: dict[str, list[tuple[float, float]]] = {}
        # Trials seen, to know whether any waits to run (PENDING/PAUSED); not saved.
        self._trials: dict[str, Trial] = {}

    @property
    def stopped_trial_ids(self) -> set[str]:
        """Trials judged below the median (stopped, or paused when ``hard_stop=False``)."""
        return set(self._stopped_trials)

    def on_trial_add(self, trial: Trial, *_: Any) -> None:
        self._trials[trial.trial_id] = trial

    def on_trial_remove(self, trial: Trial, *_: Any) -> None:
        self._trials.pop(trial.trial_id, None)

    def on_trial_error(self, trial: Trial, *_: Any) -> None:
        self._trials.pop(trial.trial_id, None)

    def on_trial_result(self, trial: Trial, result: dict | None = None, *_: Any) -> str:
        require_metric(self)
        result = result or {}
        if self._time_attr not in result or self._metric not in result:
            return self.CONTINUE
        trial_id = trial.trial_id
        self._trials.setdefault(trial_id, trial)
        if trial_id in self._stopped_trials:
            # Only reachable with hard_stop=False: a paused trial resumed; judged once only.
            return self.CONTINUE
        time = float(result[self._time_attr])
        self._results.setdefault(trial_id, []).append((time, float(result[self._metric])))
        if time < self._grace_period:
            return self.CONTINUE
        others = [t for t in self._trials_beyond_time(time) if t != trial_id]
        if len(others) < self._min_samples_required:
            action = self._on_insufficient_samples(trial_id, time)
            if action == self.PAUSE:
                self._last_pause[trial_id] = time
            return action
        median_result = self._median_result(others, time)
        best_result = self._best_result(trial_id)
        worse = best_result < median_result if self._mode == "max" else best_result > median_result
        if worse:
            self._stopped_trials.add(trial_id)
            return self.STOP if self._hard_stop else self.PAUSE
        return self.CONTINUE

    def on_trial_complete(self, trial: Trial, result: dict | None = None, *_: Any) -> None:
        self._trials.pop(trial.trial_id, None)
        if result and self._time_attr in result and self._metric in result:
            entry = (float(result[self._time_attr]), float(result[self._metric]))
            history = self._results.setdefault(trial.trial_id, [])
            if not history or history[-1] != entry:
                history.append(entry)

    def _on_insufficient_samples(self, trial_id: str, time: float) -> str:
        last = self._last_pause.get(trial_id, float("-inf"))
        if time - last <= self._min_time_slice:
            return self.CONTINUE
        waiting = any(
            t.status in (PENDING, PAUSED) and tid != trial_id for tid, t in self._trials.items()
        )
        return self.PAUSE if waiting else self.CONTINUE

    def _trials_beyond_time(self, time: float) -> list[str]:
        return [tid for tid, res in self._results.items() if res and res[-1][0] >= time]

    def _running_mean(self, trial_id: str, time: float) -> float:
        scoped = [v for t, v in self._results[trial_id] if self._grace_period <= t <= time]
        return sum(scoped) / len(scoped) if scoped else float("nan")

    def _median_result(self, trial_ids: list[str], time: float) -> float:
        means = [self._running_mean(tid, time) for tid in trial_ids]
        means = [m for m in means if m == m]
        return median(means) if means else float("nan")

    def _best_result(self, trial_id: str) -> float:
        values = [v for _, v in self._results[trial_id]]
        return max(values) if self._mode == "max" else min(values)

    def debug_string(self) -> str:
        return f"Using MedianStoppingRule: num_stopped={len(self._stopped_trials)}."

    def get_state(self) -> dict:
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "_trials"})

    def set_state(self, state: dict) -> None:
        self.__dict__.update(copy.deepcopy({k: v for k, v in state.items() if k != "_trials"}))
