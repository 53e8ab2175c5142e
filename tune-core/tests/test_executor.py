"""Executors driven directly through the Executor API: function and class trials, decisions,
stop criteria, checkpoints and restore, on both the local (worker processes) and inline
executors."""

from __future__ import annotations

import json
import os
import tempfile
import time

import pytest

from tune.execution.executor import (
    CHECKPOINT_KEY,
    CONTINUE,
    PAUSE,
    STOP,
    TrialCompleted,
    TrialFailed,
    TrialLaunch,
    TrialResults,
    TrialStarted,
)
from tune.execution.inline import InlineExecutor
from tune.execution.local import LocalExecutor
from tune.resources import Resources
from tune.trainable.checkpoint import Checkpoint
from tune.trainable.function_trainable import wrap_function
from tune.trainable.session import get_checkpoint, get_context, report
from tune.trainable.trainable import Trainable

# ---- trainables (module level, so spawned workers can import them) --------------------------


def counting(config):
    for i in range(config.get("n", 3)):
        report({"i": i, "pid": os.getpid()})


def returning(config):
    return {"score": config["a"] * 2}


def yielding(config):
    for i in range(4):
        yield {"score": config["a"] + i}


def forever(config):
    i = 0
    while True:
        i += 1
        report({"i": i})


def slow_forever(config):
    while True:
        time.sleep(0.01)
        report({"t": time.time()})


def checkpointing(config):
    start = 0
    ckpt = get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            with open(os.path.join(d, "state.json")) as f:
                start = json.load(f)["i"] + 1
    for i in range(start, config["n"]):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"i": i}, f)
            report({"i": i}, checkpoint=Checkpoint.from_directory(d))


def dict_checkpointing(config):
    ckpt = get_checkpoint()
    start = ckpt.to_dict()["i"] + 1 if ckpt else 0
    for i in range(start, start + 2):
        report({"i": i, "resumed": ckpt is not None}, checkpoint=Checkpoint.from_dict({"i": i}))


def context(config):
    c = get_context()
    report({
        "name": c.get_trial_name(),
        "id": c.get_trial_id(),
        "dir": c.get_trial_dir(),
        "exp": c.get_experiment_name(),
        "cpu": c.get_trial_resources().required_resources()["CPU"],
        "world": (c.get_world_size(), c.get_world_rank(), c.get_local_rank(), c.get_node_rank()),
        "cwd": os.getcwd(),
    })


def failing(config):
    report({"before": 1})
    raise ValueError("boom in trial")


def catches_everything(config):
    for i in range(100):
        try:
            report({"i": i})
        except Exception:  # a user's broad except must not swallow a stop
            pass


class Counter(Trainable):
    def setup(self, config):
        self.value = config.get("start", 0)
        self.setups = getattr(self, "setups", 0) + 1

    def step(self):
        self.value += 1
        end = self.config.get("end", 5)
        return {
            "value": self.value,
            "setups": self.setups,
            "pid": os.getpid(),
            "done": end is not None and self.value >= end,
            "should_checkpoint": self.value == self.config.get("manual_at"),
        }

    def save_checkpoint(self, checkpoint_dir):
        return {"value": self.value}

    def load_checkpoint(self, checkpoint):
        self.value = checkpoint["value"]

    def reset_config(self, new_config):
        self.value = new_config.get("start", 0)
        self.setups += 1
        return True


class DirCounter(Counter):
    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "value.txt"), "w") as f:
            f.write(str(self.value))

    def load_checkpoint(self, checkpoint):
        with open(os.path.join(checkpoint, "value.txt")) as f:
            self.value = int(f.read())


class NoReset(Counter):
    def reset_config(self, new_config):
        return False


# ---- driving helpers ----------------------------------------------------------------------


EXECUTORS = {"local": LocalExecutor, "inline": InlineExecutor}


@pytest.fixture(params=["local", "inline"])
def executor(request):
    ex = EXECUTORS[request.param]()
    ex.start()
    yield ex
    ex.shutdown()


@pytest.fixture
def local():
    ex = LocalExecutor()
    ex.start()
    yield ex
    ex.shutdown()


_counter = iter(range(10**9))


def launch_for(tmp_path, trainable, config=None, **kw):
    if isinstance(trainable, type):
        cls = trainable
    else:
        cls = wrap_function(trainable)
    trial_id = kw.pop("trial_id", f"trial{next(_counter)}")
    trial_dir = tmp_path / trial_id
    trial_dir.mkdir(parents=True, exist_ok=True)
    kw.setdefault("sync_results", False)
    return TrialLaunch(
        trial_id=trial_id,
        trial_name=f"{cls.__name__}_{trial_id}",
        trainable=cls,
        config=config or {},
        trial_dir=str(trial_dir),
        experiment_dir=str(tmp_path),
        experiment_name="exp",
        experiment_tag=f"0_{trial_id}",
        **kw,
    )


class Outcome:
    def __init__(self):
        self.events = []
        self.results = []
        self.end = None


def drive(ex, launches, on_result=None, timeout=30.0):
    """Launch every trial as capacity allows and poll until all ended."""
    if not isinstance(launches, list):
        launches = [launches]
    outcomes = {launch.trial_id: Outcome() for launch in launches}
    sync = {launch.trial_id: launch.sync_results for launch in launches}
    pending = list(launches)
    deadline = time.monotonic() + timeout
    while any(o.end is None for o in outcomes.values()):
        assert time.monotonic() < deadline, "trials did not finish in time"
        while pending and ex.fits_now(Resources(pending[0].resources)):
            ex.launch(pending.pop(0))
        for event in ex.poll(0.5):
            o = outcomes[event.trial_id]
            o.events.append(event)
            if isinstance(event, TrialResults):
                o.results.extend(event.results)
                decision = on_result(ex, event) if on_result else None
                if decision is None and sync[event.trial_id]:
                    decision = CONTINUE
                if decision is not None:
                    ex.decide(event.trial_id, decision)
            elif isinstance(event, (TrialCompleted, TrialFailed)):
                o.end = event
    return outcomes if len(outcomes) > 1 else next(iter(outcomes.values()))


# ---- function trials ----------------------------------------------------------------------


@pytest.mark.parametrize("sync", [False, True])
def test_function_reports_n_times(executor, tmp_path, sync):
    o = drive(executor, launch_for(tmp_path, counting, {"n": 5}, sync_results=sync))
    assert isinstance(o.events[0], TrialStarted)
    assert isinstance(o.end, TrialCompleted) and o.end.checkpoint_dir is None
    assert [r["i"] for r in o.results] == [0, 1, 2, 3, 4]
    assert [r["training_iteration"] for r in o.results] == [1, 2, 3, 4, 5]
    first = o.results[0]
    for key in (
        "time_this_iter_s", "time_total_s", "timestamp", "date", "done", "trial_id",
        "experiment_tag", "hostname", "node_ip", "pid", "iterations_since_restore",
        "time_since_restore",
    ):
        assert key in first, key
    assert first["trial_id"] == o.end.trial_id
    assert first["experiment_tag"] == f"0_{o.end.trial_id}"
    assert first["done"] is False
    if isinstance(executor, InlineExecutor):
        assert first["pid"] == os.getpid()
    else:
        assert first["pid"] != os.getpid()
    assert o.results[-1]["time_total_s"] >= first["time_total_s"]


def test_return_and_yield_forms(executor, tmp_path):
    o = drive(executor, launch_for(tmp_path, returning, {"a": 5}))
    assert [r["score"] for r in o.results] == [10]
    assert o.results[0]["done"] is True
    o = drive(executor, launch_for(tmp_path, yielding, {"a": 5}))
    assert [r["score"] for r in o.results] == [5, 6, 7, 8]
    assert o.results[-1]["training_iteration"] == 4


def test_stop_decision_reaches_function_at_next_report_sync(executor, tmp_path):
    def stop_at_third(ex, event):
        return STOP if event.results[-1]["i"] == 3 else CONTINUE

    o = drive(executor, launch_for(tmp_path, forever, sync_results=True), on_result=stop_at_third)
    assert isinstance(o.end, TrialCompleted)
    assert [r["i"] for r in o.results] == [1, 2, 3]


def test_stop_reaches_run_ahead_function(executor, tmp_path):
    seen = []

    def stop_soon(ex, event):
        seen.extend(event.results)
        ex.stop(event.trial_id)

    o = drive(executor, launch_for(tmp_path, slow_forever), on_result=stop_soon)
    assert isinstance(o.end, TrialCompleted)
    assert 1 <= len(o.results) <= 5


def test_stop_is_not_swallowed_by_broad_except(executor, tmp_path):
    o = drive(
        executor,
        launch_for(tmp_path, catches_everything, sync_results=True),
        on_result=lambda ex, e: STOP,
    )
    assert isinstance(o.end, TrialCompleted)
    assert len(o.results) == 1


@pytest.mark.parametrize("sync", [False, True])
def test_stop_criteria_are_exact_for_run_ahead_trials(executor, tmp_path, sync):
    launches = [
        launch_for(tmp_path, forever, stop_criteria={"training_iteration": 7}, sync_results=sync)
        for _ in range(2)
    ]
    outcomes = drive(executor, launches)
    for o in outcomes.values():
        assert [r["training_iteration"] for r in o.results] == list(range(1, 8))
        assert o.results[-1]["done"] is True
        assert isinstance(o.end, TrialCompleted)


def test_stop_criteria_on_user_metric_and_nested_key(local, tmp_path):
    def nested(config):
        for i in range(100):
            report({"m": {"acc": i / 10}})

    o = drive(local, launch_for(tmp_path, nested, stop_criteria={"m/acc": 0.5}))
    assert len(o.results) == 6


def test_function_checkpoints_land_in_trial_dir(executor, tmp_path):
    launch = launch_for(tmp_path, checkpointing, {"n": 3})
    o = drive(executor, launch)
    paths = [r[CHECKPOINT_KEY] for r in o.results]
    assert [os.path.basename(p) for p in paths] == [
        "checkpoint_000001", "checkpoint_000002", "checkpoint_000003",
    ]
    for i, p in enumerate(paths):
        assert os.path.dirname(p) == launch.trial_dir
        with open(os.path.join(p, "state.json")) as f:
            assert json.load(f) == {"i": i}


def test_function_restore_continues_from_checkpoint(executor, tmp_path):
    first = launch_for(tmp_path, checkpointing, {"n": 2})
    o = drive(executor, first)
    last = o.results[-1][CHECKPOINT_KEY]
    resumed = launch_for(
        tmp_path, checkpointing, {"n": 4}, restore_checkpoint=last, trial_id=first.trial_id
    )
    o = drive(executor, resumed)
    assert [r["i"] for r in o.results] == [2, 3]
    assert [r["training_iteration"] for r in o.results] == [3, 4]
    assert [r["iterations_since_restore"] for r in o.results] == [1, 2]
    assert os.path.basename(o.results[-1][CHECKPOINT_KEY]) == "checkpoint_000004"


def test_dict_checkpoints_and_get_checkpoint(executor, tmp_path):
    o = drive(executor, launch_for(tmp_path, dict_checkpointing))
    assert [r["resumed"] for r in o.results] == [False, False]
    last = o.results[-1][CHECKPOINT_KEY]
    assert Checkpoint(last).to_dict() == {"i": 1}
    o = drive(executor, launch_for(tmp_path, dict_checkpointing, restore_checkpoint=last))
    assert [r["i"] for r in o.results] == [2, 3]
    assert all(r["resumed"] for r in o.results)


def test_pause_of_function_trial_returns_latest_checkpoint(executor, tmp_path):
    def pause_at_two(ex, event):
        return PAUSE if event.results[-1]["i"] == 1 else CONTINUE

    o = drive(
        executor,
        launch_for(tmp_path, checkpointing, {"n": 10}, sync_results=True),
        on_result=pause_at_two,
    )
    assert len(o.results) == 2
    assert o.end.checkpoint_dir == o.results[-1][CHECKPOINT_KEY]


def test_get_context_values(executor, tmp_path):
    launch = launch_for(tmp_path, context, resources=Resources({"CPU": 1.0}))
    o = drive(executor, launch)
    r = o.results[0]
    assert r["name"] == launch.trial_name
    assert r["id"] == launch.trial_id
    assert r["dir"] == launch.trial_dir
    assert r["exp"] == "exp"
    assert r["cpu"] == 1.0
    assert tuple(r["world"]) == (1, 0, 0, 0)
    if isinstance(executor, LocalExecutor):
        assert os.path.realpath(r["cwd"]) == os.path.realpath(launch.trial_dir)


def test_trial_exception_becomes_trial_failed(executor, tmp_path):
    o = drive(executor, launch_for(tmp_path, failing))
    assert isinstance(o.end, TrialFailed)
    assert not o.end.worker_died
    assert o.end.error == "ValueError: boom in trial"
    assert "Traceback" in o.end.traceback and "boom in trial" in o.end.traceback
    assert "failing" in o.end.traceback
    assert isinstance(o.end.exception, ValueError)
    assert [r["before"] for r in o.results] == [1]


def test_report_of_a_non_dict_fails_the_trial(executor, tmp_path):
    def bad(config):
        report([1, 2])

    o = drive(executor, launch_for(tmp_path, bad))
    assert isinstance(o.end, TrialFailed)
    assert "metrics" in o.end.error


def test_worker_survives_a_failed_trial(local, tmp_path):
    drive(local, launch_for(tmp_path, failing))
    pids = {r["pid"] for r in drive(local, launch_for(tmp_path, counting)).results}
    assert len(pids) == 1


def test_old_style_keyword_report(executor, tmp_path):
    def kw(config):
        report(loss=1.5, acc=0.5)

    o = drive(executor, launch_for(tmp_path, kw))
    assert o.results[0]["loss"] == 1.5 and o.results[0]["acc"] == 0.5


# ---- class trials -------------------------------------------------------------------------


@pytest.mark.parametrize("sync", [False, True])
def test_class_trial_with_checkpoint_frequency(executor, tmp_path, sync):
    launch = launch_for(
        tmp_path, Counter, {"end": 7}, checkpoint_frequency=3, sync_results=sync
    )
    o = drive(executor, launch)
    assert [r["value"] for r in o.results] == list(range(1, 8))
    with_ckpt = {r["training_iteration"]: r[CHECKPOINT_KEY] for r in o.results if CHECKPOINT_KEY in r}
    assert sorted(with_ckpt) == [3, 6]
    assert with_ckpt[3] == os.path.join(launch.trial_dir, "checkpoint_000003")
    assert with_ckpt[6] == os.path.join(launch.trial_dir, "checkpoint_000006")
    assert Checkpoint(with_ckpt[3]).to_dict() == {"value": 3}
    assert o.results[-1]["done"] is True
    assert o.end.checkpoint_dir is None


def test_class_checkpoint_at_end_and_manual(executor, tmp_path):
    launch = launch_for(tmp_path, DirCounter, {"end": 4, "manual_at": 2}, checkpoint_at_end=True)
    o = drive(executor, launch)
    assert [r["training_iteration"] for r in o.results if CHECKPOINT_KEY in r] == [2]
    assert o.end.checkpoint_dir == os.path.join(launch.trial_dir, "checkpoint_000004")
    with open(os.path.join(o.end.checkpoint_dir, "value.txt")) as f:
        assert f.read() == "4"


def test_class_restore_continues_iterations(executor, tmp_path):
    launch = launch_for(tmp_path, DirCounter, {"end": 3}, checkpoint_at_end=True)
    path = drive(executor, launch).end.checkpoint_dir
    o = drive(executor, launch_for(tmp_path, DirCounter, {"end": 5}, restore_checkpoint=path))
    assert [r["value"] for r in o.results] == [4, 5]
    assert [r["training_iteration"] for r in o.results] == [4, 5]
    assert o.results[0]["iterations_since_restore"] == 1


def test_class_pause_saves_checkpoint(executor, tmp_path):
    def pause_at_two(ex, event):
        return PAUSE if event.results[-1]["value"] == 2 else CONTINUE

    launch = launch_for(tmp_path, Counter, {"end": None}, sync_results=True)
    o = drive(executor, launch, on_result=pause_at_two)
    assert len(o.results) == 2
    assert o.end.checkpoint_dir == os.path.join(launch.trial_dir, "checkpoint_000002")
    assert Checkpoint(o.end.checkpoint_dir).to_dict() == {"value": 2}


def test_stop_with_save_checkpoint_on_run_ahead_class_trial(executor, tmp_path):
    def stop_saving(ex, event):
        ex.stop(event.trial_id, save_checkpoint=True)

    o = drive(executor, launch_for(tmp_path, Counter, {"end": None}), on_result=stop_saving)
    assert isinstance(o.end, TrialCompleted)
    assert o.end.checkpoint_dir is not None
    assert Checkpoint(o.end.checkpoint_dir).to_dict()["value"] == o.results[-1]["value"]


def test_reuse_actors_calls_reset_config(executor, tmp_path):
    launches = [
        launch_for(tmp_path, Counter, {"end": 1, "start": 10 * i}, reuse_actors=True)
        for i in range(3)
    ]
    setups = []
    for launch in launches:
        o = drive(executor, launch)
        setups.append(o.results[0]["setups"])
        assert o.results[0]["trial_id"] == launch.trial_id
        assert o.results[0]["training_iteration"] == 1
    assert setups == [1, 2, 3]
    assert [drive(executor, launch_for(tmp_path, Counter, {"end": 1})).results[0]["setups"]] == [1]


def test_reset_config_false_creates_a_new_instance(executor, tmp_path):
    for _ in range(2):
        o = drive(executor, launch_for(tmp_path, NoReset, {"end": 1}, reuse_actors=True))
        assert o.results[0]["setups"] == 1


def test_step_must_return_a_dict(executor, tmp_path):
    class Bad(Trainable):
        def step(self):
            return 3

    o = drive(executor, launch_for(tmp_path, Bad))
    assert isinstance(o.end, TrialFailed)
    assert "step() returned 3" in o.end.error


class FailsInSetup(Trainable):
    def setup(self, config):
        raise RuntimeError("setup broke")


def test_failure_in_setup_is_reported_for_the_right_trial(executor, tmp_path):
    drive(executor, launch_for(tmp_path, counting))
    launch = launch_for(tmp_path, FailsInSetup)
    o = drive(executor, launch)
    assert isinstance(o.end, TrialFailed) and o.end.trial_id == launch.trial_id
    assert o.end.error == "RuntimeError: setup broke"
    assert not any(isinstance(e, TrialStarted) for e in o.events)


def test_failed_restore_fails_the_trial(executor, tmp_path):
    o = drive(executor, launch_for(
        tmp_path, DirCounter, restore_checkpoint=str(tmp_path / "no_such_checkpoint")
    ))
    assert isinstance(o.end, TrialFailed)


def test_report_inside_class_trainable_raises(executor, tmp_path):
    class Reports(Trainable):
        def step(self):
            report({"x": 1})
            return {"done": True}

    o = drive(executor, launch_for(tmp_path, Reports))
    assert isinstance(o.end, TrialFailed)
    assert "step()" in o.end.error


# ---- resources (inline) -------------------------------------------------------------------


def test_inline_runs_one_trial_at_a_time_whatever_it_asks(tmp_path):
    ex = InlineExecutor()
    big = Resources({"CPU": 64.0, "GPU": 8.0})
    assert ex.fits_ever(big) and ex.fits_now(big)
    ex.launch(launch_for(tmp_path, slow_forever, resources=big))
    assert not ex.fits_now(Resources({"CPU": 0.1}))
    assert ex.running_trials() and ex.available_resources()["CPU"] == 0.0
    ex.shutdown()
