"""The ``inline`` executor: trials run inside the driver process, one at a time (debugging).

Each trial runs in a helper thread of the driver, using the same runner as worker
processes, so ``tune.report`` / decisions / stop criteria / checkpoints behave exactly as
with the local executor; ``breakpoint()`` and ``pdb`` work in trainable code. Nothing is
pickled: trainables, configs and exceptions are passed as objects (configs are copied).
Capacity is one trial at a time whatever it requests; the trial's environment
(``CUDA_VISIBLE_DEVICES``), working directory and output are the driver's own.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from tune.errors import TuneError, invalid_value
from tune.execution._runner import Outbox, TrialRunner, decode, safe_stop
from tune.execution.executor import CONTINUE, DECISIONS, SAVE, Event, Executor, TrialLaunch
from tune.resources import Resources
from tune.trainable.trainable import Trainable


class _QueueChannel:
    """The runner's control channel: a queue the driver thread puts messages on."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue = queue.SimpleQueue()

    def poll(self) -> bool:
        return not self.queue.empty()

    def recv(self) -> tuple:
        return self.queue.get()


class InlineExecutor(Executor):
    """Runs one trial at a time in the driver process."""

    name = "inline"

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._messages: list[tuple] = []
        self._running: str | None = None
        self._sync = True
        self._stop_sent = False
        self._channel: _QueueChannel | None = None
        self._thread: threading.Thread | None = None
        self._kept: tuple[Any, Trainable] | None = None
        self._closed = False
        self._seq = 0

    def start(self) -> None:
        """Nothing to acquire: trials run in this process."""

    def total_resources(self) -> Resources:
        return Resources({"CPU": 1.0})

    def available_resources(self) -> Resources:
        return Resources({"CPU": 0.0 if self._running else 1.0})

    def fits_now(self, resources: Resources) -> bool:
        return self._running is None and not self._closed

    def fits_ever(self, resources: Resources) -> bool:
        return True

    def running_trials(self) -> set[str]:
        return {self._running} if self._running else set()

    def _post(self, msg: tuple) -> None:
        with self._cond:
            self._messages.append(msg)
            self._cond.notify()

    def launch(self, launch: TrialLaunch) -> None:
        if self._closed:
            raise TuneError("This InlineExecutor was shut down; create a new one.")
        if self._running is not None:
            raise TuneError(
                f"The inline executor runs one trial at a time; {self._running} is running."
            )
        if self._thread is not None:
            self._thread.join()  # the previous trial sent its end and is returning
        self._seq += 1
        spec = {
            "seq": self._seq,
            "tid": launch.trial_id,
            "name": launch.trial_name,
            "config": launch.config,
            "trial_dir": launch.trial_dir,
            "exp_dir": launch.experiment_dir,
            "exp_name": launch.experiment_name,
            "tag": launch.experiment_tag,
            "resources": dict(launch.resources),
            "bundles": [dict(b) for b in launch.bundles],
            "restore": launch.restore_checkpoint,
            "sync": bool(launch.sync_results),
            "stop": dict(launch.stop_criteria or {}),
            "freq": int(launch.checkpoint_frequency or 0),
            "at_end": bool(launch.checkpoint_at_end),
            "reuse": bool(launch.reuse_actors),
            "resized": bool(launch.resources_changed),
        }
        reusable = None
        if self._kept is not None:
            if self._kept[0] is launch.trainable and launch.reuse_actors:
                reusable = self._kept[1]
            else:
                safe_stop(self._kept[1])
            self._kept = None
        self._channel = _QueueChannel()
        runner = TrialRunner(
            spec, launch.trainable, self._channel, Outbox(self._post, batching=False),
            reusable=reusable, copy_config=True,
        )
        self._running = launch.trial_id
        self._sync = spec["sync"]
        self._stop_sent = False
        trainable = launch.trainable

        def run() -> None:
            kept = runner.run()
            if kept is not None:
                self._kept = (trainable, kept)

        self._thread = threading.Thread(
            target=run, name=f"tune-inline-{launch.trial_name}", daemon=True
        )
        self._thread.start()

    def decide(self, trial_id: str, decision: str) -> None:
        if decision not in DECISIONS:
            raise invalid_value("decision", decision, f"must be one of {', '.join(DECISIONS)}")
        if trial_id != self._running or self._channel is None:
            return
        if decision in (CONTINUE, SAVE):
            if self._sync:
                self._channel.queue.put(("d", self._seq, decision))
            return
        if not self._stop_sent:
            self._stop_sent = True
            self._channel.queue.put(("d", self._seq, decision))

    def stop(self, trial_id: str, save_checkpoint: bool = False) -> None:
        if trial_id != self._running or self._channel is None or self._stop_sent:
            return
        self._stop_sent = True
        self._channel.queue.put(("s", self._seq, bool(save_checkpoint)))

    def kill(self, trial_id: str, reason: str) -> None:
        """Not possible here: the trial runs in a thread of the driver, and Python cannot
        end a thread from outside. Raises ``TuneError`` saying so."""
        raise TuneError(
            f"The inline executor cannot forcibly end trial {trial_id} ({reason}): it runs "
            "trials in a thread of the driver process, and a Python thread cannot be killed "
            "from outside. Use the local executor (TuneConfig(executor='local'), the default), "
            "which runs each trial in a worker process it can terminate, or drop "
            "TuneConfig(trial_timeout_s=...) while debugging inline."
        )

    def poll(self, timeout: float | None) -> list[Event]:
        with self._cond:
            if not self._messages and timeout != 0:
                self._cond.wait(timeout)
            messages, self._messages = self._messages, []
        events: list[Event] = []
        for msg in messages:
            if decode(msg, events, lambda exc: exc) and msg[0] == self._running:
                self._running = None
        return events

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._running is not None:
            self.stop(self._running)
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self._kept is not None:
            safe_stop(self._kept[1])
            self._kept = None
