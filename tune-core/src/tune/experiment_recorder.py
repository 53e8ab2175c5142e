"""What the controller makes durable, and when.

Trial creations, checkpoints and endings go to the journal as they happen (one small record
each), so a crash at any instant loses nothing that was committed; plugin states (searcher,
scheduler, callbacks, stoppers) are journaled at most twice a second; full snapshots are
written on ``SnapshotClock``'s period and at the end.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tune import env
from tune.journal import Journal, SnapshotClock, encode_blob

if TYPE_CHECKING:
    from tune.bus import ExperimentBus
    from tune.trial import Trial

_PLUGIN_PERIOD_S = 0.5


class ExperimentRecorder:
    def __init__(self, experiment_dir: str, header: dict, bus: ExperimentBus, generation: int = 0):
        self.header = header
        self.bus = bus
        self.journal = Journal(experiment_dir, generation)
        self.clock = SnapshotClock(env.get("TUNE_GLOBAL_CHECKPOINT_S"))
        self._plugins_at = 0.0
        #: whether checkpoint records carry the kept list (only needed when some are deleted)
        self.record_kept = True
        #: seconds spent making the experiment durable (journal records and snapshots)
        self.cost_s = 0.0

    def _append(self, record: dict) -> None:
        start = time.perf_counter()
        self.journal.append(record)
        self.cost_s += time.perf_counter() - start

    # -- journal records ------------------------------------------------------------------------
    def trial_created(self, trial: Trial) -> None:
        self._append({"t": "trial", "trial": {
            "trial_id": trial.trial_id,
            "config": trial.config,
            "trainable_name": trial.trainable_name,
            "experiment_tag": trial.experiment_tag,
            "evaluated_params": trial.evaluated_params,
            "path": trial.path,
            "custom_trial_name": trial.custom_trial_name,
            "status": trial.status,
        }})

    def trial_checkpointed(self, trial: Trial) -> None:
        update = {"trial_id": trial.trial_id, "checkpoint_path": trial.checkpoint.path}
        if self.record_kept:
            # Only when retention deletes: otherwise every record would repeat the whole,
            # ever longer list (snapshots still carry it).
            update["kept_checkpoints"] = trial.kept_checkpoints_state()
        self._append({"t": "trial", "trial": update})

    def trial_changed(self, trial: Trial, n_trials: int) -> None:
        """A trial ended or was requeued: its whole record, then (rate-limited) plugin states."""
        start = time.perf_counter()
        self.journal.append({"t": "trial", "trial": trial.get_progress_state()})
        self.cost_s += time.perf_counter() - start
        self.plugins(n_trials)

    def plugins(self, n_trials: int, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._plugins_at >= _PLUGIN_PERIOD_S:
            self._plugins_at = now
            start = time.perf_counter()
            self.journal.append({"t": "plugins", "plugins": self.plugin_states(n_trials)})
            self.cost_s += time.perf_counter() - start

    def plugin_states(self, n_trials: int) -> dict[str, Any]:
        bus = self.bus
        return {
            "searcher": encode_blob(bus.searcher_get_state()),
            "scheduler": encode_blob(bus.scheduler_get_state()),
            "callbacks": encode_blob(bus.get_states()),
            "n_trials": n_trials,
        }

    # -- snapshots ------------------------------------------------------------------------------
    def end_of_step(self, trials: list[Trial]) -> None:
        """Commit this step's records; write a snapshot when one is due."""
        start = time.perf_counter()
        self.journal.flush()
        self.cost_s += time.perf_counter() - start
        if self.clock.due():
            self.snapshot(trials)

    def snapshot(self, trials: list[Trial]) -> None:
        start = time.perf_counter()
        state = dict(self.header)
        state["trials"] = [t.get_state() for t in trials]
        state["plugins"] = self.plugin_states(len(trials))
        self._plugins_at = time.monotonic()
        self.journal.rotate(state)
        took = time.perf_counter() - start
        self.clock.record(took)
        self.cost_s += took

    def close(self, trials: list[Trial]) -> None:
        try:
            self.snapshot(trials)
        finally:
            self.journal.close()
