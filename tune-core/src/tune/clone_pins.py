"""Keeps the checkpoint a trial was told to restore from (another trial's) on disk.

A scheduler that clones trials (PBT) calls ``trial.set_restore_checkpoint(path)``; until the
clone has started from that checkpoint *and* saved one of its own, retention
(``CheckpointConfig(num_to_keep=...)``) must not delete it: a retry or a restore would start
from it. This pins it in the ``CheckpointManager`` of its owner for that long.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tune.checkpoint_manager import CheckpointManager
    from tune.trial import Trial


class ClonePins:
    def __init__(self, checkpoints: CheckpointManager) -> None:
        self._checkpoints = checkpoints
        # clone trial id -> [owner trial id, checkpoint path, launched from it yet]
        self._pins: dict[str, list] = {}

    def pin(self, trial: Trial, path: str | None) -> None:
        """``trial`` will restore from ``path`` (None: it will not any more)."""
        self.release(trial.trial_id)
        owner = self._checkpoints.owner_of(path) if path else None
        if owner is not None:
            self._checkpoints.pin(owner, path)
            launched = trial.pending_restore is None  # a restored clone, already running on it
            self._pins[trial.trial_id] = [owner, path, launched]

    def launched(self, trial_id: str) -> None:
        """The clone was launched from its pinned checkpoint."""
        if trial_id in self._pins:
            self._pins[trial_id][2] = True

    def release(self, trial_id: str, launched_only: bool = False) -> None:
        """Unpin a clone's source; ``launched_only``: only if the clone has started from it
        (a checkpoint it saved before it was cloned does not count)."""
        pinned = self._pins.get(trial_id)
        if pinned is None or (launched_only and not pinned[2]):
            return
        del self._pins[trial_id]
        self._checkpoints.unpin(pinned[0], pinned[1])
