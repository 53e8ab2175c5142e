"""``TuneBOHB``: the model of BOHB (hpbandster's ``BOHB`` config generator) as a searcher.

BOHB (Falkner et al., 2018) is HyperBand whose new configurations come from kernel density
estimates of the good and bad configurations seen at the largest budget that has enough
results. HyperBand itself is the scheduler's part: pair this searcher with
``tune_schedulers.HyperBandForBOHB``. The generator learns a trial's result at budget
``training_iteration`` where the trial pauses (a HyperBand rung) or ends, so with the
default FIFO scheduler it models the trials' final results.

Works with ConfigSpace 1.x (hpbandster 0.7.4 only uses APIs that 1.x still keeps, though
deprecated). ConfigSpace 1.x has no quantization (``q``), so quantized domains are refused.
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from collections.abc import Mapping
from typing import Any

from tune.errors import TuneError, TuneValueError, invalid_type, invalid_value
from tune.search.flat_space import (
    FlatSpace,
    Param,
    SearcherSupport,
    flatten_config,
    parse_space,
    unflatten_config,
)
from tune.search.searcher import Searcher

try:
    import ConfigSpace
    import numpy as np
    from hpbandster.optimizers.config_generators.bohb import BOHB as _ConfigGenerator
except ImportError as exc:
    raise ImportError(
        "TuneBOHB needs hpbandster and ConfigSpace, which are not installed: "
        "pip install 'tune-search[bohb]'"
    ) from exc

__all__ = ["TuneBOHB"]

# hpbandster calls ConfigSpace methods that 1.x deprecated (on every suggestion), and
# statsmodels warns about a future default RNG that BOHB's normal-reference bandwidths
# never use: noise for the user, nothing they can act on.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"hpbandster(\.|$)")
warnings.filterwarnings("ignore", message=r"After 0\.17 or January 2028", category=FutureWarning)

#: the keyword arguments of hpbandster's BOHB config generator (``bohb_config``)
_BOHB_CONFIG_KEYS = (
    "min_points_in_model",
    "top_n_percent",
    "num_samples",
    "random_fraction",
    "bandwidth_factor",
    "min_bandwidth",
)

_DEFAULT_METRIC = "_metric"  # Ray's anonymous metric, when only a mode is given


class _Job:
    """What hpbandster's ``new_result`` reads of a finished run."""

    __slots__ = ("result", "kwargs", "exception", "id")

    def __init__(self, loss: float | None, budget: float, config: dict) -> None:
        # result None is hpbandster's crashed run: it counts as loss inf (a bad config).
        self.result = None if loss is None else {"loss": loss}
        self.kwargs = {"budget": budget, "config": config}
        self.exception = None  # set, hpbandster logs a warning; tune reports errors itself
        self.id = None


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_bohb_config(bohb_config: Any) -> dict:
    if bohb_config is None:
        return {}
    if not isinstance(bohb_config, Mapping):
        raise invalid_type(
            "bohb_config", bohb_config, "expected a dict of hpbandster BOHB arguments or None"
        )
    accepted = ", ".join(_BOHB_CONFIG_KEYS)
    for key, value in bohb_config.items():
        if key not in _BOHB_CONFIG_KEYS:
            raise invalid_value(
                "bohb_config",
                dict(bohb_config),
                f"unknown key {key!r}; hpbandster's BOHB takes {accepted}",
            )
        ok = {
            "min_points_in_model": value is None or (_is_int(value) and value >= 1),
            "top_n_percent": _is_number(value) and 0 < value < 100,
            "num_samples": _is_int(value) and value >= 1,
            "random_fraction": _is_number(value) and 0 <= value <= 1,
            "bandwidth_factor": _is_number(value) and value > 0,
            "min_bandwidth": _is_number(value) and value >= 0,
        }[key]
        if not ok:
            what = {
                "min_points_in_model": "an integer >= 1 or None",
                "top_n_percent": "a number between 0 and 100 (exclusive)",
                "num_samples": "an integer >= 1",
                "random_fraction": "a number between 0 and 1",
                "bandwidth_factor": "a number > 0",
                "min_bandwidth": "a number >= 0",
            }[key]
            raise invalid_value(f"bohb_config[{key!r}]", value, f"must be {what}")
    return dict(bohb_config)


def _plain(value: Any) -> Any:
    """A numpy scalar from ConfigSpace as the Python value (configs must pickle and print
    like the user's own values)."""
    return value.item() if isinstance(value, np.generic) else value






class TuneBOHB(Searcher):
    """BOHB's config generator (hpbandster) as a search algorithm; pair it with
    ``HyperBandForBOHB``.

    :param space: the search space: a tune space (``{"lr": tune.loguniform(1e-4, 1)}``,
        nested dicts allowed) or a ``ConfigSpace.ConfigurationSpace`` (hyperparameter names
        with "/" become nested keys). ``None``: taken from ``Tuner(param_space=...)``.
    :param bohb_config: arguments of hpbandster's BOHB config generator:
        ``min_points_in_model``, ``top_n_percent``, ``num_samples``, ``random_fraction``,
        ``bandwidth_factor``, ``min_bandwidth``.
    :param metric: the metric to optimize (default: ``TuneConfig.metric``).
    :param mode: ``"min"`` or ``"max"`` (default: ``TuneConfig.mode``).
    :param points_to_evaluate: configs to run first; their results feed the model.
    :param seed: seeds the sampling (ConfigSpace's and the generator's random numbers).
    :param max_concurrent: at most this many trials running at once (paused trials do not
        count); ``<= 0``: no limit. ``ConcurrencyLimiter`` sets it.
    """

    supports = SearcherSupport(
        float=True,
        integer=True,
        categorical=True,
        log=True,
        quantized=False,  # ConfigSpace 1.x has no q
        normal=False,  # ConfigSpace's normal needs bounds tune.randn does not have
        nested=True,
        conditional=False,
        multi_objective=False,
        points_to_evaluate=True,
        evaluated_rewards=False,
    )
    #: ``HyperBandForBOHB`` (tune-schedulers) accepts only searchers that declare this.
    pairs_with_hyperband_for_bohb = True

    def __init__(
        self,
        space: dict | ConfigSpace.ConfigurationSpace | None = None,
        bohb_config: dict | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict] | None = None,
        seed: int | None = None,
        max_concurrent: int = 0,
    ) -> None:
        if metric is not None and not isinstance(metric, str):
            raise invalid_type(
                "metric",
                metric,
                "expected the name of one reported metric (TuneBOHB optimizes a single metric)",
            )
        super().__init__(metric=metric, mode=mode)
        if space is not None and not isinstance(space, (Mapping, ConfigSpace.ConfigurationSpace)):
            raise invalid_type(
                "space",
                space,
                "expected a tune search space (dict), a ConfigSpace.ConfigurationSpace or None",
            )
        if seed is not None and not _is_int(seed):
            raise invalid_type("seed", seed, "expected an integer or None")
        if not _is_int(max_concurrent):
            raise invalid_type(
                "max_concurrent", max_concurrent, "expected an integer (<= 0: no limit)"
            )
        if points_to_evaluate is not None and (
            not isinstance(points_to_evaluate, (list, tuple))
            or not all(isinstance(p, Mapping) for p in points_to_evaluate)
        ):
            raise invalid_type(
                "points_to_evaluate", points_to_evaluate, "expected a list of config dicts"
            )
        self._bohb_config = _check_bohb_config(bohb_config)
        self._seed = None if seed is None else int(seed)
        self._max_concurrent = int(max_concurrent)
        self._points_given = [copy.deepcopy(dict(p)) for p in points_to_evaluate or []]

        self._flat: FlatSpace | None = None  # set for a tune space
        self._configspace: ConfigSpace.ConfigurationSpace | None = None
        self._generator: _ConfigGenerator | None = None
        self._np_state: Any = None
        self._decode: list[tuple[str, Param]] = []
        self._fixed: dict[str, Param] = {}  # parameters with one possible value
        self._points: list[dict] = []
        # trial id -> the generator's config (hyperparameter name -> value) it was given
        self._trial_params: dict[str, dict] = {}
        # per trial: latest (budget, loss) not fed yet, latest budget seen, latest fed
        self._latest: dict[str, tuple[float, float]] = {}
        self._observed: dict[str, float] = {}
        self._fed: dict[str, float] = {}
        self._budgets: set[float] = set()  # budgets trials paused or ended at
        self.running: set[str] = set()
        self.paused: set[str] = set()

        if isinstance(space, ConfigSpace.ConfigurationSpace) or space:
            self._setup(space)

    # -- the space ------------------------------------------------------------------------------
    def _setup(self, space: Mapping | ConfigSpace.ConfigurationSpace) -> None:
        if isinstance(space, ConfigSpace.ConfigurationSpace):
            configspace = self._own_configspace(space)
            points = [self._configspace_point(configspace, p) for p in self._points_given]
        else:
            self._flat = parse_space(space, searcher=type(self).__name__, supports=self.supports)
            configspace = self._convert(self._flat)
            points = [self._tune_point(configspace, p) for p in self._points_given]
        if self._seed is not None:
            configspace.seed(self._seed)
        self._configspace = configspace
        self._points = points
        self._generator = _ConfigGenerator(configspace, **self._bohb_config)
        # hpbandster draws from numpy's global RNG; this searcher keeps its own stream and
        # swaps it in around every call into the library (see _library_rng).
        self._np_state = np.random.RandomState(self._seed).get_state()
        self._trial_params = {}
        self._latest, self._observed, self._fed = {}, {}, {}
        self._budgets = set()
        self.running = set()
        self.paused = set()

    def _own_configspace(
        self, space: ConfigSpace.ConfigurationSpace
    ) -> ConfigSpace.ConfigurationSpace:
        names = list(space.keys())
        for name in names:
            if isinstance(space[name], ConfigSpace.OrdinalHyperparameter):
                raise invalid_value(
                    "space",
                    space,
                    f"hyperparameter {name!r} is ordinal, which hpbandster's "
                    "BOHB does not support; encode it as an integer hyperparameter",
                )
        for name in names:
            for other in names:
                if other.startswith(name + "/"):
                    raise invalid_value(
                        "space",
                        space,
                        f"hyperparameter names {name!r} and {other!r} collide "
                        f"('/' nests: {name!r} cannot be both a value and a dict)",
                    )
        # A copy: seeding must not change the user's object.
        return copy.deepcopy(space)

    def _convert(self, flat: FlatSpace) -> ConfigSpace.ConfigurationSpace:
        configspace = ConfigSpace.ConfigurationSpace()
        self._decode, self._fixed = [], {}
        for param in flat.params:
            name = param.name
            if param.kind == "categorical":
                if len(param.categories) == 1:
                    # One category is no choice (and hpbandster's KDE divides by
                    # levels - 1): keep it out of the model.
                    self._fixed[name] = param
                    continue
                hyperparameter = ConfigSpace.CategoricalHyperparameter(
                    name, choices=list(range(len(param.categories)))
                )
            elif param.lower == param.upper:
                self._fixed[name] = param
                continue
            else:
                cls = (
                    ConfigSpace.UniformIntegerHyperparameter
                    if param.kind == "int"
                    else ConfigSpace.UniformFloatHyperparameter
                )
                lower, upper = param.lower, param.upper
                if param.kind == "int":
                    lower, upper = int(lower), int(upper)
                try:
                    hyperparameter = cls(name, lower=lower, upper=upper, log=param.log)
                except (ValueError, TypeError) as exc:
                    raise TuneValueError(
                        f"TuneBOHB cannot express parameter {name!r} "
                        f"(lower={param.lower!r}, upper={param.upper!r}, log={param.log}) "
                        f"in ConfigSpace: {exc}"
                    ) from exc
            configspace.add(hyperparameter)
            self._decode.append((name, param))
        return configspace

    def _tune_point(self, configspace: ConfigSpace.ConfigurationSpace, point: dict) -> dict:
        """A tune config from ``points_to_evaluate`` as the generator's config."""
        assert self._flat is not None
        values = self._flat.values_of(point)
        raw: dict[str, Any] = {}
        for name, param in self._decode:
            value = values[name]
            if param.kind == "categorical":
                raw[name] = param.index_of(value)
            elif param.kind == "int" and _is_number(value) and float(value).is_integer():
                raw[name] = int(value)
            elif param.kind == "float" and _is_number(value):
                raw[name] = float(value)
            else:
                raw[name] = value
        for name, param in self._fixed.items():
            fixed = param.category(0) if param.kind == "categorical" else param.lower
            if values[name] != fixed:
                raise invalid_value(
                    "points_to_evaluate", point, f"parameter {name!r} can only be {fixed!r}"
                )
        try:
            ConfigSpace.Configuration(configspace, values=raw)
        except (ValueError, TypeError) as exc:
            raise invalid_value(
                "points_to_evaluate", point, f"a value is outside the search space ({exc})"
            ) from exc
        return raw

    def _configspace_point(self, configspace: ConfigSpace.ConfigurationSpace, point: dict) -> dict:
        raw = flatten_config(point)
        try:
            ConfigSpace.Configuration(configspace, values=raw)
        except (ValueError, TypeError, KeyError) as exc:
            raise invalid_value(
                "points_to_evaluate", point, f"not a configuration of the ConfigSpace ({exc})"
            ) from exc
        return raw

    def _to_config(self, raw: dict) -> dict:
        if self._flat is None:
            return unflatten_config({k: _plain(v) for k, v in raw.items()}, "TuneBOHB")
        values: dict[str, Any] = {}
        for name, param in self._decode:
            values[name] = param.cast(raw[name])
        for name, param in self._fixed.items():
            values[name] = (
                param.category(0) if param.kind == "categorical" else param.cast(param.lower)
            )
        return self._flat.to_config(values)

    # -- Ray Tune's Searcher API ----------------------------------------------------------------
    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        if self._metric is None and isinstance(metric, str):
            self._metric = metric
        if self._mode is None and mode is not None:
            self._mode = mode
        if self._generator is not None:
            return False  # it has its own space (given to the constructor or set before)
        self._setup(config or {})
        return True

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        self._max_concurrent = int(max_concurrent)
        return True

    def _objective(self) -> tuple[str, float]:
        metric, mode = self._metric, self._mode
        if metric is None and mode is not None:
            metric = self._metric = _DEFAULT_METRIC
        if metric is None or mode is None:
            raise TuneError(
                f"TuneBOHB has no metric and mode (metric={metric!r}, mode={mode!r}): pass "
                "them to TuneBOHB(...) or to TuneConfig(metric=..., mode=...)."
            )
        return metric, (-1.0 if mode == "max" else 1.0)

    def suggest(self, trial_id: str) -> dict | None:
        if self._generator is None:
            raise TuneError(
                "TuneBOHB has no search space: pass space= to TuneBOHB(...) or "
                "param_space= to the Tuner."
            )
        self._objective()
        if 0 < self._max_concurrent <= len(self.running):
            return None
        if self._points:
            raw = self._points.pop(0)
        else:
            with self._library_rng():
                # hpbandster ignores the budget (it samples from its largest model).
                raw, _info = self._generator.get_config(None)
        self._trial_params[trial_id] = raw
        self.running.add(trial_id)
        return self._to_config(raw)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id not in self._trial_params:
            return
        if trial_id not in self.paused:
            self.running.add(trial_id)
        observed = self._observe(trial_id, result)
        if observed is not None and observed[0] in self._budgets:
            # A budget other trials stopped at (a rung): a result there is a rung result
            # even when the trial goes on without pausing (a bracket's last arrival).
            self._feed_latest(trial_id, stopped=False)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if trial_id not in self._trial_params:
            return
        if error:
            self._tell(trial_id, None, self._crash_budget(trial_id, result))
        else:
            if result:
                self._observe(trial_id, result)
            self._feed_latest(trial_id, stopped=True)
        del self._trial_params[trial_id]
        for per_trial in (self._latest, self._observed, self._fed):
            per_trial.pop(trial_id, None)
        self.running.discard(trial_id)
        self.paused.discard(trial_id)

    def on_pause(self, trial_id: str) -> None:
        if trial_id not in self._trial_params:
            return  # e.g. a Repeater's copy of a trial: not this searcher's
        # A paused trial holds no concurrency slot: HyperBandForBOHB needs new trials to fill
        # the bracket while the first ones wait at its budget.
        self.paused.add(trial_id)
        self.running.discard(trial_id)
        # It waits at a HyperBand rung: its latest result is the one at that budget.
        self._feed_latest(trial_id, stopped=True)

    def on_unpause(self, trial_id: str) -> None:
        if trial_id in self._trial_params:
            self.paused.discard(trial_id)
            self.running.add(trial_id)

    # -- feeding hpbandster ---------------------------------------------------------------------
    # BOHB models the results at the budgets its brackets stop trials at. Ray's
    # HyperBandForBOHB marks those results (hyperband_info); here they are the results a trial
    # pauses or ends after, and results at a budget some trial paused or ended at. Feeding
    # every training_iteration instead would make a budget per iteration, each with its own
    # model, and hpbandster drops results at budgets below its largest model.
    def _observe(self, trial_id: str, result: dict) -> tuple[float, float] | None:
        """Note ``result`` as the trial's latest (budget, loss); ``None`` without the metric."""
        metric, sign = self._objective()
        iteration = result.get("training_iteration")
        budget = iteration if _is_number(iteration) else self._observed.get(trial_id, 0) + 1
        self._observed[trial_id] = budget
        value = result.get(metric)
        if not _is_number(value):
            return None
        loss = sign * float(value)
        # NaN counts as inf in hpbandster (a bad config); -inf would count as the best.
        self._latest[trial_id] = (budget, loss if loss > -math.inf else math.inf)
        return self._latest[trial_id]

    def _feed_latest(self, trial_id: str, stopped: bool) -> None:
        latest = self._latest.pop(trial_id, None)
        if latest is None:
            return
        budget, loss = latest
        if budget <= self._fed.get(trial_id, 0):
            return  # in the model already (a result repeated after a pause or a restore)
        if stopped:
            self._budgets.add(budget)
        self._tell(trial_id, loss, budget)

    def _crash_budget(self, trial_id: str, result: dict | None) -> float:
        """The budget an errored trial was running to: the next budget trials stopped at
        after its last result, else the iteration it failed in."""
        last = self._observed.get(trial_id, 0)
        if result and _is_number(result.get("training_iteration")):
            last = max(last, result["training_iteration"])
        above = [b for b in self._budgets if b > last]
        return min(above) if above else last + 1

    def _tell(self, trial_id: str, loss: float | None, budget: float) -> None:
        self._fed[trial_id] = budget
        if len(self._configspace) == 0:
            return  # nothing to model (every parameter fixed)
        job = _Job(loss, budget, self._trial_params[trial_id])
        with self._library_rng():
            self._generator.new_result(job)

    def _library_rng(self) -> _LibraryRNG:
        return _LibraryRNG(self)

    # -- state ----------------------------------------------------------------------------------
    def get_state(self) -> dict:
        return {
            "version": 1,
            "metric": self._metric,
            "mode": self._mode,
            "bohb_config": self._bohb_config,
            "seed": self._seed,
            "max_concurrent": self._max_concurrent,
            "points_given": self._points_given,
            "flat": self._flat,
            "configspace": self._configspace,
            "generator": self._generator,
            "np_state": self._np_state,
            "decode": self._decode,
            "fixed": self._fixed,
            "points": self._points,
            "trial_params": self._trial_params,
            "latest": self._latest,
            "observed": self._observed,
            "fed": self._fed,
            "budgets": sorted(self._budgets),
            "running": sorted(self.running),
            "paused": sorted(self.paused),
        }

    def set_state(self, state: dict) -> None:
        self._metric = state["metric"]
        self._mode = state["mode"]
        self._bohb_config = state["bohb_config"]
        self._seed = state["seed"]
        self._max_concurrent = state["max_concurrent"]
        self._points_given = state["points_given"]
        self._flat = state["flat"]
        self._configspace = state["configspace"]
        self._generator = state["generator"]
        self._np_state = state["np_state"]
        self._decode = state["decode"]
        self._fixed = state["fixed"]
        self._points = state["points"]
        self._trial_params = state["trial_params"]
        self._latest = state["latest"]
        self._observed = state["observed"]
        self._fed = state["fed"]
        self._budgets = set(state["budgets"])
        self.running = set(state["running"])
        self.paused = set(state["paused"])


class _LibraryRNG:
    """Swap the searcher's numpy RNG state into numpy's global RNG for one library call.

    hpbandster draws from ``np.random`` directly; the swap keeps a seeded search
    reproducible and saved with the searcher, and leaves the user's global stream alone.
    Warnings from degenerate KDEs (a categorical with one level among the good configs)
    are hpbandster's known and handled case, so numpy's floating-point warnings are off.
    """

    __slots__ = ("_searcher", "_outside", "_errstate")

    def __init__(self, searcher: TuneBOHB) -> None:
        self._searcher = searcher

    def __enter__(self) -> None:
        self._outside = np.random.get_state()
        np.random.set_state(self._searcher._np_state)
        self._errstate = np.errstate(divide="ignore", invalid="ignore")
        self._errstate.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._errstate.__exit__(*exc)
        self._searcher._np_state = np.random.get_state()
        np.random.set_state(self._outside)
