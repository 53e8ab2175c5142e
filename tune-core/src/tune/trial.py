"""The ``Trial`` record: one configuration's run, as the controller and plugins see it.

The controller owns trials and changes their state; plugins read them. A trial keeps its
last result and a running summary of each numeric metric (``metric_analysis``), never its
whole history in memory: the history lives in ``<trial dir>/result.json``.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from tune.resources import PlacementGroupFactory, Resources

PENDING = "PENDING"
RUNNING = "RUNNING"
PAUSED = "PAUSED"
TERMINATED = "TERMINATED"
ERROR = "ERROR"
STATUSES = (PENDING, RUNNING, PAUSED, TERMINATED, ERROR)

_UNRANKED = frozenset(
    {"timestamp", "pid", "time_this_iter_s", "iterations_since_restore", "time_since_restore"}
)


class _MetricStats:
    """Running max/min/mean/last and the last-5 / last-10 means of one metric."""

    __slots__ = ("max", "min", "sum", "n", "last", "window", "sum5", "sum10")

    def __init__(self, value: float) -> None:
        self.max = self.min = self.sum = self.last = value
        self.n = 1
        self.window: deque = deque([value], maxlen=10)
        self.sum5 = self.sum10 = value

    def add(self, value: float) -> None:
        if self.window is None:  # a restored summary: start a fresh window from here
            self.window = deque(maxlen=10)
            self.sum5 = self.sum10 = 0.0
        if value > self.max:
            self.max = value
        if value < self.min:
            self.min = value
        self.sum += value
        self.n += 1
        self.last = value
        window = self.window
        if len(window) == 10:
            self.sum10 -= window[0]
        if len(window) >= 5:
            self.sum5 -= window[-5]
        window.append(value)
        self.sum5 += value
        self.sum10 += value

    def as_dict(self) -> dict[str, float]:
        if self.window is None:  # frozen: sum5/sum10 hold the averages
            last5, last10 = self.sum5, self.sum10
        else:
            k = len(self.window)
            last5, last10 = self.sum5 / min(k, 5), self.sum10 / k
        return {
            "max": self.max,
            "min": self.min,
            "avg": self.sum / self.n,
            "last": self.last,
            "last-5-avg": last5,
            "last-10-avg": last10,
        }

    def freeze(self) -> None:
        """Keep the final figures and drop the window (a finished trial reports no more)."""
        if self.window is not None:
            k = len(self.window)
            self.sum5, self.sum10 = self.sum5 / min(k, 5), self.sum10 / k
            self.window = None

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> _MetricStats:
        entry = cls(d["last"])
        entry.max, entry.min = d["max"], d["min"]
        entry.sum, entry.n = d["avg"], 1
        entry.sum5 = d.get("last-5-avg", d["last"])
        entry.sum10 = d.get("last-10-avg", d["last"])
        entry.window = None
        return entry


class Trial:
    """A trial: its id, config, status, resources, directory and results so far.

    Attributes (Ray Tune names):
        trial_id: unique id within the experiment (``"a1b2c_00003"``).
        config: the resolved configuration.
        evaluated_params: the flattened values that were sampled (for names and tables).
        experiment_tag: ``"3_lr=0.0100,momentum=0.9000"``.
        status: one of PENDING, RUNNING, PAUSED, TERMINATED, ERROR.
        last_result: the latest result dict (``{}`` before the first).
        metric_analysis: ``{metric: {"max","min","avg","last","last-5-avg","last-10-avg"}}``.
        path: the trial directory (local path or fsspec URL).
        placement_group_factory: the resource request.
        checkpoint: the latest persisted ``tune.Checkpoint`` or ``None``.
        error_file / error_msg: where the last error's traceback is and its first line.
        num_failures: how many times it failed.
    """

    PENDING = PENDING
    RUNNING = RUNNING
    PAUSED = PAUSED
    TERMINATED = TERMINATED
    ERROR = ERROR

    def __init__(
        self,
        trial_id: str,
        config: dict,
        *,
        trainable_name: str = "trainable",
        experiment_tag: str = "",
        evaluated_params: dict | None = None,
        placement_group_factory: PlacementGroupFactory | None = None,
        path: str | None = None,
        experiment_path: str | None = None,
        custom_trial_name: str | None = None,
        stopping_criterion: dict | None = None,
    ) -> None:
        self.trial_id = trial_id
        self.config = config
        self.trainable_name = trainable_name
        self.experiment_tag = experiment_tag
        self.evaluated_params = evaluated_params or {}
        self.placement_group_factory = placement_group_factory or PlacementGroupFactory(
            [{"CPU": 1}]
        )
        self.path = path
        self.experiment_path = experiment_path
        self.custom_trial_name = custom_trial_name
        self.stopping_criterion = stopping_criterion or {}
        self.status = PENDING
        self.last_result: dict = {}
        self._stats: dict[str, _MetricStats] = {}
        self.checkpoint: Any = None
        #: [(path, metrics), ...] the checkpoint manager keeps on disk (None: not tracked)
        self.kept_checkpoints: list | None = None
        self.error_file: str | None = None
        self.error_msg: str | None = None
        self.num_failures = 0
        self.failures: list[dict] = []
        self.exception: BaseException | None = None
        self.start_time: float | None = None
        self.end_time: float | None = None
        self.created_time = time.time()
        self.results_seen = 0
        #: a checkpoint path the next launch restores from instead of the trial's own (a
        #: scheduler cloning another trial, as PBT does); see ``set_restore_checkpoint``
        self.pending_restore: str | None = None
        #: whether resources changed since the last launch (``update_resources``)
        self.resources_changed = False
        #: whether a scheduler changed config, tag or resources (the state then records them)
        self.reconfigured = False
        # The controller keeps a clone's source checkpoint on disk until the clone restored it.
        self._restore_listener: Any = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_restore_listener"] = None  # the controller's, not part of the record
        return state

    # -- names ------------------------------------------------------------------------------
    def __str__(self) -> str:
        if self.custom_trial_name:
            return self.custom_trial_name
        return f"{self.trainable_name}_{self.trial_id}"

    def __repr__(self) -> str:
        return str(self)

    @property
    def trial_name(self) -> str:
        return str(self)

    @property
    def local_path(self) -> str | None:
        return self.path

    @property
    def resources(self) -> Resources:
        return self.placement_group_factory.required_resources()

    @property
    def is_finished(self) -> bool:
        return self.status in (TERMINATED, ERROR)

    # -- what schedulers may change between launches --------------------------------------------
    def set_config(self, config: dict) -> None:
        """Give the trial a new config; it takes effect the next time the trial is launched.

        Schedulers that mutate hyperparameters (PBT, PB2) call this on a trial they pause
        (or that is paused), then return ``PAUSE`` or leave it waiting.
        """
        if not isinstance(config, dict):
            from tune.errors import invalid_type

            raise invalid_type("config", config, "expected a dict")
        self.config = config
        self.reconfigured = True

    def set_experiment_tag(self, experiment_tag: str) -> None:
        """Change the tag shown in tables and copied into results (e.g. ``"3@perturbed[lr=0.1]"``)."""
        self.experiment_tag = str(experiment_tag)
        self.reconfigured = True

    def set_restore_checkpoint(self, checkpoint: Any) -> None:
        """Make the next launch restore from ``checkpoint`` (a ``tune.Checkpoint`` or a path),
        for example another trial's, instead of this trial's own latest checkpoint.

        When a scheduler sets this and returns ``PAUSE``, the trial does not save a checkpoint
        of its own on the way out: the one given here replaces it. ``None`` cancels.
        """
        path = getattr(checkpoint, "path", checkpoint)
        if path is not None and not isinstance(path, str):
            from tune.errors import invalid_type

            raise invalid_type("checkpoint", checkpoint, "expected a tune.Checkpoint or a path")
        self.pending_restore = path
        self.reconfigured = True
        if self._restore_listener is not None:
            self._restore_listener(self, path)

    def update_resources(self, resources: Any) -> None:
        """Request other resources (a dict or ``PlacementGroupFactory``) from the next launch on.

        ``ResourceChangingScheduler`` calls this, then returns ``PAUSE``: the trial saves a
        checkpoint, gives its resources back, and resumes with the new ones (class trainables
        hear of it through ``Trainable.update_resources``).
        """
        from tune.resources import to_placement_group_factory

        factory = to_placement_group_factory(resources)
        if factory.bundles != self.placement_group_factory.bundles:
            self.placement_group_factory = factory
            self.resources_changed = True
            self.reconfigured = True

    # -- results ----------------------------------------------------------------------------
    def update_last_result(self, result: dict) -> None:
        """Record a result: ``last_result`` and the per-metric running summary.

        Nested dicts are summarised under ``"outer/inner"`` keys. Bookkeeping fields that no
        one ranks trials by (timestamps, pids...) are skipped: this runs for every result.
        """
        self.last_result = result
        self.results_seen += 1
        self._summarise(result, "")

    def _summarise(self, result: dict, prefix: str) -> None:
        stats = self._stats
        for key, value in result.items():
            cls = type(value)
            if cls is float:
                if value != value:  # NaN
                    continue
            elif cls is int:
                pass
            elif cls is dict:
                if key != "config":
                    self._summarise(value, f"{prefix}{key}/")
                continue
            elif cls is bool or not isinstance(value, (int, float)):
                continue
            if not prefix and key in _UNRANKED:
                continue
            name = prefix + key if prefix else key
            entry = stats.get(name)
            if entry is None:
                stats[name] = _MetricStats(value)
            else:
                entry.add(value)

    def freeze_stats(self) -> None:
        """Release per-result windows once the trial has ended (memory per finished trial)."""
        for entry in self._stats.values():
            entry.freeze()

    @property
    def metric_analysis(self) -> dict[str, dict[str, float]]:
        """``{metric: {"max","min","avg","last","last-5-avg","last-10-avg"}}``."""
        return {name: entry.as_dict() for name, entry in self._stats.items()}

    @metric_analysis.setter
    def metric_analysis(self, value: dict[str, dict[str, float]]) -> None:
        self._stats = {name: _MetricStats.from_dict(d) for name, d in (value or {}).items()}

    def get_state(self) -> dict:
        """A JSON-friendly snapshot of this record (for the experiment state)."""
        return {
            "trial_id": self.trial_id,
            "config": self.config,
            "trainable_name": self.trainable_name,
            "experiment_tag": self.experiment_tag,
            "evaluated_params": self.evaluated_params,
            "path": self.path,
            "custom_trial_name": self.custom_trial_name,
            **self.get_progress_state(),
        }

    def get_progress_state(self) -> dict:
        """The part of ``get_state`` that changes after the trial is created."""
        return {
            "trial_id": self.trial_id,
            "status": self.status,
            "last_result": {k: v for k, v in self.last_result.items() if k != "config"},
            "metric_analysis": self.metric_analysis,
            "metric_counts": {name: entry.n for name, entry in self._stats.items()},
            "error_file": self.error_file,
            "error_msg": self.error_msg,
            "num_failures": self.num_failures,
            "failures": self.failures,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "checkpoint_path": getattr(self.checkpoint, "path", None),
            "kept_checkpoints": self.kept_checkpoints_state(),
            **(self.reconfigured_state() if self.reconfigured else {}),
        }

    def reconfigured_state(self) -> dict:
        """What a scheduler may have changed: config, tag, resources, pending restore."""
        return {
            "config": self.config,
            "experiment_tag": self.experiment_tag,
            "bundles": [dict(b) for b in self.placement_group_factory.bundles],
            "pending_restore": self.pending_restore,
        }

    def kept_checkpoints_state(self) -> list | None:
        """``kept_checkpoints`` for the experiment state (metrics without the config)."""
        if self.kept_checkpoints is None:
            return None
        return [
            [path, {k: v for k, v in metrics.items() if k != "config"}]
            for path, metrics in self.kept_checkpoints
        ]


def trial_from_state(state: dict) -> Trial:
    """Rebuild a ``Trial`` record from ``Trial.get_state()`` output (no checkpoint object)."""
    trial = Trial(
        state["trial_id"],
        state["config"],
        trainable_name=state.get("trainable_name", "trainable"),
        experiment_tag=state.get("experiment_tag", ""),
        evaluated_params=state.get("evaluated_params"),
        path=state.get("path"),
        custom_trial_name=state.get("custom_trial_name"),
    )
    trial.status = state.get("status", PENDING)
    trial.last_result = dict(state.get("last_result") or {})
    if trial.last_result:
        trial.last_result["config"] = trial.config
    trial.metric_analysis = state.get("metric_analysis") or {}
    for name, count in (state.get("metric_counts") or {}).items():
        entry = trial._stats.get(name)
        if entry is not None:  # so "avg" keeps weighing every result after a restore
            entry.sum, entry.n = entry.sum * count, count
    trial.error_file = state.get("error_file")
    trial.error_msg = state.get("error_msg")
    trial.num_failures = state.get("num_failures", 0)
    trial.failures = state.get("failures", [])
    if state.get("bundles"):
        from tune.resources import PlacementGroupFactory

        trial.placement_group_factory = PlacementGroupFactory(state["bundles"])
        trial.reconfigured = True
    if state.get("pending_restore"):
        trial.pending_restore = state["pending_restore"]
        trial.reconfigured = True
    trial.start_time = state.get("start_time")
    trial.end_time = state.get("end_time")
    kept = state.get("kept_checkpoints")
    if kept is not None:
        trial.kept_checkpoints = [(p, {**m, "config": trial.config}) for p, m in kept]
    cp = state.get("checkpoint_path")
    if cp:
        from tune.trainable.checkpoint import Checkpoint

        trial.checkpoint = Checkpoint(cp)
    return trial
