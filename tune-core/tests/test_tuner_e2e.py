"""End-to-end runs through Tuner / tune.run, the real controller and the real executors."""

from __future__ import annotations

import json
import os
import time

import pytest

import tune
from tune.errors import TuneError, TuneTypeError, TuneValueError


def run_cfg(tmp_path, **kw):
    kw.setdefault("verbose", 0)
    return tune.RunConfig(storage_path=str(tmp_path), **kw)


def quadratic(config):
    for step in range(3):
        tune.report({"loss": (config["x"] - 3) ** 2 + 1.0 / (step + 1), "step": step})


def test_function_trainable_grid_times_samples(tmp_path):
    tuner = tune.Tuner(
        quadratic,
        param_space={"x": tune.grid_search([1, 2, 3]), "y": tune.uniform(0, 1), "c": 7},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=2),
        run_config=run_cfg(tmp_path, name="grid"),
    )
    results = tuner.fit()
    assert len(results) == 6
    assert results.num_errors == 0 and results.num_terminated == 6
    assert sorted(r.config["x"] for r in results) == [1, 1, 2, 2, 3, 3]
    assert all(0 <= r.config["y"] <= 1 and r.config["c"] == 7 for r in results)
    best = results.get_best_result()
    assert best.config["x"] == 3
    assert best.metrics["loss"] == pytest.approx(1 / 3)
    assert best.metrics["training_iteration"] == 3
    for field in ("time_this_iter_s", "time_total_s", "timestamp", "date", "trial_id",
                  "experiment_tag", "hostname", "node_ip", "pid", "iterations_since_restore",
                  "time_since_restore", "config", "done"):
        assert field in best.metrics, field
    assert best.metrics["done"] is True
    # files of the default loggers
    trial_dir = best.path
    lines = open(os.path.join(trial_dir, "result.json")).read().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [0, 1, 2]
    assert json.load(open(os.path.join(trial_dir, "params.json")))["x"] == 3
    assert os.path.exists(os.path.join(trial_dir, "progress.csv"))
    assert os.path.exists(os.path.join(results.experiment_path, "experiment_state.json"))
    assert tuner.get_results() is results
    df = results.get_dataframe()
    assert len(df) == 6 and "config/x" in df.columns and "loss" in df.columns
    assert list(best.metrics_dataframe["step"]) == [0, 1, 2]


def test_return_and_yield_forms(tmp_path):
    def returns(config):
        return {"score": config["a"] * 2}

    def yields(config):
        for i in range(4):
            yield {"score": config["a"] + i}

    r1 = tune.Tuner(returns, param_space={"a": 5}, run_config=run_cfg(tmp_path, name="r")).fit()
    assert r1[0].metrics["score"] == 10
    r2 = tune.Tuner(yields, param_space={"a": 5}, run_config=run_cfg(tmp_path, name="y")).fit()
    assert r2[0].metrics["score"] == 8 and r2[0].metrics["training_iteration"] == 4


class Counter(tune.Trainable):
    def setup(self, config):
        self.value = config.get("start", 0)

    def step(self):
        self.value += 1
        return {"value": self.value, "done": self.value >= 5}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "value.txt"), "w") as f:
            f.write(str(self.value))

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "value.txt")) as f:
            self.value = int(f.read())


def test_class_trainable_and_checkpoint(tmp_path):
    results = tune.Tuner(
        Counter,
        param_space={"start": tune.grid_search([0, 2])},
        run_config=run_cfg(
            tmp_path, checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=True)
        ),
    ).fit()
    values = sorted(r.metrics["value"] for r in results)
    assert values == [5, 5]
    iters = sorted(r.metrics["training_iteration"] for r in results)
    assert iters == [3, 5]
    for r in results:
        assert r.checkpoint is not None
        with r.checkpoint.as_directory() as d:
            assert open(os.path.join(d, "value.txt")).read() == "5"


def test_function_checkpoint_reaches_result(tmp_path):
    def fn(config):
        import tempfile

        for i in range(3):
            d = tempfile.mkdtemp()
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"i": i}, f)
            tune.report({"i": i}, checkpoint=tune.Checkpoint.from_directory(d))

    result = tune.Tuner(fn, run_config=run_cfg(tmp_path)).fit()[0]
    assert os.path.basename(result.checkpoint.path) == "checkpoint_000003"
    with result.checkpoint.as_directory() as d:
        assert json.load(open(os.path.join(d, "state.json"))) == {"i": 2}


def test_tune_run_returns_experiment_analysis(tmp_path):
    analysis = tune.run(
        quadratic,
        config={"x": tune.grid_search([0, 3, 5])},
        metric="loss",
        mode="min",
        storage_path=str(tmp_path),
        name="old_api",
        verbose=0,
    )
    assert analysis.get_best_config()["x"] == 3
    assert analysis.best_config["x"] == 3
    assert analysis.get_best_trial().config["x"] == 3
    assert analysis.best_result["loss"] == pytest.approx(1 / 3)
    assert len(analysis.trials) == 3
    assert len(analysis.dataframe()) == 3
    assert len(analysis.results_df) == 3


def test_stop_dict_is_exact_with_run_ahead_trials(tmp_path):
    def forever(config):
        i = 0
        while True:
            i += 1
            tune.report({"i": i})

    results = tune.Tuner(
        forever,
        tune_config=tune.TuneConfig(num_samples=2),
        run_config=run_cfg(tmp_path, stop={"training_iteration": 7}),
    ).fit()
    for r in results:
        assert r.metrics["training_iteration"] == 7
        assert len(r.metrics_dataframe) == 7


def test_stopper_objects_and_functions(tmp_path):
    def forever(config):
        i = 0
        while True:
            i += 1
            tune.report({"i": i})

    results = tune.Tuner(
        forever,
        run_config=run_cfg(tmp_path, name="a", stop=tune.stopper.MaximumIterationStopper(4)),
    ).fit()
    assert results[0].metrics["training_iteration"] == 4
    results = tune.Tuner(
        forever,
        run_config=run_cfg(tmp_path, name="b", stop=lambda trial_id, result: result["i"] >= 3),
    ).fit()
    assert results[0].metrics["i"] == 3


def test_strict_metric_checking(tmp_path, monkeypatch):
    def wrong(config):
        tune.report({"acc": 1.0})

    with pytest.raises(ValueError, match="'loss'"):
        tune.Tuner(
            wrong,
            tune_config=tune.TuneConfig(metric="loss", mode="min"),
            run_config=run_cfg(tmp_path, name="strict"),
        ).fit()
    monkeypatch.setenv("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    results = tune.Tuner(
        wrong,
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=run_cfg(tmp_path, name="lenient"),
    ).fit()
    assert results[0].metrics["acc"] == 1.0


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: tune.Tuner(42), "trainable"),
        (lambda: tune.Tuner(quadratic, param_space={"lock": __import__("threading").Lock()}), "param_space['lock']"),
        (lambda: tune.Tuner(quadratic, param_space=[1, 2]), "param_space"),
        (lambda: tune.TuneConfig(mode="best"), "mode"),
        (lambda: tune.TuneConfig(num_samples=-2), "num_samples"),
        (lambda: tune.Tuner(quadratic, tune_config=tune.TuneConfig(search_alg="no_such_searcher")).fit(), "no_such_searcher"),
        (lambda: tune.Tuner(quadratic, tune_config=tune.TuneConfig(scheduler="no_such_scheduler")).fit(), "no_such_scheduler"),
        (lambda: tune.uniform(2, 1), "2"),
        (lambda: tune.choice([]), "categories"),
        (lambda: tune.loguniform(0, 1), "0"),
        (lambda: tune.quniform(0, 1, 0), "q"),
    ],
)
def test_bad_input_raises_before_any_trial(make, argument):
    with pytest.raises((TuneValueError, TuneTypeError, ValueError, TypeError)) as info:
        make()
    assert argument in str(info.value)


def test_unknown_searcher_lists_known_names():
    with pytest.raises(ValueError) as info:
        tune.create_searcher("no_such_searcher")
    assert "random" in str(info.value)


def test_trial_errors_are_recorded_and_others_go_on(tmp_path):
    def sometimes(config):
        if config["x"] == 1:
            raise RuntimeError("boom on x=1")
        tune.report({"loss": config["x"]})

    results = tune.Tuner(
        sometimes,
        param_space={"x": tune.grid_search([0, 1, 2])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=run_cfg(tmp_path),
    ).fit()
    assert results.num_errors == 1 and results.num_terminated == 2
    err = results.errors[0]
    assert "boom on x=1" in str(err)
    bad = next(r for r in results if r.error is not None)
    text = open(os.path.join(bad.path, "error.txt")).read()
    assert "Failure # 1" in text and "RuntimeError: boom on x=1" in text
    assert results.get_best_result().config["x"] == 0


def test_max_failures_retries_then_succeeds(tmp_path):
    marker = tmp_path / "attempts"

    def flaky(config):
        n = int(marker.read_text()) if marker.exists() else 0
        marker.write_text(str(n + 1))
        if n < 2:
            raise RuntimeError(f"attempt {n}")
        tune.report({"ok": 1})

    results = tune.Tuner(
        flaky,
        run_config=run_cfg(tmp_path, failure_config=tune.FailureConfig(max_failures=2)),
    ).fit()
    assert results.num_errors == 0
    assert results[0].metrics["ok"] == 1
    assert marker.read_text() == "3"


def test_fail_fast_raise(tmp_path):
    def bad(config):
        raise KeyError("missing thing")

    with pytest.raises(KeyError, match="missing thing"):
        tune.Tuner(
            bad,
            tune_config=tune.TuneConfig(num_samples=3),
            run_config=run_cfg(tmp_path, failure_config=tune.FailureConfig(fail_fast="raise")),
        ).fit()


def test_worker_death_marks_error_and_experiment_goes_on(tmp_path):
    def dies(config):
        if config["x"] == 1:
            os._exit(3)
        tune.report({"x": config["x"]})

    results = tune.Tuner(
        dies,
        param_space={"x": tune.grid_search([0, 1, 2, 3])},
        run_config=run_cfg(tmp_path),
    ).fit()
    assert results.num_errors == 1 and results.num_terminated == 3
    assert "died" in str(results.errors[0]).lower()


def test_time_budget_with_infinite_samples(tmp_path):
    def slow(config):
        time.sleep(0.2)
        tune.report({"v": 1})

    start = time.monotonic()
    results = tune.Tuner(
        slow,
        tune_config=tune.TuneConfig(num_samples=-1, time_budget_s=1.5),
        run_config=run_cfg(tmp_path),
    ).fit()
    assert time.monotonic() - start < 6
    assert len(results) >= 3


def test_max_concurrent_trials(tmp_path):
    def timed(config):
        start = time.time()
        time.sleep(0.3)
        tune.report({"start": start, "end": time.time()})

    results = tune.Tuner(
        timed,
        tune_config=tune.TuneConfig(num_samples=4, max_concurrent_trials=1),
        run_config=run_cfg(tmp_path),
    ).fit()
    spans = sorted((r.metrics["start"], r.metrics["end"]) for r in results)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_fractional_cpus_run_concurrently(tmp_path):
    def timed(config):
        start = time.time()
        time.sleep(0.5)
        tune.report({"start": start, "end": time.time()})

    results = tune.Tuner(
        tune.with_resources(timed, {"cpu": 0.5}),
        tune_config=tune.TuneConfig(num_samples=4),
        run_config=run_cfg(tmp_path),
    ).fit()
    starts = [r.metrics["start"] for r in results]
    ends = [r.metrics["end"] for r in results]
    assert max(starts) < min(ends), "all four 0.5-CPU trials should overlap on 2 CPUs"


def test_trial_that_can_never_fit_is_an_error_not_a_hang(tmp_path):
    with pytest.raises(ValueError, match="resources"):
        tune.Tuner(
            tune.with_resources(quadratic, {"cpu": 64}),
            param_space={"x": 1},
            run_config=run_cfg(tmp_path),
        ).fit()


def test_callbacks_see_the_documented_hooks(tmp_path):
    calls = []

    class Recorder(tune.Callback):
        def setup(self, stop=None, num_samples=None, total_num_samples=None, **info):
            calls.append("setup")

        def on_trial_start(self, iteration, trials, trial, **info):
            calls.append("start")

        def on_trial_result(self, iteration, trials, trial, result, **info):
            calls.append("result")

        def on_trial_complete(self, iteration, trials, trial, **info):
            calls.append("complete")

        def on_experiment_end(self, trials, **info):
            calls.append("end")

    tune.Tuner(quadratic, param_space={"x": 1}, run_config=run_cfg(tmp_path, callbacks=[Recorder()])).fit()
    assert calls == ["setup", "start", "result", "result", "result", "complete", "end"]


def test_trial_name_and_dirname_creators(tmp_path):
    results = tune.Tuner(
        quadratic,
        param_space={"x": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(
            trial_name_creator=lambda t: f"named_{t.config['x']}",
            trial_dirname_creator=lambda t: f"dir_{t.config['x']}",
        ),
        run_config=run_cfg(tmp_path, name="names"),
    ).fit()
    assert sorted(os.path.basename(r.path) for r in results) == ["dir_1", "dir_2"]


def test_get_context_inside_trial(tmp_path):
    def ctx(config):
        c = tune.get_context()
        tune.report({
            "name": c.get_trial_name(),
            "id": c.get_trial_id(),
            "dir": c.get_trial_dir(),
            "cpu": c.get_trial_resources().required_resources().get("CPU")
            if hasattr(c.get_trial_resources(), "required_resources")
            else c.get_trial_resources().get("CPU"),
            "exp": c.get_experiment_name(),
        })

    r = tune.Tuner(ctx, run_config=run_cfg(tmp_path, name="ctxexp")).fit()[0]
    assert r.metrics["id"] == r.metrics["trial_id"]
    assert r.metrics["dir"] == r.path
    assert r.metrics["exp"] == "ctxexp"
    assert r.metrics["cpu"] == 1


def test_with_parameters_objects_stay_out_of_configs(tmp_path):
    big = list(range(100_000))

    def fn(config, data):
        tune.report({"n": len(data), "x": config["x"]})

    results = tune.Tuner(
        tune.with_parameters(fn, data=big),
        param_space={"x": tune.grid_search([1, 2])},
        run_config=run_cfg(tmp_path),
    ).fit()
    assert [r.metrics["n"] for r in results] == [100_000, 100_000]
    state = open(os.path.join(results.experiment_path, "experiment_state.json")).read()
    assert len(state) < 20_000
    params = open(os.path.join(results[0].path, "params.json")).read()
    assert "99999" not in params


def test_inline_executor(tmp_path):
    results = tune.Tuner(
        quadratic,
        param_space={"x": tune.grid_search([1, 3])},
        tune_config=tune.TuneConfig(metric="loss", mode="min", executor="inline"),
        run_config=run_cfg(tmp_path),
    ).fit()
    assert results.get_best_result().config["x"] == 3
    assert all(r.metrics["pid"] == os.getpid() for r in results)


def test_reuse_actors_calls_reset_config(tmp_path):
    class Reusable(tune.Trainable):
        def setup(self, config):
            self.pid_setups = 1

        def reset_config(self, new_config):
            self.pid_setups += 1
            return True

        def step(self):
            return {"setups": self.pid_setups, "done": True}

    results = tune.Tuner(
        Reusable,
        tune_config=tune.TuneConfig(num_samples=4, reuse_actors=True, max_concurrent_trials=1),
        run_config=run_cfg(tmp_path),
    ).fit()
    assert max(r.metrics["setups"] for r in results) > 1


def test_auto_loggers_can_be_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    r = tune.Tuner(quadratic, param_space={"x": 1}, run_config=run_cfg(tmp_path)).fit()[0]
    assert not os.path.exists(os.path.join(r.path, "result.json"))
    assert r.metrics["loss"] == pytest.approx(4 + 1 / 3)


def test_dated_subdir_and_identifier_length(tmp_path, monkeypatch):
    r = tune.Tuner(quadratic, param_space={"x": 1}, run_config=run_cfg(tmp_path)).fit()
    assert os.path.basename(r.experiment_path).startswith("quadratic_20")
    monkeypatch.setenv("TUNE_DISABLE_DATED_SUBDIR", "1")
    monkeypatch.setenv("TUNE_MAX_LEN_IDENTIFIER", "5")
    r = tune.Tuner(
        quadratic, param_space={"x": tune.grid_search([1.23456789])}, run_config=run_cfg(tmp_path)
    ).fit()
    assert os.path.basename(r.experiment_path) == "quadratic"
    tag = os.path.basename(r[0].path).split("_", 3)[-1]
    assert len(tag) <= 5


def test_never_started_trials_appear(tmp_path):
    def slow(config):
        time.sleep(0.5)
        tune.report({"v": 1})

    results = tune.Tuner(
        slow,
        param_space={"x": tune.grid_search(list(range(6)))},
        tune_config=tune.TuneConfig(time_budget_s=0.3, max_concurrent_trials=1),
        run_config=run_cfg(tmp_path),
    ).fit()
    assert len(results) == 6
    never_started = [r for r in results if not r.metrics]
    assert len(never_started) >= 4
    assert all(r.error is None for r in never_started)


def test_get_best_result_needs_a_metric(tmp_path):
    results = tune.Tuner(quadratic, param_space={"x": 1}, run_config=run_cfg(tmp_path)).fit()
    with pytest.raises(ValueError, match="metric"):
        results.get_best_result()


def test_verbose_prints_status_table(tmp_path, capsys):
    tune.Tuner(
        quadratic,
        param_space={"x": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=1),
    ).fit()
    out = capsys.readouterr().out
    assert "TERMINATED" in out and "loss" in out
    tune.Tuner(
        quadratic, param_space={"x": 1}, run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0)
    ).fit()
    assert capsys.readouterr().out == ""


def test_searcher_by_name_limits_num_samples(tmp_path):
    results = tune.Tuner(
        quadratic,
        param_space={"x": tune.uniform(0, 5)},
        tune_config=tune.TuneConfig(search_alg="random", num_samples=5),
        run_config=run_cfg(tmp_path),
    ).fit()
    assert len(results) == 5


def test_trial_error_is_not_fatal_to_tune_run_when_asked(tmp_path):
    def bad(config):
        raise ValueError("nope")

    with pytest.raises(TuneError, match="did not complete"):
        tune.run(bad, storage_path=str(tmp_path), name="a", verbose=0)
    analysis = tune.run(bad, storage_path=str(tmp_path), name="b", verbose=0, raise_on_failed_trial=False)
    assert analysis.trials[0].status == "ERROR"


def test_each_checkpoint_is_announced_once(tmp_path):
    seen = []

    class Saves(tune.Callback):
        def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
            seen.append(os.path.basename(checkpoint.path))

    def fn(config):
        import tempfile

        for i in range(3):
            d = tempfile.mkdtemp()
            open(os.path.join(d, "x"), "w").close()
            tune.report({"i": i}, checkpoint=tune.Checkpoint.from_directory(d))

    tune.Tuner(fn, run_config=run_cfg(tmp_path, callbacks=[Saves()])).fit()
    assert seen == ["checkpoint_000001", "checkpoint_000002", "checkpoint_000003"]
