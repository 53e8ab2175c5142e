"""The controller: the event loop that turns suggestions into trials and results into decisions.

It asks the searcher for configs, the scheduler which trial to run and what to do after each
result, the stoppers whether to stop, and the executor what happened; it owns the trials'
state. Everything it says to plugins goes through the ``ExperimentBus``. Trial failures are
handled in ``tune.failures``; the state file in ``tune.experiment_state``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from tune import env
from tune.bus import FINISHED, ExperimentBus
from tune.errors import InsufficientResourcesError, MetricNotReportedError, TuneError
from tune.execution.executor import (
    CHECKPOINT_KEY,
    CONTINUE,
    PAUSE,
    STOP,
    Executor,
    TrialCompleted,
    TrialFailed,
    TrialLaunch,
    TrialResults,
    TrialStarted,
)
from tune.experiment import TrialNamer
from tune.experiment_recorder import ExperimentRecorder
from tune.failures import FailureHandler
from tune.loop_warnings import LoopWarnings
from tune.resources import to_placement_group_factory
from tune.restore import RestoredExperiment, adopt_restored
from tune.trial import PAUSED, PENDING, RUNNING, TERMINATED, Trial
from tune.trial_history import checkpoint_iteration, truncate_history


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
        self._waiting: dict[str, Trial] = {}  # PENDING or PAUSED, in creation order
        self._live: dict[str, Trial] = {}  # launched and not yet ended
        self._stopping: dict[str, str] = {}  # trial_id -> STOP / PAUSE requested
        self._restore_from: dict[str, str] = {}
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
        self._interrupts = None
        self._paused_all = False
        self._searcher_done = False
        self._stop_all = False
        self._iteration = 0
        self._strict = spec.metric is not None and not env.flag(
            "TUNE_DISABLE_STRICT_METRIC_CHECKING"
        )
        self._sync = True
        self._start_time = time.monotonic()
        self._error: BaseException | None = None
        self._max_pending = max_pending_trials(spec.adaptive_searcher)
        self._warnings = LoopWarnings()

    # ---------------------------------------------------------------------------- life cycle
    def run(self, interrupts: Any = None) -> list[Trial]:
        """Run to the end; ``interrupts`` is an ``InterruptHandler`` whose flag stops the run."""
        self._interrupts = interrupts
        spec = self.spec
        self._sync = self.bus.scheduler_needs_every_result() or self.bus.has_stoppers
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
        if not self._stop_all:
            self._add_trials()
            self._start_trials()
        events = self.executor.poll(self._poll_timeout())
        busy_since = time.monotonic()
        for event in events:
            trial = self._by_id.get(event.trial_id)
            if trial is None or trial.trial_id not in self._live:
                continue
            if isinstance(event, TrialResults):
                self._on_results(trial, event.results)
            elif isinstance(event, TrialCompleted):
                self._on_completed(trial, event)
            elif isinstance(event, TrialFailed):
                self._failures.on_failed(trial, event)
            elif isinstance(event, TrialStarted):
                trial.start_time = trial.start_time or time.time()
        self._check_interrupt()
        self._check_global_stop()
        self.bus.on_step_end(self._iteration, self.trials)
        self._warnings.check(busy_since, len(events), bool(self._waiting) and not self._live)
        self.recorder.end_of_step(self.trials)

    def _finished(self) -> bool:
        if self._live:
            return False
        if self._stop_all or self.interrupted:
            return True
        return self._searcher_done and not self._waiting

    def _poll_timeout(self) -> float:
        if not self._live:
            # Nothing runs: either work is about to start, or the scheduler/searcher is
            # holding back; a short wait avoids spinning.
            return 0.0 if not self._waiting else 0.05
        timeout = 0.5
        if self.spec.time_budget_s is not None:
            left = self.spec.time_budget_s - (time.monotonic() - self._start_time)
            timeout = max(0.0, min(timeout, left))
        return timeout

    def _check_global_stop(self) -> None:
        if self._stop_all:
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
        self._stop_all = True
        decision = PAUSE if pause else STOP
        for trial_id in list(self._live):
            if self._stopping.get(trial_id) != decision:
                self._stopping[trial_id] = decision
                self.executor.stop(trial_id, save_checkpoint=pause)

    @property
    def interrupted(self) -> bool:
        return self._interrupts is not None and self._interrupts.requested

    def _check_interrupt(self) -> None:
        if self.interrupted and not self._paused_all:
            self._paused_all = True
            self.stop_experiment(pause=True)

    def _shutdown(self) -> None:
        try:
            self.executor.shutdown()
        finally:
            # Trials still live after an error stay RUNNING in the record: a restore resumes them.
            self._live.clear()
            try:
                self.bus.on_experiment_end(self.trials)
            finally:
                self.recorder.close(self.trials)

    # ---------------------------------------------------------------------------- trials
    def _add_trials(self) -> None:
        """Keep up to ``max_pending`` trials waiting.

        Adaptive searchers get one pending trial at a time, created only when it can start,
        so every suggestion sees the latest results; random/grid search queues ahead.
        """
        while not self._searcher_done and len(self._waiting) < self._max_pending:
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
        if limit is not None and len(self._live) >= limit:
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
        trial.custom_trial_name = self._namer.custom_name(trial)
        trial.path = os.path.join(spec.experiment_dir, self._namer.dirname(trial))
        self.trials.append(trial)
        self._by_id[trial_id] = trial
        self.bus.scheduler_on_add(trial)
        self.recorder.trial_created(trial)
        if not self.executor.fits_ever(trial.resources):
            self._failures.fail_unschedulable(
                trial,
                InsufficientResourcesError(
                    f"Trial {trial} requests {dict(trial.resources)} but the "
                    f"{self.executor.name} executor only has "
                    f"{dict(self.executor.total_resources())}: it can never run. Lower the "
                    "request (tune.with_resources) or add resources."
                ),
            )
            return trial
        self._waiting[trial_id] = trial
        return trial

    def _start_trials(self) -> None:
        limit = self.spec.max_concurrent_trials
        while self._waiting:
            if limit is not None and len(self._live) >= limit:
                return
            trial = self.bus.choose_trial_to_run(list(self._waiting.values()))
            if trial is None or not self.executor.fits_now(trial.resources):
                return
            self._launch(trial)

    def _launch(self, trial: Trial) -> None:
        spec = self.spec
        del self._waiting[trial.trial_id]
        os.makedirs(trial.path, exist_ok=True)
        restore = self._restore_from.pop(trial.trial_id, None)
        if trial.status != PAUSED:
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
                sync_results=self._sync,
                stop_criteria=spec.stop_criteria,
                checkpoint_frequency=spec.checkpoint_frequency,
                checkpoint_at_end=spec.checkpoint_at_end,
                reuse_actors=spec.reuse_actors,
                experiment_name=spec.experiment_name,
                experiment_tag=trial.experiment_tag,
                stdout_file=os.path.join(trial.path, out) if out else None,
                stderr_file=os.path.join(trial.path, err) if err else None,
            )
        )
        self._live[trial.trial_id] = trial
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
            if trial.trial_id in resume:
                if resume[trial.trial_id]:
                    self._restore_from[trial.trial_id] = resume[trial.trial_id]
                self._waiting[trial.trial_id] = trial

    def requeue(self, trial: Trial, checkpoint_path: str | None) -> None:
        """Put a trial back in line, to start again from ``checkpoint_path`` (or scratch)."""
        self._live.pop(trial.trial_id, None)
        self._stopping.pop(trial.trial_id, None)
        if checkpoint_path:
            self._restore_from[trial.trial_id] = checkpoint_path
        trial.status = PENDING
        self._waiting[trial.trial_id] = trial

    def end_trial(self, trial: Trial, status: str) -> None:
        """Take a trial out of the live set with its final status."""
        self._live.pop(trial.trial_id, None)
        self._stopping.pop(trial.trial_id, None)
        self._waiting.pop(trial.trial_id, None)
        trial.status = status
        trial.end_time = time.time()

    # ---------------------------------------------------------------------------- results
    def _on_results(self, trial: Trial, results: list[dict]) -> None:
        trial_id = trial.trial_id
        stopping = self._stopping.get(trial_id)
        if stopping is not None:
            if stopping == PAUSE:
                # Results a run-ahead trial reported before the pause reached it are part of
                # the state its pause checkpoint holds: keep them in its history.
                for result in results:
                    self._process_result(trial, result)
            if self._sync:
                self.executor.decide(trial_id, stopping)
            return
        decision = CONTINUE
        for result in results:
            decision = self._process_result(trial, result)
            if decision != CONTINUE:
                break
        if decision != CONTINUE:
            self._stopping[trial_id] = decision
            if not self._sync:
                self.executor.stop(trial_id, save_checkpoint=decision == PAUSE)
        if self._sync:
            self.executor.decide(trial_id, decision)

    def _process_result(self, trial: Trial, result: dict) -> str:
        spec = self.spec
        if self._strict and spec.metric not in result:
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
            self.recorder.trial_checkpointed(trial)
            self.bus.on_trial_save(self._iteration, self.trials, trial)
            self.bus.on_checkpoint(self._iteration, self.trials, trial, trial.checkpoint)
        decision = STOP if self._meets_stop_criteria(result) else CONTINUE
        if decision == CONTINUE:
            decision = self.bus.scheduler_on_result(trial, result)
        if decision == CONTINUE and self.bus.should_stop_trial(trial.trial_id, result):
            decision = STOP
        trial.update_last_result(result)
        self.bus.searcher_on_result(trial.trial_id, result)
        self.bus.on_trial_result(self._iteration, self.trials, trial, result)
        return decision

    def _meets_stop_criteria(self, result: dict) -> bool:
        for key, threshold in self.spec.stop_criteria.items():
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

    def _on_completed(self, trial: Trial, event: TrialCompleted) -> None:
        decision = self._stopping.get(trial.trial_id)
        if event.checkpoint_dir:
            from tune.trainable.checkpoint import Checkpoint

            trial.checkpoint = Checkpoint(event.checkpoint_dir)
            self.recorder.trial_checkpointed(trial)
            self.bus.on_trial_save(self._iteration, self.trials, trial)
            self.bus.on_checkpoint(self._iteration, self.trials, trial, trial.checkpoint)
        if decision == PAUSE:
            self._live.pop(trial.trial_id, None)
            self._stopping.pop(trial.trial_id, None)
            if trial.checkpoint is not None:
                self._restore_from[trial.trial_id] = trial.checkpoint.path
            trial.status = PAUSED
            self._waiting[trial.trial_id] = trial
            self.recorder.trial_changed(trial, len(self.trials))
            return
        self.end_trial(trial, TERMINATED)
        if trial.last_result:
            trial.last_result["done"] = True
        result = trial.last_result or None
        self.bus.searcher_on_complete(trial.trial_id, result, False)
        if self._stop_all and decision is not None and decision != STOP:
            self.bus.scheduler_on_remove(trial)
        else:
            self.bus.scheduler_on_complete(trial, result)
        self.bus.on_trial_complete(self._iteration, self.trials, trial)
        self.recorder.trial_changed(trial, len(self.trials))

    @property
    def iteration(self) -> int:
        return self._iteration
