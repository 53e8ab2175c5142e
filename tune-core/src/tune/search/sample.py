"""Typed search-space domains (``tune.uniform``, ``tune.choice``, ...) and ``tune.grid_search``.

A domain is a small immutable value object that says *which* values a parameter may take
(``lower``/``upper``/``categories``), *how* to draw them (``log`` and ``base``, ``mean``/``sd``
for normals) and how to round them (``q``). Optimizer adapters read these attributes to build
their own spaces; ``Domain.sample`` draws values for random and grid search.

Importing this module is cheap: NumPy is only imported when a sample is drawn without a
``random_state`` (NumPy's global generator is the default, as in Ray Tune) and is otherwise
never needed. ``random_state`` may be an int seed (Python's ``random.Random`` is used), a
``random.Random``, or a NumPy ``Generator``/``RandomState``.
"""

from __future__ import annotations

import abc
import copy
import math
import numbers
import random
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tune.errors import invalid_type, invalid_value

__all__ = [
    "BaseSampler",
    "Categorical",
    "Domain",
    "Float",
    "Function",
    "Grid",
    "Integer",
    "LogUniform",
    "Normal",
    "Quantized",
    "RecursiveDependencyError",
    "Sampler",
    "Uniform",
    "choice",
    "grid_search",
    "loguniform",
    "lograndint",
    "qloguniform",
    "qlograndint",
    "qrandint",
    "qrandn",
    "quniform",
    "randint",
    "randn",
    "sample_from",
    "uniform",
]

_INF = float("inf")


# ---------------------------------------------------------------------------------------------
# Random number sources
# ---------------------------------------------------------------------------------------------


class _Rng:
    """One interface over ``random.Random``, NumPy ``Generator`` and NumPy ``RandomState``.

    ``source`` is the wrapped object; it is what gets copied and pickled to save a position
    in a random sequence.
    """

    __slots__ = ("source", "_kind")

    def __init__(self, source: Any, kind: str) -> None:
        self.source = source
        self._kind = kind  # "py", "np" (Generator) or "np_legacy" (RandomState / np.random)

    def uniform(self, low: float, high: float) -> float:
        return float(self.source.uniform(low, high))

    def normal(self, mean: float, sd: float) -> float:
        if self._kind == "py":
            return float(self.source.normalvariate(mean, sd))
        return float(self.source.normal(mean, sd))

    def get_state(self) -> Any:
        """The generator's position (cheap for ``random.Random``: an immutable tuple)."""
        if self._kind == "py":
            return self.source.getstate()
        if self._kind == "np":
            return copy.deepcopy(self.source.bit_generator.state)
        return self.source.get_state()

    def set_state(self, state: Any) -> None:
        if self._kind == "py":
            self.source.setstate(state)
        elif self._kind == "np":
            self.source.bit_generator.state = copy.deepcopy(state)
        else:
            self.source.set_state(state)

    def integers(self, low: int, high: int) -> int:
        """An integer in ``[low, high)``."""
        if self._kind == "py":
            return int(self.source.randrange(low, high))
        if self._kind == "np":
            return int(self.source.integers(low, high))
        return int(self.source.randint(low, high))


def _default_source() -> tuple[Any, str]:
    # NumPy's global generator is Ray Tune's default, so ``np.random.seed(...)`` in a user
    # script makes sampling reproducible here too. A script that never imported NumPy gets
    # Python's global one: importing NumPy only to sample costs 0.1 s and a BLAS thread.
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return random, "py"
    return numpy.random, "np_legacy"


def _as_rng(random_state: Any) -> _Rng:
    """Wrap whatever the user passed as ``random_state`` (see the module docstring)."""
    if isinstance(random_state, _Rng):
        return random_state
    if random_state is None:
        return _Rng(*_default_source())
    if isinstance(random_state, random.Random):
        return _Rng(random_state, "py")
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return _Rng(random.Random(int(random_state)), "py")
    if hasattr(random_state, "integers") and hasattr(random_state, "bit_generator"):
        return _Rng(random_state, "np")
    if hasattr(random_state, "randint") and hasattr(random_state, "get_state"):
        return _Rng(random_state, "np_legacy")
    raise invalid_type(
        "random_state",
        random_state,
        "expected None, an int seed, a random.Random, or a numpy Generator or RandomState",
    )


def _seed_from(random_state: Any) -> random.Random:
    """A private ``random.Random`` whose state can be saved, derived from ``random_state``.

    ``None`` draws the seed from the default (global) generator, so a globally seeded script
    stays reproducible.
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return random.Random(int(random_state))
    return random.Random(_as_rng(random_state).integers(0, 2**62))


# ---------------------------------------------------------------------------------------------
# Argument checks (bad input fails when the space is written, not when a trial starts)
# ---------------------------------------------------------------------------------------------


def _check_real(argument: str, value: Any, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid_type(argument, value, "expected a number")
    if math.isnan(value):
        raise invalid_value(argument, value, "must be a number, not NaN")
    return value


def _check_int(argument: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid_type(argument, value, "expected an integer")
    if isinstance(value, numbers.Integral):
        return int(value)
    if math.isfinite(value) and float(value).is_integer():
        return int(value)
    raise invalid_value(argument, value, "must be an integer")


def _check_finite(argument: str, value: float, what: str) -> None:
    if not math.isfinite(value):
        raise invalid_value(argument, value, f"must be a finite number for {what}")


def _check_order(lower: float, upper: float) -> None:
    if not lower < upper:
        raise invalid_value("upper", upper, f"must be greater than lower={lower!r}")


def _check_log_bounds(lower: float, upper: float) -> None:
    if not lower > 0:
        raise invalid_value("lower", lower, "must be > 0 for log sampling")
    if not 0 < upper < _INF:
        raise invalid_value("upper", upper, "must be a finite number > 0 for log sampling")


def _check_base(base: Any) -> float:
    base = _check_real("base", base)
    if not (base > 0 and base != 1 and math.isfinite(base)):
        raise invalid_value("base", base, "must be a finite number > 0 and != 1")
    return base


def _check_q(q: Any, integer: bool) -> float | int:
    if integer:
        q = _check_int("q", q)
        if q < 1:
            raise invalid_value("q", q, "must be a positive integer")
        return q
    q = _check_real("q", q)
    if not (q > 0 and math.isfinite(q)):
        raise invalid_value("q", q, "must be a finite number > 0")
    return q


def _check_size(size: Any) -> int:
    size = _check_int("size", size)
    if size < 1:
        raise invalid_value("size", size, "must be an integer >= 1")
    return size


def _decimals(q: float) -> int:
    """Decimal places of ``q`` as written, to strip float noise (3.4, not 3.4000000000000004)."""
    from decimal import Decimal

    exponent = Decimal(repr(float(q))).as_tuple().exponent
    return max(0, -int(exponent)) if isinstance(exponent, int) else 0


def _round_to(value: float, q: float) -> float:
    return round(round(value / q) * q, _decimals(q))


# ---------------------------------------------------------------------------------------------
# Ray Tune compatible sampler descriptors (``domain.get_sampler()``)
# ---------------------------------------------------------------------------------------------


class Sampler:
    """Describes how a domain draws values; returned by ``Domain.get_sampler()``.

    The domains keep the same facts as plain attributes (``log``, ``base``, ``q``, ``mean``,
    ``sd``); these classes exist so converters written against Ray Tune's
    ``isinstance(domain.get_sampler(), LogUniform)`` checks keep working.
    """

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.__dict__.items(), key=repr))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({args})"

    def __str__(self) -> str:
        return type(self).__name__


class BaseSampler(Sampler):
    """A sampler that calls a function (``sample_from``)."""


class Uniform(Sampler):
    """Uniform over the domain's bounds or categories."""


class LogUniform(Sampler):
    """Uniform in log space between the domain's (positive) bounds."""

    def __init__(self, base: float = 10) -> None:
        self.base = base


class Normal(Sampler):
    """Normal with ``mean`` and standard deviation ``sd``."""

    def __init__(self, mean: float = 0.0, sd: float = 1.0) -> None:
        self.mean = mean
        self.sd = sd


class Grid(Sampler):
    """Every category, in order (grid search)."""


class Quantized(Sampler):
    """Another sampler whose values are rounded to multiples of ``q``."""

    def __init__(self, sampler: Sampler, q: float) -> None:
        self.sampler = sampler
        self.q = q

    def get_sampler(self) -> Sampler:
        return self.sampler


# ---------------------------------------------------------------------------------------------
# Domains
# ---------------------------------------------------------------------------------------------


class RecursiveDependencyError(Exception):
    """A ``sample_from`` function read a value that is not resolved yet (retried later)."""


class Domain(abc.ABC):
    """A parameter's set of values and how to draw from it (base class).

    Subclasses are value objects: builder methods (``uniform()``, ``quantized(q)``, ...)
    return modified copies, and two domains are equal when they describe the same thing.
    """

    def cast(self, value: Any) -> Any:
        """Convert a drawn value to the domain's type."""
        return value

    def sample(
        self,
        config: Mapping | list | None = None,
        size: int = 1,
        random_state: Any = None,
    ) -> Any:
        """Draw ``size`` values: one value when ``size == 1``, else a list.

        :param config: for ``sample_from`` domains, the (partially) resolved config the
            function may read (one per value when a list); ignored by other domains.
        :param size: how many values to draw.
        :param random_state: ``None`` (NumPy's global generator when the script imported
            NumPy, else Python's), an int seed, a ``random.Random``, or a NumPy
            ``Generator``/``RandomState``.
        """
        size = _check_size(size)
        rng = _as_rng(random_state)
        if size == 1:
            item_config = config[0] if isinstance(config, list) else config
            return self._sample_one(rng, item_config)
        return [
            self._sample_one(rng, config[i] if isinstance(config, list) else config)
            for i in range(size)
        ]

    @abc.abstractmethod
    def _sample_one(self, rng: _Rng, config: Any) -> Any:
        """Draw one value with ``rng`` (``config``: see ``sample``)."""

    def is_grid(self) -> bool:
        """Whether this domain is searched exhaustively (grid search) rather than sampled."""
        return False

    def is_function(self) -> bool:
        """Whether this is a ``sample_from`` domain."""
        return False

    def is_valid(self, value: Any) -> bool:
        """Whether ``value`` is a value this domain can produce."""
        return True

    def get_sampler(self) -> Sampler:
        """Ray Tune style description of how values are drawn."""
        return Uniform()

    @property
    def sampler(self) -> Sampler:
        return self.get_sampler()

    @property
    def domain_str(self) -> str:
        """Short description of the valid values, for messages."""
        return "(unknown)"

    def _key(self) -> tuple:
        return tuple(sorted(self.__dict__.items()))

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        try:
            return hash((type(self).__name__, self._key()))
        except TypeError:
            return hash(type(self).__name__)

    def _replace(self, **changes: Any) -> Domain:
        new = copy.copy(self)
        new.__dict__.update(changes)
        return new


class Float(Domain):
    """Real numbers between ``lower`` and ``upper`` (both inclusive).

    Attributes:
        lower, upper: the bounds (``-inf``/``inf`` when unbounded, as for normals).
        distribution: ``"uniform"``, ``"loguniform"`` or ``"normal"``.
        log: whether values are drawn uniformly in log space.
        base: the log base given by the user (the distribution does not depend on it).
        mean, sd: the normal distribution's parameters (``None`` unless normal).
        q: values are rounded to multiples of ``q`` (``None``: no rounding).
    """

    def __init__(self, lower: float | None, upper: float | None) -> None:
        lower = _check_real("lower", lower, allow_none=True)
        upper = _check_real("upper", upper, allow_none=True)
        self.lower: float = -_INF if lower is None else lower
        self.upper: float = _INF if upper is None else upper
        if math.isfinite(self.lower) and math.isfinite(self.upper):
            _check_order(self.lower, self.upper)
        self.distribution = "uniform"
        self.base: float = 10
        self.mean: float | None = None
        self.sd: float | None = None
        self.q: float | None = None

    @property
    def log(self) -> bool:
        return self.distribution == "loguniform"

    def cast(self, value: Any) -> float:
        return float(value)

    # -- builders (Ray Tune's Float(...).uniform().quantized(q) style) ------------------------
    def uniform(self) -> Float:
        _check_finite("lower", self.lower, "uniform sampling")
        _check_finite("upper", self.upper, "uniform sampling")
        return self._checked(distribution="uniform", mean=None, sd=None)

    def loguniform(self, base: float = 10) -> Float:
        _check_log_bounds(self.lower, self.upper)
        return self._checked(distribution="loguniform", base=_check_base(base), mean=None, sd=None)

    def normal(self, mean: float = 0.0, sd: float = 1.0) -> Float:
        mean = _check_real("mean", mean)
        _check_finite("mean", mean, "a normal distribution")
        sd = _check_real("sd", sd)
        if not (sd > 0 and math.isfinite(sd)):
            raise invalid_value("sd", sd, "must be a finite number > 0")
        if math.isfinite(self.lower) or math.isfinite(self.upper):
            raise invalid_value(
                "lower", self.lower, "must be None for normal sampling (use Float(None, None))"
            )
        return self._checked(distribution="normal", mean=mean, sd=sd)

    def quantized(self, q: float) -> Float:
        return self._checked(q=_check_q(q, integer=False))

    def _checked(self, **changes: Any) -> Float:
        new = self._replace(**changes)
        assert isinstance(new, Float)
        if new.q is not None and math.isfinite(new.lower) and math.isfinite(new.upper):
            if new.min_value > new.max_value:
                raise invalid_value(
                    "q", new.q, f"must have a multiple within [{new.lower!r}, {new.upper!r}]"
                )
        return new

    # -- facts for converters ------------------------------------------------------------------
    @property
    def min_value(self) -> float:
        """The smallest value ``sample`` can return (after rounding to ``q``)."""
        if self.q is None or not math.isfinite(self.lower):
            return self.lower
        return round(math.ceil(round(self.lower / self.q, 9)) * self.q, _decimals(self.q))

    @property
    def max_value(self) -> float:
        """The largest value ``sample`` can return (after rounding to ``q``)."""
        if self.q is None or not math.isfinite(self.upper):
            return self.upper
        return round(math.floor(round(self.upper / self.q, 9)) * self.q, _decimals(self.q))

    def get_sampler(self) -> Sampler:
        if self.distribution == "loguniform":
            inner: Sampler = LogUniform(self.base)
        elif self.distribution == "normal":
            inner = Normal(self.mean, self.sd)  # type: ignore[arg-type]
        else:
            inner = Uniform()
        return Quantized(inner, self.q) if self.q is not None else inner

    def _sample_one(self, rng: _Rng, config: Any) -> float:
        if self.distribution == "normal":
            value = rng.normal(self.mean, self.sd)  # type: ignore[arg-type]
        else:
            if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
                raise invalid_value(
                    "lower" if not math.isfinite(self.lower) else "upper",
                    self.lower if not math.isfinite(self.lower) else self.upper,
                    f"must be finite for {self.distribution} sampling",
                )
            if self.distribution == "loguniform":
                value = math.exp(rng.uniform(math.log(self.lower), math.log(self.upper)))
            else:
                value = rng.uniform(self.lower, self.upper)
        if self.q is not None:
            value = _round_to(value, self.q)
        # Rounding (and exp/log) can step just outside the bounds; clamp to what is valid.
        return float(min(max(value, self.min_value), self.max_value))

    def is_valid(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        return self.lower <= value <= self.upper

    @property
    def domain_str(self) -> str:
        return f"({self.lower}, {self.upper})"

    def __repr__(self) -> str:
        q = f", q={self.q!r}" if self.q is not None else ""
        prefix = "q" if self.q is not None else ""
        if self.distribution == "normal":
            return f"{prefix}randn(mean={self.mean!r}, sd={self.sd!r}{q})"
        if self.distribution == "loguniform":
            base = f", base={self.base!r}" if self.base != 10 else ""
            return f"{prefix}loguniform({self.lower!r}, {self.upper!r}{q}{base})"
        return f"{prefix}uniform({self.lower!r}, {self.upper!r}{q})"


class Integer(Domain):
    """Integers from ``lower`` to ``upper``.

    ``upper`` is exclusive when ``q`` is ``None`` (``randint``, ``lograndint``) and inclusive
    when values are rounded to multiples of ``q`` (``qrandint``, ``qlograndint``), as Ray
    Tune's docstrings state; use ``min_value``/``max_value`` for the inclusive extremes.

    Attributes:
        lower, upper: the bounds as given.
        distribution: ``"uniform"`` or ``"loguniform"``.
        log, base: log-space sampling and the base given by the user.
        q: values are multiples of ``q`` (``None``: every integer).
    """

    def __init__(self, lower: int, upper: int) -> None:
        self.lower = _check_int("lower", lower)
        self.upper = _check_int("upper", upper)
        _check_order(self.lower, self.upper)
        self.distribution = "uniform"
        self.base: float = 10
        self.q: int | None = None

    @property
    def log(self) -> bool:
        return self.distribution == "loguniform"

    @property
    def upper_inclusive(self) -> bool:
        """Whether ``upper`` itself can be drawn (true once quantized)."""
        return self.q is not None

    def cast(self, value: Any) -> int:
        return int(value)

    def uniform(self) -> Integer:
        return self._checked(distribution="uniform")

    def loguniform(self, base: float = 10) -> Integer:
        _check_log_bounds(self.lower, self.upper)
        return self._checked(distribution="loguniform", base=_check_base(base))

    def quantized(self, q: int) -> Integer:
        return self._checked(q=_check_q(q, integer=True))

    def _checked(self, **changes: Any) -> Integer:
        new = self._replace(**changes)
        assert isinstance(new, Integer)
        if new.min_value > new.max_value:
            raise invalid_value(
                "q", new.q, f"must have a multiple within [{new.lower!r}, {new.upper!r}]"
            )
        return new

    @property
    def min_value(self) -> int:
        """The smallest value ``sample`` can return."""
        if self.q is None:
            return self.lower
        return -(-self.lower // self.q) * self.q

    @property
    def max_value(self) -> int:
        """The largest value ``sample`` can return."""
        if self.q is None:
            return self.upper - 1
        return (self.upper // self.q) * self.q

    def get_sampler(self) -> Sampler:
        inner: Sampler = LogUniform(self.base) if self.log else Uniform()
        return Quantized(inner, self.q) if self.q is not None else inner

    def _sample_one(self, rng: _Rng, config: Any) -> int:
        if self.q is None:
            if not self.log:
                return rng.integers(self.lower, self.upper)
            value = math.floor(math.exp(rng.uniform(math.log(self.lower), math.log(self.upper))))
            return int(min(max(value, self.lower), self.upper - 1))
        low_k, high_k = self.min_value // self.q, self.max_value // self.q
        if not self.log:
            # Uniform over the multiples of q, each equally likely.
            return rng.integers(low_k, high_k + 1) * self.q
        value = math.exp(rng.uniform(math.log(self.lower), math.log(self.upper)))
        return int(min(max(round(value / self.q), low_k), high_k)) * self.q

    def is_valid(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if not float(value).is_integer():
            return False
        if not self.min_value <= value <= self.max_value:
            return False
        return self.q is None or int(value) % self.q == 0

    @property
    def domain_str(self) -> str:
        return f"({self.lower}, {self.upper})"

    def __repr__(self) -> str:
        q = f", q={self.q!r}" if self.q is not None else ""
        prefix = "q" if self.q is not None else ""
        base = f", base={self.base!r}" if self.log and self.base != 10 else ""
        name = "lograndint" if self.log else "randint"
        return f"{prefix}{name}({self.lower!r}, {self.upper!r}{q}{base})"


class Categorical(Domain):
    """One of ``categories``, drawn uniformly (or all of them in turn when ``grid()``).

    Attributes:
        categories: the list of values.
    """

    def __init__(self, categories: Iterable) -> None:
        if isinstance(categories, (str, bytes, Mapping)) or not isinstance(categories, Iterable):
            raise invalid_type(
                "categories", categories, "expected a list (or other sequence) of values"
            )
        categories = list(categories)
        if not categories:
            raise invalid_value("categories", categories, "must contain at least one value")
        self.categories = categories
        self.distribution = "uniform"

    def uniform(self) -> Categorical:
        new = self._replace(distribution="uniform")
        assert isinstance(new, Categorical)
        return new

    def grid(self) -> Categorical:
        new = self._replace(distribution="grid")
        assert isinstance(new, Categorical)
        return new

    def is_grid(self) -> bool:
        return self.distribution == "grid"

    def get_sampler(self) -> Sampler:
        return Grid() if self.is_grid() else Uniform()

    def _sample_one(self, rng: _Rng, config: Any) -> Any:
        return self.categories[rng.integers(0, len(self.categories))]

    def __len__(self) -> int:
        return len(self.categories)

    def __getitem__(self, index: int) -> Any:
        return self.categories[index]

    def is_valid(self, value: Any) -> bool:
        return value in self.categories

    @property
    def domain_str(self) -> str:
        return f"{self.categories}"

    def _key(self) -> tuple:
        return (self.distribution, tuple(self.categories))

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, Categorical)
        return self.distribution == other.distribution and self.categories == other.categories

    __hash__ = Domain.__hash__

    def __repr__(self) -> str:
        if self.is_grid():
            return f"Categorical({self.categories!r}).grid()"
        return f"choice({self.categories!r})"


class _AttrDict(dict):
    """Read-only view handed to ``sample_from`` functions: item and attribute access.

    Reading a value that is not resolved yet raises ``RecursiveDependencyError`` so the
    resolver can come back to the function once that value exists.
    """

    def __getitem__(self, key: Any) -> Any:
        return _guard(dict.__getitem__(self, key))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def values(self):  # type: ignore[override]
        return [self[k] for k in self]

    def items(self):  # type: ignore[override]
        return [(k, self[k]) for k in self]


class _GuardedList(list):
    """List counterpart of ``_AttrDict``."""

    def __getitem__(self, index: Any) -> Any:
        value = list.__getitem__(self, index)
        if isinstance(index, slice):
            return _GuardedList(value)
        return _guard(value)

    def __iter__(self):
        return (_guard(v) for v in list.__iter__(self))


def _is_grid_dict(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "grid_search" in value


def _guard(value: Any) -> Any:
    if isinstance(value, Domain) or _is_grid_dict(value):
        raise RecursiveDependencyError(f"depends on {value!r}, which is not resolved yet")
    if isinstance(value, _AttrDict | _GuardedList):
        return value
    if isinstance(value, dict):
        return _AttrDict(value)
    if isinstance(value, list):
        return _GuardedList(value)
    if isinstance(value, tuple):
        return tuple(_guard(v) for v in value)
    return value


class _Spec(_AttrDict):
    """What a ``sample_from`` function receives: ``spec.config.x`` or ``spec["config"]["x"]``.

    As a convenience, keys other than ``config`` are looked up in the config, so
    ``lambda config: config["x"]`` works as well.
    """

    def __init__(self, config: Mapping | None) -> None:
        super().__init__(config=config if config is not None else {})

    def __getitem__(self, key: Any) -> Any:
        if dict.__contains__(self, key):
            return _AttrDict.__getitem__(self, key)
        return _AttrDict.__getitem__(self, "config")[key]


class Function(Domain):
    """Values computed by a user function (``sample_from``).

    The function takes no argument, or one ``spec`` whose ``config`` holds the values
    resolved so far (``spec.config.alpha``), so one value can depend on another.

    Attributes:
        func: the function.
        pass_config: whether ``func`` takes the ``spec`` argument.
    """

    def __init__(self, func: Callable) -> None:
        if not callable(func):
            raise invalid_type("func", func, "expected a callable taking no argument or `spec`")
        import inspect

        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            signature = None
        pass_config = False
        if signature is not None:
            try:
                signature.bind({})
                pass_config = True
            except TypeError:
                try:
                    signature.bind()
                except TypeError:
                    raise invalid_value(
                        "func", func, "must be callable with no argument or with one (`spec`)"
                    ) from None
        self.func = func
        self.pass_config = pass_config

    def is_function(self) -> bool:
        return True

    def get_sampler(self) -> Sampler:
        return BaseSampler()

    def _sample_one(self, rng: _Rng, config: Any) -> Any:
        if not self.pass_config:
            return self.func()
        spec = config if isinstance(config, _Spec) else _Spec(config)
        return self.func(spec)

    @property
    def domain_str(self) -> str:
        return f"{self.func}()"

    def _key(self) -> tuple:
        return (id(self.func),)

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, Function)
        return self.func is other.func or self.func == other.func

    def __hash__(self) -> int:
        try:
            return hash(("Function", self.func))
        except TypeError:
            return hash("Function")

    def __repr__(self) -> str:
        name = getattr(self.func, "__qualname__", None) or repr(self.func)
        return f"sample_from({name})"


# ---------------------------------------------------------------------------------------------
# The public search-space functions (tune.uniform, ...)
# ---------------------------------------------------------------------------------------------


def uniform(lower: float, upper: float) -> Float:
    """A float drawn uniformly between ``lower`` and ``upper``."""
    return Float(_check_real("lower", lower), _check_real("upper", upper)).uniform()


def quniform(lower: float, upper: float, q: float) -> Float:
    """A float drawn uniformly between ``lower`` and ``upper``, rounded to a multiple of ``q``.

    ``quniform(3.2, 5.4, 0.2)`` gives 3.2, 3.4, ..., 5.4 (the upper bound is included).
    """
    return uniform(lower, upper).quantized(q)


def loguniform(lower: float, upper: float, base: float = 10) -> Float:
    """A float drawn uniformly in log space between ``lower`` and ``upper`` (both > 0).

    ``base`` is kept for converters; the distribution is the same for every base.
    """
    return Float(_check_real("lower", lower), _check_real("upper", upper)).loguniform(base)


def qloguniform(lower: float, upper: float, q: float, base: float = 10) -> Float:
    """``loguniform`` rounded to a multiple of ``q`` (the upper bound is included)."""
    return loguniform(lower, upper, base).quantized(q)


def randn(mean: float = 0.0, sd: float = 1.0) -> Float:
    """A float drawn from the normal distribution with ``mean`` and standard deviation ``sd``."""
    return Float(None, None).normal(mean, sd)


def qrandn(mean: float, sd: float, q: float) -> Float:
    """``randn`` rounded to a multiple of ``q``."""
    return randn(mean, sd).quantized(q)


def randint(lower: int, upper: int) -> Integer:
    """An integer drawn uniformly from ``lower`` (inclusive) to ``upper`` (exclusive)."""
    return Integer(lower, upper).uniform()


def qrandint(lower: int, upper: int, q: int = 1) -> Integer:
    """A multiple of ``q`` drawn uniformly from ``lower`` to ``upper``, both inclusive (!).

    ``qrandint(-21, 12, 3)`` gives -21, -18, ..., 12.
    """
    return Integer(lower, upper).uniform().quantized(q)


def lograndint(lower: int, upper: int, base: float = 10) -> Integer:
    """An integer drawn in log space from ``lower`` (inclusive, > 0) to ``upper`` (exclusive)."""
    return Integer(lower, upper).loguniform(base)


def qlograndint(lower: int, upper: int, q: int, base: float = 10) -> Integer:
    """A multiple of ``q`` drawn in log space from ``lower`` to ``upper``, both inclusive (!)."""
    return Integer(lower, upper).loguniform(base).quantized(q)


def choice(categories: Sequence) -> Categorical:
    """One of ``categories``, each equally likely."""
    return Categorical(categories).uniform()


def sample_from(func: Callable[..., Any]) -> Function:
    """Values computed by ``func(spec)``; ``spec.config`` holds the other resolved values.

    ``tune.sample_from(lambda spec: spec.config.alpha * 2)`` makes one parameter depend on
    another. ``func`` may also take no argument.
    """
    return Function(func)


def grid_search(values: Iterable) -> dict[str, list]:
    """Try every one of ``values``; several grid searches combine as a cartesian product.

    Returns ``{"grid_search": [...]}`` as Ray Tune does, so the space stays plain data (the
    same dict can be written in JSON or YAML). The grid is repeated ``num_samples`` times.
    """
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise invalid_type("values", values, "expected a list of values to grid search over")
    values = list(values)
    if not values:
        raise invalid_value("values", values, "must contain at least one value")
    return {"grid_search": values}
