"""The experiment bus: a typed facade over one experiment's pluggy ``PluginManager``.

The searcher, the scheduler, the stoppers, the callbacks and the reporter are registered on
one manager; the controller calls them only through this class, so every call site is typed
and hooks without implementations cost nothing on the hot path.
"""

from __future__ import annotations

import itertools
from typing import Any

import pluggy

from tune.trial import Trial

FINISHED = "FINISHED"
CONTINUE = "CONTINUE"


class ExperimentBus:
    """Typed calls into the hooks of one experiment's plugin manager."""

    def __init__(self, pm: pluggy.PluginManager | None = None) -> None:
        if pm is None:
            from tune.plugins import get_plugin_manager

            pm = get_plugin_manager()
        self.pm = pm
        self.hook = pm.hook
        self._ids = itertools.count()
        self._active: dict[str, bool] = {}
        self._callers: dict[str, Any] = {}

    # -- registration -------------------------------------------------------------------------
    def register(self, obj: Any, role: str) -> None:
        """Put ``obj`` (searcher, scheduler, stopper, callback, reporter) on the bus."""
        self.pm.register(obj, name=f"{role}-{next(self._ids)}-{type(obj).__name__}")
        self._active.clear()
        self._callers.clear()

    def _fast(self, name: str, firstresult: bool = False) -> Any:
        """A caller for a per-result hook that skips pluggy's generic machinery.

        Same semantics as ``pm.hook.<name>(**kwargs)`` when no implementation is a wrapper
        (then pluggy itself is used): implementations in pluggy's order, each given only
        the arguments it declares; ``firstresult`` stops at the first non-None answer.
        """
        caller = self._callers.get(name)
        if caller is not None:
            return caller
        hook = getattr(self.hook, name)
        impls = hook.get_hookimpls()
        if any(i.hookwrapper or i.wrapper for i in impls):
            caller = hook
        else:
            funcs = [(i.function, tuple(i.argnames)) for i in reversed(impls)]
            if firstresult:

                def caller(**kwargs: Any) -> Any:
                    for function, names in funcs:
                        answer = function(*[kwargs[n] for n in names])
                        if answer is not None:
                            return answer
                    return None
            else:

                def caller(**kwargs: Any) -> Any:
                    answers = []
                    for function, names in funcs:
                        answer = function(*[kwargs[n] for n in names])
                        if answer is not None:
                            answers.append(answer)
                    return answers

        self._callers[name] = caller
        return caller

    def _has(self, name: str) -> bool:
        active = self._active.get(name)
        if active is None:
            active = bool(getattr(self.hook, name).get_hookimpls())
            self._active[name] = active
        return active

    # -- searcher ------------------------------------------------------------------------------
    def searcher_configure(self, metric: Any, mode: Any, config: dict, spec: dict) -> bool | None:
        return self.hook.tune_searcher_configure(metric=metric, mode=mode, config=config, spec=spec)

    def suggest(self, trial_id: str) -> dict | str | None:
        return self.hook.tune_suggest(trial_id=trial_id)

    def searcher_on_result(self, trial_id: str, result: dict) -> None:
        if self._has("tune_searcher_on_trial_result"):
            self._fast("tune_searcher_on_trial_result")(trial_id=trial_id, result=result)

    def searcher_on_complete(self, trial_id: str, result: dict | None, error: bool) -> None:
        self.hook.tune_searcher_on_trial_complete(trial_id=trial_id, result=result, error=error)

    def searcher_on_pause(self, trial_id: str) -> None:
        self.hook.tune_searcher_on_pause(trial_id=trial_id)

    def searcher_on_unpause(self, trial_id: str) -> None:
        self.hook.tune_searcher_on_unpause(trial_id=trial_id)

    def searcher_get_state(self) -> Any:
        return self.hook.tune_searcher_get_state()

    def searcher_set_state(self, state: Any) -> None:
        self.hook.tune_searcher_set_state(state=state)

    # -- scheduler -----------------------------------------------------------------------------
    def scheduler_configure(self, metric: Any, mode: Any, spec: dict) -> bool | None:
        return self.hook.tune_scheduler_configure(metric=metric, mode=mode, spec=spec)

    def scheduler_on_add(self, trial: Trial) -> None:
        self.hook.tune_scheduler_on_trial_add(trial=trial)

    def choose_trial_to_run(self, trials: list[Trial]) -> Trial | None:
        return self.hook.tune_choose_trial_to_run(trials=trials)

    def scheduler_trials_to_stop(self, trials: list[Trial]) -> list[Trial]:
        return self.hook.tune_scheduler_trials_to_stop(trials=trials) or []

    def scheduler_on_result(self, trial: Trial, result: dict) -> str:
        caller = self._fast("tune_scheduler_on_trial_result", firstresult=True)
        return caller(trial=trial, result=result) or CONTINUE

    def scheduler_on_complete(self, trial: Trial, result: dict | None) -> None:
        self.hook.tune_scheduler_on_trial_complete(trial=trial, result=result)

    def scheduler_on_error(self, trial: Trial) -> None:
        self.hook.tune_scheduler_on_trial_error(trial=trial)

    def scheduler_on_remove(self, trial: Trial) -> None:
        self.hook.tune_scheduler_on_trial_remove(trial=trial)

    def scheduler_needs_every_result(self) -> bool:
        answer = self.hook.tune_scheduler_needs_every_result()
        return True if answer is None else bool(answer)

    def scheduler_get_state(self) -> Any:
        return self.hook.tune_scheduler_get_state()

    def scheduler_set_state(self, state: Any) -> None:
        self.hook.tune_scheduler_set_state(state=state)

    def scheduler_debug_string(self) -> str:
        return self.hook.tune_scheduler_debug_string() or ""

    # -- stoppers ------------------------------------------------------------------------------
    @property
    def has_stoppers(self) -> bool:
        return self._has("tune_should_stop_trial") or self._has("tune_should_stop_all")

    def should_stop_trial(self, trial_id: str, result: dict) -> bool:
        if not self._has("tune_should_stop_trial"):
            return False
        return any(self._fast("tune_should_stop_trial")(trial_id=trial_id, result=result))

    def should_stop_all(self) -> bool:
        if not self._has("tune_should_stop_all"):
            return False
        return any(self.hook.tune_should_stop_all())

    # -- callbacks -----------------------------------------------------------------------------
    def setup(self, stop: Any, num_samples: int, total_num_samples: int | None) -> None:
        self.hook.tune_setup(stop=stop, num_samples=num_samples, total_num_samples=total_num_samples)

    def on_step_begin(self, iteration: int, trials: list[Trial]) -> None:
        if self._has("tune_on_step_begin"):
            self.hook.tune_on_step_begin(iteration=iteration, trials=trials)

    def on_step_end(self, iteration: int, trials: list[Trial]) -> None:
        if self._has("tune_on_step_end"):
            self._fast("tune_on_step_end")(iteration=iteration, trials=trials)

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.hook.tune_on_trial_start(iteration=iteration, trials=trials, trial=trial)

    def on_trial_restore(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.hook.tune_on_trial_restore(iteration=iteration, trials=trials, trial=trial)

    def on_trial_save(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.hook.tune_on_trial_save(iteration=iteration, trials=trials, trial=trial)

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict) -> None:
        if self._has("tune_on_trial_result"):
            self._fast("tune_on_trial_result")(
                iteration=iteration, trials=trials, trial=trial, result=result
            )

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.hook.tune_on_trial_complete(iteration=iteration, trials=trials, trial=trial)

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.hook.tune_on_trial_recover(iteration=iteration, trials=trials, trial=trial)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.hook.tune_on_trial_error(iteration=iteration, trials=trials, trial=trial)

    def on_checkpoint(self, iteration: int, trials: list[Trial], trial: Trial, checkpoint: Any) -> None:
        if self._has("tune_on_checkpoint"):
            self.hook.tune_on_checkpoint(
                iteration=iteration, trials=trials, trial=trial, checkpoint=checkpoint
            )

    def on_experiment_end(self, trials: list[Trial]) -> None:
        self.hook.tune_on_experiment_end(trials=trials)

    def get_states(self) -> dict[str, Any]:
        """``{key: state}`` of every stateful callback and stopper."""
        return {k: v for k, v in (p for p in self.hook.tune_get_state() if p)}

    def set_states(self, states: dict[str, Any]) -> None:
        for key, state in states.items():
            self.hook.tune_set_state(key=key, state=state)
