"""The distribution's entry point registers its three names; they resolve and create objects."""

from __future__ import annotations

import subprocess
import sys

import tune
from tune.plugins import create_callback, get_registry
from tune_plugin_example.callback import CounterCallback
from tune_plugin_example.scheduler import ThresholdScheduler
from tune_plugin_example.searcher import GridWalkSearch


def test_entry_point_registers_names() -> None:
    registry = get_registry()
    (plugin,) = [p for p in registry.plugins if p.name == "example"]
    assert plugin.status == "loaded"
    assert plugin.distribution == "tune-plugin-example"
    entry = registry.get_entry("searcher", "example_grid_walk")
    assert entry.plugin is plugin
    assert registry.resolve("searcher", "example_grid_walk") is GridWalkSearch
    assert registry.resolve("scheduler", "example_threshold") is ThresholdScheduler
    assert registry.resolve("callback", "example_counter") is CounterCallback
    assert registry.resolve_class("scheduler", "ThresholdScheduler") is ThresholdScheduler


def test_create_by_name() -> None:
    searcher = tune.create_searcher("example_grid_walk", steps=4)
    assert isinstance(searcher, GridWalkSearch)
    scheduler = tune.create_scheduler("example_threshold", threshold=2.0, grace_period=2)
    assert isinstance(scheduler, ThresholdScheduler)
    assert isinstance(create_callback("example_counter"), CounterCallback)


def test_registration_imports_nothing_heavy() -> None:
    code = (
        "import sys, tune.plugins as p; p.get_registry(); "
        "print(any(m.startswith('tune_plugin_example.') and m != 'tune_plugin_example.plugin' "
        "for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_disabled_by_name() -> None:
    import os

    env = dict(os.environ, TUNE_DISABLED_PLUGINS="example")
    code = "import tune.plugins as p; print(p.get_registry().names('searcher'))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert "example_grid_walk" not in out.stdout
