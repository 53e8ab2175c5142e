"""``ResourceChangingScheduler``: change the resources of live trials while they train.

Ray Tune's utility scheduler. It wraps another scheduler (FIFO by default) and takes every
decision from it; after each result that the wrapped scheduler lets CONTINUE, it asks a
*resources allocation function* what the trial should have now. When the answer differs
from the trial's current request, the scheduler calls ``trial.update_resources(new)`` and
returns ``PAUSE``: the trial saves a checkpoint, gives its resources back and is relaunched
from that checkpoint with the new request. Class trainables then get
``Trainable.update_resources(new)`` (and ``self.trial_resources``); function trainables read
``tune.get_context().get_trial_resources()``. Function trainables should report a checkpoint
every iteration, or a resize loses the iterations since their last one.

Allocation functions are called as ``fn(context, trial, result, scheduler)``:

* ``context`` (an :class:`AllocationContext`) stands where Ray Tune passes its controller:
  ``context.get_live_trials()`` (the trials the scheduler was told about that have not ended),
  ``context.get_trials()`` and ``context.total_resources`` (everything the executor can hand
  out). Ray-written functions that call ``tune_controller.get_live_trials()`` or
  ``tune_controller._resource_updater.get_num_cpus()`` keep working.
* ``trial``: the trial that reported; ``result``: its new result (``trial.last_result`` is
  still the one before).
* ``scheduler``: the ``ResourceChangingScheduler``; ``scheduler.get_base_trial_resources(trial)``
  is what the trial originally requested (``scheduler.base_trial_resources``, Ray's name, is
  the first trial's).

It returns a ``PlacementGroupFactory`` or a resource dict, or ``None`` for no change.

Two allocation functions come with it: :class:`DistributeResources` (the default: free CPUs
and GPUs are shared evenly among live trials) and :class:`DistributeResourcesToTopJob` (the
best trial by the metric gets them all).

Differences from Ray Tune, all generalisations: trials may start from different requests
(each grows from its own; Ray requires them equal); with ``add_bundles=False`` a request of
several bundles grows its first one (Ray raises); any resource named in ``increase_by`` is
distributed, not only CPU and GPU; a request larger than the executor could ever provide is
refused with a warning instead of leaving the trial unable to restart.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

from tune.errors import check_mode, invalid_type, invalid_value
from tune.resources import PlacementGroupFactory, Resources, to_placement_group_factory
from tune.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler
from tune.trial import Trial
from tune_schedulers.resource_allocation import (
    _EPS,
    AllocationContext,
    AllocationFunction,
    DistributeResources,
    DistributeResourcesToTopJob,
)

__all__ = [
    "AllocationContext",
    "DistributeResources",
    "DistributeResourcesToTopJob",
    "ResourceChangingScheduler",
]

logger = logging.getLogger("tune")


_DEFAULT_ALLOCATION = DistributeResources()


# ---- the scheduler ---------------------------------------------------------------------------


class ResourceChangingScheduler(TrialScheduler):
    """Wrap a scheduler and resize live trials with a resources allocation function.

    Every decision comes from ``base_scheduler``. After a result it lets CONTINUE (and that is
    not the trial's last), ``resources_allocation_function(context, trial, result, self)`` is
    asked for the trial's request; a different one is applied with ``trial.update_resources``
    and the trial is paused, to resume from its checkpoint with the new resources.

    :param base_scheduler: the scheduler making the decisions (default: ``FIFOScheduler()``).
    :param resources_allocation_function: ``fn(context, trial, result, scheduler)`` returning a
        ``PlacementGroupFactory``, a resource dict or ``None`` (no change); see the module
        documentation for its arguments. Default: :class:`DistributeResources`. ``None``:
        resources never change.
    :param metric: the metric the allocation function ranks by (when it has none of its own)
        and the base scheduler uses when it has none; default: ``TuneConfig.metric``.
    :param mode: ``"min"`` or ``"max"``, likewise.
    """

    def __init__(
        self,
        base_scheduler: TrialScheduler | None = None,
        resources_allocation_function: AllocationFunction | None = _DEFAULT_ALLOCATION,
        metric: str | None = None,
        mode: str | None = None,
    ) -> None:
        if base_scheduler is not None and not isinstance(base_scheduler, TrialScheduler):
            raise invalid_type(
                "base_scheduler", base_scheduler,
                "expected a TrialScheduler such as tune_schedulers.ASHAScheduler(), or None",
            )
        if resources_allocation_function is not None and not callable(
            resources_allocation_function
        ):
            raise invalid_type(
                "resources_allocation_function", resources_allocation_function,
                "expected a callable fn(context, trial, result, scheduler) such as "
                "DistributeResources(), or None",
            )
        if metric is not None and (not isinstance(metric, str) or not metric):
            raise invalid_value("metric", metric, "must be the name of a result field")
        check_mode(mode)
        super().__init__()
        if resources_allocation_function is None:
            warnings.warn(
                "ResourceChangingScheduler(resources_allocation_function=None): no trial's "
                "resources will ever change. Pass DistributeResources() or your own function.",
                stacklevel=2,
            )
        self._base_scheduler: TrialScheduler = base_scheduler or FIFOScheduler()
        self._resources_allocation_function = resources_allocation_function
        self._metric = metric
        self._mode = mode
        self.context = AllocationContext()
        # trial_id -> the request it was created with; live trials only (saved with the state)
        self._base_resources: dict[str, PlacementGroupFactory] = {}
        self._first_base: PlacementGroupFactory | None = None
        self._num_reallocations = 0
        self._too_big_warned: set[str] = set()

    # -- what allocation functions and callers read ---------------------------------------------------
    @property
    def base_scheduler(self) -> TrialScheduler:
        return self._base_scheduler

    @property
    def resources_allocation_function(self) -> AllocationFunction | None:
        return self._resources_allocation_function

    @property
    def metric(self) -> str | None:
        return self._metric or self._base_scheduler.metric

    @property
    def mode(self) -> str | None:
        return self._mode or self._base_scheduler.mode

    @property
    def base_trial_resources(self) -> PlacementGroupFactory | None:
        """The first trial's original request (Ray Tune's name; trials may differ here)."""
        return self._first_base

    def get_base_trial_resources(self, trial: Trial) -> PlacementGroupFactory:
        """What ``trial`` requested before any resize."""
        base = self._base_resources.get(trial.trial_id)
        if base is None:
            base = self._remember_base(trial)
        return base

    @property
    def num_reallocations(self) -> int:
        """How many times a trial was paused to change its resources."""
        return self._num_reallocations

    @property
    def supports_buffered_results(self) -> bool:
        return False  # every result may resize its trial

    # -- configuration ---------------------------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Take the executor's total resources and pass metric and mode on to the base scheduler.

        :return: ``False`` when this scheduler or the base one has its own metric (or mode)
            and the experiment gives one too.
        """
        check_mode(mode)
        if (self._metric and metric) or (self._mode and mode):
            return False
        total = spec.get("total_resources")
        if total:
            self.context.total_resources = Resources(
                {k: float(v) for k, v in dict(total).items()}
            )
        ok = self._base_scheduler.set_search_properties(
            self._metric or metric, self._mode or mode, **spec
        )
        if not ok:
            return False
        if self._metric is None and metric:
            self._metric = metric
        if self._mode is None and mode:
            self._mode = mode
        function = self._resources_allocation_function
        if isinstance(function, DistributeResourcesToTopJob):
            function.resolve_metric(self)  # no metric anywhere: say so before any trial runs
        if spec.get("trainable_can_checkpoint") is False and function is not None:
            logger.warning(
                "ResourceChangingScheduler: the trainable cannot save checkpoints "
                "(save_checkpoint is not implemented), so a trial whose resources change "
                "restarts from scratch."
            )
        return True

    # -- trials ------------------------------------------------------------------------------------
    def _remember_base(self, trial: Trial) -> PlacementGroupFactory:
        base = trial.placement_group_factory
        if trial.reconfigured and self._first_base is not None:
            # A trial restored with a changed request we never saw before: its original
            # request is unknown here, the first trial's is the best guess (Ray's rule).
            base = self._first_base
        self._base_resources[trial.trial_id] = base
        if self._first_base is None:
            self._first_base = base
        return base

    def _know(self, trial: Trial) -> None:
        self.context.add(trial)
        if trial.trial_id not in self._base_resources and not trial.is_finished:
            self._remember_base(trial)

    def on_trial_add(self, trial: Trial, *_: Any) -> None:
        self._know(trial)
        self._base_scheduler.tune_scheduler_on_trial_add(trial)

    def on_trial_result(self, trial: Trial, result: dict | None = None, *_: Any) -> str:
        result = result if result is not None else {}
        self._know(trial)
        decision = self._base_scheduler.tune_scheduler_on_trial_result(trial, result)
        if decision != self.CONTINUE or result.get("done"):
            # A last result ends the trial anyway: pausing it would start it again.
            return decision
        new = self.reallocate_trial_resources_if_needed(trial, result)
        if new is None:
            return decision
        logger.info(
            "ResourceChangingScheduler: trial %s changes resources %s -> %s",
            trial, [dict(b) for b in trial.placement_group_factory.bundles],
            [dict(b) for b in new.bundles],
        )
        trial.update_resources(new)
        self._num_reallocations += 1
        return self.PAUSE

    def _ended(self, trial: Trial) -> None:
        self.context.discard(trial)
        self._base_resources.pop(trial.trial_id, None)
        self._too_big_warned.discard(trial.trial_id)

    def on_trial_complete(self, trial: Trial, result: dict | None = None, *_: Any) -> None:
        self._ended(trial)
        self._base_scheduler.tune_scheduler_on_trial_complete(trial, result)

    def on_trial_error(self, trial: Trial, *_: Any) -> None:
        self._ended(trial)
        self._base_scheduler.tune_scheduler_on_trial_error(trial)

    def on_trial_remove(self, trial: Trial, *_: Any) -> None:
        self._ended(trial)
        self._base_scheduler.tune_scheduler_on_trial_remove(trial)

    def choose_trial_to_run(self, trials: list[Trial], *_: Any) -> Trial | None:
        if hasattr(trials, "get_trials"):
            trials = trials.get_trials()
        # After a restore the waiting trials are new objects the scheduler was not told about.
        for trial in trials:
            self._know(trial)
        return self._base_scheduler.tune_choose_trial_to_run(list(trials))

    def trials_to_stop(self, trials: list[Trial]) -> list[Trial]:
        return self._base_scheduler.tune_scheduler_trials_to_stop(trials)

    # -- reallocation -----------------------------------------------------------------------------
    def reallocate_trial_resources_if_needed(
        self, trial: Trial, result: dict
    ) -> PlacementGroupFactory | None:
        """Ask the allocation function; its answer if it differs from the trial's request
        and could ever fit on the executor, else ``None``."""
        function = self._resources_allocation_function
        if function is None:
            return None
        answer = function(self.context, trial, result, self)
        if answer is None:
            return None
        if not isinstance(answer, (PlacementGroupFactory, Mapping)):
            raise invalid_type(
                "resources_allocation_function's return value", answer,
                "expected a PlacementGroupFactory, a resource dict or None",
            )
        new = to_placement_group_factory(answer, "resources_allocation_function's return value")
        if new.bundles == trial.placement_group_factory.bundles:
            return None
        total = self.context.total_resources
        if total:
            needed = new.required_resources()
            missing = {k: v for k, v in needed.items() if total.get(k, 0.0) + _EPS < v}
            if missing:
                # The trial could never restart with it: keep it running as it is.
                if trial.trial_id not in self._too_big_warned:
                    self._too_big_warned.add(trial.trial_id)
                    logger.warning(
                        "ResourceChangingScheduler: ignoring the new request %s for trial %s: "
                        "the executor only has %s.", dict(needed), trial, dict(total),
                    )
                return None
        return new

    def debug_string(self) -> str:
        return f"(ResourceChangingScheduler) {self._base_scheduler.debug_string()}"

    # -- state ---------------------------------------------------------------------------------
    def get_state(self) -> dict:
        """The base scheduler's state and the trials' original requests (no Trial objects:
        those hold the controller's hooks and come back as fresh objects after a restore)."""
        return {
            "base_scheduler": self._base_scheduler.get_state(),
            "base_resources": dict(self._base_resources),
            "first_base": self._first_base,
            "num_reallocations": self._num_reallocations,
            "total_resources": dict(self.context.total_resources),
            "metric": self._metric,
            "mode": self._mode,
        }

    def __getstate__(self) -> dict:
        # Pickling the scheduler itself (Tuner.restore saves the TuneConfig) must not take
        # the trials along: they hold the controller's hooks.
        state = dict(self.__dict__)
        state["context"] = AllocationContext(total_resources=self.context.total_resources)
        return state

    def set_state(self, state: dict) -> None:
        self._base_scheduler.set_state(state["base_scheduler"])
        self._base_resources.update(state.get("base_resources") or {})
        if state.get("first_base") is not None:
            self._first_base = state["first_base"]
        self._num_reallocations = state.get("num_reallocations", 0)
        if not self.context.total_resources and state.get("total_resources"):
            # The configured total (this run's executor) wins over the saved one.
            self.context.total_resources = Resources(state["total_resources"])
        self._metric = self._metric or state.get("metric")
        self._mode = self._mode or state.get("mode")
