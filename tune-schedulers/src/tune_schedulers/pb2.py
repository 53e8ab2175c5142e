"""``PB2``: Population Based Bandits, PBT whose explore step is a time-varying GP bandit.

Parker-Holder et al., "Provably Efficient Online Hyperparameter Optimization with
Population-Based Bandits" (NeurIPS 2020), with Ray Tune's arguments. Exploit works as in
``PopulationBasedTraining``; instead of perturbing the copied config at random, PB2 fits a
Gaussian process with a time-varying kernel to how much each (time, reward, config) improved
the reward per unit of time, and picks the config inside ``hyperparam_bounds`` that maximises
an upper confidence bound, away from the configs already chosen at this step. Needs GPy and
scikit-learn: ``pip install 'tune-schedulers[pb2]'``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from tune.errors import invalid_type, invalid_value
from tune.search.sample import uniform
from tune.trial import Trial
from tune_schedulers.pbt import PopulationBasedTraining

__all__ = ["PB2"]

#: the GP sees at most this many recent observations (fitting is cubic in their number)
MAX_ROWS = 1000


def _flatten_bounds(bounds: Mapping, prefix: str = "") -> dict[str, tuple[float, float]]:
    flat: dict[str, tuple[float, float]] = {}
    for key, value in bounds.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten_bounds(value, name + "/"))
            continue
        if (
            not isinstance(value, (list, tuple))
            or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            raise invalid_value(
                f"hyperparam_bounds[{name!r}]", value, "must be [lower, upper], two numbers"
            )
        if value[0] > value[1]:
            raise invalid_value(
                f"hyperparam_bounds[{name!r}]", value, "must be [lower, upper] with lower <= upper"
            )
        flat[name] = (float(value[0]), float(value[1]))
    return flat


def _as_mutations(bounds: Mapping) -> dict:
    """The bounds as uniform domains: where PBT's machinery draws missing starting values."""
    return {
        key: _as_mutations(value) if isinstance(value, Mapping) else uniform(value[0], value[1])
        for key, value in bounds.items()
    }


def _get(config: Mapping, path: str) -> Any:
    node: Any = config
    for part in path.split("/"):
        node = node[part]
    return node


def _set(config: dict, path: str, value: Any) -> None:
    parts = path.split("/")
    node = config
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


class PB2(PopulationBasedTraining):
    """Population Based Bandits.

    :param time_attr: the result field measuring progress (default ``time_total_s``).
    :param metric: the metric to optimize; defaults to ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"``; defaults to ``TuneConfig.mode``.
    :param perturbation_interval: rank and explore every this much ``time_attr``.
    :param hyperparam_bounds: ``{param: [lower, upper]}`` (nested dicts for nested params):
        the box new configs are chosen in. Missing starting values are drawn uniformly.
    :param quantile_fraction: the share of the population in the top (and bottom) quantile.
    :param log_config: write the policy log, as ``PopulationBasedTraining`` does.
    :param require_attrs: a result without ``time_attr`` or the metric is an error.
    :param synch: explore the whole population at once at each interval.
    :param custom_explore_fn: ``fn(config) -> config`` applied after the GP's choice.
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        perturbation_interval: float = 60.0,
        hyperparam_bounds: dict | None = None,
        quantile_fraction: float = 0.25,
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
        custom_explore_fn: Callable[[dict], dict] | None = None,
    ) -> None:
        from tune_schedulers import pb2_utils  # noqa: F401 - GPy missing: fail now, clearly

        if not isinstance(hyperparam_bounds, Mapping) or not hyperparam_bounds:
            raise invalid_type(
                "hyperparam_bounds",
                hyperparam_bounds,
                "PB2 needs a non-empty dict {param: [lower, upper]}",
            )
        self._bounds = _flatten_bounds(hyperparam_bounds)
        super().__init__(
            time_attr=time_attr,
            metric=metric,
            mode=mode,
            perturbation_interval=perturbation_interval,
            hyperparam_mutations=_as_mutations(hyperparam_bounds),
            quantile_fraction=quantile_fraction,
            resample_probability=0.0,
            custom_explore_fn=custom_explore_fn,
            log_config=log_config,
            require_attrs=require_attrs,
            synch=synch,
        )
        # [trial_id, time, *params (in _bounds order), signed reward] at each perturbation
        self._data: list[list] = []
        # params chosen since the data last advanced in time: the GP steers away from them
        self._current: list[list[float]] = []
        self._last_exploration_time = 0.0

    def _record(self, state: Any, trial: Trial, time: float, result: dict) -> float:
        score = super()._record(state, trial, time, result)
        params = [float(_get(trial.config, name)) for name in self._bounds]
        self._data.append([trial.trial_id, float(time), *params, score])
        if len(self._data) > 2 * MAX_ROWS:
            del self._data[: len(self._data) - MAX_ROWS]
        return score

    def _explore(self, trial: Trial, source: Trial) -> tuple[dict, dict]:
        import numpy as np

        from tune_schedulers.pb2_utils import select_config

        times = [row[1] for row in self._data]
        if times and max(times) > self._last_exploration_time:
            self._current = []  # a new time step: earlier choices are no longer pending
        X, y, newpoint = self._training_data(source.trial_id)
        new_config = copy.deepcopy(source.config)
        operations: dict[str, Any] = {}
        if X is not None:
            lows = np.array([b[0] for b in self._bounds.values()])
            highs = np.array([b[1] for b in self._bounds.values()])
            current = np.array(self._current) if self._current else None
            chosen = select_config(X, y, current, newpoint, self._bounds, num_f=2)
            values = lows + np.clip(np.asarray(chosen, dtype=float), 0.0, 1.0) * (highs - lows)
            for name, value in zip(self._bounds, values):
                old = _get(source.config, name)
                cast = int(round(value)) if isinstance(old, int) and not isinstance(old, bool) else float(value)
                _set(new_config, name, cast)
                operations[name] = "GP-UCB"
            picked = [float(_get(new_config, name)) for name in self._bounds]
            self._current.append(picked)
            # The clone starts where the source is: its row carries the source's reward.
            last = newpoint
            self._data.append([trial.trial_id, float(last[0]), *picked, self._last_reward(source)])
        self._last_exploration_time = max(times, default=0.0)
        if self._custom_explore_fn is not None:
            new_config = self._custom_explore_fn(new_config)
        return new_config, operations

    def _last_reward(self, source: Trial) -> float:
        for row in reversed(self._data):
            if row[0] == source.trial_id:
                return row[-1]
        return 0.0

    def _training_data(self, source_id: str) -> tuple[Any, Any, Any]:
        """(X, y, newpoint) for the GP: X rows ``[time, reward before, *params]``, y the
        reward change per unit of time since the same trial's previous row with the same
        params; newpoint ``[time, reward before]`` of the source's latest change."""
        import numpy as np

        n_params = len(self._bounds)
        previous: dict[tuple, list] = {}
        rows, targets = [], []
        newpoint = None
        for row in sorted(self._data[-MAX_ROWS:], key=lambda r: r[1]):
            key = (row[0], *row[2 : 2 + n_params])
            before = previous.get(key)
            previous[key] = row
            if before is None:
                continue
            dt = row[1] - before[1]
            if dt <= 0:
                continue
            change = row[-1] - before[-1]
            rows.append([row[1], before[-1], *row[2 : 2 + n_params]])
            targets.append(change / dt)
            if row[0] == source_id:
                newpoint = [row[1], before[-1]]
        if not rows or newpoint is None:
            return None, None, None
        return np.array(rows, dtype=float), np.array(targets, dtype=float), np.array(newpoint)

    def debug_string(self) -> str:
        return super().debug_string().replace("PopulationBasedTraining", "PB2", 1)
