"""Where an experiment lives and what its trials are called.

Experiment directory: ``<storage_path>/<name>``; an unnamed experiment is called
``<trainable>_<date>`` (just ``<trainable>`` with ``TUNE_DISABLE_DATED_SUBDIR=1``).
Trial ids are ``<5 hex digits>_<index:05d>``; trial directories are
``<trainable>_<trial_id>_<experiment_tag>`` with the tag cut to ``TUNE_MAX_LEN_IDENTIFIER``.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass

from tune import env
from tune.errors import invalid_type, invalid_value

_UNSAFE = re.compile(r"[^\w\-=.,+]")


def date_str() -> str:
    return time.strftime("%Y-%m-%d_%H-%M-%S")


def default_storage_path() -> str:
    return os.path.expanduser(env.get("TUNE_RESULTS_DIR"))


def experiment_name(name: str | None, trainable_name: str) -> str:
    if name:
        return name
    if env.flag("TUNE_DISABLE_DATED_SUBDIR"):
        return trainable_name
    return f"{trainable_name}_{date_str()}"


def safe_name(text: str) -> str:
    """A string usable as one path component on every OS."""
    return _UNSAFE.sub("_", text)


@dataclass
class TrialNamer:
    """Gives trials their ids, tags, names and directory names."""

    experiment_dir: str
    trainable_name: str
    trial_name_creator: object = None
    trial_dirname_creator: object = None

    def __post_init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:5]
        self.max_len = int(env.number("TUNE_MAX_LEN_IDENTIFIER"))

    def trial_id(self, index: int) -> str:
        return f"{self.run_id}_{index:05d}"

    def custom_name(self, trial) -> str | None:
        if self.trial_name_creator is None:
            return None
        name = self.trial_name_creator(trial)
        if not isinstance(name, str) or not name:
            raise invalid_type(
                "trial_name_creator", self.trial_name_creator, "must return a non-empty string"
            )
        return name

    def dirname(self, trial) -> str:
        if self.trial_dirname_creator is not None:
            name = self.trial_dirname_creator(trial)
            if not isinstance(name, str) or not name:
                raise invalid_type(
                    "trial_dirname_creator",
                    self.trial_dirname_creator,
                    "must return a non-empty string",
                )
            if os.sep in name or name in (".", ".."):
                raise invalid_value(
                    "trial_dirname_creator", name, "must return a single directory name"
                )
            return name
        tag = safe_name(trial.experiment_tag)[: self.max_len]
        return f"{self.trainable_name}_{trial.trial_id}_{tag}".rstrip("_")
