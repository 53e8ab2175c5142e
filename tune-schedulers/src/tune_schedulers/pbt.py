"""``PopulationBasedTraining``: exploit the best trials' checkpoints, explore their configs.

Jaderberg et al., "Population Based Training of Neural Networks" (2017), with Ray Tune's
arguments and semantics. Every ``perturbation_interval`` (in ``time_attr`` units) a trial is
ranked against the population by its latest score:

* in the top ``quantile_fraction``: its checkpoint becomes a source others may copy (class
  trainables are asked to save one now; functions must report checkpoints themselves);
* in the bottom ``quantile_fraction``: it is paused and restarted from the checkpoint of a
  random top trial, with that trial's config perturbed by ``explore`` (exploit + explore).
  A top trial with no checkpoint yet is never copied: the exploit is skipped.

With ``synch=True`` every trial stops at each perturbation time and the whole population is
ranked at once, when the last one arrives. Otherwise (the default) each trial is ranked as it
reaches its own perturbation time, and trials that wait for a slot take turns with running
ones (a population larger than what runs at once).

The scheduler never touches the controller: it changes a trial with ``trial.set_config``,
``trial.set_experiment_tag`` and ``trial.set_restore_checkpoint`` and returns ``PAUSE``; the
controller relaunches the trial from that checkpoint with its new config.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tune.errors import TuneError, TuneValueError, check_mode, invalid_type, invalid_value
from tune.execution.executor import SAVE
from tune.schedulers.trial_scheduler import FIFOScheduler
from tune.trial import PAUSED, PENDING, RUNNING, Trial
from tune_schedulers._util import (
    check_number,
    check_searcher_is_basic,
    check_time_attr,
    check_trainable_checkpoints,
    require_metric,
)
from tune_schedulers.pbt_explore import (
    PolicyLog,
    check_mutations,
    describe_changes,
    explore,
    fill_config,
    make_experiment_tag,
)

__all__ = ["PopulationBasedTraining"]

logger = logging.getLogger("tune")


@dataclass
class _TrialState:
    """What PBT remembers of one trial (JSON-friendly: saved with the experiment)."""

    orig_tag: str
    last_score: float | None = None
    last_perturbation_time: float = 0.0
    last_train_time: float = 0.0
    last_iteration: int = 0
    #: whether the trial was in the top quantile at its last perturbation (a source)
    is_source: bool = False
    finished: bool = False


class PopulationBasedTraining(FIFOScheduler):
    """Population Based Training.

    :param time_attr: the result field measuring progress (default ``time_total_s``); must
        increase monotonically, ``training_iteration`` is a common choice.
    :param metric: the metric to optimize; defaults to ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"``; defaults to ``TuneConfig.mode``.
    :param perturbation_interval: rank and perturb every this much ``time_attr``.
    :param burn_in_period: no perturbation before this much ``time_attr``.
    :param hyperparam_mutations: ``{param: mutation}`` where a mutation is a list of values
        (resampled, or shifted to a neighbour), a search-space domain or a function
        returning a value (resampled, or multiplied by a perturbation factor), or a dict of
        these for a nested parameter. Parameters missing from a trial's config are drawn
        from here when the trial is added.
    :param quantile_fraction: the share of the population in the top (and bottom) quantile,
        between 0 and 0.5.
    :param resample_probability: the chance of resampling a parameter instead of
        perturbing it.
    :param perturbation_factors: the two factors a numeric parameter is multiplied by.
    :param custom_explore_fn: ``fn(config) -> config`` applied after the built-in explore
        step (or alone, with no mutations).
    :param log_config: write the policy log (``pbt_global.txt``, ``pbt_policy_<id>.txt``)
        to the experiment directory; ``PopulationBasedTrainingReplay`` reads it.
    :param require_attrs: a result without ``time_attr`` or the metric is an error; if
        False it is skipped with a warning.
    :param synch: perturb the whole population at once at each interval.
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        perturbation_interval: float = 60.0,
        burn_in_period: float = 0.0,
        hyperparam_mutations: dict | None = None,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: tuple[float, float] = (1.2, 0.8),
        custom_explore_fn: Callable[[dict], dict] | None = None,
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
    ) -> None:
        check_time_attr(time_attr)
        check_mode(mode)
        check_number("perturbation_interval", perturbation_interval, minimum=0, strict=True)
        check_number("burn_in_period", burn_in_period, minimum=0, strict=False)
        mutations = check_mutations(hyperparam_mutations or {})
        if custom_explore_fn is not None and not callable(custom_explore_fn):
            raise invalid_type("custom_explore_fn", custom_explore_fn, "expected fn(config) -> config")
        if not mutations and custom_explore_fn is None:
            raise TuneValueError(
                f"{type(self).__name__} needs something to explore: pass hyperparam_mutations "
                "(e.g. {'lr': tune.loguniform(1e-4, 1e-1)}) and/or custom_explore_fn."
            )
        check_number("quantile_fraction", quantile_fraction, minimum=0, strict=False)
        if quantile_fraction > 0.5:
            raise invalid_value("quantile_fraction", quantile_fraction, "must be between 0 and 0.5")
        check_number("resample_probability", resample_probability, minimum=0, strict=False)
        if resample_probability > 1:
            raise invalid_value(
                "resample_probability", resample_probability, "must be between 0 and 1"
            )
        if (
            not isinstance(perturbation_factors, (list, tuple))
            or len(perturbation_factors) != 2
            or not all(isinstance(f, (int, float)) and not isinstance(f, bool) for f in perturbation_factors)
        ):
            raise invalid_value(
                "perturbation_factors", perturbation_factors, "must be a pair of numbers, e.g. (1.2, 0.8)"
            )
        for name, flag in (("log_config", log_config), ("require_attrs", require_attrs), ("synch", synch)):
            if not isinstance(flag, bool):
                raise invalid_value(name, flag, "must be True or False")
        super().__init__()
        self._time_attr = time_attr
        self._metric = metric
        self._mode = mode
        self._perturbation_interval = perturbation_interval
        self._burn_in_period = burn_in_period
        self._hyperparam_mutations = mutations
        self._quantile_fraction = quantile_fraction
        self._resample_probability = resample_probability
        self._perturbation_factors = tuple(perturbation_factors)
        self._custom_explore_fn = custom_explore_fn
        self._policy = PolicyLog(log_config)
        self._require_attrs = require_attrs
        self._synch = synch
        self._next_perturbation_sync = float(perturbation_interval)
        self._state: dict[str, _TrialState] = {}
        self._num_checkpoints = 0
        self._num_perturbations = 0
        self._trials: dict[str, Trial] = {}  # live references, not saved

    # -- set-up --------------------------------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        check_searcher_is_basic(self, spec)
        check_trainable_checkpoints(self, spec)
        return super().set_search_properties(metric, mode, **spec)

    def on_trial_add(self, trial: Trial, *_: Any) -> None:
        require_metric(self)
        self._trials[trial.trial_id] = trial
        if trial.trial_id in self._state:
            return
        self._state[trial.trial_id] = _TrialState(orig_tag=trial.experiment_tag)
        self._fill_missing(trial)

    def _fill_missing(self, trial: Trial) -> None:
        """Parameters PBT mutates but the search space left out get a starting value."""
        for attr, distribution in self._hyperparam_mutations.items():
            if attr not in trial.config:
                fill_config(trial.config, attr, distribution)
                trial.evaluated_params[attr] = trial.config[attr]

    # -- results --------------------------------------------------------------------------------
    def _missing(self, key: str, what: str, result: dict) -> str:
        message = (
            f"{type(self).__name__}: a result lacks the {what} {key!r} it needs. Reported "
            f"keys: {sorted(k for k in result if k != 'config')}."
        )
        if self._require_attrs:
            raise TuneError(
                message + " Report it, or pass require_attrs=False to skip such results."
            )
        logger.warning(message + " Skipping this result.")
        return self.CONTINUE

    def on_trial_result(self, trial: Trial, result: dict | None = None, *_: Any) -> str:
        require_metric(self)
        result = result or {}
        self._trials[trial.trial_id] = trial
        if trial.trial_id not in self._state:
            self.on_trial_add(trial)
        if self._time_attr not in result:
            return self._missing(self._time_attr, "time attribute", result)
        if self._metric not in result:
            return self._missing(self._metric, "metric", result)
        time = result[self._time_attr]
        state = self._state[trial.trial_id]
        if time < self._burn_in_period:
            return self.CONTINUE
        if time - state.last_perturbation_time < self._perturbation_interval:
            return self.CONTINUE
        self._record(state, trial, time, result)
        if self._synch:
            # Everyone waits at the barrier; choose_trial_to_run perturbs the population
            # once the last trial has arrived (and its pause checkpoint is in).
            return self.PAUSE
        state.last_perturbation_time = time
        lower, upper = self._quantiles()
        others_waiting = any(
            t.status in (PENDING, PAUSED)
            for tid, t in self._trials.items()
            if tid != trial.trial_id and not self._state[tid].finished
        )
        exploited = self._checkpoint_or_exploit(trial, upper, lower)
        if exploited or others_waiting:
            return self.PAUSE  # (a pause saves a checkpoint unless the trial was cloned)
        return SAVE if trial.trial_id in upper else self.CONTINUE

    def _record(self, state: _TrialState, trial: Trial, time: float, result: dict) -> float:
        score = float(result[self._metric])
        state.last_score = score if self._mode == "max" else -score
        state.last_train_time = time
        state.last_iteration = int(result.get("training_iteration", state.last_iteration))
        return state.last_score

    def _quantiles(self) -> tuple[list[str], list[str]]:
        """(bottom, top) trial ids among unfinished trials with a score, worst first."""
        ranked = [
            tid
            for tid, state in self._state.items()
            if state.last_score is not None and not state.finished
        ]
        ranked.sort(key=lambda tid: self._state[tid].last_score)
        if len(ranked) <= 1:
            return [], []
        size = int(math.ceil(len(ranked) * self._quantile_fraction))
        size = min(size, len(ranked) // 2)
        if size == 0:
            return [], []
        return ranked[:size], ranked[-size:]

    def _checkpoint_or_exploit(self, trial: Trial, upper: list[str], lower: list[str]) -> bool:
        """Mark a top trial as a source; clone a source into a bottom trial. Returns whether
        ``trial`` was cloned."""
        state = self._state[trial.trial_id]
        state.is_source = trial.trial_id in upper
        if state.is_source:
            self._num_checkpoints += 1
        if trial.trial_id not in lower:
            return False
        source_id = random.choice(upper)
        source = self._trials.get(source_id)
        if source is None or source.checkpoint is None or not self._state[source_id].is_source:
            logger.info(
                "[PBT] No checkpoint of trial %s yet: skipping the exploit of trial %s.",
                source_id,
                trial,
            )
            return False
        self._exploit(trial, source)
        return True

    def _explore(self, trial: Trial, source: Trial) -> tuple[dict, dict]:
        """The new config for ``trial``, explored from ``source``'s (PB2 overrides this)."""
        return explore(
            source.config,
            self._hyperparam_mutations,
            self._resample_probability,
            self._perturbation_factors,
            self._custom_explore_fn,
        )

    def _exploit(self, trial: Trial, source: Trial) -> None:
        state, source_state = self._state[trial.trial_id], self._state[source.trial_id]
        new_config, operations = self._explore(trial, source)
        logger.info(
            "[PBT] Cloning trial %s (score %.4f) into trial %s (score %.4f):\n%s",
            source,
            source_state.last_score or 0.0,
            trial,
            state.last_score or 0.0,
            describe_changes(source.config, new_config, operations),
        )
        self._policy.log(
            _experiment_dir(trial),
            trial.trial_id,
            state.orig_tag,
            source.trial_id,
            source_state.orig_tag,
            state.last_iteration,
            # (the step the clone resumes at: the source's latest, as its checkpoint is)
            int(source.last_result.get("training_iteration", source_state.last_iteration)),
            source.config,
            new_config,
        )
        trial.set_experiment_tag(
            make_experiment_tag(state.orig_tag, new_config, self._hyperparam_mutations)
        )
        trial.set_config(new_config)
        trial.set_restore_checkpoint(source.checkpoint)
        self._num_perturbations += 1
        # The clone carries on from where the source was.
        state.last_perturbation_time = source_state.last_perturbation_time
        state.last_train_time = source_state.last_train_time
        state.last_iteration = source_state.last_iteration
        state.is_source = False

    # -- synchronous mode -----------------------------------------------------------------------
    def _perturb_population(self) -> None:
        """All unfinished trials have reached the barrier and are paused: rank them once."""
        lower, upper = self._quantiles()
        middle = [t for t in self._state if t not in lower and t not in upper]
        # Sources first, so their status is settled before anyone copies them.
        for tid in upper + middle + lower:
            state = self._state[tid]
            trial = self._trials.get(tid)
            if state.finished or trial is None:
                continue
            state.last_perturbation_time = state.last_train_time
            self._checkpoint_or_exploit(trial, upper, lower)
        times = [s.last_train_time for s in self._state.values() if not s.finished]
        self._next_perturbation_sync = max(
            self._next_perturbation_sync + self._perturbation_interval, max(times, default=0.0)
        )

    def _at_barrier(self) -> bool:
        unfinished = [tid for tid, s in self._state.items() if not s.finished]
        if not unfinished:
            return False
        for tid in unfinished:
            trial = self._trials.get(tid)
            if trial is None or trial.status == RUNNING:
                return False
            if self._state[tid].last_train_time < self._next_perturbation_sync:
                return False
        return True

    # -- scheduling -----------------------------------------------------------------------------
    def choose_trial_to_run(self, trials: list[Trial], *_: Any) -> Trial | None:
        """The waiting trial that has trained least (a fair share for every member of the
        population); in synchronous mode only those short of the next barrier."""
        if hasattr(trials, "get_trials"):
            trials = trials.get_trials()
        for trial in trials:
            self._trials[trial.trial_id] = trial
            if trial.trial_id not in self._state:  # e.g. restored without scheduler state
                self.on_trial_add(trial)
        if self._synch and self._at_barrier():
            self._perturb_population()
        candidates = [
            t
            for t in trials
            if t.status in (PENDING, PAUSED)
            and (
                not self._synch
                or self._state[t.trial_id].last_train_time < self._next_perturbation_sync
            )
        ]
        if not candidates:
            return None
        return min(candidates, key=lambda t: self._state[t.trial_id].last_train_time)

    def on_trial_complete(self, trial: Trial, result: dict | None = None, *_: Any) -> None:
        self._finish(trial)

    def on_trial_error(self, trial: Trial, *_: Any) -> None:
        self._finish(trial)

    def on_trial_remove(self, trial: Trial, *_: Any) -> None:
        self._finish(trial)

    def _finish(self, trial: Trial) -> None:
        state = self._state.get(trial.trial_id)
        if state is not None:
            state.finished = True
            state.is_source = False

    # -- reporting and state --------------------------------------------------------------------
    def debug_string(self) -> str:
        return (
            f"PopulationBasedTraining: {self._num_checkpoints} checkpoints, "
            f"{self._num_perturbations} perturbs"
        )

    def get_state(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k != "_trials"}
        return copy.deepcopy(state)

    def set_state(self, state: dict) -> None:
        self.__dict__.update(copy.deepcopy({k: v for k, v in state.items() if k != "_trials"}))


def _experiment_dir(trial: Trial) -> str | None:
    if trial.experiment_path and "://" not in trial.experiment_path:
        return trial.experiment_path
    return os.path.dirname(trial.path) if trial.path else None
