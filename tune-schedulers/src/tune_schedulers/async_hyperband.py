"""``AsyncHyperBandScheduler`` (``ASHAScheduler``): asynchronous successive halving.

As in Li et al., "A System for Massively Parallel Hyperparameter Tuning" (ASHA) and Ray
Tune's implementation. Each bracket ``s`` has rungs at ``grace_period * reduction_factor**(k + s)``
up to ``max_t``. When a trial first reaches a rung, its metric is compared with the results
other trials recorded at that rung: it continues only if it is not below the
``(1 - 1/reduction_factor)`` quantile of them (the top ``1/reduction_factor``), else it is
stopped; its result is then recorded at the rung. Trials reaching ``max_t`` stop when
``stop_last_trials``. No trial ever waits for another, so nothing is paused.
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

from tune.errors import check_mode, invalid_value
from tune.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler
from tune.trial import Trial
from tune_schedulers._util import (
    check_int,
    check_number,
    check_time_attr,
    percentile,
    require_metric,
)

__all__ = ["ASHAScheduler", "AsyncHyperBandScheduler"]


class _Bracket:
    """One bracket: rungs (milestone, {trial_id: signed metric}) from the highest down."""

    def __init__(
        self, min_t: float, max_t: float, reduction_factor: float, s: int, stop_last_trials: bool
    ) -> None:
        self.rf = reduction_factor
        # Ray: int(log(max_t / min_t) / log(rf) - s + 1) rungs; rounded so that exact powers
        # (max_t=81, rf=3) are not lost to floating point.
        num_rungs = int(round(math.log(max_t / min_t) / math.log(reduction_factor), 9) - s + 1)
        self.rungs: list[tuple[float, dict[str, float]]] = [
            (min_t * reduction_factor ** (k + s), {}) for k in reversed(range(max(num_rungs, 0)))
        ]
        self.stop_last_trials = stop_last_trials

    def cutoff(self, recorded: dict[str, float]) -> float | None:
        values = [v for v in recorded.values() if v == v]
        if not values:
            return None
        return percentile(values, (1 - 1 / self.rf) * 100)

    def on_result(self, trial_id: str, cur_iter: float, cur_rew: float | None) -> str:
        action = TrialScheduler.CONTINUE
        for milestone, recorded in self.rungs:
            if cur_iter >= milestone and trial_id in recorded and not self.stop_last_trials:
                # Already judged at the highest rung it reached: the decision stands.
                break
            if cur_iter < milestone or trial_id in recorded:
                continue
            cutoff = self.cutoff(recorded)
            if cutoff is not None and cur_rew is not None and cur_rew < cutoff:
                action = TrialScheduler.STOP
            if cur_rew is not None:
                recorded[trial_id] = cur_rew
            break
        return action

    def milestones(self) -> list[float]:
        return [m for m, _ in reversed(self.rungs)]

    def debug_str(self) -> str:
        return " | ".join(f"Iter {m:.3f}: {self.cutoff(r)}" for m, r in self.rungs)


class AsyncHyperBandScheduler(FIFOScheduler):
    """Asynchronous HyperBand / successive halving (ASHA), with Ray Tune's arguments.

    :param time_attr: the result field measuring training progress (monotonically increasing).
    :param metric: the metric to optimize; defaults to ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"``; defaults to ``TuneConfig.mode``.
    :param max_t: trials run at most this many ``time_attr`` units.
    :param grace_period: trials are not stopped before this much ``time_attr``; the first rung.
    :param reduction_factor: the factor between rungs; the top ``1/reduction_factor`` go on.
    :param brackets: number of brackets, each with its own grace period
        (``grace_period * reduction_factor**s``); trials join brackets at random, weighted
        towards brackets with more rungs.
    :param stop_last_trials: stop trials once they reach ``max_t``.
    """

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 100,
        grace_period: float = 1,
        reduction_factor: float = 4,
        brackets: int = 1,
        stop_last_trials: bool = True,
    ) -> None:
        check_time_attr(time_attr)
        check_mode(mode)
        check_number("max_t", max_t, minimum=0, strict=True)
        check_number("grace_period", grace_period, minimum=0, strict=True)
        check_number("reduction_factor", reduction_factor, minimum=1, strict=True)
        check_int("brackets", brackets, minimum=1)
        if grace_period > max_t:
            raise invalid_value("grace_period", grace_period, f"must be <= max_t ({max_t})")
        if not isinstance(stop_last_trials, bool):
            raise invalid_value("stop_last_trials", stop_last_trials, "must be True or False")
        super().__init__()
        self._time_attr = time_attr
        self._metric = metric
        self._mode = mode
        self._max_t = max_t
        self._grace_period = grace_period
        self._reduction_factor = reduction_factor
        self._stop_last_trials = stop_last_trials
        self._brackets = [
            _Bracket(grace_period, max_t, reduction_factor, s, stop_last_trials)
            for s in range(brackets)
        ]
        self._trial_info: dict[str, int] = {}  # trial_id -> bracket index
        self._num_stopped = 0
        self._counter = 0
        self._rng = random.Random()

    # -- properties used by tests and the status table ----------------------------------------
    @property
    def rung_milestones(self) -> list[list[float]]:
        """Per bracket, its rung milestones in increasing order."""
        return [b.milestones() for b in self._brackets]

    def recorded(self, bracket: int = 0) -> dict[float, dict[str, float]]:
        """Per milestone of ``bracket``, the (mode-signed: higher is better) recorded results."""
        return {m: dict(r) for m, r in self._brackets[bracket].rungs}

    @property
    def num_stopped(self) -> int:
        return self._num_stopped

    # -- scheduler methods ---------------------------------------------------------------------
    def _metric_op(self) -> float:
        return 1.0 if self._mode == "max" else -1.0

    def _bracket_of(self, trial_id: str) -> _Bracket:
        index = self._trial_info.get(trial_id)
        if index is None:  # a trial added before a restore that lost it: place it now
            index = self._assign(trial_id)
        return self._brackets[index]

    def _assign(self, trial_id: str) -> int:
        if len(self._brackets) == 1:
            index = 0
        else:
            sizes = [len(b.rungs) for b in self._brackets]
            top = max(sizes)
            weights = [math.e ** (size - top) for size in sizes]
            index = self._rng.choices(range(len(self._brackets)), weights=weights)[0]
        self._trial_info[trial_id] = index
        return index

    def on_trial_add(self, trial: Trial, *_: Any) -> None:
        require_metric(self)
        self._assign(trial.trial_id)

    def on_trial_result(self, trial: Trial, result: dict | None = None, *_: Any) -> str:
        require_metric(self)
        result = result or {}
        if self._time_attr not in result or self._metric not in result:
            return self.CONTINUE
        self._counter += 1
        if result[self._time_attr] >= self._max_t and self._stop_last_trials:
            action = self.STOP
        else:
            value = result[self._metric]
            signed = None if value is None else self._metric_op() * float(value)
            bracket = self._bracket_of(trial.trial_id)
            action = bracket.on_result(trial.trial_id, result[self._time_attr], signed)
        if action == self.STOP:
            self._num_stopped += 1
        return action

    def on_trial_complete(self, trial: Trial, result: dict | None = None, *_: Any) -> None:
        require_metric(self)
        if result and self._time_attr in result and self._metric in result:
            value = result[self._metric]
            if value is not None:
                self._bracket_of(trial.trial_id).on_result(
                    trial.trial_id, result[self._time_attr], self._metric_op() * float(value)
                )
        self._trial_info.pop(trial.trial_id, None)

    def on_trial_remove(self, trial: Trial, *_: Any) -> None:
        self._trial_info.pop(trial.trial_id, None)

    def debug_string(self) -> str:
        out = f"Using AsyncHyperBand: num_stopped={self._num_stopped}"
        return out + "".join(f"\n  Bracket: {b.debug_str()}" for b in self._brackets)

    # -- state ---------------------------------------------------------------------------------
    def get_state(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k != "_rng"}
        state = copy.deepcopy(state)
        state["_rng_state"] = self._rng.getstate()
        return state

    def set_state(self, state: dict) -> None:
        state = copy.deepcopy(dict(state))
        rng_state = state.pop("_rng_state", None)
        self.__dict__.update(state)
        if rng_state is not None:
            self._rng.setstate(rng_state)


#: Ray Tune's short name for the same scheduler.
ASHAScheduler = AsyncHyperBandScheduler
