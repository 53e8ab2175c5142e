"""Plugins make a logger a default one when its library is installed (``default_when``)."""

from __future__ import annotations

import os

import pytest

import tune
import tune.plugins as plugins
from tune.errors import TuneValueError
from tune.logger import LoggerCallback
from tune.plugins import Registry


class MarkerLogger(LoggerCallback):
    """Writes a marker file into each trial dir: proof it was one of the experiment's loggers."""

    def log_trial_start(self, trial):
        open(os.path.join(trial.path, "marker.txt"), "w").close()


def objective(config):
    tune.report({"loss": 1.0})


@pytest.fixture
def registry(monkeypatch):
    """The process-wide registry with two extra loggers, for this test only."""
    reg = plugins.get_registry()
    scratch = Registry()
    scratch.add_logger("marker", f"{__name__}:MarkerLogger", default_when="json")
    scratch.add_logger(
        "absent", f"{__name__}:MarkerLogger", default_when="tune_no_such_module_xyz"
    )
    for entry in scratch.entries("logger"):
        monkeypatch.setitem(reg._entries["logger"], entry.name, entry)
    return reg


def test_default_loggers_are_those_whose_module_is_installed(registry):
    names = [e.name for e in registry.default_loggers()]
    assert "marker" in names and "absent" not in names


def test_an_installed_default_logger_runs_in_every_experiment(registry, tmp_path):
    results = tune.Tuner(
        objective, run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0)
    ).fit()
    assert os.path.exists(os.path.join(results[0].path, "marker.txt"))


def test_not_added_twice_nor_when_auto_loggers_are_off(registry, tmp_path, monkeypatch):
    mine = MarkerLogger()
    results = tune.Tuner(
        objective,
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, callbacks=[mine]),
    ).fit()
    assert os.path.exists(os.path.join(results[0].path, "marker.txt"))
    monkeypatch.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    results = tune.Tuner(
        objective, run_config=tune.RunConfig(storage_path=str(tmp_path / "off"), verbose=0)
    ).fit()
    assert not os.path.exists(os.path.join(results[0].path, "marker.txt"))


def test_default_when_is_for_loggers_only():
    with pytest.raises(TuneValueError, match="default_when"):
        Registry().add_searcher("x", "json:dumps", default_when="json")
