"""Callbacks run in the order of RunConfig(callbacks=[...]), as in Ray Tune."""

from __future__ import annotations

import tune


def objective(config):
    tune.report({"loss": 1.0})


class Recorder(tune.Callback):
    def __init__(self, name: str, log: list) -> None:
        self.name, self.log = name, log

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.log.append(self.name)


def test_user_callbacks_run_in_list_order(tmp_path):
    log: list = []
    tune.Tuner(
        objective,
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            callbacks=[Recorder("a", log), Recorder("b", log), Recorder("c", log)],
        ),
    ).fit()
    assert log == ["a", "b", "c"]
