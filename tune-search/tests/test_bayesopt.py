"""BayesOptSearch: the conformance suite plus what is particular to bayesian-optimization.

Runs on whichever bayesian-optimization is installed (1.4.x or 2.x/3.x): the expectations
are the same for both APIs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import math
import sys

import pytest

pytest.importorskip("bayes_opt")

import tune  # noqa: E402
from tune.errors import TuneError, TuneTypeError, TuneValueError  # noqa: E402
from tune.search import ConcurrencyLimiter  # noqa: E402
from tune.search.sample import Float  # noqa: E402
from tune.search.searcher import FINISHED  # noqa: E402
from tune.testing.searcher_conformance import SearcherConformance  # noqa: E402
from tune_search import BayesOptSearch  # noqa: E402
from tune_search.bayesopt_search import _LEGACY_API  # noqa: E402

LEGACY = _LEGACY_API  # bayesian-optimization 1.x


class TestBayesOptConformance(SearcherConformance):
    """Ray's defaults: the suite's few trials are all random steps."""

    registered_name = "bayesopt"

    def make_searcher(self, **kwargs):
        return BayesOptSearch(**kwargs)


class TestBayesOptConformanceGP(SearcherConformance):
    """Two random steps, so the suite's runs reach the GP. The suite feeds made-up losses
    (or x + y, minimal in a corner) and wants a config from every call: the GP soon repeats
    itself, so repeats are run (skip_duplicate=False) rather than answered with None."""

    def make_searcher(self, **kwargs):
        return BayesOptSearch(random_search_steps=2, skip_duplicate=False, **kwargs)


SPACE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)}


def bowl(config):
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.3) ** 2


def configured(space=SPACE, mode="min", **kwargs):
    searcher = BayesOptSearch(**kwargs)
    assert searcher.set_search_properties("loss", mode, space)
    return searcher


def acquisition_of(searcher):
    """The acquisition function: 1.x's UtilityFunction, or 2.x/3.x's object."""
    if LEGACY:
        return searcher._utility_function
    return searcher._optimizer.acquisition_function


def gp_suggestions(function):
    """How many times the GP's suggest() used ``function``."""
    return function._iters_counter if LEGACY else function.i


def drive(searcher, n, fn=bowl, start=0):
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i}")
        assert isinstance(config, dict), config
        configs.append(config)
        searcher.on_trial_complete(f"t{i}", {"loss": fn(config)})
    return configs


# -- the library's own space format -------------------------------------------------------------
def test_bounds_space_with_nested_names_and_metric_mode_from_tune_config(tmp_path):
    searcher = BayesOptSearch(
        space={"x": (0, 1), "model/width": (1.0, 3.0), "opt": {"lr": (0.0, 0.5)}},
        random_search_steps=2,
    )

    def trainable(config):
        tune.report({"loss": config["x"] + config["model"]["width"] + config["opt"]["lr"]})

    results = tune.Tuner(
        trainable,
        param_space={"fixed": 7},  # constants only: the searcher keeps its own space
        tune_config=tune.TuneConfig(
            search_alg=searcher, metric="loss", mode="min", num_samples=4
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert not results.errors and len(results) == 4
    assert searcher.metric == "loss" and searcher.mode == "min"
    for r in results:
        assert 0 <= r.config["x"] <= 1 and 1 <= r.config["model"]["width"] <= 3
        assert 0 <= r.config["opt"]["lr"] <= 0.5


def test_own_space_refuses_a_param_space_with_domains(tmp_path):
    searcher = BayesOptSearch(space={"x": (0, 1)}, metric="loss", mode="min")
    assert searcher.set_search_properties("loss", "min", SPACE) is False
    with pytest.raises(TuneValueError, match="one place"):
        tune.Tuner(
            lambda c: None,
            param_space=SPACE,
            tune_config=tune.TuneConfig(search_alg=searcher, num_samples=1),
            run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
        ).fit()


def test_space_of_tune_domains_keeps_constants():
    searcher = BayesOptSearch(
        space={"x": tune.uniform(-1, 1), "const": [1, 2]}, metric="loss", mode="min"
    )
    config = searcher.suggest("t0")
    assert -1 <= config["x"] <= 1 and config["const"] == [1, 2]


@pytest.mark.parametrize(
    "space, match",
    [
        ({"x": (0, 10, int)}, r"space\['x'\]"),
        ({"x": (1, 0)}, r"space\['x'\]"),
        ({"m": {"x": ("a", "b")}}, r"space\['m'\]\['x'\]"),
        ({"n": tune.randint(0, 3)}, "'n'.*integer"),
        ({"lr": tune.loguniform(1e-3, 1)}, "'lr'.*log"),
        ({"c": tune.choice([1, 2])}, "'c'.*categorical"),
        ({"z": Float(0, None)}, "'z'.*finite bounds"),
    ],
)
def test_inexpressible_spaces_are_refused_naming_the_parameter(space, match):
    with pytest.raises(TuneValueError, match=match):
        BayesOptSearch(space=space)


# -- constructor arguments ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"utility_kwargs": {"kind": "foo"}}, TuneValueError, r"kind.*'foo'.*ucb"),
        ({"utility_kwargs": {"kappa": -1}}, TuneValueError, "kappa"),
        ({"utility_kwargs": {"xi": "big"}}, TuneValueError, "xi"),
        ({"utility_kwargs": {"kappa_decay": 2}}, TuneValueError, "kappa_decay"),
        ({"utility_kwargs": {"beta": 1}}, TuneValueError, "beta"),
        ({"utility_kwargs": "ucb"}, TuneTypeError, "utility_kwargs"),
        ({"patience": 0}, TuneValueError, "patience"),
        ({"random_search_steps": -1}, TuneValueError, "random_search_steps"),
        ({"random_state": "seed"}, TuneTypeError, "random_state"),
        ({"random_state": -3}, TuneValueError, "random_state"),
        ({"verbose": -1}, TuneValueError, "verbose"),
        ({"skip_duplicate": "yes"}, TuneTypeError, "skip_duplicate"),
        ({"space": [("x", 0, 1)]}, TuneTypeError, "space"),
        ({"points_to_evaluate": {"x": 1}}, TuneTypeError, "points_to_evaluate"),
        ({"evaluated_rewards": [1.0]}, TuneValueError, "evaluated_rewards"),
        (
            {"points_to_evaluate": [{"x": 0.1}], "evaluated_rewards": [1.0, 2.0]},
            TuneValueError,
            "evaluated_rewards",
        ),
        ({"metric": ["a", "b"], "mode": ["min", "max"]}, TuneValueError, "single metric"),
        ({"mode": "maximize"}, TuneValueError, "mode"),
    ],
)
def test_bad_arguments_are_refused_up_front(kwargs, error, match):
    with pytest.raises(error, match=match):
        BayesOptSearch(**kwargs)


@pytest.mark.parametrize(
    "points, match",
    [([{"x": 2.0, "y": 0.5}], r"'x'.*\[0.0, 1.0\]"), ([{"x": 0.5}], "'y'"),
     ([{"x": "a", "y": 0.5}], "'x'")],
)
def test_bad_points_to_evaluate_are_refused_before_any_trial(points, match):
    with pytest.raises(TuneValueError, match=match):
        configured(points_to_evaluate=points)


def test_multi_objective_is_refused():
    with pytest.raises(TuneValueError, match="single metric"):
        BayesOptSearch().set_search_properties(["a", "b"], ["min", "max"], SPACE)


def test_no_space_and_no_mode_are_clear_errors():
    with pytest.raises(TuneError, match="no search space"):
        BayesOptSearch(metric="loss", mode="min").suggest("t0")
    with pytest.raises(TuneError, match="metric and a mode"):
        BayesOptSearch(space={"x": (0, 1)}).suggest("t0")
    only_mode = BayesOptSearch(space={"x": (0, 1)}, mode="max")
    assert isinstance(only_mode.suggest("t0"), dict) and only_mode.metric == "_metric"


# -- the algorithm ------------------------------------------------------------------------------
_CLASSES = {
    "ucb": "UpperConfidenceBound",
    "ei": "ExpectedImprovement",
    "poi": "ProbabilityOfImprovement",
}


@pytest.mark.parametrize(
    "utility, kind, attrs",
    [
        (None, "ucb", {"kappa": 2.576}),
        ({"kind": "ucb", "kappa": 1.0}, "ucb", {"kappa": 1.0}),
        (
            {"kind": "ucb", "kappa": 2.0, "kappa_decay": 0.9, "kappa_decay_delay": 3},
            "ucb",
            {"kappa": 2.0},
        ),
        ({"kind": "ei", "xi": 0.05}, "ei", {"xi": 0.05}),
        ({"kind": "poi", "xi": 0.1}, "poi", {"xi": 0.1}),
    ],
)
def test_utility_kwargs_choose_the_acquisition_function(utility, kind, attrs):
    searcher = configured(utility_kwargs=utility, random_search_steps=2)
    function = acquisition_of(searcher)
    if LEGACY:
        assert function.kind == kind
    else:
        assert type(function).__name__ == _CLASSES[kind]
    for name, value in attrs.items():
        assert getattr(function, name) == value
    for i in range(4):  # and the GP steps run with it (a repeat is answered with None)
        config = searcher.suggest(f"t{i}")
        if isinstance(config, dict):
            searcher.on_trial_complete(f"t{i}", {"loss": bowl(config)})
    assert gp_suggestions(function) > 0


@pytest.mark.parametrize(
    "delay, kappas",
    [
        # kappa after each of three GP suggestions: the n-th one decays it once n >= delay
        (None, [1.0, 0.5, 0.25]),
        (0, [1.0, 0.5, 0.25]),
        (1, [1.0, 0.5, 0.25]),
        (2, [2.0, 1.0, 0.5]),
        (3, [2.0, 2.0, 1.0]),
    ],
)
def test_kappa_decays_the_same_way_on_every_bayes_opt_version(delay, kappas):
    utility = {"kind": "ucb", "kappa": 2.0, "kappa_decay": 0.5}
    if delay is not None:
        utility["kappa_decay_delay"] = delay
    searcher = configured(
        utility_kwargs=utility, random_search_steps=2, skip_duplicate=False, patience=None
    )
    drive(searcher, 2)  # the random steps leave kappa alone
    function = acquisition_of(searcher)
    assert function.kappa == 2.0
    seen = []
    for i in range(2, 5):
        drive(searcher, 1, start=i)
        seen.append(function.kappa)
    assert gp_suggestions(function) == 3
    assert seen == pytest.approx(kappas)


def test_no_decay_keeps_kappa():
    searcher = configured(
        utility_kwargs={"kappa_decay": 1, "kappa_decay_delay": 0},
        random_search_steps=1,
        skip_duplicate=False,
        patience=None,
    )
    drive(searcher, 3)
    assert acquisition_of(searcher).kappa == 2.576


def test_first_random_search_steps_are_random_then_the_gp_uses_the_results():
    a = configured(random_search_steps=3)
    b = configured(random_search_steps=3)
    first_a = drive(a, 4, fn=bowl)
    first_b = drive(b, 4, fn=lambda c: -bowl(c))
    assert first_a[:3] == first_b[:3]  # seeded random draws, whatever the results
    assert first_a[3] != first_b[3]  # the GP's suggestion depends on them
    assert len(a._optimizer.space) == 4


def test_random_state_seeds_the_search():
    assert drive(configured(random_state=7), 5) == drive(configured(random_state=7), 5)
    assert drive(configured(random_state=7), 2) != drive(configured(random_state=8), 2)


def test_min_is_negated_for_the_maximizer_and_max_is_not():
    low = configured(mode="min", random_search_steps=2)
    losses = [bowl(c) for c in drive(low, 3)]
    assert sorted(low._optimizer.space.target) == sorted(-v for v in losses)
    high = configured(mode="max", random_search_steps=2)
    gains = [bowl(c) for c in drive(high, 3)]
    assert sorted(high._optimizer.space.target) == sorted(gains)


def test_gp_finds_the_bowl_minimum():
    searcher = configured(random_search_steps=5)
    configs = drive(searcher, 20)
    assert min(bowl(c) for c in configs) < 0.01


def test_errored_trials_are_skipped_and_random_steps_drawn_again():
    searcher = configured(random_search_steps=2)
    searcher.suggest("t0")
    searcher.suggest("t1")
    searcher.on_trial_complete("t0", None, error=True)
    searcher.on_trial_complete("t1", {"loss": float("nan")})
    assert len(searcher._optimizer.space) == 0
    # Neither counted as a random step: two more random configs, then the GP.
    c2, c3 = searcher.suggest("t2"), searcher.suggest("t3")
    assert isinstance(c2, dict) and isinstance(c3, dict)
    assert searcher._live["t2"][2] and searcher._live["t3"][2]
    searcher.on_trial_complete("t2", {"loss": bowl(c2)})
    searcher.on_trial_complete("t3", {"other": 1.0})  # metric missing: not registered
    assert len(searcher._optimizer.space) == 1


def test_early_stopped_trials_register_their_last_result():
    searcher = configured(random_search_steps=1)
    config = searcher.suggest("t0")
    searcher.on_trial_result("t0", {"loss": 5.0, "training_iteration": 1})
    searcher.on_trial_complete("t0", {"loss": 3.0, "training_iteration": 2})
    assert list(searcher._optimizer.space.target) == [-3.0]
    assert searcher._optimizer.space.params[0].tolist() == [config["x"], config["y"]]


def test_patience_ends_the_search_after_repeated_suggestions():
    point = {"x": 0.5, "y": 0.5}
    searcher = configured(points_to_evaluate=[dict(point) for _ in range(7)], patience=3)
    answers = [searcher.suggest(f"t{i}") for i in range(4)]
    assert answers == [point, None, None, FINISHED]


def test_without_skip_duplicate_repeats_run_but_register_once():
    point = {"x": 0.5, "y": 0.5}
    searcher = configured(
        points_to_evaluate=[dict(point) for _ in range(3)], skip_duplicate=False
    )
    for i in range(3):
        assert searcher.suggest(f"t{i}") == point
        searcher.on_trial_complete(f"t{i}", {"loss": 1.0 + i})
    assert len(searcher._optimizer.space) == 1  # bayes_opt would raise NotUniqueError


def _rising_line_search(tmp_path, how):
    # f(x) = x, maximized: the GP wants x = 1.0 again while that trial is still live.
    points = [{"x": v} for v in (0.0, 0.25, 0.5, 0.75)]
    searcher = BayesOptSearch(
        space={"x": (0.0, 1.0)},
        metric="v",
        mode="max",
        points_to_evaluate=points,
        evaluated_rewards=[p["x"] for p in points],
        random_search_steps=4,
        patience=1,
    )
    assert searcher.suggest("a") == {"x": 1.0}
    if how == "paused":
        searcher.on_pause("a")
    elif how == "restored":
        searcher.save(str(tmp_path / "s.pkl"))
        searcher = BayesOptSearch()
        searcher.restore(str(tmp_path / "s.pkl"))
    return searcher, [searcher.suggest(f"b{i}") for i in range(8)]


def test_a_gp_repeat_of_a_running_trial_waits_without_using_up_patience(tmp_path):
    searcher, answers = _rising_line_search(tmp_path, "running")
    assert FINISHED not in answers  # Ray's adapter would end the search here
    assert answers[-1] is None
    searcher.on_trial_complete("a", {"v": 1.0})
    later = [searcher.suggest(f"c{i}") for i in range(8)]
    assert FINISHED in later  # now a repeat of a known result: patience applies


@pytest.mark.parametrize("how", ["paused", "restored"])
def test_a_gp_repeat_of_a_paused_or_restored_trial_counts_as_ray_does(tmp_path, how):
    # Such a trial may not report for long (or ever): waiting on it could hang the run.
    _, answers = _rising_line_search(tmp_path, how)
    assert FINISHED in answers


def test_points_to_evaluate_accept_flat_names_and_come_first():
    searcher = configured(
        space={"m": {"x": tune.uniform(0, 1)}, "y": tune.uniform(0, 1)},
        points_to_evaluate=[{"m/x": 0.1, "y": 0.2}, {"m": {"x": 0.3}, "y": 0.4}],
    )
    assert searcher.suggest("t0") == {"m": {"x": 0.1}, "y": 0.2}
    assert searcher.suggest("t1") == {"m": {"x": 0.3}, "y": 0.4}


def test_evaluated_rewards_are_registered_and_count_as_initial_steps():
    points = [{"x": 0.1, "y": 0.1}, {"x": 0.9, "y": 0.9}]
    searcher = configured(
        points_to_evaluate=points, evaluated_rewards=[0.08, 1.28], random_search_steps=2
    )
    config = searcher.suggest("t0")
    assert sorted(searcher._optimizer.space.target) == [-1.28, -0.08]
    assert config not in points and not searcher._live["t0"][2]  # already the GP's


def test_add_evaluated_point_and_analysis(tmp_path):
    searcher = configured(random_search_steps=5)
    searcher.add_evaluated_point({"x": 0.2, "y": 0.2}, 0.02)
    searcher.add_evaluated_point({"x": 0.4, "y": 0.4}, 9.0, error=True)
    searcher.add_evaluated_point({"x": 0.6, "y": 0.6}, 0.18, pruned=True)
    assert sorted(searcher._optimizer.space.target) == [-0.18, -0.02]

    def trainable(config):
        if config["x"] > 0.8:
            raise RuntimeError("fails on purpose")
        tune.report({"loss": bowl(config)})

    results = tune.Tuner(
        trainable,
        param_space=SPACE,
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=5),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, name="earlier"),
    ).fit()
    ok = [r for r in results if r.error is None]
    analysis = tune.ExperimentAnalysis(str(tmp_path / "earlier"))
    fed = configured(analysis=analysis)
    fed.suggest("t0")
    assert sorted(fed._optimizer.space.target) == sorted(-r.metrics["loss"] for r in ok)


def test_concurrent_run_reaches_the_gp_and_runs_every_sample(tmp_path):
    def trainable(config):
        tune.report({"loss": bowl(config)})

    searcher = ConcurrencyLimiter(BayesOptSearch(random_search_steps=2), max_concurrent=2)
    results = tune.Tuner(
        trainable,
        param_space=SPACE,
        tune_config=tune.TuneConfig(search_alg=searcher, metric="loss", mode="min", num_samples=8),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert not results.errors and len(results) == 8


def test_state_round_trip_continues_the_same_search(tmp_path):
    searcher = configured(random_search_steps=3)
    drive(searcher, 4)
    live = searcher.suggest("t4")  # running while saved
    path = str(tmp_path / "bayesopt.pkl")
    searcher.save(path)
    searcher.on_trial_complete("t4", {"loss": bowl(live)})
    expected = drive(searcher, 2, start=5)

    restored = BayesOptSearch()
    restored.restore(path)
    assert restored.metric == "loss" and restored.mode == "min"
    restored.on_trial_complete("t4", {"loss": bowl(live)})
    assert drive(restored, 2, start=5) == expected


def test_the_installed_api_is_detected():
    major = int(importlib.metadata.version("bayesian-optimization").split(".")[0])
    assert LEGACY == (major < 2)


def test_imports_alongside_nevergrad():
    # nevergrad pins bayesian-optimization 1.4 and imports its UtilityFunction: the combined
    # install (tune-search[all]) must give both libraries a bayes_opt they can use.
    ng = pytest.importorskip("nevergrad", reason="nevergrad is not installed")
    searcher = configured(random_search_steps=1)
    drive(searcher, 3)
    assert ng.optimizers.registry["BO"] is not None


def test_missing_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "bayes_opt", None)
    monkeypatch.delitem(sys.modules, "tune_search.bayesopt_search", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'tune-search\[bayesopt\]'"):
        importlib.import_module("tune_search.bayesopt_search")


def test_nan_free_configs_are_plain_floats():
    config = configured(random_search_steps=1).suggest("t0")
    assert all(type(v) is float and math.isfinite(v) for v in config.values())
