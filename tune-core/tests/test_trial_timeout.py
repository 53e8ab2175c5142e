"""Ending hung trials: ``Executor.kill`` on the local executor (the mechanism behind
``TuneConfig(trial_timeout_s=...)``), and the executors that cannot do it saying so."""

from __future__ import annotations

import os
import signal
import tempfile
import time

import pytest

from tune.errors import TuneError
from tune.execution.executor import (
    Executor,
    TrialCompleted,
    TrialFailed,
    TrialLaunch,
    TrialResults,
    TrialStarted,
)
from tune.execution.inline import InlineExecutor
from tune.execution.local import LocalExecutor
from tune.resources import Resources
from tune.trainable.function_trainable import wrap_function
from tune.trainable.session import report

# ---- trainables -------------------------------------------------------------------------


def sleeps_forever(config):
    report({"step": 1})
    time.sleep(1000)


def spins_forever(config):
    x = 0
    while True:  # never reports
        x += 1


def reports_forever(config):
    i = 0
    while True:
        i += 1
        report({"i": i})


def ignores_sigterm(config):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    report({"ready": 1})
    time.sleep(1000)


def pid_of(config):
    report({"pid": os.getpid()})


# ---- helpers ------------------------------------------------------------------------------

_ids = iter(range(10**9))


def launch_for(tmp_path, fn, config=None, **kw):
    trial_id = f"k{next(_ids)}"
    trial_dir = tmp_path / trial_id
    trial_dir.mkdir(parents=True, exist_ok=True)
    kw.setdefault("sync_results", False)
    return TrialLaunch(
        trial_id=trial_id,
        trial_name=trial_id,
        trainable=wrap_function(fn),
        config=config or {},
        trial_dir=str(trial_dir),
        experiment_dir=str(tmp_path),
        **kw,
    )


def wait_for(ex, predicate, timeout=20.0):
    """Poll until an event satisfies ``predicate``; return every event seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = ex.poll(0.2)
        seen.extend(events)
        if any(predicate(e) for e in events):
            return seen
    raise AssertionError(f"no matching event within {timeout}s; saw {seen}")


def results_of(events, trial_id):
    return [r for e in events if isinstance(e, TrialResults) and e.trial_id == trial_id
            for r in e.results]


def process_gone(pid: int, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A killed child stays a zombie until reaped; multiprocessing reaps on join.
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def executor(tmp_path, monkeypatch):
    # Fresh workers see this temp dir: a leftover stack-dump file would show up here.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ex = LocalExecutor(num_cpus=1)
    ex.start()
    yield ex
    ex.shutdown()
    # A worker unlinks its stack-dump file as soon as it has started (one started by the
    # last kill may still be starting): none may stay behind.
    deadline = time.monotonic() + 5.0
    while True:
        left = [n for n in os.listdir(tmp_path) if n.startswith("tune-worker-stacks")]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert left == []


# ---- local executor -------------------------------------------------------------------------


def test_a_sleeping_trial_is_killed_at_once_and_the_next_runs_on_a_fresh_worker(
    executor, tmp_path
):
    ex = executor
    assert ex.supports_kill
    hung = launch_for(tmp_path, sleeps_forever)
    ex.launch(hung)
    events = wait_for(ex, lambda e: isinstance(e, TrialResults))
    pid = results_of(events, hung.trial_id)[0]["pid"]
    time.sleep(0.2)  # it is in time.sleep(1000) now
    assert ex.available_resources()["CPU"] == 0.0

    reason = f"Trial {hung.trial_name} exceeded trial_timeout_s=0.2 (ran 0.4 s)"
    start = time.monotonic()
    ex.kill(hung.trial_id, reason)
    took = time.monotonic() - start
    assert took < 1.0, took
    assert process_gone(pid)
    # Resources are free at once, before the failure is even polled.
    assert ex.available_resources()["CPU"] == 1.0 and ex.running_trials() == set()

    events = ex.poll(0)
    failed = [e for e in events if isinstance(e, TrialFailed)]
    assert len(failed) == 1
    failure = failed[0]
    assert failure.trial_id == hung.trial_id and not failure.worker_died
    assert failure.error == reason
    assert failure.traceback.startswith(reason)
    assert f"pid {pid}" in failure.traceback
    # Where the trial was stuck, from the worker's own stack dump.
    assert "in sleeps_forever" in failure.traceback
    assert "popen_fork" not in failure.traceback  # the driver's frames inherited by fork
    assert "died" not in failure.error

    nxt = launch_for(tmp_path, pid_of)
    ex.launch(nxt)
    events = wait_for(ex, lambda e: isinstance(e, TrialCompleted))
    assert results_of(events, nxt.trial_id)[0]["pid"] != pid
    assert ex.kill(hung.trial_id, "again") is None  # no longer running: nothing happens
    assert ex.poll(0) == []


def test_a_busy_loop_that_never_reports_is_killed(executor, tmp_path):
    ex = executor
    launch = launch_for(tmp_path, spins_forever)
    ex.launch(launch)
    wait_for(ex, lambda e: isinstance(e, TrialStarted))
    time.sleep(0.2)
    start = time.monotonic()
    ex.kill(launch.trial_id, "spinning")
    assert time.monotonic() - start < 1.0
    (failure,) = [e for e in ex.poll(0) if isinstance(e, TrialFailed)]
    assert failure.error == "spinning" and "in spins_forever" in failure.traceback


def test_results_sent_before_the_kill_come_first(executor, tmp_path):
    ex = executor
    launch = launch_for(tmp_path, reports_forever)
    ex.launch(launch)
    wait_for(ex, lambda e: isinstance(e, TrialResults))
    time.sleep(0.1)  # let results pile up unread in the pipe
    start = time.monotonic()
    ex.kill(launch.trial_id, "too long")
    assert time.monotonic() - start < 1.0  # a chatty trial cannot hold the kill up
    events = ex.poll(0)
    assert isinstance(events[-1], TrialFailed) and events[-1].error == "too long"
    assert results_of(events, launch.trial_id)  # read before the kill, delivered first
    assert [e for e in ex.poll(0.1) if e.trial_id == launch.trial_id] == []


def test_a_trial_that_ignores_sigterm_gets_sigkill(executor, tmp_path):
    ex = executor
    launch = launch_for(tmp_path, ignores_sigterm)
    ex.launch(launch)
    events = wait_for(ex, lambda e: isinstance(e, TrialResults))
    pid = results_of(events, launch.trial_id)[0]["pid"]
    start = time.monotonic()
    ex.kill(launch.trial_id, "stuck")
    assert time.monotonic() - start < 2.0
    assert process_gone(pid)
    (failure,) = [e for e in ex.poll(0) if isinstance(e, TrialFailed)]
    assert failure.error == "stuck" and not failure.worker_died


def test_a_synchronous_trial_waiting_for_a_decision_is_killed(executor, tmp_path):
    ex = executor
    launch = launch_for(tmp_path, reports_forever, sync_results=True)
    ex.launch(launch)
    wait_for(ex, lambda e: isinstance(e, TrialResults))  # now blocked waiting for decide()
    ex.kill(launch.trial_id, "no decision")
    (failure,) = [e for e in ex.poll(0) if isinstance(e, TrialFailed)]
    assert failure.error == "no decision"
    assert ex.available_resources()["CPU"] == 1.0


def test_kill_only_touches_its_own_trial(tmp_path):
    ex = LocalExecutor(num_cpus=2)
    ex.start()
    try:
        hung = launch_for(tmp_path, sleeps_forever)
        other = launch_for(tmp_path, sleeps_forever)
        ex.launch(hung)
        ex.launch(other)
        wait_for(ex, lambda e: isinstance(e, TrialResults) and e.trial_id == other.trial_id)
        ex.kill(hung.trial_id, "only this one")
        assert ex.running_trials() == {other.trial_id}
        failed = [e.trial_id for e in ex.poll(0.2) if isinstance(e, TrialFailed)]
        assert failed == [hung.trial_id]
        assert ex.available_resources()["CPU"] == 1.0
    finally:
        ex.shutdown()


def test_a_trial_that_ended_before_the_kill_is_left_alone(executor, tmp_path):
    ex = executor
    launch = launch_for(tmp_path, pid_of)
    ex.launch(launch)
    time.sleep(1.0)  # it has finished; its end is unread in the pipe
    ex.kill(launch.trial_id, "late")
    events = ex.poll(0)
    assert any(isinstance(e, TrialCompleted) for e in events)
    assert not any(isinstance(e, TrialFailed) for e in events)
    ex.kill("never-launched", "nothing")
    assert ex.poll(0) == []


# ---- executors that cannot kill -------------------------------------------------------------


def test_the_inline_executor_explains_it_cannot_kill(tmp_path):
    ex = InlineExecutor()
    assert not ex.supports_kill
    with pytest.raises(TuneError, match=r"inline executor cannot forcibly end trial t1") as info:
        ex.kill("t1", "Trial t1 exceeded trial_timeout_s=5")
    message = str(info.value)
    assert "thread" in message and "executor='local'" in message and "trial_timeout_s" in message


class _MinimalExecutor(Executor):
    name = "minimal"

    def start(self):
        pass

    def total_resources(self):
        return Resources({"CPU": 1.0})

    def available_resources(self):
        return Resources({"CPU": 1.0})

    def launch(self, launch):
        pass

    def decide(self, trial_id, decision):
        pass

    def stop(self, trial_id, save_checkpoint=False):
        pass

    def poll(self, timeout):
        return []

    def shutdown(self):
        pass


def test_executors_without_kill_raise_a_clear_error():
    ex = _MinimalExecutor()
    assert not ex.supports_kill
    with pytest.raises(TuneError, match=r"'minimal' executor \(_MinimalExecutor\) cannot forcibly end"):
        ex.kill("t1", "too long")


# ---- the controller's bookkeeping (tune.trial_timeout) --------------------------------------


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class _RecordsKills(_MinimalExecutor):
    supports_kill = True

    def __init__(self):
        self.kills = []

    def kill(self, trial_id, reason):
        self.kills.append((trial_id, reason))


def test_trial_timeouts_kill_each_overdue_trial_once():
    from tune.trial_timeout import TrialTimeouts

    clock = _Clock()
    timeouts = TrialTimeouts(2.0, clock=clock)
    ex = _RecordsKills()
    live = {"a": "trainable_a", "b": "trainable_b"}
    timeouts.launched("a")
    clock.now += 1.5
    timeouts.launched("b")
    assert timeouts.poll_timeout(0.5) == pytest.approx(0.5)
    clock.now += 0.25
    assert timeouts.poll_timeout(0.5) == pytest.approx(0.25)  # wakes when "a" is due
    assert timeouts.kill_overdue(ex, live) == []
    clock.now += 0.5
    assert timeouts.kill_overdue(ex, live) == ["a"]
    assert ex.kills == [("a", "Trial trainable_a exceeded trial_timeout_s=2.0 (ran 2.2 s)")]
    assert timeouts.kill_overdue(ex, live) == []  # once
    timeouts.ended("b")  # b completed in time
    clock.now += 10
    assert timeouts.kill_overdue(ex, live) == [] and timeouts.poll_timeout(0.5) == 0.5
    # A retried trial gets the whole limit again.
    timeouts.launched("a")
    clock.now += 1.9
    assert timeouts.kill_overdue(ex, live) == []
    clock.now += 0.2
    assert timeouts.kill_overdue(ex, live) == ["a"]
    # Overdue but no longer live (its end is being processed): not killed.
    timeouts.launched("c")
    clock.now += 5
    assert timeouts.kill_overdue(ex, live) == [] and len(ex.kills) == 2


def test_no_limit_means_no_bookkeeping():
    from tune.trial_timeout import TrialTimeouts, check_executor_can_kill

    timeouts = TrialTimeouts(None)
    timeouts.launched("a")
    assert timeouts.poll_timeout(0.5) == 0.5
    assert timeouts.kill_overdue(_MinimalExecutor(), {"a": 1}) == []
    check_executor_can_kill(None, InlineExecutor())
    check_executor_can_kill(5.0, LocalExecutor())
    with pytest.raises(TuneError, match=r"trial_timeout_s=5.0: the 'inline' executor"):
        check_executor_can_kill(5.0, InlineExecutor())


# ---- through the Tuner (once the controller enforces TuneConfig(trial_timeout_s=...)) -------


def test_tuner_ends_a_hung_trial_and_retries_it(tmp_path):
    import dataclasses

    import tune

    if "trial_timeout_s" not in {f.name for f in dataclasses.fields(tune.TuneConfig)}:
        pytest.skip("TuneConfig(trial_timeout_s=...) is not wired into the controller yet")

    def hangs_first_time(config):
        marker = os.path.join(config["dir"], "ran_once")
        if not os.path.exists(marker):
            open(marker, "w").close()
            report({"score": 0})
            time.sleep(1000)
        report({"score": 1})

    start = time.monotonic()
    results = tune.Tuner(
        hangs_first_time,
        param_space={"dir": str(tmp_path)},
        tune_config=tune.TuneConfig(trial_timeout_s=1.0),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), name="timeout", verbose=0,
            failure_config=tune.FailureConfig(max_failures=1),
        ),
    ).fit()
    assert time.monotonic() - start < 30
    (result,) = list(results)
    assert result.error is None and result.metrics["score"] == 1
    with open(os.path.join(result.path, "error.txt")) as f:
        text = f.read()
    assert "exceeded trial_timeout_s=1.0" in text and "in hangs_first_time" in text
