"""HyperOptSearch: the conformance suite plus what is particular to hyperopt."""

from __future__ import annotations

import importlib
import math
import sys
from functools import partial

import pytest

hyperopt = pytest.importorskip("hyperopt")

import numpy as np  # noqa: E402
from hyperopt import hp, tpe  # noqa: E402

import tune  # noqa: E402
from tune.errors import TuneError, TuneTypeError, TuneValueError  # noqa: E402
from tune.testing.searcher_conformance import SearcherConformance  # noqa: E402
from tune_search.hyperopt_search import HyperOptSearch  # noqa: E402


class TestHyperOptConformance(SearcherConformance):
    registered_name = "hyperopt"

    def make_searcher(self, **kwargs):
        # Few startup points, so that the suite's short runs reach TPE proper.
        return HyperOptSearch(n_initial_points=3, random_state_seed=0, **kwargs)


def _trials(searcher):
    return searcher.get_state()["trials"]


def _drive(searcher, n, fn, prefix="t"):
    configs = []
    for i in range(n):
        config = searcher.suggest(f"{prefix}{i}")
        configs.append(config)
        searcher.on_trial_complete(f"{prefix}{i}", {"loss": fn(config)})
    return configs


def _bowl(config):
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2


SPACE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)}


# -- the same algorithm as hyperopt's own loop -----------------------------------------------------
def _native(seed, n, n_startup):
    """hyperopt driven directly, as fmin does it: same TPE settings, same seeding."""
    space = {"x": hp.uniform("x", 0.0, 1.0), "y": hp.uniform("y", 0.0, 1.0)}
    domain = hyperopt.Domain(lambda c: c, space)
    trials = hyperopt.Trials()
    algo = partial(tpe.suggest, n_startup_jobs=n_startup, gamma=0.25)
    rstate = np.random.default_rng(seed)
    configs = []
    for _ in range(n):
        ids = trials.new_trial_ids(1)
        trials.refresh()
        docs = algo(ids, domain, trials, int(rstate.integers(2**31 - 1)))
        trials.insert_trial_docs(docs)
        trials.refresh()
        doc = trials.trials[-1]
        config = hyperopt.base.spec_from_misc(doc["misc"])
        configs.append(config)
        doc["state"] = hyperopt.JOB_STATE_DONE
        doc["result"] = {"loss": _bowl(config), "status": "ok"}
        trials.refresh()
    return configs


def test_suggestions_are_hyperopts_own_for_the_same_seed():
    searcher = HyperOptSearch(metric="loss", mode="min", n_initial_points=4, random_state_seed=7)
    searcher.set_search_properties(None, None, SPACE)
    ours = _drive(searcher, 12, _bowl)
    theirs = _native(7, 12, 4)
    assert ours == theirs


def test_tpe_improves_on_random_start():
    searcher = HyperOptSearch(metric="loss", mode="min", n_initial_points=5, random_state_seed=1)
    searcher.set_search_properties(None, None, SPACE)
    losses = [_bowl(c) for c in _drive(searcher, 30, _bowl)]
    assert min(losses[5:]) < min(losses[:5])


def test_mode_max_is_negated_for_hyperopt():
    searcher = HyperOptSearch(metric="acc", mode="max", random_state_seed=0)
    searcher.set_search_properties(None, None, SPACE)
    config = searcher.suggest("a")
    searcher.on_trial_complete("a", {"acc": 0.8})
    assert _trials(searcher).losses() == [-0.8]
    assert isinstance(config["x"], float)


# -- the space ---------------------------------------------------------------------------------
def test_choice_over_lists_and_dicts_returns_the_values_in_the_tpe_phase():
    space = {"v": tune.choice([[1, 2], {"k": "v"}, (3, 4)]), "x": tune.uniform(0, 1)}
    searcher = HyperOptSearch(metric="loss", mode="min", n_initial_points=2, random_state_seed=3)
    searcher.set_search_properties(None, None, space)
    for i in range(12):
        config = searcher.suggest(f"t{i}")
        assert config["v"] in ([1, 2], {"k": "v"}, (3, 4)), config
        if config["v"] == (3, 4):
            assert isinstance(config["v"], tuple)
        if isinstance(config["v"], list):
            config["v"].append("mutated")  # must not leak into later configs
        searcher.on_trial_complete(f"t{i}", {"loss": config["x"]})
    later = searcher.suggest("late")
    assert later["v"] in ([1, 2], {"k": "v"}, (3, 4))


def test_integer_and_quantized_values_stay_on_the_grid():
    space = {
        "k": tune.qrandint(1, 20, 5),  # multiples of 5 within [1, 20]: 5..20
        "q": tune.quniform(0.1, 1.1, 0.4),  # 0.4 and 0.8 only
        "u": tune.qlograndint(3, 100, 3),
        "n": tune.randint(-3, 3),
    }
    searcher = HyperOptSearch(metric="loss", mode="min", n_initial_points=3, random_state_seed=0)
    searcher.set_search_properties(None, None, space)
    for config in _drive(searcher, 20, lambda c: c["k"] + c["q"]):
        assert config["k"] in (5, 10, 15, 20), config
        assert config["q"] in (0.4, 0.8), config
        assert isinstance(config["u"], int) and config["u"] % 3 == 0 and 3 <= config["u"] <= 99
        assert isinstance(config["n"], int) and -3 <= config["n"] <= 2


def test_nested_conditional_space():
    space = {
        "opt": tune.choice(
            [
                {
                    "name": "sgd",
                    "lr": tune.loguniform(1e-4, 1e-1),
                    "momentum": tune.choice([{"nesterov": True, "m": tune.uniform(0.5, 1)}, None]),
                },
                {"name": "adam"},
            ]
        ),
        "model": {"width": tune.randint(1, 5), "depth": 3},
    }
    searcher = HyperOptSearch(metric="loss", mode="min", n_initial_points=3, random_state_seed=2)
    searcher.set_search_properties(None, None, space)

    def loss(config):
        return config["opt"].get("lr", 0.5) + config["model"]["width"]

    for config in _drive(searcher, 15, loss):
        assert config["model"]["depth"] == 3 and 1 <= config["model"]["width"] <= 4
        opt = config["opt"]
        if opt["name"] == "adam":
            assert opt == {"name": "adam"}
        else:
            assert set(opt) == {"name", "lr", "momentum"} and 1e-4 <= opt["lr"] <= 1e-1
            assert opt["momentum"] is None or (
                opt["momentum"]["nesterov"] is True and 0.5 <= opt["momentum"]["m"] <= 1
            )


def test_hyperopt_format_space():
    space = {
        "x": hp.uniform("x", 0, 1),
        "act": hp.choice("act", ["relu", "tanh"]),
        "opt": hp.choice(
            "opt", [{"name": "sgd", "lr": hp.loguniform("lr", -5, 0)}, {"name": "adam"}]
        ),
        "layers": {"n": hp.uniformint("n", 1, 4)},
    }
    searcher = HyperOptSearch(space, metric="loss", mode="min", random_state_seed=0,
                              n_initial_points=3)
    # A searcher with its own space refuses the Tuner's.
    assert searcher.set_search_properties("loss", None, {"y": tune.uniform(0, 1)}) is False
    assert (searcher.metric, searcher.mode) == ("loss", "min")
    with pytest.raises(TuneValueError, match="mode='max'"):
        searcher.set_search_properties("loss", "max", {})
    for config in _drive(searcher, 10, lambda c: c["x"]):
        assert 0 <= config["x"] <= 1 and config["act"] in ("relu", "tanh")
        assert isinstance(config["layers"]["n"], int) and 1 <= config["layers"]["n"] <= 4
        assert config["opt"]["name"] in ("sgd", "adam")
        if config["opt"]["name"] == "sgd":
            assert math.exp(-5) <= config["opt"]["lr"] <= 1


def test_hyperopt_format_space_takes_metric_and_mode_from_tune_config(run_config):
    space = {"x": hp.uniform("x", 0, 1), "y": hp.uniform("y", 0, 1)}

    def objective(config):
        tune.report({"loss": _bowl(config)})

    results = tune.Tuner(
        objective,
        tune_config=tune.TuneConfig(
            search_alg=HyperOptSearch(space, random_state_seed=0), metric="loss", mode="min",
            num_samples=4,
        ),
        run_config=run_config(),
    ).fit()
    assert not results.errors and len(results) == 4


def test_searcher_space_and_param_space_together_are_refused(run_config):
    searcher = HyperOptSearch(SPACE, metric="loss", mode="min")
    with pytest.raises(TuneValueError, match="param_space"):
        tune.Tuner(
            lambda config: None,
            param_space={"z": tune.uniform(0, 1)},
            tune_config=tune.TuneConfig(search_alg=searcher, num_samples=1),
            run_config=run_config(),
        ).fit()


def test_tune_space_given_to_the_constructor():
    searcher = HyperOptSearch(SPACE, metric="loss", mode="min", random_state_seed=0)
    assert searcher.set_search_properties("loss", "min", {}) is False
    config = searcher.suggest("a")
    assert set(config) == {"x", "y"}


def test_unsupported_spaces_are_refused_naming_the_parameter():
    searcher = HyperOptSearch()
    with pytest.raises(TuneValueError, match="'f'"):
        searcher.set_search_properties("l", "min", {"f": tune.sample_from(lambda _: 1)})
    with pytest.raises(TuneValueError, match="no search domains"):
        HyperOptSearch().set_search_properties("l", "min", {"a": 1})
    with pytest.raises(TuneValueError, match="not both"):
        HyperOptSearch({"a": hp.uniform("a", 0, 1), "b": tune.uniform(0, 1)})


# -- points_to_evaluate and evaluated_rewards --------------------------------------------------
def test_points_to_evaluate_with_categories_and_branches():
    space = {
        "v": tune.choice([[1, 2], {"k": "v"}]),
        "opt": tune.choice([{"name": "sgd", "lr": tune.uniform(0, 1)}, {"name": "adam"}]),
        "n": tune.randint(0, 10),
    }
    points = [
        {"v": {"k": "v"}, "opt": {"name": "sgd", "lr": 0.25}, "n": 4},
        {"v": [1, 2], "opt": {"name": "adam"}, "n": 9},
    ]
    searcher = HyperOptSearch(metric="loss", mode="min", points_to_evaluate=points)
    searcher.set_search_properties(None, None, space)
    assert searcher.suggest("a") == points[0]
    assert searcher.suggest("b") == points[1]
    assert isinstance(searcher.suggest("c"), dict)


def test_bad_points_are_refused_up_front():
    with pytest.raises(TuneValueError, match="'n'"):
        HyperOptSearch(SPACE | {"n": tune.randint(0, 3)}, points_to_evaluate=[
            {"x": 0.1, "y": 0.2, "n": 7}
        ])
    with pytest.raises(TuneValueError, match="'y'"):
        HyperOptSearch(SPACE, points_to_evaluate=[{"x": 0.1}])
    with pytest.raises(TuneValueError, match="'c'"):
        HyperOptSearch({"c": tune.choice(["a", "b"])}, points_to_evaluate=[{"c": "z"}])


def test_points_in_a_hyperopt_space_nested_or_by_label():
    space = {
        "x": hp.uniform("x", 0, 1),
        "c": hp.choice("c", ["a", "b"]),
        "opt": hp.choice("opt", [{"name": "sgd", "lr": hp.uniform("lr", 0, 1)}, {"name": "adam"}]),
        "m": {"w": hp.uniformint("w", 1, 4)},
    }
    nested = {"x": 0.5, "c": "b", "opt": {"name": "sgd", "lr": 0.1}, "m": {"w": 2}}
    by_label = {"x": 0.2, "c": "a", "opt": {"name": "adam"}, "w": 3}
    searcher = HyperOptSearch(space, "loss", "min", points_to_evaluate=[nested, by_label])
    assert searcher.suggest("a") == nested
    assert searcher.suggest("b") == {"x": 0.2, "c": "a", "opt": {"name": "adam"}, "m": {"w": 3}}
    with pytest.raises(TuneValueError, match=r"points_to_evaluate\[0\]"):
        HyperOptSearch(space, points_to_evaluate=[{"x": 0.5, "c": "b", "opt": {"name": "sgd"}}])


def test_evaluated_rewards_are_told_to_tpe_not_run():
    points = [{"x": 0.3, "y": 0.7}, {"x": 0.9, "y": 0.1}]
    searcher = HyperOptSearch(
        SPACE, "loss", "max", points_to_evaluate=points, evaluated_rewards=[5.0, 1.0]
    )
    config = searcher.suggest("a")
    assert (config["x"], config["y"]) not in [(0.3, 0.7), (0.9, 0.1)]
    trials = _trials(searcher)
    assert trials.losses()[:2] == [-5.0, -1.0]
    assert trials.statuses()[:2] == ["ok", "ok"]


def test_evaluated_rewards_need_matching_points():
    with pytest.raises(TuneValueError, match="evaluated_rewards"):
        HyperOptSearch(points_to_evaluate=[{"x": 1}], evaluated_rewards=[1.0, 2.0])
    with pytest.raises(TuneTypeError, match="evaluated_rewards"):
        HyperOptSearch(points_to_evaluate=[{"x": 1}], evaluated_rewards=["good"])


def test_add_evaluated_point_and_trials():
    searcher = HyperOptSearch(SPACE, "loss", "min")
    searcher.add_evaluated_point({"x": 0.1, "y": 0.2}, 0.5)
    searcher.add_evaluated_point({"x": 0.2, "y": 0.2}, 0.7, error=True)
    searcher.add_evaluated_point({"x": 0.3, "y": 0.2}, 0.9, pruned=True)
    trials = _trials(searcher)
    assert trials.losses() == [0.5, 0.9]  # the errored one is left out of TPE's trials
    assert searcher.suggest("a") is not None


# -- errored and early-stopped trials ---------------------------------------------------------
def test_errored_and_metricless_trials_are_left_out_and_early_stopped_count():
    searcher = HyperOptSearch(SPACE, "loss", "min", random_state_seed=0)
    for name in "abcd":
        searcher.suggest(name)
    searcher.on_trial_complete("a", error=True)
    searcher.on_trial_complete("b", {"loss": 0.25, "training_iteration": 1})  # early-stopped
    searcher.on_trial_complete("c", {"other": 1.0})
    searcher.on_trial_complete("d", {"loss": float("nan")})
    trials = _trials(searcher)
    assert trials.losses() == [0.25]
    assert trials.statuses() == ["ok"]
    errored = [d for d in trials._dynamic_trials if d["state"] == hyperopt.JOB_STATE_ERROR]
    assert len(errored) == 3 and all(d["result"]["status"] == "fail" for d in errored)
    searcher.on_trial_complete("a", {"loss": 1.0})  # not live any more: ignored
    assert trials.losses() == [0.25]


# -- state ------------------------------------------------------------------------------------
def test_state_round_trip_continues_the_same_sequence(tmp_path):
    def run(searcher, names):
        out = []
        for name in names:
            config = searcher.suggest(name)
            out.append(config)
            searcher.on_trial_complete(name, {"loss": _bowl(config)})
        return out

    original = HyperOptSearch(metric="loss", mode="min", n_initial_points=3, random_state_seed=5,
                              points_to_evaluate=[{"x": 0.5, "y": 0.5}] * 3)
    original.set_search_properties(None, None, SPACE)
    run(original, ["a", "b"])
    pending = original.suggest("live")
    path = str(tmp_path / "searcher.pkl")
    original.save(path)

    restored = HyperOptSearch()
    restored.restore(path)
    assert restored.set_search_properties("loss", "min", SPACE) is False
    for searcher in (original, restored):
        searcher.on_trial_complete("live", {"loss": _bowl(pending)})
    assert run(original, list("cdefg")) == run(restored, list("cdefg"))


def test_state_before_the_first_suggestion_keeps_the_points():
    searcher = HyperOptSearch(SPACE, points_to_evaluate=[{"x": 0.1, "y": 0.2}])
    fresh = HyperOptSearch()
    fresh.set_state(searcher.get_state())
    fresh.set_search_properties("loss", "min", {})
    assert fresh.suggest("a") == {"x": 0.1, "y": 0.2}


# -- arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_initial_points": -1}, "n_initial_points"),
        ({"n_initial_points": 2.5}, "n_initial_points"),
        ({"gamma": 0}, "gamma"),
        ({"gamma": "0.3"}, "gamma"),
        ({"random_state_seed": -4}, "random_state_seed"),
        ({"random_state_seed": "x"}, "random_state_seed"),
        ({"mode": "maximize"}, "mode"),
        ({"metric": ["a", "b"], "mode": ["min", "max"]}, "metric"),
        ({"points_to_evaluate": {"x": 1}}, "points_to_evaluate"),
        ({"space": [1, 2]}, "space"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises((TuneValueError, TuneTypeError), match=match):
        HyperOptSearch(**kwargs)


def test_suggest_without_space_or_metric_explains():
    with pytest.raises(TuneError, match="no search space"):
        HyperOptSearch().suggest("a")
    searcher = HyperOptSearch(SPACE)
    with pytest.raises(TuneValueError, match="metric and a mode"):
        searcher.suggest("a")


def test_missing_hyperopt_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "hyperopt", None)
    monkeypatch.delitem(sys.modules, "tune_search.hyperopt_search")
    with pytest.raises(ImportError, match=r"pip install 'tune-search\[hyperopt\]'"):
        importlib.import_module("tune_search.hyperopt_search")
