"""The local executor's own duties: resource accounting (fractional CPUs, GPU ids and
CUDA_VISIBLE_DEVICES), warm workers, worker death, with_parameters shipping, spawn, and a
throughput measurement."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

import pytest

from tune.errors import (
    InsufficientResourcesError,
    TuneError,
    TuneTypeError,
    TuneValueError,
    WorkerDiedError,
)
from tune.execution.executor import (
    TrialCompleted,
    TrialFailed,
    TrialLaunch,
    TrialResults,
)
from tune.execution.local import LocalExecutor, detect_gpu_ids
from tune.resources import Resources
from tune.trainable.function_trainable import wrap_function
from tune.trainable.session import report
from tune.trainable.util import with_parameters

# ---- trainables ---------------------------------------------------------------------------


def env_probe(config):
    report({"cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "extra": os.environ.get("EXTRA")})
    time.sleep(config.get("sleep", 0))


def overlap(config):
    start = time.time()
    time.sleep(config.get("sleep", 0.3))
    report({"start": start, "end": time.time(), "pid": os.getpid()})


def pid_of(config):
    report({"pid": os.getpid()})


def dies(config):
    report({"before": 1})
    how = config["how"]
    if how == "exit":
        os._exit(3)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "segfault":
        ctypes.string_at(0)


def blocks(config):
    time.sleep(60)


def unpicklable_result(config):
    report({"fn": lambda: None, "gen": (i for i in range(3))})


def prints(config):
    print("hello from the trial", flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    report({"ok": 1})


class CountsUnpickles:
    """A stand-in for a big dataset that records every time it is unpickled."""

    def __init__(self, log_path, size=1000):
        self.log_path = log_path
        self.data = list(range(size))

    def __getstate__(self):
        with open(self.log_path + ".pickles", "a") as f:
            f.write("p\n")
        return {"log_path": self.log_path, "data": self.data}

    def __setstate__(self, state):
        self.__dict__.update(state)
        with open(self.log_path, "a") as f:
            f.write(f"{os.getpid()}\n")


def uses_data(config, data):
    report({"n": len(data.data), "pid": os.getpid(), "obj": id(data)})


# ---- helpers ------------------------------------------------------------------------------

_ids = iter(range(10**9))


def launch_for(tmp_path, fn, config=None, trainable=None, **kw):
    trial_id = kw.pop("trial_id", f"t{next(_ids)}")
    trial_dir = tmp_path / trial_id
    trial_dir.mkdir(parents=True, exist_ok=True)
    kw.setdefault("sync_results", False)
    return TrialLaunch(
        trial_id=trial_id,
        trial_name=trial_id,
        trainable=trainable or wrap_function(fn),
        config=config or {},
        trial_dir=str(trial_dir),
        experiment_dir=str(tmp_path),
        **kw,
    )


def drive(ex, launches, timeout=30.0):
    """Launch as capacity allows; poll until all ended. Returns {trial_id: (results, end)}."""
    results = {launch.trial_id: [] for launch in launches}
    ends: dict = {}
    pending = list(launches)
    deadline = time.monotonic() + timeout
    max_running = 0
    while len(ends) < len(launches):
        assert time.monotonic() < deadline, "trials did not finish in time"
        while pending and ex.fits_now(Resources(pending[0].resources)):
            ex.launch(pending.pop(0))
        max_running = max(max_running, len(ex.running_trials()))
        for event in ex.poll(0.5):
            if isinstance(event, TrialResults):
                results[event.trial_id].extend(event.results)
            elif isinstance(event, (TrialCompleted, TrialFailed)):
                ends[event.trial_id] = event
    drive.max_running = max_running
    return {tid: (results[tid], ends[tid]) for tid in results}


@pytest.fixture
def executor_factory():
    made = []

    def make(**kw):
        ex = LocalExecutor(**kw)
        ex.start()
        made.append(ex)
        return ex

    yield make
    for ex in made:
        ex.shutdown()


# ---- resources ----------------------------------------------------------------------------


def test_total_and_available_resources(executor_factory, tmp_path):
    ex = executor_factory(num_cpus=2, num_gpus=0, resources={"token": 3})
    total = ex.total_resources()
    assert total["CPU"] == 2.0 and total["GPU"] == 0.0 and total["token"] == 3.0
    assert total["memory"] > 0
    ex.launch(launch_for(tmp_path, overlap, resources=Resources({"CPU": 1.5, "token": 1})))
    free = ex.available_resources()
    assert free["CPU"] == pytest.approx(0.5) and free["token"] == 2.0
    assert not ex.fits_now(Resources({"CPU": 1.0}))
    assert ex.fits_now(Resources({"CPU": 0.5}))
    for _ in range(100):
        if any(isinstance(e, TrialCompleted) for e in ex.poll(0.5)):
            break
    assert ex.available_resources()["CPU"] == 2.0 and ex.running_trials() == set()


def test_fractional_cpus_run_concurrently(executor_factory, tmp_path):
    ex = executor_factory(num_cpus=2)
    launches = [
        launch_for(tmp_path, overlap, {"sleep": 0.5}, resources=Resources({"CPU": 0.5}))
        for _ in range(4)
    ]
    out = drive(ex, launches)
    assert drive.max_running == 4
    spans = [results[0] for results, _ in out.values()]
    assert len({s["pid"] for s in spans}) == 4
    assert max(s["start"] for s in spans) < min(s["end"] for s in spans)


def test_a_trial_that_can_never_fit(executor_factory, tmp_path):
    ex = executor_factory(num_cpus=2, num_gpus=0)
    huge = Resources({"CPU": 3.0})
    assert not ex.fits_ever(huge)
    assert not ex.fits_ever(Resources({"GPU": 1.0}))
    assert not ex.fits_ever(Resources({"unknown_thing": 1.0}))
    with pytest.raises(InsufficientResourcesError, match="can never run"):
        ex.launch(launch_for(tmp_path, pid_of, resources=huge))


def test_launch_without_room_now_raises(executor_factory, tmp_path):
    ex = executor_factory(num_cpus=1)
    ex.launch(launch_for(tmp_path, blocks))
    with pytest.raises(TuneError, match="fits_now"):
        ex.launch(launch_for(tmp_path, pid_of))


def test_cuda_visible_devices_empty_without_gpus(executor_factory, tmp_path):
    ex = executor_factory(num_gpus=0)
    out = drive(ex, [launch_for(tmp_path, env_probe, env={"EXTRA": "yes"})])
    (results, end), = out.values()
    assert results[0]["cuda"] == "" and results[0]["extra"] == "yes"
    # The worker's environment is restored after the trial.
    out = drive(ex, [launch_for(tmp_path, env_probe)])
    (results, _), = out.values()
    assert results[0]["extra"] is None


def test_gpu_ids_are_assigned_per_trial(executor_factory, tmp_path):
    ex = executor_factory(num_cpus=8, num_gpus=2)
    assert ex.total_resources()["GPU"] == 2.0
    one = Resources({"CPU": 1, "GPU": 1})
    launches = [launch_for(tmp_path, env_probe, {"sleep": 0.3}, resources=one) for _ in range(3)]
    ex.launch(launches[0])
    ex.launch(launches[1])
    assert not ex.fits_now(Resources({"GPU": 0.1})) and ex.available_resources()["GPU"] == 0.0
    cuda: dict = {}
    third_launched = False
    while not third_launched or ex.running_trials():
        if not third_launched and ex.fits_now(one):
            ex.launch(launches[2])  # once a GPU came free
            third_launched = True
        for event in ex.poll(0.5):
            if isinstance(event, TrialResults):
                cuda[event.trial_id] = event.results[0]["cuda"]
    devices = [cuda[launch.trial_id] for launch in launches]
    assert sorted(devices[:2]) == ["0", "1"] and devices[2] in ("0", "1")


def test_fractional_gpus_share_a_device(executor_factory, tmp_path):
    ex = executor_factory(num_cpus=8, num_gpus=2)
    half = Resources({"CPU": 1, "GPU": 0.5})
    launches = [launch_for(tmp_path, overlap, {"sleep": 0.4}, resources=half) for _ in range(4)]
    for launch in launches[:3]:
        ex.launch(launch)
    # Best fit: the third half-GPU trial shares a device, the other device still has room.
    assert ex.fits_now(half) and not ex.fits_now(Resources({"GPU": 1.0}))
    ex.launch(launches[3])
    assert not ex.fits_now(Resources({"GPU": 0.5}))
    while ex.running_trials():
        ex.poll(0.5)
    probe = [launch_for(tmp_path, env_probe, resources=Resources({"CPU": 1, "GPU": 2}))]
    (results, _), = drive(ex, probe).values()
    assert results[0]["cuda"] == "0,1"


def test_gpu_detection_follows_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert detect_gpu_ids() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect_gpu_ids() == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,-1,2")
    assert detect_gpu_ids() == ["1"]


def test_start_method_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TUNE_WORKER_START_METHOD", "threads")
    with pytest.raises(TuneValueError, match="TUNE_WORKER_START_METHOD"):
        LocalExecutor().start()
    monkeypatch.setenv("TUNE_WORKER_START_METHOD", "forkserver")
    ex = LocalExecutor(num_cpus=1)
    try:
        (results, end), = drive(ex, [launch_for(tmp_path, pid_of)], timeout=60).values()
        assert isinstance(end, TrialCompleted)
    finally:
        ex.shutdown()


def test_shutdown_releases_shipped_trainables(executor_factory, tmp_path):
    from tune.execution import local

    ex = executor_factory()
    trainable = wrap_function(pid_of)
    drive(ex, [launch_for(tmp_path, None, trainable=trainable)])
    assert any(t is trainable for t in local._REGISTRY.values())
    ex.shutdown()
    assert not any(t is trainable for t in local._REGISTRY.values())
    assert all(trainable is not entry[0] for entry in local._KEYS.values())


def test_bad_constructor_arguments():
    with pytest.raises(TuneValueError, match="num_cpus"):
        LocalExecutor(num_cpus=0)
    with pytest.raises(TypeError, match="num_gpus"):
        LocalExecutor(num_gpus=1.5)
    with pytest.raises(TuneValueError, match="start_method"):
        LocalExecutor(start_method="thread")
    with pytest.raises(TypeError, match="resources"):
        LocalExecutor(resources=["x"])


# ---- workers ------------------------------------------------------------------------------


def test_workers_stay_warm_across_trials_and_executors(executor_factory, tmp_path):
    ex = executor_factory(num_cpus=1)
    trainable = wrap_function(pid_of)
    out = drive(ex, [launch_for(tmp_path, None, trainable=trainable) for _ in range(5)])
    pids = {results[0]["pid"] for results, _ in out.values()}
    assert len(pids) == 1
    ex.shutdown()
    ex2 = executor_factory(num_cpus=1)
    out = drive(ex2, [launch_for(tmp_path, None, trainable=trainable)])
    assert {results[0]["pid"] for results, _ in out.values()} == pids


@pytest.mark.parametrize("how, expected", [
    ("exit", "exit code 3"), ("kill", "SIGKILL"), ("segfault", "SIGSEGV"),
])
def test_worker_death_fails_the_trial_and_the_next_one_runs(
    executor_factory, tmp_path, how, expected
):
    ex = executor_factory(num_cpus=1)
    out = drive(ex, [launch_for(tmp_path, dies, {"how": how}, trial_id=f"dies_{how}")])
    results, end = out[f"dies_{how}"]
    assert isinstance(end, TrialFailed) and end.worker_died
    assert "worker process" in end.error and "died" in end.error and expected in end.error
    assert isinstance(end.exception, WorkerDiedError)
    assert results == [] or results[0]["before"] == 1
    assert ex.available_resources()["CPU"] == 1.0
    (results, end), = drive(ex, [launch_for(tmp_path, pid_of)]).values()
    assert isinstance(end, TrialCompleted) and results[0]["pid"] != os.getpid()


def test_unpicklable_trainable_fails_at_launch(executor_factory, tmp_path):
    import threading

    lock = threading.Lock()

    def holds_a_lock(config):
        with lock:
            report({"x": 1})

    ex = executor_factory()
    with pytest.raises(TuneTypeError, match="cannot be pickled"):
        ex.launch(launch_for(tmp_path, holds_a_lock))
    assert ex.running_trials() == set() and ex.available_resources()["CPU"] >= 1


def test_unpicklable_result_fails_with_a_clear_message(executor_factory, tmp_path):
    ex = executor_factory()
    (results, end), = drive(ex, [launch_for(tmp_path, unpicklable_result)]).values()
    assert isinstance(end, TrialFailed) and not end.worker_died
    assert "cannot be pickled" in end.error and "result[" in end.error


def test_trial_output_goes_to_files(executor_factory, tmp_path):
    ex = executor_factory()
    launch = launch_for(tmp_path, prints)
    launch.stdout_file = os.path.join(launch.trial_dir, "stdout")
    launch.stderr_file = os.path.join(launch.trial_dir, "stderr")
    drive(ex, [launch])
    with open(launch.stdout_file) as f:
        assert "hello from the trial" in f.read()
    with open(launch.stderr_file) as f:
        assert "to stderr" in f.read()


def test_shutdown_never_hangs_on_a_stuck_trial(tmp_path):
    ex = LocalExecutor(num_cpus=1)
    ex.start()
    ex.launch(launch_for(tmp_path, blocks))
    time.sleep(0.2)
    start = time.monotonic()
    ex.shutdown()
    assert time.monotonic() - start < 5
    ex.shutdown()  # idempotent
    with pytest.raises(TuneError, match="shut down"):
        ex.launch(launch_for(tmp_path, pid_of))


# ---- with_parameters: objects travel once per worker ----------------------------------------


def test_with_parameters_objects_are_not_copied_per_trial(executor_factory, tmp_path):
    log = str(tmp_path / "unpickles.log")
    ex = executor_factory(num_cpus=2)
    # Warm the workers first, so the new trainable must be shipped (not inherited by fork).
    drive(ex, [launch_for(tmp_path, overlap, {"sleep": 0.1}) for _ in range(2)])
    trainable = wrap_function(with_parameters(uses_data, data=CountsUnpickles(log)))
    launches = [launch_for(tmp_path, None, {"x": i}, trainable=trainable) for i in range(10)]
    out = drive(ex, launches)
    results = [r[0] for r, _ in out.values()]
    assert all(r["n"] == 1000 for r in results)
    assert all("data" not in launch.config for launch in launches)
    workers = {r["pid"] for r in results}
    with open(log) as f:
        unpickled_in = f.read().split()
    assert 1 <= len(unpickled_in) <= len(workers)
    assert len(unpickled_in) == len(set(unpickled_in))
    with open(log + ".pickles") as f:
        assert len(f.read().split()) == 1
    # Within a worker every trial sees the same object.
    by_pid: dict = {}
    for r in results:
        by_pid.setdefault(r["pid"], set()).add(r["obj"])
    assert all(len(ids) == 1 for ids in by_pid.values())


def test_spawn_start_method_works(executor_factory, tmp_path):
    log = str(tmp_path / "unpickles.log")
    ex = executor_factory(num_cpus=2, start_method="spawn")
    trainable = wrap_function(with_parameters(uses_data, data=CountsUnpickles(log)))
    out = drive(ex, [launch_for(tmp_path, None, trainable=trainable) for _ in range(4)], timeout=60)
    results = [r[0] for r, _ in out.values()]
    assert all(isinstance(end, TrialCompleted) for _, end in out.values())
    assert all(r["n"] == 1000 for r in results)
    with open(log) as f:
        assert len(f.read().split()) <= len({r["pid"] for r in results})
    (results, end), = drive(ex, [launch_for(tmp_path, dies, {"how": "exit"})]).values()
    assert end.worker_died


# ---- throughput (printed, not asserted) ---------------------------------------------------


def trivial(config):
    report({"x": 1})


def tight(config):
    for i in range(config["n"]):
        report({"loss": i})


def test_measure_throughput(executor_factory, tmp_path, capsys):
    ex = executor_factory(num_cpus=2)
    (tmp_path / "d").mkdir()
    trainable = wrap_function(trivial)

    def launches(n, fn_cls, config, prefix):
        return [
            TrialLaunch(f"{prefix}{i}", "x", fn_cls, config, str(tmp_path / "d"), str(tmp_path),
                        sync_results=False)
            for i in range(n)
        ]

    drive(ex, launches(50, trainable, {}, "warm"))
    start = time.perf_counter()
    drive(ex, launches(1000, trainable, {}, "triv"))
    trials_per_s = 1000 / (time.perf_counter() - start)
    start = time.perf_counter()
    out = drive(ex, launches(2, wrap_function(tight), {"n": 50_000}, "tight"))
    n = sum(len(r) for r, _ in out.values())
    results_per_s = n / (time.perf_counter() - start)
    with capsys.disabled():
        print(
            f"\n[local executor] trivial trials/s: {trials_per_s:,.0f}; "
            f"results/s (2 tight trials): {results_per_s:,.0f}"
        )
    assert n == 100_000, {t: (len(r), e, r[-1] if r else None) for t, (r, e) in out.items()}
