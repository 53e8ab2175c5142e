"""The ``local`` executor: trials run in a pool of warm worker processes on this machine.

* Resources: CPUs (fractional allowed), GPUs (specific ids assigned per trial, fractional
  sharing allowed, ``CUDA_VISIBLE_DEVICES`` set for the trial; ``""`` when it asked for none),
  ``memory`` and custom resources. A trial reserves ``launch.resources`` until it ends.
* Workers: one per concurrently running trial, started on demand (``fork`` by default on
  Linux; ``TUNE_WORKER_START_METHOD`` or ``start_method=`` pick ``spawn``/``forkserver``)
  and kept in a module-level pool that later experiments in the same driver reuse; they are
  shut down at interpreter exit.
* Trainables travel once per worker: each is cloudpickled once per executor (so an unpicklable
  one fails at its first launch, always); a forked worker inherits those known when it was
  forked, others receive the pickle with their first trial of it. ``with_parameters`` objects
  ride along, so they are not copied per trial.
* A worker that dies (segfault, ``os._exit``, SIGKILL, out of memory) fails its trial with
  ``worker_died=True``; its resources are freed and a fresh worker takes its place.
* ``kill(trial_id, reason)`` (``TuneConfig(trial_timeout_s=...)``) ends a hung trial: the
  worker's thread stacks are dumped (``faulthandler`` on ``SIGUSR2``, into a per-worker file
  that both ends open and the worker unlinks at once, so none is ever left behind) so the
  failure shows where it was stuck, then the worker gets SIGTERM and,
  after a short grace, SIGKILL; its resources are freed and a fresh worker is started.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import pickle
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tune.errors import (
    InsufficientResourcesError,
    TuneError,
    TuneTypeError,
    WorkerDiedError,
    invalid_type,
    invalid_value,
)
from tune.execution._runner import decode
from tune.execution.executor import (
    CONTINUE,
    PAUSE,
    STOP,
    Event,
    Executor,
    TrialFailed,
    TrialLaunch,
)
from tune.resources import Resources

_START_METHODS = ("fork", "spawn", "forkserver")
_EPS = 1e-9
#: seconds a killed worker gets between SIGTERM and SIGKILL
KILL_GRACE_S = 0.5
#: longest a kill waits for the worker's stack dump
_STACK_DUMP_WAIT_S = 0.3
#: longest a kill spends reading what the worker sent before it is killed
_KILL_DRAIN_S = 0.1
_STACK_SIGNAL = getattr(signal, "SIGUSR2", None)


# ---- trainables by key (driver side) ------------------------------------------------------

_KEYS: dict[int, tuple[Any, str]] = {}  # id(trainable) -> (trainable, key)
_REGISTRY: dict[str, Any] = {}  # key -> trainable; forked workers inherit it
_BLOBS: dict[str, bytes] = {}  # key -> cloudpickled trainable
_KEY_USERS: dict[str, int] = {}  # key -> number of executors using it
_key_counter = itertools.count()
_launch_counter = itertools.count()


def _blob(key: str) -> bytes:
    blob = _BLOBS.get(key)
    if blob is None:
        import cloudpickle

        trainable = _REGISTRY[key]
        try:
            blob = cloudpickle.dumps(trainable, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - explained to the user below
            raise TuneTypeError(
                f"Invalid trainable {getattr(trainable, '__name__', trainable)!r}: it cannot be "
                f"pickled ({type(exc).__name__}: {exc}), so it cannot be sent to worker "
                "processes. Pass unpicklable objects with tune.with_parameters(...) built "
                "inside the trainable, or use TuneConfig(executor='inline')."
            ) from exc
        _BLOBS[key] = blob
    return blob


# ---- worker processes ---------------------------------------------------------------------


class _WorkerProc:
    """Driver-side handle of one worker process."""

    __slots__ = (
        "process", "conn", "fd", "method", "known", "kept_key", "gpu_tag", "pid", "stack_file",
        "stack_reader",
    )

    def __init__(
        self,
        process: Any,
        conn: Any,
        method: str,
        known: set[str],
        stack_file: tuple[str, Any] | None = None,
    ) -> None:
        self.process = process
        # Where the worker dumps its stacks on _STACK_SIGNAL: the path (which the worker
        # unlinks once it has opened it) and the driver's own read handle.
        self.stack_file, self.stack_reader = stack_file or (None, None)
        self.conn = conn
        self.fd = conn.fileno()
        self.method = method
        self.known = known
        self.kept_key: str | None = None
        self.gpu_tag: tuple[str, ...] | None = None  # GPU ids it ran with (CUDA binds once)
        self.pid = process.pid

    def send(self, msg: tuple) -> None:
        try:
            data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - configs may hold lambdas and local classes
            import cloudpickle

            data = cloudpickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        self.conn.send_bytes(data)

    def try_send(self, msg: tuple) -> None:
        """Send; a dead worker is noticed (and reported) by ``poll``."""
        try:
            self.send(msg)
        except OSError:
            pass

    def exit_description(self) -> str:
        code = self.process.exitcode
        if code is None:
            return "it stopped responding"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if -code == signal.SIGKILL:
                return f"killed by {name}; the system may have run out of memory"
            return f"killed by {name}"
        return f"exit code {code}"

    def dump_stacks(self) -> str:
        """The Python stacks of the worker's threads right now ("" if unavailable)."""
        reader = self.stack_reader
        if reader is None or _STACK_SIGNAL is None or not self.process.is_alive():
            return ""
        try:
            start = os.fstat(reader.fileno()).st_size
            os.kill(self.pid, _STACK_SIGNAL)
        except (OSError, ValueError):
            return ""
        # faulthandler writes from its C signal handler, even while Python code is stuck in
        # a system call or a C extension; wait until the file stops growing.
        deadline = time.monotonic() + _STACK_DUMP_WAIT_S
        size = start
        while time.monotonic() < deadline:
            time.sleep(0.01)
            try:
                now = os.fstat(reader.fileno()).st_size
            except (OSError, ValueError):
                return ""
            if now > start and now == size:
                break
            size = now
        try:
            reader.seek(start)
            text = reader.read().decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return ""
        return _trim_stacks(text)

    def remove_stack_file(self) -> None:
        """Close the driver's handle (and remove the file if the worker never did)."""
        if self.stack_reader is not None:
            try:
                self.stack_reader.close()
            except OSError:
                pass
            self.stack_reader = None
        if self.stack_file:
            try:
                os.remove(self.stack_file)
            except OSError:
                pass
            self.stack_file = None


class _Pool:
    """All worker processes of this driver; idle ones wait here between trials.

    Shared by every LocalExecutor of the process (experiments may run in threads), hence
    the lock around the lists.
    """

    def __init__(self) -> None:
        self.idle: list[_WorkerProc] = []
        self.workers: list[_WorkerProc] = []
        self._lock = threading.Lock()
        self._atexit_registered = False

    def checkout(
        self, method: str, key: str, reuse: bool, gpu_tag: tuple[str, ...]
    ) -> _WorkerProc:
        while True:
            with self._lock:
                best, best_score = None, -1
                for w in reversed(self.idle):  # most recently used first: warmest caches
                    if w.method != method or (w.gpu_tag is not None and w.gpu_tag != gpu_tag):
                        continue
                    score = 2 if (reuse and w.kept_key == key) else (1 if key in w.known else 0)
                    if score > best_score:
                        best, best_score = w, score
                        if score == 2:
                            break
                if best is not None:
                    self.idle.remove(best)
            if best is None:
                return self._start(method)
            if best.process.is_alive():
                return best
            self.discard(best)

    def _start(self, method: str) -> _WorkerProc:
        from tune.execution.worker import worker_main

        ctx = multiprocessing.get_context(method)
        parent, child = ctx.Pipe(duplex=True)
        stack_file = _new_stack_file()
        if method == "fork":
            args: tuple = (child, [parent], _REGISTRY, stack_file and stack_file[0])
            known = set(_REGISTRY)
        else:
            args = (child, [], {}, stack_file and stack_file[0])
            known = set()
        process = ctx.Process(target=worker_main, args=args, name="tune-worker", daemon=False)
        process.start()
        child.close()
        w = _WorkerProc(process, parent, method, known, stack_file)
        with self._lock:
            self.workers.append(w)
            if not self._atexit_registered:
                atexit.register(self.shutdown_all)
                self._atexit_registered = True
        return w

    def checkin(self, w: _WorkerProc) -> None:
        with self._lock:
            self.idle.append(w)

    def discard(self, w: _WorkerProc, grace: float = 0.0, term_grace: float = 0.5) -> None:
        """Remove a worker for good, making sure its process is gone."""
        with self._lock:
            if w in self.idle:
                self.idle.remove(w)
            if w in self.workers:
                self.workers.remove(w)
        _terminate([w], grace, term_grace)

    def forget(self, keys: set[str]) -> None:
        with self._lock:
            workers = list(self.workers)
        for w in workers:
            gone = w.known & keys
            if gone:
                w.known -= gone
                if w.kept_key in gone:
                    w.kept_key = None
                w.try_send(("f", sorted(gone)))

    def shutdown_all(self, grace: float = 1.0) -> None:
        with self._lock:
            workers, self.workers, self.idle = self.workers, [], []
        _terminate(workers, grace)

    def after_fork_in_child(self) -> None:
        # A forked process must not hold the driver's ends of worker pipes: a worker only
        # sees EOF (and exits) when every copy of its driver's end is closed.
        for w in self.workers:
            try:
                w.conn.close()
            except OSError:
                pass
            if w.stack_reader is not None:
                try:
                    w.stack_reader.close()
                except OSError:
                    pass
        self.workers, self.idle = [], []
        self._lock = threading.Lock()  # another thread may have held it at fork time
        self._atexit_registered = True  # the parent's atexit handlers are not run here


def _terminate(workers: list[_WorkerProc], grace: float, term_grace: float = 0.5) -> None:
    """Ask workers to exit (if ``grace``), then SIGTERM, then SIGKILL after ``term_grace``;
    never waits more than ~grace + term_grace + 0.5 s."""
    for w in workers:
        if grace > 0:
            w.try_send(("x",))
    deadline = time.monotonic() + grace
    for w in workers:
        w.process.join(max(0.0, deadline - time.monotonic()))
    alive = [w for w in workers if w.process.is_alive()]
    for w in alive:
        w.process.terminate()
    deadline = time.monotonic() + term_grace
    for w in alive:
        w.process.join(max(0.0, deadline - time.monotonic()))
        if w.process.is_alive():
            w.process.kill()
            w.process.join(0.5)
    for w in workers:
        try:
            w.conn.close()
        except OSError:
            pass
        w.remove_stack_file()


def _trim_stacks(text: str) -> str:
    """faulthandler's dump without the frames below ``worker_main`` (a forked worker's
    stack still shows the driver code that forked it)."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        if not line.startswith(" "):  # a thread header or the blank line between threads
            skipping = False
            kept.append(line)
        elif not skipping:
            kept.append(line)
            skipping = line.rstrip().endswith(" in worker_main")
    return "\n".join(kept).strip()


def _new_stack_file() -> tuple[str, Any] | None:
    """A new empty file for a worker's stack dumps: its path and the driver's read handle
    (None where that is not supported)."""
    if _STACK_SIGNAL is None:
        return None
    path = os.path.join(tempfile.gettempdir(), f"tune-worker-stacks-{uuid.uuid4().hex}.txt")
    try:
        with open(path, "xb"):
            pass
        reader = open(path, "rb")  # noqa: SIM115 - lives as long as the worker
    except OSError:
        return None
    return path, reader


_POOL = _Pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.after_fork_in_child)


def shutdown_pool() -> None:
    """Stop every idle and busy worker process of this driver (also done at exit)."""
    _POOL.shutdown_all()


# ---- machine resources --------------------------------------------------------------------


def detect_gpu_ids() -> list[str]:
    """GPU ids visible to this process: ``CUDA_VISIBLE_DEVICES`` if set, else
    ``nvidia-smi -L`` when that tool exists, else none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = []
        for part in visible.split(","):
            part = part.strip()
            if not part or part == "-1":
                break  # CUDA ignores everything after an invalid entry
            ids.append(part)
        return ids
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    count = sum(1 for line in out.splitlines() if line.startswith("GPU "))
    return [str(i) for i in range(count)]


def _default_cpus() -> float:
    try:
        return float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return float(os.cpu_count() or 1)


def _total_memory() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0.0


def _default_start_method() -> str:
    from tune import env

    method = env.get("TUNE_WORKER_START_METHOD").strip().lower()
    if not method:
        if sys.platform != "linux":
            return "spawn"
        torch = sys.modules.get("torch")
        try:
            if torch is not None and torch.cuda.is_initialized():
                return "spawn"  # CUDA state does not survive fork
        except Exception:  # noqa: BLE001 - an odd torch build must not break tuning
            pass
        return "fork"
    if method not in _START_METHODS:
        raise invalid_value(
            "environment variable TUNE_WORKER_START_METHOD", method,
            "must be one of " + ", ".join(_START_METHODS),
        )
    return method


def _chdir_enabled() -> bool:
    value = os.environ.get("TUNE_CHDIR_TO_TRIAL_DIR", os.environ.get("RAY_CHDIR_TO_TRIAL_DIR", "1"))
    return value.strip().lower() not in ("0", "false", "no", "off")


# ---- the executor -------------------------------------------------------------------------


@dataclass
class _Running:
    worker: _WorkerProc
    resources: Resources
    gpus: list[tuple[str, float]]
    sync: bool
    seq: int
    key: str
    reuse: bool
    stop_sent: bool = False


class LocalExecutor(Executor):
    """Runs trials in warm worker processes on this machine.

    Args:
        num_cpus: CPUs to hand out (default: the CPUs this process may use).
        num_gpus: GPUs to hand out, ids ``0..num_gpus-1`` (default: detected from
            ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi -L``).
        resources: custom resources, e.g. ``{"TPU": 4}``.
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"`` (default:
            ``TUNE_WORKER_START_METHOD``, else fork on Linux).
    """

    name = "local"
    supports_kill = True

    def __init__(
        self,
        num_cpus: float | None = None,
        num_gpus: int | None = None,
        resources: Mapping[str, float] | None = None,
        start_method: str | None = None,
    ) -> None:
        if num_cpus is not None:
            if isinstance(num_cpus, bool) or not isinstance(num_cpus, (int, float)):
                raise invalid_type("num_cpus", num_cpus, "expected a number of CPUs > 0")
            if not num_cpus > 0:
                raise invalid_value("num_cpus", num_cpus, "must be > 0")
        if num_gpus is not None:
            if isinstance(num_gpus, bool) or not isinstance(num_gpus, int):
                raise invalid_type("num_gpus", num_gpus, "expected a whole number of GPUs >= 0")
            if num_gpus < 0:
                raise invalid_value("num_gpus", num_gpus, "must be >= 0")
        if resources is not None and not isinstance(resources, Mapping):
            raise invalid_type("resources", resources, "expected a dict like {'custom': 2}")
        self._custom = Resources.from_request(resources or {}, "resources")
        if start_method is not None and start_method not in _START_METHODS:
            raise invalid_value(
                "start_method", start_method, "must be one of " + ", ".join(_START_METHODS)
            )
        self._num_cpus = num_cpus
        self._num_gpus = num_gpus
        self._start_method = start_method
        self._total: Resources | None = None
        self._gpu_ids: list[str] = []
        self._gpu_used: dict[str, float] = {}
        self._used: dict[str, float] = {}
        self._trials: dict[str, _Running] = {}
        self._keys: set[str] = set()
        self._sel: selectors.BaseSelector | None = None
        self._pending: list[Event] = []
        self._closed = False
        self._chdir = True

    # -- resources ----------------------------------------------------------------------------
    def total_resources(self) -> Resources:
        if self._total is None:
            if self._num_gpus is not None:
                self._gpu_ids = [str(i) for i in range(self._num_gpus)]
            else:
                self._gpu_ids = detect_gpu_ids()
            self._gpu_used = {g: 0.0 for g in self._gpu_ids}
            total = Resources()
            total["CPU"] = float(self._num_cpus) if self._num_cpus is not None else _default_cpus()
            total["GPU"] = float(len(self._gpu_ids))
            memory = _total_memory()
            if memory:
                total["memory"] = memory
            for key, value in self._custom.items():
                if key in ("CPU", "GPU"):
                    continue
                total[key] = value
            self._total = total
        return self._total

    def available_resources(self) -> Resources:
        total = self.total_resources()
        used = self._used
        return Resources({k: max(0.0, v - used.get(k, 0.0)) for k, v in total.items()})

    def fits_now(self, resources: Resources) -> bool:
        total = self.total_resources()
        used = self._used
        for key, value in resources.items():
            if total.get(key, 0.0) - used.get(key, 0.0) + _EPS < value:
                return False
        gpus = resources.get("GPU", 0.0)
        return not gpus or self._assign_gpus(gpus) is not None

    def _assign_gpus(self, amount: float) -> list[tuple[str, float]] | None:
        """Which GPU ids (and how much of each) a request of ``amount`` GPUs would get."""
        whole = int(amount + _EPS)
        fraction = amount - whole
        free = [g for g in self._gpu_ids if self._gpu_used[g] < _EPS]
        if len(free) < whole:
            return None
        chosen = [(g, 1.0) for g in free[:whole]]
        if fraction > _EPS:
            taken = {g for g, _ in chosen}
            # Best fit: the most used GPU that still has room, so whole GPUs stay free.
            candidates = [
                g for g in self._gpu_ids
                if g not in taken and 1.0 - self._gpu_used[g] + _EPS >= fraction
            ]
            if not candidates:
                return None
            best = max(candidates, key=lambda g: self._gpu_used[g])
            chosen.append((best, fraction))
        return chosen

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._sel is None:
            if self._start_method is None:
                self._start_method = _default_start_method()
            self._chdir = _chdir_enabled()
            self.total_resources()
            self._sel = selectors.DefaultSelector()

    def running_trials(self) -> set[str]:
        return set(self._trials)

    def launch(self, launch: TrialLaunch) -> None:
        if self._closed:
            raise TuneError("This LocalExecutor was shut down; create a new one.")
        self.start()
        trial_id = launch.trial_id
        if trial_id in self._trials:
            raise TuneError(f"Trial {trial_id} is already running on this executor.")
        resources = Resources(launch.resources)
        if not self.fits_ever(resources):
            raise InsufficientResourcesError(
                f"Trial {launch.trial_name} requests {dict(resources)} but this machine only has "
                f"{dict(self.total_resources())}: it can never run."
            )
        gpus = self._assign_gpus(resources.get("GPU", 0.0)) if resources.get("GPU") else []
        if gpus is None or not self.fits_now(resources):
            raise TuneError(
                f"Trial {launch.trial_name} requests {dict(resources)} but only "
                f"{dict(self.available_resources())} is free now; check fits_now() first."
            )
        key = self._key(launch.trainable)
        gpu_tag = tuple(g for g, _ in gpus)
        env = dict(launch.env)
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_tag)
        trial_dir = os.path.abspath(launch.trial_dir)
        spec = {
            "seq": next(_launch_counter),
            "tid": trial_id,
            "name": launch.trial_name,
            "key": key,
            "config": launch.config,
            "trial_dir": trial_dir,
            "exp_dir": os.path.abspath(launch.experiment_dir),
            "exp_name": launch.experiment_name,
            "tag": launch.experiment_tag,
            "resources": dict(resources),
            "bundles": [dict(b) for b in launch.bundles],
            "restore": os.path.abspath(launch.restore_checkpoint)
            if launch.restore_checkpoint else None,
            "sync": bool(launch.sync_results),
            "stop": dict(launch.stop_criteria or {}),
            "freq": int(launch.checkpoint_frequency or 0),
            "at_end": bool(launch.checkpoint_at_end),
            "reuse": bool(launch.reuse_actors),
            "env": env,
            "chdir": self._chdir,
            "stdout": getattr(launch, "stdout_file", None),
            "stderr": getattr(launch, "stderr_file", None),
        }
        worker = self._send_run(spec, key, bool(launch.reuse_actors), gpu_tag)
        for name, value in resources.items():
            self._used[name] = self._used.get(name, 0.0) + value
        for g, amount in gpus:
            self._gpu_used[g] += amount
        if gpu_tag:
            worker.gpu_tag = gpu_tag
        self._trials[trial_id] = _Running(
            worker, resources, gpus, spec["sync"], spec["seq"], key, spec["reuse"]
        )
        assert self._sel is not None
        self._sel.register(worker.fd, selectors.EVENT_READ, worker)

    def _key(self, trainable: Any) -> str:
        entry = _KEYS.get(id(trainable))
        if entry is None or entry[0] is not trainable:
            key = f"t{os.getpid()}-{next(_key_counter)}"
            _KEYS[id(trainable)] = (trainable, key)
            _REGISTRY[key] = trainable
        else:
            key = entry[1]
        if key not in self._keys:
            # Pickled now even if forked workers will inherit it: an unpicklable trainable
            # must fail the same way whether or not warm workers happen to exist.
            try:
                _blob(key)
            except TuneTypeError:
                if not _KEY_USERS.get(key):
                    _REGISTRY.pop(key, None)
                    _KEYS.pop(id(trainable), None)
                raise
            self._keys.add(key)
            _KEY_USERS[key] = _KEY_USERS.get(key, 0) + 1
        return key

    def _send_run(
        self, spec: dict, key: str, reuse: bool, gpu_tag: tuple[str, ...]
    ) -> _WorkerProc:
        for _attempt in range(3):
            worker = _POOL.checkout(self._start_method or "fork", key, reuse, gpu_tag)
            blob = None if key in worker.known else _blob(key)
            try:
                worker.send(("r", spec, blob))
            except OSError:
                _POOL.discard(worker)
                continue
            worker.known.add(key)
            return worker
        raise TuneError("Could not start a worker process for the trial (its pipe broke).")

    # -- control ------------------------------------------------------------------------------
    def decide(self, trial_id: str, decision: str) -> None:
        if decision not in (CONTINUE, STOP, PAUSE):
            raise invalid_value("decision", decision, "must be CONTINUE, STOP or PAUSE")
        running = self._trials.get(trial_id)
        if running is None:
            return
        if decision == CONTINUE:
            if running.sync:
                running.worker.try_send(("d", running.seq, CONTINUE))
            return
        if running.stop_sent:
            return
        running.stop_sent = True
        running.worker.try_send(("d", running.seq, decision))

    def stop(self, trial_id: str, save_checkpoint: bool = False) -> None:
        running = self._trials.get(trial_id)
        if running is None or running.stop_sent:
            return
        running.stop_sent = True
        running.worker.try_send(("s", running.seq, bool(save_checkpoint)))

    def kill(self, trial_id: str, reason: str) -> None:
        """Terminate the worker running ``trial_id`` (SIGTERM, then SIGKILL after
        ``KILL_GRACE_S``), free its resources and start a fresh worker in its place.

        What the trial sent before is read first (a trial that ended meanwhile is left
        alone); the next ``poll`` then returns its results and ``TrialFailed(trial_id,
        reason, traceback, worker_died=False)``, the traceback holding ``reason`` and the
        stacks of the worker's threads at the moment it was killed.
        """
        running = self._trials.get(trial_id)
        if running is None:
            return
        worker = running.worker
        self._drain_briefly(worker)
        if self._trials.get(trial_id) is not running:
            return  # it ended (or its worker died) while we read
        stacks = worker.dump_stacks()
        self._free(trial_id)  # before discard: it unregisters the pipe while still open
        pid = worker.pid
        _POOL.discard(worker, grace=0.0, term_grace=KILL_GRACE_S)
        detail = f"{reason}\nThe worker process (pid {pid}) running it was terminated."
        if stacks:
            detail += f"\nWhere its threads were when it was killed:\n\n{stacks}\n"
        self._pending.append(TrialFailed(trial_id, reason, detail, worker_died=False))
        if not self._closed:
            try:
                _POOL.checkin(_POOL._start(self._start_method or "fork"))
            except Exception:  # noqa: BLE001,S110 - workers are also started on demand
                pass

    def _drain_briefly(self, worker: _WorkerProc) -> None:
        """Read what ``worker`` already sent into ``_pending`` (bounded: a trial reporting
        in a tight loop must not keep a kill waiting)."""
        deadline = time.monotonic() + _KILL_DRAIN_S
        loads = pickle.loads
        conn = worker.conn
        while time.monotonic() < deadline:
            try:
                if not conn.poll():
                    return
                data = conn.recv_bytes()
            except (EOFError, OSError):
                self._worker_died(worker, self._pending)
                return
            msg = loads(data)
            if decode(msg, self._pending, _load_exception):
                self._release(msg[0], self._pending[-1])
                return

    # -- events -------------------------------------------------------------------------------
    def poll(self, timeout: float | None) -> list[Event]:
        events = self._pending
        self._pending = []
        sel = self._sel
        if sel is None or not self._trials:
            if not events and timeout:
                time.sleep(timeout)
            return events
        ready = sel.select(0 if events else timeout)
        for selector_key, _ in ready:
            self._drain(selector_key.data, events)
        return events

    def _drain(self, worker: _WorkerProc, events: list[Event]) -> None:
        conn = worker.conn
        loads = pickle.loads
        while True:
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                self._worker_died(worker, events)
                return
            msg = loads(data)
            if decode(msg, events, _load_exception):
                self._release(msg[0], events[-1])
                return
            try:
                if not conn.poll():
                    return
            except (EOFError, OSError):
                self._worker_died(worker, events)
                return

    def _free(self, trial_id: str) -> _Running:
        running = self._trials.pop(trial_id)
        for name, value in running.resources.items():
            self._used[name] = self._used.get(name, 0.0) - value
        for g, amount in running.gpus:
            self._gpu_used[g] = max(0.0, self._gpu_used[g] - amount)
        assert self._sel is not None
        try:
            self._sel.unregister(running.worker.fd)
        except (KeyError, ValueError, OSError):
            pass
        return running

    def _release(self, trial_id: str, end_event: Event) -> None:
        running = self._free(trial_id)
        worker = running.worker
        ok = not isinstance(end_event, TrialFailed)
        worker.kept_key = running.key if (ok and running.reuse) else None
        _POOL.checkin(worker)

    def _worker_died(self, worker: _WorkerProc, events: list[Event]) -> None:
        worker.process.join(2.0)
        description = worker.exit_description()
        for trial_id, running in list(self._trials.items()):
            if running.worker is not worker:
                continue
            self._free(trial_id)  # before discard: it unregisters the pipe while still open
            message = (
                f"The worker process (pid {worker.pid}) running trial {trial_id} died "
                f"({description})."
            )
            events.append(
                TrialFailed(
                    trial_id, message, message, exception=WorkerDiedError(message),
                    worker_died=True,
                )
            )
        _POOL.discard(worker)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for trial_id in list(self._trials):
                self.stop(trial_id)
            deadline = time.monotonic() + 1.0
            while self._trials and time.monotonic() < deadline:
                self.poll(max(0.0, deadline - time.monotonic()))
            for trial_id in list(self._trials):
                running = self._free(trial_id)
                _POOL.discard(running.worker)
        finally:
            if self._sel is not None:
                self._sel.close()
            self._release_keys()

    def _release_keys(self) -> None:
        gone = set()
        for key in self._keys:
            users = _KEY_USERS.get(key, 1) - 1
            if users > 0:
                _KEY_USERS[key] = users
                continue
            _KEY_USERS.pop(key, None)
            trainable = _REGISTRY.pop(key, None)
            _BLOBS.pop(key, None)
            entry = _KEYS.get(id(trainable))
            if entry is not None and entry[1] == key:
                del _KEYS[id(trainable)]
            gone.add(key)
        self._keys.clear()
        if gone:
            _POOL.forget(gone)


def _load_exception(data: Any) -> BaseException | None:
    if data is None or isinstance(data, BaseException):
        return data
    try:
        exc = pickle.loads(data)
    except Exception:  # noqa: BLE001 - e.g. an exception class the driver cannot import
        return None
    return exc if isinstance(exc, BaseException) else None
