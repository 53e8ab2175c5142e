"""Integration: the installed tune-plugin-example distribution, found through its entry point,
drives a real Tuner run by name (searcher, scheduler and callback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import tune
from tune.plugins import create_callback, get_registry

pytest.importorskip(
    "tune_plugin_example", reason="pip install -e packages/tune-plugin-example (nox/CI do)"
)


def objective(config):
    for step in range(1, 6):
        tune.report({"loss": (config["x"] - 3) ** 2 + config["y"] + 1.0 / step})


def test_found_through_entry_point() -> None:
    registry = get_registry()
    (plugin,) = [p for p in registry.plugins if p.name == "example"]
    assert (plugin.status, plugin.distribution) == ("loaded", "tune-plugin-example")
    for kind, name in (
        ("searcher", "example_grid_walk"),
        ("scheduler", "example_threshold"),
        ("callback", "example_counter"),
    ):
        assert registry.get_entry(kind, name).plugin is plugin
        assert isinstance(registry.resolve(kind, name), type)


def test_class_names_served_by_core_modules() -> None:
    from tune.schedulers import ThresholdScheduler  # served by the registry, by class name
    from tune_plugin_example.scheduler import ThresholdScheduler as Direct

    assert ThresholdScheduler is Direct


def test_listed_by_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tune.cli", "plugins"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "example (tune-plugin-example" in proc.stdout
    assert "example_grid_walk" in proc.stdout
    assert "-> tune_plugin_example.scheduler:ThresholdScheduler  [ok]" in proc.stdout


def test_real_run_by_name(tmp_path) -> None:
    searcher = tune.create_searcher("example_grid_walk", steps=3)
    scheduler = tune.create_scheduler("example_threshold", threshold=10.0, grace_period=2)
    counter = create_callback("example_counter")
    results = tune.Tuner(
        objective,
        param_space={"x": tune.uniform(0, 6), "y": tune.choice([0, 1])},
        tune_config=tune.TuneConfig(
            search_alg=searcher, scheduler=scheduler, metric="loss", mode="min", num_samples=10
        ),
        run_config=tune.RunConfig(name="example", storage_path=str(tmp_path), callbacks=[counter]),
    ).fit()

    # The walk: x over 0, 3, 6 with y at its middle value 1, then y=0 at the best x.
    configs = sorted((r.config["x"], r.config["y"]) for r in results)
    assert configs == [(0.0, 1), (3.0, 0), (3.0, 1), (6.0, 1)]
    iterations = {
        (r.config["x"], r.config["y"]): r.metrics["training_iteration"] for r in results
    }
    # x=0 and x=6 have loss 10.5 > 10 at iteration 2: the threshold scheduler stops them.
    assert iterations == {(0.0, 1): 2, (6.0, 1): 2, (3.0, 1): 5, (3.0, 0): 5}
    assert results.get_best_result().config == {"x": 3.0, "y": 0}

    summary_path = os.path.join(str(tmp_path), "example", "example_counter.json")
    with open(summary_path) as f:
        summary = json.load(f)
    assert summary["num_trials"] == 4
    assert summary["num_results"] == 14
    assert sorted(summary["results_per_trial"].values()) == [2, 2, 5, 5]
    assert set(summary["status_per_trial"].values()) == {"TERMINATED"}
