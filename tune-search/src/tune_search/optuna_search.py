"""``OptunaSearch``: Optuna's samplers (TPE by default) as a tune search algorithm.

Ray Tune's ``OptunaSearch`` on tune's ``Searcher`` API. The space is a tune space (from
``Tuner(param_space=...)`` or ``space=``), a dict of Optuna distributions, or an Optuna
define-by-run function. Each suggestion is ``study.ask(distributions)``; each finished trial
is ``study.tell``: COMPLETE with its value(s), FAIL when it errored or reported NaN, PRUNED
when it ended without the metric or its last result says it was not done. Intermediate
results are passed on with ``trial.report`` (single objective).
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from tune.errors import TuneValueError, invalid_type, invalid_value
from tune.result import DEFAULT_METRIC, TRAINING_ITERATION
from tune.search.flat_space import (
    FlatSpace,
    Param,
    SearcherSupport,
    flatten_config,
    parse_space,
    unflatten_config,
)
from tune.search.sample import Domain
from tune.search.searcher import Searcher

try:
    import optuna
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )
    from optuna.samplers import BaseSampler, TPESampler
    from optuna.storages import BaseStorage, InMemoryStorage
    from optuna.trial import TrialState, create_trial
except ImportError as exc:  # the extra is not installed
    raise ImportError(
        f"OptunaSearch needs Optuna, which cannot be imported ({exc}). Install it with: "
        "pip install 'tune-search[optuna]'"
    ) from exc

__all__ = ["OptunaSearch"]

logger = logging.getLogger(__name__)

# A define-by-run function slower than this is probably training inside the space definition.
DEFINE_BY_RUN_WARN_THRESHOLD_S = 1.0

_TUNE, _OPTUNA, _DEFINE_BY_RUN = "tune", "optuna", "define-by-run"

#: a tune space, a dict of Optuna distributions, or a define-by-run function
OptunaSpace = Mapping[str, Any] | Callable[..., Any]


class OptunaSearch(Searcher):
    """A search algorithm that asks an Optuna study for configs (TPE unless ``sampler``).

    :param space: the search space, when not given as ``Tuner(param_space=...)``: a tune
        space (``{"lr": tune.loguniform(1e-4, 1e-1)}``), a dict of Optuna distributions
        (``{"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}``; nested
        dicts become ``"a/b"`` names), or a define-by-run function ``space(trial)`` that calls
        ``trial.suggest_*`` and returns ``None`` or a dict of constants. Names with ``"/"``
        make nested configs. The function only defines the space: no training in it.
    :param metric: the reported metric to optimize; a list for multi-objective search.
        Defaults to ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"`` (a list matching ``metric`` for multi-objective).
        Defaults to ``TuneConfig.mode``.
    :param points_to_evaluate: configs to run first (``study.enqueue_trial``).
    :param sampler: any ``optuna.samplers.BaseSampler``; default ``TPESampler(seed=seed)``
        (also for multi-objective search, which TPE supports). Seed it yourself.
    :param study_name: the Optuna study's name (default ``"optuna"``).
    :param storage: an ``optuna.storages.BaseStorage`` for the study (default in memory).
    :param seed: the seed of the default sampler; an error together with ``sampler``.
    :param evaluated_rewards: the known results of ``points_to_evaluate`` (a value per
        point, a list of values for multi-objective): added to the study as finished trials
        instead of being run. Not with a define-by-run ``space``.
    """

    supports = SearcherSupport(
        float=True,
        integer=True,
        categorical=True,
        log=True,
        quantized=True,
        normal=False,  # Optuna has no normal distribution
        nested=True,
        conditional=False,  # static distributions only; define-by-run spaces can branch
        multi_objective=True,
        points_to_evaluate=True,
        evaluated_rewards=True,
    )

    def __init__(
        self,
        space: OptunaSpace | None = None,
        metric: str | list[str] | None = None,
        mode: str | list[str] | None = None,
        points_to_evaluate: list[dict] | None = None,
        sampler: BaseSampler | None = None,
        study_name: str | None = None,
        storage: BaseStorage | None = None,
        seed: int | None = None,
        evaluated_rewards: list | None = None,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        _check_modes(mode)
        if sampler is not None and not isinstance(sampler, BaseSampler):
            raise invalid_type(
                "sampler", sampler, "expected an optuna.samplers.BaseSampler instance or None"
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise invalid_type("seed", seed, "expected an int or None")
        if sampler is not None and seed is not None:
            raise invalid_value(
                "seed",
                seed,
                "seed only seeds the default TPESampler; seed the sampler you pass instead "
                f"(e.g. {type(sampler).__name__}(seed={seed}))",
            )
        if study_name is not None and not isinstance(study_name, str):
            raise invalid_type("study_name", study_name, "expected a str or None")
        if storage is not None and not isinstance(storage, BaseStorage):
            raise invalid_type(
                "storage", storage, "expected an optuna.storages.BaseStorage instance or None"
            )
        self._points = _check_points(points_to_evaluate)
        self._rewards = _check_rewards(evaluated_rewards, self._points)
        if self._rewards is not None and callable(space) and not isinstance(space, Mapping):
            raise invalid_value(
                "evaluated_rewards",
                evaluated_rewards,
                "cannot be used with a define-by-run space (its distributions are unknown "
                "before it runs); give space as a dict of distributions or a tune space",
            )
        self._sampler = sampler
        self._seed = seed
        self._study_name = study_name or "optuna"
        self._storage = storage
        self._study: optuna.Study | None = None
        self._ot_trials: dict[str, optuna.Trial] = {}
        self._last_step: dict[str, int] = {}
        self._space_kind: str | None = None
        self._own_space = False
        self._flat: FlatSpace | None = None  # tune spaces
        self._casts: list[tuple[str, Callable[[Any], Any]]] = []  # tune spaces: name, cast
        self._define_by_run: Callable | None = None
        self._distributions: dict[str, BaseDistribution] = {}
        self._constants: dict[str, Any] = {}  # Optuna dict spaces: flat name -> constant
        self._names: list[str] = []  # Optuna dict spaces: every flat name in order
        if space is not None:
            self._set_space(space, "space")
            self._own_space = True
            if self._mode is not None:
                self._setup_study()

    # -- the search space ------------------------------------------------------------------------
    def _set_space(self, space: Any, argument: str) -> None:
        if isinstance(space, Mapping):
            if _has_tune_domain(space):
                flat = parse_space(space, searcher=type(self).__name__, supports=self.supports)
                self._flat = flat
                self._distributions = {p.name: _distribution(p) for p in flat.params}
                self._casts = [(p.name, _caster(p)) for p in flat.params]
                self._space_kind = _TUNE
                return
            self._constants, self._distributions, self._names = _optuna_space(space, argument)
            self._space_kind = _OPTUNA
            return
        if callable(space):
            self._define_by_run = space
            self._space_kind = _DEFINE_BY_RUN
            return
        raise invalid_type(
            argument,
            space,
            "expected a tune search space dict, a dict of optuna distributions, or a "
            "define-by-run function space(trial)",
        )

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        """Take ``TuneConfig``'s metric and mode where none were given and the
        ``param_space`` unless the searcher was created with its own ``space`` (then
        ``False``)."""
        if self._metric is None and metric is not None:
            self._metric = metric
        if self._mode is None and mode is not None:
            _check_modes(mode)
            self._mode = mode
        if self._own_space:
            if self._study is None and self._mode is not None:
                self._setup_study()
            return False
        if self._study is not None:
            # Set up by an earlier experiment: its study only fits the same space.
            before = (self._space_kind, self._distributions)
            self._set_space(config or {}, "param_space")
            if (self._space_kind, self._distributions) != before:
                raise TuneValueError(
                    "This OptunaSearch was already set up for another search space; create a "
                    "new OptunaSearch for each experiment."
                )
            return True
        self._set_space(config or {}, "param_space")
        if self._mode is not None:
            self._setup_study()
        return True

    # -- the study ------------------------------------------------------------------------------
    def _objectives(self) -> list[str] | None:
        return list(self._metric) if isinstance(self._metric, (list, tuple)) else None

    def _setup_study(self) -> None:
        if self._space_kind is None:
            raise TuneValueError(
                "OptunaSearch has no search space: pass space=... or a param_space with "
                "search-space domains to tune.Tuner."
            )
        if self._mode is None:
            raise TuneValueError(
                "OptunaSearch needs a mode ('min' or 'max'): pass metric and mode to "
                "OptunaSearch or to tune.TuneConfig."
            )
        # (No metric yet is fine: the study needs only directions, and TuneConfig's metric
        # may still come.)
        if self._metric is not None or isinstance(self._mode, (list, tuple)):
            _check_metric_matches_mode(self._metric, self._mode)
        modes = list(self._mode) if isinstance(self._mode, (list, tuple)) else [self._mode]
        directions = ["minimize" if m == "min" else "maximize" for m in modes]
        sampler = self._sampler if self._sampler is not None else TPESampler(seed=self._seed)
        _quiet_optuna()
        self._study = optuna.create_study(
            storage=self._storage if self._storage is not None else InMemoryStorage(),
            sampler=sampler,
            pruner=optuna.pruners.NopPruner(),  # tune's schedulers stop trials, not Optuna
            study_name=self._study_name,
            load_if_exists=True,
            directions=directions,
        )
        if self._rewards is not None:
            for point, reward in zip(self._points, self._rewards):
                self._add_trial(point, reward, names=("points_to_evaluate", "evaluated_rewards"))
        else:
            for point in self._points:
                self._study.enqueue_trial(self._point_params(point, "points_to_evaluate"))
        self._points, self._rewards = [], None  # now part of the study

    def _ready_study(self) -> optuna.Study:
        if self._study is None:
            self._setup_study()
        assert self._study is not None
        return self._study

    def _ready_to_suggest(self) -> optuna.Study:
        study = self._ready_study()
        if self._metric is None:
            self._metric = DEFAULT_METRIC  # Ray Tune's anonymous metric, as with mode only
        return study

    def _point_params(self, point: Mapping, argument: str) -> dict[str, Any]:
        """A config as Optuna parameters (categorical indices for tune spaces)."""
        if self._space_kind == _TUNE:
            assert self._flat is not None
            by_name = self._flat.by_name()
            values = self._flat.values_of(point)
            return {
                name: _internal_value(by_name[name], value, argument)
                for name, value in values.items()
            }
        flat = flatten_config(point)
        if self._space_kind == _OPTUNA:
            missing = [n for n in self._distributions if n not in flat]
            if missing:
                raise invalid_value(
                    argument,
                    point,
                    f"each config must give every parameter of the space; missing {missing}",
                )
            return {name: flat[name] for name in self._distributions}
        return flat  # define-by-run: Optuna uses the names the function suggests

    # -- Searcher API ---------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict | None:
        study = self._ready_to_suggest()
        trial = self._ot_trials.get(trial_id)
        if self._space_kind == _DEFINE_BY_RUN:
            if trial is None:
                trial = self._ot_trials[trial_id] = study.ask()
            return self._run_define_by_run(trial)
        if trial is None:
            trial = self._ot_trials[trial_id] = study.ask(self._distributions)
        params = trial.params
        if self._space_kind == _TUNE:
            assert self._flat is not None
            return self._flat.to_config({name: cast(params[name]) for name, cast in self._casts})
        flat = {
            name: params[name] if name in params else self._constants[name] for name in self._names
        }
        return unflatten_config(flat, "OptunaSearch")

    def _run_define_by_run(self, trial: optuna.Trial) -> dict:
        assert self._define_by_run is not None
        start = time.monotonic()
        constants = self._define_by_run(trial)
        took = time.monotonic() - start
        if took > DEFINE_BY_RUN_WARN_THRESHOLD_S:
            warnings.warn(
                f"The define-by-run space function took {took:.1f} s; it should only call "
                "trial.suggest_*: train in the trainable passed to tune.Tuner.",
                stacklevel=3,
            )
        values = dict(trial.params)
        if constants is not None:
            if not isinstance(constants, Mapping) or not all(isinstance(k, str) for k in constants):
                raise invalid_type(
                    "space",
                    constants,
                    "the define-by-run function must return None or a dict of constants "
                    "with str keys",
                )
            values.update(constants)
        return unflatten_config(values, "OptunaSearch")

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        trial = self._ot_trials.get(trial_id)
        if trial is None or self._objectives() is not None:
            return  # Optuna keeps no intermediate values for multi-objective studies
        value = _finite(result.get(self._metric))
        step = result.get(TRAINING_ITERATION)
        if value is None or isinstance(step, bool) or not isinstance(step, int) or step < 0:
            return
        if step <= self._last_step.get(trial_id, -1):
            return
        self._last_step[trial_id] = step
        trial.report(value, step)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        trial = self._ot_trials.pop(trial_id, None)
        last_step = self._last_step.pop(trial_id, -1)
        if trial is None:
            logger.debug("OptunaSearch: ignoring completion of unknown trial %s", trial_id)
            return
        assert self._study is not None
        objectives = self._objectives()
        names = objectives if objectives is not None else [self._metric]
        raw = [result.get(name) for name in names] if result else [None] * len(names)
        if error:
            self._study.tell(trial, state=TrialState.FAIL)
            return
        if any(not _is_number(v) for v in raw):
            # Ended without the metric: Optuna's pruned (its last intermediate value counts).
            self._study.tell(trial, state=TrialState.PRUNED)
            return
        values = [float(v) for v in raw]
        if any(math.isnan(v) for v in values):
            self._study.tell(trial, state=TrialState.FAIL)  # what Study.optimize does
            return
        if result.get("done") is False:
            # Stopped before it was done: pruned, valued by its last result (Optuna takes a
            # pruned trial's value from its last intermediate value).
            step = result.get(TRAINING_ITERATION)
            if not isinstance(step, int) or isinstance(step, bool):
                step = last_step + 1
            if objectives is None and step > last_step and math.isfinite(values[0]):
                trial.report(values[0], step)
            self._study.tell(trial, state=TrialState.PRUNED)
            return
        self._study.tell(trial, values if objectives is not None else values[0])

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float | list[float],
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Add a point evaluated elsewhere to the study as a finished trial."""
        self._ready_study()
        self._add_trial(parameters, value, error, pruned, intermediate_values)

    def _add_trial(
        self,
        parameters: Mapping,
        value: Any,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
        names: tuple[str, str] = ("parameters", "value"),
    ) -> None:
        assert self._study is not None
        if self._space_kind == _DEFINE_BY_RUN:
            raise TuneValueError(
                "OptunaSearch cannot add evaluated points to a define-by-run space: its "
                "distributions are unknown. Give space as a dict of distributions or a tune "
                "space."
            )
        params = self._point_params(parameters, names[0])
        objectives = self._objectives()
        values = _reward_values(value, objectives, names[1])
        state = TrialState.COMPLETE
        if error:
            state, values = TrialState.FAIL, None
        elif pruned:
            state = TrialState.PRUNED
        elif any(math.isnan(v) for v in values):
            state, values = TrialState.FAIL, None
        steps = (
            {i: float(v) for i, v in enumerate(intermediate_values)}
            if intermediate_values
            else None
        )
        try:
            frozen = create_trial(
                state=state,
                values=values,
                params=params,
                distributions={name: self._distributions[name] for name in params},
                intermediate_values=steps,
            )
        except ValueError as exc:
            raise invalid_value(names[0], parameters, f"not in the search space: {exc}") from exc
        self._study.add_trial(frozen)

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        _quiet_optuna()  # a restored study logs like a fresh one


# -- helpers --------------------------------------------------------------------------------------
def _quiet_optuna() -> None:
    # Optuna logs every trial at INFO; tune reports trials itself. A user's own choice of
    # another level is left alone.
    if optuna.logging.get_verbosity() == optuna.logging.INFO:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _finite(value: Any) -> float | None:
    if not _is_number(value):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _check_modes(mode: Any) -> None:
    modes = mode if isinstance(mode, (list, tuple)) else [mode]
    for one in modes:
        if one == "obs":
            raise invalid_value(
                "mode", mode, "Optuna optimizes every objective: each mode must be 'min' or 'max'"
            )


def _check_metric_matches_mode(metric: Any, mode: Any) -> None:
    if isinstance(mode, (list, tuple)) != isinstance(metric, (list, tuple)):
        raise invalid_value(
            "metric",
            metric,
            f"must be a list exactly when mode is a list (mode={mode!r})",
        )
    if isinstance(mode, (list, tuple)) and len(mode) != len(metric):
        raise invalid_value("metric", metric, f"must be as long as mode={list(mode)!r}")


def _check_points(points: Any) -> list[dict]:
    if points is None:
        return []
    if not isinstance(points, (list, tuple)) or not all(isinstance(p, Mapping) for p in points):
        raise invalid_type("points_to_evaluate", points, "expected a list of config dicts")
    return [dict(p) for p in points]


def _check_rewards(rewards: Any, points: list[dict]) -> list | None:
    if rewards is None:
        return None
    if not isinstance(rewards, (list, tuple)):
        raise invalid_type(
            "evaluated_rewards", rewards, "expected a list with a result per points_to_evaluate"
        )
    if len(rewards) != len(points):
        raise invalid_value(
            "evaluated_rewards",
            rewards,
            f"must have one result per points_to_evaluate config ({len(points)})",
        )
    for reward in rewards:
        parts = reward if isinstance(reward, (list, tuple)) else [reward]
        if not parts or not all(_is_number(v) for v in parts):
            raise invalid_value(
                "evaluated_rewards",
                rewards,
                "each result must be a number (a list of numbers for multi-objective search)",
            )
    return list(rewards)


def _reward_values(value: Any, objectives: list[str] | None, argument: str) -> list[float]:
    if objectives is None:
        if not _is_number(value):
            raise invalid_value(argument, value, "expected a number for a single metric")
        return [float(value)]
    if (
        not isinstance(value, (list, tuple))
        or len(value) != len(objectives)
        or not all(_is_number(v) for v in value)
    ):
        raise invalid_value(
            argument, value, f"expected a list of {len(objectives)} numbers, one per {objectives}"
        )
    return [float(v) for v in value]


def _has_tune_domain(node: Any) -> bool:
    if isinstance(node, Domain):
        return True
    if isinstance(node, Mapping):
        return "grid_search" in node or any(_has_tune_domain(v) for v in node.values())
    if isinstance(node, (list, tuple)):
        return any(_has_tune_domain(v) for v in node)
    return False


def _distribution(param: Param) -> BaseDistribution:
    """The Optuna distribution of a tune parameter, built once per search."""
    if param.kind == "categorical":
        return CategoricalDistribution(list(range(len(param.categories))))
    domain: Any = param.domain
    if param.q is not None:
        # Draw between the extreme multiples of q, so rounding (Param.cast) stays inside the
        # bounds: Optuna's step grid starts at ``low`` and must be the multiples of q.
        low, high = domain.min_value, domain.max_value
        if param.log:  # Optuna takes no step with log: rounded by Param.cast
            cls = FloatDistribution if param.kind == "float" else IntDistribution
            return cls(low, high, log=True)
        if param.kind == "float":
            return FloatDistribution(low, high, step=param.q)
        return IntDistribution(int(low), int(high), step=int(param.q))
    if param.kind == "float":
        return FloatDistribution(param.lower, param.upper, log=param.log)
    return IntDistribution(int(param.lower), int(param.upper), log=param.log)


def _caster(param: Param) -> Callable[[Any], Any]:
    """Optuna's value -> the config's value."""
    if param.kind == "float" and param.q is not None:
        # Param.cast keeps an int for an integer q (qloguniform(1, 100, 5) -> 30): floats
        # stay floats, as tune's own sampling gives them.
        return functools.partial(_float_cast, param)
    return param.cast


def _float_cast(param: Param, raw: Any) -> float:
    return float(param.cast(raw))


def _internal_value(param: Param, value: Any, argument: str) -> Any:
    """A config value (``points_to_evaluate``) as the value Optuna knows for ``param``."""
    if param.kind == "categorical":
        return param.index_of(value)
    if not _is_number(value) or not param.lower <= value <= param.upper:
        raise invalid_value(
            argument,
            value,
            f"parameter {param.name!r} must be a number within [{param.lower!r}, {param.upper!r}]",
        )
    return param.cast(value)


def _optuna_space(
    space: Mapping, argument: str
) -> tuple[dict[str, Any], dict[str, BaseDistribution], list[str]]:
    flat = flatten_config(space)
    distributions = {k: v for k, v in flat.items() if isinstance(v, BaseDistribution)}
    if not distributions:
        raise invalid_value(
            argument,
            space,
            "holds no search-space definitions: give tune domains (tune.uniform, ...), "
            "optuna distributions, or a define-by-run function",
        )
    constants = {k: v for k, v in flat.items() if k not in distributions}
    return constants, distributions, list(flat)
