"""Runs one trial against a control channel: the code worker processes and the inline
executor share.

Protocol (plain tuples, pickled by the local executor, passed as objects by the inline one):

* driver -> runner: ``("r", spec, blob)`` run a trial (workers only), ``("d", run, decision)``
  answer a result, ``("s", run, save_checkpoint)`` stop, ``("f", keys)`` forget cached
  trainables, ``("x",)`` exit. ``run`` is the launch's sequence number (``spec["seq"]``), so a
  late message for an earlier run of the same trial can never stop a resumed one.
* runner -> driver: ``(trial_id, started, results, end)`` where ``started`` says the trial
  began, ``results`` is a list of result dicts and ``end`` is ``None``, ``("completed",
  checkpoint_dir)`` or ``("failed", error, traceback, exception)``; or ``("saved",
  checkpoint_dir)``, which does not end the trial (the answer to a ``SAVE`` decision).

Run-ahead trials (``sync_results=False``) batch results in an ``Outbox``: sent when 256 are
waiting or 10 ms passed since the last send, by a helper thread when a trial goes quiet, and
always at the trial's end. They look for control messages at most once a millisecond, so a
tight reporting loop pays almost nothing for it.
"""

from __future__ import annotations

import collections
import copy
import logging
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from tune.errors import invalid_type
from tune.execution.executor import (
    ABANDON,
    CHECKPOINT_KEY,
    CONTINUE,
    PAUSE,
    SAVE,
    STOP,
    Event,
    TrialCompleted,
    TrialFailed,
    TrialResults,
    TrialSaved,
    TrialStarted,
)
from tune.trainable import session as _session
from tune.trainable.checkpoint import Checkpoint
from tune.trainable.function_trainable import FunctionTrainable, TrialInterrupt, call_function
from tune.trainable.trainable import (
    SHOULD_CHECKPOINT,
    Progress,
    Trainable,
    TrialInfo,
    construct,
    read_tune_metadata,
    write_tune_metadata,
)

logger = logging.getLogger("tune")

BATCH_SIZE = 256
FLUSH_INTERVAL_S = 0.01
QUIET_FLUSH_S = 0.02
POLL_INTERVAL_S = 0.001
DONE = "DONE"  # internal: the trial itself said it is done (or met the stop criteria)

_time = time.time


class Outbox:
    """Collects one trial's outgoing events and sends them in batches through ``send``."""

    def __init__(self, send: Callable[[tuple], None], batching: bool) -> None:
        self._send = send
        self._batching = batching
        self._lock = threading.Lock()
        self._results: collections.deque = collections.deque()
        self._trial_id: str | None = None
        self._started = False
        self._active = False
        self._last_flush = 0.0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def begin(self, trial_id: str) -> None:
        """A new trial: what follows is sent under ``trial_id`` (``started()`` when set up)."""
        with self._lock:
            self._trial_id = trial_id
            self._started = False
            self._results.clear()
            self.error = None
            self._last_flush = _time()
        if self._batching:
            self._active = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._flush_when_quiet, name="tune-outbox", daemon=True
                )
                self._thread.start()
            self._wake.set()

    def started(self) -> None:
        """The trial is set up: the next send carries the started flag."""
        self._started = True

    def add(self, result: dict, now: float) -> None:
        results = self._results
        results.append(result)
        if (
            not self._batching
            or len(results) >= BATCH_SIZE
            or now - self._last_flush >= FLUSH_INTERVAL_S
        ):
            if self.error is not None:
                raise self.error
            self.flush()

    def send_now(self, result: dict) -> None:
        self._results.append(result)
        self.flush()

    def flush(self, end: tuple | None = None) -> None:
        with self._lock:
            self._flush_locked(end)

    def _flush_locked(self, end: tuple | None) -> None:
        results = self._results
        n = len(results)
        if not n and not self._started and end is None:
            return
        # popleft, not list()+clear(): the trial thread may append concurrently.
        items = [results.popleft() for _ in range(n)]
        started, self._started = self._started, False
        self._last_flush = _time()
        self._send((self._trial_id, started, items, end))

    def finish(self, end: tuple) -> None:
        """Send what is left and the trial's end."""
        self._active = False
        self._wake.clear()
        if self.error is not None and end[0] == "completed":
            exc = self.error
            end = ("failed", _one_line(exc), _format(exc), exc)
        try:
            self.flush(end)
        except (OSError, EOFError):
            raise  # the driver is gone
        except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable result in the last batch
            failure = ("failed", _one_line(exc), _format(exc), exc)
            with self._lock:
                self._results.clear()
                self._send((self._trial_id, False, [], failure))

    def _flush_when_quiet(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(QUIET_FLUSH_S)
            if not self._active or _time() - self._last_flush < QUIET_FLUSH_S:
                continue
            with self._lock:
                if self._active and (self._results or self._started):
                    try:
                        self._flush_locked(None)
                    except BaseException as exc:  # noqa: BLE001 - reported at the trial's end
                        self.error = exc


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _format(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _lookup(result: dict, key: str) -> Any:
    value = result.get(key)
    if value is None and "/" in key:
        value = result
        for part in key.split("/"):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
    return value


def meets_stop_criteria(result: dict, criteria: dict) -> bool:
    """``result[metric] >= threshold`` for any criterion (nested keys with ``/``)."""
    for key, threshold in criteria.items():
        value = _lookup(result, key)
        if value is None or isinstance(value, bool):
            continue
        try:
            if value >= threshold:
                return True
        except TypeError:
            continue
    return False


def _fresh_dir(path: str) -> None:
    """Remove a leftover directory (say, from a run that failed after writing it)."""
    if os.path.lexists(path):
        shutil.rmtree(path, ignore_errors=True)


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


def safe_stop(trainable: Trainable) -> None:
    """``trainable.stop()``; an error in the user's cleanup is logged, not raised."""
    try:
        trainable.stop()
    except Exception:  # noqa: BLE001 - a finished trial must not fail in cleanup
        logger.warning(
            "cleanup() of %s raised:\n%s", type(trainable).__name__, traceback.format_exc()
        )


class _ClassSession(_session.Session):
    """Gives class trials ``tune.get_context()``; ``tune.report`` raises there."""

    def __init__(self, runner: TrialRunner) -> None:
        self.trial_id = runner.trial_id
        self.trial_name = runner.trial_name
        self.trial_dir = runner.trial_dir
        self.experiment_name = runner.experiment_name
        self.experiment_dir = runner.experiment_dir
        self._runner = runner

    @property  # type: ignore[override]
    def trial_resources(self) -> Any:
        return self._runner.trial_resources


class TrialRunner(_session.Session):
    """Runs one trial; for function trials it is also the session ``tune.report`` talks to.

    ``spec`` keys: seq, tid, name, config, trial_dir, exp_dir, exp_name, tag, resources,
    bundles, restore, sync, stop, freq, at_end, reuse. ``channel`` has ``poll() -> bool`` and
    ``recv()`` for control messages; ``outbox`` sends events.
    """

    def __init__(
        self,
        spec: dict,
        trainable_cls: type,
        channel: Any,
        outbox: Outbox,
        *,
        reusable: Trainable | None = None,
        copy_config: bool = False,
        handle_other: Callable[[tuple], None] | None = None,
    ) -> None:
        self.spec = spec
        self.cls = trainable_cls
        self.channel = channel
        self.outbox = outbox
        self.reusable = reusable
        self.copy_config = copy_config
        self.handle_other = handle_other
        self.trial_id = spec["tid"]
        self._seq = spec["seq"]
        self.trial_name = spec["name"]
        self.trial_dir = spec["trial_dir"]
        self.experiment_name = spec["exp_name"]
        self.experiment_dir = spec["exp_dir"]
        self._sync = spec["sync"]
        self._criteria = spec["stop"]
        self._interrupt: str | None = None
        self._save_requested = False
        self._latest_checkpoint: str | None = spec["restore"]
        self._last_poll = 0.0
        self._resources: Any = None
        self.exit_requested = False

    @property  # type: ignore[override]
    def trial_resources(self) -> Any:
        if self._resources is None:
            from tune.resources import PlacementGroupFactory

            bundles = self.spec["bundles"] or [self.spec["resources"]]
            self._resources = PlacementGroupFactory([dict(b) for b in bundles])
        return self._resources

    # -- entry point --------------------------------------------------------------------------
    def run(self) -> Trainable | None:
        """Run the trial to its end and send the end event; return an instance to keep for
        reuse (class trials with ``reuse_actors``), else None."""
        keep = None
        self.outbox.begin(self.trial_id)
        try:
            cls = self.cls
            if issubclass(cls, FunctionTrainable) and cls._function is not None:
                end = self._run_function(cls._function)
            else:
                end, keep = self._run_class(cls)
        except BaseException as exc:  # noqa: BLE001 - any trial error becomes TrialFailed
            end = ("failed", _one_line(exc), _format(exc), exc)
        finally:
            _session.set_session(None)
        _flush_std()
        self.outbox.finish(end)
        return keep

    # -- function trials ----------------------------------------------------------------------
    def _run_function(self, fn: Callable) -> tuple:
        spec = self.spec
        config = copy.deepcopy(spec["config"]) if self.copy_config else spec["config"]
        self._progress = Progress(self.trial_id, spec["tag"])
        if spec["restore"]:
            meta = read_tune_metadata(spec["restore"])
            self._progress.restored(int(meta.get("iteration", 0)), float(meta.get("time_total_s", 0.0)))
        _session.set_session(self)
        self.outbox.started()
        self._progress.last_time = _time()
        try:
            call_function(fn, config, self.report)
        except TrialInterrupt:
            pass
        return ("completed", self._latest_checkpoint if self._interrupt == PAUSE else None)

    def report(self, metrics: dict, checkpoint: Checkpoint | None = None) -> None:
        if self._interrupt is not None:
            raise TrialInterrupt()
        if type(metrics) is not dict and not isinstance(metrics, Mapping):
            raise invalid_type("metrics", metrics, "expected a dict of metrics")
        now = _time()
        result = self._progress.fill(dict(metrics), now)
        if checkpoint is not None:
            self._persist(checkpoint, result)
        if self._handle(result, now):
            raise TrialInterrupt()

    def get_checkpoint(self) -> Checkpoint | None:
        path = self._latest_checkpoint
        return Checkpoint(path) if path else None

    def _persist(self, checkpoint: Checkpoint, result: dict) -> None:
        if not isinstance(checkpoint, Checkpoint):
            raise invalid_type("checkpoint", checkpoint, "expected a tune.Checkpoint")
        target = self._checkpoint_dir(self._progress.iteration)
        source = checkpoint._path
        if source is None or os.path.realpath(source) != os.path.realpath(target):
            _fresh_dir(target)
        checkpoint.write_to(target)
        write_tune_metadata(target, self._progress)
        result[CHECKPOINT_KEY] = target
        self._latest_checkpoint = target

    # -- class trials -------------------------------------------------------------------------
    def _run_class(self, cls: type) -> tuple[tuple, Trainable | None]:
        spec = self.spec
        config = copy.deepcopy(spec["config"]) if self.copy_config else spec["config"]
        info = TrialInfo(
            self.trial_id, self.trial_name, self.trial_dir, spec["tag"], self.experiment_name,
            self.trial_resources,
        )
        _session.set_session(_ClassSession(self))
        trainable = None
        if self.reusable is not None:
            try:
                reused = self.reusable.reset(config, info)
            except BaseException:
                safe_stop(self.reusable)
                raise
            if reused:
                trainable = self.reusable
            else:
                safe_stop(self.reusable)
        if trainable is None:
            trainable = construct(cls, config, info)
        try:
            if spec["restore"]:
                trainable.restore(spec["restore"])
            if spec.get("resized"):
                trainable.update_resources(self.trial_resources)
            self.outbox.started()
            freq = spec["freq"]
            saved_at, saved_path = -1, None
            while True:
                result = trainable.train()
                iteration = trainable.iteration
                if (freq and iteration % freq == 0) or result.get(SHOULD_CHECKPOINT):
                    saved_path = self._save(trainable)
                    saved_at = iteration
                    result[CHECKPOINT_KEY] = saved_path
                if self._handle(result, _time()):
                    break
                if self._save_requested:
                    self._save_requested = False
                    if saved_at != iteration:
                        saved_path, saved_at = self._save(trainable), iteration
                    self.outbox.flush(("saved", saved_path))
            checkpoint_dir = None
            if self._interrupt == PAUSE or (spec["at_end"] and self._interrupt != ABANDON):
                if saved_at == trainable.iteration:
                    checkpoint_dir = saved_path
                else:
                    checkpoint_dir = self._save(trainable)
        except BaseException:
            safe_stop(trainable)
            raise
        if spec["reuse"] and not self.exit_requested:
            return ("completed", checkpoint_dir), trainable
        safe_stop(trainable)
        return ("completed", checkpoint_dir), None

    def _checkpoint_dir(self, iteration: int) -> str:
        """``<trial dir>/checkpoint_<training iteration, 6 digits>``."""
        return os.path.join(self.trial_dir, f"checkpoint_{iteration:06d}")

    def _save(self, trainable: Trainable) -> str:
        target = self._checkpoint_dir(trainable.iteration)
        _fresh_dir(target)
        return trainable.save(target)

    # -- results and decisions ----------------------------------------------------------------
    def _handle(self, result: dict, now: float) -> bool:
        """Send a result; return True when the trial must end here."""
        stop = bool(result["done"]) or (
            bool(self._criteria) and meets_stop_criteria(result, self._criteria)
        )
        if stop:
            result["done"] = True
            self._interrupt = DONE
        if self._sync:
            self.outbox.send_now(result)
            if not stop:
                decision = self._wait_decision()
                if decision == SAVE:
                    self._save_requested = True
                elif decision != CONTINUE:
                    self._interrupt = decision
        else:
            self.outbox.add(result, now)
            if now - self._last_poll >= POLL_INTERVAL_S:
                self._last_poll = now
                self._poll_control()
        return self._interrupt is not None

    def _control(self, msg: tuple) -> str | None:
        kind = msg[0]
        if kind == "d":
            return msg[2] if msg[1] == self._seq else None
        if kind == "s":
            if msg[1] != self._seq:
                return None
            return PAUSE if msg[2] else STOP
        if kind == "x":
            self.exit_requested = True
            return STOP
        if self.handle_other is not None:
            self.handle_other(msg)
        return None

    def _wait_decision(self) -> str:
        while True:
            decision = self._control(self.channel.recv())
            if decision is not None:
                return decision

    def _poll_control(self) -> None:
        channel = self.channel
        while channel.poll():
            decision = self._control(channel.recv())
            if decision not in (None, CONTINUE, SAVE) and self._interrupt is None:
                self._interrupt = decision


def decode(msg: tuple, events: list[Event], load_exception: Callable[[Any], Any]) -> bool:
    """Turn a runner message into events; return True when it ends the trial."""
    trial_id, started, results, end = msg
    if started:
        events.append(TrialStarted(trial_id))
    if results:
        events.append(TrialResults(trial_id, results))
    if end is None:
        return False
    if end[0] == "saved":
        events.append(TrialSaved(trial_id, end[1]))
        return False
    if end[0] == "completed":
        events.append(TrialCompleted(trial_id, end[1]))
    else:
        events.append(TrialFailed(trial_id, end[1], end[2], load_exception(end[3])))
    return True
