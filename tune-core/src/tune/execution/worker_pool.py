"""The local executor's worker processes: the warm pool, and trainables shipped by key.

Workers are started on demand and kept in a module-level pool that later experiments in the
same driver reuse; they are shut down at interpreter exit. Each trainable is cloudpickled
once and known by a key, so a worker receives it once, not once per trial. A worker can dump
its thread stacks on request (``faulthandler`` on ``SIGUSR2``) so a killed trial's error
shows where it hung.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import pickle
import signal
import tempfile
import threading
import time
import uuid
from typing import Any

from tune.errors import (
    TuneTypeError,
)

#: seconds a killed worker gets between SIGTERM and SIGKILL
KILL_GRACE_S = 0.5
#: longest a kill waits for the worker's stack dump
_STACK_DUMP_WAIT_S = 0.3
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
