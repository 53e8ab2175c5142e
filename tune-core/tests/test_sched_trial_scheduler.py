"""TrialScheduler / FIFOScheduler behaviour, through a real pluggy PluginManager."""

from __future__ import annotations

import importlib.util

import pluggy
import pytest

import tune.hookspecs
from tune.errors import TuneValueError, UnknownPluginNameError
from tune.schedulers import DEFAULT_METRIC, FIFOScheduler, TrialScheduler, create_scheduler
from tune.trial import PAUSED, PENDING, RUNNING, TERMINATED, Trial


def make_pm(*plugins: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("tune")
    pm.add_hookspecs(tune.hookspecs)
    for plugin in plugins:
        pm.register(plugin)
    return pm


def make_trials(*statuses: str) -> list[Trial]:
    trials = []
    for i, status in enumerate(statuses):
        trial = Trial(f"t{i}", {"x": i})
        trial.status = status
        trials.append(trial)
    return trials


# -- FIFO ----------------------------------------------------------------------------------------


def test_fifo_chooses_first_pending_then_first_paused() -> None:
    pm = make_pm(FIFOScheduler())
    trials = make_trials(PAUSED, RUNNING, PENDING, PENDING)
    assert pm.hook.tune_choose_trial_to_run(trials=trials) is trials[2]

    trials = make_trials(TERMINATED, PAUSED, PAUSED)
    assert pm.hook.tune_choose_trial_to_run(trials=trials) is trials[1]

    assert pm.hook.tune_choose_trial_to_run(trials=make_trials(RUNNING, TERMINATED)) is None
    assert pm.hook.tune_choose_trial_to_run(trials=[]) is None


def test_fifo_continues_every_trial_and_lets_results_batch() -> None:
    scheduler = FIFOScheduler()
    pm = make_pm(scheduler)
    trial = make_trials(RUNNING)[0]
    pm.hook.tune_scheduler_on_trial_add(trial=trial)
    decision = pm.hook.tune_scheduler_on_trial_result(trial=trial, result={"loss": 1.0})
    assert decision == TrialScheduler.CONTINUE == "CONTINUE"
    pm.hook.tune_scheduler_on_trial_complete(trial=trial, result={"loss": 1.0})
    pm.hook.tune_scheduler_on_trial_error(trial=trial)
    pm.hook.tune_scheduler_on_trial_remove(trial=trial)
    assert pm.hook.tune_scheduler_needs_every_result() is False
    assert pm.hook.tune_scheduler_debug_string() == "Using FIFO scheduling algorithm."
    assert (TrialScheduler.PAUSE, TrialScheduler.STOP) == ("PAUSE", "STOP")


def test_schedulers_that_decide_per_result_need_every_result() -> None:
    class StopAfterTwo(FIFOScheduler):
        def on_trial_result(self, trial, result):
            return self.STOP if result["training_iteration"] >= 2 else self.CONTINUE

    pm = make_pm(StopAfterTwo())
    assert pm.hook.tune_scheduler_needs_every_result() is True
    trial = make_trials(RUNNING)[0]
    assert pm.hook.tune_scheduler_on_trial_result(
        trial=trial, result={"training_iteration": 1}
    ) == ("CONTINUE")
    assert pm.hook.tune_scheduler_on_trial_result(
        trial=trial, result={"training_iteration": 2}
    ) == ("STOP")
    assert make_pm(TrialScheduler()).hook.tune_scheduler_needs_every_result() is True


# -- Ray Tune compatibility: overrides with a leading tune_controller ------------------------------


class RayStyleScheduler(TrialScheduler):
    """Written exactly as for Ray Tune: every method takes the controller first."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_trial_add(self, tune_controller, trial):
        self.calls.append(("add", tune_controller, trial.trial_id))

    def on_trial_error(self, tune_controller, trial):
        self.calls.append(("error", tune_controller, trial.trial_id))

    def on_trial_result(self, tune_controller, trial, result):
        self.calls.append(("result", tune_controller, trial.trial_id))
        # Ray-style super() call passes the controller too.
        super().on_trial_result(tune_controller, trial, result)
        return TrialScheduler.STOP if result["loss"] < 0.5 else TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller, trial, result):
        self.calls.append(("complete", tune_controller, trial.trial_id, result))

    def on_trial_remove(self, tune_controller, trial):
        self.calls.append(("remove", tune_controller, trial.trial_id))

    def choose_trial_to_run(self, tune_controller):
        for trial in tune_controller.get_trials():
            if trial.status == PAUSED:
                return trial
        return None


def test_ray_style_overrides_get_none_for_the_controller() -> None:
    scheduler = RayStyleScheduler()
    pm = make_pm(scheduler)
    trial = make_trials(RUNNING)[0]
    pm.hook.tune_scheduler_on_trial_add(trial=trial)
    assert pm.hook.tune_scheduler_on_trial_result(trial=trial, result={"loss": 1.0}) == "CONTINUE"
    assert pm.hook.tune_scheduler_on_trial_result(trial=trial, result={"loss": 0.1}) == "STOP"
    pm.hook.tune_scheduler_on_trial_complete(trial=trial, result={"loss": 0.1})
    pm.hook.tune_scheduler_on_trial_error(trial=trial)
    pm.hook.tune_scheduler_on_trial_remove(trial=trial)
    assert scheduler.calls == [
        ("add", None, "t0"),
        ("result", None, "t0"),
        ("result", None, "t0"),
        ("complete", None, "t0", {"loss": 0.1}),
        ("error", None, "t0"),
        ("remove", None, "t0"),
    ]


def test_ray_style_choose_trial_to_run_gets_the_candidates_via_get_trials() -> None:
    pm = make_pm(RayStyleScheduler())
    trials = make_trials(PENDING, PAUSED)
    assert pm.hook.tune_choose_trial_to_run(trials=trials) is trials[1]


def test_older_trial_runner_name_and_super_calls_are_supported() -> None:
    class OldStyle(FIFOScheduler):
        def choose_trial_to_run(self, trial_runner):
            return super().choose_trial_to_run(trial_runner)

        def on_trial_add(self, trial_runner, trial):
            self.added = (trial_runner, trial)

    scheduler = OldStyle()
    pm = make_pm(scheduler)
    trials = make_trials(RUNNING, PENDING)
    assert pm.hook.tune_choose_trial_to_run(trials=trials) is trials[1]
    pm.hook.tune_scheduler_on_trial_add(trial=trials[0])
    assert scheduler.added == (None, trials[0])


def test_new_style_override_with_optional_extra_parameter_is_not_mistaken() -> None:
    class NewStyle(TrialScheduler):
        def on_trial_result(self, trial, result, verbose=False):
            return self.PAUSE if trial.trial_id == "t0" else self.CONTINUE

    pm = make_pm(NewStyle())
    trial = make_trials(RUNNING)[0]
    assert pm.hook.tune_scheduler_on_trial_result(trial=trial, result={}) == "PAUSE"


# -- search properties and state -----------------------------------------------------------------


def test_set_search_properties_through_the_configure_hook() -> None:
    scheduler = FIFOScheduler()
    pm = make_pm(scheduler)
    assert pm.hook.tune_scheduler_configure(metric="loss", mode="min", spec={}) is True
    assert (scheduler.metric, scheduler.mode) == ("loss", "min")
    # A scheduler that has its own metric keeps it and says so.
    assert pm.hook.tune_scheduler_configure(metric="acc", mode=None, spec={}) is False
    assert scheduler.metric == "loss"

    only_mode = TrialScheduler()
    assert only_mode.set_search_properties(None, "max") is True
    assert (only_mode.metric, only_mode.mode) == (DEFAULT_METRIC, "max")

    with pytest.raises(TuneValueError, match="mode"):
        TrialScheduler().set_search_properties("loss", "maximize")


def test_state_round_trip_through_hooks_and_files(tmp_path) -> None:
    class Counting(FIFOScheduler):
        def __init__(self) -> None:
            super().__init__()
            self.seen = 0

        def on_trial_add(self, trial):
            self.seen += 1

    first = Counting()
    pm = make_pm(first)
    for trial in make_trials(PENDING, PENDING, PENDING):
        pm.hook.tune_scheduler_on_trial_add(trial=trial)
    state = pm.hook.tune_scheduler_get_state()
    assert state["seen"] == 3

    second = Counting()
    assert make_pm(second).hook.tune_scheduler_set_state(state=state) is True
    assert second.seen == 3

    path = str(tmp_path / "scheduler.pkl")
    first.save(path)
    third = Counting()
    third.restore(path)
    assert third.seen == 3


# -- the package: plugin classes by name, create_scheduler ---------------------------------------


def test_create_scheduler_by_name() -> None:
    assert isinstance(create_scheduler("fifo"), FIFOScheduler)
    with pytest.raises(UnknownPluginNameError, match="fifo"):
        create_scheduler("no_such_scheduler")


def test_plugin_scheduler_classes_resolve_or_say_what_to_install() -> None:
    import tune.schedulers

    if importlib.util.find_spec("tune_schedulers") is None:
        with pytest.raises(ImportError, match="tune-schedulers"):
            from tune.schedulers import ASHAScheduler  # noqa: F401
    else:
        from tune.schedulers import ASHAScheduler

        assert issubclass(ASHAScheduler, TrialScheduler)

    with pytest.raises(ImportError):
        from tune.schedulers import NoSuchScheduler  # noqa: F401
    assert not hasattr(tune.schedulers, "NoSuchScheduler")


def test_scheduler_can_end_waiting_trials_without_running_them(tmp_path):
    import tune

    class SkipOdd(FIFOScheduler):
        def trials_to_stop(self, trials):
            return [t for t in trials if t.config["x"] % 2]

    def fn(config):
        tune.report({"x": config["x"]})

    results = tune.Tuner(
        fn,
        param_space={"x": tune.grid_search([0, 1, 2, 3])},
        tune_config=tune.TuneConfig(scheduler=SkipOdd()),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert results.num_terminated == 4 and results.num_errors == 0
    ran = sorted(r.config["x"] for r in results if r.metrics.get("training_iteration"))
    assert ran == [0, 2]
