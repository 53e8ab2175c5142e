"""Search-space domains: bounds, rounding, distributions, bad input, pickling, repr, equality."""

from __future__ import annotations

import math
import pickle
import random
import statistics
import subprocess
import sys

import cloudpickle
import pytest

import tune
from tune.errors import TuneTypeError, TuneValueError
from tune.search.sample import (
    Categorical,
    Float,
    Function,
    Integer,
    LogUniform,
    Normal,
    Quantized,
    Uniform,
)

N = 3000


def draw(domain, n=N, seed=0):
    return domain.sample(size=n, random_state=seed)


def is_multiple(value, q):
    return math.isclose(value / q, round(value / q), abs_tol=1e-9)


# -- bounds and rounding ------------------------------------------------------------------------


def test_uniform_bounds_and_spread():
    values = draw(tune.uniform(-5, -1))
    assert all(isinstance(v, float) and -5 <= v <= -1 for v in values)
    assert min(values) < -4.9 and max(values) > -1.1
    assert abs(statistics.mean(values) + 3) < 0.1


def test_quniform_rounds_to_multiples_and_includes_upper():
    values = draw(tune.quniform(3.2, 5.4, 0.2))
    assert all(3.2 <= v <= 5.4 for v in values)
    assert all(is_multiple(v, 0.2) for v in values)
    # No float noise: 3.4, not 3.4000000000000004.
    assert all(v == round(v, 1) for v in values)
    assert {3.2, 5.4} <= set(values)
    assert len(set(values)) == 12


def test_loguniform_is_uniform_in_log_space():
    values = draw(tune.loguniform(1e-4, 1e-2))
    assert all(1e-4 <= v <= 1e-2 for v in values)
    below = sum(v < 1e-3 for v in values) / len(values)
    assert 0.45 < below < 0.55


def test_qloguniform_bounds_and_rounding():
    values = draw(tune.qloguniform(1e-4, 1e-1, 5e-5))
    assert all(1e-4 <= v <= 1e-1 for v in values)
    assert all(is_multiple(v, 5e-5) for v in values)


def test_randn_mean_and_sd():
    values = draw(tune.randn(10, 2))
    assert abs(statistics.mean(values) - 10) < 0.2
    assert abs(statistics.stdev(values) - 2) < 0.2
    assert tune.randn().mean == 0 and tune.randn().sd == 1


def test_qrandn_rounds():
    values = draw(tune.qrandn(10, 2, 0.2))
    assert all(is_multiple(v, 0.2) for v in values)
    assert abs(statistics.mean(values) - 10) < 0.2


def test_randint_upper_exclusive():
    values = draw(tune.randint(-9, 15))
    assert all(type(v) is int for v in values)
    assert set(values) == set(range(-9, 15))


def test_qrandint_upper_inclusive_multiples():
    values = draw(tune.qrandint(-21, 12, 3))
    assert all(type(v) is int for v in values)
    assert set(values) == set(range(-21, 13, 3))


def test_qrandint_q1_includes_upper():
    assert set(draw(tune.qrandint(1, 10, 1))) == set(range(1, 11))
    assert set(draw(tune.qrandint(1, 10))) == set(range(1, 11))


def test_qrandint_bounds_not_multiples_of_q():
    values = draw(tune.qrandint(-20, 13, 3))
    assert set(values) == set(range(-18, 13, 3))


def test_lograndint_upper_exclusive_and_log_distribution():
    values = draw(tune.lograndint(1, 100))
    assert all(type(v) is int and 1 <= v <= 99 for v in values)
    assert 1 in values and 99 in values
    below_10 = sum(v < 10 for v in values) / len(values)
    assert 0.45 < below_10 < 0.55
    assert set(draw(tune.lograndint(1, 10))) == set(range(1, 10))


def test_qlograndint_upper_inclusive_multiples():
    values = draw(tune.qlograndint(1, 10, 2))
    assert set(values) <= {2, 4, 6, 8, 10}
    assert 10 in values and 2 in values


def test_choice_draws_every_category_uniformly():
    values = draw(tune.choice(["a", "b", "c"]))
    counts = {c: values.count(c) for c in "abc"}
    assert all(abs(n / N - 1 / 3) < 0.05 for n in counts.values())


def test_choice_keeps_category_objects_and_types():
    cats = [1, "x", (2, 3), None, {"k": 1}]
    values = draw(tune.choice(cats), n=500)
    assert all(any(v is c for c in cats) for v in values)


def test_sample_size_one_returns_scalar_and_list_otherwise():
    assert isinstance(tune.uniform(0, 1).sample(random_state=1), float)
    assert isinstance(tune.randint(0, 5).sample(random_state=1), int)
    values = tune.uniform(0, 1).sample(size=3, random_state=1)
    assert isinstance(values, list) and len(values) == 3


def test_sample_from_sample_gets_spec_with_config():
    domain = tune.sample_from(lambda spec: spec.config.a * 2)
    assert domain.sample(config={"a": 21}) == 42
    assert tune.sample_from(lambda spec: spec["config"]["a"] + 1).sample(config={"a": 1}) == 2
    assert tune.sample_from(lambda: 7).sample() == 7
    assert domain.sample(config=[{"a": 1}, {"a": 2}], size=2) == [2, 4]


# -- reproducibility ----------------------------------------------------------------------------


def test_int_seed_is_reproducible():
    space = [tune.uniform(0, 1), tune.randint(0, 1000), tune.choice(range(50)), tune.randn()]
    for domain in space:
        assert domain.sample(size=20, random_state=42) == domain.sample(size=20, random_state=42)
        assert domain.sample(size=20, random_state=42) != domain.sample(size=20, random_state=43)


def test_random_random_and_numpy_generators_are_accepted():
    np = pytest.importorskip("numpy")
    domain = tune.uniform(0, 1)
    assert domain.sample(size=5, random_state=random.Random(3)) == domain.sample(
        size=5, random_state=random.Random(3)
    )
    a = domain.sample(size=5, random_state=np.random.default_rng(3))
    assert a == domain.sample(size=5, random_state=np.random.default_rng(3))
    b = tune.randint(0, 100).sample(size=5, random_state=np.random.RandomState(3))
    assert b == tune.randint(0, 100).sample(size=5, random_state=np.random.RandomState(3))
    assert all(type(v) is int for v in b)


def test_no_random_state_uses_numpy_global_seed():
    np = pytest.importorskip("numpy")
    np.random.seed(5)
    first = tune.uniform(0, 1).sample(size=4)
    np.random.seed(5)
    assert tune.uniform(0, 1).sample(size=4) == first


# -- bad input ----------------------------------------------------------------------------------

BAD_VALUES = [
    (lambda: tune.uniform(5, 1), "upper", 1),
    (lambda: tune.uniform(1, 1), "upper", 1),
    (lambda: tune.quniform(0, 1, 0), "q", 0),
    (lambda: tune.quniform(0, 1, -0.5), "q", -0.5),
    (lambda: tune.quniform(0.1, 0.15, 1), "q", 1),
    (lambda: tune.loguniform(0, 1), "lower", 0),
    (lambda: tune.loguniform(-1, 1), "lower", -1),
    (lambda: tune.loguniform(1, 10, base=1), "base", 1),
    (lambda: tune.qloguniform(1e-4, 1e-1, 0), "q", 0),
    (lambda: tune.randn(0, 0), "sd", 0),
    (lambda: tune.randn(0, -1), "sd", -1),
    (lambda: tune.qrandn(0, 1, 0), "q", 0),
    (lambda: tune.randint(3, 3), "upper", 3),
    (lambda: tune.randint(0.5, 3), "lower", 0.5),
    (lambda: tune.qrandint(0, 10, 0), "q", 0),
    (lambda: tune.qrandint(0, 10, 1.5), "q", 1.5),
    (lambda: tune.qrandint(1, 2, 5), "q", 5),
    (lambda: tune.lograndint(0, 10), "lower", 0),
    (lambda: tune.qlograndint(1, 10, -2), "q", -2),
    (lambda: tune.choice([]), "categories", []),
    (lambda: tune.grid_search([]), "values", []),
    (lambda: tune.sample_from(lambda a, b: a), "func", None),
    (lambda: tune.uniform(0, 1).sample(size=0), "size", 0),
    (lambda: Float(None, None).normal(0, 1).quantized(0), "q", 0),
    (lambda: Float(0, 1).normal(0, 1), "lower", 0),
]


@pytest.mark.parametrize("make, argument, value", BAD_VALUES)
def test_bad_values_name_argument_and_value(make, argument, value):
    with pytest.raises(TuneValueError) as info:
        make()
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    if value is None:
        assert f"Invalid {argument}=" in message
    else:
        assert f"{argument}={value!r}" in message
    assert "must" in message


BAD_TYPES = [
    (lambda: tune.uniform("a", 1), "lower"),
    (lambda: tune.uniform(0, None), "upper"),
    (lambda: tune.randint(True, 3), "lower"),
    (lambda: tune.choice("abc"), "categories"),
    (lambda: tune.choice(5), "categories"),
    (lambda: tune.grid_search(3), "values"),
    (lambda: tune.sample_from(5), "func"),
    (lambda: tune.uniform(0, 1).sample(random_state="seed"), "random_state"),
]


@pytest.mark.parametrize("make, argument", BAD_TYPES)
def test_bad_types_name_argument(make, argument):
    with pytest.raises(TuneTypeError) as info:
        make()
    assert isinstance(info.value, TypeError)
    assert f"Invalid {argument} of type" in str(info.value)


def test_nan_bound_rejected():
    with pytest.raises(TuneValueError, match="lower=nan"):
        tune.uniform(float("nan"), 1)


# -- attributes for converters --------------------------------------------------------------------


def test_float_attributes():
    d = tune.qloguniform(1e-4, 1e-1, 5e-5, base=2)
    assert (d.lower, d.upper, d.log, d.base, d.q) == (1e-4, 1e-1, True, 2, 5e-5)
    assert d.distribution == "loguniform"
    assert isinstance(d.get_sampler(), Quantized)
    assert isinstance(d.get_sampler().get_sampler(), LogUniform)
    assert d.get_sampler().q == 5e-5 and d.get_sampler().get_sampler().base == 2
    u = tune.uniform(0, 1)
    assert (u.log, u.q, u.mean, u.sd) == (False, None, None, None)
    assert isinstance(u.sampler, Uniform)
    n = tune.randn(3, 2)
    assert (n.lower, n.upper) == (-math.inf, math.inf)
    assert n.get_sampler() == Normal(3, 2)
    q = tune.quniform(3.1, 5.5, 0.2)
    assert (q.min_value, q.max_value) == (3.2, 5.4)


def test_integer_attributes():
    d = tune.qrandint(-20, 13, 3)
    assert (d.lower, d.upper, d.q, d.log) == (-20, 13, 3, False)
    assert d.upper_inclusive
    assert (d.min_value, d.max_value) == (-18, 12)
    r = tune.randint(0, 10)
    assert not r.upper_inclusive and (r.min_value, r.max_value) == (0, 9)
    lg = tune.lograndint(1, 100, base=2)
    assert lg.log and lg.base == 2 and isinstance(lg.get_sampler(), LogUniform)


def test_categorical_and_function_attributes():
    c = tune.choice([1, 2, 3])
    assert c.categories == [1, 2, 3] and len(c) == 3 and c[1] == 2
    assert not c.is_grid() and c.grid().is_grid()
    f = tune.sample_from(lambda spec: 1)
    assert f.is_function() and f.pass_config
    assert not tune.sample_from(lambda: 1).pass_config


def test_ray_style_builders():
    assert Float(0, 1).uniform().quantized(0.5) == tune.quniform(0, 1, 0.5)
    assert Integer(1, 10).loguniform() == tune.lograndint(1, 10)
    assert Categorical([1, 2]).uniform() == tune.choice([1, 2])
    assert Float(None, None).normal(1, 2) == tune.randn(1, 2)


def test_is_valid():
    assert tune.uniform(0, 1).is_valid(0.5) and not tune.uniform(0, 1).is_valid(2)
    assert tune.randint(0, 10).is_valid(9) and not tune.randint(0, 10).is_valid(10)
    assert tune.qrandint(0, 12, 3).is_valid(12) and not tune.qrandint(0, 12, 3).is_valid(4)
    assert tune.choice(["a"]).is_valid("a") and not tune.choice(["a"]).is_valid("b")


# -- value-object behaviour ---------------------------------------------------------------------

ALL_DOMAINS = [
    tune.uniform(-5, -1),
    tune.quniform(3.2, 5.4, 0.2),
    tune.loguniform(1e-4, 1e-2),
    tune.qloguniform(1e-4, 1e-1, 5e-5),
    tune.randn(10, 2),
    tune.qrandn(10, 2, 0.2),
    tune.randint(-9, 15),
    tune.qrandint(-21, 12, 3),
    tune.lograndint(1, 10),
    tune.qlograndint(1, 10, 2),
    tune.choice(["a", "b", "c"]),
    tune.choice([[1], [2]]),
]


@pytest.mark.parametrize("domain", ALL_DOMAINS, ids=repr)
def test_domains_pickle_and_compare(domain):
    copy = pickle.loads(pickle.dumps(domain))
    assert copy == domain and hash(copy) == hash(domain)
    assert copy.sample(size=5, random_state=1) == domain.sample(size=5, random_state=1)


def test_equality_distinguishes_domains():
    assert tune.uniform(0, 1) == tune.uniform(0, 1)
    assert tune.uniform(0, 1) != tune.uniform(0, 2)
    assert tune.uniform(0.1, 1) != tune.loguniform(0.1, 1)
    assert tune.quniform(0, 1, 0.5) != tune.uniform(0, 1)
    assert tune.randint(0, 3) != tune.qrandint(0, 3)
    assert tune.choice([1, 2]) != tune.choice([1, 2]).grid()
    assert tune.uniform(0, 1) != "uniform(0, 1)"
    assert len({tune.uniform(0, 1), tune.uniform(0, 1), tune.randint(0, 2)}) == 2


def test_function_domain_pickles_with_cloudpickle():
    f = tune.sample_from(lambda spec: spec.config.a + 1)
    g = cloudpickle.loads(cloudpickle.dumps(f))
    assert isinstance(g, Function) and g.sample(config={"a": 1}) == 2
    h = pickle.loads(pickle.dumps(tune.sample_from(math.floor)))
    assert h == tune.sample_from(math.floor)


def test_repr_is_readable():
    assert repr(tune.uniform(-5, -1)) == "uniform(-5, -1)"
    assert repr(tune.quniform(3.2, 5.4, 0.2)) == "quniform(3.2, 5.4, q=0.2)"
    assert repr(tune.loguniform(1e-4, 1e-2)) == "loguniform(0.0001, 0.01)"
    assert repr(tune.loguniform(1, 8, base=2)) == "loguniform(1, 8, base=2)"
    assert repr(tune.randn(10, 2)) == "randn(mean=10, sd=2)"
    assert repr(tune.qrandint(-21, 12, 3)) == "qrandint(-21, 12, q=3)"
    assert repr(tune.lograndint(1, 10)) == "lograndint(1, 10)"
    assert repr(tune.choice(["a", "b"])) == "choice(['a', 'b'])"
    assert repr(tune.sample_from(math.floor)) == "sample_from(floor)"
    assert tune.grid_search([1, 2]) == {"grid_search": [1, 2]}
    assert tune.grid_search(range(2)) == {"grid_search": [0, 1]}


def test_importing_search_does_not_import_numpy():
    code = (
        "import sys, tune, tune.search, tune.search.sample, tune.search.variant_generator, "
        "tune.search.basic_variant, tune.search.repeater, tune.search.concurrency_limiter\n"
        "from tune.search.variant_generator import generate_variants\n"
        "list(generate_variants({'a': tune.uniform(0, 1), 'b': tune.grid_search([1, 2])}, "
        "random_state=1))\n"
        "assert 'numpy' not in sys.modules, 'numpy imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
