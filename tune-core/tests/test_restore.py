"""Experiment-level fault tolerance: kills, interrupts, Tuner.restore and its errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import tune
from tune.errors import TuneValueError
from tune.journal import load_experiment

JOB = os.path.join(os.path.dirname(__file__), "jobs", "restore_job.py")
TRIALS, STEPS = 6, 5


def _default_sigint():
    # Test runners may ignore or block SIGINT, and both survive exec: Python would then not
    # even raise KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGUSR1})


def start_job(storage, mode, *extra, env=None):
    return subprocess.Popen(
        [sys.executable, JOB, str(storage), "exp", mode, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_default_sigint,
        env=env,
    )


def wait_group_gone(pgid, timeout=10.0):
    """Workers notice their driver died and exit; wait for that before restoring."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.killpg(pgid, signal.SIGKILL)


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def markers(storage):
    path = storage / "markers.txt"
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def check_complete(storage):
    """Every trial TERMINATED once, with steps 1..STEPS each exactly once in its history."""
    exp = storage / "exp"
    state = load_experiment(str(exp))
    trials = state["trials"]
    assert len(trials) == TRIALS
    assert sorted(t["config"]["x"] for t in trials) == list(range(TRIALS))
    for t in trials:
        assert t["status"] == "TERMINATED", t
        lines = (exp / os.path.basename(t["path"]) / "result.json").read_text().splitlines()
        history = [json.loads(line) for line in lines]
        assert [r["step"] for r in history] == list(range(1, STEPS + 1)), t["trial_id"]
        assert [r["training_iteration"] for r in history] == list(range(1, STEPS + 1))
    ends = [m[1] for m in markers(storage) if m[0] == "end"]
    assert sorted(set(ends)) == sorted(t["trial_id"] for t in trials)
    return trials


# 22 kill instants spread over the whole run (~1.9 s: start-up with imports and the first
# snapshot, then 6 trials x 5 steps of 0.1 s on 2 workers, every report with a checkpoint,
# then the final snapshot), each while the driver is still running.
KILL_DELAYS = [round(i * 0.075, 3) for i in range(22)]


@pytest.mark.slow
@pytest.mark.parametrize("delay", KILL_DELAYS)
def test_sigkill_at_any_instant_then_restore(tmp_path, delay):
    proc = start_job(tmp_path, "fit", "--sleep", "0.1")
    time.sleep(delay)
    assert proc.poll() is None, "the run ended before the kill instant"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    wait_group_gone(proc.pid)
    exp = tmp_path / "exp"
    finished_before = set()
    if tune.Tuner.can_restore(str(exp)):
        state = load_experiment(str(exp))
        finished_before = {t["trial_id"] for t in state["trials"] if t["status"] == "TERMINATED"}
        seen = len(markers(tmp_path))
        rerun = start_job(tmp_path, "restore")
    else:
        seen = 0
        rerun = start_job(tmp_path, "fit", "--sleep", "0.1")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    check_complete(tmp_path)
    restarted = {m[1] for m in markers(tmp_path)[seen:] if m[0] == "start"}
    assert not (restarted & finished_before), "a completed trial ran again"


def test_sigint_stops_gracefully_and_restore_finishes(tmp_path):
    proc = start_job(tmp_path, "fit", "--sleep", "0.2")
    wait_until(lambda: any(m[0] == "start" for m in markers(tmp_path)))
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Tuner.restore" in err
    state = load_experiment(str(tmp_path / "exp"))
    unfinished = [t for t in state["trials"] if t["status"] != "TERMINATED"]
    assert unfinished, "the interrupt should leave trials to continue"
    assert any(t.get("checkpoint_path") for t in unfinished)
    rerun = start_job(tmp_path, "restore")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    check_complete(tmp_path)
    # trials that had a checkpoint continued from it instead of starting over
    resumed = [m for m in markers(tmp_path) if m[0] == "start" and m[2] != "0"]
    assert resumed


def test_sigusr1_also_stops_gracefully(tmp_path):
    proc = start_job(tmp_path, "fit", "--sleep", "0.2")
    wait_until(lambda: markers(tmp_path))
    proc.send_signal(signal.SIGUSR1)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "SIGUSR1" in err


def test_second_sigint_stops_at_once(tmp_path):
    proc = start_job(tmp_path, "fit", "--sleep", "2")
    wait_until(lambda: markers(tmp_path))
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    wait_group_gone(proc.pid)
    assert tune.Tuner.can_restore(str(tmp_path / "exp"))


def fails_once(config):
    marker = config["marker"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
    tune.report({"ok": 1})


def test_resume_errored_and_restart_errored(tmp_path):
    space = {"marker": str(tmp_path / "m")}
    rc = tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)
    results = tune.Tuner(fails_once, param_space=space, run_config=rc).fit()
    assert results.num_errors == 1
    path = str(tmp_path / "exp")
    again = tune.Tuner.restore(path, fails_once).fit()
    assert again.num_errors == 1, "errored trials stay errored by default"
    fixed = tune.Tuner.restore(path, fails_once, restart_errored=True).fit()
    assert fixed.num_errors == 0 and fixed[0].metrics["ok"] == 1
    assert len(fixed) == 1


def counting(config):
    tune.report({"v": config["x"]})


def test_restore_counts_trials_already_run(tmp_path):
    rc = tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)
    tune.Tuner(counting, param_space={"x": tune.grid_search([1, 2, 3])}, run_config=rc).fit()
    results = tune.Tuner.restore(str(tmp_path / "exp"), counting).fit()
    assert len(results) == 3
    assert sorted(r.metrics["v"] for r in results) == [1, 2, 3]
    assert tune.Tuner.restore(str(tmp_path / "exp"), counting).get_results() is not None


def test_restored_get_results_without_fit(tmp_path):
    rc = tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)
    tune.Tuner(counting, param_space={"x": tune.grid_search([1, 2])}, run_config=rc).fit()
    grid = tune.Tuner.restore(str(tmp_path / "exp"), counting).get_results()
    assert sorted(r.metrics["v"] for r in grid) == [1, 2]
    analysis = tune.ExperimentAnalysis(str(tmp_path / "exp"))
    assert len(analysis.trials) == 2


def test_can_restore_and_bad_paths(tmp_path):
    assert not tune.Tuner.can_restore(str(tmp_path / "nothing"))
    with pytest.raises(TuneValueError, match="no such directory"):
        tune.Tuner.restore(str(tmp_path / "nothing"), counting)
    (tmp_path / "empty").mkdir()
    with pytest.raises(TuneValueError, match="holds no experiment"):
        tune.Tuner.restore(str(tmp_path / "empty"), counting)


def test_restore_with_a_different_trainable(tmp_path):
    rc = tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)
    tune.Tuner(counting, run_config=rc).fit()

    def other(config):
        pass

    with pytest.raises(TuneValueError, match="'counting'"):
        tune.Tuner.restore(str(tmp_path / "exp"), other)


def test_corrupted_state_file_names_the_file(tmp_path):
    rc = tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)
    tune.Tuner(counting, run_config=rc).fit()
    state = tmp_path / "exp" / "experiment_state.json"
    state.write_text(state.read_text()[:20])
    with pytest.raises(TuneValueError, match="experiment_state.json"):
        tune.Tuner.restore(str(tmp_path / "exp"), counting)


def test_torn_journal_record_is_skipped(tmp_path, caplog):
    rc = tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)
    tune.Tuner(counting, param_space={"x": tune.grid_search([1, 2])}, run_config=rc).fit()
    exp = tmp_path / "exp"
    generation = json.loads((exp / "experiment_state.json").read_text())["generation"]
    with open(exp / f"journal-{generation}.jsonl", "ab") as f:
        f.write(b"0badc0de {\"t\": \"trial\", \"trial\": {\"trial_id\": \"zz\"")
    state = load_experiment(str(exp))
    assert len(state["trials"]) == 2
    assert "damaged or incomplete" in caplog.text


def test_vanished_checkpoint_is_named(tmp_path):
    proc = start_job(tmp_path, "fit", "--sleep", "0.3")
    exp = tmp_path / "exp"

    def checkpoint_recorded():
        if not (exp / "experiment_state.json").exists():
            return False
        return any(t.get("checkpoint_path") for t in load_experiment(str(exp))["trials"])

    wait_until(checkpoint_recorded)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    wait_group_gone(proc.pid)
    state = load_experiment(str(exp))
    victim = next(t["checkpoint_path"] for t in state["trials"] if t.get("checkpoint_path"))
    import shutil

    shutil.rmtree(victim)
    sys.path.insert(0, os.path.dirname(JOB))
    from restore_job import train

    with pytest.raises(TuneValueError, match="vanished") as info:
        tune.Tuner.restore(str(exp), train)
    assert victim in str(info.value)


def test_searcher_restore_from_experiment_dir(tmp_path):
    from tune.search import BasicVariantGenerator

    rc = tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)
    searcher = BasicVariantGenerator(random_state=3)
    tune.Tuner(
        counting,
        param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=4),
        run_config=rc,
    ).fit()
    fresh = BasicVariantGenerator()
    fresh.set_search_properties(None, None, {"x": tune.uniform(0, 1)}, num_samples=4)
    fresh.restore_from_dir(str(tmp_path / "exp"))
    assert fresh.suggest("next") == "FINISHED"
    with pytest.raises(tune.TuneError, match="No searcher state"):
        BasicVariantGenerator().restore_from_dir(str(tmp_path))


def test_analysis_of_a_killed_run_reads_the_journal(tmp_path):
    proc = start_job(tmp_path, "fit", "--sleep", "0.1")
    wait_until(lambda: sum(1 for m in markers(tmp_path) if m[0] == "end") >= 2)
    # the driver commits a trial's end a moment after the trial itself returns
    time.sleep(0.4)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    wait_group_gone(proc.pid)
    analysis = tune.ExperimentAnalysis(str(tmp_path / "exp"))
    done = [t for t in analysis.trials if t.status == "TERMINATED"]
    assert len(done) >= 2
    assert all(t.last_result.get("step") == STEPS for t in done)


class CountingCallback(tune.Callback):
    def __init__(self):
        self.results = 0

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.results += 1

    def get_state(self):
        return {"results": self.results}

    def set_state(self, state):
        self.results = state["results"]


class StopOnceAfterFirstTrial(tune.Stopper):
    def __init__(self):
        self.completed = 0
        self.fired = False

    def __call__(self, trial_id, result):
        self.completed += 1
        return False

    def stop_all(self):
        if self.completed >= 1 and not self.fired:
            self.fired = True
            return True
        return False

    def get_state(self):
        return {"completed": self.completed, "fired": self.fired}

    def set_state(self, state):
        self.completed, self.fired = state["completed"], state["fired"]


def test_callback_and_stopper_state_survive_restore(tmp_path):
    rc = tune.RunConfig(
        storage_path=str(tmp_path), name="exp", verbose=0,
        callbacks=[CountingCallback()], stop=StopOnceAfterFirstTrial(),
    )
    first = tune.Tuner(
        counting,
        param_space={"x": tune.grid_search([1, 2, 3])},
        tune_config=tune.TuneConfig(max_concurrent_trials=1),
        run_config=rc,
    ).fit()
    assert first.num_terminated == 1, "the stopper ends the run after the first trial"
    tuner = tune.Tuner.restore(str(tmp_path / "exp"), counting)
    results = tuner.fit()
    assert results.num_terminated == 3
    callback = tuner._run_config.callbacks[0]
    assert callback.results == 3, "the restored callback kept counting from its saved state"
    stopper = tuner._run_config.stop
    assert stopper.fired and stopper.completed == 3


def flaky_with_checkpoints(config):
    import tempfile

    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = int(open(os.path.join(d, "step")).read())
    with open(config["log"], "a") as f:
        f.write(f"start {start}\n")
    for step in range(start, 5):
        if step == 3 and start == 0:
            raise RuntimeError("fails once at step 3")
        d = tempfile.mkdtemp()
        with open(os.path.join(d, "step"), "w") as f:
            f.write(str(step + 1))
        tune.report({"step": step + 1}, checkpoint=tune.Checkpoint.from_directory(d))


def test_failed_trial_restarts_from_its_latest_checkpoint(tmp_path):
    log = tmp_path / "log.txt"
    result = tune.Tuner(
        flaky_with_checkpoints,
        param_space={"log": str(log)},
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), verbose=0,
            failure_config=tune.FailureConfig(max_failures=1),
        ),
    ).fit()[0]
    assert result.error is None
    assert log.read_text().split("\n")[:2] == ["start 0", "start 3"]
    history = [json.loads(line)["step"] for line in open(os.path.join(result.path, "result.json"))]
    assert history == [1, 2, 3, 4, 5]
    assert "fails once at step 3" in open(os.path.join(result.path, "error.txt")).read()


def test_global_checkpoint_period(tmp_path, monkeypatch):
    def slow(config):
        for _ in range(4):
            time.sleep(0.1)
            tune.report({"v": 1})

    monkeypatch.setenv("TUNE_GLOBAL_CHECKPOINT_S", "0.05")
    rc = tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)
    tune.Tuner(slow, run_config=rc).fit()
    state = json.loads((tmp_path / "exp" / "experiment_state.json").read_text())
    assert state["generation"] >= 4, "a snapshot about every 0.05 s of a 0.4 s run"


def test_sigint_handler_can_be_disabled(monkeypatch):
    """With TUNE_DISABLE_SIGINT_HANDLER=1 a run leaves SIGINT and SIGUSR1 as they were.

    (Checked in-process: Python drops a KeyboardInterrupt that lands inside a finalizer, so a
    test sending SIGINT to a run without our handler could not be relied on.)"""
    from tune.interrupts import InterruptHandler

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGUSR1)}
    with InterruptHandler() as handler:
        installed = {s: signal.getsignal(s) for s in before}
    assert all(installed[s] == handler._handle for s in before)
    assert {s: signal.getsignal(s) for s in before} == before
    monkeypatch.setenv("TUNE_DISABLE_SIGINT_HANDLER", "1")
    with InterruptHandler():
        assert {s: signal.getsignal(s) for s in before} == before
