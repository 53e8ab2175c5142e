"""NevergradSearch: the searcher conformance suite plus Nevergrad-specific behaviour."""

from __future__ import annotations

import importlib
import math
import pickle
import sys
import warnings

import pytest

ng = pytest.importorskip("nevergrad")

import tune  # noqa: E402
from tune.errors import TuneError, TuneTypeError, TuneValueError  # noqa: E402
from tune.testing.searcher_conformance import BASE_SPACE, SearcherConformance  # noqa: E402
from tune_search.nevergrad_search import NevergradSearch  # noqa: E402

SPACE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)}


def bowl(config: dict) -> float:
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.3) ** 2


def configured(**kwargs) -> NevergradSearch:
    kwargs.setdefault("metric", "loss")
    kwargs.setdefault("mode", "min")
    searcher = NevergradSearch(**kwargs)
    space = kwargs.get("space")
    if space is None and not isinstance(kwargs.get("optimizer"), ng.optimization.Optimizer):
        assert searcher.set_search_properties(None, None, SPACE) is True
    return searcher


def drive(searcher: NevergradSearch, n: int, start: int = 0, fn=bowl) -> list[dict]:
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i}")
        configs.append(config)
        searcher.on_trial_complete(f"t{i}", {"loss": fn(config)})
    return configs


class TestNevergradConformance(SearcherConformance):
    registered_name = "nevergrad"

    def make_searcher(self, **kwargs):
        return NevergradSearch(**kwargs)


# -- optimizer argument --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "optimizer",
    [
        None,
        ng.optimizers.OnePlusOne,
        ng.optimizers.CMA,
        "TwoPointsDE",
        ng.families.ParametrizedOnePlusOne(mutation="cauchy"),
    ],
    ids=["default", "class", "cma", "name", "configured"],
)
def test_optimizer_forms(optimizer):
    searcher = configured(optimizer=optimizer, seed=0)
    configs = drive(searcher, 6)
    assert all(0.0 <= c["x"] <= 1.0 and 0.0 <= c["y"] <= 1.0 for c in configs)
    assert searcher.optimizer.num_tell == 6


def test_default_optimizer_is_one_plus_one():
    assert configured().optimizer.name == "OnePlusOne"


def test_optimizer_instance_brings_its_space():
    opt = ng.optimizers.OnePlusOne(
        ng.p.Dict(lr=ng.p.Log(lower=1e-3, upper=1.0), **{"model/width": ng.p.Choice([8, 16])})
    )
    searcher = NevergradSearch(optimizer=opt, metric="loss", mode="min")
    assert searcher.set_search_properties("loss", "min", {}) is False
    config = searcher.suggest("a")
    assert set(config) == {"lr", "model"} and config["model"]["width"] in (8, 16)
    searcher.on_trial_complete("a", {"loss": 1.0})
    assert opt.num_tell == 1


def test_optimizer_instance_over_an_array_takes_names():
    opt = ng.optimizers.OnePlusOne(parametrization=2)
    searcher = NevergradSearch(
        opt,
        space=["a", "b/c"],
        metric="loss",
        mode="min",
        points_to_evaluate=[{"a": 0.5, "b": {"c": -1.0}}],
    )
    assert searcher.suggest("p") == {"a": 0.5, "b": {"c": -1.0}}
    config = searcher.suggest("q")
    assert set(config) == {"a", "b"} and isinstance(config["b"]["c"], float)
    with pytest.raises(TuneValueError, match="space"):
        NevergradSearch(ng.optimizers.OnePlusOne(parametrization=2), space=["a"])
    with pytest.raises(TuneValueError, match="parameter names"):
        NevergradSearch(ng.optimizers.OnePlusOne(parametrization=2))


def test_nevergrad_space_dict_and_instrumentation():
    for space in (
        ng.p.Dict(x=ng.p.Scalar(lower=0, upper=1), **{"m/n": ng.p.Choice(["a", "b"])}),
        ng.p.Instrumentation(x=ng.p.Scalar(lower=0, upper=1), **{"m/n": ng.p.Choice(["a", "b"])}),
    ):
        point = {"x": 0.25, "m": {"n": "b"}}
        searcher = NevergradSearch(
            space=space, metric="loss", mode="max", points_to_evaluate=[point]
        )
        assert searcher.set_search_properties("loss", "max", {}) is False
        assert searcher.suggest("p") == point
        config = searcher.suggest("q")
        assert 0 <= config["x"] <= 1 and config["m"]["n"] in ("a", "b")
        searcher.on_trial_complete("p", {"loss": 2.0})
        # max mode: nevergrad minimizes the negated metric
        assert searcher.optimizer.current_bests["minimum"].mean == -2.0


def test_tune_space_in_the_constructor_and_param_space_conflict(tmp_path):
    searcher = NevergradSearch(space=SPACE, seed=1)
    # metric and mode still come from the TuneConfig
    assert searcher.set_search_properties("loss", "min", {}) is False
    assert searcher.metric == "loss" and isinstance(searcher.suggest("a"), dict)
    with pytest.raises(TuneValueError, match="own search space"):
        tune.Tuner(
            lambda c: None,
            param_space=SPACE,
            tune_config=tune.TuneConfig(
                search_alg=NevergradSearch(space=SPACE), metric="loss", mode="min"
            ),
            run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
        ).fit()


# -- bad arguments -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"optimizer": "OnePlusOen"}, TuneValueError, r"optimizer.*OnePlusOne"),
        ({"optimizer": 3}, TuneTypeError, "optimizer"),
        ({"optimizer_kwargs": {"budgett": 3}}, TuneValueError, r"budgett.*budget"),
        ({"optimizer_kwargs": {"budget": 0}}, TuneValueError, "budget"),
        ({"optimizer_kwargs": {"num_workers": 0}}, TuneValueError, "num_workers"),
        ({"optimizer_kwargs": {"parametrization": 2}}, TuneValueError, "parametrization"),
        ({"optimizer_kwargs": [1]}, TuneTypeError, "optimizer_kwargs"),
        ({"space": 3}, TuneTypeError, "space"),
        ({"space": ng.p.Instrumentation(ng.p.Scalar())}, TuneValueError, "keyword"),
        ({"space": {"z": tune.randn()}}, TuneValueError, r"'z'.*normal"),
        ({"points_to_evaluate": {"x": 1}}, TuneTypeError, "points_to_evaluate"),
        (
            {"points_to_evaluate": [{"x": 0.1}], "evaluated_rewards": [1, 2]},
            TuneValueError,
            "evaluated_rewards",
        ),
        (
            {"evaluated_rewards": ["a"], "points_to_evaluate": [{}]},
            TuneValueError,
            "evaluated_rewards",
        ),
        ({"seed": "1"}, TuneTypeError, "seed"),
        ({"mode": "maximize"}, TuneValueError, "mode"),
        ({"metric": ["a", "b"], "mode": ["min", "obs"]}, TuneValueError, "mode"),
    ],
)
def test_bad_arguments_are_refused_up_front(kwargs, error, match):
    with pytest.raises(error, match=match):
        NevergradSearch(**kwargs)


def test_optimizer_kwargs_with_an_instance_are_refused():
    with pytest.raises(TuneValueError, match="optimizer_kwargs"):
        NevergradSearch(ng.optimizers.OnePlusOne(2), optimizer_kwargs={"budget": 3})


def test_sequential_optimizer_refuses_workers():
    with pytest.raises(TuneValueError, match="num_workers"):
        NevergradSearch("DiscreteDoerrOnePlusOne", optimizer_kwargs={"num_workers": 2})


def test_points_outside_the_space_name_the_parameter():
    with pytest.raises(TuneValueError, match=r"'x'.*outside"):
        configured(points_to_evaluate=[{"x": 1.5, "y": 0.1}])
    with pytest.raises(TuneValueError, match=r"'y'"):
        configured(points_to_evaluate=[{"x": 0.5}])


def test_no_space_or_no_metric_is_a_clear_error():
    with pytest.raises(TuneError, match="search space"):
        NevergradSearch(metric="loss", mode="min").suggest("a")
    searcher = NevergradSearch(space=SPACE)
    with pytest.raises(TuneError, match="metric and a mode"):
        searcher.suggest("a")


# -- budget, workers, seeding --------------------------------------------------------------------
def test_budget_from_optimizer_kwargs_and_from_num_samples():
    assert configured(optimizer_kwargs={"budget": 20}).optimizer.budget == 20
    searcher = NevergradSearch(space=SPACE, metric="loss", mode="min")
    assert searcher.optimizer.budget is None
    searcher.set_search_properties("loss", "min", {}, num_samples=12)
    assert searcher.optimizer.budget == 12  # rebuilt: nothing was asked yet
    kept = NevergradSearch(optimizer_kwargs={"budget": 5})
    kept.set_search_properties("loss", "min", SPACE, num_samples=12)
    assert kept.optimizer.budget == 5


def test_concurrency_limiter_sets_num_workers():
    from tune.search import ConcurrencyLimiter

    searcher = NevergradSearch()
    limited = ConcurrencyLimiter(searcher, max_concurrent=3)
    limited.set_search_properties("loss", "min", SPACE)
    assert searcher.optimizer.num_workers == 3
    fixed = NevergradSearch(optimizer_kwargs={"num_workers": 1})
    ConcurrencyLimiter(fixed, max_concurrent=3).set_search_properties("loss", "min", SPACE)
    assert fixed.optimizer.num_workers == 1


def test_seed_makes_suggestions_reproducible():
    def run(seed):
        return drive(configured(seed=seed), 5)

    assert run(3) == run(3)
    assert run(3) != run(4)


# -- space conversion ----------------------------------------------------------------------------
def test_conversion_of_every_domain_kind():
    space = {
        "lr": tune.loguniform(1e-4, 1e-1),
        "units": tune.lograndint(1, 100),
        "q": tune.quniform(0.0, 1.0, 0.25),
        "k": tune.qrandint(0, 20, 5),
        "ql": tune.qloguniform(1e-3, 1.0, 1e-3),
        "n": tune.randint(3, 4),  # a single value
        "c": tune.choice([[1, 2], {"a": 1}, None]),
        "opt": tune.choice([{"name": "sgd", "lr": tune.uniform(0, 1)}, {"name": "adam"}]),
        "nested": {"w": tune.randint(1, 5), "const": "keep"},
    }
    searcher = NevergradSearch(space=space, metric="loss", mode="min", seed=0)
    for i in range(20):
        c = searcher.suggest(f"t{i}")
        assert 1e-4 <= c["lr"] <= 1e-1 and isinstance(c["units"], int) and 1 <= c["units"] <= 99
        assert c["q"] in (0.0, 0.25, 0.5, 0.75, 1.0) and c["k"] in (0, 5, 10, 15, 20)
        assert isinstance(c["k"], int) and c["n"] == 3
        assert abs(c["ql"] / 1e-3 - round(c["ql"] / 1e-3)) < 1e-6
        assert c["c"] in ([1, 2], {"a": 1}, None)
        assert c["opt"] == {"name": "adam"} or (
            set(c["opt"]) == {"name", "lr"} and c["opt"]["name"] == "sgd"
        )
        assert c["nested"]["const"] == "keep" and 1 <= c["nested"]["w"] <= 4
        searcher.on_trial_complete(f"t{i}", {"loss": float(i % 4)})
    parametrization = searcher.optimizer.parametrization
    assert isinstance(parametrization["lr"], ng.p.Log)
    assert isinstance(parametrization["c"], ng.p.Choice)


def test_points_to_evaluate_come_back_exactly_and_in_order():
    space = {
        "lr": tune.loguniform(1e-4, 1e-1),
        "k": tune.qrandint(0, 20, 5),
        "c": tune.choice([[1, 2], {"a": 1}, None]),
        "opt": tune.choice([{"name": "sgd", "lr": tune.uniform(0, 1)}, {"name": "adam"}]),
    }
    points = [
        {"lr": 0.01, "k": 10, "c": [1, 2], "opt": {"name": "sgd", "lr": 0.1}},
        {"lr": 0.001, "k": 20, "c": None, "opt": {"name": "adam"}},
        {"lr": 0.05, "k": 0, "c": {"a": 1}, "opt": {"name": "sgd", "lr": 0.7}},
    ]
    searcher = NevergradSearch(space=space, metric="loss", mode="min", points_to_evaluate=points)
    assert [searcher.suggest(f"p{i}") for i in range(3)] == points
    for i in range(3):
        searcher.on_trial_complete(f"p{i}", {"loss": float(i)})
    assert searcher.optimizer.num_tell == 3
    with pytest.raises(TuneValueError, match="'opt'"):
        NevergradSearch(space=space, points_to_evaluate=[{**points[0], "opt": {"name": "x"}}])


def test_constant_space_gives_constant_configs():
    searcher = NevergradSearch(metric="loss", mode="min")
    searcher.set_search_properties(None, None, {"a": 1, "b": {"c": [1]}, "n": tune.randint(2, 3)})
    assert searcher.suggest("a") == {"a": 1, "b": {"c": [1]}, "n": 2}
    searcher.on_trial_complete("a", {"loss": 1.0})


# -- results -------------------------------------------------------------------------------------
def test_errored_and_metricless_trials_are_not_told():
    searcher = configured()
    for i in range(4):
        searcher.suggest(f"t{i}")
    searcher.on_trial_complete("t0", {"loss": 1.0}, error=True)
    searcher.on_trial_complete("t1", None)
    searcher.on_trial_complete("t2", {"loss": math.nan})
    assert searcher.optimizer.num_tell == 0
    searcher.on_trial_complete("t3", {"loss": 0.5, "training_iteration": 1})  # early stopped
    assert searcher.optimizer.num_tell == 1
    searcher.on_trial_complete("unknown", {"loss": 0.1})  # never suggested: ignored


def test_evaluated_rewards_are_told_not_suggested():
    points = [{"x": 0.3, "y": 0.3}, {"x": 0.9, "y": 0.1}]
    searcher = configured(points_to_evaluate=points, evaluated_rewards=[0.0, 0.4], seed=0)
    config = searcher.suggest("a")
    assert (config["x"], config["y"]) not in ((0.3, 0.3), (0.9, 0.1))
    assert searcher.optimizer.num_tell == 2
    assert searcher.optimizer.current_bests["minimum"].mean == 0.0


def test_evaluated_rewards_need_an_optimizer_that_takes_them():
    searcher = configured(
        optimizer="EDA", points_to_evaluate=[{"x": 0.3, "y": 0.3}], evaluated_rewards=[0.0]
    )
    with pytest.raises(TuneValueError, match="evaluated_rewards.*EDA"):
        searcher.suggest("a")


def test_points_to_evaluate_with_an_optimizer_that_cannot_learn_them(caplog):
    searcher = configured(optimizer="EDA", points_to_evaluate=[{"x": 0.3, "y": 0.3}])
    drive(searcher, 3)
    assert "cannot learn from points it did not propose" in caplog.text


def test_add_evaluated_point():
    searcher = configured(mode="max")
    searcher.add_evaluated_point({"x": 0.3, "y": 0.3}, 5.0)
    searcher.add_evaluated_point({"x": 0.6, "y": 0.3}, 9.0, error=True)
    assert searcher.optimizer.num_tell == 1
    assert searcher.optimizer.current_bests["minimum"].mean == -5.0
    with pytest.raises(TuneValueError, match=r"parameters.*'x'"):
        searcher.add_evaluated_point({"x": 2.0, "y": 0.3}, 1.0)


def test_multi_objective_builds_a_pareto_front():
    searcher = NevergradSearch(seed=0)
    searcher.set_search_properties(["a", "b"], ["min", "max"], SPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nevergrad's infinite-bound warnings are silenced
        for i in range(12):
            c = searcher.suggest(f"m{i}")
            searcher.on_trial_complete(f"m{i}", {"a": c["x"], "b": c["y"]})
    front = searcher.optimizer.pareto_front()
    assert front and searcher.optimizer.num_objectives == 2
    # evaluated_rewards as lists
    searcher = NevergradSearch(
        metric=["a", "b"],
        mode=["min", "max"],
        space=SPACE,
        points_to_evaluate=[{"x": 0.1, "y": 0.9}],
        evaluated_rewards=[[0.1, 0.9]],
    )
    assert isinstance(searcher.suggest("a"), dict) and searcher.optimizer.num_tell == 1


def test_multi_objective_run_through_the_tuner(tmp_path):
    def trainable(config):
        tune.report({"loss": bowl(config), "size": config["x"] + config["y"]})

    results = tune.Tuner(
        trainable,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            search_alg=NevergradSearch(metric=["loss", "size"], mode=["min", "max"], seed=0),
            num_samples=4,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert not results.errors and len(results) == 4


# -- sequential (recast) optimizers --------------------------------------------------------------
def test_sequential_optimizer_gets_one_trial_at_a_time_and_failures_a_penalty():
    searcher = configured(optimizer="NGOpt", optimizer_kwargs={"budget": 30}, seed=0)
    assert searcher.optimizer.optim.name == "Cobyla"  # NGOpt's pick for one worker
    first = searcher.suggest("a")
    assert searcher.suggest("b") is None  # a second ask would wait for the first tell forever
    searcher.on_trial_complete("a", {"loss": bowl(first)})
    searcher.suggest("b")
    searcher.on_trial_complete("b", None, error=True)  # told the worst loss seen
    assert searcher.optimizer.num_tell == 2
    assert isinstance(searcher.suggest("c"), dict)


def test_ngopt_needs_a_budget_said_up_front():
    with pytest.raises(TuneValueError, match="budget"):
        configured(optimizer="NGOpt")


def test_sequential_optimizer_state_round_trip():
    def make():
        return configured(
            optimizer="NGOpt",
            optimizer_kwargs={"budget": 30},
            seed=2,
            points_to_evaluate=[{"x": 0.5, "y": 0.5}],
        )

    searcher = make()
    drive(searcher, 4)
    state = pickle.dumps(searcher.get_state())
    expected = drive(searcher, 3, start=4)
    restored = NevergradSearch()
    restored.set_state(pickle.loads(state))
    assert drive(restored, 3, start=4) == expected


def test_ngopt_runs_through_the_tuner(tmp_path):
    from tune.testing.searcher_conformance import failing_objective

    results = tune.Tuner(
        failing_objective,
        param_space=BASE_SPACE,
        tune_config=tune.TuneConfig(
            search_alg=NevergradSearch("NGOpt", seed=0),
            metric="loss",
            mode="min",
            num_samples=6,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert len(results) == 6


# -- state ---------------------------------------------------------------------------------------
def test_state_round_trip_continues_the_same_search(tmp_path):
    searcher = configured(seed=5)
    drive(searcher, 4)
    pending = searcher.suggest("live")
    path = str(tmp_path / "state.pkl")
    searcher.save(path)
    searcher.on_trial_complete("live", {"loss": bowl(pending)})
    expected = drive(searcher, 4, start=10)
    restored = NevergradSearch()
    restored.restore(path)
    restored.on_trial_complete("live", {"loss": bowl(pending)})  # the live trial completes
    assert drive(restored, 4, start=10) == expected
    assert restored.optimizer.num_tell == searcher.optimizer.num_tell


def test_state_from_another_searcher_is_refused():
    with pytest.raises(TuneValueError, match="state"):
        NevergradSearch().set_state({"something": 1})


def test_missing_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "nevergrad", None)
    monkeypatch.delitem(sys.modules, "tune_search.nevergrad_search", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'tune-search\[nevergrad\]'"):
        importlib.import_module("tune_search.nevergrad_search")
