"""``HyperOptSearch``: HyperOpt's Tree-structured Parzen Estimators (TPE), as in Ray Tune.

The adapter drives hyperopt the way its own ``fmin`` loop does, one trial at a time: a
``hyperopt.Trials`` object holds every trial document, ``tpe.suggest`` proposes the next one
against a ``hyperopt.Domain``, and a finished trial's document gets its loss. A tune search
space becomes a hyperopt space whose labels are the parameters' names ("model/width") and
whose ``hp.choice`` nodes draw category *indices*, mapped back exactly by the core's
``Param`` (so choices over lists and dicts round-trip, unlike ray-project/ray#24050). A space
written in hyperopt's own format (``hp.uniform(...)``, nested ``hp.choice``) is evaluated by
hyperopt itself.
"""

from __future__ import annotations

import copy
import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from tune.errors import TuneError, TuneValueError, invalid_type, invalid_value
from tune.result import DEFAULT_METRIC
from tune.search.flat_space import FlatSpace, Param, SearcherSupport, parse_space
from tune.search.searcher import Searcher
from tune.search.variant_generator import has_unresolved_values

try:
    import hyperopt as hpo
    import numpy as np
    from hyperopt import hp, tpe
    from hyperopt.pyll import Apply, rec_eval
    from hyperopt.pyll.base import dfs
    from hyperopt.utils import coarse_utcnow
except ImportError as exc:  # pragma: no cover - exercised with hyperopt hidden
    raise ImportError(
        "HyperOptSearch needs the hyperopt library: pip install 'tune-search[hyperopt]'"
    ) from exc

__all__ = ["HyperOptSearch"]

logger = logging.getLogger(__name__)

# tpe.suggest logs two INFO lines per suggestion; quiet them as Ray Tune does, unless the user
# has set a level for hyperopt's logger already.
_hyperopt_logger = logging.getLogger("hyperopt")
if _hyperopt_logger.level == logging.NOTSET:
    _hyperopt_logger.setLevel(logging.WARNING)

_SEED_BOUND = 2**31 - 1  # what hyperopt's fmin draws per-call seeds below


def _identity(config: Any) -> Any:
    return config


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and (type(a) is type(b) or (_is_number(a) and _is_number(b)))
    except Exception:  # noqa: BLE001 - arrays and other odd constants: not the same value
        return False


def _contains_apply(value: Any) -> bool:
    if isinstance(value, Apply):
        return True
    if isinstance(value, Mapping):
        return any(_contains_apply(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_apply(v) for v in value)
    return False


# ---------------------------------------------------------------------------------------------
# A tune space as a hyperopt space (labels: parameter names; choices: indices)
# ---------------------------------------------------------------------------------------------


def _hp_node(param: Param) -> Any:
    name = param.name
    if param.kind == "categorical":
        options: list[Any] = []
        for i in range(len(param.categories)):
            branch = param.branches[i] if param.branches else None
            if branch is None:
                options.append(i)
            else:
                # Only the structure matters (which labels a branch activates): configs are
                # built from the labels' values, never by evaluating this expression.
                options.append({p.name: _hp_node(p) for p in branch.params})
        return hp.choice(name, options)
    if param.normal is not None:
        mean, sd = param.normal
        if param.q is not None:
            return hp.qnormal(name, mean, sd, param.q)
        return hp.normal(name, mean, sd)
    if param.kind == "int":
        # Half a step beyond the extreme multiples, so that rounding makes every integer
        # (multiple of q) equally likely, as tune.randint/qrandint draw them.
        q = param.q or 1
        low = param.domain.min_value - q / 2
        high = param.domain.max_value + q / 2
        if param.log:
            return hp.qloguniform(name, math.log(low), math.log(high), q)
        return hp.quniform(name, low, high, q)
    # The domain's own bounds (not the extreme multiples of q): drawn and then rounded, as
    # tune.quniform/qloguniform draw.
    lower, upper = param.domain.lower, param.domain.upper
    if param.log:
        low, high = math.log(lower), math.log(upper)
        if param.q is not None:
            return hp.qloguniform(name, low, high, param.q)
        return hp.loguniform(name, low, high)
    if param.q is not None:
        return hp.quniform(name, lower, upper, param.q)
    return hp.uniform(name, lower, upper)


def _cast(param: Param, raw: Any) -> Any:
    if param.q is not None and param.normal is None:
        # Rounding may step to a multiple of q just outside the bounds; the domain's extreme
        # multiples are the valid values there.
        raw = min(max(float(raw), param.domain.min_value), param.domain.max_value)
    return param.cast(raw)


def _value(param: Param, vals: Mapping[str, list]) -> Any:
    raw = vals[param.name][0]
    if param.kind != "categorical":
        return _cast(param, raw)
    index = int(raw)
    branch = param.branches[index] if param.branches else None
    if branch is None:
        return param.category(index)
    values = {p.name: _value(p, vals) for p in branch.params if vals.get(p.name)}
    return param.branch_config(index, values)


def _lookup(node: Any, path: Sequence[str]) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _point_value(param: Param, value: Any, out: dict[str, Any]) -> None:
    """Put the hyperopt value(s) of ``param`` taking ``value`` into ``out`` or raise."""
    if param.kind != "categorical":
        if not _is_number(value) or not param.domain.is_valid(value):
            raise TuneValueError(
                f"points_to_evaluate: value {value!r} for parameter {param.name!r} is not "
                f"one of its values {param.domain!r}."
            )
        out[param.name] = value
        return
    if not param.branches:
        out[param.name] = param.index_of(value)
        return
    cut = len(param.path) + 1  # a branch's paths are (*param.path, "[i]", ...)
    for index, branch in enumerate(param.branches):
        if branch is None:
            if _same(param.categories[index], value):
                out[param.name] = index
                return
            continue
        if not isinstance(value, Mapping):
            continue
        sub: dict[str, Any] = {}
        try:
            for path, constant in branch.constants.items():
                found, got = _lookup(value, path[cut:])
                if not found or not _same(got, constant):
                    raise TuneValueError("constant differs")
            for inner in branch.params:
                found, got = _lookup(value, inner.path[cut:])
                if not found:
                    raise TuneValueError("missing parameter")
                _point_value(inner, got, sub)
        except TuneValueError:
            continue
        out[param.name] = index
        out.update(sub)
        return
    raise TuneValueError(
        f"points_to_evaluate: value {value!r} for parameter {param.name!r} matches none of "
        f"its categories {param.categories!r}."
    )


# ---------------------------------------------------------------------------------------------
# Points in a space written in hyperopt's own format
# ---------------------------------------------------------------------------------------------


class _CannotRead(Exception):
    """A node of a hyperopt space whose value cannot be traced back to its labels."""


def _leaf_label(node: Apply) -> str | None:
    """The label of ``hp.uniform(...)`` and friends (``float(hyperopt_param(label, ...))``)."""
    while node.name in ("float", "int") and len(node.pos_args) == 1:
        node = node.pos_args[0]
    if node.name == "hyperopt_param":
        return node.arg["label"].obj
    return None


def _choice_label(node: Apply) -> str | None:
    if node.name == "switch" and node.pos_args and node.pos_args[0].name == "hyperopt_param":
        return node.pos_args[0].arg["label"].obj
    return None


def _match(node: Any, value: Any, out: dict[str, Any]) -> bool:
    """Whether ``value`` is a value the (sub)space ``node`` can take; fills ``out`` with the
    labels' values (a choice's index) that produce it."""
    if isinstance(node, Mapping):
        if not isinstance(value, Mapping):
            return False
        return all(k in value and _match(v, value[k], out) for k, v in node.items())
    if isinstance(node, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(node):
            return False
        return all(_match(n, v, out) for n, v in zip(node, value))
    if not isinstance(node, Apply):
        return _same(node, value)
    if node.name == "literal":
        return _same(node.obj, value)
    label = _choice_label(node)
    if label is not None:
        for index, option in enumerate(node.pos_args[1:]):
            sub: dict[str, Any] = {}
            if _match(option, value, sub):
                out[label] = index
                out.update(sub)
                return True
        return False
    label = _leaf_label(node)
    if label is not None:
        if not _is_number(value):
            return False
        out[label] = value
        return True
    if node.name == "dict":
        if not isinstance(value, Mapping):
            return False
        return all(k in value and _match(v, value[k], out) for k, v in node.named_args)
    if node.name == "pos_args":
        return _match(list(node.pos_args), value, out)
    raise _CannotRead(node.name)


# ---------------------------------------------------------------------------------------------
# The searcher
# ---------------------------------------------------------------------------------------------


class HyperOptSearch(Searcher):
    """Suggest configs with HyperOpt's TPE (``pip install 'tune-search[hyperopt]'``).

    :param space: the search space, in hyperopt's format (a dict of ``hp.uniform(...)`` and
        friends, ``hp.choice`` over dicts for conditional spaces) or tune's; ``None``: take
        ``param_space`` from the ``Tuner``.
    :param metric: the metric to optimize; ``None``: ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"``; ``None``: ``TuneConfig.mode``.
    :param points_to_evaluate: configs to run first (category values, not indices; for a
        hyperopt space, nested like the space or flat ``{label: value}``).
    :param n_initial_points: random suggestions before TPE takes over (hyperopt's
        ``n_startup_jobs``; trials still running count, as in hyperopt).
    :param random_state_seed: seed for reproducible suggestions.
    :param gamma: TPE's quantile splitting good from bad trials.
    :param evaluated_rewards: the metric's values of ``points_to_evaluate``, known already:
        they are told to TPE instead of being run (not in Ray Tune's signature).

    With a space in hyperopt's format, configs are what hyperopt evaluates the space to (it
    turns a list option of ``hp.choice`` into a tuple); a tune space returns every category
    exactly as written.
    """

    supports = SearcherSupport(
        float=True,
        integer=True,
        categorical=True,
        log=True,
        quantized=True,
        normal=True,
        nested=True,
        conditional=True,
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
        n_initial_points: int | None = 20,
        random_state_seed: int | None = None,
        gamma: float | None = 0.25,
        *,
        evaluated_rewards: list[float] | None = None,
    ) -> None:
        _check_single_objective(metric, mode)
        super().__init__(metric=metric, mode=mode)
        if space is not None and not isinstance(space, Mapping):
            raise invalid_type("space", space, "expected a dict (hyperopt's or tune's format)")
        if n_initial_points is not None and (
            not isinstance(n_initial_points, numbers.Integral)
            or isinstance(n_initial_points, bool)
            or n_initial_points < 0
        ):
            raise invalid_value(
                "n_initial_points", n_initial_points, "must be None or an integer >= 0"
            )
        if random_state_seed is not None and (
            not isinstance(random_state_seed, numbers.Integral)
            or isinstance(random_state_seed, bool)
            or random_state_seed < 0
        ):
            raise invalid_value(
                "random_state_seed", random_state_seed, "must be None or an integer >= 0"
            )
        if gamma is not None and (
            not _is_number(gamma) or not math.isfinite(gamma) or not 0 < gamma <= 1
        ):
            raise invalid_value("gamma", gamma, "must be None or a number in (0, 1]")
        points = _check_points(points_to_evaluate)
        rewards = _check_rewards(evaluated_rewards, points)

        self._n_initial_points = None if n_initial_points is None else int(n_initial_points)
        self._gamma = None if gamma is None else float(gamma)
        self._seed = None if random_state_seed is None else int(random_state_seed)
        self._rng = np.random.default_rng(self._seed)
        self._points = copy.deepcopy(points)
        self._rewards = rewards
        self._space: dict | None = None  # the hyperopt-format space, when given so
        self._flat: FlatSpace | None = None  # the parsed tune space, when given so
        self._point_vals: list[dict[str, Any]] = []
        self._trials: Any = None  # hyperopt.Trials, made at the first suggestion
        self._queue: list[int] = []  # tids of points_to_evaluate not handed out yet
        self._live: dict[str, int] = {}  # trial_id -> tid
        self._docs: dict[int, dict] = {}  # tid -> document, of queued and live trials
        self._setup_algo()
        if space:
            self._set_space(space)

    # -- setup ----------------------------------------------------------------------------------
    def _setup_algo(self) -> None:
        algo = tpe.suggest
        if self._n_initial_points is not None:
            algo = partial(algo, n_startup_jobs=self._n_initial_points)
        if self._gamma is not None:
            algo = partial(algo, gamma=self._gamma)
        self._algo = algo

    def _set_space(self, space: Mapping) -> None:
        has_tune = has_unresolved_values(space)
        if has_tune and _contains_apply(space):
            raise invalid_value(
                "space",
                space,
                "write it either in hyperopt's format (hp.uniform, ...) or in tune's "
                "(tune.uniform, ...), not both",
            )
        if has_tune or not _contains_apply(space):
            flat = parse_space(space, searcher=type(self).__name__, supports=self.supports)
            if not flat.params:
                raise invalid_value(
                    "space",
                    space,
                    "it holds no search domains (tune.uniform, tune.choice, ...); HyperOpt "
                    "needs at least one. Without any, run without a search algorithm",
                )
            self._flat, self._space = flat, None
        else:
            self._flat, self._space = None, dict(space)
        self._build_domain()
        self._point_vals = [
            self._vals_of_point(f"points_to_evaluate[{i}]", p) for i, p in enumerate(self._points)
        ]

    def _build_domain(self) -> None:
        if self._flat is not None:
            expr: Any = {p.name: _hp_node(p) for p in self._flat.params}
        else:
            expr = self._space
        try:
            self._domain = hpo.Domain(_identity, expr)
        except Exception as exc:  # noqa: BLE001 - hyperopt raises several kinds here
            raise invalid_value(
                "space", self._space, f"hyperopt cannot use it ({type(exc).__name__}: {exc})"
            ) from exc
        self._labels = list(self._domain.params)

    def _vals_of_point(self, where: str, point: Mapping) -> dict[str, Any]:
        if self._flat is not None:
            values = self._flat.values_of(point)
            out: dict[str, Any] = {}
            for param in self._flat.params:
                _point_value(param, values[param.name], out)
            return out
        out = {}
        readable = True
        try:
            matched = _match(self._space, point, out)
        except _CannotRead:
            matched, readable = False, False
        if not matched and set(point) <= set(self._labels):
            # hyperopt's own flat format: {label: value}.
            out, matched = {}, True
            nodes = _label_nodes(self._domain)
            for label, value in point.items():
                node = nodes.get(label)
                try:
                    if node is None or not _match(node, value, out):
                        matched = False
                except _CannotRead:
                    matched = False
        if matched:
            try:
                self._native_config(out)
                return out
            except Exception:  # noqa: BLE001 - the point leaves a needed label out
                pass
        reason = "" if readable else " (an expression in the space cannot be traced back)"
        raise TuneValueError(
            f"{where}={dict(point)!r} is not a value of the hyperopt "
            f"space{reason}: give a config shaped like the space, or {{label: value}} for "
            f"every label {self._labels!r} that the point uses, with choices' values (not "
            "indices)."
        )

    def _start(self) -> None:
        """Make the hyperopt Trials, with the points to evaluate, once metric and mode are
        known (a point's reward becomes a loss)."""
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        if not self._metric or not self._mode:
            raise TuneValueError(
                f"HyperOptSearch needs a metric and a mode (got metric={self._metric!r}, "
                f"mode={self._mode!r}): pass them to HyperOptSearch(...) or to "
                "tune.TuneConfig(metric=..., mode=...)."
            )
        self._trials = hpo.Trials()
        for i, vals in enumerate(self._point_vals):
            reward = self._rewards[i] if self._rewards is not None else None
            if reward is None:
                self._queue.append(self._insert(vals, None)["tid"])
            else:
                self._insert(vals, "error" if math.isnan(reward) else self._loss(reward))
        self._points, self._point_vals, self._rewards = [], [], None
        queued = set(self._queue)
        self._docs = {doc["tid"]: doc for doc in self._trials.trials if doc["tid"] in queued}

    def _loss(self, value: float) -> float:
        return -float(value) if self._mode == "max" else float(value)

    def _insert(self, vals: Mapping[str, Any], loss: float | None | str) -> dict:
        """Add a trial document for ``vals``: pending (``loss`` None), done (a number) or
        failed ("error")."""
        trials = self._trials
        (tid,) = trials.new_trial_ids(1)
        misc = {
            "tid": tid,
            "cmd": self._domain.cmd,
            "workdir": self._domain.workdir,
            "idxs": {k: [tid] if k in vals else [] for k in self._labels},
            "vals": {k: [vals[k]] if k in vals else [] for k in self._labels},
        }
        (doc,) = trials.new_trial_docs([tid], [None], [self._domain.new_result()], [misc])
        if loss is not None:
            _finish(doc, loss)
        trials.insert_trial_docs([doc])
        trials.refresh()
        return doc

    # -- Ray Tune's Searcher API ----------------------------------------------------------------
    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        _check_single_objective(metric, mode)
        given = (("metric", self._metric, metric), ("mode", self._mode, mode))
        for argument, ours, theirs in given:
            if ours is not None and theirs is not None and ours != theirs:
                raise invalid_value(
                    argument,
                    theirs,
                    f"HyperOptSearch was created with {argument}={ours!r}; give it in one "
                    "place only (the searcher or TuneConfig), or the same in both",
                )
        if self._trials is None:
            self._metric = self._metric or metric
            self._mode = self._mode or mode
        if self._flat is not None or self._space is not None:
            return False
        self._set_space(config or {})
        return True

    def suggest(self, trial_id: str) -> dict | None:
        if self._flat is None and self._space is None:
            raise TuneError(
                "HyperOptSearch has no search space: pass space=... or use it in a "
                "tune.Tuner with a param_space."
            )
        if self._trials is None:
            self._start()
        trials = self._trials
        if self._queue:
            doc = self._docs[self._queue.pop(0)]
        else:
            new_ids = trials.new_trial_ids(1)
            trials.refresh()
            docs = self._algo(new_ids, self._domain, trials, int(self._rng.integers(_SEED_BOUND)))
            trials.insert_trial_docs(docs)
            trials.refresh()
            doc = trials.trials[-1]
            self._docs[doc["tid"]] = doc
        doc["state"] = hpo.JOB_STATE_RUNNING
        doc["book_time"] = doc["refresh_time"] = coarse_utcnow()
        self._live[trial_id] = doc["tid"]
        return self._config(doc["misc"]["vals"])

    def _config(self, vals: Mapping[str, list]) -> dict:
        if self._flat is not None:
            return self._flat.to_config({p.name: _value(p, vals) for p in self._flat.params})
        return self._native_config({k: v[0] for k, v in vals.items() if v})

    def _native_config(self, spec: Mapping[str, Any]) -> dict:
        memo = self._domain.memo_from_config(spec)
        return copy.deepcopy(rec_eval(self._domain.expr, memo=memo, print_node_on_error=False))

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        """Errored trials, and trials that ended without reporting the metric, are marked
        failed (hyperopt's ``JOB_STATE_ERROR``, as its ``fmin`` does when the objective raises)
        so TPE leaves them out; early-stopped trials count with their last value."""
        tid = self._live.pop(trial_id, None)
        if tid is None or self._trials is None:
            return
        doc = self._docs.pop(tid, None)
        if doc is None:
            return
        value = None if error or not result else result.get(self._metric)
        if not error and (not _is_number(value) or math.isnan(value)):
            logger.warning(
                "HyperOptSearch: trial %s ended without a number for metric %r; it is "
                "recorded as failed.", trial_id, self._metric,
            )
            value = None
        _finish(doc, "error" if value is None else self._loss(value))
        self._trials.refresh()

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Tell TPE about a config evaluated elsewhere (a pruned one counts with ``value``)."""
        if self._flat is None and self._space is None:
            raise TuneError("HyperOptSearch.add_evaluated_point needs the search space first.")
        if self._trials is None:
            self._start()
        vals = self._vals_of_point("parameters", parameters)
        if error or not _is_number(value) or math.isnan(value):
            self._insert(vals, "error")
        else:
            self._insert(vals, self._loss(value))

    def get_state(self) -> dict:
        return {
            "metric": self._metric,
            "mode": self._mode,
            "n_initial_points": self._n_initial_points,
            "gamma": self._gamma,
            "seed": self._seed,
            "rng": self._rng.bit_generator.state,
            "space": self._space,
            "flat": self._flat,
            "points": self._points,
            "rewards": self._rewards,
            "trials": self._trials,
            "queue": list(self._queue),
            "live": dict(self._live),
        }

    def set_state(self, state: dict) -> None:
        self._metric, self._mode = state["metric"], state["mode"]
        self._n_initial_points, self._gamma = state["n_initial_points"], state["gamma"]
        self._seed = state["seed"]
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = state["rng"]
        self._setup_algo()
        self._space, self._flat = state["space"], state["flat"]
        self._points, self._rewards = list(state["points"]), state["rewards"]
        self._trials = state["trials"]
        self._queue, self._live = list(state["queue"]), dict(state["live"])
        self._point_vals = []
        if self._space is not None or self._flat is not None:
            self._build_domain()
            if self._trials is None:
                self._point_vals = [
                    self._vals_of_point(f"points_to_evaluate[{i}]", p)
                    for i, p in enumerate(self._points)
                ]
        if self._trials is not None:
            self._trials.refresh()
            wanted = set(self._queue) | set(self._live.values())
            self._docs = {d["tid"]: d for d in self._trials.trials if d["tid"] in wanted}


def _finish(doc: dict, loss: float | str) -> None:
    if loss == "error":
        doc["state"] = hpo.JOB_STATE_ERROR
        doc["result"] = {"status": hpo.STATUS_FAIL}
        doc["misc"]["error"] = ("tune", "the trial failed or reported no metric")
    else:
        doc["state"] = hpo.JOB_STATE_DONE
        doc["result"] = {"loss": loss, "status": hpo.STATUS_OK}
    doc["refresh_time"] = coarse_utcnow()


def _label_nodes(domain: Any) -> dict[str, Apply]:
    """Each label's node as the space uses it (a choice's ``switch``, a number's leaf)."""
    nodes: dict[str, Apply] = {}
    for node in dfs(domain.expr):
        label = _choice_label(node)
        if label is None and node.name in ("float", "int"):
            label = _leaf_label(node)
        if label is not None and label not in nodes:
            nodes[label] = node
    return nodes


def _check_single_objective(metric: Any, mode: Any) -> None:
    if isinstance(metric, (list, tuple)) or isinstance(mode, (list, tuple)):
        raise invalid_value(
            "metric" if isinstance(metric, (list, tuple)) else "mode",
            metric if isinstance(metric, (list, tuple)) else mode,
            "HyperOpt's TPE optimizes a single metric; pass one metric name and 'min'/'max'",
        )


def _check_points(points: Any) -> list[dict]:
    if points is None:
        return []
    if not isinstance(points, (list, tuple)) or not all(isinstance(p, Mapping) for p in points):
        raise invalid_type(
            "points_to_evaluate", points, "expected a list of configs (dicts) or None"
        )
    return [dict(p) for p in points]


def _check_rewards(rewards: Any, points: list[dict]) -> list[float] | None:
    if rewards is None:
        return None
    if not isinstance(rewards, (list, tuple)) or not all(_is_number(r) for r in rewards):
        raise invalid_type("evaluated_rewards", rewards, "expected a list of numbers or None")
    if len(rewards) != len(points):
        raise invalid_value(
            "evaluated_rewards",
            rewards,
            f"must hold one value per point of points_to_evaluate ({len(points)})",
        )
    return [float(r) for r in rewards]
