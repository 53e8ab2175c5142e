"""``PopulationBasedTrainingReplay``: train one trial on the schedule a PBT trial followed.

PBT writes ``pbt_policy_<trial_id>.txt`` to the experiment directory: one row per exploit
in the trial's lineage (``[target tag, source tag, target step, source step, source config,
new config]``). The replay starts a single trial with the lineage's first config and, when
the trial reaches each change's step, pauses it (saving a checkpoint) and resumes it with
the next config: the same hyperparameter schedule, in one uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from tune.errors import TuneValueError, invalid_value
from tune.schedulers.trial_scheduler import FIFOScheduler
from tune.trial import Trial
from tune_schedulers._util import check_searcher_is_basic, check_trainable_checkpoints
from tune_schedulers.pbt_explore import make_experiment_tag, policy_file_name

__all__ = ["PopulationBasedTrainingReplay"]

logger = logging.getLogger("tune")


def load_policy(policy_file: str) -> tuple[dict | None, list[tuple[int, dict]]]:
    """``(initial config, [(step, config from that step on), ...])`` of a policy file.

    The file holds the lineage of exploits, oldest first; reading it backwards, a row whose
    target is not the previous row's source ends the chain (what came before was overwritten).
    """
    rows = []
    with open(policy_file) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                old_tag, new_tag, old_step, new_step, old_conf, new_conf = row
            except (json.JSONDecodeError, ValueError, TypeError):
                raise TuneValueError(
                    f"Cannot read PBT policy file {policy_file!r}: line {number} is not a "
                    "policy row [target tag, source tag, target step, source step, source "
                    "config, new config]."
                ) from None
            rows.append((old_tag, new_tag, int(old_step), int(new_step), old_conf, new_conf))
    policy: list[tuple[int, dict]] = []
    last_source_tag = None
    initial = None
    for old_tag, new_tag, _old_step, new_step, old_conf, new_conf in reversed(rows):
        if last_source_tag is not None and old_tag != last_source_tag:
            break
        last_source_tag = new_tag
        initial = old_conf
        policy.append((new_step, new_conf))
    return initial, list(reversed(policy))


class PopulationBasedTrainingReplay(FIFOScheduler):
    """Replays the hyperparameter schedule of one trial of a PBT run.

    Give either the policy file or the experiment directory and the trial id::

        PopulationBasedTrainingReplay("~/tune_results/pbt_exp/pbt_policy_a1b2c_00003.txt")
        PopulationBasedTrainingReplay(experiment_dir="~/tune_results/pbt_exp",
                                      trial_id="a1b2c_00003")

    Run it with one sample (``num_samples=1``) and no search space: the schedule sets the
    config. The trainable must save and restore checkpoints (each change pauses the trial).

    :param policy_file: path of a ``pbt_policy_<trial_id>.txt`` file.
    :param experiment_dir: the PBT experiment's directory (with ``trial_id``).
    :param trial_id: the id of the trial whose schedule to replay.
    """

    def __init__(
        self,
        policy_file: str | None = None,
        *,
        experiment_dir: str | None = None,
        trial_id: str | None = None,
    ) -> None:
        if policy_file is None:
            if experiment_dir is None or trial_id is None:
                raise TuneValueError(
                    "PopulationBasedTrainingReplay needs policy_file, or experiment_dir and "
                    "trial_id (the PBT experiment and the trial whose schedule to replay)."
                )
            policy_file = os.path.join(os.fspath(experiment_dir), policy_file_name(trial_id))
        elif experiment_dir is not None or trial_id is not None:
            raise TuneValueError(
                "Pass either policy_file or experiment_dir and trial_id, not both."
            )
        path = Path(os.fspath(policy_file)).expanduser()
        if not path.is_file():
            raise invalid_value(
                "policy_file",
                str(path),
                "must be an existing pbt_policy_<trial_id>.txt file that a "
                "PopulationBasedTraining run with log_config=True wrote to its experiment "
                "directory (a trial that was never cloned has none)",
            )
        super().__init__()
        self.policy_file = str(path)
        initial, self._policy = load_policy(self.policy_file)
        self._current_config = initial
        self._next = 0  # index of the next change in _policy
        self._trial_id: str | None = None
        self._orig_tag = ""
        self._num_perturbations = 0

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        check_searcher_is_basic(self, spec)
        check_trainable_checkpoints(self, spec)
        if spec.get("num_samples", 1) not in (1, None):
            raise invalid_value(
                "num_samples",
                spec["num_samples"],
                "must be 1 with PopulationBasedTrainingReplay: it replays one schedule",
            )
        return super().set_search_properties(metric, mode, **spec)

    def on_trial_add(self, trial: Trial, *_: Any) -> None:
        if self._trial_id is not None and trial.trial_id != self._trial_id:
            raise TuneValueError(
                "More than one trial was added to a PopulationBasedTrainingReplay run: it "
                "replays one schedule. Use num_samples=1 and no grid_search in param_space."
            )
        if self._trial_id == trial.trial_id:
            return  # restored
        self._trial_id = trial.trial_id
        self._orig_tag = trial.experiment_tag
        if trial.config and self._policy:
            logger.warning(
                "PopulationBasedTrainingReplay replaces the trial's config %s with the "
                "schedule's initial one; leave param_space empty.",
                trial.config,
            )
        elif trial.config and not self._policy:
            self._current_config = trial.config
        if self._current_config is not None:
            trial.set_config(dict(self._current_config))

    def on_trial_result(self, trial: Trial, result: dict | None = None, *_: Any) -> str:
        result = result or {}
        if "training_iteration" not in result or self._next >= len(self._policy):
            return self.CONTINUE
        change_at, new_config = self._policy[self._next]
        if result["training_iteration"] < change_at:
            return self.CONTINUE
        logger.info(
            "PBT replay at step %s: the config becomes %s.", result["training_iteration"], new_config
        )
        trial.set_experiment_tag(make_experiment_tag(self._orig_tag, new_config, new_config))
        trial.set_config(dict(new_config))
        self._current_config = new_config
        self._num_perturbations += 1
        self._next += 1
        return self.PAUSE  # saves a checkpoint; the trial resumes from it with the new config

    def debug_string(self) -> str:
        return f"PopulationBasedTrainingReplay: replayed {self._num_perturbations} perturbs"
