"""What optimizer adapters need from a search space: its parameters, flat, checked.

A ``param_space`` is a nested dict whose leaves are constants or search-space domains
(``tune.uniform``, ``tune.choice``, ...). An adapter for an optimizer library (Optuna,
HyperOpt, ...) needs the searchable leaves as a flat list with their paths, needs to know
that each is one its library can express, and needs to turn the library's answer back into
a nested config with the constants in place. ``parse_space`` does the first two and
``FlatSpace.to_config`` the last, for every adapter alike.

What a searcher can express is declared once, as a ``SearcherSupport`` (the class attribute
``supports`` of a ``Searcher``): ``parse_space`` refuses, naming the parameter, anything
outside it, so no adapter silently samples something else (Ray Tune's HyperOpt adapter
answers ``{}`` for a ``choice`` over lists, ray-project/ray#24050). The searcher
conformance suite (``tune.testing.searcher_conformance``) checks an adapter against its
declaration.

Categorical values may be anything (numbers, strings, lists, dicts, ``None``): adapters
give the library the *index* of a category and ``Param.category`` maps it back, so
``tune.choice([[1, 2], {"a": 1}])`` round-trips exactly. A category that holds domains
itself (``tune.choice([{"lr": tune.uniform(0, 1)}, ...])``) is a conditional space.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from tune.errors import TuneValueError
from tune.search.sample import Categorical, Domain, Float, Function, Integer, _round_to

__all__ = [
    "FlatSpace",
    "Param",
    "SearcherSupport",
    "flatten_config",
    "parse_space",
    "unflatten_config",
]

Path = tuple[str, ...]


@dataclass(frozen=True)
class SearcherSupport:
    """What a search algorithm can express and do; each field ``True`` when it can.

    Attributes:
        float / integer / categorical: the three kinds of parameter.
        log: log-uniform floats and integers (``loguniform``, ``lograndint``).
        quantized: rounding to multiples of ``q`` (``quniform``, ``qrandint``...).
        normal: normally distributed floats (``randn``, ``qrandn``).
        nested: parameters inside nested dicts (``{"model": {"width": ...}}``).
        conditional: categories that hold domains themselves (a space per branch).
        multi_objective: a list of metrics and modes.
        points_to_evaluate: initial configs to try first.
        evaluated_rewards: the results of ``points_to_evaluate`` given up front.
    """

    float: bool = True
    integer: bool = True
    categorical: bool = True
    log: bool = True
    quantized: bool = True
    normal: bool = False
    nested: bool = True
    conditional: bool = False
    multi_objective: bool = False
    points_to_evaluate: bool = True
    evaluated_rewards: bool = False

    def names(self) -> list[str]:
        """The features supported, by field name."""
        return [f.name for f in fields(self) if getattr(self, f.name)]


@dataclass
class Param:
    """One searchable leaf of the space.

    Attributes:
        path: the keys leading to it (``("model", "width")``); ``name`` joins them with "/".
        domain: the domain as the user wrote it.
        kind: ``"float"``, ``"int"`` or ``"categorical"``.
        lower / upper: the smallest and largest valid values, both inclusive: ``randint``'s
            exclusive upper bound is already taken off, and with ``q`` they are the extreme
            multiples of ``q`` inside the domain's bounds; ``None`` for categoricals.
        log: log-uniform; q: the quantum or ``None``; normal: ``(mean, sd)`` or ``None``.
        branches: for a conditional categorical, the parsed sub-space of each category
            (``None`` for categories without domains).
    """

    path: Path
    domain: Domain
    kind: str
    lower: float | None = None
    upper: float | None = None
    log: bool = False
    q: float | None = None
    normal: tuple[float, float] | None = None
    branches: list[FlatSpace | None] | None = None

    @property
    def name(self) -> str:
        return "/".join(self.path)

    @property
    def categories(self) -> list:
        assert isinstance(self.domain, Categorical)
        return self.domain.categories

    def category(self, index: int) -> Any:
        """The category at ``index``, a fresh copy (configs must not share mutable values)."""
        return copy.deepcopy(self.categories[int(index)])

    def index_of(self, value: Any) -> int:
        """The index of ``value`` among the categories (for ``points_to_evaluate``)."""
        for i, category in enumerate(self.categories):
            if category == value and type(category) is type(value):
                return i
        for i, category in enumerate(self.categories):
            if category == value:
                return i
        raise TuneValueError(
            f"Value {value!r} for parameter {self.name!r} is not one of its categories "
            f"{self.categories!r}."
        )

    def branch_config(self, index: int, values: Mapping[str, Any]) -> Any:
        """A conditional parameter's value: category ``index`` with its domains replaced by
        ``values`` (keyed by the branch parameters' names), constants kept."""
        branch = self.branches[int(index)] if self.branches else None
        if branch is None:
            return self.category(index)
        cut = len(self.path) + 1  # the branch's paths start with (*self.path, "[i]")
        config: dict = {}
        for path, value in branch.constants.items():
            _assign(config, path[cut:], copy.deepcopy(value))
        for param in branch.params:
            if param.name in values:
                _assign(config, param.path[cut:], values[param.name])
        return config

    def cast(self, value: Any) -> Any:
        """A library's raw number as this parameter's value: inside the bounds, rounded to
        ``q``, an ``int`` for integers."""
        if self.kind == "categorical":
            return self.category(value)
        value = float(value)
        if self.q is not None:
            value = _round_to(value, self.q)  # (0.1 * 3 stays 0.3)
        # lower/upper are the extreme valid values (multiples of q when quantized).
        if self.lower is not None and math.isfinite(self.lower):
            value = max(value, self.lower)
        if self.upper is not None and math.isfinite(self.upper):
            value = min(value, self.upper)
        if self.kind == "int":
            return int(round(value))
        return float(value)


@dataclass
class FlatSpace:
    """A parsed space: the searchable ``params`` and the ``constants`` around them."""

    params: list[Param] = field(default_factory=list)
    constants: dict[Path, Any] = field(default_factory=dict)
    #: every leaf path in the space's own order (configs keep the user's key order)
    order: list[Path] = field(default_factory=list)

    def by_name(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    def to_config(self, values: Mapping[str, Any]) -> dict:
        """The nested config for ``{param name: value}`` (values already cast), constants
        included. A conditional parameter's value is its branch config merged in place."""
        params = {p.path: p for p in self.params}
        config: dict = {}
        for path in self.order:
            if path in self.constants:
                _assign(config, path, copy.deepcopy(self.constants[path]))
            elif params[path].name in values:
                _assign(config, path, values[params[path].name])
        return config

    def values_of(self, config: Mapping, argument: str = "points_to_evaluate") -> dict[str, Any]:
        """``{param name: value}`` read from a nested config (``points_to_evaluate``, or the
        ``argument`` named in the error); a parameter the config lacks raises, naming it."""
        values = {}
        for param in self.params:
            node: Any = config
            for key in param.path:
                if not isinstance(node, Mapping) or key not in node:
                    raise TuneValueError(
                        f"{argument}: the config {dict(config)!r} has no value for "
                        f"parameter {param.name!r}; give every parameter of the space."
                    )
                node = node[key]
            values[param.name] = node
        return values


def _assign(config: dict, path: Path, value: Any) -> None:
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _contains_domain(value: Any) -> bool:
    if isinstance(value, (Domain, Function)):
        return True
    if isinstance(value, Mapping):
        if "grid_search" in value:
            return True
        return any(_contains_domain(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_domain(v) for v in value)
    return False


class _Refusal:
    def __init__(self, searcher: str, supports: SearcherSupport) -> None:
        self.searcher = searcher
        self.supports = supports

    def check(self, feature: str, path: Path, what: str) -> None:
        if not getattr(self.supports, feature):
            raise TuneValueError(
                f"{self.searcher} cannot express parameter {'/'.join(path)!r}: {what} "
                f"({feature}) is not supported by this search algorithm. It supports: "
                f"{', '.join(self.supports.names())}. Change the parameter, or use a search "
                "algorithm that supports it."
            )


def parse_space(
    space: Mapping | None, *, searcher: str, supports: SearcherSupport
) -> FlatSpace:
    """Flatten ``space`` into parameters ``searcher`` can express, or raise naming the first
    one it cannot (``TuneValueError``). Grid search and ``sample_from`` are always refused:
    an optimizer proposes values, it does not enumerate or call user functions."""
    refusal = _Refusal(searcher, supports)
    flat = FlatSpace()
    _walk(space or {}, (), flat, refusal)
    return flat


def _walk(node: Mapping, prefix: Path, flat: FlatSpace, refusal: _Refusal) -> None:
    for key, value in node.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and "grid_search" in value:
            raise TuneValueError(
                f"{refusal.searcher} cannot use grid_search (parameter {'/'.join(path)!r}): "
                "an optimizer proposes values itself. Use tune.choice(...) instead, or the "
                "default random/grid search (no search_alg)."
            )
        if isinstance(value, Mapping):
            if _contains_domain(value):
                refusal.check("nested", path, "a parameter inside a nested dict")
                _walk(value, path, flat, refusal)
            else:
                flat.constants[path] = value
                flat.order.append(path)
            continue
        if isinstance(value, Function):
            raise TuneValueError(
                f"{refusal.searcher} cannot use tune.sample_from (parameter "
                f"{'/'.join(path)!r}): it cannot see inside a function. Use a search-space "
                "domain (tune.uniform, tune.choice, ...) instead."
            )
        if isinstance(value, Domain):
            flat.params.append(_param(path, value, refusal))
            flat.order.append(path)
            continue
        if isinstance(value, (list, tuple)) and _contains_domain(value):
            raise TuneValueError(
                f"{refusal.searcher} cannot search inside a list (parameter "
                f"{'/'.join(path)!r}); put the domains in a dict."
            )
        flat.constants[path] = value
        flat.order.append(path)


def _param(path: Path, domain: Domain, refusal: _Refusal) -> Param:
    if isinstance(domain, Float):
        refusal.check("float", path, "a float range")
        if domain.distribution == "normal":
            refusal.check("normal", path, "a normal distribution")
        if domain.log:
            refusal.check("log", path, "a log-uniform range")
        if domain.q is not None:
            refusal.check("quantized", path, f"rounding to multiples of {domain.q}")
        normal = (domain.mean, domain.sd) if domain.distribution == "normal" else None
        return Param(
            path, domain, "float", domain.min_value, domain.max_value, domain.log, domain.q, normal
        )
    if isinstance(domain, Integer):
        refusal.check("integer", path, "an integer range")
        if domain.log:
            refusal.check("log", path, "a log-uniform integer range")
        if domain.q is not None and domain.q != 1:
            refusal.check("quantized", path, f"rounding to multiples of {domain.q}")
        q = domain.q if domain.q not in (None, 1) else None
        return Param(path, domain, "int", domain.min_value, domain.max_value, domain.log, q)
    if isinstance(domain, Categorical):
        refusal.check("categorical", path, "a choice among values")
        if domain.is_grid():
            raise TuneValueError(
                f"{refusal.searcher} cannot use a grid domain (parameter {'/'.join(path)!r}); "
                "use tune.choice(...)."
            )
        branches = None
        if any(_contains_domain(c) for c in domain.categories):
            refusal.check("conditional", path, "a choice whose values hold search domains")
            branches = []
            for i, category in enumerate(domain.categories):
                if isinstance(category, Mapping) and _contains_domain(category):
                    sub = FlatSpace()
                    _walk(category, (*path, f"[{i}]"), sub, refusal)
                    branches.append(sub)
                elif _contains_domain(category):
                    raise TuneValueError(
                        f"{refusal.searcher}: category {i} of parameter {'/'.join(path)!r} "
                        "holds search domains outside a dict; put them in a dict."
                    )
                else:
                    branches.append(None)
        return Param(path, domain, "categorical", branches=branches)
    raise TuneValueError(
        f"{refusal.searcher} cannot express parameter {'/'.join(path)!r}: "
        f"{type(domain).__name__} is not a domain it knows."
    )


def flatten_config(config: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a/b": 1}``: Ray Tune's names for nested parameters, which
    libraries with flat parameter lists use (empty dicts stay values)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, name + "/"))
        else:
            flat[name] = value
    return flat


def unflatten_config(flat: Mapping[str, Any], searcher: str = "the search algorithm") -> dict:
    """``{"a/b": 1}`` -> ``{"a": {"b": 1}}``. A name that is both a value and the prefix of
    others (``"a"`` and ``"a/b"``) raises, naming ``searcher`` and the parameter."""
    config: dict = {}
    for name, value in flat.items():
        keys = str(name).split("/")
        node = config
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise TuneValueError(
                    f"{searcher}: parameter {name!r} nests under {key!r}, which is a value "
                    "itself; rename one of them."
                )
            node = child
        if isinstance(node.get(keys[-1]), dict):
            raise TuneValueError(
                f"{searcher}: parameter {name!r} is also the prefix of nested parameters; "
                "rename one of them."
            )
        node[keys[-1]] = value
    return config
