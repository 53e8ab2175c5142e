"""``NevergradSearch``: Nevergrad's gradient-free optimizers as a tune searcher.

Ray Tune's ``NevergradSearch`` API: an optimizer (class, registry name, ``ConfiguredOptimizer``
or a ready instance), ``optimizer_kwargs`` for its constructor (``budget``, ``num_workers``),
and a space given as a tune ``param_space`` or as Nevergrad's own ``ng.p.Dict`` /
``ng.p.Instrumentation``. Tune domains become ``ng.p.Scalar`` / ``ng.p.Log`` (integers with
integer casting, ``q`` as an integer grid), categoricals a ``ng.p.Choice`` over indices, and
conditional categoricals a ``ng.p.Choice`` over one ``ng.p.Dict`` per branch.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import logging
import math
import numbers
import threading
import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from tune.errors import TuneError, TuneValueError, invalid_type, invalid_value
from tune.search.flat_space import (
    FlatSpace,
    Param,
    SearcherSupport,
    parse_space,
    unflatten_config,
)
from tune.search.searcher import Searcher

try:
    import nevergrad as ng
    import numpy as np
    from nevergrad.common import errors as ng_errors
    from nevergrad.optimization.base import ConfiguredOptimizer, Optimizer
    from nevergrad.optimization.recaster import SequentialRecastOptimizer
except ImportError as exc:  # pragma: no cover - exercised by the test with a hidden module
    raise ImportError(
        "NevergradSearch needs the nevergrad library, which is not installed: "
        "pip install 'tune-search[nevergrad]'"
    ) from exc

__all__ = ["NevergradSearch"]

logger = logging.getLogger(__name__)

# Ray Tune's anonymous metric, used when only a mode is given.
_DEFAULT_METRIC = "_metric"
# Key of the branch index inside a conditional branch's ng.p.Dict: it makes the value of each
# branch distinct, so ng.p.Choice can place a points_to_evaluate value in the right branch.
_BRANCH = "__branch__"
_STATE_VERSION = 1

# Recast optimizers (Cobyla, SQP, ... run their library in a thread) whose thread may still wait
# for a tell when the interpreter exits: Python joins such threads before atexit handlers run,
# so they are stopped from the hook that runs just before (an interpreter exit would hang).
_RECAST_OPTIMIZERS: weakref.WeakSet = weakref.WeakSet()


def _stop_recast_threads() -> None:
    for opt in list(_RECAST_OPTIMIZERS):
        # nevergrad's own __del__ does the same; it only runs once the optimizer is collected
        thread = getattr(opt, "_messaging_thread", None)
        if thread is not None:
            thread.stop()


_register_before_join = getattr(threading, "_register_atexit", None)
if _register_before_join is not None:
    _register_before_join(_stop_recast_threads)


# -- tune parameters <-> nevergrad parameters ----------------------------------------------------
def _grid(param: Param) -> tuple[int, int]:
    """The multiples of ``q`` inside the bounds, as an index range (non-log quantized)."""
    q = param.q
    return math.ceil(param.lower / q - 1e-9), math.floor(param.upper / q + 1e-9)


def _to_ng(param: Param) -> Any:
    """The nevergrad parameter for ``param``; a plain constant when it has a single value."""
    if param.kind == "categorical":
        choices: list[Any] = []
        for i in range(len(param.categories)):
            branch = param.branches[i] if param.branches else None
            if branch is None:
                choices.append(i)
            else:
                choices.append(ng.p.Dict(**{_BRANCH: i}, **_ng_dict(branch)))
        return ng.p.Choice(choices)
    integer = param.kind == "int"
    if param.q is not None and not param.log:
        # Searching the index of the multiple keeps every value of the grid reachable and
        # tells the optimizer that the parameter is discrete.
        low, high = _grid(param)
        if low >= high:
            return low
        return ng.p.Scalar(lower=low, upper=high).set_integer_casting()
    if param.lower == param.upper:
        return param.lower
    if param.log:
        scalar = ng.p.Log(lower=param.lower, upper=param.upper)
    else:
        scalar = ng.p.Scalar(lower=param.lower, upper=param.upper)
    if integer and param.q is None:
        scalar = scalar.set_integer_casting()
    return scalar  # log-quantized values are rounded by Param.cast, as integer casting rounds


def _ng_dict(space: FlatSpace) -> dict[str, Any]:
    return {param.name: _to_ng(param) for param in space.params}


def _decode(param: Param, raw: Any) -> Any:
    """``param``'s tune value for nevergrad's ``raw`` value."""
    if param.kind == "categorical":
        if isinstance(raw, Mapping):
            index = raw[_BRANCH]
            branch = param.branches[index]
            values = {p.name: _decode(p, raw[p.name]) for p in branch.params}
            return param.branch_config(index, values)
        return param.category(raw)
    if param.q is not None and not param.log:
        return param.cast(raw * param.q)
    return param.cast(raw)


def _exact(param: Param, value: Any, raw: Any) -> Any:
    """A points_to_evaluate value as the trial gets it: as given (in bounds, ints as ints),
    on the grid for quantized parameters, categories as the space holds them."""
    if param.kind == "categorical":
        if isinstance(raw, Mapping):
            index = raw[_BRANCH]
            branch = param.branches[index]
            values = _branch_values(param, branch, value)
            exact = {p.name: _exact(p, values[p.name], raw[p.name]) for p in branch.params}
            return param.branch_config(index, exact)
        return param.category(raw)
    if param.q is not None:
        return _decode(param, raw)
    return param.cast(value)


def _point_error(param: Param, value: Any, why: str, argument: str) -> TuneValueError:
    return TuneValueError(f"{argument}: value {value!r} for parameter {param.name!r} {why}.")


def _encode(param: Param, value: Any, argument: str = "points_to_evaluate") -> Any:
    """Nevergrad's raw value for ``param``'s tune ``value`` (points_to_evaluate)."""
    if param.kind == "categorical":
        return _encode_category(param, value, argument)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _point_error(param, value, "is not a number", argument)
    if not param.lower <= value <= param.upper:
        raise _point_error(param, value, f"is outside [{param.lower}, {param.upper}]", argument)
    if param.q is not None and not param.log:
        low, high = _grid(param)
        return low if low >= high else min(max(round(value / param.q), low), high)
    if param.lower == param.upper:
        return param.lower
    if param.kind == "int":
        if value != int(value):
            raise _point_error(param, value, "is not an integer", argument)
        return int(value)
    return float(value)


def _encode_category(param: Param, value: Any, argument: str) -> Any:
    if not param.branches:
        return param.index_of(value)
    for index, branch in enumerate(param.branches):
        if branch is None:
            category = param.categories[index]
            if category == value and type(category) is type(value):
                return index
            continue
        values = _branch_values(param, branch, value)
        if values is not None:
            return {
                _BRANCH: index,
                **{p.name: _encode(p, values[p.name], argument) for p in branch.params},
            }
    raise _point_error(param, value, "matches none of its choices", argument)


def _branch_values(param: Param, branch: FlatSpace, value: Any) -> dict[str, Any] | None:
    """The branch parameters' values read from ``value`` if it has this branch's shape."""
    if not isinstance(value, Mapping):
        return None
    cut = len(param.path) + 1  # branch paths are (*param.path, "[i]", ...)
    for path, constant in branch.constants.items():
        found, node = _lookup(value, path[cut:])
        if not found or node != constant:
            return None
    values = {}
    for sub in branch.params:
        found, node = _lookup(value, sub.path[cut:])
        if not found:
            return None
        values[sub.name] = node
    return values


def _lookup(config: Any, path: Sequence[str]) -> tuple[bool, Any]:
    node = config
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False, None
        node = node[key]
    return True, node




def _ng_values(
    keys: Mapping, config: Mapping, argument: str = "points_to_evaluate"
) -> dict[str, Any]:
    """The values of an ng.p.Dict's top-level ``keys`` read from a (nested) config: a key
    ``"a/b"`` is looked up as ``config["a"]["b"]`` (or as the key itself)."""
    values = {}
    for key in keys:
        if key in config:
            values[key] = config[key]
            continue
        found, node = _lookup(config, str(key).split("/"))
        if not found:
            raise TuneValueError(
                f"{argument}: the config {dict(config)!r} has no value for "
                f"parameter {key!r}; give every parameter of the space."
            )
        values[key] = node
    return values


def _factory_name(factory: Any) -> str:
    return getattr(factory, "name", None) or getattr(factory, "__name__", type(factory).__name__)


def _accepted_kwargs(factory: Any) -> set[str] | None:
    """The constructor keywords ``factory`` accepts (``None``: anything)."""
    target = factory.__init__ if inspect.isclass(factory) else factory.__call__
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters} - {"self", "parametrization"}


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class NevergradSearch(Searcher):
    """Search with a Nevergrad optimizer (Ray Tune's ``NevergradSearch``).

    :param optimizer: a Nevergrad optimizer class (``ng.optimizers.CMA``), its name in
        ``ng.optimizers.registry`` (``"NGOpt"``), a ``ConfiguredOptimizer``
        (``ng.families.ParametrizedOnePlusOne(...)``), or an optimizer instance that holds its
        own parametrization (then ``optimizer_kwargs`` must be empty and ``space`` is ``None``
        or the parameter names of an array parametrization). ``None``: ``OnePlusOne``.
    :param optimizer_kwargs: keywords for the optimizer's constructor, e.g. ``budget``
        (the number of evaluations it plans for; by default the Tuner's ``num_samples``, which
        ``NGOpt`` needs) and ``num_workers`` (by default ``ConcurrencyLimiter``'s limit).
    :param space: the search space: a tune space dict, an ``ng.p.Dict`` or a keyword-only
        ``ng.p.Instrumentation``; ``None`` takes ``param_space`` from the ``Tuner``.
    :param metric: the metric to optimize (a list: multi-objective, Nevergrad's Pareto front).
    :param mode: ``"min"`` or ``"max"`` (a list matching ``metric``).
    :param points_to_evaluate: configs to try first, in order.
    :param evaluated_rewards: the metric values of ``points_to_evaluate`` if already known:
        they are told to the optimizer and not run again.
    :param seed: seeds the parametrization's random state, for reproducible suggestions.

    Nevergrad minimizes: ``mode="max"`` metrics are negated. Errored trials and results without
    a finite metric are not told (an asked candidate may go unanswered in nevergrad); early
    stopped trials are told their last result. Optimizers that take one evaluation at a time
    (Cobyla, SQP, ... also as picked by ``NGOpt``) get one trial at a time, and a failed trial
    is told the worst loss seen so far, since they wait for every answer.
    """

    supports = SearcherSupport(
        float=True,
        integer=True,
        categorical=True,
        log=True,
        quantized=True,
        normal=False,
        nested=True,
        conditional=True,
        multi_objective=True,
        points_to_evaluate=True,
        evaluated_rewards=True,
    )

    def __init__(
        self,
        optimizer: Any = None,
        optimizer_kwargs: dict | None = None,
        space: dict | Any | None = None,
        metric: str | list[str] | None = None,
        mode: str | list[str] | None = None,
        points_to_evaluate: list[dict] | None = None,
        *,
        evaluated_rewards: list | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        self._check_modes(mode)
        self._factory: Any = None
        self._given: Any = None  # an optimizer instance passed in
        if optimizer is None:
            optimizer = ng.optimizers.OnePlusOne
        if isinstance(optimizer, str):
            optimizer = self._from_registry(optimizer)
        if isinstance(optimizer, Optimizer):
            self._given = optimizer
        elif (inspect.isclass(optimizer) and issubclass(optimizer, Optimizer)) or isinstance(
            optimizer, ConfiguredOptimizer
        ):
            self._factory = optimizer
        else:
            raise invalid_type(
                "optimizer",
                optimizer,
                "expected a nevergrad optimizer class (ng.optimizers.OnePlusOne), a name in "
                "ng.optimizers.registry, a ConfiguredOptimizer or an optimizer instance",
            )
        self._optimizer_kwargs = self._check_optimizer_kwargs(optimizer_kwargs)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise invalid_type("seed", seed, "expected an int or None")
        if seed is not None and not 0 <= seed < 2**32:
            raise invalid_value("seed", seed, "must be in [0, 2**32)")
        self._seed = seed
        self._points = self._check_points(points_to_evaluate)
        self._rewards = self._check_rewards(evaluated_rewards, self._points)

        self._flat: FlatSpace | None = None  # a converted tune space
        self._ng_space: Any = None  # a space given in Nevergrad's own terms
        self._names: list[str] | None = None  # names for an array parametrization
        self._parametrization: Any = None
        self._optimizer: Any = None
        self._max_concurrent: int | None = None
        self._num_samples: int | None = None
        self._sequential = False  # the optimizer needs each ask told before the next one
        self._worst: Any = None  # the worst loss told (the penalty of a failed sequential ask)
        self._replay: list | None = None  # losses told to a recast optimizer, in order
        self._live: dict[str, Any] = {}
        self._pending_rewards: list[tuple[Any, Any]] = []
        self._suggest_points: list[tuple[Any, dict]] = []
        self._queue: list[tuple[Any, dict]] = []
        self._tell_not_asked_warned = False
        self._check_space(space)
        if self._given is not None or self._flat is not None or self._ng_space is not None:
            self._setup()

    # -- argument checks ------------------------------------------------------------------------
    @staticmethod
    def _check_modes(mode: Any) -> None:
        if isinstance(mode, (list, tuple)) and "obs" in mode:
            raise invalid_value(
                "mode", mode, "NevergradSearch accepts only 'min' and 'max' for each metric"
            )

    @staticmethod
    def _from_registry(name: str) -> Any:
        registry = ng.optimizers.registry
        if name in registry:
            return registry[name]
        close = difflib.get_close_matches(name, list(registry), n=3)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise invalid_value(
            "optimizer",
            name,
            "must be a name in nevergrad.optimizers.registry, e.g. 'OnePlusOne', 'CMA', "
            f"'NGOpt', 'TwoPointsDE'{hint}",
        )

    def _check_optimizer_kwargs(self, kwargs: Any) -> dict:
        if kwargs is None:
            return {}
        if not isinstance(kwargs, Mapping):
            raise invalid_type("optimizer_kwargs", kwargs, "expected a dict of keywords or None")
        kwargs = dict(kwargs)
        if not kwargs:
            return kwargs
        if self._given is not None:
            raise invalid_value(
                "optimizer_kwargs",
                kwargs,
                "must be empty when optimizer is an optimizer instance (it is built already); "
                "pass an optimizer class or ConfiguredOptimizer to set its arguments",
            )
        if "parametrization" in kwargs:
            raise invalid_value(
                "optimizer_kwargs",
                kwargs,
                "must not hold 'parametrization': pass the search space as space= or param_space",
            )
        accepted = _accepted_kwargs(self._factory)
        unknown = sorted(set(kwargs) - accepted) if accepted is not None else []
        if unknown:
            raise invalid_value(
                "optimizer_kwargs",
                kwargs,
                f"{_factory_name(self._factory)} does not take {', '.join(map(repr, unknown))}; "
                f"it accepts {', '.join(map(repr, sorted(accepted)))}",
            )
        budget = kwargs.get("budget")
        if budget is not None and (
            not isinstance(budget, int) or isinstance(budget, bool) or budget < 1
        ):
            raise invalid_value("optimizer_kwargs['budget']", budget, "must be an int >= 1 or None")
        workers = kwargs.get("num_workers", 1)
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise invalid_value("optimizer_kwargs['num_workers']", workers, "must be an int >= 1")
        if workers > 1 and getattr(self._factory, "no_parallelization", False):
            raise invalid_value(
                "optimizer_kwargs['num_workers']",
                workers,
                f"{_factory_name(self._factory)} runs sequentially only: use 1",
            )
        return kwargs

    @staticmethod
    def _check_points(points: Any) -> list[dict]:
        if points is None:
            return []
        if isinstance(points, (str, bytes, Mapping)) or not isinstance(points, Sequence):
            raise invalid_type("points_to_evaluate", points, "expected a list of config dicts")
        for point in points:
            if not isinstance(point, Mapping):
                raise invalid_type(
                    "points_to_evaluate", points, f"every point must be a dict, got {point!r}"
                )
        return [dict(point) for point in points]

    @staticmethod
    def _check_rewards(rewards: Any, points: list[dict]) -> list | None:
        if rewards is None:
            return None
        if isinstance(rewards, (str, bytes, Mapping)) or not isinstance(rewards, Sequence):
            raise invalid_type("evaluated_rewards", rewards, "expected a list of metric values")
        if len(rewards) != len(points):
            raise invalid_value(
                "evaluated_rewards",
                rewards,
                f"must hold one value per point of points_to_evaluate ({len(points)})",
            )
        for reward in rewards:
            ok = _is_real(reward) or (
                isinstance(reward, Sequence) and reward and all(_is_real(r) for r in reward)
            )
            if not ok:
                raise invalid_value(
                    "evaluated_rewards",
                    rewards,
                    "every value must be a number (a list of numbers for multi-objective)",
                )
        return list(rewards)

    def _check_space(self, space: Any) -> None:
        if self._given is not None:
            parametrization = self._given.parametrization
            if space is None:
                if isinstance(parametrization, ng.p.Instrumentation):
                    if parametrization.args:
                        raise invalid_value(
                            "optimizer",
                            self._given,
                            "its ng.p.Instrumentation must use keyword parameters only, or "
                            "pass the names of its positional array as space=[...]",
                        )
                elif not isinstance(parametrization, ng.p.Dict):
                    raise invalid_value(
                        "space",
                        space,
                        "an optimizer instance over an array needs its parameter names: "
                        "space=['a', 'b', ...]",
                    )
                return
            if isinstance(space, (list, tuple)) and all(isinstance(n, str) for n in space):
                if len(set(space)) != len(space) or len(space) != parametrization.dimension:
                    raise invalid_value(
                        "space",
                        space,
                        f"must list {parametrization.dimension} distinct parameter names, one "
                        "per dimension of the optimizer's parametrization",
                    )
                self._names = list(space)
                return
            raise invalid_value(
                "space",
                space,
                "must be None or a list of parameter names when optimizer is an optimizer "
                "instance (its parametrization is the search space)",
            )
        if space is None or (isinstance(space, Mapping) and not space):
            return
        if isinstance(space, Mapping):
            self._flat = parse_space(space, searcher=type(self).__name__, supports=self.supports)
            return
        if isinstance(space, ng.p.Instrumentation):
            if space.args:
                raise invalid_value(
                    "space", space, "an ng.p.Instrumentation must use keyword parameters only"
                )
            self._ng_space = space
            return
        if isinstance(space, ng.p.Dict):
            self._ng_space = space
            return
        raise invalid_type(
            "space",
            space,
            "expected a tune search space (dict), an ng.p.Dict or a keyword-only "
            "ng.p.Instrumentation",
        )

    # -- building the optimizer -----------------------------------------------------------------
    def _has_space(self) -> bool:
        return self._given is not None or self._flat is not None or self._ng_space is not None

    def _setup(self) -> None:
        """Encode the points (validating them against the space) and build the optimizer."""
        entries = [self._point_entry(point) for point in self._points]
        if self._rewards is not None:
            self._pending_rewards = [(raw, r) for (raw, _), r in zip(entries, self._rewards)]
            self._suggest_points = []
        else:
            self._suggest_points = entries
        self._build()

    def _build(self) -> None:
        if self._given is not None:
            self._optimizer = self._given
            self._parametrization = self._given.parametrization
            if self._seed is not None:
                self._parametrization.random_state.seed(self._seed)
            self._inspect_optimizer()
        else:
            if self._flat is not None:
                self._parametrization = ng.p.Dict(**_ng_dict(self._flat))
            else:
                self._parametrization = self._ng_space
            if self._seed is not None:
                self._parametrization.random_state.seed(self._seed)
            if self._parametrization.dimension == 0:
                # Nothing to optimize (constants only): nevergrad refuses such a space.
                self._optimizer = None
                return
            kwargs = dict(self._optimizer_kwargs)
            if self._num_samples is not None and "budget" not in kwargs:
                kwargs["budget"] = self._num_samples
            if (
                self._max_concurrent is not None
                and "num_workers" not in kwargs
                and not getattr(self._factory, "no_parallelization", False)
            ):
                kwargs["num_workers"] = self._max_concurrent
            try:
                self._optimizer = self._factory(self._parametrization, **kwargs)
                self._inspect_optimizer()
            except (TypeError, ValueError, AssertionError) as exc:
                budget = (
                    "" if "budget" in kwargs else " (it may need optimizer_kwargs={'budget': n})"
                )
                raise TuneValueError(
                    f"Invalid optimizer={_factory_name(self._factory)} with optimizer_kwargs="
                    f"{self._optimizer_kwargs!r}: nevergrad refused to build it{budget}: "
                    f"{type(exc).__name__} {exc}"
                ) from exc
        # Nevergrad pops suggestions last in, first out: push them in reverse. The queue keeps
        # each point's config as given, to answer it exactly (ng.p.Log's transform would turn
        # 0.01 into 0.010000000000000004) once its candidate comes back from ask().
        self._queue = []
        for raw, config in self._suggest_points:
            self._queue.append((self._data_of(raw), config))
        for raw, _ in reversed(self._suggest_points):
            self._suggest(raw)

    def _inspect_optimizer(self) -> None:
        """Find sequential optimizers inside the optimizer (NGOpt's pick, portfolios, chains).

        A ``SequentialRecastOptimizer`` (Cobyla, SQP, ... which NGOpt picks for one worker and
        small budgets) runs its library in a thread that blocks until each ask is told: a
        second ask before that tell would hang, so such a search runs one trial at a time and
        tells failed trials a penalty. Its thread does not pickle: see ``_replay`` below.
        """
        self._sequential = False
        recast = False
        stack, seen = [self._optimizer], set()
        while stack:
            opt = stack.pop()
            if id(opt) in seen:
                continue
            seen.add(id(opt))
            if isinstance(opt, SequentialRecastOptimizer) or opt.no_parallelization:
                self._sequential = True
            if isinstance(opt, SequentialRecastOptimizer):
                recast = True
                _RECAST_OPTIMIZERS.add(opt)
                if self._given is not None and opt.num_ask == 0:
                    opt.enable_pickling()  # an instance cannot be rebuilt: nevergrad's own way
            if isinstance(getattr(type(opt), "optim", None), property):
                stack.append(opt.optim)  # NGOpt selects (and builds) its optimizer here
            for attr in ("optims", "optimizers"):
                subs = getattr(opt, attr, None)
                if isinstance(subs, list):
                    stack.extend(s for s in subs if isinstance(s, Optimizer))
        # Nevergrad's replay on unpickling restarts the library from the restored archive and
        # does not meet its own record ("Mismatch in replay"): the state keeps the losses told
        # instead, and set_state rebuilds the optimizer and replays them (asks and tells
        # alternate strictly, so the losses in order are the whole history).
        self._replay = [] if recast and self._given is None else None

    def _spawn(self, raw: Any) -> Any:
        return self._parametrization.spawn_child(new_value=raw)

    def _data_of(self, raw: Any) -> Any:
        return self._spawn(raw).get_standardized_data(reference=self._parametrization)

    def _queued_config(self, candidate: Any) -> dict | None:
        """The given config of a points_to_evaluate candidate, ``None`` for other candidates."""
        data = candidate.get_standardized_data(reference=self._parametrization)
        while self._queue:
            # A suggestion nevergrad dropped (it violated a constraint) is skipped.
            queued, config = self._queue.pop(0)
            if np.allclose(queued, data):
                return config
        return None

    def _suggest(self, raw: Any) -> None:
        if isinstance(self._parametrization, ng.p.Instrumentation):
            args, kwargs = raw
            self._optimizer.suggest(*args, **kwargs)
        else:
            self._optimizer.suggest(raw)

    def _point_entry(self, point: Mapping) -> tuple[Any, dict]:
        """Nevergrad's value for a point and the config to answer for it."""
        raw = self._raw_of(point)
        if self._flat is not None:
            values = self._flat.values_of(point)
            exact = {p.name: _exact(p, values[p.name], raw[p.name]) for p in self._flat.params}
            return raw, self._flat.to_config(exact)
        if self._names is not None:
            return raw, unflatten_config(_ng_values(self._names, point))
        return raw, unflatten_config(raw[1] if isinstance(raw, tuple) else raw)

    def _raw_of(self, config: Mapping, argument: str = "points_to_evaluate") -> Any:
        """Nevergrad's value for a tune config (points_to_evaluate, add_evaluated_point)."""
        if self._flat is not None:
            values = self._flat.values_of(config, argument)
            return {p.name: _encode(p, values[p.name], argument) for p in self._flat.params}
        parametrization = self._given.parametrization if self._given is not None else self._ng_space
        if self._names is not None:
            values = _ng_values(self._names, config, argument)
            array = np.array([values[n] for n in self._names], dtype=float)
            if isinstance(parametrization, ng.p.Instrumentation):
                return (array,), {}
            return array
        if isinstance(parametrization, ng.p.Instrumentation):
            return (), _ng_values(parametrization.kwargs, config, argument)
        return _ng_values(parametrization.value, config, argument)

    def _decode(self, candidate: Any) -> dict:
        """A candidate's (or the constant space's) tune config."""
        if self._flat is not None:
            raw = candidate.value
            return self._flat.to_config(
                {p.name: _decode(p, raw[p.name]) for p in self._flat.params}
            )
        if self._names is not None:
            data = candidate.args[0] if candidate.args else candidate.value
            return unflatten_config(dict(zip(self._names, (float(x) for x in data))))
        if isinstance(candidate, ng.p.Instrumentation):
            return unflatten_config(candidate.kwargs)
        return unflatten_config(candidate.value)

    # -- Searcher API ---------------------------------------------------------------------------
    def set_search_properties(
        self,
        metric: str | list[str] | None,
        mode: str | list[str] | None,
        config: dict,
        **spec: Any,
    ) -> bool:
        if self._metric is None and metric is not None:
            self._metric = metric
        if self._mode is None and mode is not None:
            self._check_modes(mode)
            self._mode = mode
        num_samples = spec.get("num_samples")
        if isinstance(num_samples, int) and num_samples > 0 and num_samples != self._num_samples:
            self._num_samples = num_samples
            self._rebuild_if_unused()
        if self._has_space():
            return False
        # An empty or constant param_space is a space without parameters (constant configs).
        self._flat = parse_space(config or {}, searcher=type(self).__name__, supports=self.supports)
        self._setup()
        return True

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Tell the optimizer how many trials run at once (its ``num_workers``) if it was not
        given one and has asked nothing yet; the ``ConcurrencyLimiter`` still limits."""
        if max_concurrent != self._max_concurrent:
            self._max_concurrent = max_concurrent
            self._rebuild_if_unused()
        return False

    def _rebuild_if_unused(self) -> None:
        # Budget and num_workers shape some optimizers from their construction on (NGOpt
        # picks its algorithm by them): rebuild with what the experiment says, while unused.
        opt = self._optimizer
        if self._given is None and opt is not None and opt.num_ask == 0 and opt.num_tell == 0:
            self._build()

    def _ready(self) -> None:
        if not self._has_space():
            raise TuneError(
                "NevergradSearch has no search space: pass space= to it, or use it through "
                "tune.Tuner(param_space=...) / set_search_properties()."
            )
        if self._metric is None and self._mode is not None:
            self._metric = _DEFAULT_METRIC
        if self._metric is None or self._mode is None:
            raise TuneError(
                f"NevergradSearch needs a metric and a mode (got metric={self._metric!r}, "
                f"mode={self._mode!r}): pass them to it or to tune.TuneConfig."
            )
        if self._pending_rewards:
            pending, self._pending_rewards = self._pending_rewards, []
            for raw, reward in pending:
                loss = self._loss_of(reward, "evaluated_rewards")
                self._tell_not_asked(raw, loss, "evaluated_rewards")

    def suggest(self, trial_id: str) -> dict | None:
        self._ready()
        if self._optimizer is None:
            return self._decode(self._parametrization)
        if self._sequential and self._live:
            return None  # see _inspect_optimizer
        candidate = self._optimizer.ask()
        self._live[trial_id] = candidate
        if self._queue:
            config = self._queued_config(candidate)
            if config is not None:
                return copy.deepcopy(config)
        return self._decode(candidate)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        candidate = self._live.pop(trial_id, None)
        if candidate is None or self._optimizer is None:
            return
        loss = None if error or not result else self._result_loss(result)
        if loss is None:
            # An errored trial (or one without a finite metric) is not told: nevergrad lets
            # asked candidates go unanswered (a dead worker), while a made-up loss (inf is
            # clipped to 5e20) would distort model-based optimizers, and a crashed trial's
            # last result is not its config's value. A sequential optimizer must hear back.
            if not self._sequential:
                return
            loss = self._penalty()
        self._tell_or_warn(candidate, loss)
        if self._replay is not None:
            self._replay.append(loss)

    def _penalty(self) -> Any:
        if self._worst is not None:
            return self._worst
        inf = float("inf")
        return [inf] * len(self._signs()) if isinstance(self._metric, (list, tuple)) else inf

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Tell the optimizer the value of a config it did not suggest (errored points are
        skipped, as errored trials are; pruned points count with the value they reached)."""
        self._ready()
        if error or self._optimizer is None:
            return
        loss = self._loss_of(value, "value")
        raw = self._raw_of(parameters, "parameters")
        self._tell_not_asked(raw, loss, "add_evaluated_point")

    # -- telling --------------------------------------------------------------------------------
    def _signs(self) -> list[float]:
        modes = self._mode if isinstance(self._mode, (list, tuple)) else [self._mode]
        return [-1.0 if m == "max" else 1.0 for m in modes]

    def _result_loss(self, result: Mapping) -> Any:
        metrics = self._metric if isinstance(self._metric, (list, tuple)) else [self._metric]
        values = [result.get(m) for m in metrics]
        if not all(_is_real(v) and math.isfinite(v) for v in values):
            # Missing or NaN/inf: nevergrad warns on such losses and models cannot use them.
            logger.debug("NevergradSearch: result without a finite %s; not told", metrics)
            return None
        losses = [s * float(v) for s, v in zip(self._signs(), values)]
        return losses if isinstance(self._metric, (list, tuple)) else losses[0]

    def _loss_of(self, value: Any, argument: str) -> Any:
        multi = isinstance(self._metric, (list, tuple))
        values = list(value) if isinstance(value, Sequence) else [value]
        if len(values) != len(self._signs()) or not all(_is_real(v) for v in values):
            want = f"a list of {len(self._signs())} numbers" if multi else "a number"
            raise invalid_value(argument, value, f"must be {want} for metric={self._metric!r}")
        losses = [s * float(v) for s, v in zip(self._signs(), values)]
        return losses if multi else losses[0]

    def _tell(self, candidate: Any, loss: Any) -> None:
        if isinstance(loss, list) or math.isinf(loss):
            # The Pareto front starts with infinite bounds and warns about them each time;
            # an infinite penalty is clipped with a warning.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ng_errors.BadLossWarning)
                warnings.simplefilter("ignore", ng_errors.LossTooLargeWarning)
                self._optimizer.tell(candidate, loss)
        else:
            self._optimizer.tell(candidate, loss)
        if isinstance(loss, list):
            if all(math.isfinite(x) for x in loss):
                worst = self._worst or loss
                self._worst = [max(a, b) for a, b in zip(worst, loss)]
        elif math.isfinite(loss) and (self._worst is None or loss > self._worst):
            self._worst = loss

    def _tell_or_warn(self, candidate: Any, loss: Any) -> None:
        # Only a points_to_evaluate suggestion (not asked by nevergrad itself) can raise here.
        try:
            self._tell(candidate, loss)
        except ng_errors.TellNotAskedNotSupportedError:
            if not self._tell_not_asked_warned:
                self._tell_not_asked_warned = True
                logger.warning(
                    "NevergradSearch: %s cannot learn from points it did not propose; the "
                    "results of points_to_evaluate are kept in its archive only.",
                    self._optimizer.name,
                )

    def _tell_not_asked(self, raw: Any, loss: Any, argument: str) -> None:
        if isinstance(self._parametrization, ng.p.Instrumentation) and not isinstance(raw, tuple):
            raw = ((), raw)
        candidate = self._spawn(raw)
        try:
            self._tell(candidate, loss)
        except ng_errors.TellNotAskedNotSupportedError as exc:
            raise TuneValueError(
                f"NevergradSearch: {argument} needs an optimizer that accepts results of points "
                f"it did not propose, which {self._optimizer.name} does not; use e.g. "
                "OnePlusOne, TwoPointsDE or NGOpt, or pass points_to_evaluate without rewards."
            ) from exc

    # -- state ----------------------------------------------------------------------------------
    @property
    def optimizer(self) -> Any:
        """The Nevergrad optimizer (``None`` until the search space is known), e.g. for
        ``recommend()`` or ``pareto_front()``."""
        return self._optimizer

    _STATE_KEYS = (
        "_metric",
        "_mode",
        "_factory",
        "_given",
        "_optimizer_kwargs",
        "_seed",
        "_points",
        "_rewards",
        "_flat",
        "_ng_space",
        "_names",
        "_parametrization",
        "_optimizer",
        "_max_concurrent",
        "_num_samples",
        "_sequential",
        "_worst",
        "_live",
        "_pending_rewards",
        "_suggest_points",
        "_queue",
        "_replay",
        "_tell_not_asked_warned",
    )

    def get_state(self) -> dict:
        # One dict, pickled at once: the live candidates stay the optimizer's own objects.
        state = {key: getattr(self, key, None) for key in self._STATE_KEYS}
        state["version"] = _STATE_VERSION
        if self._replay is not None:  # rebuilt by set_state (see _inspect_optimizer)
            state.update(_optimizer=None, _parametrization=None, _queue=None)
            state["_live"] = dict.fromkeys(self._live)
        return state

    def set_state(self, state: dict) -> None:
        if not isinstance(state, Mapping) or state.get("version") != _STATE_VERSION:
            raise invalid_value(
                "state", type(state).__name__, "must come from NevergradSearch.get_state()"
            )
        for key in self._STATE_KEYS:
            setattr(self, key, state.get(key))
        self._live = dict(self._live or {})
        self._pending_rewards = list(self._pending_rewards or [])
        self._suggest_points = list(self._suggest_points or [])
        self._queue = list(self._queue or [])
        if self._replay is not None:
            self._replay_history(self._replay, list(self._live))

    def _replay_history(self, losses: list, live: list[str]) -> None:
        self._build()
        for loss in losses:
            candidate = self._optimizer.ask()
            if self._queue:
                self._queued_config(candidate)
            self._tell_or_warn(candidate, loss)
            self._replay.append(loss)
        # The live trial (one at most: sequential) gets the next ask, as it would have.
        self._live = {}
        for trial_id in live:
            self._live[trial_id] = self._optimizer.ask()
            if self._queue:
                self._queued_config(self._live[trial_id])
