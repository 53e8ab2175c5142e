"""``TrialScheduler``, the base of every trial scheduler, and ``FIFOScheduler``, the default.

The base class carries the scheduler hookimpls, so registering an instance on an
experiment's plugin manager is all a scheduler needs; subclasses override Ray Tune's method
names (``on_trial_result``, ``choose_trial_to_run``, ...). Those methods take no controller:
plugins only ever see trials and results. Scripts written for Ray Tune, whose overrides take
a leading ``tune_controller`` (or older ``trial_runner``) argument, keep working: the base
notices the extra parameter once per class and passes ``None`` for it (for
``choose_trial_to_run``, a list of the candidate trials that also answers ``get_trials()``).
"""

from __future__ import annotations

import inspect
import weakref
from typing import TYPE_CHECKING, Any

from tune.errors import check_mode
from tune.plugins import hookimpl
from tune.trial import PAUSED, PENDING

if TYPE_CHECKING:
    from tune.trial import Trial

__all__ = ["DEFAULT_METRIC", "FIFOScheduler", "TrialScheduler"]

#: The metric a scheduler optimizes when it was given a mode but no metric (Ray Tune's name).
DEFAULT_METRIC = "_metric"

# How many positional parameters (after self) this package's signatures take; a Ray Tune
# override has one more, the controller, in front.
_OWN_ARITY = {
    "on_trial_add": 1,
    "on_trial_error": 1,
    "on_trial_result": 2,
    "on_trial_complete": 2,
    "on_trial_remove": 1,
    "choose_trial_to_run": 1,
}
_CONTROLLER_NAMES = frozenset({"tune_controller", "trial_runner"})
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

# class -> names of the methods it overrides Ray-style; computed once per class.
_compat_cache: weakref.WeakKeyDictionary[type, frozenset[str]] = weakref.WeakKeyDictionary()


def _takes_controller(func: Any, own_arity: int) -> bool:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    params = [p for p in signature.parameters.values() if p.kind in _POSITIONAL][1:]
    if not params:
        return False
    if params[0].name in _CONTROLLER_NAMES:
        return True
    required = [p for p in params if p.default is inspect.Parameter.empty]
    return len(required) == own_arity + 1


def _ray_style_methods(cls: type) -> frozenset[str]:
    cached = _compat_cache.get(cls)
    if cached is None:
        cached = frozenset(
            name
            for name, arity in _OWN_ARITY.items()
            if _takes_controller(getattr(cls, name), arity)
        )
        _compat_cache[cls] = cached
    return cached


class _TrialList(list):
    """The candidate trials, also answering ``get_trials()`` like Ray Tune's controller."""

    def get_trials(self) -> list[Trial]:
        return list(self)


class TrialScheduler:
    """Interface of trial schedulers: decides which trial runs and what happens after a result.

    Override the methods below (Ray Tune's names). The defaults do nothing, continue every
    trial and run trials first-in first-out, so a subclass overrides only what it changes.

    State: ``get_state()`` returns a shallow copy of the instance ``__dict__`` and
    ``set_state()`` updates it, which suits schedulers whose attributes are picklable;
    override both otherwise. ``save(path)``/``restore(path)`` pickle that state to a file.
    """

    CONTINUE = "CONTINUE"
    PAUSE = "PAUSE"
    STOP = "STOP"
    NOOP = "NOOP"

    _metric: str | None = None
    _mode: str | None = None
    # Ray Tune's flag: whether trials may run ahead of the scheduler's decisions and deliver
    # results in batches. Off by default because a scheduler that pauses or stops trials
    # must see every result before the trial goes on.
    _supports_buffered_results = False

    @property
    def metric(self) -> str | None:
        return self._metric

    @property
    def mode(self) -> str | None:
        return self._mode

    @property
    def supports_buffered_results(self) -> bool:
        return self._supports_buffered_results

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Take the experiment's metric and mode unless this scheduler already has its own.

        :return: ``False`` if the scheduler was constructed with a metric (or mode) and the
            experiment passes another one too, ``True`` otherwise.
        """
        check_mode(mode)
        if (self._metric and metric) or (self._mode and mode):
            return False
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        return True

    # -- Ray Tune's methods; the trailing *_ lets Ray-style super() calls that pass the
    # -- controller first go through.
    def on_trial_add(self, trial: Trial, *_: Any) -> None:
        """A new trial was added (PENDING)."""

    def on_trial_error(self, trial: Trial, *_: Any) -> None:
        """A trial errored; it will not report again."""

    def on_trial_result(self, trial: Trial, result: dict | None = None, *_: Any) -> str:
        """Decide CONTINUE, PAUSE or STOP for ``trial`` after ``result``."""
        return self.CONTINUE

    def on_trial_complete(self, trial: Trial, result: dict | None = None, *_: Any) -> None:
        """A trial finished or was stopped; ``result`` is its last result or ``None``."""

    def on_trial_remove(self, trial: Trial, *_: Any) -> None:
        """A trial was stopped by something other than this scheduler."""

    def trials_to_stop(self, trials: list[Trial]) -> list[Trial]:
        """Waiting (PENDING or PAUSED) trials to end now without running them again.

        :param trials: the PENDING and PAUSED trials in creation order.
        """
        return []

    def choose_trial_to_run(self, trials: list[Trial], *_: Any) -> Trial | None:
        """Return the trial to start or resume next: the first PENDING one, else the first PAUSED.

        :param trials: the PENDING and PAUSED trials in creation order.
        """
        if hasattr(trials, "get_trials"):
            trials = trials.get_trials()
        for trial in trials:
            if trial.status == PENDING:
                return trial
        for trial in trials:
            if trial.status == PAUSED:
                return trial
        return None

    def debug_string(self) -> str:
        """One line on the scheduler's state for the status table."""
        return f"Using {type(self).__name__} scheduling algorithm."

    # -- state --------------------------------------------------------------------------------
    def get_state(self) -> dict:
        """A picklable snapshot of the scheduler (default: a copy of the instance ``__dict__``)."""
        return dict(self.__dict__)

    def set_state(self, state: dict) -> None:
        """Bring back what ``get_state`` returned."""
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        """Pickle ``get_state()`` to ``checkpoint_path``."""
        import cloudpickle

        with open(checkpoint_path, "wb") as f:
            cloudpickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        """Load what ``save`` wrote and ``set_state`` it."""
        import pickle

        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))

    # -- hookimpls: the experiment bus calls these --------------------------------------------
    def _call(self, name: str, *args: Any) -> Any:
        method = getattr(self, name)
        if name in _ray_style_methods(type(self)):
            return method(None, *args)
        return method(*args)

    @hookimpl
    def tune_scheduler_configure(self, metric: str | None, mode: str | None, spec: dict) -> bool:
        return bool(self.set_search_properties(metric, mode, **spec))

    @hookimpl
    def tune_scheduler_on_trial_add(self, trial: Trial) -> None:
        self._call("on_trial_add", trial)

    @hookimpl
    def tune_choose_trial_to_run(self, trials: list[Trial]) -> Trial | None:
        if "choose_trial_to_run" in _ray_style_methods(type(self)):
            # Ray Tune's signature is choose_trial_to_run(self, tune_controller) and its body
            # calls tune_controller.get_trials(); the candidates answer that.
            return self.choose_trial_to_run(_TrialList(trials))
        return self.choose_trial_to_run(trials)

    @hookimpl
    def tune_scheduler_trials_to_stop(self, trials: list[Trial]) -> list[Trial]:
        return self.trials_to_stop(trials)

    @hookimpl
    def tune_scheduler_on_trial_result(self, trial: Trial, result: dict) -> str:
        return self._call("on_trial_result", trial, result)

    @hookimpl
    def tune_scheduler_on_trial_complete(self, trial: Trial, result: dict | None) -> None:
        self._call("on_trial_complete", trial, result)

    @hookimpl
    def tune_scheduler_on_trial_error(self, trial: Trial) -> None:
        self._call("on_trial_error", trial)

    @hookimpl
    def tune_scheduler_on_trial_remove(self, trial: Trial) -> None:
        self._call("on_trial_remove", trial)

    @hookimpl
    def tune_scheduler_needs_every_result(self) -> bool:
        return not self.supports_buffered_results

    @hookimpl
    def tune_scheduler_get_state(self) -> dict:
        return self.get_state()

    @hookimpl
    def tune_scheduler_set_state(self, state: dict) -> bool:
        self.set_state(state)
        return True

    @hookimpl
    def tune_scheduler_debug_string(self) -> str:
        return self.debug_string()


class FIFOScheduler(TrialScheduler):
    """Runs trials in the order they were added and lets each run until it stops by itself.

    The default scheduler. It never pauses or stops a trial, so trials may run ahead and
    deliver results in batches (unless a subclass overrides ``on_trial_result``).
    """

    def __init__(self) -> None:
        super().__init__()

    @property
    def supports_buffered_results(self) -> bool:
        # A subclass that decides something per result needs to see each one in time.
        return type(self).on_trial_result is FIFOScheduler.on_trial_result

    def debug_string(self) -> str:
        return "Using FIFO scheduling algorithm."
