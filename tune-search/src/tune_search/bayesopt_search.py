"""``BayesOptSearch``: Gaussian-process Bayesian optimization with bayesian-optimization.

Ray Tune's ``BayesOptSearch`` on the ``bayes_opt`` package, bayesian-optimization 1.4.x
(the ``UtilityFunction`` API Ray's adapter was written against, and the version nevergrad
pins) or 2.x/3.x (whose ``acquisition`` classes replaced it; Ray's ``utility_kwargs`` are
mapped onto them). The API is detected from the installed library; both give the same
search. Like Ray's adapter it searches continuous uniform floats only: any other domain is
refused up front, naming the parameter. bayes_opt maximizes, so ``mode="min"`` metrics are
negated before they are registered.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np

from tune.errors import TuneError, TuneValueError, invalid_type, invalid_value
from tune.result import DEFAULT_METRIC
from tune.search.flat_space import FlatSpace, SearcherSupport, parse_space
from tune.search.sample import Domain, uniform
from tune.search.searcher import FINISHED, Searcher
from tune.trial import Trial

try:
    import bayes_opt
    from bayes_opt import BayesianOptimization
except ImportError as exc:
    raise ImportError(
        "BayesOptSearch needs bayesian-optimization 1.4 or later (module bayes_opt): "
        "pip install 'tune-search[bayesopt]'"
    ) from exc

try:  # 2.x and 3.x
    from bayes_opt import acquisition
except ImportError:  # 1.x: a UtilityFunction is handed to every suggest()
    acquisition = None
UtilityFunction = getattr(bayes_opt, "UtilityFunction", None)
if acquisition is None and UtilityFunction is None:
    raise ImportError(
        f"BayesOptSearch does not know this bayesian-optimization "
        f"({getattr(bayes_opt, '__version__', 'unknown version')}): it has neither "
        "bayes_opt.acquisition nor bayes_opt.UtilityFunction. "
        "pip install 'tune-search[bayesopt]'"
    )
_LEGACY_API = acquisition is None

__all__ = ["BayesOptSearch"]

logger = logging.getLogger(__name__)

_UTILITY_DEFAULTS = {"kind": "ucb", "kappa": 2.576, "xi": 0.0}
_UTILITY_KEYS = {"kind", "kappa", "xi", "kappa_decay", "kappa_decay_delay"}
_KINDS = ("ucb", "ei", "poi")
# Two suggestions are "the same config" when every parameter agrees to 5 decimals (Ray's
# repeat_float_precision), or to 5 digits of its range where the range is narrower than 1
# (so that, say, a learning rate in [1e-6, 1e-4] is not all one config).
_REPEAT_PRECISION = 1e-5
# bayes_opt 3.x passes its random state to `suggest`; 2.x seeds the acquisition function
# at construction (3.x deprecates that and ignores it).
_SEED_ACQUISITION = not _LEGACY_API and "random_state" not in inspect.signature(
    acquisition.AcquisitionFunction.suggest
).parameters


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_utility_kwargs(utility_kwargs: Any) -> dict:
    if utility_kwargs is None:
        return dict(_UTILITY_DEFAULTS)
    if not isinstance(utility_kwargs, Mapping):
        raise invalid_type(
            "utility_kwargs", utility_kwargs, "expected a dict like {'kind': 'ucb', 'kappa': 2.576}"
        )
    unknown = sorted(set(utility_kwargs) - _UTILITY_KEYS)
    if unknown:
        raise invalid_value(
            "utility_kwargs",
            dict(utility_kwargs),
            f"unknown key(s) {unknown}; accepted keys are {sorted(_UTILITY_KEYS)}",
        )
    merged = {**_UTILITY_DEFAULTS, **utility_kwargs}
    kind = merged["kind"]
    if kind not in _KINDS:
        raise invalid_value("utility_kwargs['kind']", kind, f"must be one of {list(_KINDS)}")
    for key in ("kappa", "xi"):
        value = merged[key]
        if not _is_number(value) or not math.isfinite(value) or value < 0:
            raise invalid_value(f"utility_kwargs[{key!r}]", value, "must be a number >= 0")
    decay = merged.get("kappa_decay")
    if decay is not None and (not _is_number(decay) or not 0 < decay <= 1):
        raise invalid_value("utility_kwargs['kappa_decay']", decay, "must be in (0, 1]")
    delay = merged.get("kappa_decay_delay")
    if delay is not None and (
        isinstance(delay, bool) or not isinstance(delay, int) or delay < 0
    ):
        raise invalid_value(
            "utility_kwargs['kappa_decay_delay']", delay, "must be an integer >= 0"
        )
    return merged


def _acquisition_function(utility: dict, random_state: int | None) -> Any:
    """Ray's ``utility_kwargs`` as a 1.x ``UtilityFunction`` or a 2.x/3.x acquisition
    function."""
    if _LEGACY_API:
        decay = utility.get("kappa_decay")
        delay = utility.get("kappa_decay_delay") or 0
        return UtilityFunction(
            kind=utility["kind"],
            kappa=float(utility["kappa"]),
            xi=float(utility["xi"]),
            kappa_decay=1 if decay is None else float(decay),
            # 2.x/3.x decay after the n-th suggestion once n >= delay; 1.x's counter must
            # exceed its delay: one less gives the same kappa at every step.
            kappa_decay_delay=max(delay - 1, 0),
        )
    extra: dict[str, Any] = {}
    if _SEED_ACQUISITION:
        extra["random_state"] = np.random.RandomState(random_state)
    if utility["kind"] == "ucb":
        decay = utility.get("kappa_decay")
        delay = utility.get("kappa_decay_delay")
        return acquisition.UpperConfidenceBound(
            kappa=float(utility["kappa"]),
            # 1.x's kappa_decay=1 means no decay
            exploration_decay=None if decay in (None, 1) else float(decay),
            exploration_decay_delay=None if decay in (None, 1) else delay,
            **extra,
        )
    cls = (
        acquisition.ExpectedImprovement
        if utility["kind"] == "ei"
        else acquisition.ProbabilityOfImprovement
    )
    return cls(xi=float(utility["xi"]), **extra)


def _bounds_space(space: Mapping, prefix: str = "space") -> dict:
    """``space`` with bayes_opt's ``(low, high)`` bounds turned into ``tune.uniform``."""
    converted: dict = {}
    for key, value in space.items():
        where = f"{prefix}[{key!r}]"
        if isinstance(value, tuple):
            if (
                len(value) != 2
                or not all(_is_number(v) and math.isfinite(v) for v in value)
                or not value[0] < value[1]
            ):
                raise invalid_value(
                    where,
                    value,
                    "bounds must be a (low, high) pair of finite numbers with low < high "
                    "(BayesOptSearch searches continuous floats only)",
                )
            value = uniform(float(value[0]), float(value[1]))
        elif isinstance(value, Mapping) and not isinstance(value, Domain):
            value = _bounds_space(value, where)
        node = converted
        # Ray's own spaces name nested parameters "a/b"
        *parents, leaf = str(key).split("/") if isinstance(key, str) else [key]
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return converted


class BayesOptSearch(Searcher):
    """Bayesian optimization with a Gaussian process (the bayesian-optimization package).

    Ray Tune's signature and defaults. The first ``random_search_steps`` configs are drawn
    uniformly at random (``points_to_evaluate`` and already evaluated points count among
    them), the following ones maximize the acquisition function of the GP fitted to every
    result so far.

    :param space: the search space, in bayes_opt's format (``{"x": (low, high)}``, nested
        parameters as dicts or ``"a/b"`` names) or as tune domains (``tune.uniform`` only).
        ``None``: taken from ``Tuner(param_space=...)``.
    :param metric: the metric to optimize; ``None``: ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"``; ``None``: ``TuneConfig.mode``.
    :param points_to_evaluate: configs to try first (every parameter given).
    :param utility_kwargs: the acquisition function, as Ray's dict: ``kind`` (``"ucb"``,
        ``"ei"`` or ``"poi"``), ``kappa`` (UCB), ``xi`` (EI, POI), optionally
        ``kappa_decay`` / ``kappa_decay_delay``. Default ``{"kind": "ucb", "kappa": 2.576,
        "xi": 0.0}``.
    :param random_state: the seed of the optimizer and of the random steps.
    :param random_search_steps: how many configs are drawn at random before the GP is used.
    :param verbose: bayes_opt's verbosity.
    :param patience: end the search (``FINISHED``) once one config has been suggested more
        than ``patience`` times; ``None``: never.
    :param skip_duplicate: return ``None`` instead of a config that was suggested before
        (the optimizer is asked again on the next call).
    :param analysis: earlier results (an ``ExperimentAnalysis`` or a list of trials) to feed
        to the optimizer first (errored trials are left out).
    :param evaluated_rewards: the ``metric`` values of ``points_to_evaluate``, already known:
        those points are registered with the optimizer, not run again.
    """

    supports = SearcherSupport(
        float=True,
        integer=False,
        categorical=False,
        log=False,
        quantized=False,
        normal=False,
        nested=True,
        conditional=False,
        multi_objective=False,
        points_to_evaluate=True,
        evaluated_rewards=True,
    )

    def __init__(
        self,
        space: dict | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict] | None = None,
        utility_kwargs: dict | None = None,
        random_state: int | None = 42,
        random_search_steps: int = 10,
        verbose: int = 0,
        patience: int | None = 5,
        skip_duplicate: bool = True,
        analysis: Any = None,
        *,
        evaluated_rewards: list[float] | None = None,
    ) -> None:
        _check_single_objective(metric, mode)
        super().__init__(metric=metric, mode=mode)
        if space is not None and not isinstance(space, Mapping):
            raise invalid_type("space", space, "expected a dict of (low, high) bounds or domains")
        if points_to_evaluate is not None and (
            not isinstance(points_to_evaluate, (list, tuple))
            or not all(isinstance(p, Mapping) for p in points_to_evaluate)
        ):
            raise invalid_type("points_to_evaluate", points_to_evaluate, "expected a list of dicts")
        if evaluated_rewards is not None:
            if points_to_evaluate is None or not isinstance(evaluated_rewards, (list, tuple)):
                raise invalid_value(
                    "evaluated_rewards",
                    evaluated_rewards,
                    "must be a list with one value per point of points_to_evaluate",
                )
            if len(evaluated_rewards) != len(points_to_evaluate):
                raise invalid_value(
                    "evaluated_rewards",
                    evaluated_rewards,
                    f"must have one value per point of points_to_evaluate "
                    f"({len(points_to_evaluate)})",
                )
            if not all(_is_number(r) for r in evaluated_rewards):
                raise invalid_value("evaluated_rewards", evaluated_rewards, "must be numbers")
        if random_state is not None and (
            isinstance(random_state, bool) or not isinstance(random_state, int)
        ):
            raise invalid_type("random_state", random_state, "expected an integer seed or None")
        if random_state is not None and random_state < 0:
            raise invalid_value("random_state", random_state, "must be an integer >= 0 or None")
        for name, value, least in (
            ("random_search_steps", random_search_steps, 0),
            ("verbose", verbose, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise invalid_value(name, value, f"must be an integer >= {least}")
        if patience is not None and (
            isinstance(patience, bool) or not isinstance(patience, int) or patience < 1
        ):
            raise invalid_value("patience", patience, "must be an integer >= 1, or None")
        if not isinstance(skip_duplicate, bool):
            raise invalid_type("skip_duplicate", skip_duplicate, "expected True or False")
        if analysis is not None and not (
            isinstance(analysis, (list, tuple, Trial)) or hasattr(analysis, "trials")
        ):
            raise invalid_type(
                "analysis", analysis, "expected an ExperimentAnalysis or a list of trials"
            )

        self._utility = _check_utility_kwargs(utility_kwargs)
        self._random_state = random_state
        self._random_search_steps = random_search_steps
        self._verbose = verbose
        self._patience = patience
        self._skip_duplicate = skip_duplicate
        self._analysis = analysis

        points = [dict(p) for p in points_to_evaluate or []]
        # Points with known rewards are registered, never suggested.
        self._points: list[dict] = [] if evaluated_rewards is not None else points
        self._known: list[tuple[Mapping, float]] = (
            list(zip(points, map(float, evaluated_rewards))) if evaluated_rewards else []
        )

        self._flat: FlatSpace | None = None
        self._bounds: dict[str, tuple[float, float]] = {}
        self._optimizer: Any = None
        self._utility_function: Any = None  # 1.x only: 2.x/3.x keep it in the optimizer
        self._live: dict[str, tuple[dict, tuple, bool]] = {}  # trial -> values, key, initial
        self._counts: dict[tuple, int] = {}  # how often each config was suggested
        self._initial_used = 0  # slots of the random_search_steps taken
        self._changes = 0  # bumped by every completion: a reason to ask the GP again
        self._waiting_at: int | None = None  # _changes when the GP last repeated a live trial
        # live trials that may not report soon (paused, or from before a restore)
        self._no_wait: set[str] = set()
        if space:
            self._setup(_bounds_space(space))

    # -- configuration ---------------------------------------------------------------------------
    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        _check_single_objective(metric, mode)
        if self._flat is not None:
            # Own space: refuse the param_space, but still take the experiment's metric/mode.
            self._metric = self._metric or metric
            self._mode = self._mode or mode
            return False
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        self._setup(config)
        return True

    def _setup(self, space: Mapping) -> None:
        flat = parse_space(space, searcher=type(self).__name__, supports=self.supports)
        if not flat.params:
            raise TuneValueError(
                "BayesOptSearch needs at least one parameter to search (tune.uniform or a "
                "(low, high) pair); the search space has none."
            )
        bounds = {}
        for param in flat.params:
            if not (math.isfinite(param.lower) and math.isfinite(param.upper)):
                raise TuneValueError(
                    f"BayesOptSearch cannot search parameter {param.name!r}: it needs finite "
                    f"bounds, got [{param.lower}, {param.upper}]. Use tune.uniform(low, high)."
                )
            bounds[param.name] = (float(param.lower), float(param.upper))
        self._flat = flat
        self._bounds = bounds
        # Check every point now, before any trial runs.
        self._points = [self._point_values(p) for p in self._points]
        self._known = [(self._point_values(p), r) for p, r in self._known]
        function = _acquisition_function(self._utility, self._random_state)
        if _LEGACY_API:
            self._utility_function = function
            self._optimizer = BayesianOptimization(
                f=None, pbounds=bounds, random_state=self._random_state, verbose=self._verbose
            )
        else:
            self._optimizer = BayesianOptimization(
                f=None,
                pbounds=bounds,
                acquisition_function=function,
                random_state=self._random_state,
                verbose=self._verbose,
            )

    def _point_values(
        self, point: Mapping, argument: str = "points_to_evaluate"
    ) -> dict[str, float]:
        """A config (nested, or flat with "a/b" names) as ``{name: float}`` inside bounds."""
        assert self._flat is not None
        if not isinstance(point, Mapping):
            raise invalid_type(argument, point, "expected a config dict")
        if all(name in point for name in self._bounds):
            raw = {name: point[name] for name in self._bounds}
        else:
            raw = self._flat.values_of(point)
        values = {}
        for name, value in raw.items():
            low, high = self._bounds[name]
            if not _is_number(value) or not low <= value <= high:
                raise invalid_value(
                    argument,
                    dict(point),
                    f"parameter {name!r} must be a number in [{low}, {high}], got {value!r}",
                )
            values[name] = float(value)
        return values

    def _ready(self) -> None:
        """Check metric/mode and register what was known before they were."""
        if self._flat is None:
            raise TuneError(
                "BayesOptSearch has no search space: pass space= to it, or use it with "
                "Tuner(param_space=...)."
            )
        if self._metric is None and self._mode is not None:
            self._metric = DEFAULT_METRIC  # Ray's anonymous metric
        if self._metric is None or self._mode is None:
            raise TuneError(
                f"BayesOptSearch needs a metric and a mode (got metric={self._metric!r}, "
                f"mode={self._mode!r}): pass them to it or to TuneConfig."
            )
        if self._analysis is not None:
            analysis, self._analysis = self._analysis, None
            self.add_evaluated_trials(analysis, self._metric)
        known, self._known = self._known, []
        for point, reward in known:
            if self._observe(self._point_values(point, "evaluated points"), reward):
                self._initial_used += 1

    # -- suggestions -----------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict | str | None:
        self._ready()
        initial = True
        if self._points:
            values = self._points.pop(0)
        elif self._initial_used < self._random_search_steps:
            values = self._random_values()
        else:
            if self._waiting_at == self._changes:
                return None  # still waiting on the live trial the GP repeated
            initial = False
            values = {
                name: min(max(float(v), self._bounds[name][0]), self._bounds[name][1])
                for name, v in self._gp_suggestion().items()
            }
        key = self._key(values)
        if not initial and self._skip_duplicate and any(
            key == live[1] and trial not in self._no_wait for trial, live in self._live.items()
        ):
            # The GP does not know about running trials and proposes one again: wait for its
            # result instead of counting the repeat towards patience (Ray's adapter ends the
            # search that way under concurrency). Not for paused trials or trials from before
            # a restore: they may not report for long, or ever, and waiting could hang.
            self._waiting_at = self._changes
            return None
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if self._patience is not None and count > self._patience:
            return FINISHED
        if count > 1 and self._skip_duplicate:
            logger.info("BayesOptSearch: skipping a duplicated config %s.", values)
            return None
        if initial:
            self._initial_used += 1
        self._live[trial_id] = (values, key, initial)
        return self._flat.to_config(values)

    def _gp_suggestion(self) -> dict:
        if not _LEGACY_API:
            return self._optimizer.suggest()
        params = self._optimizer.suggest(self._utility_function)
        # 1.x's maximize() decays kappa through update_params(); 2.x/3.x's acquisition
        # function does it at the end of its suggest(), as here.
        self._utility_function.update_params()
        return params

    def _random_values(self) -> dict[str, float]:
        # The optimizer's own uniform draw and random state (1.x and 2.x keep them on its
        # space): the same seed gives the same search as bayes_opt's maximize(init_points=...).
        optimizer = self._optimizer
        if hasattr(optimizer, "random_sample"):
            params = optimizer.random_sample(1)[0]
        else:
            params = optimizer.space.array_to_params(optimizer.space.random_sample())
        return {name: float(params[name]) for name in self._bounds}

    def _key(self, values: Mapping[str, float]) -> tuple:
        return tuple(
            round(values[name] / (_REPEAT_PRECISION * min(1.0, high - low)))
            for name, (low, high) in self._bounds.items()
        )

    # -- results ---------------------------------------------------------------------------------
    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        live = self._live.pop(trial_id, None)
        self._no_wait.discard(trial_id)
        if live is None:
            return
        self._changes += 1
        values, _, initial = live
        # Errored trials are not registered (as Ray does); an early-stopped trial's last
        # result is. A random step without a usable result is drawn again.
        value = None if error or not result else result.get(self._metric)
        if not self._observe(values, value) and initial:
            self._initial_used -= 1

    def on_pause(self, trial_id: str) -> None:
        self._no_wait.add(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        self._no_wait.discard(trial_id)

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Register a config evaluated elsewhere (errored ones are skipped; a pruned one's
        ``value`` is its last result, registered like an early-stopped trial's)."""
        if error:
            return
        if self._flat is None or self._mode is None:
            self._known.append((parameters, value))
            return
        self._changes += 1
        if self._observe(self._point_values(parameters, "parameters"), value):
            self._initial_used += 1

    def _observe(self, values: dict[str, float], value: Any) -> bool:
        """Register ``value`` (in ``mode``'s direction) for ``values``; False if unusable."""
        try:
            value = float(value)
        except (TypeError, ValueError):
            return False
        if not math.isfinite(value):
            return False
        key = self._key(values)
        self._counts[key] = self._counts.get(key, 0) or 1
        space = self._optimizer.space
        if space.params_to_array(values) in space:
            return True  # bayes_opt refuses a point twice (NotUniqueError); it knows it
        self._optimizer.register(params=values, target=value if self._mode == "max" else -value)
        return True

    # -- state -----------------------------------------------------------------------------------
    _STATE_KEYS = (
        "_metric", "_mode", "_utility", "_random_state", "_random_search_steps", "_verbose",
        "_patience", "_skip_duplicate", "_analysis", "_points", "_known", "_flat", "_bounds",
        "_optimizer", "_utility_function", "_live", "_counts", "_initial_used", "_changes", "_waiting_at",
    )

    def get_state(self) -> dict:
        return {key: getattr(self, key) for key in self._STATE_KEYS}

    def set_state(self, state: dict) -> None:
        for key in self._STATE_KEYS:
            if key in state:
                setattr(self, key, state[key])
        self._no_wait = set(self._live)


def _check_single_objective(metric: Any, mode: Any) -> None:
    if isinstance(metric, (list, tuple)):
        raise invalid_value(
            "metric", metric, "BayesOptSearch optimizes a single metric; pass its name"
        )
    if isinstance(mode, (list, tuple)):
        raise invalid_value("mode", mode, "BayesOptSearch optimizes one metric: 'min' or 'max'")
