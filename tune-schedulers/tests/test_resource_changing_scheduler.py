"""ResourceChangingScheduler, DistributeResources and DistributeResourcesToTopJob.

The allocation tests replay Ray Tune's scenarios on synthetic trials (8 CPUs, 8 GPUs, four
trials); the end-to-end tests run real trials on a local executor given 4 virtual CPUs, so
trials can grow from 1 CPU while the machine has 2.
"""

from __future__ import annotations

import os
import pickle
import time
import warnings

import cloudpickle
import pytest

import tune
from tune.errors import TuneTypeError, TuneValueError
from tune.execution.local import LocalExecutor
from tune.resources import PlacementGroupFactory
from tune.restore import load_restored
from tune.schedulers import TrialScheduler
from tune.trial import PENDING, RUNNING, TERMINATED, Trial
from tune_schedulers import (
    ASHAScheduler,
    DistributeResources,
    DistributeResourcesToTopJob,
    ResourceChangingScheduler,
)
from tune_schedulers.resource_changing_scheduler import AllocationContext

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP
TOTAL = {"CPU": 8.0, "GPU": 8.0, "memory": 1e12}


def history(result) -> dict[str, list]:
    """A trial's result.json as columns (what ``metrics_dataframe`` gives, without pandas)."""
    import json
    import os

    columns: dict[str, list] = {}
    with open(os.path.join(result.path, "result.json")) as f:
        for line in f:
            if line.strip():
                for key, value in json.loads(line).items():
                    columns.setdefault(key, []).append(value)
    return columns


def pgf(*bundles):
    return PlacementGroupFactory(list(bundles))


def start(scheduler, base, n=4, total=TOTAL, metric=None, mode=None):
    """Configure ``scheduler`` and give it ``n`` RUNNING trials requesting ``base``."""
    assert scheduler.set_search_properties(metric, mode, total_resources=dict(total))
    trials = []
    for i in range(n):
        trial = Trial(f"t{i}", {"i": i}, placement_group_factory=base)
        scheduler.on_trial_add(trial)
        trial.status = RUNNING
        trials.append(trial)
    return trials


def report(scheduler, trial, metric=1.0, iteration=4):
    result = {"metric": metric, "training_iteration": iteration}
    decision = scheduler.on_trial_result(trial, result)
    trial.last_result = result
    return decision


def resized(scheduler, trial, expected, metric=1.0):
    assert report(scheduler, trial, metric) == PAUSE
    assert trial.placement_group_factory == expected
    assert trial.resources_changed


def finish(scheduler, trial):
    trial.status = TERMINATED
    scheduler.on_trial_complete(trial, trial.last_result)


def uniform(**kw):
    return ResourceChangingScheduler(resources_allocation_function=DistributeResources(**kw))


def top(**kw):
    return ResourceChangingScheduler(
        resources_allocation_function=DistributeResourcesToTopJob(metric="metric", mode="max", **kw)
    )


# ---- DistributeResources -------------------------------------------------------------------


def test_free_cpus_are_shared_evenly():
    rcs = uniform()
    t1, t2, t3, t4 = start(rcs, pgf({"CPU": 1}))
    resized(rcs, t1, pgf({"CPU": 2}))  # 4 spare CPUs, 4 trials: one each
    resized(rcs, t2, pgf({"CPU": 2}))
    finish(rcs, t4)
    resized(rcs, t1, pgf({"CPU": 3}))  # 5 spare, 3 trials: ceil(5/3) = 2 each at most
    finish(rcs, t3)
    resized(rcs, t1, pgf({"CPU": 4}))
    finish(rcs, t2)
    resized(rcs, t1, pgf({"CPU": 8}))
    assert rcs.num_reallocations == 5
    # Nothing left to hand out: the next result just continues.
    assert report(rcs, t1) == CONTINUE


def test_first_result_and_full_machine_change_nothing():
    rcs = uniform()
    t1, *_ = start(rcs, pgf({"CPU": 2}))
    assert report(rcs, t1, iteration=0) == CONTINUE  # nothing learned yet
    assert report(rcs, t1) == CONTINUE  # 4 trials x 2 CPUs = all 8
    assert t1.placement_group_factory == pgf({"CPU": 2})


def test_increase_by_unit():
    rcs = uniform(increase_by={"CPU": 2, "GPU": 2})
    t1, t2, t3, t4 = start(rcs, pgf({"CPU": 2, "GPU": 2}))
    assert report(rcs, t1) == CONTINUE
    finish(rcs, t4)
    resized(rcs, t1, pgf({"CPU": 4, "GPU": 4}))
    finish(rcs, t3)
    resized(rcs, t2, pgf({"CPU": 4, "GPU": 4}))
    finish(rcs, t2)
    resized(rcs, t1, pgf({"CPU": 8, "GPU": 8}))


def test_increase_by_times_caps_growth():
    rcs = uniform(increase_by={"GPU": 2}, increase_by_times=2)
    t1, t2, t3, t4 = start(rcs, pgf({"CPU": 1, "GPU": 2}))
    assert report(rcs, t1) == CONTINUE
    finish(rcs, t4)
    resized(rcs, t1, pgf({"CPU": 1, "GPU": 4}))
    finish(rcs, t3)
    resized(rcs, t2, pgf({"CPU": 1, "GPU": 4}))
    finish(rcs, t2)
    # 4 free GPUs but at most 2 units of 2 GPUs on top of the base.
    resized(rcs, t1, pgf({"CPU": 1, "GPU": 6}))
    assert report(rcs, t1) == CONTINUE


def test_over_commitment_gives_back_down_to_the_base():
    rcs = uniform(increase_by={"GPU": 2})
    t1, t2, t3, t4 = start(rcs, pgf({"CPU": 1, "GPU": 2}))
    t1.placement_group_factory = pgf({"CPU": 1, "GPU": 4})
    t4.status = PENDING  # waiting trials count: 10 GPUs wanted, 8 exist
    resized(rcs, t1, pgf({"CPU": 1, "GPU": 2}))
    assert report(rcs, t1) == CONTINUE  # never below its base


def test_add_bundles():
    rcs = uniform(add_bundles=True)
    t1, t2, t3, t4 = start(rcs, pgf({"CPU": 1}))
    resized(rcs, t1, pgf(*[{"CPU": 1}] * 2))
    resized(rcs, t2, pgf(*[{"CPU": 1}] * 2))
    finish(rcs, t4)
    resized(rcs, t1, pgf(*[{"CPU": 1}] * 3))
    finish(rcs, t3)
    resized(rcs, t1, pgf(*[{"CPU": 1}] * 4))
    finish(rcs, t2)
    resized(rcs, t1, pgf(*[{"CPU": 1}] * 8))


def test_add_bundles_keeps_an_empty_head_bundle_and_uses_the_last_as_unit():
    rcs = uniform(add_bundles=True)
    t1, t2, t3, t4 = start(rcs, pgf({}, {"CPU": 2, "GPU": 2}))
    assert report(rcs, t1) == CONTINUE
    finish(rcs, t4)
    resized(rcs, t1, pgf({}, *[{"CPU": 2, "GPU": 2}] * 2))
    finish(rcs, t3)
    finish(rcs, t2)
    resized(rcs, t1, pgf({}, *[{"CPU": 2, "GPU": 2}] * 4))


def test_add_bundles_increase_by_times_and_give_back():
    rcs = uniform(add_bundles=True, increase_by={"GPU": 2}, increase_by_times=2)
    t1, t2, t3, t4 = start(rcs, pgf({"CPU": 1}, {"GPU": 2}))
    for t in (t4, t3, t2):
        finish(rcs, t)
    resized(rcs, t1, pgf({"CPU": 1}, {"GPU": 2}, {"GPU": 2}, {"GPU": 2}))
    # More trials than room: give the extra bundles back.
    late = Trial("late", {}, placement_group_factory=pgf({"CPU": 1}, {"GPU": 2}))
    rcs.on_trial_add(late)
    for i in range(3):
        rcs.on_trial_add(Trial(f"late{i}", {}, placement_group_factory=pgf({"CPU": 1}, {"GPU": 2})))
    resized(rcs, t1, pgf({"CPU": 1}, {"GPU": 2}))


def test_reserve_resources_are_never_handed_out():
    rcs = uniform(reserve_resources={"CPU": 3})
    t1, t2 = start(rcs, pgf({"CPU": 1}), n=2)
    finish(rcs, t2)
    resized(rcs, t1, pgf({"CPU": 5}))  # 8 - 3 reserved


def test_trials_grow_from_their_own_request():
    rcs = uniform()
    assert rcs.set_search_properties(None, None, total_resources={"CPU": 8})
    small = Trial("small", {}, placement_group_factory=pgf({"CPU": 1}))
    big = Trial("big", {}, placement_group_factory=pgf({"CPU": 3}))
    for t in (small, big):
        rcs.on_trial_add(t)
        t.status = RUNNING
    resized(rcs, small, pgf({"CPU": 3}))  # 4 spare, 2 trials: 2 each
    resized(rcs, big, pgf({"CPU": 5}))
    assert rcs.get_base_trial_resources(big) == pgf({"CPU": 3})
    assert rcs.base_trial_resources == pgf({"CPU": 1})  # Ray's name: the first trial's


def test_several_bundles_without_add_bundles_grow_the_first():
    rcs = uniform()
    t1, t2 = start(rcs, pgf({"CPU": 1}, {"CPU": 1}), n=2)
    finish(rcs, t2)
    resized(rcs, t1, pgf({"CPU": 7}, {"CPU": 1}))


def test_unknown_total_changes_nothing():
    rcs = uniform()
    t1 = Trial("t", {})
    rcs.on_trial_add(t1)
    t1.status = RUNNING
    assert rcs.on_trial_result(t1, {"training_iteration": 3}) == CONTINUE


def test_allocation_functions_work_on_their_own_context():
    trials = [Trial(f"t{i}", {}) for i in range(3)]
    trials[2].status = TERMINATED
    context = AllocationContext(trials, {"CPU": 4})
    assert context.get_live_trials() == trials[:2]
    assert context.get_trials() == trials
    assert context._resource_updater.get_num_cpus() == 4
    assert context.trial_executor._resource_updater.get_num_gpus() == 0
    # No scheduler: each trial's current request is its base.
    new = DistributeResources()(context, trials[0], {"training_iteration": 2}, None)
    assert new == pgf({"CPU": 2})


# ---- DistributeResourcesToTopJob -----------------------------------------------------------


def prepare_top(rcs, base, **kw):
    trials = start(rcs, base, **kw)
    for t, value in zip(trials, (1.0, 0.9, 0.8, 0.7)):
        t.last_result = {"metric": value, "training_iteration": 3}
    return trials


def test_top_job_gets_all_free_resources():
    rcs = top()
    t1, t2, t3, t4 = prepare_top(rcs, pgf({"CPU": 1}))
    assert report(rcs, t2, 0.9) == CONTINUE  # not the best
    resized(rcs, t1, pgf({"CPU": 5}))
    assert report(rcs, t1, 1.0) == CONTINUE
    finish(rcs, t4)
    resized(rcs, t2, pgf({"CPU": 2}), metric=1.1)  # now the best: takes the free CPU
    finish(rcs, t3)
    resized(rcs, t1, pgf({"CPU": 6}), metric=1.2)
    finish(rcs, t2)
    resized(rcs, t1, pgf({"CPU": 8}))


def test_top_job_increase_by_times_passes_growth_to_the_next_best():
    rcs = top(increase_by={"GPU": 2}, increase_by_times=2)
    t1, t2, t3, t4 = prepare_top(rcs, pgf({"CPU": 1, "GPU": 2}))
    assert report(rcs, t1, 1.0) == CONTINUE  # every GPU in use
    finish(rcs, t4)
    resized(rcs, t1, pgf({"CPU": 1, "GPU": 4}))
    finish(rcs, t3)
    resized(rcs, t2, pgf({"CPU": 1, "GPU": 4}), metric=1.1)
    finish(rcs, t2)
    resized(rcs, t1, pgf({"CPU": 1, "GPU": 6}), metric=1.2)  # 2 units: its limit


def test_top_job_at_its_limit_leaves_the_rest_to_the_next_best():
    rcs = top(increase_by={"GPU": 2}, increase_by_times=2)
    t1, t2 = prepare_top(rcs, pgf({"CPU": 1, "GPU": 2}), n=2, total={"CPU": 8, "GPU": 12})
    resized(rcs, t1, pgf({"CPU": 1, "GPU": 6}))  # 8 free GPUs, but at most 2 units
    assert report(rcs, t1, 1.0) == CONTINUE
    resized(rcs, t2, pgf({"CPU": 1, "GPU": 6}), metric=0.9)


def test_top_job_add_bundles_and_give_back():
    rcs = top(add_bundles=True, increase_by={"GPU": 2})
    t1, t2, t3, t4 = prepare_top(rcs, pgf({"CPU": 1}, {"GPU": 2}))
    t1.placement_group_factory = pgf({"CPU": 1}, {"GPU": 2}, {"GPU": 2})
    t4.status = PENDING
    resized(rcs, t1, pgf({"CPU": 1}, {"GPU": 2}))


def test_top_job_min_mode_ranks_trials_without_the_metric_last():
    rcs = ResourceChangingScheduler(
        resources_allocation_function=DistributeResourcesToTopJob(metric="loss", mode="min")
    )
    t1, t2 = start(rcs, pgf({"CPU": 1}), n=2)
    t1.last_result = {"training_iteration": 3}  # no loss yet
    assert rcs.on_trial_result(t2, {"loss": 0.5, "training_iteration": 3}) == PAUSE
    assert t2.placement_group_factory == pgf({"CPU": 7})
    assert rcs.on_trial_result(t1, {"training_iteration": 4}) == CONTINUE


def test_top_job_takes_metric_and_mode_from_the_experiment():
    rcs = ResourceChangingScheduler(resources_allocation_function=DistributeResourcesToTopJob())
    t1, t2 = start(rcs, pgf({"CPU": 1}), n=2, metric="metric", mode="min")
    t1.last_result = {"metric": 0.1, "training_iteration": 3}
    assert report(rcs, t2, 0.5) == CONTINUE
    resized(rcs, t1, pgf({"CPU": 7}), metric=0.1)


# ---- the scheduler itself ---------------------------------------------------------------------


def test_last_results_and_too_big_requests_are_not_applied(caplog):
    rcs = ResourceChangingScheduler(
        resources_allocation_function=lambda ctx, trial, result, sched: {"CPU": 64}
    )
    t1, t2 = start(rcs, pgf({"CPU": 1}), n=2)
    assert rcs.on_trial_result(t1, {"training_iteration": 2, "done": True}) == CONTINUE
    with caplog.at_level("WARNING", logger="tune"):
        assert report(rcs, t1) == CONTINUE
    assert "only has" in caplog.text
    assert t1.placement_group_factory == pgf({"CPU": 1})


def test_bad_return_value_names_the_function():
    rcs = ResourceChangingScheduler(resources_allocation_function=lambda *a: "4 CPUs")
    t1, _ = start(rcs, pgf({"CPU": 1}), n=2)
    with pytest.raises(TuneTypeError, match="resources_allocation_function"):
        report(rcs, t1)


def test_no_allocation_function_warns_and_changes_nothing():
    with pytest.warns(UserWarning, match="resources_allocation_function=None"):
        rcs = ResourceChangingScheduler(resources_allocation_function=None)
    t1, t2 = start(rcs, pgf({"CPU": 1}), n=2)
    finish(rcs, t2)
    assert report(rcs, t1) == CONTINUE


def test_ray_style_allocation_function_gets_what_it_uses():
    seen = {}

    def ray_fn(tune_controller, trial, result, scheduler):
        seen["live"] = [t.trial_id for t in tune_controller.get_live_trials()]
        seen["all"] = [t.trial_id for t in tune_controller.get_trials()]
        total = tune_controller._resource_updater.get_num_cpus()
        base_cpu = scheduler.base_trial_resources.required_resources().get("CPU", 0)
        cpus = max(base_cpu, total // len(tune_controller.get_live_trials()))
        return PlacementGroupFactory([{"CPU": cpus, "GPU": 0}])

    rcs = ResourceChangingScheduler(resources_allocation_function=ray_fn)
    t1, t2, t3, t4 = start(rcs, pgf({"CPU": 1}))
    finish(rcs, t4)
    resized(rcs, t1, pgf({"CPU": 2}))
    assert seen == {"live": ["t0", "t1", "t2"], "all": ["t0", "t1", "t2", "t3"]}


def test_wrapping_asha_keeps_its_decisions():
    def make_asha():
        return ASHAScheduler(max_t=8, grace_period=1, reduction_factor=2)

    alone, wrapped = make_asha(), ResourceChangingScheduler(make_asha())
    alone.set_search_properties("loss", "min", total_resources={"CPU": 8})
    trials_alone = start(wrapped, pgf({"CPU": 1}), metric="loss", mode="min",
                         total={"CPU": 8})
    assert (wrapped.metric, wrapped.mode) == ("loss", "min")
    for t in trials_alone:
        alone.on_trial_add(t)
    losses = [3.0, 1.0, 4.0, 0.5]
    stopped = set()
    for it in range(1, 9):
        for t, q in zip(trials_alone, losses):
            if t.trial_id in stopped:
                continue
            result = {"loss": q + 1.0 / it, "training_iteration": it}
            expected = alone.on_trial_result(t, result)
            got = wrapped.on_trial_result(t, result)
            t.last_result = result
            if expected == CONTINUE:
                assert got in (CONTINUE, PAUSE)
            else:
                assert got == expected
            if expected == STOP:
                stopped.add(t.trial_id)
                t.status = TERMINATED
                alone.on_trial_complete(t, result)
                wrapped.on_trial_complete(t, result)
    assert stopped == {t.trial_id for t in trials_alone}  # max_t stops the survivors
    assert wrapped.num_reallocations > 0
    assert wrapped.debug_string() == "(ResourceChangingScheduler) " + alone.debug_string()


def test_metric_and_mode_reach_the_base_scheduler():
    rcs = ResourceChangingScheduler(ASHAScheduler(max_t=4), metric="loss", mode="min")
    assert rcs.set_search_properties(None, None, total_resources={"CPU": 2})
    assert (rcs.base_scheduler.metric, rcs.base_scheduler.mode) == ("loss", "min")
    # Given here and by the experiment: a conflict, as for any scheduler.
    clash = ResourceChangingScheduler(metric="loss", mode="min")
    assert not clash.set_search_properties("acc", "max", total_resources={"CPU": 2})
    clash = ResourceChangingScheduler(ASHAScheduler(metric="loss", mode="min"))
    assert not clash.set_search_properties("acc", "max", total_resources={"CPU": 2})


def test_state_round_trip():
    rcs = ResourceChangingScheduler(ASHAScheduler(max_t=8), DistributeResources())
    t1, t2, t3, t4 = start(rcs, pgf({"CPU": 1}), metric="loss", mode="min")
    finish(rcs, t4)
    assert rcs.on_trial_result(t1, {"loss": 1.0, "training_iteration": 2}) == PAUSE
    state = pickle.loads(cloudpickle.dumps(rcs.get_state()))

    fresh = ResourceChangingScheduler(ASHAScheduler(max_t=8), DistributeResources())
    fresh.set_state(state)
    assert (fresh.metric, fresh.mode) == ("loss", "min")
    assert fresh.num_reallocations == 1
    assert fresh.debug_string() == rcs.debug_string()
    assert fresh.base_scheduler.recorded() == rcs.base_scheduler.recorded()
    # A restored trial object (resized, reconfigured) still grows from its original request.
    restored = Trial(t1.trial_id, t1.config, placement_group_factory=t1.placement_group_factory)
    restored.reconfigured = True
    assert fresh.get_base_trial_resources(restored) == pgf({"CPU": 1})
    # Waiting trials handed to choose_trial_to_run are known again.
    restored.status = "PAUSED"
    assert fresh.choose_trial_to_run([restored]) is restored
    assert fresh.context.get_live_trials() == [restored]


# ---- argument errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: DistributeResources(add_bundles="yes"), TuneTypeError, "add_bundles"),
        (lambda: DistributeResources(increase_by="CPU"), TuneTypeError, "increase_by"),
        (lambda: DistributeResources(increase_by={"CPU": -1}), TuneValueError, "-1"),
        (lambda: DistributeResources(increase_by={"CPU": 0}), TuneValueError, "positive"),
        (lambda: DistributeResources(increase_by_times=1.5), TuneTypeError, "increase_by_times"),
        (lambda: DistributeResources(reserve_resources={"GPU": "x"}), TuneTypeError, "GPU"),
        (lambda: DistributeResourcesToTopJob(mode="best"), TuneValueError, "'best'"),
        (lambda: DistributeResourcesToTopJob(metric=3), TuneValueError, "metric"),
        (lambda: ResourceChangingScheduler("asha"), TuneTypeError, "base_scheduler"),
        (
            lambda: ResourceChangingScheduler(resources_allocation_function=3),
            TuneTypeError,
            "resources_allocation_function",
        ),
        (lambda: ResourceChangingScheduler(mode="up"), TuneValueError, "'up'"),
    ],
)
def test_bad_arguments(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_top_job_without_metric_fails_before_trials_run(run_config):
    scheduler = ResourceChangingScheduler(
        resources_allocation_function=DistributeResourcesToTopJob()
    )
    with pytest.raises(TuneValueError, match="DistributeResourcesToTopJob needs a metric"):
        tune.Tuner(
            lambda config: tune.report({"x": 1}),
            tune_config=tune.TuneConfig(scheduler=scheduler),
            run_config=run_config(),
        ).fit()


def test_created_by_name():
    rcs = tune.create_scheduler(
        "resource_changing", resources_allocation_function=DistributeResources(add_bundles=True)
    )
    assert isinstance(rcs, ResourceChangingScheduler)
    assert rcs.resources_allocation_function.add_bundles


# ---- end to end ---------------------------------------------------------------------------------


def grows(config):
    """Checkpoints every iteration; reports the CPUs it has and where it resumed from."""
    ckpt = tune.get_checkpoint()
    begin = ckpt.to_dict()["i"] if ckpt else 0
    for i in range(begin + 1, config["n"] + 1):
        cpus = tune.get_context().get_trial_resources().required_resources().get("CPU", 0)
        time.sleep(0.03)
        tune.report(
            {"i": i, "cpus": cpus, "resumed_at": begin, "loss": config["q"] + 1.0 / i},
            checkpoint=tune.Checkpoint.from_dict({"i": i}),
        )


def test_function_trial_grows_when_others_finish(run_config):
    scheduler = ResourceChangingScheduler()
    grid = tune.Tuner(
        grows,
        param_space={"n": tune.grid_search([2, 2, 2, 20]), "q": 0.0},
        tune_config=tune.TuneConfig(scheduler=scheduler, executor=LocalExecutor(num_cpus=4)),
        run_config=run_config(),
    ).fit()
    assert not grid.errors
    long = next(r for r in grid if r.config["n"] == 20)
    df = history(long)
    assert list(df["i"]) == list(range(1, 21))  # resumed, never restarted
    assert list(df["training_iteration"]) == list(range(1, 21))
    assert df["cpus"][0] == 1 and df["cpus"][-1] == 4
    assert list(df["cpus"]) == sorted(df["cpus"])
    assert df["resumed_at"][-1] > 0  # restored from its own checkpoint
    assert scheduler.num_reallocations >= 1
    for r in grid:
        if r.config["n"] == 2:
            assert list(history(r)["cpus"]) == [1, 1]


class Resizable(tune.Trainable):
    def setup(self, config):
        self.n = config["n"]
        self.updates = []
        self.restored_from = None

    def step(self):
        time.sleep(0.03)
        cpus = self.trial_resources.required_resources().get("CPU", 0)
        return {
            "cpus": cpus,
            "updates": list(self.updates),
            "restored_from": self.restored_from,
            "done": self.iteration + 1 >= self.n,
        }

    def update_resources(self, trial_resources):
        self.updates.append(trial_resources.required_resources().get("CPU", 0))

    def save_checkpoint(self, checkpoint_dir):
        return {"iteration": self.iteration}

    def load_checkpoint(self, checkpoint):
        self.restored_from = checkpoint["iteration"]


def test_class_trainable_hears_of_new_resources(run_config):
    scheduler = ResourceChangingScheduler(
        resources_allocation_function=DistributeResources(add_bundles=True)
    )
    grid = tune.Tuner(
        Resizable,
        param_space={"n": tune.grid_search([2, 15])},
        tune_config=tune.TuneConfig(scheduler=scheduler, executor=LocalExecutor(num_cpus=3)),
        run_config=run_config(),
    ).fit()
    assert not grid.errors
    long = next(r for r in grid if r.config["n"] == 15)
    df = history(long)
    assert list(df["training_iteration"]) == list(range(1, 16))
    assert df["cpus"][-1] == 3
    last = long.metrics
    assert last["updates"] == [3]  # update_resources ran after the restore, once
    assert last["restored_from"] is not None


def test_ray_style_function_end_to_end(run_config):
    def example_resources_allocation_function(tune_controller, trial, result, scheduler):
        if result["training_iteration"] < 1:
            return None
        base = scheduler.base_trial_resources
        min_cpu = base.required_resources().get("CPU", 0)
        total = tune_controller._resource_updater.get_num_cpus()
        cpus = max(min_cpu, total // len(tune_controller.get_live_trials()))
        return PlacementGroupFactory([{"CPU": cpus, "GPU": 0}])

    grid = tune.Tuner(
        grows,
        param_space={"n": tune.grid_search([2, 15]), "q": 0.0},
        tune_config=tune.TuneConfig(
            scheduler=ResourceChangingScheduler(
                resources_allocation_function=example_resources_allocation_function
            ),
            executor=LocalExecutor(num_cpus=4),
        ),
        run_config=run_config(),
    ).fit()
    assert not grid.errors
    df = history(next(r for r in grid if r.config["n"] == 15))
    assert list(df["i"]) == list(range(1, 16))
    assert df["cpus"][-1] == 4


@pytest.mark.parametrize("wrapped", [False, True], ids=["asha", "rcs(asha)"])
def test_asha_stops_the_same_trials_when_wrapped(run_config, wrapped):
    # One trial at a time, so ASHA's decisions do not depend on timing; the last trial is
    # alone and grows to all 4 CPUs.
    asha = ASHAScheduler(max_t=6, grace_period=1, reduction_factor=2)
    scheduler = ResourceChangingScheduler(asha) if wrapped else asha
    grid = tune.Tuner(
        grows,
        param_space={"n": 20, "q": tune.grid_search([1.0, 2.0, 3.0, 0.5])},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=scheduler,
            executor=LocalExecutor(num_cpus=4), max_concurrent_trials=1,
        ),
        run_config=run_config(),
    ).fit()
    assert not grid.errors
    iterations = {r.config["q"]: r.metrics["training_iteration"] for r in grid}
    assert iterations == {1.0: 6, 2.0: 1, 3.0: 1, 0.5: 6}
    best = history(next(r for r in grid if r.config["q"] == 0.5))
    assert list(best["i"]) == list(range(1, 7))
    assert best["cpus"][-1] == (4 if wrapped else 1)


def test_state_saved_with_experiment(run_config):
    def make():
        return ResourceChangingScheduler(ASHAScheduler(max_t=6, reduction_factor=2))

    scheduler = make()
    grid = tune.Tuner(
        grows,
        param_space={"n": 6, "q": tune.grid_search([1.0, 0.5])},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=scheduler, executor=LocalExecutor(num_cpus=4)
        ),
        run_config=run_config(name="saved"),
    ).fit()
    assert not grid.errors
    restored = load_restored(
        grid.experiment_path, resume_unfinished=True, resume_errored=False, restart_errored=False
    )
    assert restored.scheduler_state is not None
    fresh = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh.set_state(restored.scheduler_state)
    assert fresh.debug_string() == scheduler.debug_string()
    assert (fresh.metric, fresh.mode) == ("loss", "min")


def fails_once(config):
    """Like ``grows``, but fails at iteration 8 the first time."""
    ckpt = tune.get_checkpoint()
    begin = ckpt.to_dict()["i"] if ckpt else 0
    for i in range(begin + 1, config["n"] + 1):
        cpus = tune.get_context().get_trial_resources().required_resources().get("CPU", 0)
        if i == 8 and not os.path.exists(config["mark"]):
            open(config["mark"], "w").close()
            raise RuntimeError("fails once")
        time.sleep(0.03)
        tune.report(
            {"i": i, "cpus": cpus, "resumed_at": begin},
            checkpoint=tune.Checkpoint.from_dict({"i": i}),
        )


def test_resized_trial_resumes_with_its_resources_after_restore(run_config, tmp_path):
    mark = str(tmp_path / "mark")
    grid = tune.Tuner(
        fails_once,
        param_space={"n": tune.grid_search([2, 2, 2, 12]), "mark": mark},
        tune_config=tune.TuneConfig(
            scheduler=ResourceChangingScheduler(), executor=LocalExecutor(num_cpus=4)
        ),
        run_config=run_config(name="restored"),
    ).fit()
    assert len(grid.errors) == 1
    grid = tune.Tuner.restore(grid.experiment_path, fails_once, resume_errored=True).fit()
    assert not grid.errors
    df = history(next(r for r in grid if r.config["n"] == 12))
    assert list(df["i"]) == list(range(1, 13))
    assert df["resumed_at"][-1] == 7  # its checkpoint before the failure
    assert set(df["cpus"][7:]) == {4}  # the resized request was restored too


def test_pickling_the_scheduler_leaves_the_trials_behind():
    rcs = uniform()
    t1, t2 = start(rcs, pgf({"CPU": 1}), n=2)
    t1._restore_listener = lambda *a: None  # as the controller's bound method would be
    copy = pickle.loads(cloudpickle.dumps(rcs))
    assert copy.context.get_trials() == []
    assert copy.context.total_resources == rcs.context.total_resources
    assert copy.get_base_trial_resources(t2) == pgf({"CPU": 1})
