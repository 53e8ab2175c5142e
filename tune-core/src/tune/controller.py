"""The controller: the event loop that turns suggestions into trials and results into decisions.

It asks the searcher for configs, the scheduler which trial to run and what to do after each
result, the stoppers whether to stop, and the executor what happened; it owns the trials'
state. Everything it says to plugins goes through the ``ExperimentBus``. It delegates: trial
failures to ``tune.failures``, results and trial endings to ``tune.result_processor``, the
journal and snapshots to ``tune.experiment_recorder``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from tune import env
from tune.bus import FINISHED, ExperimentBus
from tune.checkpoint_manager import CheckpointManager
from tune.clone_pins import ClonePins
from tune.errors import InsufficientResourcesError
from tune.execution.executor import (
    PAUSE,
    STOP,
    Executor,
    TrialCompleted,
    TrialFailed,
    TrialLaunch,
    TrialResults,
    TrialSaved,
    TrialStarted,
)
from tune.experiment import TrialNamer
from tune.experiment_recorder import ExperimentRecorder
from tune.experiment_spec import ExperimentSpec, max_pending_trials
from tune.failures import FailureHandler
from tune.loop_warnings import LoopWarnings
from tune.resources import to_placement_group_factory
from tune.restore import RestoredExperiment, adopt_restored
from tune.result_processor import ResultProcessor
from tune.trial import PAUSED, PENDING, RUNNING, Trial
from tune.trial_history import checkpoint_iteration, truncate_history
from tune.trial_timeout import TrialTimeouts


class TuneController:
    """Runs one experiment to completion on an executor. Use ``run()`` once."""

    def __init__(
        self,
        spec: ExperimentSpec,
        bus: ExperimentBus,
        executor: Executor,
        restored: RestoredExperiment | None = None,
    ) -> None:
        self.spec = spec
        self.bus = bus
        self.executor = executor
        self.trials: list[Trial] = []
        self.waiting: dict[str, Trial] = {}  # PENDING or PAUSED, in creation order
        self.paused: set[str] = set()  # the PAUSED ones among them
        self.live: dict[str, Trial] = {}  # launched and not yet ended
        self.stopping: dict[str, str] = {}  # trial_id -> STOP / PAUSE requested
        self.restore_from: dict[str, str] = {}
        self._by_id: dict[str, Trial] = {}
        self._namer = TrialNamer(
            spec.experiment_dir,
            spec.trainable_name,
            spec.trial_name_creator,
            spec.trial_dirname_creator,
        )
        if restored is not None and restored.run_id:
            self._namer.run_id = restored.run_id
        self._restored = restored
        self.recorder = ExperimentRecorder(
            spec.experiment_dir,
            {
                "name": spec.experiment_name,
                "trainable_name": spec.trainable_name,
                "metric": spec.metric,
                "mode": spec.mode,
                "run_id": self._namer.run_id,
            },
            bus,
            generation=restored.generation if restored is not None else 0,
        )
        self._failures = FailureHandler(self, spec.max_failures, spec.fail_fast)
        self._results = ResultProcessor(self)
        self._resumed: set[str] = set()
        self._interrupts = None
        self._paused_all = False
        self._searcher_done = False
        self.stop_all = False
        self._iteration = 0
        self.strict = spec.metric is not None and not env.flag(
            "TUNE_DISABLE_STRICT_METRIC_CHECKING"
        )
        self.sync = True
        self._start_time = time.monotonic()
        self._error: BaseException | None = None
        self._max_pending = max_pending_trials(spec.adaptive_searcher)
        self._warnings = LoopWarnings()
        # Retention; deletions wait until the journal no longer names them (see _step).
        self.checkpoints = CheckpointManager.from_config(spec.checkpoint_config, deferred=True)
        self.recorder.record_kept = getattr(spec.checkpoint_config, "num_to_keep", None) is not None
        self.timeouts = TrialTimeouts(spec.trial_timeout_s)
        self.clone_pins = ClonePins(self.checkpoints)

    # ---------------------------------------------------------------------------- life cycle
    def run(self, interrupts: Any = None) -> list[Trial]:
        """Run to the end; ``interrupts`` is an ``InterruptHandler`` whose flag stops the run."""
        self._interrupts = interrupts
        spec = self.spec
        self.sync = self.bus.scheduler_needs_every_result() or self.bus.has_stoppers
        self.bus.setup(spec.stop, spec.num_samples, spec.total_num_samples)
        self.executor.start()
        try:
            if self._restored is not None:
                adopt_restored(self, self._restored)
                self._restored = None
            self.recorder.snapshot(self.trials)
            while not self._finished():
                self._step()
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            self._shutdown()
        return self.trials

    def _step(self) -> None:
        self._iteration += 1
        self.bus.on_step_begin(self._iteration, self.trials)
        if not self.stop_all:
            self._add_trials()
            self._start_trials()
        events = self.executor.poll(self._poll_timeout())
        busy_since = time.monotonic()
        for event in events:
            trial = self._by_id.get(event.trial_id)
            if trial is None or trial.trial_id not in self.live:
                continue
            if isinstance(event, TrialResults):
                self._results.on_results(trial, event.results)
            elif isinstance(event, TrialSaved):
                self._results.on_saved(trial, event.checkpoint_dir)
            elif isinstance(event, TrialCompleted):
                self._results.on_completed(trial, event)
            elif isinstance(event, TrialFailed):
                self._failures.on_failed(trial, event)
            elif isinstance(event, TrialStarted):
                trial.start_time = trial.start_time or time.time()
        self.timeouts.kill_overdue(self.executor, self.live)
        self._check_interrupt()
        self._check_global_stop()
        self.bus.on_step_end(self._iteration, self.trials)
        self._warnings.check(busy_since, len(events), bool(self.waiting) and not self.live)
        self.recorder.end_of_step(self.trials)
        if self.spec.storage is not None:
            self.spec.storage.sync_up()  # rate-limited (TUNE_SYNC_PERIOD_S), in the background
        self.checkpoints.delete_pending()

    def _finished(self) -> bool:
        if self.live:
            return False
        if self.stop_all or self.interrupted:
            return True
        return self._searcher_done and not self.waiting

    def _poll_timeout(self) -> float:
        if not self.live:
            # Nothing runs: either work is about to start, or the scheduler/searcher is
            # holding back; a short wait avoids spinning.
            return 0.0 if not self.waiting else 0.05
        timeout = 0.5
        if self.spec.time_budget_s is not None:
            left = self.spec.time_budget_s - (time.monotonic() - self._start_time)
            timeout = max(0.0, min(timeout, left))
        return self.timeouts.poll_timeout(timeout)

    def _check_global_stop(self) -> None:
        if self.stop_all:
            return
        budget = self.spec.time_budget_s
        over_budget = budget is not None and time.monotonic() - self._start_time >= budget
        if over_budget or self.bus.should_stop_all():
            self.stop_experiment()

    def stop_experiment(self, pause: bool = False) -> None:
        """Stop every running trial and create no more; waiting trials stay PENDING.

        With ``pause`` (an interrupt) running trials save a checkpoint where they can and
        stay unfinished, so a restore continues them.
        """
        self.stop_all = True
        decision = PAUSE if pause else STOP
        for trial_id in list(self.live):
            if self.stopping.get(trial_id) != decision:
                self.stopping[trial_id] = decision
                self.executor.stop(trial_id, save_checkpoint=pause)

    @property
    def interrupted(self) -> bool:
        return self._interrupts is not None and self._interrupts.requested

    def _check_interrupt(self) -> None:
        if self._interrupts is not None and self._interrupts.forced:
            raise KeyboardInterrupt
        if self.interrupted and not self._paused_all:
            self._paused_all = True
            self.stop_experiment(pause=True)

    def _shutdown(self) -> None:
        try:
            self.executor.shutdown()
        finally:
            # Trials still live after an error stay RUNNING in the record: a restore resumes them.
            self.live.clear()
            try:
                self.bus.on_experiment_end(self.trials)
            finally:
                self.recorder.close(self.trials)
                if self.spec.storage is not None:
                    self.spec.storage.sync_up(force=True)  # Tuner.fit waits for it
                self.checkpoints.delete_pending()

    # ---------------------------------------------------------------------------- trials
    def _add_trials(self) -> None:
        """Keep up to ``max_pending`` trials waiting.

        Adaptive searchers get one pending trial at a time, created only when it can start,
        so every suggestion sees the latest results; random/grid search queues ahead.
        """
        # Paused trials do not count: a scheduler holding trials at a rung (HyperBand) needs
        # new ones to fill its bracket.
        while not self._searcher_done and len(self.waiting) - len(self.paused) < self._max_pending:
            if self._max_pending == 1 and not self._has_room():
                return
            trial_id = self._namer.trial_id(len(self.trials))
            suggestion = self.bus.suggest(trial_id)
            if suggestion is None:
                return
            if suggestion == FINISHED:
                self._searcher_done = True
                return
            self._create_trial(trial_id, suggestion)

    def _has_room(self) -> bool:
        limit = self.spec.max_concurrent_trials
        if limit is not None and len(self.live) >= limit:
            return False
        return self.executor.fits_now(self._default_resources)

    @property
    def _default_resources(self):
        cached = getattr(self, "_default_res", None)
        if cached is None:
            cached = self._resources_for({}).required_resources()
            self._default_res = cached
        return cached

    def _resources_for(self, config: dict):
        request = None
        default_request = getattr(self.spec.trainable, "default_resource_request", None)
        if default_request is not None:
            request = default_request(config)
        return to_placement_group_factory(request if request is not None else {"CPU": 1})

    def _create_trial(self, trial_id: str, config: dict) -> Trial:
        from tune.search.variant_generator import evaluated_params, format_vars

        spec = self.spec
        params = evaluated_params(spec.param_space, config)
        index = len(self.trials)
        tag = f"{index}_{format_vars(params)}" if params else str(index)
        trial = Trial(
            trial_id,
            config,
            trainable_name=spec.trainable_name,
            experiment_tag=tag,
            evaluated_params=params,
            placement_group_factory=self._resources_for(config),
            experiment_path=spec.experiment_dir,
            stopping_criterion=spec.stop_criteria,
        )
        trial._restore_listener = self.clone_pins.pin
        trial.custom_trial_name = self._namer.custom_name(trial)
        trial.path = os.path.join(spec.experiment_dir, self._namer.dirname(trial))
        self.trials.append(trial)
        self._by_id[trial_id] = trial
        self.bus.scheduler_on_add(trial)
        self.recorder.trial_created(trial)
        if not self._fail_if_never_fits(trial):
            self.waiting[trial_id] = trial
        return trial

    def _fail_if_never_fits(self, trial: Trial) -> bool:
        """End a trial whose request exceeds everything the executor has (also one a
        scheduler resized, e.g. ResourceChangingScheduler) in ERROR; True if it did."""
        if self.executor.fits_ever(trial.resources):
            return False
        self._failures.fail_unschedulable(
            trial,
            InsufficientResourcesError(
                f"Trial {trial} requests {dict(trial.resources)} but the "
                f"{self.executor.name} executor only has "
                f"{dict(self.executor.total_resources())}: it can never run. Lower the "
                "request (tune.with_resources, or the scheduler that resized it) or add "
                "resources."
            ),
        )
        return True

    def _start_trials(self) -> None:
        limit = self.spec.max_concurrent_trials
        if self.waiting:
            for trial in self.bus.scheduler_trials_to_stop(list(self.waiting.values())):
                if trial.trial_id in self.waiting:
                    self._results.terminate_trial(trial)
        while self.waiting:
            if limit is not None and len(self.live) >= limit:
                return
            trial = self.bus.choose_trial_to_run(list(self.waiting.values()))
            if trial is None:
                return
            if trial.resources_changed and self._fail_if_never_fits(trial):
                continue
            if not self.executor.fits_now(trial.resources):
                return
            self._launch(trial)

    def _launch(self, trial: Trial) -> None:
        spec = self.spec
        del self.waiting[trial.trial_id]
        self.paused.discard(trial.trial_id)
        os.makedirs(trial.path, exist_ok=True)
        restore = self.restore_from.pop(trial.trial_id, None)
        if trial.pending_restore:
            # Like Ray Tune, the clone's latest checkpoint is now the one it starts from: a
            # retry or a restore before it saves its own starts there too (it stays pinned).
            restore, trial.pending_restore = trial.pending_restore, None
            from tune.trainable.checkpoint import Checkpoint

            trial.checkpoint = Checkpoint(restore)
            self.clone_pins.launched(trial.trial_id)
        if trial.reconfigured:
            self.recorder.trial_changed(trial, len(self.trials))
        if trial.status != PAUSED and (trial.num_failures or trial.trial_id in self._resumed):
            # A retried or restored trial re-reports what came after its checkpoint.
            truncate_history(trial.path, checkpoint_iteration(restore))
        out, err = spec.log_files
        self.executor.launch(
            TrialLaunch(
                trial_id=trial.trial_id,
                trial_name=str(trial),
                trainable=spec.trainable,
                config=trial.config,
                trial_dir=trial.path,
                experiment_dir=spec.experiment_dir,
                resources=trial.resources,
                bundles=[dict(b) for b in trial.placement_group_factory.bundles],
                restore_checkpoint=restore,
                sync_results=self.sync,
                stop_criteria=spec.stop_criteria,
                checkpoint_frequency=spec.checkpoint_frequency,
                checkpoint_at_end=spec.checkpoint_at_end,
                reuse_actors=spec.reuse_actors,
                experiment_name=spec.experiment_name,
                experiment_tag=trial.experiment_tag,
                stdout_file=os.path.join(trial.path, out) if out else None,
                stderr_file=os.path.join(trial.path, err) if err else None,
                resources_changed=trial.resources_changed,
            )
        )
        trial.resources_changed = False
        self.live[trial.trial_id] = trial
        self.timeouts.launched(trial.trial_id)
        if trial.status == PAUSED:
            self.bus.searcher_on_unpause(trial.trial_id)
        resumed = trial.status == PAUSED or restore is not None or trial.num_failures > 0
        trial.status = RUNNING
        trial.start_time = trial.start_time or time.time()
        if resumed:
            self.bus.on_trial_restore(self._iteration, self.trials, trial)
        else:
            self.bus.on_trial_start(self._iteration, self.trials, trial)

    def adopt(self, trials: list[Trial], resume: dict[str, str | None]) -> None:
        """Take over restored trials; those in ``resume`` wait to run from their checkpoint."""
        for trial in trials:
            self.trials.append(trial)
            self._by_id[trial.trial_id] = trial
            if not trial.reconfigured:  # a scheduler's resource change is in the record
                trial.placement_group_factory = self._resources_for(trial.config)
            trial._restore_listener = self.clone_pins.pin
            if trial.pending_restore:
                self.clone_pins.pin(trial, trial.pending_restore)
            elif trial.checkpoint is not None and not trial.is_finished:
                # A clone that has not saved a checkpoint of its own yet.
                owner = self.checkpoints.owner_of(trial.checkpoint.path)
                if owner is not None and owner != trial.trial_id:
                    self.clone_pins.pin(trial, trial.checkpoint.path)
            if trial.trial_id in resume:
                self._resumed.add(trial.trial_id)
                if resume[trial.trial_id]:
                    self.restore_from[trial.trial_id] = resume[trial.trial_id]
                self.waiting[trial.trial_id] = trial

    def requeue(self, trial: Trial, checkpoint_path: str | None) -> None:
        """Put a trial back in line, to start again from ``checkpoint_path`` (or scratch)."""
        self.live.pop(trial.trial_id, None)
        self.timeouts.ended(trial.trial_id)
        self.stopping.pop(trial.trial_id, None)
        if checkpoint_path:
            self.restore_from[trial.trial_id] = checkpoint_path
        trial.status = PENDING
        self.waiting[trial.trial_id] = trial

    def end_trial(self, trial: Trial, status: str) -> None:
        """Take a trial out of the live set with its final status."""
        self.clone_pins.release(trial.trial_id)
        self.live.pop(trial.trial_id, None)
        self.timeouts.ended(trial.trial_id)
        self.stopping.pop(trial.trial_id, None)
        self.waiting.pop(trial.trial_id, None)
        self.paused.discard(trial.trial_id)
        trial.status = status
        trial.end_time = time.time()
        trial.freeze_stats()
        if self.spec.storage is not None and trial.path:
            self.spec.storage.sync_trial_dir(trial.path)

    @property
    def iteration(self) -> int:
        return self._iteration
