"""The ``Trial`` record: one configuration's run, as the controller and plugins see it.

The controller owns trials and changes their state; plugins read them. A trial keeps its
last result and a running summary of each numeric metric (``metric_analysis``), never its
whole history in memory: the history lives in ``<trial dir>/result.json``.
"""

from __future__ import annotations

import math
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

_LAST_N = (5, 10)


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
        self.metric_analysis: dict[str, dict[str, float]] = {}
        self.metric_n_steps: dict[str, dict[str, deque]] = {}
        self.checkpoint: Any = None
        self.error_file: str | None = None
        self.error_msg: str | None = None
        self.num_failures = 0
        self.failures: list[dict] = []
        self.exception: BaseException | None = None
        self.start_time: float | None = None
        self.end_time: float | None = None
        self.created_time = time.time()
        self.results_seen = 0

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

    # -- results ----------------------------------------------------------------------------
    def update_last_result(self, result: dict) -> None:
        """Record a result: ``last_result`` and the per-metric running summary."""
        self.last_result = result
        self.results_seen += 1
        for metric, value in result.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if isinstance(value, float) and math.isnan(value):
                continue
            analysis = self.metric_analysis.get(metric)
            if analysis is None:
                self.metric_analysis[metric] = {
                    "max": value, "min": value, "avg": value, "last": value, "_n": 1,
                }
                self.metric_n_steps[metric] = {str(n): deque([value], maxlen=n) for n in _LAST_N}
                for n in _LAST_N:
                    self.metric_analysis[metric][f"last-{n}-avg"] = value
                continue
            n = analysis["_n"] + 1
            analysis["_n"] = n
            analysis["max"] = max(analysis["max"], value)
            analysis["min"] = min(analysis["min"], value)
            analysis["avg"] += (value - analysis["avg"]) / n
            analysis["last"] = value
            for k in _LAST_N:
                window = self.metric_n_steps[metric][str(k)]
                window.append(value)
                analysis[f"last-{k}-avg"] = sum(window) / len(window)

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
            "status": self.status,
            "last_result": self.last_result,
            "metric_analysis": self.metric_analysis,
            "error_file": self.error_file,
            "error_msg": self.error_msg,
            "num_failures": self.num_failures,
            "failures": self.failures,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "checkpoint_path": getattr(self.checkpoint, "path", None),
        }


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
    trial.last_result = state.get("last_result") or {}
    trial.metric_analysis = state.get("metric_analysis") or {}
    trial.error_file = state.get("error_file")
    trial.error_msg = state.get("error_msg")
    trial.num_failures = state.get("num_failures", 0)
    trial.failures = state.get("failures", [])
    trial.start_time = state.get("start_time")
    trial.end_time = state.get("end_time")
    cp = state.get("checkpoint_path")
    if cp:
        from tune.trainable.checkpoint import Checkpoint

        trial.checkpoint = Checkpoint(cp)
    return trial
