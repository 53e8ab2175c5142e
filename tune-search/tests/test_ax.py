"""AxSearch: the searcher conformance suite plus Ax's own parameter format, existing
AxClients, parameter and outcome constraints, evaluated rewards, multi-objective search,
trial states (failed, abandoned, early stopped) and state round trips.

Ax fits a Gaussian process for every suggestion after its Sobol initialization (seconds
each), so most tests stay within the Sobol trials; the ``bo`` tests drive a few model-based
suggestions on purpose.
"""

from __future__ import annotations

import importlib
import math
import pickle
import sys

import pytest

pytest.importorskip("ax")

from ax.core.base_trial import TrialStatus  # noqa: E402
from ax.service.ax_client import AxClient, ObjectiveProperties  # noqa: E402

import tune  # noqa: E402
from tune.errors import TuneError, TuneTypeError, TuneValueError  # noqa: E402
from tune.testing.searcher_conformance import SearcherConformance  # noqa: E402
from tune_search.ax_search import AxSearch  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SPACE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)}
# Sobol for the first N suggestions: fast tests that still go through Ax's own strategy choice
SOBOL_FIRST = {"choose_generation_strategy_kwargs": {"num_initialization_trials": 12}}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # With torch's default thread pool a GP fit is several times slower when the test workers
    # share two cores.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TestAxConformance(SearcherConformance):
    registered_name = "ax"

    def make_searcher(self, **kwargs):
        return AxSearch(random_seed=0, **SOBOL_FIRST, **kwargs)


def configured(space=SPACE, metric="loss", mode="min", **kwargs) -> AxSearch:
    kwargs = {"random_seed": 0, **SOBOL_FIRST, **kwargs}
    searcher = AxSearch(**kwargs)
    assert searcher.set_search_properties(metric, mode, space) is True
    return searcher


def drive(searcher: AxSearch, n: int, fn=lambda c: c["x"], prefix="t") -> list[dict]:
    configs = []
    for i in range(n):
        config = searcher.suggest(f"{prefix}{i}")
        assert isinstance(config, dict), config
        configs.append(config)
        searcher.on_trial_complete(f"{prefix}{i}", {"loss": fn(config)})
    return configs


def statuses(searcher: AxSearch) -> list[TrialStatus]:
    trials = searcher.ax_client.experiment.trials
    return [trials[i].status for i in sorted(trials)]


def quiet_client(**kwargs) -> AxClient:
    return AxClient(verbose_logging=False, **kwargs)


# -- spaces ----------------------------------------------------------------------------------
def test_tune_space_becomes_ax_parameters_and_comes_back_exactly():
    space = {
        "f": tune.uniform(-1.0, 1.0),
        "lf": tune.loguniform(1e-4, 1.0),
        "i": tune.randint(1, 10),
        "li": tune.lograndint(1, 100),
        "c": tune.choice([[1, 2], {"k": "v"}, None, "s"]),
        "one": tune.choice(["only"]),
        "flat": tune.randint(3, 4),
        "model": {"width": tune.randint(1, 5), "depth": 3},
    }
    searcher = configured(space)
    params = searcher.ax_client.experiment.search_space.parameters
    assert set(params) == {"f", "lf", "i", "li", "c", "one", "flat", "model/width"}
    assert params["lf"].log_scale and params["li"].log_scale and not params["f"].log_scale
    assert (params["i"].lower, params["i"].upper) == (1, 9)  # randint's upper is exclusive
    assert (params["li"].lower, params["li"].upper) == (1, 99)
    assert params["c"].values == [0, 1, 2, 3] and not params["c"].is_ordered
    assert type(params["one"]).__name__ == "FixedParameter"
    assert type(params["flat"]).__name__ == "FixedParameter"
    for config in drive(searcher, 8, fn=lambda c: c["f"]):
        assert set(config) == set(space)
        assert isinstance(config["f"], float) and -1.0 <= config["f"] <= 1.0
        assert 1e-4 <= config["lf"] <= 1.0
        assert isinstance(config["i"], int) and 1 <= config["i"] <= 9
        assert isinstance(config["li"], int) and 1 <= config["li"] <= 99
        assert config["c"] in ([1, 2], {"k": "v"}, None, "s")
        assert config["one"] == "only" and config["flat"] == 3
        assert config["model"]["depth"] == 3 and 1 <= config["model"]["width"] <= 4


def test_categories_are_fresh_copies():
    searcher = configured({"c": tune.choice([[1, 2], [3]]), "x": tune.uniform(0, 1)})
    first = searcher.suggest("a")
    first["c"].append(99)
    assert all(99 not in c["c"] for c in drive(searcher, 4))


def test_ax_parameter_list_as_space():
    parameters = [
        {"name": "x", "type": "range", "bounds": [0.0, 1.0], "value_type": "float"},
        {
            "name": "opt/name",
            "type": "choice",
            "values": ["sgd", "adam"],
            "is_ordered": False,
            "sort_values": False,
        },
        {"name": "opt/momentum", "type": "fixed", "value": 0.9},
    ]
    searcher = AxSearch(space=parameters, metric="loss", mode="min", random_seed=0)
    assert searcher.ax_client is not None  # created at once: metric and mode are known
    assert searcher.set_search_properties("other", "max", {}) is False
    assert (searcher.metric, searcher.mode) == ("loss", "min")
    config = searcher.suggest("t0")
    assert set(config) == {"x", "opt"} and config["opt"]["momentum"] == 0.9
    assert config["opt"]["name"] in ("sgd", "adam")


def test_own_space_takes_metric_and_mode_from_tune_config(tmp_path):
    searcher = AxSearch(space=SPACE, random_seed=0, **SOBOL_FIRST)
    assert searcher.ax_client is None  # no mode yet: the experiment waits for TuneConfig
    results = tune.Tuner(
        lambda c: {"loss": c["x"] + c["y"]},
        tune_config=tune.TuneConfig(search_alg=searcher, metric="loss", mode="max", num_samples=3),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert not results.errors and len(results) == 3
    assert (searcher.metric, searcher.mode) == ("loss", "max")


def test_own_space_and_param_space_together_are_refused(tmp_path):
    searcher = AxSearch(space=SPACE, metric="loss", mode="min")
    tuner = tune.Tuner(
        lambda c: {"loss": 1.0},
        param_space=SPACE,
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=1),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    with pytest.raises(TuneValueError, match="own search space"):
        tuner.fit()


def test_unsupported_domains_are_refused_naming_the_parameter():
    with pytest.raises(TuneValueError, match=r"'q'.*quantized"):
        AxSearch().set_search_properties("loss", "min", {"q": tune.quniform(0, 1, 0.1)})
    with pytest.raises(TuneValueError, match=r"'z'.*normal"):
        AxSearch(space={"z": tune.randn(0, 1)}, metric="loss", mode="min")
    with pytest.raises(TuneValueError, match="no parameter"):
        AxSearch().set_search_properties("loss", "min", {"a": 1})


# -- an existing AxClient ---------------------------------------------------------------------
def make_client(**create_kwargs) -> AxClient:
    client = quiet_client(random_seed=1)
    client.create_experiment(
        parameters=[
            {"name": "x", "type": "range", "bounds": [0.0, 1.0], "value_type": "float"},
            {"name": "y", "type": "range", "bounds": [0.0, 1.0], "value_type": "float"},
        ],
        objectives={"score": ObjectiveProperties(minimize=False)},
        **create_kwargs,
    )
    return client


def test_existing_client_supplies_space_metric_and_mode(tmp_path):
    client = make_client()
    searcher = AxSearch(ax_client=client)
    assert (searcher.metric, searcher.mode) == ("score", "max")
    assert searcher.set_search_properties("loss", "min", {}) is False
    assert (searcher.metric, searcher.mode) == ("score", "max")
    results = tune.Tuner(
        lambda c: {"score": c["x"]},
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=3),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert not results.errors and len(results) == 3
    assert len(client.experiment.trials) == 3
    assert all(t.status == TrialStatus.COMPLETED for t in client.experiment.trials.values())


def test_existing_client_refuses_a_second_definition():
    client = make_client()
    with pytest.raises(TuneValueError, match="metric"):
        AxSearch(ax_client=client, metric="loss")
    with pytest.raises(TuneValueError, match="space"):
        AxSearch(space=SPACE, ax_client=client)
    with pytest.raises(TuneValueError, match="ax_client"):
        AxSearch(ax_client=client, random_seed=3)


def test_client_without_experiment_gets_one_from_param_space():
    client = quiet_client(random_seed=2)
    searcher = AxSearch(ax_client=client)
    assert searcher.set_search_properties("loss", "min", SPACE) is True
    assert searcher.ax_client is client
    assert set(client.experiment.search_space.parameters) == {"x", "y"}


# -- constructor arguments -------------------------------------------------------------------
def test_bad_arguments_are_refused_up_front():
    with pytest.raises(TuneValueError, match="num_init"):
        AxSearch(num_init=3)
    with pytest.raises(TuneTypeError, match="space"):
        AxSearch(space="x")
    with pytest.raises(TuneValueError, match="space"):
        AxSearch(space=[{"type": "range"}])
    with pytest.raises(TuneTypeError, match="points_to_evaluate"):
        AxSearch(points_to_evaluate={"x": 1})
    with pytest.raises(TuneTypeError, match="parameter_constraints"):
        AxSearch(parameter_constraints="x <= 1")
    with pytest.raises(TuneTypeError, match="outcome_constraints"):
        AxSearch(outcome_constraints=[3])
    with pytest.raises(TuneTypeError, match="ax_client"):
        AxSearch(ax_client=object())
    with pytest.raises(TuneValueError, match="mode"):
        AxSearch(mode="best")
    with pytest.raises(TuneValueError, match="mode"):
        AxSearch(metric=["a", "b"], mode=["min", "obs"])
    with pytest.raises(TuneValueError, match="evaluated_rewards"):
        AxSearch(points_to_evaluate=[{"x": 0.1, "y": 0.1}], evaluated_rewards=[1.0, 2.0])


def test_ax_kwargs_reach_client_and_experiment():
    searcher = configured(
        random_seed=7,
        tracking_metric_names=["gain"],
        choose_generation_strategy_kwargs={"num_initialization_trials": 2},
    )
    client = searcher.ax_client
    assert client._random_seed == 7
    assert [m.name for m in client.experiment.tracking_metrics] == ["gain"]


def test_mode_is_required():
    with pytest.raises(TuneValueError, match="mode"):
        AxSearch().set_search_properties(None, None, SPACE)


def test_suggest_without_space_says_what_to_do():
    with pytest.raises(TuneError, match="param_space"):
        AxSearch().suggest("t0")


def test_metric_defaults_when_only_mode_is_given():
    searcher = AxSearch(space=SPACE, mode="max")
    assert searcher.metric == "_metric"


# -- constraints -----------------------------------------------------------------------------
def test_parameter_constraints_hold_for_every_suggestion():
    searcher = configured(parameter_constraints=["x + y <= 0.8"])
    for config in drive(searcher, 6):
        assert config["x"] + config["y"] <= 0.8 + 1e-9


def test_parameter_constraints_on_nested_names():
    space = {"a": {"lo": tune.uniform(0, 1), "hi": tune.uniform(0, 1)}}
    searcher = configured(space, parameter_constraints=["a/lo <= a/hi"])
    for config in drive(searcher, 5, fn=lambda c: c["a"]["hi"]):
        assert config["a"]["lo"] <= config["a"]["hi"]


def test_outcome_constraint_metrics_are_reported_to_ax():
    searcher = configured(outcome_constraints=["cost <= 0.5"])
    config = searcher.suggest("t0")
    searcher.on_trial_complete("t0", {"loss": config["x"], "cost": 0.25})
    searcher.suggest("t1")
    searcher.on_trial_complete("t1", {"loss": 0.5})  # no cost: Ax cannot use it
    assert statuses(searcher) == [TrialStatus.COMPLETED, TrialStatus.ABANDONED]
    data = searcher.ax_client.experiment.lookup_data().df
    assert set(data["metric_name"]) == {"loss", "cost"}
    assert data.loc[data["metric_name"] == "cost", "mean"].tolist() == [0.25]


# -- trial outcomes --------------------------------------------------------------------------
def test_trial_outcomes_map_to_ax_statuses():
    searcher = configured()
    for i in range(5):
        searcher.suggest(f"t{i}")
    searcher.on_trial_complete("t0", {"loss": 0.3, "training_iteration": 3})
    searcher.on_trial_complete("t1", None, error=True)
    searcher.on_trial_complete("t2", None)
    searcher.on_trial_complete("t3", {"loss": math.nan})
    # early stopped by a scheduler: completed with its last result, as in Ray Tune
    searcher.on_trial_complete("t4", {"loss": 0.7, "done": False})
    searcher.on_trial_complete("unknown", {"loss": 1.0})  # never suggested: ignored
    assert statuses(searcher) == [
        TrialStatus.COMPLETED,
        TrialStatus.FAILED,
        TrialStatus.ABANDONED,
        TrialStatus.ABANDONED,
        TrialStatus.COMPLETED,
    ]
    df = searcher.ax_client.experiment.lookup_data().df
    assert sorted(df["mean"]) == [0.3, 0.7]


def test_suggest_waits_while_ax_needs_data():
    # Default strategy: 5 Sobol trials, then a model that needs some of them completed.
    searcher = AxSearch(random_seed=0)
    searcher.set_search_properties("loss", "min", SPACE)
    for i in range(5):
        assert isinstance(searcher.suggest(f"t{i}"), dict)
    assert searcher.suggest("t5") is None
    assert "t5" not in searcher._live


# -- points to evaluate and evaluated rewards ------------------------------------------------
def test_points_to_evaluate_with_categories_and_nesting():
    space = {"c": tune.choice([[1], {"k": 2}, "s"]), "m": {"x": tune.uniform(0, 1)}}
    points = [{"c": {"k": 2}, "m": {"x": 0.25}}, {"c": "s", "m": {"x": 0.75}}]
    searcher = configured(space, points_to_evaluate=points)
    assert searcher.suggest("p0") == points[0]
    assert searcher.suggest("p1") == points[1]
    assert isinstance(searcher.suggest("p2"), dict)
    arms = [t.arm.parameters for t in searcher.ax_client.experiment.trials.values()]
    assert arms[:2] == [{"c": 1, "m/x": 0.25}, {"c": 2, "m/x": 0.75}]


def test_points_to_evaluate_missing_a_parameter_are_refused():
    with pytest.raises(TuneValueError, match="'y'"):
        configured(points_to_evaluate=[{"x": 0.5}])


def test_evaluated_rewards_become_completed_trials():
    points = [{"x": 0.3, "y": 0.3}, {"x": 0.9, "y": 0.1}]
    searcher = configured(points_to_evaluate=points, evaluated_rewards=[0.0, 0.4])
    trials = searcher.ax_client.experiment.trials
    assert [trials[i].status for i in sorted(trials)] == [TrialStatus.COMPLETED] * 2
    assert sorted(searcher.ax_client.experiment.lookup_data().df["mean"]) == [0.0, 0.4]
    config = searcher.suggest("t0")  # the points are not suggested again
    assert (config["x"], config["y"]) not in ((0.3, 0.3), (0.9, 0.1))


def test_evaluated_rewards_as_dicts_with_outcome_constraints():
    searcher = configured(
        points_to_evaluate=[{"x": 0.3, "y": 0.3}],
        evaluated_rewards=[{"loss": 0.1, "cost": 2.0}],
        outcome_constraints=["cost <= 1.0"],
    )
    df = searcher.ax_client.experiment.lookup_data().df
    assert dict(zip(df["metric_name"], df["mean"])) == {"loss": 0.1, "cost": 2.0}
    with pytest.raises(TuneValueError, match="dict"):
        configured(
            points_to_evaluate=[{"x": 0.3, "y": 0.3}],
            evaluated_rewards=[0.1],
            outcome_constraints=["cost <= 1.0"],
        )


def test_add_evaluated_point():
    searcher = configured()
    searcher.add_evaluated_point({"x": 0.2, "y": 0.2}, 0.05)
    searcher.add_evaluated_point({"x": 0.8, "y": 0.2}, 0.0, error=True)
    searcher.add_evaluated_point({"x": 0.1, "y": 0.9}, 0.5, pruned=True)
    assert statuses(searcher) == [
        TrialStatus.COMPLETED,
        TrialStatus.FAILED,
        TrialStatus.COMPLETED,
    ]


# -- multi-objective -------------------------------------------------------------------------
def test_multi_objective_search():
    searcher = configured(metric=["loss", "gain"], mode=["min", "max"])
    objective = searcher.ax_client.experiment.optimization_config.objective
    assert objective.metric_names == ["loss", "gain"]
    assert (searcher.metric, searcher.mode) == (["loss", "gain"], ["min", "max"])
    for i in range(3):
        config = searcher.suggest(f"m{i}")
        searcher.on_trial_complete(f"m{i}", {"loss": config["x"], "gain": config["y"]})
    assert statuses(searcher) == [TrialStatus.COMPLETED] * 3
    assert len(searcher.ax_client.experiment.lookup_data().df) == 6


def test_multi_objective_evaluated_rewards_as_lists_or_dicts():
    searcher = configured(
        metric=["loss", "gain"],
        mode=["min", "max"],
        points_to_evaluate=[{"x": 0.1, "y": 0.2}, {"x": 0.3, "y": 0.4}],
        evaluated_rewards=[[0.5, 1.5], {"loss": 0.7, "gain": 2.5}],
    )
    df = searcher.ax_client.experiment.lookup_data().df
    assert sorted(zip(df["trial_index"], df["metric_name"], df["mean"])) == [
        (0, "gain", 1.5),
        (0, "loss", 0.5),
        (1, "gain", 2.5),
        (1, "loss", 0.7),
    ]
    with pytest.raises(TuneValueError, match="evaluated_rewards"):
        configured(
            metric=["loss", "gain"],
            mode=["min", "max"],
            points_to_evaluate=[{"x": 0.1, "y": 0.2}],
            evaluated_rewards=[0.5],
        )


def test_multi_objective_client_gives_lists():
    client = quiet_client()
    client.create_experiment(
        parameters=[{"name": "x", "type": "range", "bounds": [0.0, 1.0]}],
        objectives={
            "a": ObjectiveProperties(minimize=True),
            "b": ObjectiveProperties(minimize=False),
        },
    )
    searcher = AxSearch(ax_client=client)
    assert (searcher.metric, searcher.mode) == (["a", "b"], ["min", "max"])


# -- model-based suggestions and state -------------------------------------------------------
def test_state_round_trip_continues_exactly():
    searcher = configured()
    drive(searcher, 2)
    pending = searcher.suggest("pending")  # in flight while saved
    state = pickle.loads(pickle.dumps(searcher.get_state()))
    fresh = AxSearch()
    fresh.set_state(state)
    assert (fresh.metric, fresh.mode) == ("loss", "min")
    for s in (searcher, fresh):
        s.on_trial_complete("pending", {"loss": pending["x"]})
    # the restored search goes on where the original is (same trials, seed and strategy)
    assert searcher.suggest("next") == fresh.suggest("next")
    assert statuses(fresh) == [TrialStatus.COMPLETED] * 3 + [TrialStatus.RUNNING]


def test_bayesian_optimization_after_sobol_survives_a_round_trip():
    searcher = configured(choose_generation_strategy_kwargs={"num_initialization_trials": 3})
    drive(searcher, 4, fn=lambda c: (c["x"] - 0.3) ** 2 + (c["y"] - 0.6) ** 2)
    nodes = [
        t.generator_run._generation_node_name for t in searcher.ax_client.experiment.trials.values()
    ]
    assert nodes[0] != nodes[-1] and "Sobol" in nodes[0]  # Sobol, then the GP model
    fresh = AxSearch()
    fresh.set_state(pickle.loads(pickle.dumps(searcher.get_state())))
    config = fresh.suggest("t4")
    assert 0.0 <= config["x"] <= 1.0 and 0.0 <= config["y"] <= 1.0
    assert fresh.ax_client.experiment.trials[4].generator_run._generation_node_name == nodes[-1]


def test_state_before_the_space_is_known():
    searcher = AxSearch(points_to_evaluate=[{"x": 0.5, "y": 0.5}], random_seed=3)
    fresh = AxSearch()
    fresh.set_state(pickle.loads(pickle.dumps(searcher.get_state())))
    assert fresh.set_search_properties("loss", "min", SPACE) is True
    assert fresh.suggest("t0") == {"x": 0.5, "y": 0.5}
    assert fresh.ax_client._random_seed == 3


# -- logging, import errors, names -----------------------------------------------------------
def test_ax_stays_quiet_by_default(capfd):
    searcher = AxSearch(random_seed=0)
    searcher.set_search_properties("loss", "min", SPACE)
    drive(searcher, 2)
    err = capfd.readouterr().err
    assert "ax.service.ax_client" not in err and "dispatch_utils" not in err, err


def test_missing_ax_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ax", None)
    monkeypatch.setitem(sys.modules, "ax.service.ax_client", None)
    monkeypatch.delitem(sys.modules, "tune_search.ax_search")
    with pytest.raises(ImportError, match=r"pip install 'tune-search\[ax\]'"):
        importlib.import_module("tune_search.ax_search")


def test_same_class_through_every_name():
    import tune_search
    from tune.search import AxSearch as FromTune

    module = importlib.import_module("tune_search.ax_search")
    assert tune_search.AxSearch is module.AxSearch is FromTune
    assert type(tune.create_searcher("ax")) is module.AxSearch
