"""Callbacks through a real PluginManager, and the JSON/CSV loggers writing real files."""

from __future__ import annotations

import csv
import json
import math
import os
import pickle

import numpy as np
import pluggy
import pytest

import tune.hookspecs
from tune.callback import Callback
from tune.errors import TuneError
from tune.logger import (
    CSVLoggerCallback,
    JsonLoggerCallback,
    LoggerCallback,
    default_logger_callbacks,
)
from tune.plugins import create_logger
from tune.trial import Trial


def make_pm(*plugins: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("tune")
    pm.add_hookspecs(tune.hookspecs)
    for plugin in plugins:
        pm.register(plugin)
    return pm


def make_trial(tmp_path, trial_id: str = "t0", config: dict | None = None) -> Trial:
    # The directory does not exist yet: loggers create it.
    return Trial(trial_id, config or {"lr": 0.1}, path=str(tmp_path / "exp" / trial_id))


def read_json_lines(trial: Trial) -> list[dict]:
    with open(os.path.join(trial.path, "result.json"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def read_csv(trial: Trial) -> tuple[list[str], list[dict]]:
    with open(os.path.join(trial.path, "progress.csv"), encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


# -- Callback ------------------------------------------------------------------------------------


class Recorder(Callback):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info):
        self.calls.append(("setup", stop, num_samples, total_num_samples))

    def on_step_begin(self, iteration, trials, **info):
        self.calls.append(("step_begin", iteration))

    def on_step_end(self, iteration, trials, **info):
        self.calls.append(("step_end", iteration))

    def on_trial_start(self, iteration, trials, trial, **info):
        self.calls.append(("start", trial.trial_id))

    def on_trial_restore(self, iteration, trials, trial, **info):
        self.calls.append(("restore", trial.trial_id))

    def on_trial_save(self, iteration, trials, trial, **info):
        self.calls.append(("save", trial.trial_id))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.calls.append(("result", trial.trial_id, result["x"]))

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.calls.append(("complete", trial.trial_id))

    def on_trial_recover(self, iteration, trials, trial, **info):
        self.calls.append(("recover", trial.trial_id))

    def on_trial_error(self, iteration, trials, trial, **info):
        self.calls.append(("error", trial.trial_id))

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        self.calls.append(("checkpoint", trial.trial_id, checkpoint))

    def on_experiment_end(self, trials, **info):
        self.calls.append(("end", len(trials)))


def drive_all_hooks(pm: pluggy.PluginManager, trial: Trial) -> None:
    trials = [trial]
    hook = pm.hook
    hook.tune_setup(stop={"training_iteration": 3}, num_samples=2, total_num_samples=4)
    hook.tune_on_step_begin(iteration=1, trials=trials)
    hook.tune_on_trial_start(iteration=1, trials=trials, trial=trial)
    hook.tune_on_trial_result(iteration=1, trials=trials, trial=trial, result={"x": 7})
    hook.tune_on_trial_save(iteration=1, trials=trials, trial=trial)
    hook.tune_on_checkpoint(iteration=1, trials=trials, trial=trial, checkpoint="ckpt")
    hook.tune_on_trial_recover(iteration=1, trials=trials, trial=trial)
    hook.tune_on_trial_restore(iteration=1, trials=trials, trial=trial)
    hook.tune_on_trial_error(iteration=1, trials=trials, trial=trial)
    hook.tune_on_trial_complete(iteration=1, trials=trials, trial=trial)
    hook.tune_on_step_end(iteration=1, trials=trials)
    hook.tune_on_experiment_end(trials=trials)


def test_callback_methods_receive_every_hook(tmp_path) -> None:
    recorder = Recorder()
    drive_all_hooks(make_pm(recorder, Callback()), make_trial(tmp_path))
    assert recorder.calls == [
        ("setup", {"training_iteration": 3}, 2, 4),
        ("step_begin", 1),
        ("start", "t0"),
        ("result", "t0", 7),
        ("save", "t0"),
        ("checkpoint", "t0", "ckpt"),
        ("recover", "t0"),
        ("restore", "t0"),
        ("error", "t0"),
        ("complete", "t0"),
        ("step_end", 1),
        ("end", 1),
    ]


def test_ray_docs_callback_with_keyword_only_override(tmp_path, capsys) -> None:
    class MyCallback(Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            print(f"Got result: {result['metric']}")

    trial = make_trial(tmp_path)
    make_pm(MyCallback()).hook.tune_on_trial_result(
        iteration=0, trials=[trial], trial=trial, result={"metric": 3}
    )
    assert capsys.readouterr().out == "Got result: 3\n"


def test_callback_state_is_saved_under_a_stable_key() -> None:
    class Counter(Callback):
        def __init__(self, start: int = 0) -> None:
            self.count = start

        def get_state(self):
            return {"count": self.count}

        def set_state(self, state):
            self.count = state["count"]

    first, second = Counter(1), Counter(2)
    second.state_key = "second"
    pm = make_pm(first, second, Recorder())
    saved = dict(pm.hook.tune_get_state())
    # The default key is the class's qualified name; Recorder has no state to save.
    assert saved == {Counter.__qualname__: {"count": 1}, "second": {"count": 2}}

    new_first, new_second = Counter(), Counter()
    new_second.state_key = "second"
    pm = make_pm(new_first, new_second)
    for key, state in saved.items():
        pm.hook.tune_set_state(key=key, state=state)
    assert (new_first.count, new_second.count) == (1, 2)


def test_logger_callback_maps_hooks_to_log_methods(tmp_path) -> None:
    class Log(LoggerCallback):
        def __init__(self) -> None:
            self.calls: list[tuple] = []

        def log_trial_start(self, trial):
            self.calls.append(("start",))

        def log_trial_restore(self, trial):
            self.calls.append(("restore",))

        def log_trial_save(self, trial):
            self.calls.append(("save",))

        def log_trial_result(self, iteration, trial, result):
            self.calls.append(("result", iteration, result["x"]))

        def log_trial_end(self, trial, failed=False):
            self.calls.append(("end", failed))

    log = Log()
    drive_all_hooks(make_pm(log), make_trial(tmp_path))
    assert log.calls == [
        ("start",),
        ("result", 1, 7),
        ("save",),
        ("restore",),
        ("end", True),
        ("end", False),
    ]


# -- JsonLoggerCallback --------------------------------------------------------------------------


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


def start(pm: pluggy.PluginManager, trial: Trial) -> None:
    pm.hook.tune_on_trial_start(iteration=0, trials=[trial], trial=trial)


def report(pm: pluggy.PluginManager, trial: Trial, result: dict, iteration: int = 0) -> None:
    pm.hook.tune_on_trial_result(iteration=iteration, trials=[trial], trial=trial, result=result)


def complete(pm: pluggy.PluginManager, trial: Trial) -> None:
    pm.hook.tune_on_trial_complete(iteration=0, trials=[trial], trial=trial)


def test_json_logger_writes_params_and_result_lines(tmp_path) -> None:
    config = {"lr": 0.01, "layers": [64, 32], "act": Opaque(), "np": np.float32(0.5)}
    trial = make_trial(tmp_path, config=config)
    pm = make_pm(JsonLoggerCallback())
    start(pm, trial)

    with open(os.path.join(trial.path, "params.json"), encoding="utf-8") as f:
        params_text = f.read()
    assert json.loads(params_text) == {"act": "Opaque()", "layers": [64, 32], "lr": 0.01, "np": 0.5}
    assert params_text.startswith('{\n  "act"')  # indented, keys sorted
    with open(os.path.join(trial.path, "params.pkl"), "rb") as f:
        assert pickle.load(f)["layers"] == [64, 32]

    report(pm, trial, {"loss": np.float64(0.5), "step": np.int64(1), "arr": np.arange(3)})
    report(pm, trial, {"loss": math.nan, "flag": np.bool_(True), "obj": Opaque(), 3: "int key"})
    report(pm, trial, {"loss": 0.25, "config": {"lr": 0.01}})
    complete(pm, trial)

    lines = read_json_lines(trial)
    assert len(lines) == 3
    assert lines[0]["loss"] == 0.5 and lines[0]["step"] == 1 and lines[0]["arr"] == [0, 1, 2]
    assert math.isnan(lines[1]["loss"]) and lines[1]["flag"] is True
    assert lines[1]["obj"] == "Opaque()" and lines[1]["3"] == "int key"
    # Results without a config get the trial's, as in Ray Tune; one given is kept as is.
    assert lines[0]["config"]["lr"] == 0.01 and lines[0]["config"]["act"] == "Opaque()"
    assert lines[2]["config"] == {"lr": 0.01}
    with open(os.path.join(trial.path, "result.json"), encoding="utf-8") as f:
        assert "NaN" in f.read().splitlines()[1]


def test_json_logger_survives_odd_keys_and_cycles(tmp_path) -> None:
    trial = make_trial(tmp_path, config={(1, 2): "tuple key", "a": 1})
    pm = make_pm(JsonLoggerCallback())
    start(pm, trial)
    cyclic: dict = {"x": 1}
    cyclic["self"] = cyclic
    report(pm, trial, {"cyc": cyclic})
    report(pm, trial, {"after": 1})  # the encoder recovers after a failure
    complete(pm, trial)
    lines = read_json_lines(trial)
    assert lines[0]["cyc"]["x"] == 1 and lines[1]["after"] == 1
    with open(os.path.join(trial.path, "params.json"), encoding="utf-8") as f:
        assert json.load(f) == {"(1, 2)": "tuple key", "a": 1}


def test_json_logger_buffers_until_step_end_and_appends_on_restart(tmp_path) -> None:
    trial = make_trial(tmp_path)
    pm = make_pm(JsonLoggerCallback())
    start(pm, trial)
    report(pm, trial, {"i": 1})
    pm.hook.tune_on_step_end(iteration=0, trials=[trial])
    assert [line["i"] for line in read_json_lines(trial)] == [1]  # visible while running
    report(pm, trial, {"i": 2})
    pm.hook.tune_on_trial_error(iteration=0, trials=[trial], trial=trial)
    assert [line["i"] for line in read_json_lines(trial)] == [1, 2]

    # A crash mid-write leaves a partial line; a restarted trial drops it and appends.
    with open(os.path.join(trial.path, "result.json"), "a", encoding="utf-8") as f:
        f.write('{"i": 3, "trunc')
    pm = make_pm(JsonLoggerCallback())
    pm.hook.tune_on_trial_restore(iteration=0, trials=[trial], trial=trial)
    report(pm, trial, {"i": 4})
    pm.hook.tune_on_experiment_end(trials=[trial])
    assert [line["i"] for line in read_json_lines(trial)] == [1, 2, 4]


def test_json_logger_rewrites_params_when_a_restored_trial_has_a_new_config(tmp_path) -> None:
    trial = make_trial(tmp_path, config={"lr": 0.1})
    pm = make_pm(JsonLoggerCallback())
    start(pm, trial)
    report(pm, trial, {"i": 1})
    trial.config = {"lr": 0.2}  # e.g. PBT exploited another trial's config
    pm.hook.tune_on_trial_restore(iteration=0, trials=[trial], trial=trial)
    report(pm, trial, {"i": 2})
    complete(pm, trial)
    with open(os.path.join(trial.path, "params.json"), encoding="utf-8") as f:
        assert json.load(f) == {"lr": 0.2}
    assert [line["config"]["lr"] for line in read_json_lines(trial)] == [0.1, 0.2]


# -- CSVLoggerCallback ---------------------------------------------------------------------------


def test_csv_logger_flattens_nested_results_and_drops_config(tmp_path) -> None:
    trial = make_trial(tmp_path)
    pm = make_pm(CSVLoggerCallback())
    start(pm, trial)
    for i in range(3):
        result = {
            "loss": 1.0 / (i + 1),
            "info": {"lr": 0.1, "grad": {"norm": i}},
            "empty": {},
            "config": {"lr": 0.1},
            "name": 'a,"quoted" value',
        }
        report(pm, trial, result)
    complete(pm, trial)
    fields, rows = read_csv(trial)
    assert fields == ["loss", "info/lr", "info/grad/norm", "name"]
    assert [float(row["loss"]) for row in rows] == [1.0, 0.5, 1.0 / 3]
    assert rows[2]["info/grad/norm"] == "2" and rows[0]["name"] == 'a,"quoted" value'


def test_csv_logger_handles_late_new_keys_and_missing_keys(tmp_path) -> None:
    pandas = pytest.importorskip("pandas")
    trial = make_trial(tmp_path)
    pm = make_pm(CSVLoggerCallback())
    start(pm, trial)
    report(pm, trial, {"a": 1, "b": 2})
    pm.hook.tune_on_step_end(iteration=0, trials=[trial])
    report(pm, trial, {"a": 3, "c": {"d": 4}})  # new key, b missing
    report(pm, trial, {"a": 5, "b": 6, "c": {"d": 7}})
    report(pm, trial, {"a": 8, "e": None})
    complete(pm, trial)

    fields, rows = read_csv(trial)
    assert fields == ["a", "b", "c/d", "e"]
    assert [(r["a"], r["b"], r["c/d"], r["e"]) for r in rows] == [
        ("1", "2", "", ""),
        ("3", "", "4", ""),
        ("5", "6", "7", ""),
        ("8", "", "", ""),
    ]
    frame = pandas.read_csv(os.path.join(trial.path, "progress.csv"))
    assert list(frame.columns) == ["a", "b", "c/d", "e"]
    assert frame["a"].tolist() == [1, 3, 5, 8]
    assert frame["c/d"].isna().tolist() == [True, False, False, True]


def test_csv_logger_restart_keeps_header_and_appends(tmp_path) -> None:
    trial = make_trial(tmp_path)
    pm = make_pm(CSVLoggerCallback())
    start(pm, trial)
    report(pm, trial, {"a": 1, "b": 2})
    complete(pm, trial)

    pm = make_pm(CSVLoggerCallback())  # a new process restoring the experiment
    pm.hook.tune_on_trial_restore(iteration=0, trials=[trial], trial=trial)
    report(pm, trial, {"b": 20, "a": 10})
    report(pm, trial, {"a": 30, "b": 40, "new": 1})
    pm.hook.tune_on_experiment_end(trials=[trial])
    fields, rows = read_csv(trial)
    assert fields == ["a", "b", "new"]
    assert [(r["a"], r["b"], r["new"]) for r in rows] == [
        ("1", "2", ""),
        ("10", "20", ""),
        ("30", "40", "1"),
    ]


def test_csv_delimiter_comes_from_tune_result_delim(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TUNE_RESULT_DELIM", ".")
    trial = make_trial(tmp_path)
    pm = make_pm(CSVLoggerCallback())
    report(pm, trial, {"info": {"lr": 0.1}})  # no start first: the logger opens on demand
    complete(pm, trial)
    assert read_csv(trial)[0] == ["info.lr"]


# -- both loggers --------------------------------------------------------------------------------


def test_loggers_with_more_trials_than_open_files(tmp_path) -> None:
    loggers = default_logger_callbacks()
    for logger in loggers:
        logger.max_open_files = 2
    pm = make_pm(*loggers)
    trials = [make_trial(tmp_path, f"t{i}") for i in range(5)]
    for trial in trials:
        start(pm, trial)
    for step in range(4):
        for i, trial in enumerate(trials):
            report(pm, trial, {"step": step, "trial": i}, iteration=step)
    pm.hook.tune_on_experiment_end(trials=trials)
    for i, trial in enumerate(trials):
        assert [(r["step"], r["trial"]) for r in read_json_lines(trial)] == [
            (s, i) for s in range(4)
        ]
        fields, rows = read_csv(trial)
        assert fields == ["step", "trial"]
        assert [int(r["step"]) for r in rows] == [0, 1, 2, 3]


def test_logger_needs_a_trial_directory() -> None:
    trial = Trial("t0", {})
    pm = make_pm(JsonLoggerCallback())
    with pytest.raises(TuneError, match="trial.path"):
        start(pm, trial)


def test_default_loggers_and_registered_names() -> None:
    kinds = [type(logger) for logger in default_logger_callbacks()]
    assert kinds == [JsonLoggerCallback, CSVLoggerCallback]
    assert isinstance(create_logger("json"), JsonLoggerCallback)
    assert isinstance(create_logger("csv"), CSVLoggerCallback)


def test_logging_throughput_sanity(tmp_path) -> None:
    """Many results through the hooks land intact (a smoke test, not a timed assertion)."""
    pm = make_pm(*default_logger_callbacks())
    trials = [make_trial(tmp_path, f"t{i}") for i in range(4)]
    for trial in trials:
        start(pm, trial)
    n = 20_000
    for i in range(n):
        trial = trials[i % 4]
        result = {
            "loss": 1.0 / (i + 1),
            "training_iteration": i // 4 + 1,
            "info": {"lr": 0.1},
            "trial_id": trial.trial_id,
        }
        pm.hook.tune_on_trial_result(iteration=i, trials=trials, trial=trial, result=result)
        if i % 500 == 0:
            pm.hook.tune_on_step_end(iteration=i, trials=trials)
    for trial in trials:
        complete(pm, trial)
    for trial in trials:
        lines = read_json_lines(trial)
        assert len(lines) == n // 4
        assert [line["training_iteration"] for line in lines] == list(range(1, n // 4 + 1))
        assert len(read_csv(trial)[1]) == n // 4
