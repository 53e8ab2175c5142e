"""Function trainables: ``wrap_function(fn)`` turns ``fn(config)`` into a Trainable class.

The function reports with ``tune.report(...)``, ``yield``s result dicts, or ``return``s a
final dict (reported with ``done=True``). Executors call the function directly in the
worker's main thread (see ``tune.execution._runner``); ``FunctionTrainable.step()`` also
works on its own (the function then runs in a helper thread), for scripts that drive
Trainables by hand.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import types
from collections.abc import Callable
from typing import Any

from tune.errors import TuneTypeError, invalid_type
from tune.trainable import session as _session
from tune.trainable.checkpoint import Checkpoint
from tune.trainable.trainable import Trainable


class TrialInterrupt(BaseException):
    """Raised inside ``tune.report`` to end a function trial early (stop, pause, done).

    A ``BaseException`` so that a user's ``except Exception`` does not swallow it.
    """


def as_metrics(value: Any, how: str) -> dict:
    """A yielded/returned value as a metrics dict (numbers become ``{"_metric": v}``)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"_metric": value}
    raise TuneTypeError(
        f"The trainable function {how} {value!r} of type {type(value).__name__}; it must "
        "report dicts of metrics (tune.report({...}), yield {...} or return {...})."
    )


def call_function(fn: Callable, config: dict, report: Callable[[dict, Any], None]) -> None:
    """Run a function trainable: ``fn(config)``; yields and a returned dict are reported."""
    output = fn(config)
    if isinstance(output, types.GeneratorType):
        try:
            for item in output:
                report(as_metrics(item, "yielded"), None)
        finally:
            output.close()
        return
    if output is not None:
        final = dict(as_metrics(output, "returned"))
        final.setdefault("done", True)
        report(final, None)


def _function_name(fn: Callable) -> str:
    if isinstance(fn, functools.partial):
        return _function_name(fn.func)
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return "lambda" if name == "<lambda>" else name


class FunctionTrainable(Trainable):
    """A Trainable running a user function; subclasses made by ``wrap_function`` carry it
    as ``_function``."""

    _function: Callable[..., Any] | None = None
    _name = "func"

    def setup(self, config: dict) -> None:
        self._fn_config = config
        self._thread: threading.Thread | None = None
        self._results: queue.Queue = queue.Queue()
        self._resume = threading.Semaphore(0)
        self._stopping = False
        self._finished = False
        self._restore_path: str | None = None
        self._latest_checkpoint: str | None = None

    def step(self) -> dict:
        if self._finished:
            return {"done": True}
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run_function, name=f"tune-function-{self.trial_name}", daemon=True
            )
            self._thread.start()
        else:
            self._resume.release()
        item = self._results.get()
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        if item is None:
            self._finished = True
            return {"done": True}
        if item.get("done"):
            self._finished = True
        return item

    def _run_function(self) -> None:
        _session.set_session(_StepSession(self), thread_local=True)
        try:
            call_function(type(self)._function, self._fn_config, self._report)
            self._results.put(None)
        except TrialInterrupt:
            self._results.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the thread calling step()
            self._results.put(exc)
        finally:
            _session.set_session(None, thread_local=True)

    def _report(self, metrics: dict, checkpoint: Checkpoint | None) -> None:
        if self._stopping:
            raise TrialInterrupt()
        if not isinstance(metrics, dict):
            raise invalid_type("metrics", metrics, "expected a dict of metrics")
        if checkpoint is not None:
            if not isinstance(checkpoint, Checkpoint):
                raise invalid_type("checkpoint", checkpoint, "expected a tune.Checkpoint")
            target = os.path.join(self.logdir, f"checkpoint_{self.iteration + 1:06d}")
            checkpoint.write_to(target)
            self._latest_checkpoint = target
        self._results.put(dict(metrics))
        self._resume.acquire()
        if self._stopping:
            raise TrialInterrupt()

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        latest = self._latest_checkpoint or self._restore_path
        if latest is not None:
            Checkpoint(latest).write_to(checkpoint_dir)

    def load_checkpoint(self, checkpoint: dict | str) -> None:
        if isinstance(checkpoint, dict):
            self._restore_path = Checkpoint.from_dict(checkpoint).path
        else:
            self._restore_path = checkpoint

    def cleanup(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._stopping = True
            self._resume.release()
            self._thread.join(timeout=5)


class _StepSession(_session.Session):
    """The session of a function driven through ``FunctionTrainable.step()``."""

    def __init__(self, trainable: FunctionTrainable) -> None:
        self._trainable = trainable
        self.trial_id = trainable.trial_id
        self.trial_name = trainable.trial_name
        self.trial_dir = trainable.logdir
        self.experiment_name = trainable._info.experiment_name
        self.trial_resources = trainable.trial_resources

    def report(self, metrics: dict, checkpoint: Checkpoint | None) -> None:
        self._trainable._report(metrics, checkpoint)

    def get_checkpoint(self) -> Checkpoint | None:
        path = self._trainable._latest_checkpoint or self._trainable._restore_path
        return Checkpoint(path) if path else None


def wrap_function(fn: Callable[..., Any], name: str | None = None) -> type[FunctionTrainable]:
    """Turn ``fn(config)`` into a ``FunctionTrainable`` subclass named after the function.

    The class's ``__name__`` and ``_name`` are the function's name (``"lambda"`` for a
    lambda); resources attached with ``tune.with_resources`` become its
    ``default_resource_request``.
    """
    if not callable(fn) or isinstance(fn, type):
        raise invalid_type("trainable", fn, "expected a function taking the config dict")
    trainable_name = name or _function_name(fn)
    resources = getattr(fn, "_resources", None)
    namespace: dict[str, Any] = {
        "_function": staticmethod(fn),
        "_name": trainable_name,
        "__doc__": getattr(fn, "__doc__", None),
    }
    if resources is not None:
        from tune.trainable.util import resource_request_method, static_resources

        namespace["default_resource_request"] = resource_request_method(resources)
        namespace["_static_resources"] = static_resources(resources)
    cls = type(trainable_name, (FunctionTrainable,), namespace)
    cls.__qualname__ = trainable_name
    return cls
