"""The TUNE_* environment variables: each is documented, and each changes what a run does."""

from __future__ import annotations

import csv
import logging
import os
import pathlib

import pytest

import tune
from tune.env import ENV_VARS

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "env.md"


def test_every_variable_is_documented():
    text = DOCS.read_text()
    for name in ENV_VARS:
        assert f"`{name}`" in text, name
    import sys

    sys.path.insert(0, str(DOCS.parents[1] / "tools"))
    from gen_env_docs import render

    assert text == render(), "docs/env.md is stale: run python tools/gen_env_docs.py"


def test_chdir_to_trial_dir(tmp_path, monkeypatch):
    def where(config):
        tune.report({"cwd": os.getcwd()})

    rc = tune.RunConfig(storage_path=str(tmp_path), verbose=0)
    r = tune.Tuner(where, run_config=rc).fit()[0]
    assert os.path.realpath(r.metrics["cwd"]) == os.path.realpath(r.path)
    monkeypatch.setenv("TUNE_CHDIR_TO_TRIAL_DIR", "0")
    r = tune.Tuner(where, run_config=rc).fit()[0]
    assert os.path.realpath(r.metrics["cwd"]) == os.path.realpath(os.getcwd())


def nested(config):
    tune.report({"loss": 1.0, "inner": {"a": 1, "b": 2}})


def test_result_delimiter_in_progress_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNE_RESULT_DELIM", ".")
    r = tune.Tuner(nested, run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0)).fit()[0]
    with open(os.path.join(r.path, "progress.csv")) as f:
        header = next(csv.reader(f))
    assert "inner.a" in header and "inner.b" in header


def test_print_all_trial_errors(tmp_path, monkeypatch, capfd):
    def bad(config):
        raise RuntimeError("visible failure")

    rc = tune.RunConfig(storage_path=str(tmp_path), verbose=0)
    tune.Tuner(bad, run_config=rc).fit()
    assert "visible failure" in capfd.readouterr().err
    monkeypatch.setenv("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")
    tune.Tuner(bad, run_config=rc).fit()
    assert "visible failure" not in capfd.readouterr().err


def test_warn_threshold_logs_slow_steps(tmp_path, monkeypatch, caplog):
    class Slow(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            import time

            time.sleep(0.05)

    monkeypatch.setenv("TUNE_WARN_THRESHOLD_S", "0.01")
    with caplog.at_level(logging.WARNING, logger="tune"):
        tune.Tuner(
            nested, run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, callbacks=[Slow()])
        ).fit()
    assert any("TUNE_WARN_THRESHOLD_S" in r.getMessage() for r in caplog.records)


def test_insufficient_resource_warning(tmp_path, monkeypatch, caplog):
    """A scheduler that holds every trial back for a while starves the experiment."""
    import time

    from tune.schedulers import FIFOScheduler

    class Hesitant(FIFOScheduler):
        def __init__(self):
            super().__init__()
            self.first = time.monotonic()

        def choose_trial_to_run(self, trials):
            if time.monotonic() - self.first < 0.4:
                return None
            return super().choose_trial_to_run(trials)

    monkeypatch.setenv("TUNE_WARN_INSUFFICENT_RESOURCE_THRESHOLD_S", "0.1")
    with caplog.at_level(logging.WARNING, logger="tune"):
        results = tune.Tuner(
            nested,
            tune_config=tune.TuneConfig(scheduler=Hesitant()),
            run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
        ).fit()
    assert results.num_terminated == 1
    assert any("none has been running" in r.getMessage() for r in caplog.records)


def test_max_pending_trials(tmp_path, monkeypatch):
    seen = []

    class Watch(tune.Callback):
        def on_step_end(self, iteration, trials, **info):
            seen.append(len(trials))

    monkeypatch.setenv("TUNE_MAX_PENDING_TRIALS_PG", "1")
    tune.Tuner(
        nested,
        tune_config=tune.TuneConfig(num_samples=6, max_concurrent_trials=1),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, callbacks=[Watch()]),
    ).fit()
    # with one pending trial at a time the trial list grows one by one
    assert seen[0] <= 2


def test_bad_numeric_variable_names_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNE_MAX_LEN_IDENTIFIER", "lots")
    with pytest.raises(ValueError, match="TUNE_MAX_LEN_IDENTIFIER"):
        tune.Tuner(nested, run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0)).fit()


def test_results_dir_default_storage(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNE_RESULTS_DIR", str(tmp_path / "here"))
    r = tune.Tuner(nested, run_config=tune.RunConfig(name="exp", verbose=0)).fit()
    assert r.experiment_path == str(tmp_path / "here" / "exp")
