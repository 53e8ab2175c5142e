"""TuneBOHB (hpbandster's BOHB config generator on ConfigSpace): conformance with the default
FIFO scheduler, its own ConfigSpace spaces, budgets, pause/resume, errors and state.

The runs with ``HyperBandForBOHB`` live in the root ``tests/test_bohb_with_hyperband.py``
(they need tune-schedulers, which this distribution's tests must not)."""

from __future__ import annotations

import importlib
import math
import pickle
import sys

import pytest

pytest.importorskip("hpbandster")
ConfigSpace = pytest.importorskip("ConfigSpace")

import numpy as np  # noqa: E402

import tune  # noqa: E402
from tune.errors import TuneError, TuneTypeError, TuneValueError  # noqa: E402
from tune.testing.searcher_conformance import SearcherConformance  # noqa: E402
from tune_search.bohb_search import TuneBOHB  # noqa: E402

# The library's noise that the adapter silences at import (pytest resets warning filters
# per test): hpbandster calls ConfigSpace 1.x's deprecated methods, statsmodels warns about
# a future default RNG that BOHB's bandwidths never use.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:hpbandster"),
    pytest.mark.filterwarnings("ignore:After 0.17 or January 2028:FutureWarning"),
]


class TestTuneBOHBConformance(SearcherConformance):
    registered_name = "bohb"

    def make_searcher(self, **kwargs):
        return TuneBOHB(seed=7, **kwargs)


SPACE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)}


def _configured(space=SPACE, metric="loss", mode="min", **kwargs):
    searcher = TuneBOHB(seed=3, **kwargs)
    assert searcher.set_search_properties(metric, mode, space) is True
    return searcher


def _drive(searcher, n, start=0, iteration=1):
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i}")
        configs.append(config)
        loss = (config["x"] - 0.3) ** 2 + (config["y"] - 0.3) ** 2
        searcher.on_trial_complete(f"t{i}", {"loss": loss, "training_iteration": iteration})
    return configs


def test_seeded_searches_repeat_and_leave_numpy_global_rng_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = _drive(_configured(), 20)  # past min_points_in_model: model-based picks too
    second = _drive(_configured(), 20)
    assert first == second
    assert (np.random.get_state()[1] == before).all()


def test_model_is_fitted_per_budget_and_used():
    searcher = _configured()
    _drive(searcher, 12, iteration=1)
    generator = searcher._generator
    assert set(generator.configs) == {1} and len(generator.configs[1]) == 12
    assert 1 in generator.kde_models  # 2 parameters: a model from 2 * 3 points on
    picks = []
    for i in range(12, 30):
        config = searcher.suggest(f"t{i}")
        picks.append((config["x"] - 0.3) ** 2 + (config["y"] - 0.3) ** 2)
        searcher.on_trial_complete(f"t{i}", {"loss": picks[-1], "training_iteration": 1})
    # A model of a bowl proposes points nearer its bottom than uniform sampling (mean 1/6).
    assert sorted(picks)[len(picks) // 2] < 0.1


def test_results_are_fed_at_the_budgets_trials_pause_or_end_at():
    searcher = _configured()
    a, b = searcher.suggest("a"), searcher.suggest("b")
    searcher.on_trial_result("a", {"loss": a["x"] + 1, "training_iteration": 1})
    searcher.on_pause("a")  # a HyperBand rung at budget 1
    searcher.on_unpause("a")
    for it in (2, 3):
        searcher.on_trial_result("a", {"loss": a["x"] + it, "training_iteration": it})
    searcher.on_pause("a")  # the next rung, at budget 3
    searcher.on_trial_complete("a", {"loss": a["x"] + 3, "training_iteration": 3})
    # b passes the known rungs without pausing (a bracket's last arrival goes straight on)
    for it in (1, 2, 3, 4):
        searcher.on_trial_result("b", {"loss": b["x"] + it, "training_iteration": it})
    searcher.on_trial_result("b", {"loss": 9.0, "training_iteration": 3})  # repeated: not fed
    searcher.on_trial_complete("b", {"loss": b["x"] + 4, "training_iteration": 4})
    losses = searcher._generator.losses
    assert losses == {
        1: [pytest.approx(a["x"] + 1), pytest.approx(b["x"] + 1)],
        3: [pytest.approx(a["x"] + 3), pytest.approx(b["x"] + 3)],
        4: [pytest.approx(b["x"] + 4)],
    }
    assert searcher._budgets == {1, 3, 4}


def test_max_mode_negates_and_nan_counts_as_inf():
    searcher = _configured(mode="max")
    searcher.suggest("a")
    searcher.on_trial_complete("a", {"loss": 2.5, "training_iteration": 1})
    searcher.suggest("b")
    searcher.on_trial_complete("b", {"loss": float("nan"), "training_iteration": 1})
    searcher.suggest("c")
    searcher.on_trial_complete("c", {"other": 1.0, "training_iteration": 1})  # no metric
    assert searcher._generator.losses[1] == [-2.5, math.inf]


def test_errored_trial_is_a_crashed_run_at_the_budget_it_ran_to():
    searcher = _configured()
    searcher.suggest("a")
    searcher.on_trial_result("a", {"loss": 0.5, "training_iteration": 1})
    searcher.on_pause("a")
    searcher.on_unpause("a")
    searcher.on_trial_complete("a", {"loss": 0.5, "training_iteration": 1}, error=True)
    searcher.suggest("b")
    searcher.on_trial_complete("b", None, error=True)  # failed before reporting
    losses = searcher._generator.losses
    # a failed after budget 1 (no known budget above it: the iteration it failed in);
    # b failed on its way to the known budget 1.
    assert losses == {1: [0.5, math.inf], 2: [math.inf]}
    assert not searcher.running and not searcher._trial_params and not searcher._latest


def test_paused_trials_free_their_concurrency_slot():
    searcher = _configured(max_concurrent=1)
    assert isinstance(searcher.suggest("a"), dict)
    assert searcher.suggest("b") is None
    searcher.on_trial_result("a", {"loss": 0.1, "training_iteration": 1})
    searcher.on_pause("a")
    assert searcher.paused == {"a"}
    assert isinstance(searcher.suggest("b"), dict)
    searcher.on_pause("b")
    searcher.on_unpause("a")
    assert searcher.running == {"a"} and searcher.suggest("c") is None
    searcher.on_pause("unknown")  # e.g. a Repeater's copy: not this searcher's trial
    assert searcher.paused == {"b"}
    searcher.on_trial_complete("b", {"loss": 0.2, "training_iteration": 1})
    assert searcher.paused == set()


def test_set_max_concurrency_limits_itself():
    searcher = _configured()
    assert searcher.set_max_concurrency(2) is True
    assert isinstance(searcher.suggest("a"), dict) and isinstance(searcher.suggest("b"), dict)
    assert searcher.suggest("c") is None


def test_configspace_space_nests_names_and_gives_python_values(tmp_path):
    cs = ConfigSpace.ConfigurationSpace()
    cs.add(ConfigSpace.UniformFloatHyperparameter("x", 0.0, 1.0))
    cs.add(ConfigSpace.UniformFloatHyperparameter("y", 0.0, 1.0))
    cs.add(ConfigSpace.UniformIntegerHyperparameter("model/width", 1, 8, log=True))
    cs.add(ConfigSpace.CategoricalHyperparameter("model/act", ["relu", "tanh"]))
    searcher = TuneBOHB(
        cs, seed=1, points_to_evaluate=[{"x": 0.3, "y": 0.3, "model": {"width": 2, "act": "tanh"}}]
    )
    # Its own space: the Tuner's param_space must not define one, metric/mode are taken.
    assert searcher.set_search_properties("loss", "min", {}) is False
    assert (searcher.metric, searcher.mode) == ("loss", "min")
    first = searcher.suggest("p")
    assert first == {"x": 0.3, "y": 0.3, "model": {"width": 2, "act": "tanh"}}
    for i in range(12):
        config = searcher.suggest(f"t{i}")
        assert type(config["model"]["width"]) is int and type(config["model"]["act"]) is str
        assert type(config["x"]) is float
        searcher.on_trial_complete(f"t{i}", {"loss": config["x"], "training_iteration": 1})
    assert cs.random is not searcher._configspace.random  # the user's space is not seeded

    results = tune.Tuner(
        lambda c: tune.report({"loss": (c["x"] - 0.3) ** 2 + c["model"]["width"]}),
        tune_config=tune.TuneConfig(
            search_alg=TuneBOHB(cs, seed=2), metric="loss", mode="min", num_samples=4
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert not results.errors and len(results) == 4


def test_tune_space_in_the_constructor_and_param_space_refused(tmp_path):
    searcher = TuneBOHB(SPACE, metric="loss", mode="min", seed=0)
    assert searcher.set_search_properties("loss", "min", SPACE) is False
    with pytest.raises(TuneValueError, match="own search space"):
        tune.Tuner(
            lambda c: tune.report({"loss": c["x"]}),
            param_space=SPACE,
            tune_config=tune.TuneConfig(search_alg=TuneBOHB(SPACE), metric="loss", mode="min"),
            run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
        ).fit()


def test_parameters_with_one_value_stay_out_of_the_model():
    space = {
        "x": tune.uniform(0, 1),
        "y": tune.uniform(0, 1),
        "c": tune.choice(["only"]),
        "n": tune.randint(4, 5),
    }
    searcher = _configured(space)
    assert list(searcher._configspace.keys()) == ["x", "y"]
    for config in _drive(searcher, 8):
        assert (config["c"], config["n"]) == ("only", 4)
        assert type(config["n"]) is int


def test_space_of_constants_only():
    searcher = _configured({"a": 1, "b": {"c": "d"}})
    for i in range(3):
        assert searcher.suggest(f"t{i}") == {"a": 1, "b": {"c": "d"}}
        searcher.on_trial_complete(f"t{i}", {"loss": 1.0, "training_iteration": 1})


def test_metric_from_mode_only_and_missing_metric_mode():
    searcher = TuneBOHB(SPACE, mode="max")
    assert isinstance(searcher.suggest("a"), dict) and searcher.metric == "_metric"
    with pytest.raises(TuneError, match="no metric and mode"):
        TuneBOHB(SPACE).suggest("a")
    with pytest.raises(TuneError, match="no search space"):
        TuneBOHB(metric="loss", mode="min").suggest("a")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"bohb_config": {"top_n": 10}}, TuneValueError, r"bohb_config.*unknown key 'top_n'"),
        ({"bohb_config": {"num_samples": 0}}, TuneValueError, r"num_samples.*integer >= 1"),
        ({"bohb_config": {"random_fraction": 2}}, TuneValueError, "between 0 and 1"),
        ({"bohb_config": [1]}, TuneTypeError, "bohb_config"),
        ({"space": [1, 2]}, TuneTypeError, "space"),
        ({"seed": "1"}, TuneTypeError, "seed"),
        ({"max_concurrent": 1.5}, TuneTypeError, "max_concurrent"),
        ({"metric": ["a", "b"], "mode": ["min", "max"]}, TuneTypeError, "single metric"),
        ({"mode": "best"}, TuneValueError, "mode"),
        ({"points_to_evaluate": {"x": 1}}, TuneTypeError, "points_to_evaluate"),
        (
            {"space": SPACE, "points_to_evaluate": [{"x": 2.0, "y": 0.1}]},
            TuneValueError,
            "points_to_evaluate",
        ),
        ({"space": {"q": tune.quniform(0, 1, 0.25)}}, TuneValueError, r"'q'.*quantized"),
        ({"space": {"z": tune.randn()}}, TuneValueError, r"'z'.*normal"),
    ],
)
def test_bad_arguments_are_refused_up_front(kwargs, error, match):
    with pytest.raises(error, match=match):
        TuneBOHB(**kwargs)


def test_ordinal_configspace_is_refused():
    cs = ConfigSpace.ConfigurationSpace()
    cs.add(ConfigSpace.OrdinalHyperparameter("size", ["s", "m", "l"]))
    with pytest.raises(TuneValueError, match="'size' is ordinal"):
        TuneBOHB(cs)


def test_bohb_config_reaches_the_generator():
    searcher = TuneBOHB(
        SPACE, bohb_config={"min_points_in_model": 5, "num_samples": 16, "random_fraction": 0.0}
    )
    generator = searcher._generator
    assert (generator.min_points_in_model, generator.num_samples) == (5, 16)
    assert generator.random_fraction == 0.0


def test_state_round_trip_mid_search_continues_identically(tmp_path):
    searcher = _configured(points_to_evaluate=[{"x": 0.1, "y": 0.2}, {"x": 0.5, "y": 0.5}])
    assert searcher.suggest("p0") == {"x": 0.1, "y": 0.2}
    searcher.on_pause("p0")
    _drive(searcher, 10)
    path = str(tmp_path / "bohb.pkl")
    searcher.save(path)
    restored = TuneBOHB()
    restored.restore(path)
    assert restored.paused == {"p0"} and restored._points == searcher._points
    assert _drive(restored, 8, start=10) == _drive(searcher, 8, start=10)
    pickle.loads(pickle.dumps(restored.get_state()))


def test_missing_library_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "hpbandster" or m.startswith("hpbandster.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "tune_search.bohb_search", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'tune-search\[bohb\]'"):
        importlib.import_module("tune_search.bohb_search")


def test_missing_configspace_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "ConfigSpace" or m.startswith("ConfigSpace.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "tune_search.bohb_search", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'tune-search\[bohb\]'"):
        importlib.import_module("tune_search.bohb_search")
