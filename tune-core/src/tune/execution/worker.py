"""The worker process of the local executor: a loop that runs one trial at a time.

A worker stays warm between trials. It caches trainables by key (shipped pickled once, or
inherited through ``fork``), keeps the last class instance for ``reuse_actors``, and sets
the trial's environment (``CUDA_VISIBLE_DEVICES`` and friends), working directory and
output files only while that trial runs. See ``_runner`` for the message protocol.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import signal
import sys
import traceback
from typing import Any

from tune.errors import TuneTypeError
from tune.execution._runner import Outbox, TrialRunner, _one_line, safe_stop
from tune.trainable.trainable import Trainable


def exception_bytes(exc: Any) -> bytes | None:
    """The pickled exception, or None when it cannot travel (the traceback text still does)."""
    if exc is None:
        return None
    try:
        return pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - unpicklable exceptions are common enough
        return None


def _unpicklable_part(msg: tuple) -> str:
    import cloudpickle

    for result in msg[2]:
        for key, value in result.items():
            try:
                cloudpickle.dumps(value)
            except Exception:  # noqa: BLE001
                return f"result[{key!r}] = {value!r}"
    return "a result"


def pipe_sender(conn: Any) -> Any:
    """``send(msg)`` for the outbox: pickle (cloudpickle when needed) and write to ``conn``."""
    send_bytes = conn.send_bytes
    dumps = pickle.dumps
    protocol = pickle.HIGHEST_PROTOCOL

    def send(msg: tuple) -> None:
        end = msg[3]
        if end is not None and end[0] == "failed":
            msg = (msg[0], msg[1], msg[2], (*end[:3], exception_bytes(end[3])))
        try:
            data = dumps(msg, protocol=protocol)
        except Exception:  # noqa: BLE001 - fall back to cloudpickle
            try:
                import cloudpickle

                data = cloudpickle.dumps(msg, protocol=protocol)
            except Exception as exc:  # noqa: BLE001
                raise TuneTypeError(
                    f"A result could not be sent to the driver: {_unpicklable_part(msg)} cannot "
                    f"be pickled ({type(exc).__name__}: {exc}). Report numbers, strings and "
                    "other picklable values."
                ) from None
        send_bytes(data)

    return send


class Worker:
    """Serves ``("r", spec, blob)`` requests on ``conn`` until told to exit."""

    def __init__(self, conn: Any, inherited: dict) -> None:
        self.conn = conn
        self.inherited = inherited
        self.classes: dict[str, Any] = {}
        self.kept: tuple[str, Trainable] | None = None
        self.outbox = Outbox(pipe_sender(conn), batching=True)
        self.exit = False

    def serve(self) -> None:
        try:
            while not self.exit:
                try:
                    msg = self.conn.recv()
                except (EOFError, OSError):
                    break
                kind = msg[0]
                if kind == "r":
                    try:
                        self.run(msg[1], msg[2])
                    except (EOFError, OSError):
                        break  # the driver is gone
                elif kind == "x":
                    break
                else:
                    self.handle_other(msg)
        finally:
            self.drop_kept()

    def handle_other(self, msg: tuple) -> None:
        if msg[0] == "f":
            keys = set(msg[1])
            for key in keys:
                self.classes.pop(key, None)
                self.inherited.pop(key, None)
            if self.kept is not None and self.kept[0] in keys:
                self.drop_kept()

    def drop_kept(self) -> None:
        if self.kept is not None:
            kept, self.kept = self.kept[1], None
            safe_stop(kept)

    def _load(self, key: str, blob: bytes | None) -> Any:
        cls = self.classes.get(key) or self.inherited.get(key)
        if cls is None:
            if blob is None:
                raise RuntimeError(f"worker {os.getpid()} has no trainable {key!r} and got none")
            cls = pickle.loads(blob)
            self.classes[key] = cls
        return cls

    def run(self, spec: dict, blob: bytes | None) -> None:
        key = spec["key"]
        try:
            cls = self._load(key, blob)
        except BaseException as exc:  # noqa: BLE001 - reported as the trial's failure
            self.outbox.begin(spec["tid"])
            self.outbox.finish((
                "failed",
                f"Could not load the trainable in the worker process: {_one_line(exc)}",
                traceback.format_exc(),
                exc,
            ))
            return
        reusable = None
        if self.kept is not None:
            if self.kept[0] == key and spec["reuse"]:
                reusable, self.kept = self.kept[1], None
            else:
                self.drop_kept()
        restore = _enter_trial_environment(spec)
        try:
            runner = TrialRunner(
                spec, cls, self.conn, self.outbox, reusable=reusable,
                handle_other=self.handle_other,
            )
            kept = runner.run()
        finally:
            _leave_trial_environment(restore)
        if kept is not None:
            self.kept = (key, kept)
        self.exit = runner.exit_requested


def _enter_trial_environment(spec: dict) -> tuple:
    env = spec["env"]
    saved_env = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    cwd = None
    if spec["chdir"]:
        cwd = os.getcwd()
        os.chdir(spec["trial_dir"])
    redirected = []
    for fd, name, path in ((1, "stdout", spec["stdout"]), (2, "stderr", spec["stderr"])):
        if path:
            stream = getattr(sys, name)
            stream.flush()
            # Both levels: fd 1/2 for C extensions and subprocesses, sys.stdout/err for Python
            # (which may not write to fd 1/2 at all, e.g. under output capture).
            saved_fd = os.dup(fd)
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(target, fd)
            os.close(target)
            setattr(sys, name, open(path, "a", buffering=1, errors="backslashreplace"))
            redirected.append((fd, name, saved_fd, stream))
    return saved_env, cwd, redirected


def _leave_trial_environment(state: tuple) -> None:
    saved_env, cwd, redirected = state
    for fd, name, saved_fd, stream in redirected:
        getattr(sys, name).close()
        setattr(sys, name, stream)
        os.dup2(saved_fd, fd)
        os.close(saved_fd)
    if cwd is not None:
        try:
            os.chdir(cwd)
        except OSError:
            pass
    for key, value in saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


_stack_dump_file: Any = None  # kept open for faulthandler for the life of the worker


def _register_stack_dump(path: str | None) -> None:
    """On SIGUSR2, write every thread's Python stack to ``path`` (the driver reads it when
    it kills a hung trial). Best effort: where this fails, kills just come without stacks."""
    global _stack_dump_file
    signum = getattr(signal, "SIGUSR2", None)
    if not path or signum is None:
        return
    try:
        _stack_dump_file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives with the process
        faulthandler.register(signum, file=_stack_dump_file, all_threads=True, chain=False)
    except (OSError, ValueError, RuntimeError, AttributeError):
        _stack_dump_file = None
    finally:
        # Both ends hold the file open now: unlinking it means nothing is left behind, even
        # when driver and worker are killed outright.
        try:
            os.unlink(path)
        except OSError:
            pass


def worker_main(conn: Any, close: list, inherited: dict, stack_file: str | None = None) -> None:
    """Entry point of a worker process (``multiprocessing.Process`` target).

    ``close``: connections inherited through fork that belong to the driver (closing them
    lets this worker see EOF when the driver dies). ``inherited``: trainables by key that
    came with the fork. ``stack_file``: where to dump thread stacks on SIGUSR2 (the driver
    creates and removes it).
    """
    for c in close:
        try:
            c.close()
        except OSError:
            pass
    # Ctrl-C in the terminal reaches the whole process group; the driver decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        # fd 2, not sys.stderr: under capture (pytest, notebooks) sys.stderr has no fileno.
        faulthandler.enable(file=2)
    except (OSError, ValueError):
        pass
    _register_stack_dump(stack_file)
    # Trials chdir into their directories; keep imports relative to the start directory working.
    sys.path[:] = [os.getcwd() if p == "" else p for p in sys.path]
    Worker(conn, inherited).serve()
