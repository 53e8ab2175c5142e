"""``CounterCallback``: registered as callback "example_counter".

Counts the results each trial reports and, when the experiment ends, writes a JSON summary
(results per trial, final status of each trial) into the experiment directory. It shows the
``Callback`` contract: Ray Tune's method names, and state that survives ``Tuner.restore``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from tune.callback import Callback
from tune.trial import Trial

DEFAULT_FILENAME = "example_counter.json"


class CounterCallback(Callback):
    """Count results per trial; write ``summary_path`` (or ``<experiment dir>/<filename>``).

    :param summary_path: where to write the summary; by default ``filename`` in the experiment
        directory (local storage only; give ``summary_path`` for remote storage).
    :param filename: the summary's file name when ``summary_path`` is not given.
    """

    def __init__(
        self, summary_path: str | os.PathLike | None = None, filename: str = DEFAULT_FILENAME
    ) -> None:
        super().__init__()
        self.summary_path = os.fspath(summary_path) if summary_path is not None else None
        self.filename = filename
        self.counts: Counter[str] = Counter()
        self.started: list[str] = []
        self.written_to: str | None = None

    @property
    def num_results(self) -> int:
        """Results seen across all trials."""
        return sum(self.counts.values())

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        if trial.trial_id not in self.started:
            self.started.append(trial.trial_id)

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        self.counts[trial.trial_id] += 1

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        path = self.summary_path or self._default_path(trials)
        if path is None:
            return
        summary = {
            "num_trials": len(trials),
            "num_results": self.num_results,
            "results_per_trial": {t.trial_id: self.counts.get(t.trial_id, 0) for t in trials},
            "status_per_trial": {t.trial_id: t.status for t in trials},
            "started": list(self.started),
        }
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2, sort_keys=True)
        os.replace(tmp, path)
        self.written_to = path

    def _default_path(self, trials: list[Trial]) -> str | None:
        for trial in trials:
            experiment_path = getattr(trial, "experiment_path", None)
            if experiment_path and "://" not in experiment_path:
                return os.path.join(experiment_path, self.filename)
            if trial.path and "://" not in trial.path:
                return os.path.join(os.path.dirname(os.path.normpath(trial.path)), self.filename)
        return None

    def get_state(self) -> dict:
        return {"counts": dict(self.counts), "started": list(self.started)}

    def set_state(self, state: dict) -> None:
        self.counts = Counter(state["counts"])
        self.started = list(state["started"])
