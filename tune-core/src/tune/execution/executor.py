"""The executor contract: the controller starts, stops and polls trials through this.

An executor runs trials somewhere (worker processes on this machine, the driver process, a
Ray cluster) and reports what happened as a stream of events. Executors are a plugin kind:
``registry.add_executor("local", "tune.execution.local:LocalExecutor")``.

Public methods do the bookkeeping; the base class has no knowledge of trials beyond ids.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from tune.errors import TuneError
from tune.resources import Resources


@dataclass
class TrialLaunch:
    """Everything a worker needs to run (or resume) one trial.

    Attributes:
        trial_id / trial_name: identity of the trial.
        trainable: a ``tune.Trainable`` subclass (function trainables are already wrapped);
            executors that cross process boundaries ship it with cloudpickle.
        config: the resolved config (``with_parameters`` objects are NOT in it).
        trial_dir: local directory for the trial's files and checkpoints (already created).
        experiment_dir: the experiment directory.
        resources: total resources reserved for the trial (CPU, GPU, custom).
        bundles: the placement group bundles (list of resource dicts) as requested.
        restore_checkpoint: path of a checkpoint directory to restore from, or ``None``.
        sync_results: if True the trial waits for a decision after every result (see
            ``Executor.decide``); if False it runs ahead and sends results in batches.
        stop_criteria: ``{metric: threshold}`` the worker checks itself (stop once
            ``result[metric] >= threshold``), so run-ahead trials stop exactly on time.
        checkpoint_frequency / checkpoint_at_end: class trainables' automatic checkpoints.
        reuse_actors: class trainables may be reused via ``reset_config``.
        env: extra environment variables for the trial (e.g. ``CUDA_VISIBLE_DEVICES``).
        experiment_name: the experiment's name (for ``tune.get_context()``).
        experiment_tag: the trial's tag, copied into every result.
        resources_changed: the trial's resources differ from its previous launch (a class
            trainable's ``update_resources`` is called after it is set up).
        stdout_file / stderr_file: absolute paths the trial's output is redirected to while it
            runs (``RunConfig(log_to_file=...)``); ``None`` leaves it on the driver's console.

    Auto-filled result fields are added by the worker: training_iteration, time_this_iter_s,
    time_total_s, timestamp, date, done, trial_id, experiment_tag, hostname, node_ip, pid,
    iterations_since_restore, time_since_restore. The controller adds ``config``.
    """

    trial_id: str
    trial_name: str
    trainable: Any
    config: dict
    trial_dir: str
    experiment_dir: str
    resources: Resources = field(default_factory=lambda: Resources({"CPU": 1.0}))
    bundles: list = field(default_factory=list)
    restore_checkpoint: str | None = None
    sync_results: bool = True
    stop_criteria: dict = field(default_factory=dict)
    checkpoint_frequency: int = 0
    checkpoint_at_end: bool = False
    reuse_actors: bool = False
    env: dict = field(default_factory=dict)
    experiment_name: str = ""
    experiment_tag: str = ""
    stdout_file: str | None = None
    stderr_file: str | None = None
    resources_changed: bool = False


# ---- events, in the order an executor produces them for one trial ---------------------------


@dataclass
class TrialStarted:
    """The trial began running (its trainable's setup is done)."""

    trial_id: str


@dataclass
class TrialResults:
    """One or more results, in order. Each is a dict with the auto-filled fields.

    A result dict may carry ``"checkpoint_dir"`` under the key ``CHECKPOINT_KEY`` when a
    checkpoint was persisted with it (the directory already exists in the trial dir).
    """

    trial_id: str
    results: list[dict]


@dataclass
class TrialSaved:
    """The trial persisted a checkpoint on request (``decide(trial_id, SAVE)``) and goes on."""

    trial_id: str
    checkpoint_dir: str


@dataclass
class TrialCompleted:
    """The trainable returned (or was stopped); ``checkpoint_dir`` if one was saved at the end."""

    trial_id: str
    checkpoint_dir: str | None = None


@dataclass
class TrialFailed:
    """The trainable raised, or its worker died. ``error`` is a one-line message,
    ``traceback`` the full formatted traceback, ``exception`` the exception if it could be
    shipped, ``worker_died`` True when the process running it vanished."""

    trial_id: str
    error: str
    traceback: str
    exception: BaseException | None = None
    worker_died: bool = False


Event = TrialStarted | TrialResults | TrialSaved | TrialCompleted | TrialFailed

CHECKPOINT_KEY = "__checkpoint_dir__"
CONTINUE = "CONTINUE"
STOP = "STOP"
PAUSE = "PAUSE"
#: continue after persisting a checkpoint now (class trainables; function trainables, which
#: checkpoint only through ``tune.report``, just continue)
SAVE = "SAVE"
#: end now and save nothing, not even ``checkpoint_at_end``'s checkpoint (a trial about to
#: restart from another trial's checkpoint)
ABANDON = "ABANDON"
DECISIONS = (CONTINUE, STOP, PAUSE, SAVE, ABANDON)


class Executor(abc.ABC):
    """Runs trials. The controller calls these methods from one thread only.

    Life cycle: ``start()`` once; then any number of ``launch`` / ``decide`` / ``stop`` /
    ``poll`` calls; ``shutdown()`` once (also on errors, idempotent).
    """

    name = "executor"
    #: whether :meth:`kill` works (``TuneConfig(trial_timeout_s=...)`` needs it)
    supports_kill = False

    @abc.abstractmethod
    def start(self) -> None:
        """Acquire what the executor needs (processes, connections)."""

    @abc.abstractmethod
    def total_resources(self) -> Resources:
        """Everything this executor can ever hand out (``{"CPU": 2, "GPU": 0, ...}``)."""

    @abc.abstractmethod
    def available_resources(self) -> Resources:
        """What is free right now."""

    def fits_now(self, resources: Resources) -> bool:
        """Whether a trial needing ``resources`` can be launched right now."""
        free = self.available_resources()
        return all(free.get(k, 0.0) + 1e-9 >= v for k, v in resources.items())

    def fits_ever(self, resources: Resources) -> bool:
        """Whether a trial needing ``resources`` could ever run on this executor."""
        total = self.total_resources()
        return all(total.get(k, 0.0) + 1e-9 >= v for k, v in resources.items())

    @abc.abstractmethod
    def launch(self, launch: TrialLaunch) -> None:
        """Start running a trial; its resources are reserved until it completes or fails."""

    @abc.abstractmethod
    def decide(self, trial_id: str, decision: str) -> None:
        """Answer a synchronous trial's latest result: ``CONTINUE``, ``STOP``, ``PAUSE``,
        ``SAVE`` (continue after persisting a checkpoint: a ``TrialSaved`` event follows) or
        ``ABANDON`` (stop without saving anything).

        For run-ahead trials (``sync_results=False``), ``STOP``/``PAUSE`` take effect at the
        trial's next report at the latest. ``PAUSE`` saves a checkpoint before ending (the
        ``TrialCompleted`` event then carries ``checkpoint_dir``).
        """

    @abc.abstractmethod
    def stop(self, trial_id: str, save_checkpoint: bool = False) -> None:
        """Ask a running trial to stop (at its next report at the latest). Idempotent."""

    def kill(self, trial_id: str, reason: str) -> None:
        """End a running trial now, whatever it is doing (a hung trial that never reports).

        Unlike ``stop``, the trial gets no chance to finish its step or save: whatever runs
        it is terminated, its resources are freed, and the next ``poll`` returns
        ``TrialFailed(trial_id, error=reason, traceback=reason + details, worker_died=False)``
        (results it sent before are returned first). A trial that is not running (say, it
        ended already) is left alone. Executors that can do this set ``supports_kill``.

        :raises TuneError: when this executor cannot forcibly end trials (the default).
        """
        raise TuneError(
            f"The {self.name!r} executor ({type(self).__name__}) cannot forcibly end a running "
            f"trial, so it cannot end trial {trial_id} ({reason}). Use the 'local' executor "
            "(TuneConfig(executor='local')), or drop TuneConfig(trial_timeout_s=...)."
        )

    @abc.abstractmethod
    def poll(self, timeout: float) -> list[Event]:
        """Return the events available, waiting up to ``timeout`` seconds for the first."""

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Stop every trial and release everything. Idempotent."""

    def running_trials(self) -> set[str]:
        """Ids of trials launched and not yet completed or failed."""
        return set()
