"""More Tuner features end to end: output files, reporters, resources, wrapped searchers."""

from __future__ import annotations

import os

import pytest

import tune
from tune.errors import TuneError
from tune.search import BasicVariantGenerator, ConcurrencyLimiter, Repeater


def rc(tmp_path, **kw):
    kw.setdefault("verbose", 0)
    return tune.RunConfig(storage_path=str(tmp_path), **kw)


def chatty(config):
    print("hello from the trial")
    import sys

    print("to stderr", file=sys.stderr)
    tune.report({"loss": config.get("x", 1)})


def test_log_to_file(tmp_path):
    r = tune.Tuner(chatty, run_config=rc(tmp_path, name="a", log_to_file=True)).fit()[0]
    assert "hello from the trial" in open(os.path.join(r.path, "stdout")).read()
    assert "to stderr" in open(os.path.join(r.path, "stderr")).read()
    r = tune.Tuner(chatty, run_config=rc(tmp_path, name="b", log_to_file="both.log")).fit()[0]
    text = open(os.path.join(r.path, "both.log")).read()
    assert "hello from the trial" in text and "to stderr" in text


def test_custom_progress_reporter(tmp_path):
    seen = []

    class Counting(tune.ProgressReporter):
        def should_report(self, trials, done=False):
            return done

        def report(self, trials, done, *sys_info):
            seen.append((len(trials), done, sorted(t.status for t in trials)))

    tune.Tuner(
        chatty,
        param_space={"x": tune.grid_search([1, 2, 3])},
        run_config=rc(tmp_path, verbose=1, progress_reporter=Counting()),
    ).fit()
    assert seen[-1] == (3, True, ["TERMINATED"] * 3)


def test_cli_reporter_columns(tmp_path, capsys):
    reporter = tune.CLIReporter(metric_columns=["loss"], parameter_columns=["x"], max_report_frequency=1)
    tune.Tuner(
        chatty,
        param_space={"x": tune.grid_search([5, 6])},
        run_config=rc(tmp_path, verbose=1, progress_reporter=reporter),
    ).fit()
    out = capsys.readouterr().out
    assert "| x " in out.replace("|  x", "| x") or " x " in out
    assert "loss" in out and "2 TERMINATED" in out


def test_with_resources_placement_group_and_callable(tmp_path):
    def res(config):
        ctx = tune.get_context()
        tune.report({"cpu": ctx.get_trial_resources().required_resources()["CPU"]})

    pgf = tune.PlacementGroupFactory([{"CPU": 0.5}, {"CPU": 0.5}])
    r = tune.Tuner(tune.with_resources(res, pgf), run_config=rc(tmp_path, name="pgf")).fit()[0]
    assert r.metrics["cpu"] == 1.0
    results = tune.Tuner(
        tune.with_resources(res, lambda config: {"cpu": config["c"]}),
        param_space={"c": tune.grid_search([0.5, 2])},
        run_config=rc(tmp_path, name="callable"),
    ).fit()
    assert sorted(r.metrics["cpu"] for r in results) == [0.5, 2.0]


def test_custom_resource_request_can_never_fit(tmp_path):
    with pytest.raises(ValueError, match="TPU"):
        tune.Tuner(
            tune.with_resources(chatty, {"cpu": 1, "TPU": 1}),
            run_config=rc(tmp_path),
        ).fit()


def test_custom_resources_on_the_local_executor(tmp_path):
    from tune.execution.local import LocalExecutor

    def res(config):
        import time

        start = time.time()
        time.sleep(0.3)
        tune.report({"start": start, "end": time.time()})

    results = tune.Tuner(
        tune.with_resources(res, {"cpu": 0.1, "license": 1}),
        tune_config=tune.TuneConfig(num_samples=3, executor=LocalExecutor(resources={"license": 1})),
        run_config=rc(tmp_path),
    ).fit()
    spans = sorted((r.metrics["start"], r.metrics["end"]) for r in results)
    assert all(a[1] <= b[0] + 0.01 for a, b in zip(spans, spans[1:])), "one license: no overlap"


def test_concurrency_limiter_and_repeater(tmp_path):
    results = tune.Tuner(
        chatty,
        param_space={"x": tune.grid_search([1, 2, 3])},
        tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(BasicVariantGenerator(), 1), num_samples=2),
        run_config=rc(tmp_path, name="limited"),
    ).fit()
    assert len(results) == 6
    results = tune.Tuner(
        chatty,
        param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(
            search_alg=Repeater(tune.create_searcher("random"), repeat=2), num_samples=4,
            metric="loss", mode="min",
        ),
        run_config=rc(tmp_path, name="repeated"),
    ).fit()
    assert len(results) == 4
    assert len({round(r.config["x"], 12) for r in results}) == 2


def test_reproducible_random_state(tmp_path):
    def configs(name):
        results = tune.Tuner(
            chatty,
            param_space={"x": tune.uniform(0, 1), "k": tune.randint(0, 100)},
            tune_config=tune.TuneConfig(search_alg=BasicVariantGenerator(random_state=7), num_samples=4),
            run_config=rc(tmp_path, name=name),
        ).fit()
        return sorted((r.config["x"], r.config["k"]) for r in results)

    assert configs("one") == configs("two")


def test_sample_from_sees_resolved_values(tmp_path):
    results = tune.Tuner(
        chatty,
        param_space={
            "a": tune.grid_search([1, 2]),
            "b": tune.sample_from(lambda spec: spec.config.a * 10),
            "nested": {"c": tune.choice(["p", "q"]), "list": [tune.randint(0, 3), 4]},
        },
        run_config=rc(tmp_path),
    ).fit()
    for r in results:
        assert r.config["b"] == r.config["a"] * 10
        assert r.config["nested"]["c"] in ("p", "q")
        assert r.config["nested"]["list"][1] == 4


def test_get_results_before_fit():
    with pytest.raises(TuneError, match="fit"):
        tune.Tuner(chatty).get_results()


def test_trainable_attributes_and_cleanup(tmp_path):
    marker = tmp_path / "cleaned"

    class Attrs(tune.Trainable):
        def setup(self, config):
            self.seen = None

        def step(self):
            return {
                "it": self.iteration,
                "tid": self.trial_id,
                "tname": self.trial_name,
                "logdir": self.logdir,
                "done": self.iteration >= 1,
            }

        def cleanup(self):
            marker.write_text("yes")

        @classmethod
        def default_resource_request(cls, config):
            return {"cpu": 0.5}

    r = tune.Tuner(Attrs, run_config=rc(tmp_path)).fit()[0]
    assert r.metrics["it"] == 1 and r.metrics["training_iteration"] == 2
    assert r.metrics["tid"] == r.metrics["trial_id"]
    assert r.metrics["tname"].endswith(r.metrics["trial_id"])
    assert os.path.realpath(r.metrics["logdir"]) == os.path.realpath(r.path)
    assert marker.read_text() == "yes"


def test_scheduler_and_stopper_by_name(tmp_path):
    def forever(config):
        i = 0
        while True:
            i += 1
            tune.report({"i": i})

    stopper = tune.create_stopper("maximum_iteration", max_iter=3)
    r = tune.Tuner(
        forever,
        tune_config=tune.TuneConfig(scheduler="fifo"),
        run_config=rc(tmp_path, stop=stopper),
    ).fit()[0]
    assert r.metrics["training_iteration"] == 3


def test_tune_schedulers_import_error_names_distribution():
    """Without the distributions' plugins (as when they are not installed), the error says
    what to install. A subprocess, so plugins installed in this environment stay out."""
    import subprocess
    import sys

    code = (
        "import tune\n"
        "for module, name in (('tune.schedulers', 'ASHAScheduler'), ('tune.search', 'OptunaSearch')):\n"
        "    try:\n"
        "        getattr(__import__(module, fromlist=[name]), name)\n"
        "    except ImportError as exc:\n"
        "        print(exc)\n"
    )
    env = dict(os.environ, TUNE_DISABLE_PLUGIN_AUTOLOAD="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "tune-schedulers" in out and "tune-search" in out
