"""``Repeater``: run each suggested config ``repeat`` times and report the mean to the searcher.

For noisy objectives (reinforcement learning, small data): the wrapped searcher sees one
trial per config, whose result is the mean of the metric over the repeats (NaN and missing
values left out). ``num_samples`` counts every trial, repeats included: set it to a multiple
of ``repeat`` (leftover trials are not run). Avoid early-stopping schedulers with it; a
stopped repeat skews the mean.
"""

from __future__ import annotations

import copy
import logging
import math
from typing import Any

from tune.errors import invalid_type, invalid_value
from tune.search.searcher import FINISHED, Searcher, _call_with_spec

__all__ = ["TRIAL_INDEX", "Repeater"]

logger = logging.getLogger(__name__)

TRIAL_INDEX = "__trial_index__"
"""Config key holding a trial's index within its group of repeats (0 .. repeat-1)."""


class _TrialGroup:
    """The trials sharing one suggested config; the first one is the searcher's ("primary")."""

    def __init__(self, primary_trial_id: str, config: dict, max_trials: int) -> None:
        self.primary_trial_id = primary_trial_id
        self.config = config
        self.max_trials = max_trials
        self.trials: dict[str, float | None] = {primary_trial_id: None}
        self.errors: dict[str, bool] = {}

    def add(self, trial_id: str) -> int:
        self.trials[trial_id] = None
        return len(self.trials) - 1

    def full(self) -> bool:
        return len(self.trials) >= self.max_trials

    def report(self, trial_id: str, score: float, error: bool) -> None:
        self.trials[trial_id] = score
        self.errors[trial_id] = error

    def finished_reporting(self) -> bool:
        return self.full() and None not in self.trials.values()

    def mean(self) -> float:
        values = [s for s in self.trials.values() if s is not None and not math.isnan(s)]
        return sum(values) / len(values) if values else math.nan


class Repeater(Searcher):
    """Repeat every config of ``searcher`` ``repeat`` times, averaging the metric.

    :param searcher: the searcher whose suggestions are repeated; it sees only the first
        trial of each group, completed with the group's mean ``metric``.
    :param repeat: how many trials per config.
    :param set_index: put the repeat's index (0 .. repeat-1) in the config under
        ``"__trial_index__"`` (``tune.search.repeater.TRIAL_INDEX``), e.g. to seed with.
    """

    def __init__(self, searcher: Searcher, repeat: int = 1, set_index: bool = True) -> None:
        if not isinstance(searcher, Searcher):
            raise invalid_type("searcher", searcher, "expected a tune.search.Searcher")
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise invalid_value("repeat", repeat, "must be an integer >= 1")
        self.searcher = searcher
        self.repeat = repeat
        self._set_index = bool(set_index)
        self._groups: list[_TrialGroup] = []
        self._trial_id_to_group: dict[str, int] = {}
        self._current_group: int | None = None
        self._fallback_metric: Any = None
        super().__init__(metric=None, mode=None)

    @property
    def metric(self) -> Any:
        return self.searcher.metric or self._fallback_metric

    @property
    def mode(self) -> Any:
        return self.searcher.mode

    @property
    def counts_own_samples(self) -> bool:
        return self.searcher.counts_own_samples

    def _suggestion_limit(self, num_samples: int) -> int:
        if num_samples % self.repeat and not getattr(self, "_warned", False):
            self._warned = True
            logger.warning(
                "num_samples=%d is not a multiple of Repeater(repeat=%d): num_samples counts "
                "every trial, repeats included, so the last %d trial(s) are not run.",
                num_samples,
                self.repeat,
                num_samples % self.repeat,
            )
        return num_samples - num_samples % self.repeat

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        self._fallback_metric = metric
        num_samples = spec.get("num_samples")
        if self.searcher.counts_own_samples and isinstance(num_samples, int) and num_samples > 0:
            # num_samples counts repeats; a searcher that counts its own draws that many
            # distinct configs divided by the repeats.
            spec = dict(spec, num_samples=num_samples // self.repeat)
        return _call_with_spec(self.searcher.set_search_properties, metric, mode, config, spec)

    def suggest(self, trial_id: str) -> dict | str | None:
        group = self._groups[self._current_group] if self._current_group is not None else None
        if group is None or group.full():
            config = self.searcher.suggest(trial_id)
            if config is None or config == FINISHED:
                return config
            if not isinstance(config, dict):
                raise invalid_type(
                    "suggestion",
                    config,
                    f"{type(self.searcher).__name__}.suggest must return a dict",
                )
            group = _TrialGroup(trial_id, copy.deepcopy(config), self.repeat)
            self._groups.append(group)
            self._current_group = len(self._groups) - 1
            index = 0
        else:
            index = group.add(trial_id)
        self._trial_id_to_group[trial_id] = self._current_group  # type: ignore[assignment]
        config = copy.deepcopy(group.config)
        if self._set_index:
            config[TRIAL_INDEX] = index
        return config

    def on_pause(self, trial_id: str) -> None:
        self.searcher.on_pause(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        self.searcher.on_unpause(trial_id)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        index = self._trial_id_to_group.get(trial_id)
        if index is None:
            logger.warning("Repeater: trial %s was not suggested by it; ignoring it.", trial_id)
            return
        group = self._groups[index]
        metric = self.metric
        score = math.nan
        if result and metric in result:
            try:
                score = float(result[metric])
            except (TypeError, ValueError):
                score = math.nan
        group.report(trial_id, score, error)
        if group.finished_reporting():
            self.searcher.on_trial_complete(
                group.primary_trial_id,
                result={metric: group.mean()},
                error=all(group.errors.values()),
            )

    def get_state(self) -> dict:
        return {
            "repeat": self.repeat,
            "set_index": self._set_index,
            "groups": copy.deepcopy(self._groups),
            "trial_id_to_group": dict(self._trial_id_to_group),
            "current_group": self._current_group,
            "fallback_metric": self._fallback_metric,
            "searcher": self.searcher.get_state(),
        }

    def set_state(self, state: dict) -> None:
        self.repeat = state["repeat"]
        self._set_index = state["set_index"]
        self._groups = copy.deepcopy(state["groups"])
        self._trial_id_to_group = dict(state["trial_id_to_group"])
        self._current_group = state["current_group"]
        self._fallback_metric = state["fallback_metric"]
        self.searcher.set_state(state["searcher"])
