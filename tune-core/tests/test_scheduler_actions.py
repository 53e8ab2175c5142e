"""What a trial scheduler may do to trials (the mechanisms PBT, PB2 and ResourceChangingScheduler
build on): change a trial's config, tag and resources, make it restore from another trial's
checkpoint (a clone), ask it to save now (``SAVE``), and what ``set_search_properties`` is told.

Every test drives real (tiny) trials through ``tune.Tuner`` with a ``FIFOScheduler`` subclass.
Trials A (``x=3``) and B (``x=10``) run one at a time (``max_concurrent_trials=1``) unless a
test needs them side by side, so which checkpoint exists when is deterministic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

import tune
from tune.errors import TuneValueError
from tune.execution.executor import SAVE
from tune.journal import load_experiment
from tune.resources import PlacementGroupFactory
from tune.schedulers import FIFOScheduler
from tune.trial import Trial, trial_from_state

EXECUTORS = ["local", "inline"]
A_X, B_X = 3, 10


# ------------------------------------------------------------------------------------ helpers
def write_state(d: str, **state) -> None:
    with open(os.path.join(d, "state.json"), "w") as f:
        json.dump(state, f)


def read_state(d: str) -> dict:
    with open(os.path.join(d, "state.json")) as f:
        return json.load(f)


def log_line(path: str | None, *words) -> None:
    if path:
        with open(path, "a") as f:
            f.write(" ".join(str(w) for w in words) + "\n")


def log_lines(path) -> list[list[str]]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.split() for line in f.read().splitlines() if line.strip()]


def history(result_or_trial_path) -> list[dict]:
    """Every result the trial reported, from its ``result.json``."""
    path = getattr(result_or_trial_path, "path", result_or_trial_path)
    with open(os.path.join(path, "result.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


def checkpoint_dirs(trial_path: str) -> list[str]:
    return sorted(n for n in os.listdir(trial_path) if n.startswith("checkpoint_"))


def by_id(results, trial_id):
    for r in results:
        if r.metrics["trial_id"] == trial_id:
            return r
    raise AssertionError(f"no result of trial {trial_id}")


def counter_fn(config):
    """Counts steps; checkpoints ``{step, x, trial}`` every step; reports what it restored."""
    ctx = tune.get_context()
    loaded = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        time.sleep(config.get("read_delay", 0))
        with checkpoint.as_directory() as d:
            loaded = read_state(d)
    log_line(config.get("log"), "start", ctx.get_trial_id(), loaded["trial"] if loaded else "-")
    if config.get("fail_after_clone") and loaded and loaded["trial"] != ctx.get_trial_id():
        flag = config["fail_after_clone"]
        if not os.path.exists(flag):
            open(flag, "w").close()
            raise RuntimeError("fails once right after the clone started")
    for step in range(loaded["step"] if loaded else 0, config["steps"]):
        time.sleep(config.get("sleep", 0))
        d = tempfile.mkdtemp()
        write_state(d, step=step + 1, x=config["x"], trial=ctx.get_trial_id())
        tune.report(
            {
                "step": step + 1,
                "x": config["x"],
                "loaded_trial": loaded["trial"] if loaded else None,
                "loaded_step": loaded["step"] if loaded else -1,
                "loaded_x": loaded["x"] if loaded else -1,
                "cpus": tune.get_context().get_trial_resources().required_resources()["CPU"],
            },
            checkpoint=tune.Checkpoint.from_directory(d),
        )


class Counter(tune.Trainable):
    """The class version of ``counter_fn``. Checkpoints when ``config["checkpoint"]`` says so
    (or by ``checkpoint_frequency``); logs every save, restore and resource update."""

    def setup(self, config):
        self.count = 0
        self.loaded = None
        self.resized = []

    def step(self):
        time.sleep(self.config.get("sleep", 0))
        self.count += 1
        cpus = self.trial_resources.required_resources()["CPU"] if self.trial_resources else None
        return {
            "step": self.count,
            "x": self.config["x"],
            "loaded_trial": self.loaded["trial"] if self.loaded else None,
            "loaded_step": self.loaded["step"] if self.loaded else -1,
            "loaded_x": self.loaded["x"] if self.loaded else -1,
            "cpus": cpus,
            "resized": len(self.resized),
            "should_checkpoint": self.config.get("checkpoint") in (True, self.config["x"]),
            "done": self.count >= self.config["steps"],
        }

    def save_checkpoint(self, checkpoint_dir):
        log_line(self.config.get("log"), "save", self.trial_id, self.iteration)
        write_state(checkpoint_dir, step=self.count, x=self.config["x"], trial=self.trial_id)

    def load_checkpoint(self, checkpoint_dir):
        self.loaded = read_state(checkpoint_dir)
        self.count = self.loaded["step"]
        log_line(self.config.get("log"), "load", self.trial_id, self.loaded["trial"])

    def update_resources(self, trial_resources):
        self.resized.append(trial_resources)
        cpus = trial_resources.required_resources()["CPU"]
        same = trial_resources == self.trial_resources
        log_line(self.config.get("log"), "resized", self.trial_id, cpus, same)


class NoCheckpoints(tune.Trainable):
    def step(self):
        return {"step": 1, "done": True}


class Events(tune.Callback):
    """Records checkpoint callbacks: ``(hook, trial_id, checkpoint path)``."""

    def __init__(self):
        self.events = []

    def on_trial_save(self, iteration, trials, trial, **info):
        self.events.append(("save", trial.trial_id, trial.checkpoint.path))

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        self.events.append(("checkpoint", trial.trial_id, checkpoint.path))


def fit(trainable, tmp_path, scheduler, *, executor="local", space=None, name="exp",
        concurrent=1, callbacks=None, checkpoint_config=None, failure_config=None,
        metric="step", mode="max"):
    space = {"x": tune.grid_search([A_X, B_X]), "steps": 6} if space is None else space
    tuner = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(
            scheduler=scheduler, metric=metric, mode=mode, executor=executor,
            max_concurrent_trials=concurrent,
        ),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), name=name, verbose=0, callbacks=callbacks,
            checkpoint_config=checkpoint_config, failure_config=failure_config,
        ),
    )
    return tuner.fit()


class Recording(FIFOScheduler):
    """Records ``(trial_id, training_iteration, result["config"]["x"], experiment_tag)``; keeps
    Trial objects out of its state (they are the controller's)."""

    def __init__(self):
        super().__init__()
        self.seen = []
        self.ids = {}  # starting x -> trial_id
        self._trials = {}

    def on_trial_add(self, trial, *_):
        self.ids[trial.config["x"]] = trial.trial_id
        self._trials[trial.trial_id] = trial

    def record(self, trial, result):
        self.seen.append(
            (trial.trial_id, result["training_iteration"], result["config"]["x"],
             result.get("experiment_tag"))
        )

    def on_trial_result(self, trial, result=None, *_):
        self.record(trial, result)
        return self.CONTINUE

    def get_state(self):
        return {k: v for k, v in self.__dict__.items() if k != "_trials"}


class CloneAt3(Recording):
    """B (x=10), at its 3rd result, becomes a clone of A's checkpoint at iteration 3 with A's
    config and x doubled: the PBT exploit step."""

    def __init__(self, use_restore=True):
        super().__init__()
        self.use_restore = use_restore
        self.source = None  # (A's config, A's checkpoint path at iteration 3)
        self.cloned = None

    def on_trial_result(self, trial, result=None, *_):
        self.record(trial, result)
        it = result["training_iteration"]
        if trial.config["x"] == A_X and it == 3:
            self.source = (dict(trial.config), trial.checkpoint.path)
        if trial.config["x"] == B_X and it == 3:
            config, path = self.source
            trial.set_config({**config, "x": config["x"] * 2})
            trial.set_experiment_tag("1@perturbed[x=6]")
            trial.set_restore_checkpoint(path if self.use_restore else None)
            self.cloned = trial.trial_id
            return self.PAUSE
        return self.CONTINUE


# ------------------------------------------------------------------------------- the Trial API
def test_trial_setters_and_their_state_round_trip():
    trial = Trial("t1", {"x": 1}, experiment_tag="0_x=1")
    assert not trial.reconfigured
    assert "bundles" not in trial.get_state(), "an untouched trial records no scheduler changes"

    trial.set_config({"x": 2})
    trial.set_experiment_tag("0@perturbed")
    trial.set_restore_checkpoint(tune.Checkpoint("/somewhere/checkpoint_000003"))
    trial.update_resources({"CPU": 2})
    assert trial.config == {"x": 2} and trial.experiment_tag == "0@perturbed"
    assert trial.pending_restore == "/somewhere/checkpoint_000003"
    assert trial.reconfigured and trial.resources_changed
    assert trial.resources["CPU"] == 2

    back = trial_from_state(json.loads(json.dumps(trial.get_state())))
    assert back.config == {"x": 2}
    assert back.experiment_tag == "0@perturbed"
    assert back.pending_restore == "/somewhere/checkpoint_000003"
    assert [dict(b) for b in back.placement_group_factory.bundles] == [{"CPU": 2.0}]
    assert back.reconfigured

    trial.set_restore_checkpoint(None)
    assert trial.pending_restore is None, "None cancels the pending restore"
    trial.set_restore_checkpoint("/a/path")
    assert trial.pending_restore == "/a/path", "a plain path works too"


def test_trial_setters_reject_bad_arguments():
    trial = Trial("t1", {"x": 1})
    with pytest.raises(TypeError):
        trial.set_config([("x", 2)])
    with pytest.raises(TypeError):
        trial.set_restore_checkpoint(3)
    with pytest.raises((TypeError, ValueError)):
        trial.update_resources("two cpus")
    assert trial.config == {"x": 1} and trial.pending_restore is None
    assert not trial.reconfigured


def test_update_resources_to_the_same_resources_changes_nothing():
    trial = Trial("t1", {}, placement_group_factory=PlacementGroupFactory([{"CPU": 1}]))
    trial.update_resources({"CPU": 1})
    trial.update_resources(PlacementGroupFactory([{"CPU": 1}]))
    assert not trial.resources_changed and not trial.reconfigured
    trial.update_resources(PlacementGroupFactory([{"CPU": 1}, {"CPU": 1}]))
    assert trial.resources_changed and trial.resources["CPU"] == 2


# ------------------------------------------------------------------------------------ cloning
@pytest.mark.parametrize("executor", EXECUTORS)
def test_clone_function_trial_resumes_from_the_other_trials_checkpoint(tmp_path, executor):
    scheduler = CloneAt3()
    results = fit(counter_fn, tmp_path, scheduler, executor=executor)
    assert results.num_errors == 0
    a, b = by_id(results, scheduler.ids[A_X]), by_id(results, scheduler.ids[B_X])
    a_id, b_id = scheduler.ids[A_X], scheduler.ids[B_X]
    assert scheduler.cloned == b_id

    # B resumed from A's iteration-3 state, not from its own.
    assert b.metrics["loaded_trial"] == a_id
    assert b.metrics["loaded_step"] == 3 and b.metrics["loaded_x"] == A_X
    # ... and ran on with the new config, which its results and the grid carry.
    assert b.config["x"] == 2 * A_X and b.metrics["config"]["x"] == 2 * A_X
    assert b.metrics["x"] == 2 * A_X and b.metrics["step"] == 6
    rows = history(b)
    assert [r["training_iteration"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["x"] for r in rows] == [B_X] * 3 + [2 * A_X] * 3
    assert all(r["loaded_trial"] == a_id for r in rows[3:])
    assert [r.get("experiment_tag") for r in rows[3:]] == ["1@perturbed[x=6]"] * 3
    seen_b = [(it, x) for tid, it, x, _ in scheduler.seen if tid == b_id]
    assert seen_b == [(1, B_X), (2, B_X), (3, B_X), (4, 6), (5, 6), (6, 6)], (
        "the scheduler saw the new config in result['config'] after the clone"
    )
    with b.checkpoint.as_directory() as d:
        assert read_state(d) == {"step": 6, "x": 6, "trial": b_id}
    # A is untouched.
    assert a.config["x"] == A_X and a.metrics["loaded_trial"] is None
    # The experiment state records the change.
    state = {t["trial_id"]: t for t in load_experiment(str(tmp_path / "exp"))["trials"]}
    assert state[b_id]["config"]["x"] == 6
    assert state[b_id]["experiment_tag"] == "1@perturbed[x=6]"
    assert state[b_id]["status"] == "TERMINATED"
    assert not state[b_id].get("pending_restore")


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("clone", [True, False], ids=["clone", "plain-pause"])
def test_clone_class_trial_saves_no_checkpoint_of_its_own(tmp_path, executor, clone):
    """A pausing clone does not save; the same pause without a restore checkpoint does."""
    log = str(tmp_path / "log.txt")
    events = Events()
    scheduler = CloneAt3(use_restore=clone)
    space = {
        "x": tune.grid_search([A_X, B_X]),
        "steps": 5,
        "log": log,
        "checkpoint": A_X,  # only a trial with x == 3 checkpoints (at every step)
    }
    results = fit(Counter, tmp_path, scheduler, executor=executor, space=space, callbacks=[events])
    assert results.num_errors == 0
    a_id, b_id = scheduler.ids[A_X], scheduler.ids[B_X]
    b = by_id(results, scheduler.ids[B_X])
    b_saves = [line for line in log_lines(log) if line[0] == "save" and line[1] == b_id]
    b_loads = [line[2] for line in log_lines(log) if line[0] == "load" and line[1] == b_id]
    b_events = [e for e in events.events if e[1] == b_id]
    if clone:
        assert b_saves == [], "a clone's pause must not save a checkpoint of its own"
        assert checkpoint_dirs(b.path) == []
        assert b_events == []
        assert b_loads == [a_id]
        assert b.metrics["loaded_trial"] == a_id and b.metrics["loaded_step"] == 3
        assert b.config["x"] == 2 * A_X and b.metrics["x"] == 2 * A_X
        # As in Ray Tune, a clone's latest checkpoint is the one it started from until it
        # saves its own (a retry or a restore starts there).
        a = by_id(results, a_id)
        assert b.checkpoint is not None
        assert os.path.dirname(b.checkpoint.path) == a.path
    else:
        assert b_saves == [["save", b_id, "3"]], "a plain pause saves where it stopped"
        assert checkpoint_dirs(b.path) == ["checkpoint_000003"]
        assert [e[0] for e in b_events] == ["save", "checkpoint"]
        assert b_loads == [b_id]
        assert b.metrics["loaded_trial"] == b_id and b.metrics["loaded_step"] == 3
    assert [r["training_iteration"] for r in history(b)] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_clone_with_checkpoint_at_end_saves_no_checkpoint_at_the_pause(tmp_path, executor):
    log = str(tmp_path / "log.txt")
    scheduler = CloneAt3()
    space = {
        "x": tune.grid_search([A_X, B_X]), "steps": 5, "log": log, "checkpoint": A_X,
    }
    results = fit(
        Counter, tmp_path, scheduler, executor=executor, space=space,
        checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=True),
    )
    assert results.num_errors == 0
    b_id = scheduler.ids[B_X]
    b_saves = [int(line[2]) for line in log_lines(log) if line[0] == "save" and line[1] == b_id]
    assert b_saves == [5], "only the save at the trial's end, none at the clone's pause"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_set_config_on_a_paused_trial_takes_effect_when_it_resumes(tmp_path, executor):
    """B pauses (saving its own checkpoint); while it waits, A's results reconfigure it."""

    class PauseThenReconfigure(Recording):
        def on_trial_result(self, trial, result=None, *_):
            self.record(trial, result)
            it = result["training_iteration"]
            if trial.config["x"] == B_X and it == 2:
                return self.PAUSE
            b = self._trials[self.ids[B_X]]
            if trial.config["x"] == A_X and it == 1:
                assert b.status == Trial.PAUSED
                b.set_config({**b.config, "x": 7})
                b.set_experiment_tag("0@changed")
            return self.CONTINUE

    scheduler = PauseThenReconfigure()
    log = str(tmp_path / "log.txt")
    # B is trial 0 here, so it runs (and pauses) first.
    space = {"x": tune.grid_search([B_X, A_X]), "steps": 4, "log": log}
    results = fit(counter_fn, tmp_path, scheduler, executor=executor, space=space)
    assert results.num_errors == 0
    b_id = scheduler.ids[B_X]
    b = by_id(results, scheduler.ids[B_X])
    assert b.config["x"] == 7 and b.metrics["x"] == 7
    assert b.metrics["loaded_trial"] == b_id and b.metrics["loaded_step"] == 2
    assert [r["x"] for r in history(b)] == [B_X, B_X, 7, 7]
    assert [r.get("experiment_tag") for r in history(b)][2:] == ["0@changed"] * 2
    state = {t["trial_id"]: t for t in load_experiment(str(tmp_path / "exp"))["trials"]}
    assert state[b_id]["config"]["x"] == 7


@pytest.mark.parametrize("executor", EXECUTORS)
def test_cancelled_restore_checkpoint_resumes_from_the_trials_own(tmp_path, executor):
    class ChangeMind(Recording):
        def on_trial_result(self, trial, result=None, *_):
            self.record(trial, result)
            if trial.config["x"] == A_X and result["training_iteration"] == 2:
                self.a_checkpoint = trial.checkpoint
            if trial.config["x"] == B_X and result["training_iteration"] == 2:
                trial.set_restore_checkpoint(self.a_checkpoint)
                trial.set_restore_checkpoint(None)
                return self.PAUSE
            return self.CONTINUE

    log = str(tmp_path / "log.txt")
    space = {"x": tune.grid_search([A_X, B_X]), "steps": 4, "log": log, "checkpoint": True}
    scheduler = ChangeMind()
    results = fit(Counter, tmp_path, scheduler, executor=executor, space=space)
    b_id = scheduler.ids[B_X]
    b = by_id(results, scheduler.ids[B_X])
    assert results.num_errors == 0
    assert b.metrics["loaded_trial"] == b_id and b.metrics["loaded_step"] == 2
    assert b.config["x"] == B_X


# --------------------------------------------------------------------------------- the pin
class CloneLater(Recording):
    """At A's iteration 2, B (pending, never run) is set to start as a clone of that
    checkpoint; A then runs on to iteration 6, making newer checkpoints."""

    def __init__(self):
        super().__init__()
        self.pinned = None
        self.pinned_exists = []  # (A's iteration, whether the pinned dir is on disk)

    def on_trial_result(self, trial, result=None, *_):
        self.record(trial, result)
        if trial.config["x"] != A_X:
            return self.CONTINUE
        it = result["training_iteration"]
        if it == 2:
            b = self._trials[self.ids[B_X]]
            assert b.status == Trial.PENDING
            b.set_config({**trial.config, "x": 2 * A_X})
            b.set_restore_checkpoint(trial.checkpoint)  # a tune.Checkpoint
            self.pinned = trial.checkpoint.path
        elif it > 2:
            self.pinned_exists.append((it, os.path.isdir(self.pinned)))
        return self.CONTINUE

    def on_trial_complete(self, trial, result=None, *_):
        if trial.config["x"] == A_X:
            self.pinned_exists.append(("A done", os.path.isdir(self.pinned)))


@pytest.mark.parametrize("executor", EXECUTORS)
def test_clone_source_checkpoint_is_pinned_until_the_clone_started(tmp_path, executor):
    events = Events()
    scheduler = CloneLater()
    space = {"x": tune.grid_search([A_X, B_X]), "steps": 6, "checkpoint": True}
    results = fit(
        Counter, tmp_path, scheduler, executor=executor, space=space, callbacks=[events],
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
    )
    assert results.num_errors == 0
    a_id, b_id = scheduler.ids[A_X], scheduler.ids[B_X]
    a, b = by_id(results, scheduler.ids[A_X]), by_id(results, scheduler.ids[B_X])
    assert scheduler.pinned.endswith("checkpoint_000002")
    # (A's last result, done=True, goes to on_trial_complete rather than on_trial_result)
    assert scheduler.pinned_exists == [(3, True), (4, True), (5, True), ("A done", True)]
    assert b.metrics["loaded_trial"] == a_id and b.metrics["loaded_step"] == 2
    assert b.config["x"] == 2 * A_X
    assert [r["training_iteration"] for r in history(b)] == [3, 4, 5, 6]
    # Once B started, the pin is gone and retention applies again.
    assert not os.path.exists(scheduler.pinned)
    assert checkpoint_dirs(a.path) == ["checkpoint_000006"]
    assert checkpoint_dirs(b.path) == ["checkpoint_000006"]
    assert len([e for e in events.events if e[1] == b_id]) == 8  # 4 saves, 2 hooks each


def test_pin_holds_while_the_paused_clone_waits(tmp_path):
    """B runs beside A; at A's iteration 2 B is told to clone that checkpoint and pauses at its
    next result; it is held back until A has finished (and retention wanted iteration 2 gone)."""

    class CloneRunning(CloneLater):
        def __init__(self):
            super().__init__()
            self.pause_b = False

        def on_trial_result(self, trial, result=None, *_):
            if trial.trial_id == self.ids[B_X]:
                self.record(trial, result)
                if self.pinned is not None and not self.pause_b:
                    self.pause_b = True
                    return self.PAUSE
                return self.CONTINUE
            it = result["training_iteration"]
            if it == 2 and self.pinned is None:
                b = self._trials[self.ids[B_X]]
                assert b.status == Trial.RUNNING
                self.record(trial, result)
                b.set_config({**trial.config, "x": 2 * A_X})
                b.set_restore_checkpoint(trial.checkpoint.path)
                self.pinned = trial.checkpoint.path
                return self.CONTINUE
            return super().on_trial_result(trial, result)

        def choose_trial_to_run(self, trials, *_):
            a = self._trials.get(self.ids.get(A_X))
            for trial in trials:
                if trial.config["x"] == 2 * A_X and a is not None and not a.is_finished:
                    continue
                return trial
            return None

    log = str(tmp_path / "log.txt")
    scheduler = CloneRunning()
    space = {
        "x": tune.grid_search([A_X, B_X]), "checkpoint": True, "log": log,
        # B would run for 4 s unless cloned; the clone takes A's config (6 steps of 0.05 s)
        "steps": tune.sample_from(lambda spec: 6 if spec.config.x == A_X else 400),
        "sleep": tune.sample_from(lambda spec: 0.05 if spec.config.x == A_X else 0.01),
    }
    results = fit(
        Counter, tmp_path, scheduler, space=space, concurrent=2,
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
    )
    assert results.num_errors == 0
    a_id, b_id = scheduler.ids[A_X], scheduler.ids[B_X]
    b = by_id(results, b_id)
    assert scheduler.pause_b
    assert scheduler.pinned.endswith("checkpoint_000002")
    assert scheduler.pinned_exists[-1] == ("A done", True)
    assert all(exists for _, exists in scheduler.pinned_exists), scheduler.pinned_exists
    assert b.metrics["loaded_trial"] == a_id and b.metrics["loaded_step"] == 2
    assert b.config["x"] == 2 * A_X and b.metrics["step"] == 6
    b_loads = [line[2] for line in log_lines(log) if line[0] == "load" and line[1] == b_id]
    assert b_loads == [a_id]
    assert not os.path.exists(scheduler.pinned), "released once B started"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_function_clone_reading_its_checkpoint_slowly_still_finds_it(tmp_path, executor):
    """A function trial's start reaches the driver with its first result, so a slow read of
    ``tune.get_checkpoint()`` before the first report is still covered by the pin."""
    scheduler = CloneLater()
    space = {
        "x": tune.grid_search([A_X, B_X]), "steps": 6,
        "read_delay": tune.sample_from(lambda spec: 0.0 if spec.config.x == A_X else 0.5),
    }
    results = fit(
        counter_fn, tmp_path, scheduler, executor=executor, space=space,
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
    )
    assert results.num_errors == 0
    b = by_id(results, scheduler.ids[B_X])
    assert b.metrics["loaded_trial"] == scheduler.ids[A_X] and b.metrics["loaded_step"] == 2
    assert scheduler.pinned_exists[-1] == ("A done", True)
    assert not os.path.exists(scheduler.pinned)


def reads_checkpoint_after_first_report(config):
    tune.report({"step": 0})
    time.sleep(0.3)
    with tune.get_checkpoint().as_directory() as d:
        loaded = read_state(d)
    tune.report({"step": loaded["step"], "loaded_trial": loaded["trial"]})


@pytest.mark.parametrize("executor", EXECUTORS)
def test_function_clone_reading_its_checkpoint_after_the_first_report(tmp_path, executor):
    class CloneLaterFn(CloneLater):
        def on_trial_result(self, trial, result=None, *_):
            if trial.trial_id == self.ids[B_X]:
                self.record(trial, result)
                return self.CONTINUE
            return super().on_trial_result(trial, result)

    scheduler = CloneLaterFn()
    space = {"x": tune.grid_search([A_X, B_X]), "steps": 6}

    def trainable(config):
        if config["x"] == A_X:
            counter_fn(config)
        else:
            reads_checkpoint_after_first_report(config)

    results = fit(
        trainable, tmp_path, scheduler, executor=executor, space=space,
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
    )
    b = by_id(results, scheduler.ids[B_X])
    assert b.error is None, f"{b.error}"  # FileNotFoundError: .../checkpoint_000002/state.json
    assert b.metrics["loaded_trial"] == scheduler.ids[A_X]


# ------------------------------------------------------------------------------------ SAVE
class SaveAt(Recording):
    def __init__(self, iterations):
        super().__init__()
        self.iterations = set(iterations)

    def on_trial_result(self, trial, result=None, *_):
        self.record(trial, result)
        if result["training_iteration"] in self.iterations:
            return SAVE
        return self.CONTINUE


@pytest.mark.parametrize("executor", EXECUTORS)
def test_save_decision_checkpoints_a_class_trial_and_goes_on(tmp_path, executor):
    log = str(tmp_path / "log.txt")
    events = Events()
    scheduler = SaveAt({2})
    space = {"x": 1, "steps": 4, "log": log}
    results = fit(Counter, tmp_path, scheduler, executor=executor, space=space, callbacks=[events])
    assert results.num_errors == 0
    result = results[0]
    trial_id = scheduler.ids[1]
    assert [line for line in log_lines(log) if line[0] == "save"] == [["save", trial_id, "2"]]
    assert checkpoint_dirs(result.path) == ["checkpoint_000002"]
    saved = os.path.join(result.path, "checkpoint_000002")
    assert result.checkpoint is not None and result.checkpoint.path == saved
    with result.checkpoint.as_directory() as d:
        assert read_state(d)["step"] == 2
    assert events.events == [("save", trial_id, saved), ("checkpoint", trial_id, saved)]
    assert result.metrics["step"] == 4, "the trial went on after saving"
    assert [r["training_iteration"] for r in history(result)] == [1, 2, 3, 4]
    state = load_experiment(str(tmp_path / "exp"))["trials"][0]
    assert state["checkpoint_path"] == saved


@pytest.mark.parametrize("executor", EXECUTORS)
def test_save_decision_on_every_result_including_the_last(tmp_path, executor):
    """SAVE on every result a scheduler sees; the trial's last (done=True) result goes to
    on_trial_complete instead, so the checkpoints are those of iterations 1 and 2."""
    log = str(tmp_path / "log.txt")
    scheduler = SaveAt({1, 2, 3})
    space = {"x": tune.grid_search([1, 2]), "steps": 3, "log": log}
    results = fit(Counter, tmp_path, scheduler, executor=executor, space=space)
    assert results.num_errors == 0
    for result in results:
        assert result.metrics["step"] == 3
        assert checkpoint_dirs(result.path) == ["checkpoint_000001", "checkpoint_000002"]
        assert result.checkpoint.path.endswith("checkpoint_000002")


@pytest.mark.parametrize("executor", EXECUTORS)
def test_save_decision_after_a_frequency_checkpoint_saves_once(tmp_path, executor):
    log = str(tmp_path / "log.txt")
    events = Events()
    scheduler = SaveAt({2})
    results = fit(
        Counter, tmp_path, scheduler, executor=executor,
        space={"x": 1, "steps": 3, "log": log}, callbacks=[events],
        checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=2),
    )
    assert results.num_errors == 0
    trial_id = scheduler.ids[1]
    assert [line for line in log_lines(log) if line[0] == "save"] == [["save", trial_id, "2"]]
    assert [e[0] for e in events.events] == ["save", "checkpoint"], "callbacks fired once"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_save_decision_lets_a_function_trial_continue(tmp_path, executor):
    events = Events()

    def no_checkpoints(config):
        for i in range(4):
            tune.report({"step": i + 1})

    scheduler = SaveAt({1, 2, 3, 4})
    results = fit(
        no_checkpoints, tmp_path, scheduler, executor=executor, space={"x": 1},
        callbacks=[events],
    )
    assert results.num_errors == 0
    result = results[0]
    assert result.metrics["step"] == 4
    assert [it for _, it, _, _ in scheduler.seen] == [1, 2, 3, 4]
    assert result.checkpoint is None and checkpoint_dirs(result.path) == []
    assert events.events == []

    # a function that reports checkpoints makes no extra ones either
    events2 = Events()
    results = fit(
        counter_fn, tmp_path, SaveAt({1, 2, 3}), executor=executor, name="exp2",
        space={"x": 1, "steps": 3}, callbacks=[events2],
    )
    assert results.num_errors == 0
    assert checkpoint_dirs(results[0].path) == [f"checkpoint_00000{i}" for i in (1, 2, 3)]
    assert len(events2.events) == 6


# --------------------------------------------------------------------------- update_resources
class ResizeAt(Recording):
    def __init__(self, resize_at=2, pause_again_at=None, resources=None):
        super().__init__()
        self.resize_at = resize_at
        self.pause_again_at = pause_again_at
        self.resources = resources or {"CPU": 2}

    def on_trial_result(self, trial, result=None, *_):
        self.record(trial, result)
        it = result["training_iteration"]
        if it == self.resize_at:
            trial.update_resources(self.resources)
            return self.PAUSE
        if it == self.pause_again_at:
            return self.PAUSE
        return self.CONTINUE


def _executor(name):
    if name == "local":
        from tune.execution.local import LocalExecutor

        return LocalExecutor(num_cpus=4)
    return name


@pytest.mark.parametrize("executor", EXECUTORS)
def test_update_resources_class_trial(tmp_path, executor):
    log = str(tmp_path / "log.txt")
    scheduler = ResizeAt(resize_at=2, pause_again_at=4)
    space = {"x": 1, "steps": 5, "log": log}
    results = fit(Counter, tmp_path, scheduler, executor=_executor(executor), space=space)
    assert results.num_errors == 0
    result = results[0]
    trial_id = scheduler.ids[1]
    rows = history(result)
    assert [r["training_iteration"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["cpus"] for r in rows] == [1, 1, 2, 2, 2]
    assert [r["loaded_step"] for r in rows] == [-1, -1, 2, 2, 4], "resumed from its checkpoints"
    lines = log_lines(log)
    assert [line for line in lines if line[0] == "save"] == [
        ["save", trial_id, "2"], ["save", trial_id, "4"],
    ]
    resized = [line for line in lines if line[0] == "resized"]
    assert resized == [["resized", trial_id, "2.0", "True"]], (
        "update_resources is called once, after the restore, with what trial_resources holds; "
        "the later plain pause does not call it again"
    )
    assert lines.index(resized[0]) > lines.index(["load", trial_id, trial_id])
    assert rows[2]["resized"] == 1
    state = load_experiment(str(tmp_path / "exp"))["trials"][0]
    assert state["bundles"] == [{"CPU": 2.0}]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_update_resources_function_trial(tmp_path, executor):
    scheduler = ResizeAt(resize_at=2, resources=PlacementGroupFactory([{"CPU": 1}, {"CPU": 2}]))
    results = fit(
        counter_fn, tmp_path, scheduler, executor=_executor(executor), space={"x": 1, "steps": 4}
    )
    assert results.num_errors == 0
    rows = history(results[0])
    assert [r["training_iteration"] for r in rows] == [1, 2, 3, 4]
    assert [r["cpus"] for r in rows] == [1, 1, 3, 3]
    assert [r["loaded_step"] for r in rows] == [-1, -1, 2, 2]


def test_update_resources_beyond_the_executor_ends_the_trial_in_error(tmp_path):
    """A trial resized to more than the local executor will ever have fails clearly (no
    hang). (The inline executor runs any request: it has no resources to count.)"""
    scheduler = ResizeAt(resize_at=1, resources={"CPU": 64})
    results = fit(counter_fn, tmp_path, scheduler, space={"x": 1, "steps": 4})
    assert results.num_errors == 1
    error = str(results[0].error)
    assert "'CPU': 64" in error and "can never run" in error
    assert [r["training_iteration"] for r in history(results[0])] == [1]


def test_update_resources_frees_and_takes_the_executors_cpus(tmp_path):
    """On a 2-CPU local executor, a trial growing to 2 CPUs waits until the other trial ends
    and keeps the other from starting while it holds both."""

    class GrowB(Recording):
        a_status_when_b_resumed = None

        def on_trial_result(self, trial, result=None, *_):
            self.record(trial, result)
            if trial.config["x"] == B_X and result["training_iteration"] == 1:
                trial.update_resources({"CPU": 2})
                return self.PAUSE
            if trial.config["x"] == B_X and result["training_iteration"] == 2:
                self.a_status_when_b_resumed = self._trials[self.ids[A_X]].status
            return self.CONTINUE

    from tune.execution.local import LocalExecutor

    space = {
        "x": tune.grid_search([A_X, B_X]), "steps": 4,
        "sleep": tune.sample_from(lambda spec: 0.1 if spec.config.x == A_X else 0.02),
    }
    scheduler = GrowB()
    results = fit(
        counter_fn, tmp_path, scheduler, executor=LocalExecutor(num_cpus=2), space=space,
        concurrent=2,
    )
    assert results.num_errors == 0
    b = by_id(results, scheduler.ids[B_X])
    assert [r["cpus"] for r in history(b)] == [1, 2, 2, 2]
    assert scheduler.a_status_when_b_resumed == Trial.TERMINATED, "B (2 CPUs) waited for A"


# ------------------------------------------------------------------------------------ restore
# Tuner.restore refuses a scheduler instance together with TuneConfig(metric=, mode=) (see
# test_restore_with_a_scheduler_instance_and_a_metric), so these experiments name none.
NO_METRIC = {"metric": None, "mode": None}


class CrashOnce(tune.Callback):
    """Raises in the driver once, at the given hook, for trial B's given iteration."""

    def __init__(self, flag, hook="result", iteration=3):
        self.flag = flag
        self.hook = hook
        self.iteration = iteration

    def _maybe_crash(self, trial, hook):
        if hook == self.hook and trial.config.get("x") != A_X:
            if not os.path.exists(self.flag):
                open(self.flag, "w").close()
                raise RuntimeError(f"driver crash in {hook}")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result["training_iteration"] == self.iteration:
            self._maybe_crash(trial, "result")

    def on_trial_restore(self, iteration, trials, trial, **info):
        self._maybe_crash(trial, "restore")


@pytest.mark.parametrize("executor", EXECUTORS)
def test_restore_after_a_crash_right_after_the_clone_decision(tmp_path, executor):
    """The driver dies while processing the result that made B a clone, before B paused:
    the restored experiment resumes B as the clone, with its new config."""
    flag = str(tmp_path / "crashed")
    scheduler = CloneAt3()
    with pytest.raises(RuntimeError, match="driver crash"):
        fit(counter_fn, tmp_path, scheduler, executor=executor, callbacks=[CrashOnce(flag)],
            **NO_METRIC)
    path = str(tmp_path / "exp")
    state = {t["trial_id"]: t for t in load_experiment(path)["trials"]}
    b_id, a_id = scheduler.ids[B_X], scheduler.ids[A_X]
    assert state[b_id]["config"]["x"] == 2 * A_X
    assert state[b_id]["pending_restore"] == scheduler.source[1]

    tuner = tune.Tuner.restore(path, counter_fn)
    results = tuner.fit()
    assert results.num_errors == 0 and len(results) == 2
    b = by_id(results, scheduler.ids[B_X])
    assert b.config["x"] == 2 * A_X and b.metrics["x"] == 2 * A_X
    assert b.metrics["loaded_trial"] == a_id and b.metrics["loaded_step"] == 3
    assert b.metrics["step"] == 6
    rows = history(b)
    assert [r["training_iteration"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["x"] for r in rows] == [B_X] * 3 + [2 * A_X] * 3


@pytest.mark.parametrize("executor", EXECUTORS)
def test_restore_after_a_crash_with_a_reconfigured_paused_trial(tmp_path, executor):
    """The driver dies once a paused trial was reconfigured (own checkpoint, new config);
    ``resume_errored=True`` is irrelevant here and harmless."""

    class PauseAndChange(Recording):
        def on_trial_result(self, trial, result=None, *_):
            self.record(trial, result)
            if trial.config["x"] == B_X and result["training_iteration"] == 2:
                trial.set_config({**trial.config, "x": 11})
                trial.set_experiment_tag("1@changed")
                return self.PAUSE
            return self.CONTINUE

    flag = str(tmp_path / "crashed")
    log = str(tmp_path / "log.txt")
    scheduler = PauseAndChange()
    space = {"x": tune.grid_search([A_X, B_X]), "steps": 4, "log": log, "checkpoint": True}
    with pytest.raises(RuntimeError, match="driver crash in restore"):
        fit(Counter, tmp_path, scheduler, executor=executor, space=space,
            callbacks=[CrashOnce(flag, hook="restore")], **NO_METRIC)
    path = str(tmp_path / "exp")
    b_id = scheduler.ids[B_X]
    state = {t["trial_id"]: t for t in load_experiment(path)["trials"]}
    assert state[b_id]["config"]["x"] == 11

    results = tune.Tuner.restore(path, Counter, resume_errored=True).fit()
    assert results.num_errors == 0
    b = by_id(results, scheduler.ids[B_X])
    assert b.config["x"] == 11 and b.metrics["x"] == 11
    assert b.metrics["loaded_trial"] == b_id and b.metrics["loaded_step"] == 2
    assert [r["x"] for r in history(b)] == [B_X, B_X, 11, 11]
    assert history(b)[-1].get("experiment_tag") == "1@changed"


def test_restore_of_a_moved_experiment_relocates_the_pending_clone_checkpoint(tmp_path):
    flag = str(tmp_path / "crashed")
    scheduler = CloneAt3()
    with pytest.raises(RuntimeError, match="driver crash"):
        fit(counter_fn, tmp_path / "old", scheduler, executor="inline",
            callbacks=[CrashOnce(flag)], **NO_METRIC)
    os.rename(tmp_path / "old", tmp_path / "new")
    results = tune.Tuner.restore(str(tmp_path / "new" / "exp"), counter_fn).fit()
    b = by_id(results, scheduler.ids[B_X])
    assert b.error is None, f"{b.error}"
    assert b.metrics["loaded_trial"] == scheduler.ids[A_X] and b.metrics["loaded_step"] == 3


@pytest.mark.parametrize("executor", EXECUTORS)
def test_restore_after_a_crash_when_the_clone_was_relaunching(tmp_path, executor):
    """The driver dies while relaunching the paused clone (the launch is recorded, the clone
    has not run): the restore must still start B from A's checkpoint."""
    flag = str(tmp_path / "crashed")
    scheduler = CloneAt3()
    with pytest.raises(RuntimeError, match="driver crash in restore"):
        fit(counter_fn, tmp_path, scheduler, executor=executor,
            callbacks=[CrashOnce(flag, hook="restore")], **NO_METRIC)
    path = str(tmp_path / "exp")
    results = tune.Tuner.restore(path, counter_fn).fit()
    assert results.num_errors == 0
    b = by_id(results, scheduler.ids[B_X])
    assert b.config["x"] == 2 * A_X
    assert b.metrics["loaded_trial"] == scheduler.ids[A_X], "B resumed from its own checkpoint"
    assert b.metrics["loaded_step"] == 3


@pytest.mark.parametrize("executor", EXECUTORS)
def test_clone_that_fails_at_once_retries_from_the_source_checkpoint(tmp_path, executor):
    """A clone failing before its first checkpoint is retried from the checkpoint it was
    cloned from (as Ray's PBT makes it the trial's latest), not from its own older one."""
    flag = str(tmp_path / "failed")
    scheduler = CloneAt3()
    space = {"x": tune.grid_search([A_X, B_X]), "steps": 6, "fail_after_clone": flag}
    results = fit(
        counter_fn, tmp_path, scheduler, executor=executor, space=space,
        failure_config=tune.FailureConfig(max_failures=1),
    )
    assert os.path.exists(flag), "the clone failed once"
    assert results.num_errors == 0
    b = by_id(results, scheduler.ids[B_X])
    assert b.config["x"] == 2 * A_X
    assert b.metrics["loaded_trial"] == scheduler.ids[A_X]


_JOURNAL_JOB = textwrap.dedent(
    """
    import json, os, sys, tempfile
    import tune
    from tune.schedulers import FIFOScheduler

    def job(config):
        ckpt = tune.get_checkpoint()
        loaded = None
        if ckpt is not None:
            with open(os.path.join(ckpt.path, "s.json")) as f:
                loaded = json.load(f)
        for step in range(loaded["step"] if loaded else 0, 5):
            d = tempfile.mkdtemp()
            with open(os.path.join(d, "s.json"), "w") as f:
                json.dump({"step": step + 1, "x": config["x"]}, f)
            tune.report({"step": step + 1, "x": config["x"],
                         "loaded_x": loaded["x"] if loaded else None},
                        checkpoint=tune.Checkpoint.from_directory(d))

    class Clone(FIFOScheduler):
        source = None
        def on_trial_result(self, trial, result=None):
            it = result["training_iteration"]
            if trial.config["x"] == 3 and it == 3:
                self.source = trial.checkpoint.path
            if trial.config["x"] == 10 and it == 3:
                trial.set_config({"x": 6})
                trial.set_restore_checkpoint(self.source)
                return self.PAUSE
            return self.CONTINUE

    class Die(tune.Callback):
        def on_trial_restore(self, iteration, trials, trial, **info):
            if not os.path.exists(sys.argv[2]):
                open(sys.argv[2], "w").close()
                os._exit(7)  # no snapshot, no flush: only what the journal already holds

    if sys.argv[3] == "fit":
        tuner = tune.Tuner(
            job, param_space={"x": tune.grid_search([3, 10])},
            tune_config=tune.TuneConfig(scheduler=Clone(), executor="inline"),
            run_config=tune.RunConfig(storage_path=sys.argv[1], name="exp", verbose=0,
                                      callbacks=[Die()]),
        )
    else:
        tuner = tune.Tuner.restore(os.path.join(sys.argv[1], "exp"), job)
    grid = tuner.fit()
    print(json.dumps(sorted([r.config["x"], r.metrics["loaded_x"]] for r in grid)))
    """
)


def test_reconfigured_trial_survives_a_hard_kill_through_the_journal(tmp_path):
    """A driver killed outright (no final snapshot) keeps the clone's config and pending
    restore: they were journaled when the clone paused."""
    script = tmp_path / "job.py"
    script.write_text(_JOURNAL_JOB)
    flag = str(tmp_path / "died")
    first = subprocess.run(
        [sys.executable, str(script), str(tmp_path), flag, "fit"],
        capture_output=True, text=True, timeout=60,
    )
    assert first.returncode == 7, first.stderr
    state = load_experiment(str(tmp_path / "exp"))
    b = next(t for t in state["trials"] if t["config"]["x"] != 3)
    assert b["config"] == {"x": 6}
    assert b["status"] == "PAUSED"
    assert b["pending_restore"] and b["pending_restore"].endswith("checkpoint_000003")
    second = subprocess.run(
        [sys.executable, str(script), str(tmp_path), flag, "restore"],
        capture_output=True, text=True, timeout=60,
    )
    assert second.returncode == 0, second.stderr
    # A ended with x=3 and loaded nothing; B, now x=6, loaded A's state (x=3).
    assert json.loads(second.stdout.strip().splitlines()[-1]) == [[3, None], [6, 3]]


def test_restore_with_a_scheduler_instance_and_a_metric(tmp_path):
    results = fit(counter_fn, tmp_path, Recording(), executor="inline", space={"x": 1, "steps": 2})
    assert results.num_errors == 0
    again = tune.Tuner.restore(str(tmp_path / "exp"), counter_fn).fit()
    assert again[0].metrics["step"] == 2


# --------------------------------------------------------------------- set_search_properties
class SpecRecorder(FIFOScheduler):
    def __init__(self):
        super().__init__()
        self.spec = None

    def set_search_properties(self, metric, mode, **spec):
        self.spec = spec
        return super().set_search_properties(metric, mode, **spec)


def _spec_of(trainable, tmp_path, *, executor="local", checkpoint_config=None, search_alg=None):
    scheduler = SpecRecorder()
    tune.Tuner(
        trainable,
        param_space={"x": 1, "steps": 1},
        tune_config=tune.TuneConfig(
            scheduler=scheduler, metric="step", mode="max", executor=executor,
            search_alg=search_alg, num_samples=1,
        ),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), verbose=0, checkpoint_config=checkpoint_config
        ),
    ).fit()
    return scheduler.spec


def test_scheduler_spec_for_a_function_trainable(tmp_path):
    from tune.execution.local import LocalExecutor
    from tune.search import BasicVariantGenerator

    spec = _spec_of(counter_fn, tmp_path, executor=LocalExecutor(num_cpus=3))
    assert spec["trainable_can_checkpoint"] is None
    assert spec["searcher_class"] is BasicVariantGenerator
    assert spec["checkpoint_frequency"] == 0
    assert spec["total_resources"]["CPU"] == 3
    assert isinstance(spec["total_resources"], dict)
    assert spec["num_samples"] == 1 and "time_budget_s" in spec


@pytest.mark.parametrize(
    "trainable, can_checkpoint",
    [(Counter, True), (NoCheckpoints, False)],
    ids=["overrides-save", "no-save"],
)
def test_scheduler_spec_for_class_trainables(tmp_path, trainable, can_checkpoint):
    spec = _spec_of(
        trainable, tmp_path, executor="inline",
        checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=2),
    )
    assert spec["trainable_can_checkpoint"] is can_checkpoint
    assert spec["checkpoint_frequency"] == 2
    assert spec["total_resources"].get("CPU", 0) >= 1


def test_scheduler_spec_for_wrapped_class_trainables(tmp_path):
    wrapped = tune.with_resources(Counter, {"CPU": 1})
    spec = _spec_of(wrapped, tmp_path, executor="inline")
    assert spec["trainable_can_checkpoint"] is True


def test_scheduler_spec_names_the_search_algorithm(tmp_path):
    from tune.search import BasicVariantGenerator, ConcurrencyLimiter

    searcher = ConcurrencyLimiter(BasicVariantGenerator(), max_concurrent=1)
    spec = _spec_of(counter_fn, tmp_path, executor="inline", search_alg=searcher)
    assert spec["searcher_class"] is ConcurrencyLimiter


def test_scheduler_refusing_the_spec_stops_the_experiment_before_it_starts(tmp_path):
    class NeedsCheckpoints(FIFOScheduler):
        def set_search_properties(self, metric, mode, **spec):
            if spec.get("trainable_can_checkpoint") is False:
                raise TuneValueError("this scheduler needs save_checkpoint")
            return super().set_search_properties(metric, mode, **spec)

    with pytest.raises(TuneValueError, match="needs save_checkpoint"):
        tune.Tuner(
            NoCheckpoints,
            tune_config=tune.TuneConfig(scheduler=NeedsCheckpoints(), metric="step", mode="max"),
            run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0),
        ).fit()
    assert not (tmp_path / "exp" / "experiment_state.json").exists()


# -------------------------------------------------------------------- scheduler state pickling
def test_scheduler_state_holding_trials_still_pickles(tmp_path):
    class KeepsTrials(FIFOScheduler):
        def __init__(self):
            super().__init__()
            self.trials = {}

        def on_trial_add(self, trial, *_):
            self.trials[trial.trial_id] = trial

        def on_trial_result(self, trial, result=None, *_):
            return self.CONTINUE

    results = fit(counter_fn, tmp_path, KeepsTrials(), executor="inline",
                  space={"x": 1, "steps": 2})
    assert results.num_errors == 0
