"""OptunaSearch: the searcher conformance suite plus Optuna's own space formats, samplers,
evaluated rewards, multi-objective search, trial states and state round trips."""

from __future__ import annotations

import importlib
import pickle
import sys

import pytest

optuna = pytest.importorskip("optuna")

from optuna.distributions import (  # noqa: E402
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState  # noqa: E402

import tune  # noqa: E402
from tune.errors import TuneTypeError, TuneValueError  # noqa: E402
from tune.testing.searcher_conformance import SearcherConformance  # noqa: E402
from tune_search.optuna_search import OptunaSearch  # noqa: E402

SPACE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)}


class TestOptunaConformance(SearcherConformance):
    registered_name = "optuna"

    def make_searcher(self, **kwargs):
        return OptunaSearch(**kwargs)


def configured(space=SPACE, metric="loss", mode="min", **kwargs) -> OptunaSearch:
    searcher = OptunaSearch(**kwargs)
    assert searcher.set_search_properties(metric, mode, space) is True
    return searcher


def drive(searcher: OptunaSearch, n: int, fn=lambda c: c["x"], prefix="t") -> list[dict]:
    configs = []
    for i in range(n):
        config = searcher.suggest(f"{prefix}{i}")
        configs.append(config)
        searcher.on_trial_complete(f"{prefix}{i}", {"loss": fn(config)})
    return configs


def states(searcher: OptunaSearch) -> list[TrialState]:
    return [t.state for t in searcher._study.trials]


# -- spaces ----------------------------------------------------------------------------------
def test_tune_space_conversion_covers_every_declared_domain():
    space = {
        "f": tune.uniform(-1.0, 1.0),
        "lf": tune.loguniform(1e-4, 1.0),
        "qf": tune.quniform(0.1, 1.0, 0.25),  # lower is not a multiple of q
        "qlf": tune.qloguniform(1, 100, 5),  # integer q for a float
        "i": tune.randint(0, 10),
        "li": tune.lograndint(1, 100),
        "qi": tune.qrandint(3, 20, 5),
        "qli": tune.qlograndint(1, 100, 10),
        "c": tune.choice(["a", ("t",), {"d": 1}]),
        "nested": {"deep": {"n": tune.randint(1, 3)}, "k": "const"},
    }
    searcher = configured(space, seed=0)
    dists = searcher._distributions
    assert dists["f"] == FloatDistribution(-1.0, 1.0)
    assert dists["lf"] == FloatDistribution(1e-4, 1.0, log=True)
    assert dists["qf"] == FloatDistribution(0.25, 1.0, step=0.25)
    assert dists["i"] == IntDistribution(0, 9)
    assert dists["li"] == IntDistribution(1, 99, log=True)
    assert dists["qi"] == IntDistribution(5, 20, step=5)
    assert dists["c"] == CategoricalDistribution([0, 1, 2])
    assert dists["nested/deep/n"] == IntDistribution(1, 2)
    for config in drive(searcher, 25, fn=lambda c: c["f"]):
        assert isinstance(config["qf"], float) and config["qf"] in (0.25, 0.5, 0.75, 1.0)
        assert isinstance(config["qlf"], float) and config["qlf"] % 5 == 0
        assert 5 <= config["qlf"] <= 100
        assert isinstance(config["qi"], int) and config["qi"] in (5, 10, 15, 20)
        assert isinstance(config["qli"], int) and config["qli"] % 10 == 0
        assert 10 <= config["qli"] <= 100
        assert 1 <= config["li"] <= 99 and 0 <= config["i"] <= 9
        assert config["c"] in ("a", ("t",), {"d": 1})
        assert config["nested"]["k"] == "const" and config["nested"]["deep"]["n"] in (1, 2)


def test_optuna_distributions_dict_as_space():
    space = {
        "a": FloatDistribution(6, 8),
        "b": FloatDistribution(1e-4, 1e-2, log=True),
        "opt": {"name": CategoricalDistribution(["sgd", "adam"]), "fixed": 3},
    }
    searcher = OptunaSearch(space, metric="loss", mode="min", seed=1)
    assert searcher.set_search_properties(None, None, {}) is False  # it has its own space
    for config in drive(searcher, 5, fn=lambda c: c["a"]):
        assert 6 <= config["a"] <= 8 and 1e-4 <= config["b"] <= 1e-2
        assert config["opt"]["name"] in ("sgd", "adam") and config["opt"]["fixed"] == 3
    assert set(searcher._study.trials[0].params) == {"a", "b", "opt/name"}


def test_define_by_run_space_with_branches_and_constants():
    def space(trial):
        trial.suggest_float("x", 0.0, 1.0)
        if trial.suggest_categorical("opt/name", ["sgd", "adam"]) == "sgd":
            trial.suggest_float("opt/lr", 1e-3, 1.0, log=True)
        return {"opt/kind": "optimizer", "epochs": 3}

    searcher = OptunaSearch(space, metric="loss", mode="min", seed=2)
    for config in drive(searcher, 12):
        assert config["epochs"] == 3 and config["opt"]["kind"] == "optimizer"
        if config["opt"]["name"] == "sgd":
            assert 1e-3 <= config["opt"]["lr"] <= 1.0
        else:
            assert set(config["opt"]) == {"name", "kind"}


def test_define_by_run_must_return_none_or_a_dict():
    searcher = OptunaSearch(lambda trial: trial.suggest_int("n", 1, 3) and 5, mode="min")
    with pytest.raises(TuneTypeError, match="define-by-run"):
        searcher.suggest("t0")


def test_tuner_with_a_constructor_space_takes_metric_and_mode_from_tune_config(tmp_path):
    def trainable(config):
        tune.report({"loss": (config["p"]["x"] - 0.5) ** 2})

    def space(trial):
        trial.suggest_float("p/x", 0.0, 1.0)

    searcher = OptunaSearch(space, points_to_evaluate=[{"p": {"x": 0.5}}])
    results = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=searcher, metric="loss", mode="min", num_samples=3),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert not results.errors and len(results) == 3
    assert results.get_best_result().metrics["loss"] == 0.0
    assert searcher.metric == "loss" and searcher.mode == "min"


def test_own_space_and_param_space_domains_conflict(tmp_path):
    searcher = OptunaSearch({"x": FloatDistribution(0, 1)})
    tuner = tune.Tuner(
        lambda config: None,
        param_space=SPACE,
        tune_config=tune.TuneConfig(search_alg=searcher, metric="loss", mode="min"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    with pytest.raises(TuneValueError, match="own search space"):
        tuner.fit()


# -- constructor arguments ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sampler": optuna.samplers.RandomSampler(), "seed": 3}, TuneValueError, "seed=3"),
        ({"sampler": "tpe"}, TuneTypeError, "sampler"),
        ({"seed": 1.5}, TuneTypeError, "seed"),
        ({"space": 3}, TuneTypeError, "space"),
        ({"space": {"x": 1}}, TuneValueError, "no search-space definitions"),
        ({"points_to_evaluate": {"x": 1}}, TuneTypeError, "points_to_evaluate"),
        (
            {"points_to_evaluate": [{"x": 1}], "evaluated_rewards": [1, 2]},
            TuneValueError,
            "evaluated_rewards",
        ),
        (
            {"points_to_evaluate": [{"x": 1}], "evaluated_rewards": ["good"]},
            TuneValueError,
            "evaluated_rewards",
        ),
        (
            {"space": lambda t: None, "points_to_evaluate": [{"x": 1}], "evaluated_rewards": [1]},
            TuneValueError,
            "define-by-run",
        ),
        ({"metric": ["a", "b"], "mode": ["min", "obs"]}, TuneValueError, "mode"),
        (
            {"space": {"x": tune.uniform(0, 1)}, "mode": "min", "points_to_evaluate": [{"x": 2.0}]},
            TuneValueError,
            "'x'",
        ),
        ({"space": {"x": tune.randn(0, 1)}}, TuneValueError, "'x'"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        OptunaSearch(**kwargs)


def test_given_sampler_is_used_and_seed_seeds_the_default():
    sampler = optuna.samplers.RandomSampler(seed=5)
    searcher = configured(sampler=sampler)
    drive(searcher, 2)
    assert searcher._study.sampler is sampler
    first = [drive(configured(seed=7), 12) for _ in range(2)]
    assert first[0] == first[1]
    assert isinstance(configured(seed=7)._study.sampler, optuna.samplers.TPESampler)


def test_same_suggestions_as_optuna_driven_directly():
    searcher = configured(seed=11)
    ours = drive(searcher, 15, fn=lambda c: (c["x"] - 0.2) ** 2 + c["y"])
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=11))
    dists = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    for config in ours:
        trial = study.ask(dists)
        assert trial.params == config
        study.tell(trial, (config["x"] - 0.2) ** 2 + config["y"])


def test_optuna_logging_is_quiet():
    optuna.logging.set_verbosity(optuna.logging.INFO)
    configured()
    assert optuna.logging.get_verbosity() == optuna.logging.WARNING
    optuna.logging.set_verbosity(optuna.logging.DEBUG)  # a user's own choice stays
    configured()
    assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    optuna.logging.set_verbosity(optuna.logging.WARNING)


# -- points, rewards, multi-objective ----------------------------------------------------------
def test_points_and_evaluated_rewards_with_categorical_and_nested_values():
    space = {"c": tune.choice([[1, 2], "b"]), "m": {"x": tune.quniform(0.0, 1.0, 0.5)}}
    points = [{"c": [1, 2], "m": {"x": 0.5}}, {"c": "b", "m": {"x": 1.0}}]
    searcher = configured(space, points_to_evaluate=points, evaluated_rewards=[0.5, 0.25])
    trials = searcher._study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    assert [t.value for t in trials] == [0.5, 0.25]
    assert [t.params for t in trials] == [{"c": 0, "m/x": 0.5}, {"c": 1, "m/x": 1.0}]
    enqueued = configured(space, points_to_evaluate=points)
    assert [enqueued.suggest("a"), enqueued.suggest("b")] == points


def test_add_evaluated_point_states_and_intermediate_values():
    searcher = configured(seed=0)
    searcher.add_evaluated_point({"x": 0.1, "y": 0.2}, 0.3)
    searcher.add_evaluated_point(
        {"x": 0.2, "y": 0.2}, 0.4, pruned=True, intermediate_values=[1, 0.4]
    )
    searcher.add_evaluated_point({"x": 0.3, "y": 0.2}, 0.0, error=True)
    trials = searcher._study.trials
    assert states(searcher) == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL]
    assert trials[1].intermediate_values == {0: 1.0, 1: 0.4}
    with pytest.raises(TuneValueError, match="'y'"):
        searcher.add_evaluated_point({"x": 0.1}, 0.3)


def test_multi_objective_with_evaluated_rewards():
    points = [{"x": 0.1, "y": 0.9}, {"x": 0.5, "y": 0.5}]
    searcher = OptunaSearch(
        metric=["loss", "gain"],
        mode=["min", "max"],
        points_to_evaluate=points,
        evaluated_rewards=[[0.1, 0.9], [0.5, 0.5]],
        seed=0,
    )
    assert searcher.set_search_properties(None, None, SPACE)
    study = searcher._study
    assert [d.name for d in study.directions] == ["MINIMIZE", "MAXIMIZE"]
    assert isinstance(study.sampler, optuna.samplers.TPESampler)
    for i in range(4):
        config = searcher.suggest(f"m{i}")
        searcher.on_trial_result(f"m{i}", {"loss": 1.0, "gain": 0.0, "training_iteration": 1})
        searcher.on_trial_complete(f"m{i}", {"loss": config["x"], "gain": config["y"]})
    assert all(t.state == TrialState.COMPLETE and len(t.values) == 2 for t in study.trials)
    assert len(study.best_trials) >= 1
    with pytest.raises(TuneValueError, match="evaluated_rewards"):
        configured(
            metric=["a", "b"],
            mode=["min", "min"],
            points_to_evaluate=points[:1],
            evaluated_rewards=[1.0],
        )


# -- how finished trials are told -------------------------------------------------------------
def test_trial_states_told_to_optuna():
    searcher = configured(seed=0)
    for i in range(6):
        searcher.suggest(f"t{i}")
    for step in (1, 2, 2):  # a repeated step is not reported twice
        searcher.on_trial_result("t0", {"loss": 1.0 / step, "training_iteration": step})
    searcher.on_trial_result("t0", {"loss": float("nan"), "training_iteration": 3})
    searcher.on_trial_complete("t0", {"loss": 0.25, "training_iteration": 4, "done": True})
    searcher.on_trial_complete("t1", {"loss": 0.5}, error=True)
    searcher.on_trial_complete("t2", {"other": 1.0})
    searcher.on_trial_complete("t3", {"loss": float("nan")})
    searcher.on_trial_result("t4", {"loss": 0.9, "training_iteration": 1})
    searcher.on_trial_complete("t4", {"loss": 0.7, "training_iteration": 2, "done": False})
    searcher.on_trial_complete("t5", None)
    searcher.on_trial_complete("t5", {"loss": 0.0})  # twice: ignored
    searcher.on_trial_complete("unknown", {"loss": 0.0})
    trials = searcher._study.trials
    assert states(searcher) == [
        TrialState.COMPLETE,
        TrialState.FAIL,
        TrialState.PRUNED,
        TrialState.FAIL,
        TrialState.PRUNED,
        TrialState.PRUNED,
    ]
    assert trials[0].value == 0.25 and trials[0].intermediate_values == {1: 1.0, 2: 0.5}
    assert trials[4].value == 0.7 and trials[4].intermediate_values == {1: 0.9, 2: 0.7}
    assert trials[5].value is None


def test_maximize_and_anonymous_metric():
    searcher = OptunaSearch(mode="max", seed=0)
    searcher.set_search_properties(None, None, SPACE)
    drive(searcher, 3)
    assert searcher.metric == "_metric"
    searcher = configured(mode="max", seed=0)
    drive(searcher, 12, fn=lambda c: c["x"])
    assert searcher._study.best_value == max(t.value for t in searcher._study.trials)


# -- state ------------------------------------------------------------------------------------
def test_restored_searcher_continues_exactly(tmp_path):
    def run(searcher, start, n):
        return drive(searcher, n, fn=lambda c: (c["x"] - 0.3) ** 2, prefix=f"r{start}-")

    def session(interrupt):
        searcher = configured(seed=4)
        configs = run(searcher, 0, 12)
        configs.append(searcher.suggest("pending"))  # running while the state is saved
        if interrupt:
            searcher.save(str(tmp_path / "state.pkl"))
            searcher = OptunaSearch()
            searcher.restore(str(tmp_path / "state.pkl"))
            pickle.loads(pickle.dumps(searcher.get_state()))
        searcher.on_trial_complete("pending", {"loss": 0.1})
        return configs + run(searcher, 1, 6), searcher

    expected, _ = session(interrupt=False)
    got, restored = session(interrupt=True)
    assert got == expected
    assert len(restored._study.trials) == 19 and restored.metric == "loss"


def test_define_by_run_state_survives_cloudpickle(tmp_path):
    searcher = OptunaSearch(lambda t: t.suggest_int("n", 1, 4) and None, metric="loss", mode="min")
    drive(searcher, 2, fn=lambda c: c["n"])
    searcher.save(str(tmp_path / "s.pkl"))
    restored = OptunaSearch()
    restored.restore(str(tmp_path / "s.pkl"))
    assert 1 <= restored.suggest("next")["n"] <= 4


# -- packaging --------------------------------------------------------------------------------
def test_missing_optuna_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    monkeypatch.delitem(sys.modules, "tune_search.optuna_search")
    with pytest.raises(ImportError, match=r"pip install 'tune-search\[optuna\]'"):
        importlib.import_module("tune_search.optuna_search")


def test_same_class_through_every_name():
    import tune_search
    from tune.search import OptunaSearch as FromTune

    assert tune_search.OptunaSearch is OptunaSearch is FromTune
    assert type(tune.create_searcher("optuna")) is OptunaSearch
