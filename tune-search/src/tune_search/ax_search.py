"""``AxSearch``: Ax's Bayesian optimization (``AxClient``) as a tune search algorithm.

Ray Tune's ``AxSearch`` on tune's ``Searcher`` API. The space is a tune space (from
``Tuner(param_space=...)`` or ``space=``), a list of Ax parameter dicts, or the experiment
of an ``AxClient`` you created yourself. Each suggestion is ``get_next_trial`` (or
``attach_trial`` for ``points_to_evaluate``); a finished trial is ``complete_trial`` with
its last result (also when a scheduler stopped it early, as Ray Tune does), an errored trial
``log_trial_failure``, and a trial whose result lacks the metric or holds NaN/inf is
abandoned. While Ax waits for data (sequential initialization, parallelism limits)
``suggest`` answers ``None`` and the controller asks again later.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import numbers
import pickle
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import cloudpickle

from tune.errors import TuneError, TuneValueError, invalid_type, invalid_value
from tune.result import DEFAULT_METRIC
from tune.search.flat_space import (
    FlatSpace,
    Param,
    SearcherSupport,
    flatten_config,
    parse_space,
    unflatten_config,
)
from tune.search.searcher import Searcher

# Importing Ax logs "Ax SQL storage initialized ..." at INFO level: not news to a tune user.
logging.getLogger("ax.storage.sqa_store.with_db_settings_base").addFilter(
    lambda record: record.levelno >= logging.WARNING
)

try:
    from ax.exceptions.core import DataRequiredError
    from ax.exceptions.generation_strategy import MaxParallelismReachedException
    from ax.service.ax_client import AxClient
    from ax.service.utils.instantiation import ObjectiveProperties
except ImportError as exc:  # the extra is not installed
    raise ImportError(
        f"AxSearch needs Ax, which cannot be imported ({exc}). Install it with: "
        "pip install 'tune-search[ax]'"
    ) from exc

__all__ = ["AxSearch"]

logger = logging.getLogger(__name__)

# ``**ax_kwargs`` go to ``AxClient(...)`` (as in Ray Tune) or, for the names only
# ``create_experiment`` takes (``choose_generation_strategy_kwargs``, ``tracking_metric_names``,
# ...), to ``create_experiment``; the arguments AxSearch sets itself are not accepted there.
_CLIENT_KWARGS = frozenset(inspect.signature(AxClient.__init__).parameters) - {"self"}
_OWN_EXPERIMENT_ARGS = frozenset(
    {"parameters", "objectives", "parameter_constraints", "outcome_constraints"}
)
_EXPERIMENT_KWARGS = (
    frozenset(inspect.signature(AxClient.create_experiment).parameters)
    - {"self"}
    - _OWN_EXPERIMENT_ARGS
    - _CLIENT_KWARGS
)

# Announcements Ax logs when a client and its generation strategy are created ("Random seed
# set to ...", "Using Bayesian Optimization generation strategy ..."): notices, not problems.
_NOISY_LOGGERS = ("ax.service.ax_client", "ax.generation_strategy.dispatch_utils")


def _drop_notices(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


@contextlib.contextmanager
def _quiet_setup() -> Iterator[None]:
    # A filter, not a level: AxClient(verbose_logging=False) sets its logger's level itself.
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    for lg in loggers:
        lg.addFilter(_drop_notices)
    try:
        with warnings.catch_warnings():
            # AxClient announces its removal in Ax 1.4 (the pinned range stays below it).
            warnings.filterwarnings(
                "ignore", message=".*AxClient.*deprecated", category=DeprecationWarning
            )
            yield
    finally:
        for lg in loggers:
            lg.removeFilter(_drop_notices)


def _has_experiment(client: Any) -> bool:
    return getattr(client, "_experiment", None) is not None


def _objectives_of(client: Any) -> tuple[str | list[str], str | list[str]]:
    """The metric(s) and mode(s) of an existing Ax experiment's objective."""
    objective = client.experiment.optimization_config.objective
    subs = getattr(objective, "objectives", None)  # MultiObjective before Ax 1.3
    if subs:
        names = [sub.metric.name for sub in subs]
        return names, ["min" if sub.minimize else "max" for sub in subs]
    if getattr(objective, "is_multi_objective", False):
        weights = objective.metric_weights  # Ax >= 1.3: negative weight = minimized
        if len(weights) == len(objective.metric_names):
            return list(objective.metric_names), ["min" if w < 0 else "max" for _, w in weights]
    names = list(objective.metric_names)
    if len(names) != 1:
        raise invalid_value(
            "ax_client",
            client,
            f"its experiment's objective {objective!r} combines several metrics into one; "
            "AxSearch needs one metric per objective",
        )
    return names[0], "min" if objective.minimize else "max"


def _reported_metrics(client: Any) -> list[str]:
    """The metrics Ax needs in a completed trial: objectives and outcome constraints."""
    config = client.experiment.optimization_config
    names = getattr(config, "metric_names", None)
    if names is None:  # Ax < 1.3
        names = config.metrics
    objective = list(config.objective.metric_names)
    return objective + sorted(set(names) - set(objective))






def _ax_parameter(param: Param) -> dict[str, Any]:
    """Ax's parameter dict for one tune parameter. Categories are given to Ax as indices
    (0..n-1, unordered): Ax only holds str/int/float/bool values, tune's may be anything."""
    if param.kind == "categorical":
        count = len(param.categories)
        if count == 1:  # Ax refuses a choice of one value
            return {"name": param.name, "type": "fixed", "value": 0}
        return {
            "name": param.name,
            "type": "choice",
            "values": list(range(count)),
            "value_type": "int",
            "is_ordered": False,
            # Ax orders a choice of two itself and then wants numeric values sorted: they are.
            "sort_values": True,
        }
    lower, upper = param.lower, param.upper
    value_type = "int" if param.kind == "int" else "float"
    if lower == upper:  # Ax refuses an empty range
        return {"name": param.name, "type": "fixed", "value": param.cast(lower)}
    return {
        "name": param.name,
        "type": "range",
        "bounds": [int(lower), int(upper)] if value_type == "int" else [float(lower), float(upper)],
        "value_type": value_type,
        "log_scale": bool(param.log),
    }


def _check_str_list(argument: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise invalid_type(argument, value, 'expected a list of strings such as "x + y <= 2.0"')
    for item in value:
        if not isinstance(item, str):
            raise invalid_type(argument, item, f"every item of {argument} must be a string")
    return list(value)


class AxSearch(Searcher):
    """A search algorithm that asks an Ax experiment (``AxClient``) for configs.

    :param space: the search space, when not given as ``Tuner(param_space=...)``: a tune
        space (``{"lr": tune.loguniform(1e-4, 1e-1)}``) or a list of Ax parameter dicts
        (``[{"name": "lr", "type": "range", "bounds": [1e-4, 0.1], "log_scale": True}]``;
        names with ``"/"`` make nested configs).
    :param metric: the reported metric to optimize; a list for multi-objective search.
        Defaults to ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"`` (a list matching ``metric`` for multi-objective).
        Defaults to ``TuneConfig.mode``.
    :param points_to_evaluate: configs to run first (``AxClient.attach_trial``).
    :param parameter_constraints: Ax parameter constraints such as ``"x + y <= 2.0"`` or
        ``"x <= y"`` (parameter names as Ax sees them: ``"a/b"`` for nested ones).
    :param outcome_constraints: Ax outcome constraints such as ``"metric_2 >= 0.5"``; every
        trial must report those metrics too.
    :param ax_client: an ``AxClient`` to use. With its experiment already created, the space,
        metric, mode and constraints come from that experiment (pass none of them here);
        without one, AxSearch creates the experiment on it.
    :param evaluated_rewards: the known results of ``points_to_evaluate`` (a number per
        point, or a dict ``{metric: value}`` for several objectives or outcome
        constraints): attached to the experiment as completed trials instead of being run.
    :param ax_kwargs: passed to ``AxClient(...)`` (``random_seed``, ``generation_strategy``,
        ``enforce_sequential_optimization``, ``verbose_logging`` (default ``False``), ...) or,
        for the names only ``AxClient.create_experiment`` takes
        (``choose_generation_strategy_kwargs``, ``tracking_metric_names``, ...), to that.
    """

    supports = SearcherSupport(
        float=True,
        integer=True,
        categorical=True,
        log=True,
        quantized=False,
        normal=False,
        nested=True,
        conditional=False,
        multi_objective=True,
        points_to_evaluate=True,
        evaluated_rewards=True,
    )

    def __init__(
        self,
        space: dict | list[dict] | None = None,
        metric: str | list[str] | None = None,
        mode: str | list[str] | None = None,
        points_to_evaluate: list[dict] | None = None,
        parameter_constraints: list[str] | None = None,
        outcome_constraints: list[str] | None = None,
        ax_client: AxClient | None = None,
        *,
        evaluated_rewards: list[Any] | None = None,
        **ax_kwargs: Any,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        if isinstance(mode, (list, tuple)) and any(one not in ("min", "max") for one in mode):
            raise invalid_value("mode", mode, "each mode must be 'min' or 'max' for Ax")
        if space is not None and not isinstance(space, (Mapping, list, tuple)):
            raise invalid_type(
                "space",
                space,
                "expected a tune search space (dict) or a list of Ax parameter dicts",
            )
        if isinstance(space, (list, tuple)):
            for item in space:
                if not isinstance(item, Mapping) or "name" not in item:
                    raise invalid_value(
                        "space",
                        item,
                        "an Ax parameter is a dict with at least 'name' and 'type' "
                        "(e.g. {'name': 'x', 'type': 'range', 'bounds': [0.0, 1.0]})",
                    )
        if points_to_evaluate is not None:
            if not isinstance(points_to_evaluate, (list, tuple)) or not all(
                isinstance(p, Mapping) for p in points_to_evaluate
            ):
                raise invalid_type(
                    "points_to_evaluate", points_to_evaluate, "expected a list of config dicts"
                )
        if evaluated_rewards is not None:
            if not isinstance(evaluated_rewards, (list, tuple)):
                raise invalid_type(
                    "evaluated_rewards", evaluated_rewards, "expected a list, one per point"
                )
            if len(evaluated_rewards) != len(points_to_evaluate or []):
                raise invalid_value(
                    "evaluated_rewards",
                    evaluated_rewards,
                    f"needs one reward per point of points_to_evaluate "
                    f"({len(points_to_evaluate or [])} given)",
                )
        parameter_constraints = _check_str_list("parameter_constraints", parameter_constraints)
        outcome_constraints = _check_str_list("outcome_constraints", outcome_constraints)
        if ax_client is not None and not isinstance(ax_client, AxClient):
            raise invalid_type("ax_client", ax_client, "expected an ax.service.ax_client.AxClient")
        if ax_client is not None and ax_kwargs:
            raise invalid_value(
                "ax_kwargs",
                ax_kwargs,
                "AxClient arguments cannot be combined with ax_client (configure that client "
                "yourself)",
            )
        if _has_experiment(ax_client):
            given = {
                "space": space,
                "metric": metric,
                "mode": mode,
                "parameter_constraints": parameter_constraints,
                "outcome_constraints": outcome_constraints,
            }
            clashing = [name for name, value in given.items() if value]
            if clashing:
                raise invalid_value(
                    clashing[0],
                    given[clashing[0]],
                    "the ax_client's experiment already defines the space, metric, mode and "
                    "constraints; do not pass them to AxSearch as well",
                )
        client_kwargs, experiment_kwargs = {}, {}
        for key, value in ax_kwargs.items():
            if key in _CLIENT_KWARGS:
                client_kwargs[key] = value
            elif key in _EXPERIMENT_KWARGS:
                experiment_kwargs[key] = value
            else:
                raise invalid_value(
                    key,
                    value,
                    "not an argument of AxSearch, AxClient or AxClient.create_experiment; "
                    f"AxClient takes {', '.join(sorted(_CLIENT_KWARGS))} and "
                    f"create_experiment {', '.join(sorted(_EXPERIMENT_KWARGS))}",
                )
        client_kwargs.setdefault("verbose_logging", False)

        self._ax: AxClient | None = ax_client
        self._client_kwargs = client_kwargs
        self._experiment_kwargs = experiment_kwargs
        self._parameter_constraints = parameter_constraints
        self._outcome_constraints = outcome_constraints
        self._points = [dict(p) for p in points_to_evaluate or []]
        self._rewards = list(evaluated_rewards) if evaluated_rewards is not None else None
        # the space AxSearch converts: a FlatSpace (tune space) or a list (Ax's own format)
        self._space: FlatSpace | list[dict] | None = None
        self._own_space = space is not None or _has_experiment(ax_client)
        self._live: dict[str, int] = {}
        self._needed: list[str] = []  # the metrics a completed trial reports to Ax
        self._decoders: list[tuple[str, Param]] = []
        if isinstance(space, Mapping):
            self._space = self._parse(space)
        elif space is not None:
            self._space = [dict(p) for p in space]
        if _has_experiment(ax_client) or (self._space is not None and self._mode):
            self._setup()

    # -- setting up the experiment ---------------------------------------------------------------
    def _parse(self, space: Mapping) -> FlatSpace:
        flat = parse_space(space, searcher=type(self).__name__, supports=self.supports)
        if not flat.params:
            raise invalid_value("space", dict(space), "has no parameter to search (only constants)")
        return flat

    def set_search_properties(
        self,
        metric: str | list[str] | None,
        mode: str | list[str] | None,
        config: dict,
        **spec: Any,
    ) -> bool:
        if self._own_space:
            # The space is AxSearch's own; only fill in what is still missing.
            if not _has_experiment(self._ax):
                self._metric = self._metric or metric
                self._mode = self._mode or mode
                self._setup()
            return False
        if _has_experiment(self._ax):
            return False
        self._space = self._parse(config)
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        self._setup()
        return True

    def _setup(self) -> None:
        """Create the Ax experiment (unless the client has one) and what suggest needs."""
        if not _has_experiment(self._ax):
            self._create_experiment()
        self._metric, self._mode = _objectives_of(self._ax)
        self._needed = _reported_metrics(self._ax)
        points = [self._ax_point(p) for p in self._points]
        if self._rewards is not None:
            for point, reward in zip(points, self._rewards):
                _, index = self._ax.attach_trial(point)
                self._complete(index, self._reward_data(reward), f"evaluated point {point}")
            points, self._rewards = [], None
        self._points = points

    def _create_experiment(self) -> None:
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        if not self._mode:
            raise TuneValueError(
                "AxSearch needs mode='min' or 'max': pass it to AxSearch(...) or "
                "TuneConfig(mode=...)."
            )
        metrics = self._metric if isinstance(self._metric, (list, tuple)) else [self._metric]
        modes = self._mode if isinstance(self._mode, (list, tuple)) else [self._mode]
        if len(metrics) != len(modes):
            raise invalid_value("metric", self._metric, f"needs one mode per metric ({modes})")
        if isinstance(self._space, FlatSpace):
            parameters = [_ax_parameter(p) for p in self._space.params]
        else:
            parameters = self._space
        if not parameters:
            raise TuneValueError(
                "AxSearch has no search space: pass space= to AxSearch, a param_space to "
                "Tuner, or an ax_client whose experiment is created."
            )
        with _quiet_setup():
            if self._ax is None:
                self._ax = AxClient(**self._client_kwargs)
            self._ax.create_experiment(
                parameters=parameters,
                objectives={
                    m: ObjectiveProperties(minimize=md == "min") for m, md in zip(metrics, modes)
                },
                parameter_constraints=self._parameter_constraints,
                outcome_constraints=self._outcome_constraints,
                **self._experiment_kwargs,
            )
        # The client holds them now (a generation strategy must not be saved twice).
        self._client_kwargs, self._experiment_kwargs = {}, {}
        if isinstance(self._space, FlatSpace):
            self._decoders = [(p.name, p) for p in self._space.params]

    # -- between tune configs and Ax parameters --------------------------------------------------
    def _ax_point(self, config: Mapping) -> dict[str, Any]:
        """A ``points_to_evaluate`` config as Ax's parameters."""
        if isinstance(self._space, FlatSpace):
            values = self._space.values_of(config)
            point = {}
            for param in self._space.params:
                value = values[param.name]
                point[param.name] = param.index_of(value) if param.kind == "categorical" else value
            return point
        return flatten_config(config)

    def _config(self, parameters: Mapping[str, Any]) -> dict:
        """Ax's parameters as the nested tune config."""
        if isinstance(self._space, FlatSpace):
            return self._space.to_config(
                {name: param.cast(parameters[name]) for name, param in self._decoders}
            )
        return unflatten_config(parameters, "AxSearch")

    def _reward_data(self, reward: Any) -> dict[str, Any]:
        """An evaluated reward as ``{metric: value}``: a dict, a number (one metric), or a
        list of numbers in the order of the objectives (multi-objective)."""
        if isinstance(reward, Mapping):
            return dict(reward)
        if isinstance(reward, numbers.Real) and len(self._needed) == 1:
            return {self._needed[0]: reward}
        objectives = self._metric if isinstance(self._metric, list) else [self._metric]
        if isinstance(reward, (list, tuple)) and len(reward) == len(objectives) == len(
            self._needed
        ):
            return dict(zip(objectives, reward))
        raise invalid_value(
            "evaluated_rewards",
            reward,
            f"with the metrics {self._needed} a reward must be a dict {{metric: value}}",
        )

    def _complete(self, index: int, result: Mapping[str, Any], what: str) -> None:
        """Give Ax a trial's metrics: complete it, or abandon it without usable ones."""
        data = {}
        missing = []
        for name in self._needed:
            value = result.get(name)
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                missing.append(name)
                continue
            if not math.isfinite(value):
                # Ray Tune's choice: a NaN/inf result tells Ax nothing about the point.
                self._ax.abandon_trial(index, reason=f"{what} reported {name}={value}")
                return
            data[name] = (float(value), None)  # no SEM: Ax infers the noise level
        if missing:
            logger.warning(
                "AxSearch: %s did not report %s; Ax records it as abandoned.", what, missing
            )
            self._ax.abandon_trial(index, reason=f"{what} did not report {missing}")
            return
        self._ax.complete_trial(index, raw_data=data)

    # -- the search ------------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict | None:
        if not _has_experiment(self._ax):
            raise TuneError(
                "AxSearch has no search space yet: pass space= (or an ax_client with an "
                "experiment) to AxSearch, or use it through Tuner(param_space=...), which "
                "calls set_search_properties."
            )
        if self._points:
            parameters, index = self._ax.attach_trial(self._points.pop(0))
        else:
            try:
                parameters, index = self._ax.get_next_trial()
            except (MaxParallelismReachedException, DataRequiredError):
                return None  # Ax waits for results of running trials
        self._live[trial_id] = index
        return self._config(parameters)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        index = self._live.pop(trial_id, None)
        if index is None:
            return  # not one of its trials (suggest answered None, or an unknown id)
        if error:
            self._ax.log_trial_failure(index)
        elif not result:
            self._ax.abandon_trial(index, reason=f"trial {trial_id} ended without a result")
        else:
            # An early-stopped trial is completed with its last result, as in Ray Tune.
            self._complete(index, result, f"trial {trial_id}")

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float | Mapping[str, float],
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Attach a config evaluated elsewhere to the Ax experiment with its result (a dict
        ``{metric: value}`` for several objectives or outcome constraints). A pruned point is
        completed with ``value`` like an early-stopped trial."""
        if not _has_experiment(self._ax):
            raise TuneError("AxSearch.add_evaluated_point needs the search space set up first.")
        _, index = self._ax.attach_trial(self._ax_point(parameters))
        if error:
            self._ax.log_trial_failure(index)
        else:
            self._complete(index, self._reward_data(value), f"evaluated point {parameters}")

    # -- state -----------------------------------------------------------------------------------
    def get_state(self) -> dict:
        # Ax and torch objects (the client, a generation strategy) go through cloudpickle,
        # whole: a restored search continues exactly (trials, strategy, seed), and the state
        # itself pickles plainly.
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_tune_")}
        return {"ax_search": cloudpickle.dumps(state)}

    def set_state(self, state: dict) -> None:
        self.__dict__.update(pickle.loads(state["ax_search"]))

    @property
    def ax_client(self) -> AxClient | None:
        """The ``AxClient`` behind the search (``None`` until the space is known)."""
        return self._ax
