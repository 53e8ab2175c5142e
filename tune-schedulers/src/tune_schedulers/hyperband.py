"""``HyperBandScheduler``: synchronous HyperBand (Li et al., JMLR 2018) as in Ray Tune.

With ``R = max_t`` and ``eta = reduction_factor``, a band holds ``s_max + 1`` brackets
(``s_max = round(log_eta(R))``). Bracket ``s`` takes ``n = ceil((s_max + 1) / (s + 1) * eta**s)``
trials that first run ``r = R * eta**-s`` units of ``time_attr``; for ``R=81, eta=3`` that is
the paper's table ``(n, r) = (81, 1), (34, 3), (15, 9), (8, 27), (5, 81)``. Trials join brackets
smaller bracket first (``s = 0, 1, ...``), as Ray Tune places them.

Within a bracket, a trial reaching the bracket's current milestone is PAUSED (it saves a
checkpoint) until every live trial of the bracket has reached it. Then successive halving
keeps the best ``floor(len/eta)`` (at least one) trials, which are resumed from their
checkpoints with the next milestone ``r * eta`` (at most ``max_t``); the rest stop. Trials
reaching ``max_t`` in a bracket's last round stop there when ``stop_last_trials``.

Tune's schedulers never see the controller, so a trial that loses a halving round while it is
paused is handed to the controller through ``trials_to_stop``, which ends it where it paused:
at the rung's milestone, never one ``time_attr`` step past it (a caller that never asks
``trials_to_stop`` gets the loser from ``choose_trial_to_run`` once nothing else may run, and
it stops at its first result).

If nothing runs and no waiting trial may run (a bracket waits for trials the searcher has not
created yet, e.g. with an adaptive searcher that creates one trial at a time), the bracket is
processed with the trials it has, so the experiment never stalls (Ray's HyperBandForBOHB does
the same). The controller asks ``trials_to_stop`` before ``choose_trial_to_run``, so this
forced halving happens there and its losers end at once, like any other round's.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from tune.errors import check_mode, invalid_value
from tune.schedulers.trial_scheduler import FIFOScheduler
from tune.trial import PAUSED, PENDING, RUNNING, Trial
from tune_schedulers._util import (
    check_number,
    check_time_attr,
    check_trainable_checkpoints,
    require_metric,
)

__all__ = ["HyperBandScheduler", "bracket_table"]

_EPS = 1e-9


def _s_max_1(max_t: float, eta: float) -> int:
    return int(round(math.log(max_t) / math.log(eta))) + 1


def _n0(s: int, s_max_1: int, eta: float) -> int:
    return int(math.ceil(s_max_1 / (s + 1) * eta**s - _EPS))


def _r0(s: int, max_t: float, eta: float) -> int:
    return int(max_t * eta ** (-s) + _EPS)


def bracket_table(max_t: float, reduction_factor: float) -> list[tuple[int, int]]:
    """``(n, r)`` of each bracket ``s = s_max ... 0``: trials and their first milestone."""
    s_max_1 = _s_max_1(max_t, reduction_factor)
    return [
        (_n0(s, s_max_1, reduction_factor), _r0(s, max_t, reduction_factor))
        for s in reversed(range(s_max_1))
    ]


class _Bracket:
    """One bracket: its live trials' latest (time, metric) and the current milestone."""

    def __init__(
        self, max_trials: int, init_t: int, max_t: float, eta: float, s: int, stop_last: bool
    ) -> None:
        self.s = s
        self.n0 = max_trials
        self.r0 = init_t
        self.max_t = max_t
        self.eta = eta
        self.n = max_trials
        self.r = init_t
        self.cumul_r: float = init_t
        self.halves = s
        self.stop_last_trials = stop_last
        self.live: dict[str, tuple[float, float] | None] = {}  # trial_id -> (time, signed metric)
        self.all_trials: list[str] = []
        self.trials_to_unpause: set[str] = set()
        self.trials_to_stop: set[str] = set()
        self.total_work = self._total_work(max_trials, init_t, s)
        self.completed_progress = 0.0

    def _total_work(self, n: float, r: float, s: int) -> float:
        work = 0.0
        cumulative = r
        for _ in range(s + 1):
            work += int(n) * int(r)
            n = math.ceil(n / self.eta - _EPS)
            r = int(min(r * self.eta, self.max_t - cumulative))
            cumulative += r
        return work

    def add_trial(self, trial_id: str) -> None:
        self.live[trial_id] = None
        self.all_trials.append(trial_id)

    def filled(self) -> bool:
        """No new trials once the bracket has its ``n`` trials or started halving."""
        return self.halves < self.s or len(self.all_trials) >= self.n0

    @staticmethod
    def _time(entry: tuple[float, float] | None) -> float:
        return 0.0 if entry is None else entry[0]

    def update(self, trial_id: str, time: float, signed: float) -> None:
        delta = time - self._time(self.live.get(trial_id))
        self.completed_progress += max(delta, 0.0)
        self.live[trial_id] = (time, signed)
        self.trials_to_unpause.discard(trial_id)

    def cur_iter_done(self) -> bool:
        return all(self._time(e) >= self.cumul_r for e in self.live.values())

    def continue_trial(self, trial_id: str) -> bool:
        if not self.stop_last_trials and self.halves == 0:
            return True
        return self._time(self.live[trial_id]) < self.cumul_r

    def last_round(self) -> bool:
        return self.halves == 0

    def remove(self, trial_id: str) -> None:
        self.live.pop(trial_id, None)
        self.trials_to_unpause.discard(trial_id)

    def successive_halving(self) -> tuple[list[str], list[str]]:
        """Advance the milestone; return (kept, dropped) live trials, best first."""
        self.halves -= 1
        keep = max(1, int(len(self.live) / self.eta + _EPS))
        self.n = keep
        self.r = int(min(self.r * self.eta, self.max_t))
        self.cumul_r = self.r
        ranked = sorted(
            self.live,
            key=lambda t: -math.inf if self.live[t] is None else _key(self.live[t][1]),
            reverse=True,
        )
        return ranked[:keep], ranked[keep:]

    def completion_percentage(self) -> float:
        return self.completed_progress / self.total_work if self.total_work else 0.0


def _key(value: float) -> float:
    return -math.inf if value != value else value


class HyperBandScheduler(FIFOScheduler):
    """Synchronous HyperBand with Ray Tune's arguments.

    :param time_attr: the result field measuring progress (monotonically increasing).
    :param metric: the metric; defaults to ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"``; defaults to ``TuneConfig.mode``.
    :param max_t: the most ``time_attr`` a trial may run (HyperBand's ``R``); trials are
        stopped there.
    :param reduction_factor: HyperBand's ``eta``; each round keeps ``1/eta`` of the trials
        and gives them ``eta`` times the budget.
    :param stop_last_trials: stop trials reaching ``max_t``; if False they continue past it.
    """

    _largest_bracket_first = False
    _wait_until_filled = False

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 81,
        reduction_factor: float = 3,
        stop_last_trials: bool = True,
    ) -> None:
        check_time_attr(time_attr)
        check_mode(mode)
        check_number("max_t", max_t, minimum=0, strict=True)
        check_number("reduction_factor", reduction_factor, minimum=1, strict=True)
        if not isinstance(stop_last_trials, bool):
            raise invalid_value("stop_last_trials", stop_last_trials, "must be True or False")
        super().__init__()
        self._time_attr = time_attr
        self._metric = metric
        self._mode = mode
        self._eta = reduction_factor
        self._max_t_attr = max_t
        self._stop_last_trials = stop_last_trials
        self._s_max_1 = _s_max_1(max_t, reduction_factor)
        self._hyperbands: list[list[_Bracket | None]] = [[]]
        self._trial_info: dict[str, tuple[_Bracket, int]] = {}
        self._state: dict[str, Any] = {"bracket": None, "band_idx": 0}
        self._num_stopped = 0
        self._trials: dict[str, Trial] = {}  # live references, not saved

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        # Paused trials resume from their checkpoints: a class that cannot save is refused.
        check_trainable_checkpoints(self, spec)
        return super().set_search_properties(metric, mode, **spec)

    # -- introspection ---------------------------------------------------------------------------
    @property
    def bracket_table(self) -> list[tuple[int, int]]:
        """``(n, r)`` per bracket, ``s = s_max`` first (the paper's order)."""
        return bracket_table(self._max_t_attr, self._eta)

    def bracket_of(self, trial_id: str) -> tuple[int, int]:
        """``(s, band index)`` of a trial's bracket."""
        bracket, band = self._trial_info[trial_id]
        return bracket.s, band

    @property
    def num_stopped(self) -> int:
        return self._num_stopped

    # -- placement ---------------------------------------------------------------------------
    def _cur_band_filled(self) -> bool:
        return len(self._hyperbands[self._state["band_idx"]]) == self._s_max_1

    def on_trial_add(self, trial: Trial, *_: Any) -> None:
        require_metric(self)
        self._trials[trial.trial_id] = trial
        if trial.trial_id in self._trial_info:
            return
        cur_bracket = self._state["bracket"]
        if cur_bracket is None or cur_bracket.filled():
            while True:
                if self._cur_band_filled():
                    self._hyperbands.append([])
                    self._state["band_idx"] += 1
                cur_band = self._hyperbands[self._state["band_idx"]]
                if self._largest_bracket_first:
                    s = self._s_max_1 - len(cur_band) - 1
                else:
                    s = len(cur_band)
                r0 = _r0(s, self._max_t_attr, self._eta)
                if r0 == 0:  # bracket too small to run anything: skip it
                    cur_band.append(None)
                    continue
                cur_bracket = _Bracket(
                    _n0(s, self._s_max_1, self._eta),
                    r0,
                    self._max_t_attr,
                    self._eta,
                    s,
                    self._stop_last_trials,
                )
                cur_band.append(cur_bracket)
                self._state["bracket"] = cur_bracket
                break
        cur_bracket.add_trial(trial.trial_id)
        self._trial_info[trial.trial_id] = (cur_bracket, self._state["band_idx"])

    # -- decisions ---------------------------------------------------------------------------
    def _signed(self, value: Any) -> float:
        if value is None:
            return math.nan
        return float(value) if self._mode == "max" else -float(value)

    def on_trial_result(self, trial: Trial, result: dict | None = None, *_: Any) -> str:
        require_metric(self)
        result = result or {}
        trial_id = trial.trial_id
        self._trials[trial_id] = trial
        if trial_id not in self._trial_info:
            self.on_trial_add(trial)
        bracket, _ = self._trial_info[trial_id]
        if trial_id in bracket.trials_to_stop:
            # Lost a halving round while paused (a controller that does not ask
            # trials_to_stop resumed it): stopped at its first result.
            bracket.trials_to_stop.discard(trial_id)
            return self.STOP
        if self._time_attr not in result or self._metric not in result:
            return self.CONTINUE
        time = float(result[self._time_attr])
        bracket.update(trial_id, time, self._signed(result[self._metric]))
        if bracket.continue_trial(trial_id):
            return self.CONTINUE
        if bracket.last_round() and self._stop_last_trials:
            # Reached max_t in the bracket's last round: done, nothing left to decide.
            bracket.remove(trial_id)
            return self.STOP
        if self._wait_until_filled and not self._others_paused(bracket, trial_id):
            return self.PAUSE
        return self._process_bracket(bracket, trial_id)

    def _others_paused(self, bracket: _Bracket, trial_id: str) -> bool:
        if not bracket.filled():
            return False
        for other in bracket.live:
            ref = self._trials.get(other)
            if other != trial_id and (ref is None or ref.status != PAUSED):
                return False
        return True

    def _process_bracket(self, bracket: _Bracket, reporting: str | None) -> str:
        """Halve the bracket if all its live trials reached the milestone; the decision for
        ``reporting`` (PAUSE while it waits)."""
        action = self.PAUSE
        if not bracket.cur_iter_done() or not bracket.live:
            return action
        if bracket.last_round():
            # Every live trial reached max_t with stop_last_trials=False: nothing to halve.
            return self.CONTINUE if reporting is not None else action
        good, bad = bracket.successive_halving()
        self._num_stopped += len(bad)
        for trial_id in bad:
            bracket.remove(trial_id)
            if trial_id == reporting:
                action = self.STOP
            else:
                bracket.trials_to_stop.add(trial_id)
        for trial_id in good:
            if trial_id == reporting:
                action = self.CONTINUE if bracket.continue_trial(trial_id) else self.STOP
                if action == self.STOP:
                    bracket.remove(trial_id)
            else:
                bracket.trials_to_unpause.add(trial_id)
        return action

    def _forget(self, trial: Trial) -> None:
        info = self._trial_info.pop(trial.trial_id, None)
        self._trials.pop(trial.trial_id, None)
        if info is None:
            return
        bracket = info[0]
        bracket.trials_to_stop.discard(trial.trial_id)
        if trial.trial_id in bracket.live:
            bracket.remove(trial.trial_id)
            # The trials waiting for this one may go on now.
            self._process_bracket(bracket, None)

    def on_trial_complete(self, trial: Trial, result: dict | None = None, *_: Any) -> None:
        self._forget(trial)

    def on_trial_remove(self, trial: Trial, *_: Any) -> None:
        self._forget(trial)

    def on_trial_error(self, trial: Trial, *_: Any) -> None:
        self._forget(trial)

    # -- which trial runs --------------------------------------------------------------------
    def _track(self, trials: Any) -> dict[str, Trial]:
        """Remember the candidates' live references; return them by id."""
        if hasattr(trials, "get_trials"):
            trials = trials.get_trials()
        by_id = {}
        for trial in trials:
            by_id[trial.trial_id] = trial
            self._trials[trial.trial_id] = trial
            if trial.trial_id not in self._trial_info:  # e.g. restored without scheduler state
                self.on_trial_add(trial)
        return by_id

    def _anything_running(self) -> bool:
        return any(t.status == RUNNING for t in self._trials.values())

    def _unstall(self, by_id: dict[str, Trial]) -> None:
        """The no-stall rule: nothing runs and no waiting trial may run, so the brackets with
        paused trials are processed with the trials they have. (Waiting losers of an earlier
        round are handed over first: they may hold nothing back.)"""
        if not by_id or self._anything_running() or self._pick(by_id) is not None:
            return
        if self._pick_loser(by_id) is not None:
            return
        for band in self._hyperbands:
            for bracket in band:
                if bracket is not None and any(
                    by_id.get(t) is not None and by_id[t].status == PAUSED for t in bracket.live
                ):
                    self._force(bracket)

    def trials_to_stop(self, trials: list[Trial]) -> list[Trial]:
        """Waiting trials that lost a halving round: they end at their milestone, not one step on.

        The controller asks this before ``choose_trial_to_run``, so the no-stall rule is
        applied here first: the losers of a halving forced with the trials at hand end now,
        like those of any other round, instead of being resumed for one step and stopped.
        """
        by_id = self._track(trials)
        self._unstall(by_id)
        losers = []
        for trial in by_id.values():
            info = self._trial_info.get(trial.trial_id)
            if info is not None and trial.trial_id in info[0].trials_to_stop:
                info[0].trials_to_stop.discard(trial.trial_id)
                losers.append(trial)
        return losers

    def choose_trial_to_run(self, trials: list[Trial], *_: Any) -> Trial | None:
        by_id = self._track(trials)
        self._unstall(by_id)
        chosen = self._pick(by_id)
        if chosen is None and not self._anything_running():
            # Only for a caller that never asks trials_to_stop (tune's controller always does,
            # so its losers are gone by now): resume a loser, which stops at its first result,
            # rather than leave it waiting forever.
            chosen = self._pick_loser(by_id)
        return chosen

    def _force(self, bracket: _Bracket) -> None:
        """Treat the bracket as complete with the trials it has, then halve it."""
        bracket.n0 = min(bracket.n0, len(bracket.all_trials))
        if bracket.last_round():
            bracket.trials_to_unpause.update(bracket.live)
            return
        self._process_bracket(bracket, None)

    def _brackets(self) -> list[_Bracket]:
        return [b for band in self._hyperbands for b in band if b is not None]

    def _pick_loser(self, by_id: dict[str, Trial]) -> Trial | None:
        for bracket in self._brackets():
            for trial_id in sorted(bracket.trials_to_stop):
                if trial_id in by_id:
                    return by_id[trial_id]
        return None

    def _pick(self, by_id: dict[str, Trial]) -> Trial | None:
        """A PENDING trial, or a PAUSED one its bracket lets go on; never a halving's loser."""
        for band in self._hyperbands:
            brackets = [b for b in band if b is not None]
            for bracket in sorted(brackets, key=lambda b: b.completion_percentage()):
                for trial_id in bracket.live:
                    trial = by_id.get(trial_id)
                    if trial is None:
                        continue
                    if trial.status == PENDING or (
                        trial.status == PAUSED and trial_id in bracket.trials_to_unpause
                    ):
                        return trial
        return None

    def debug_string(self) -> str:
        lines = [
            f"Using HyperBand: num_stopped={self._num_stopped} total_brackets="
            f"{sum(len(band) for band in self._hyperbands)}"
        ]
        for i, band in enumerate(self._hyperbands):
            for bracket in band:
                if bracket is not None:
                    lines.append(
                        f"Round #{i}: Bracket(s={bracket.s}, n={bracket.n}, r={bracket.r}, "
                        f"live={len(bracket.live)}, "
                        f"completed={100 * bracket.completion_percentage():.1f}%)"
                    )
        return "\n".join(lines)

    # -- state -------------------------------------------------------------------------------
    def get_state(self) -> dict:
        # One deepcopy keeps the shared bracket objects shared.
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "_trials"})

    def set_state(self, state: dict) -> None:
        self.__dict__.update(copy.deepcopy({k: v for k, v in state.items() if k != "_trials"}))
