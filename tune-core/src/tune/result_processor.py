"""What happens to a trial's results and to its end: decisions, records, plugin calls.

For each result: strict metric check, checkpoint bookkeeping, the stop criteria, the
scheduler's decision, the stoppers, then the searcher and the callbacks. Decisions go back
to the executor (``decide`` for trials that wait on each result, ``stop`` otherwise).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tune.errors import MetricNotReportedError, TuneError
from tune.execution.executor import (
    ABANDON,
    CHECKPOINT_KEY,
    CONTINUE,
    PAUSE,
    SAVE,
    STOP,
    TrialCompleted,
)
from tune.trial import PAUSED, TERMINATED, Trial

if TYPE_CHECKING:
    from tune.controller import TuneController


class ResultProcessor:
    """Turns a controller's result and completion events into decisions and records."""

    def __init__(self, controller: TuneController) -> None:
        self.ctl = controller

    def on_results(self, trial: Trial, results: list[dict]) -> None:
        ctl = self.ctl
        trial_id = trial.trial_id
        stopping = ctl.stopping.get(trial_id)
        if stopping is not None:
            if stopping == PAUSE:
                # Results a run-ahead trial reported before the pause reached it are part of
                # the state its pause checkpoint holds: keep them in its history.
                for result in results:
                    self.process_result(trial, result)
            if ctl.sync:
                ctl.executor.decide(trial_id, stopping)
            return
        decision = CONTINUE
        for result in results:
            decision = self.process_result(trial, result)
            if decision not in (CONTINUE, SAVE):
                break
        if decision in (CONTINUE, SAVE):
            if ctl.sync:
                ctl.executor.decide(trial_id, decision)
            return
        ctl.stopping[trial_id] = decision
        # A trial that will restore from another checkpoint (a clone) saves none of its own.
        save = decision == PAUSE and not trial.pending_restore
        if not ctl.sync:
            ctl.executor.stop(trial_id, save_checkpoint=save)
        else:
            ctl.executor.decide(trial_id, PAUSE if save else ABANDON if decision == PAUSE else STOP)

    def process_result(self, trial: Trial, result: dict) -> str:
        ctl = self.ctl
        spec = ctl.spec
        if ctl.strict and spec.metric not in result:
            raise MetricNotReportedError(
                f"Trial {trial} reported a result without the metric {spec.metric!r} that the "
                f"experiment optimizes (TuneConfig(metric=...)). Reported keys: "
                f"{sorted(k for k in result if k != 'config')}. Report it with "
                f"tune.report({{{spec.metric!r}: ...}}), or set "
                "TUNE_DISABLE_STRICT_METRIC_CHECKING=1 to accept such results."
            )
        checkpoint_dir = result.pop(CHECKPOINT_KEY, None)
        result["config"] = trial.config
        if checkpoint_dir:
            from tune.trainable.checkpoint import Checkpoint

            trial.checkpoint = Checkpoint(checkpoint_dir)
            result["checkpoint_dir_name"] = os.path.basename(checkpoint_dir)
            self.keep_checkpoint(trial, checkpoint_dir, result)
            if ctl.spec.storage is not None:
                ctl.spec.storage.sync_trial_dir(checkpoint_dir)
            ctl.recorder.trial_checkpointed(trial)
            ctl.bus.on_trial_save(ctl.iteration, ctl.trials, trial)
            ctl.bus.on_checkpoint(ctl.iteration, ctl.trials, trial, trial.checkpoint)
        # A trial's last result (done) or one meeting the stop criteria ends it, whatever
        # the scheduler would say (as in Ray Tune, which does not ask it then).
        decision = STOP if result.get("done") or self.meets_stop_criteria(result) else CONTINUE
        if decision == CONTINUE:
            decision = ctl.bus.scheduler_on_result(trial, result)
        if decision == CONTINUE and ctl.bus.should_stop_trial(trial.trial_id, result):
            decision = STOP
        trial.update_last_result(result)
        ctl.bus.searcher_on_result(trial.trial_id, result)
        ctl.bus.on_trial_result(ctl.iteration, ctl.trials, trial, result)
        return decision

    def keep_checkpoint(self, trial: Trial, path: str, metrics: dict) -> None:
        """Retention (CheckpointConfig.num_to_keep): the manager decides what goes."""
        checkpoints = self.ctl.checkpoints
        checkpoints.register(trial.trial_id, path, metrics)
        # A clone that saved its own checkpoint no longer needs its source.
        self.ctl.clone_pins.release(trial.trial_id, launched_only=True)
        trial.kept_checkpoints = checkpoints.best_checkpoints(trial.trial_id)

    def meets_stop_criteria(self, result: dict) -> bool:
        ctl = self.ctl
        for key, threshold in ctl.spec.stop_criteria.items():
            if key not in result:
                if result.get("done"):
                    continue
                raise TuneError(
                    f"Stopping criterion {key!r} (RunConfig(stop=...)) is not in the result. "
                    f"Reported keys: {sorted(k for k in result if k != 'config')}."
                )
            value = result[key]
            if isinstance(value, (int, float)) and value >= threshold:
                return True
        return False

    def on_saved(self, trial: Trial, checkpoint_dir: str | None) -> None:
        """A checkpoint persisted outside a result (on request, or at the trial's end)."""
        known = trial.checkpoint.path if trial.checkpoint is not None else None
        if not checkpoint_dir or checkpoint_dir == known:
            # (A function trial's pause point is often the checkpoint it last reported.)
            return
        from tune.trainable.checkpoint import Checkpoint

        ctl = self.ctl
        trial.checkpoint = Checkpoint(checkpoint_dir)
        self.keep_checkpoint(trial, checkpoint_dir, trial.last_result)
        if ctl.spec.storage is not None:
            ctl.spec.storage.sync_trial_dir(checkpoint_dir)
        ctl.recorder.trial_checkpointed(trial)
        ctl.bus.on_trial_save(ctl.iteration, ctl.trials, trial)
        ctl.bus.on_checkpoint(ctl.iteration, ctl.trials, trial, trial.checkpoint)

    def on_completed(self, trial: Trial, event: TrialCompleted) -> None:
        ctl = self.ctl
        decision = ctl.stopping.get(trial.trial_id)
        self.on_saved(trial, event.checkpoint_dir)
        if decision == PAUSE:
            ctl.live.pop(trial.trial_id, None)
            ctl.timeouts.ended(trial.trial_id)
            ctl.stopping.pop(trial.trial_id, None)
            if trial.checkpoint is not None:
                ctl.restore_from[trial.trial_id] = trial.checkpoint.path
            trial.status = PAUSED
            ctl.waiting[trial.trial_id] = trial
            ctl.paused.add(trial.trial_id)
            ctl.bus.searcher_on_pause(trial.trial_id)
            ctl.recorder.trial_changed(trial, len(ctl.trials))
            return
        self.terminate_trial(trial)

    def terminate_trial(self, trial: Trial) -> None:
        """End a trial that is not running (or has just stopped) as TERMINATED."""
        ctl = self.ctl
        ctl.end_trial(trial, TERMINATED)
        # The searcher sees the last result as reported: "done" is False when a scheduler or
        # stopper ended the trial early (so an adapter can tell Optuna it was pruned).
        reported = dict(trial.last_result) if trial.last_result else None
        if trial.last_result:
            trial.last_result["done"] = True
        result = trial.last_result or None
        ctl.bus.searcher_on_complete(trial.trial_id, reported, False)
        ctl.bus.scheduler_on_complete(trial, result)
        ctl.bus.on_trial_complete(ctl.iteration, ctl.trials, trial)
        ctl.recorder.trial_changed(trial, len(ctl.trials))
