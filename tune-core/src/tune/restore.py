"""Bringing an interrupted experiment back: which trials resume, from where, with what state.

``Tuner.restore`` reads the experiment (snapshot + journal) and the pickled tuner settings;
this module decides each trial's fate:

- TERMINATED trials stay terminated and keep their results.
- Unfinished trials (PENDING, RUNNING, PAUSED) resume from their latest checkpoint, or from
  scratch without one (``resume_unfinished=False`` marks them TERMINATED instead).
- ERROR trials stay errored, unless ``resume_errored`` (from their checkpoint) or
  ``restart_errored`` (from scratch, with their history cleared).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tune.errors import TuneValueError
from tune.journal import decode_blob, load_experiment
from tune.trial import ERROR, PENDING, TERMINATED, Trial, trial_from_state

TUNER_FILE = "tuner.pkl"


@dataclass
class RestoredExperiment:
    """What the controller needs to continue an experiment."""

    trials: list[Trial]
    resume: dict[str, str | None] = field(default_factory=dict)  # trial_id -> checkpoint | None
    searcher_state: Any = None
    scheduler_state: Any = None
    callback_states: dict = field(default_factory=dict)
    trials_known_to_plugins: int = 0
    ended_after_plugin_state: list[str] = field(default_factory=list)
    run_id: str | None = None
    generation: int = 0


def check_restorable(path: str) -> None:
    if not os.path.isdir(path):
        raise TuneValueError(
            f"Invalid path={path!r}: no such directory. Pass the experiment directory "
            "(<storage_path>/<name>) that Tuner.fit() wrote."
        )
    for name in ("experiment_state.json", TUNER_FILE):
        if not os.path.exists(os.path.join(path, name)):
            raise TuneValueError(
                f"Invalid path={path!r}: it holds no experiment ({name} is missing). Pass the "
                "experiment directory (<storage_path>/<name>) that Tuner.fit() wrote."
            )


def load_tuner_settings(path: str) -> dict:
    import pickle

    file = os.path.join(path, TUNER_FILE)
    try:
        with open(file, "rb") as f:
            return pickle.load(f)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        raise TuneValueError(
            f"The tuner settings file {file!r} cannot be read ({type(exc).__name__}: {exc}). "
            "It is written when the experiment starts; the experiment cannot be restored "
            "without it."
        ) from exc


def load_restored(
    path: str, *, resume_unfinished: bool, resume_errored: bool, restart_errored: bool
) -> RestoredExperiment:
    state = load_experiment(path)
    plugins = state.get("plugins") or {}
    plugins_seq = state.get("plugins_seq", -1)
    restored = RestoredExperiment(
        trials=[],
        searcher_state=decode_blob(plugins.get("searcher")),
        scheduler_state=decode_blob(plugins.get("scheduler")),
        callback_states=decode_blob(plugins.get("callbacks")) or {},
        trials_known_to_plugins=plugins.get("n_trials", 0),
        run_id=state.get("run_id"),
        generation=state.get("generation", 0),
    )
    for trial_state in state["trials"]:
        end_seq = trial_state.pop("_end_seq", None)
        trial = trial_from_state(trial_state)
        trial.path = _relocate(trial.path, path)
        if trial.checkpoint is not None:
            trial.checkpoint = type(trial.checkpoint)(_relocate(trial.checkpoint.path, path))
        if trial.kept_checkpoints is not None:
            trial.kept_checkpoints = [(_relocate(p, path), m) for p, m in trial.kept_checkpoints]
        if trial.pending_restore:
            trial.pending_restore = _relocate(trial.pending_restore, path)
        restored.trials.append(trial)
        if end_seq is not None and end_seq > plugins_seq:
            restored.ended_after_plugin_state.append(trial.trial_id)
        checkpoint = trial.checkpoint.path if trial.checkpoint is not None else None
        if checkpoint is not None and not os.path.isdir(checkpoint):
            raise TuneValueError(
                f"Trial {trial}'s latest checkpoint {checkpoint!r} has vanished, so it cannot "
                "resume from it. Restore the directory, or delete the trial's checkpoint "
                "entries and restore again to start it from scratch."
            )
        if trial.status == TERMINATED:
            continue
        if trial.status == ERROR:
            if restart_errored:
                restored.resume[trial.trial_id] = None
            elif resume_errored:
                restored.resume[trial.trial_id] = checkpoint
            continue
        if resume_unfinished:
            restored.resume[trial.trial_id] = checkpoint
        else:
            trial.status = TERMINATED
    for trial in restored.trials:
        if trial.trial_id in restored.resume:
            trial.status = PENDING
            trial.error_msg = trial.error_file = None
            if restored.resume[trial.trial_id] is None:
                trial.checkpoint = None
    return restored


def _relocate(recorded: str | None, experiment_dir: str) -> str | None:
    """Paths recorded before the experiment directory was moved point into it again."""
    if not recorded or "://" in recorded:
        return recorded
    parts = os.path.normpath(recorded).split(os.sep)
    name = os.path.basename(os.path.normpath(experiment_dir))
    if name in parts:
        tail = parts[len(parts) - 1 - parts[::-1].index(name) + 1:]
        return os.path.join(experiment_dir, *tail)
    return recorded


def adopt_restored(controller: Any, restored: RestoredExperiment) -> None:
    """Give a fresh controller the restored trials and its plugins their saved state.

    Plugin states may be a little older than the trial records (they are journaled at most
    twice a second): the searcher is fast-forwarded over the trials created since, and both
    searcher and scheduler are told about the trials that ended since.
    """
    bus = controller.bus
    trials = restored.trials
    known = restored.trials_known_to_plugins
    if restored.searcher_state is not None:
        bus.searcher_set_state(restored.searcher_state)
        for trial in trials[known:]:
            bus.suggest(trial.trial_id)
    if restored.scheduler_state is not None:
        bus.scheduler_set_state(restored.scheduler_state)
        new_to_scheduler = trials[known:]
    else:
        new_to_scheduler = trials
    for trial in new_to_scheduler:
        bus.scheduler_on_add(trial)
    if restored.callback_states:
        bus.set_states(restored.callback_states)
    by_id = {t.trial_id: t for t in trials}
    for trial_id in restored.ended_after_plugin_state:
        trial = by_id[trial_id]
        errored = trial.status == ERROR
        bus.searcher_on_complete(trial_id, trial.last_result or None, errored)
        if errored:
            bus.scheduler_on_error(trial)
        else:
            bus.scheduler_on_complete(trial, trial.last_result or None)
    from tune.checkpoint_manager import cleanup_leftovers

    for trial in trials:
        if trial.path:
            cleanup_leftovers(trial.path)  # deletions a crash interrupted
        latest = trial.checkpoint.path if trial.checkpoint is not None else None
        if trial.kept_checkpoints is not None or latest is not None:
            controller.checkpoints.adopt_trial(
                trial.trial_id, trial.kept_checkpoints, latest, config=trial.config
            )
            trial.kept_checkpoints = controller.checkpoints.best_checkpoints(trial.trial_id)
    controller.adopt(trials, restored.resume)
