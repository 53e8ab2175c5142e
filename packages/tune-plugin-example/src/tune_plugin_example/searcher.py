"""``GridWalkSearch``: a deterministic coordinate walk, registered as searcher "example_grid_walk".

The walk starts at the middle value of every parameter, tries ``steps`` values of the first
parameter, keeps the best, then does the same for the next parameter, and so on. It is a real
(if modest) optimizer and shows each part of the ``Searcher`` contract: taking the search space
from ``set_search_properties``, answering ``None`` while it waits for results, learning from
``on_trial_complete``, returning ``FINISHED`` and saving and restoring its state.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from tune.errors import check_mode, invalid_value
from tune.search.sample import Categorical, Domain, Float, Integer, LogUniform, Quantized
from tune.search.searcher import Searcher

Path = tuple[str, ...]


def _flatten(space: dict, prefix: Path = ()) -> dict[Path, Any]:
    flat: dict[Path, Any] = {}
    for key, value in space.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and not _is_grid(value):
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


def _unflatten(flat: dict[Path, Any]) -> dict:
    nested: dict = {}
    for path, value in flat.items():
        node = nested
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = copy.deepcopy(value)
    return nested


def _is_grid(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"grid_search"}


def _spread(lower: float, upper: float, steps: int, log: bool) -> list[float]:
    if steps == 1 or lower == upper:
        return [lower]
    if log:
        lo, hi = math.log(lower), math.log(upper)
        return [math.exp(lo + i * (hi - lo) / (steps - 1)) for i in range(steps)]
    return [lower + i * (upper - lower) / (steps - 1) for i in range(steps)]


def _sampler_facts(domain: Domain) -> tuple[bool, float | None]:
    """Whether a domain samples in log space and its quantization step, via Ray's sampler API."""
    sampler = domain.get_sampler()
    q = None
    if isinstance(sampler, Quantized):
        q = sampler.q
        sampler = sampler.get_sampler()
    return isinstance(sampler, LogUniform), q


def _quantize(values: list[float], q: float | None, lower: float, upper: float) -> list[float]:
    if q is None:
        return values
    out = []
    for value in values:
        rounded = round(value / q) * q
        # Stay inside the bounds after rounding (a multiple of q within them always exists).
        while rounded < lower:
            rounded += q
        while rounded > upper:
            rounded -= q
        out.append(rounded)
    return out


def _candidates(name: str, domain: Any, steps: int) -> list[Any]:
    """The values the walk tries for one parameter, in increasing order where that means anything."""
    if _is_grid(domain):
        return list(domain["grid_search"])
    if isinstance(domain, Categorical):
        return list(domain.categories)
    if isinstance(domain, (Float, Integer)):
        lower, upper = domain.lower, domain.upper
        if isinstance(domain, Integer):
            upper -= 1  # Integer domains exclude their upper bound, as Ray Tune's randint does
        if math.isfinite(lower) and math.isfinite(upper):
            log, q = _sampler_facts(domain)
            values = _quantize(_spread(lower, upper, steps, log), q, lower, upper)
            if isinstance(domain, Integer):
                values = [int(round(v)) for v in values]
            return sorted(set(values))
    raise invalid_value(
        f"param_space[{name!r}]",
        domain,
        "GridWalkSearch supports bounded float (tune.uniform, tune.loguniform ...), integer "
        "(tune.randint ...) and categorical (tune.choice, tune.grid_search) parameters and "
        "constants",
    )


class GridWalkSearch(Searcher):
    """Walk one parameter at a time over ``steps`` evenly spaced values, keeping the best.

    :param space: the search space; usually left out, then ``Tuner``'s ``param_space`` is used.
    :param metric: the metric to optimize; defaults to ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"``; defaults to ``TuneConfig.mode``.
    :param steps: how many values of each float or integer parameter to try (at least 2).
    """

    def __init__(
        self,
        space: dict | None = None,
        metric: str | None = None,
        mode: str | None = None,
        steps: int = 3,
    ) -> None:
        check_mode(mode)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise invalid_value("steps", steps, "must be an integer >= 2")
        super().__init__(metric=metric, mode=mode)
        self._steps = steps
        self._space: dict | None = None
        self._axes: list[tuple[Path, list[Any]]] = []
        self._point: dict[Path, Any] = {}
        self._point_score: float | None = None
        self._axis = -1
        self._queue: list[Any] = []
        self._scores: list[tuple[float, Any]] = []
        self._pending: dict[str, Any] = {}
        self._finished = False
        if space is not None:
            self._set_space(space)

    # -- Searcher API ---------------------------------------------------------------------

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        if self._space is not None:
            return False
        check_mode(mode)
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        self._set_space(config)
        return True

    def suggest(self, trial_id: str) -> dict | str | None:
        if self._space is None:
            raise RuntimeError(
                "GridWalkSearch has no search space: pass `space=` or a Tuner `param_space`."
            )
        if self._metric is None or self._mode is None:
            raise RuntimeError(
                "GridWalkSearch needs `metric` and `mode` (pass them to GridWalkSearch or to "
                "TuneConfig) to know which value of each parameter is best."
            )
        while not self._finished:
            if self._queue:
                value = self._queue.pop(0)
                self._pending[trial_id] = value
                return _unflatten(self._point_with(value))
            if self._pending:
                return None  # the current parameter's trials are still running
            self._next_axis()
        return Searcher.FINISHED

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if trial_id not in self._pending:
            return
        value = self._pending.pop(trial_id)
        if error or not result or self._metric not in result:
            return
        self._scores.append((float(result[self._metric]), value))

    def get_state(self) -> dict:
        return {
            "metric": self._metric,
            "mode": self._mode,
            "steps": self._steps,
            "space": self._space,
            "axes": self._axes,
            "point": self._point,
            "point_score": self._point_score,
            "axis": self._axis,
            "queue": self._queue,
            "scores": self._scores,
            "pending": self._pending,
            "finished": self._finished,
        }

    def set_state(self, state: dict) -> None:
        self._metric = state["metric"]
        self._mode = state["mode"]
        self._steps = state["steps"]
        self._space = state["space"]
        self._axes = state["axes"]
        self._point = state["point"]
        self._point_score = state["point_score"]
        self._axis = state["axis"]
        self._queue = state["queue"]
        self._scores = state["scores"]
        # Trials that were running when the state was saved will be re-suggested by nobody;
        # put their values back in the queue so the walk still covers them.
        self._queue = list(state["pending"].values()) + self._queue
        self._pending = {}
        self._finished = state["finished"]

    @property
    def best_config(self) -> dict | None:
        """The best point found so far (the walk's current position), or ``None``."""
        return _unflatten(self._point) if self._space is not None else None

    # -- internals ------------------------------------------------------------------------

    def _set_space(self, space: dict) -> None:
        flat = _flatten(space)
        self._space = space
        self._axes = []
        self._point = {}
        for path, value in flat.items():
            if isinstance(value, Domain) or _is_grid(value):
                values = _candidates("/".join(path), value, self._steps)
                if not values:
                    raise invalid_value("/".join(path), value, "must offer at least one value")
                self._axes.append((path, values))
                self._point[path] = values[len(values) // 2]
            else:
                self._point[path] = value
        self._axis = -1
        self._next_axis()

    def _point_with(self, value: Any) -> dict[Path, Any]:
        point = dict(self._point)
        if 0 <= self._axis < len(self._axes):
            point[self._axes[self._axis][0]] = value
        return point

    def _next_axis(self) -> None:
        """Settle the current parameter on its best value and queue the next one's values."""
        if 0 <= self._axis < len(self._axes) and self._scores:
            sign = 1.0 if self._mode == "min" else -1.0
            score, value = min(self._scores, key=lambda item: sign * item[0])
            self._point[self._axes[self._axis][0]] = value
            self._point_score = score
        self._axis += 1
        self._scores = []
        if not self._axes:
            # Only constants: one trial, then done.
            if self._axis == 0:
                self._queue = [None]
            else:
                self._finished = True
            return
        if self._axis >= len(self._axes):
            self._finished = True
            return
        path, values = self._axes[self._axis]
        current = self._point[path]
        if self._point_score is not None:
            # The current point was already evaluated along the previous parameter.
            self._scores.append((self._point_score, current))
            self._queue = [v for v in values if v != current]
        else:
            self._queue = list(values)
