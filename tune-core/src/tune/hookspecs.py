"""Hook specifications: every contract between the tune core and its plugins.

This module is the reference documentation of the plugin API (docs/hooks.md is generated
from it and a test keeps the two in step). Hooks are grouped by role. One pluggy
``PluginManager`` per experiment is the experiment's bus: the searcher, the scheduler, the
stoppers, the callbacks, the loggers and the progress reporter are registered on it and the
controller only ever talks to them through these hooks. Plugins receive trials and results,
never the controller.

A ``Trial`` passed to a hook is the live ``tune.trial.Trial`` record: read its attributes
(``trial_id``, ``config``, ``status``, ``last_result``, ``path``, ...) but do not change them,
except where a hook says so.

"first result wins" marks hooks declared with ``firstresult=True``: pluggy stops at the first
implementation that returns something other than ``None``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from tune.plugins import Registry
    from tune.trial import Trial

hookspec = pluggy.HookspecMarker("tune")

# ---------------------------------------------------------------------------------------------
# Registration (process-wide plugin manager, loaded from entry points)
# ---------------------------------------------------------------------------------------------


@hookspec
def tune_register(registry: Registry) -> None:
    """Register what this plugin provides, by kind and short name, as lazy import strings.

    Called once per process on the global plugin manager, for every plugin found through the
    ``tune.plugins`` entry point group. Register ``"module:attr"`` strings so that nothing
    heavy is imported until the name is used::

        @tune.hookimpl
        def tune_register(registry):
            registry.add_searcher("optuna", "tune_search.optuna:OptunaSearch")
            registry.add_scheduler("asha", "tune_schedulers.asha:ASHAScheduler",
                                   class_names=["ASHAScheduler", "AsyncHyperBandScheduler"])

    :param registry: the ``tune.plugins.Registry``; its ``add_*`` methods take a short name,
        the import string and optionally ``class_names`` (so ``from tune.schedulers import X``
        resolves) and ``extra`` (the pip requirement that provides optional dependencies).
    """


@hookspec(firstresult=True)
def tune_make_trainable(obj: Any) -> Any:
    """Turn a user object into a ``tune.Trainable`` subclass, or return ``None`` to pass.

    The core implements this for plain functions (function API) and ``Trainable`` subclasses.
    A plugin can teach tune a new kind of trainable (say, a framework's trainer object).
    First result wins.

    :param obj: what the user passed as trainable to ``Tuner`` or ``tune.run``.
    :return: a ``tune.Trainable`` subclass, or ``None`` when this plugin does not handle ``obj``.
    """


# ---------------------------------------------------------------------------------------------
# Searcher: one per experiment
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def tune_searcher_configure(
    metric: str | list[str] | None, mode: str | list[str] | None, config: dict, spec: dict
) -> bool | None:
    """Pass the experiment's metric, mode and search space to the searcher before it suggests.

    Mirrors Ray Tune's ``Searcher.set_search_properties``. First result wins.

    :param metric: the metric to optimize (from ``TuneConfig``), or ``None``.
    :param mode: ``"min"`` or ``"max"``, or ``None``.
    :param config: the ``param_space`` as given by the user (typed domains, ``grid_search``).
    :param spec: further experiment settings, ``{"num_samples": int, "time_budget_s": ...}``.
    :return: ``True`` if the searcher accepted the properties, ``False`` if it was already set
        up with its own (then the searcher's own win).
    """


@hookspec(firstresult=True)
def tune_suggest(trial_id: str) -> dict | str | None:
    """Return the configuration for a new trial.

    First result wins.

    :param trial_id: the id the new trial will have.
    :return: a resolved config dict; ``None`` if no suggestion is available right now (ask
        again later, e.g. concurrency limited); or the string ``"FINISHED"`` when the searcher
        will never suggest again.
    """


@hookspec
def tune_searcher_on_trial_result(trial_id: str, result: dict) -> None:
    """An intermediate result of a trial the searcher suggested.

    :param trial_id: the trial's id.
    :param result: the result dict, auto-filled fields included.
    """


@hookspec
def tune_searcher_on_trial_complete(trial_id: str, result: dict | None, error: bool) -> None:
    """A trial the searcher suggested has ended (finished, stopped early or errored).

    :param trial_id: the trial's id.
    :param result: its last result, or ``None`` if it never reported.
    :param error: ``True`` if it ended with an error.
    """


@hookspec
def tune_searcher_on_pause(trial_id: str) -> None:
    """A suggested trial was paused by the scheduler (it may be resumed later).

    BOHB-style searchers use it to tell finished budgets from unfinished ones.

    :param trial_id: the trial's id.
    """


@hookspec
def tune_searcher_on_unpause(trial_id: str) -> None:
    """A paused trial is being resumed.

    :param trial_id: the trial's id.
    """


@hookspec(firstresult=True)
def tune_searcher_get_state() -> dict | None:
    """Return the searcher's state as a picklable object, to be saved with the experiment.

    First result wins.
    """


@hookspec(firstresult=True)
def tune_searcher_set_state(state: dict) -> bool | None:
    """Bring back the state ``tune_searcher_get_state`` returned. First result wins.

    :param state: the object ``tune_searcher_get_state`` returned.
    :return: ``True`` once restored.
    """


# ---------------------------------------------------------------------------------------------
# TrialScheduler: one per experiment
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def tune_scheduler_configure(metric: str | None, mode: str | None, spec: dict) -> bool | None:
    """Pass metric and mode to the scheduler (Ray Tune's ``set_search_properties``).

    First result wins.

    :param metric: the metric to optimize, or ``None``.
    :param mode: ``"min"`` or ``"max"``, or ``None``.
    :param spec: further experiment settings: ``num_samples``, ``time_budget_s``,
        ``searcher_class`` (the search algorithm's class, for compatibility checks),
        ``searcher_classes`` (that class and those of the searchers it wraps, e.g.
        ``(ConcurrencyLimiter, TuneBOHB)``),
        ``trainable_can_checkpoint`` (``True``/``False`` for class trainables, ``None`` for
        functions, which may or may not report checkpoints), ``checkpoint_frequency`` and
        ``total_resources`` (everything the executor can hand out, ``{"CPU": 8, ...}``).
        A scheduler that cannot work with these raises ``TuneValueError`` naming the
        conflict; the experiment then never starts.
    :return: ``True`` if accepted, ``False`` if the scheduler already had its own.
    """


@hookspec
def tune_scheduler_on_trial_add(trial: Trial) -> None:
    """A new trial was created (status PENDING).

    :param trial: the trial.
    """


@hookspec(firstresult=True)
def tune_choose_trial_to_run(trials: list[Trial]) -> Trial | None:
    """Pick the next trial to start or resume among the PENDING and PAUSED ones.

    Called whenever resources are free. First result wins.

    :param trials: the trials that are PENDING or PAUSED, in creation order.
    :return: one of ``trials``, or ``None`` to start nothing now.
    """


@hookspec(firstresult=True)
def tune_scheduler_trials_to_stop(trials: list[Trial]) -> list[Trial] | None:
    """Which waiting trials to end now, without running them again.

    Called before a trial is chosen to run. HyperBand uses it for trials that lost a halving
    round while they were paused. The returned trials end TERMINATED with the results they
    have; the scheduler then gets ``tune_scheduler_on_trial_complete`` for each. First
    result wins.

    :param trials: the trials that are PENDING or PAUSED, in creation order.
    :return: some of ``trials`` (or ``None`` / an empty list for none).
    """


@hookspec(firstresult=True)
def tune_scheduler_on_trial_result(trial: Trial, result: dict) -> str | None:
    """Decide what happens to a running trial after one of its results.

    First result wins.

    :param trial: the trial that reported.
    :param result: the result.
    :return: ``"CONTINUE"``, ``"PAUSE"`` or ``"STOP"`` (``TrialScheduler.CONTINUE`` ...).
    """


@hookspec
def tune_scheduler_on_trial_complete(trial: Trial, result: dict | None) -> None:
    """A trial finished normally or was stopped.

    :param trial: the trial.
    :param result: its last result, or ``None``.
    """


@hookspec
def tune_scheduler_on_trial_error(trial: Trial) -> None:
    """A trial errored.

    :param trial: the trial.
    """


@hookspec
def tune_scheduler_on_trial_remove(trial: Trial) -> None:
    """A trial was removed from the scheduler's consideration (stopped by something else).

    :param trial: the trial.
    """


@hookspec(firstresult=True)
def tune_scheduler_needs_every_result() -> bool | None:
    """Whether the scheduler must see each result before the trial goes on.

    ``True`` (the default for any scheduler that does not answer) makes a trial wait for the
    scheduler's decision after each result, exactly as in Ray Tune. ``False`` (FIFO) lets
    trials run ahead and send results in batches, which is much faster. First result wins.
    """


@hookspec(firstresult=True)
def tune_scheduler_get_state() -> dict | None:
    """Return the scheduler's picklable state, saved with the experiment. First result wins."""


@hookspec(firstresult=True)
def tune_scheduler_set_state(state: dict) -> bool | None:
    """Bring back what ``tune_scheduler_get_state`` returned. First result wins.

    :param state: the saved state.
    """


@hookspec(firstresult=True)
def tune_scheduler_debug_string() -> str | None:
    """A one-line description of the scheduler's state for the status table. First result wins."""


# ---------------------------------------------------------------------------------------------
# Stopper: any number per experiment; results combine with any()
# ---------------------------------------------------------------------------------------------


@hookspec
def tune_should_stop_trial(trial_id: str, result: dict) -> bool:
    """Whether this trial should stop after this result.

    All implementations are called; the trial stops if any returns ``True``.

    :param trial_id: the trial's id.
    :param result: the result it just reported.
    """


@hookspec
def tune_should_stop_all() -> bool:
    """Whether the whole experiment should stop now.

    Called after each processed batch of events; the experiment stops if any implementation
    returns ``True``.
    """


# ---------------------------------------------------------------------------------------------
# Callback: any number per experiment; all are called. Ray Tune's Callback methods.
# ``iteration`` is the controller's loop counter, ``trials`` the list of all trials.
# ---------------------------------------------------------------------------------------------


@hookspec
def tune_setup(stop: Any, num_samples: int, total_num_samples: int | None) -> None:
    """The experiment is about to start (or resume).

    :param stop: the ``RunConfig.stop`` criteria.
    :param num_samples: ``TuneConfig.num_samples``.
    :param total_num_samples: number of trials that will be created, when known.
    """


@hookspec
def tune_on_step_begin(iteration: int, trials: list[Trial]) -> None:
    """The controller's event loop starts a step.

    :param iteration: the loop counter.
    :param trials: all trials.
    """


@hookspec
def tune_on_step_end(iteration: int, trials: list[Trial]) -> None:
    """The controller's event loop ended a step.

    :param iteration: the loop counter.
    :param trials: all trials.
    """


@hookspec
def tune_on_trial_start(iteration: int, trials: list[Trial], trial: Trial) -> None:
    """A trial was started for the first time.

    :param iteration: the loop counter.
    :param trials: all trials.
    :param trial: the trial that started.
    """


@hookspec
def tune_on_trial_restore(iteration: int, trials: list[Trial], trial: Trial) -> None:
    """A trial was started again from a checkpoint (after a pause or a failure).

    :param iteration: the loop counter.
    :param trials: all trials.
    :param trial: the restored trial.
    """


@hookspec
def tune_on_trial_save(iteration: int, trials: list[Trial], trial: Trial) -> None:
    """A trial saved a checkpoint.

    :param iteration: the loop counter.
    :param trials: all trials.
    :param trial: the trial.
    """


@hookspec
def tune_on_trial_result(iteration: int, trials: list[Trial], trial: Trial, result: dict) -> None:
    """A trial reported a result (after the scheduler and stoppers saw it).

    :param iteration: the loop counter.
    :param trials: all trials.
    :param trial: the trial.
    :param result: the result, auto-filled fields included.
    """


@hookspec
def tune_on_trial_complete(iteration: int, trials: list[Trial], trial: Trial) -> None:
    """A trial ended without error (finished or stopped).

    :param iteration: the loop counter.
    :param trials: all trials.
    :param trial: the trial.
    """


@hookspec
def tune_on_trial_recover(iteration: int, trials: list[Trial], trial: Trial) -> None:
    """A trial failed and will be retried (within ``FailureConfig.max_failures``).

    :param iteration: the loop counter.
    :param trials: all trials.
    :param trial: the trial.
    """


@hookspec
def tune_on_trial_error(iteration: int, trials: list[Trial], trial: Trial) -> None:
    """A trial ended with an error and will not be retried.

    :param iteration: the loop counter.
    :param trials: all trials.
    :param trial: the trial; ``trial.error_file`` and ``trial.error_msg`` say what happened.
    """


@hookspec
def tune_on_checkpoint(iteration: int, trials: list[Trial], trial: Trial, checkpoint: Any) -> None:
    """A trial's checkpoint was persisted.

    :param iteration: the loop counter.
    :param trials: all trials.
    :param trial: the trial.
    :param checkpoint: the ``tune.Checkpoint``.
    """


@hookspec
def tune_on_experiment_end(trials: list[Trial]) -> None:
    """The experiment ended (all trials done, stopped, or interrupted).

    :param trials: all trials.
    """


@hookspec
def tune_get_state() -> tuple[str, Any] | None:
    """Return ``(key, state)`` for a stateful callback or stopper, saved with the experiment.

    All implementations are called; ``key`` must be stable across runs of the same script.
    """


@hookspec
def tune_set_state(key: str, state: Any) -> None:
    """Restore state saved under ``key`` by ``tune_get_state``; ignore other keys.

    :param key: the key given at save time.
    :param state: the saved state.
    """
