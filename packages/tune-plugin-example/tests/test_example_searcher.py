"""GridWalkSearch: the walk's order, learning from results, waiting, finishing, state."""

from __future__ import annotations

import math
import pickle

import pytest

import tune
from tune.errors import TuneValueError
from tune.search.searcher import Searcher
from tune_plugin_example.searcher import GridWalkSearch


def loss(config: dict) -> float:
    return (config["x"] - 7.5) ** 2 + abs(config["n"]["y"] - 3) + (config["opt"] != "b")


SPACE = {
    "x": tune.uniform(0, 10),
    "n": {"y": tune.randint(0, 5)},
    "opt": tune.choice(["a", "b", "c"]),
    "const": 1,
}


def walk(searcher: Searcher, objective=loss, limit: int = 100) -> list[dict]:
    """Run trials one at a time until FINISHED; return the configs in order."""
    configs = []
    for i in range(limit):
        config = searcher.suggest(f"t{i}")
        if config == Searcher.FINISHED:
            return configs
        assert config is not None
        configs.append(config)
        searcher.on_trial_complete(f"t{i}", {"loss": objective(config)})
    raise AssertionError("the walk did not finish")


def test_walks_one_parameter_at_a_time_and_keeps_the_best() -> None:
    searcher = GridWalkSearch(steps=5)
    assert searcher.set_search_properties("loss", "min", SPACE, num_samples=10)
    configs = walk(searcher)
    # x: 0, 2.5, 5, 7.5, 10 (others at their middle values); y: 0..4 minus the known one;
    # opt: a, b, c minus the known one.
    assert [c["x"] for c in configs[:5]] == [0.0, 2.5, 5.0, 7.5, 10.0]
    assert all(c["n"]["y"] == 2 and c["opt"] == "b" for c in configs[:5])
    assert all(c["x"] == 7.5 for c in configs[5:])
    assert [c["n"]["y"] for c in configs[5:9]] == [0, 1, 3, 4]
    assert [c["opt"] for c in configs[9:]] == ["a", "c"]
    assert all(c["const"] == 1 for c in configs)
    assert searcher.best_config == {"x": 7.5, "n": {"y": 3}, "opt": "b", "const": 1}


def test_max_mode() -> None:
    searcher = GridWalkSearch(space={"x": tune.uniform(0, 10)}, metric="loss", mode="max")
    configs = walk(searcher, objective=lambda c: c["x"])
    assert [c["x"] for c in configs] == [0.0, 5.0, 10.0]
    assert searcher.best_config == {"x": 10.0}


def test_waits_for_running_trials_before_the_next_parameter() -> None:
    searcher = GridWalkSearch(space={"a": tune.choice([1, 2]), "b": tune.choice([3, 4])},
                              metric="loss", mode="min")
    first = searcher.suggest("t1")
    second = searcher.suggest("t2")
    assert {first["a"], second["a"]} == {1, 2}
    assert searcher.suggest("t3") is None  # the next parameter needs both results
    searcher.on_trial_complete("t1", {"loss": 5.0})
    assert searcher.suggest("t3") is None
    searcher.on_trial_complete("t2", {"loss": 1.0})
    third = searcher.suggest("t3")
    assert third["a"] == 2


def test_errored_trials_are_not_counted() -> None:
    searcher = GridWalkSearch(space={"a": tune.choice([1, 2, 3])}, metric="loss", mode="min")
    for i in range(3):
        searcher.suggest(f"t{i}")
    searcher.on_trial_complete("t0", {"loss": 0.0}, error=True)
    searcher.on_trial_complete("t1", {"loss": 2.0})
    searcher.on_trial_complete("t2", None)
    assert searcher.suggest("t3") == Searcher.FINISHED
    assert searcher.best_config == {"a": 2}


def test_log_quantized_and_grid_domains() -> None:
    space = {
        "lr": tune.loguniform(1e-4, 1e-0),
        "q": tune.quniform(0, 1, 0.25),
        "g": tune.grid_search([10, 20]),
        "k": tune.lograndint(1, 101),
    }
    searcher = GridWalkSearch(space=space, metric="loss", mode="min", steps=3)
    configs = walk(searcher, objective=lambda c: 0.0)
    lrs = [c["lr"] for c in configs[:3]]
    assert [round(math.log10(v)) for v in lrs] == [-4, -2, 0]
    assert {c["q"] for c in configs} <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert {c["g"] for c in configs} == {10, 20}
    assert {c["k"] for c in configs} == {1, 10, 100}


def test_constants_only_runs_one_trial() -> None:
    searcher = GridWalkSearch(space={"a": 1, "b": {"c": "x"}}, metric="loss", mode="min")
    assert walk(searcher, objective=lambda c: 0.0) == [{"a": 1, "b": {"c": "x"}}]


def test_space_given_to_constructor_wins() -> None:
    searcher = GridWalkSearch(space={"a": tune.choice([1])}, metric="m", mode="max")
    assert searcher.set_search_properties("loss", "min", SPACE) is False
    assert searcher.suggest("t") == {"a": 1}


def test_state_round_trip_mid_walk(tmp_path) -> None:
    searcher = GridWalkSearch(steps=3)
    searcher.set_search_properties("loss", "min", SPACE)
    done = []
    for i in range(4):
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"loss": loss(config)})
        done.append(config)
    running = searcher.suggest("t4")  # in flight when the state is saved

    path = tmp_path / "searcher.pkl"
    searcher.save(str(path))
    restored = GridWalkSearch()
    restored.restore(str(path))
    # The trial that was running is suggested again after a restore.
    assert restored.suggest("t4-again") == running
    state = pickle.loads(pickle.dumps(restored.get_state()))
    again = GridWalkSearch()
    again.set_state(state)
    assert again.best_config == restored.best_config


def test_bad_arguments() -> None:
    with pytest.raises(TuneValueError, match="steps"):
        GridWalkSearch(steps=1)
    with pytest.raises(TuneValueError, match="mode"):
        GridWalkSearch(mode="best")
    searcher = GridWalkSearch(metric="loss", mode="min")
    with pytest.raises(TuneValueError, match="param_space\\['f'\\]"):
        searcher.set_search_properties(None, None, {"f": tune.sample_from(lambda _: 1)})
    with pytest.raises(TuneValueError, match="param_space\\['n'\\]"):
        GridWalkSearch(space={"n": tune.randn(0, 1)})


def test_needs_metric_and_space() -> None:
    with pytest.raises(RuntimeError, match="search space"):
        GridWalkSearch(metric="loss", mode="min").suggest("t")
    with pytest.raises(RuntimeError, match="metric"):
        GridWalkSearch(space={"a": 1}).suggest("t")
