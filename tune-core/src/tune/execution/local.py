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

import os
import pickle
import selectors
import shutil
import subprocess
import sys
import time
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
    DECISIONS,
    SAVE,
    Event,
    Executor,
    TrialFailed,
    TrialLaunch,
)
from tune.execution.worker_pool import (  # the pool and the trainable registry it serves
    _BLOBS,
    _KEY_USERS,
    _KEYS,
    _POOL,
    _REGISTRY,
    KILL_GRACE_S,
    _blob,
    _key_counter,
    _launch_counter,
    _WorkerProc,
)
from tune.resources import Resources

_START_METHODS = ("fork", "spawn", "forkserver")
_EPS = 1e-9
#: longest a kill spends reading what the worker sent before it is killed
_KILL_DRAIN_S = 0.1


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
            "resized": bool(launch.resources_changed),
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
        if decision not in DECISIONS:
            raise invalid_value("decision", decision, f"must be one of {', '.join(DECISIONS)}")
        running = self._trials.get(trial_id)
        if running is None:
            return
        if decision in (CONTINUE, SAVE):
            if running.sync:
                running.worker.try_send(("d", running.seq, decision))
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
