"""The resolved settings of one experiment run (``ExperimentSpec``), built by the Tuner."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tune import env


def max_pending_trials(adaptive_searcher: bool) -> int:
    """``TUNE_MAX_PENDING_TRIALS_PG``: "auto" is 1 for adaptive searchers, else 200."""
    raw = env.get("TUNE_MAX_PENDING_TRIALS_PG").strip().lower()
    if raw == "auto":
        return 1 if adaptive_searcher else max(200, int((os.cpu_count() or 1) * 1.1))
    value = int(env.number("TUNE_MAX_PENDING_TRIALS_PG"))
    if value < 1:
        from tune.errors import invalid_value

        raise invalid_value("environment variable TUNE_MAX_PENDING_TRIALS_PG", raw, "must be 'auto' or >= 1")
    return value


@dataclass
class ExperimentSpec:
    """The resolved settings of one run, assembled by the Tuner."""

    trainable: Any
    trainable_name: str
    param_space: dict
    experiment_dir: str
    experiment_name: str
    metric: str | None = None
    mode: str | None = None
    num_samples: int = 1
    max_concurrent_trials: int | None = None
    time_budget_s: float | None = None
    stop_criteria: dict = field(default_factory=dict)
    stop: Any = None
    reuse_actors: bool = False
    checkpoint_frequency: int = 0
    checkpoint_at_end: bool = False
    max_failures: int = 0
    fail_fast: bool | str = False
    log_files: tuple = (None, None)
    trial_name_creator: Any = None
    trial_dirname_creator: Any = None
    adaptive_searcher: bool = True
    total_num_samples: int | None = None
    #: tune.storage.StorageContext: where results go (local dir, or staging + URL)
    storage: Any = None
    checkpoint_config: Any = None  # tune.CheckpointConfig: retention (num_to_keep, score)
    trial_timeout_s: float | None = None
