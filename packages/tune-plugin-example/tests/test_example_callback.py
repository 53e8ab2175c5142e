"""CounterCallback: counts results per trial and writes a summary at experiment end."""

from __future__ import annotations

import json

from tune.trial import Trial
from tune_plugin_example.callback import DEFAULT_FILENAME, CounterCallback


def test_counts_and_writes_summary_to_experiment_dir(tmp_path) -> None:
    trials = [
        Trial("a", {}, path=str(tmp_path / "exp" / "trial_a"), experiment_path=str(tmp_path / "exp")),
        Trial("b", {}, path=str(tmp_path / "exp" / "trial_b"), experiment_path=str(tmp_path / "exp")),
    ]
    callback = CounterCallback()
    for trial in trials:
        callback.on_trial_start(iteration=0, trials=trials, trial=trial)
    for i in range(3):
        callback.on_trial_result(iteration=i, trials=trials, trial=trials[0], result={})
    callback.on_trial_result(iteration=4, trials=trials, trial=trials[1], result={})
    trials[0].status = Trial.TERMINATED
    trials[1].status = Trial.ERROR
    callback.on_experiment_end(trials=trials)

    summary_path = tmp_path / "exp" / DEFAULT_FILENAME
    assert callback.written_to == str(summary_path)
    summary = json.loads(summary_path.read_text())
    assert summary["num_trials"] == 2
    assert summary["num_results"] == 4
    assert summary["results_per_trial"] == {"a": 3, "b": 1}
    assert summary["status_per_trial"] == {"a": "TERMINATED", "b": "ERROR"}
    assert summary["started"] == ["a", "b"]


def test_explicit_path_and_hooks(tmp_path) -> None:
    from tune.plugins import get_plugin_manager

    target = tmp_path / "sub" / "count.json"
    callback = CounterCallback(summary_path=target)
    pm = get_plugin_manager()
    pm.register(callback)
    trial = Trial("t", {})
    pm.hook.tune_on_trial_result(iteration=1, trials=[trial], trial=trial, result={"x": 1})
    pm.hook.tune_on_experiment_end(trials=[trial])
    assert json.loads(target.read_text())["num_results"] == 1


def test_no_directory_no_file() -> None:
    callback = CounterCallback()
    callback.on_experiment_end(trials=[Trial("t", {})])
    assert callback.written_to is None


def test_state_round_trip() -> None:
    callback = CounterCallback()
    trial = Trial("t", {})
    callback.on_trial_result(iteration=1, trials=[trial], trial=trial, result={})
    other = CounterCallback()
    other.set_state(callback.get_state())
    assert other.num_results == 1
