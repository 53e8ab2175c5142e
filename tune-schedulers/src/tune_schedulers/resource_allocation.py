"""How ``ResourceChangingScheduler`` decides a trial's resources: the allocation functions.

``DistributeResources`` (free CPUs and GPUs shared evenly among live trials) and
``DistributeResourcesToTopJob`` (the best trial by the metric gets them all), with Ray
Tune's arguments, and ``AllocationContext``, which allocation functions get where Ray Tune
passes its controller. See ``tune_schedulers.resource_changing_scheduler`` for the
signature every allocation function has.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from tune.errors import TuneValueError, check_mode, invalid_type, invalid_value
from tune.resources import PlacementGroupFactory, Resources, to_placement_group_factory
from tune.trial import ERROR, TERMINATED, Trial

__all__ = ["AllocationContext", "DistributeResources", "DistributeResourcesToTopJob"]

logger = logging.getLogger("tune")

# Slack for float comparisons (fractional GPUs: 0.1 * 3 is not 0.3).
_EPS = 1e-9
_FINISHED = (TERMINATED, ERROR)

ResourceRequest = PlacementGroupFactory | Mapping[str, float]
AllocationFunction = Callable[
    ["AllocationContext", Trial, dict, Any], ResourceRequest | None
]


# ---- what allocation functions get instead of a controller ---------------------------------


class _ResourceUpdater:
    """Ray Tune's ``tune_controller._resource_updater``: total CPUs and GPUs."""

    def __init__(self, context: AllocationContext) -> None:
        self._context = context

    def get_num_cpus(self) -> float:
        return self._context.total_resources.get("CPU", 0.0)

    def get_num_gpus(self) -> float:
        return self._context.total_resources.get("GPU", 0.0)


class _TrialExecutor:
    """Ray Tune's older ``trial_runner.trial_executor``, for its ``_resource_updater``."""

    def __init__(self, context: AllocationContext) -> None:
        self._resource_updater = _ResourceUpdater(context)


class AllocationContext:
    """The first argument of allocation functions, where Ray Tune passes its controller.

    Schedulers never get the controller; this answers what allocation functions need from it.
    ``ResourceChangingScheduler`` keeps one (``scheduler.context``); tests and custom callers
    may build their own from a list of trials and the executor's total resources.

    :param trials: the trials known so far, in creation order (more come via ``add``).
    :param total_resources: everything the executor can hand out, e.g. ``{"CPU": 8, "GPU": 1}``.
    """

    def __init__(
        self,
        trials: list[Trial] | None = None,
        total_resources: Mapping[str, float] | None = None,
    ) -> None:
        self._all: dict[str, Trial] = {}
        # Trials not known to have ended; pruned lazily from their status (a trial may end
        # without this context being told, e.g. records restored from an experiment).
        self._live: dict[str, Trial] = {}
        self.total_resources: Resources = Resources(total_resources or {})
        for trial in trials or ():
            self.add(trial)

    def add(self, trial: Trial) -> None:
        """Know ``trial`` (again): a restored experiment hands out fresh ``Trial`` objects."""
        tid = trial.trial_id
        self._all[tid] = trial
        if trial.status not in _FINISHED:
            self._live[tid] = trial
        else:
            self._live.pop(tid, None)

    def discard(self, trial: Trial) -> None:
        """``trial`` ended: it no longer counts as live."""
        self._live.pop(trial.trial_id, None)

    def get_live_trials(self) -> list[Trial]:
        """The trials that have not ended (PENDING, RUNNING, PAUSED), in creation order."""
        live = self._live
        ended = [tid for tid, t in live.items() if t.status in _FINISHED]
        for tid in ended:
            del live[tid]
        return list(live.values())

    def get_trials(self) -> list[Trial]:
        """Every trial known, ended ones included (after a restore: those seen since)."""
        return list(self._all.values())

    def get_trial(self, trial_id: str) -> Trial | None:
        return self._all.get(trial_id)

    @property
    def _resource_updater(self) -> _ResourceUpdater:
        # Ray Tune's examples call tune_controller._resource_updater.get_num_cpus().
        return _ResourceUpdater(self)

    @property
    def trial_executor(self) -> _TrialExecutor:
        return _TrialExecutor(self)


# ---- argument checks -----------------------------------------------------------------------


def _check_resources(argument: str, value: Any, *, need_positive: bool) -> Resources:
    if not isinstance(value, Mapping):
        raise invalid_type(argument, value, "expected a dict of resources like {'CPU': 1, 'GPU': 0}")
    resources = Resources.from_request(value, argument)  # numbers >= 0, canonical keys
    if need_positive and not resources:
        raise invalid_value(argument, value, "must request a positive amount of some resource")
    return resources


def _check_bool(argument: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise invalid_type(argument, value, "expected True or False")


def _lookup(result: Mapping, key: str) -> Any:
    """``result[key]``, following ``"outer/inner"`` into nested dicts."""
    if key in result:
        return result[key]
    value: Any = result
    for part in key.split("/"):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _score(result: Mapping, metric: str) -> float | None:
    value = _lookup(result, metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


# ---- allocation functions ------------------------------------------------------------------


class DistributeResources:
    """Share the free CPUs and GPUs evenly among live trials (the default allocation function).

    Resources grow in *units* (``increase_by``): every trial keeps at least its original
    request (its base) and may get up to its fair share of what the bases leave over, that is
    ``ceil(spare units / number of live trials)`` units, where spare units are how many
    ``increase_by`` fit in the total (minus ``reserve_resources``) once every live trial has its
    base. It only takes units that are free now; when more is in use than exists (new trials
    are waiting), a trial gives back what it holds beyond its base.

    :param add_bundles: add each unit as a new bundle (for trainables that start their own
        workers, one per bundle) instead of growing the first bundle.
    :param increase_by: the unit, e.g. ``{"CPU": 2, "GPU": 1}``. Default: the last bundle of
        the trial's original request with ``add_bundles``, else ``{"GPU": 1}`` if it asked for
        GPUs, else ``{"CPU": 1}``.
    :param increase_by_times: the most units a trial gets on top of its base (``<= 0``: no
        limit beyond its fair share). Applies to the default unit too.
    :param reserve_resources: resources never handed to resized trials, e.g. ``{"CPU": 1}``.

    Call: ``fn(context, trial, result, scheduler) -> PlacementGroupFactory | None`` (see the
    module documentation); ``None`` on a trial's first result (``training_iteration < 1``)
    or when the executor's total resources are unknown.
    """

    def __init__(
        self,
        add_bundles: bool = False,
        increase_by: Mapping[str, float] | None = None,
        increase_by_times: int = -1,
        reserve_resources: Mapping[str, float] | None = None,
    ) -> None:
        _check_bool("add_bundles", add_bundles)
        if not isinstance(increase_by_times, int) or isinstance(increase_by_times, bool):
            raise invalid_type(
                "increase_by_times", increase_by_times,
                "expected an integer (the most units a trial gains; <= 0 for no limit)",
            )
        self.add_bundles = add_bundles
        self.increase_by: dict[str, float] = (
            dict(_check_resources("increase_by", increase_by, need_positive=True))
            if increase_by is not None else {}
        )
        self.increase_by_times = increase_by_times
        self.reserve_resources: dict[str, float] = (
            dict(_check_resources("reserve_resources", reserve_resources, need_positive=False))
            if reserve_resources is not None else {}
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(add_bundles={self.add_bundles}, increase_by="
            f"{self.increase_by or None}, increase_by_times={self.increase_by_times}, "
            f"reserve_resources={self.reserve_resources or None})"
        )

    # -- the call --------------------------------------------------------------------------------
    def __call__(
        self,
        context: Any,
        trial: Trial,
        result: dict,
        scheduler: Any,
    ) -> PlacementGroupFactory | None:
        """The trial's new request, or ``None`` to keep it (see the class documentation)."""
        iteration = result.get("training_iteration")
        if isinstance(iteration, (int, float)) and iteration < 1:
            return None  # nothing learned about the trial yet
        total = self._total(context)
        if not total:
            return None
        base = self._base(trial, scheduler)
        unit = self._unit(base)
        if not unit:
            return None
        live = list(context.get_live_trials())
        if all(t.trial_id != trial.trial_id for t in live):
            live.append(trial)
        used: dict[str, float] = {}
        for t in live:
            for key, value in t.placement_group_factory.required_resources().items():
                used[key] = used.get(key, 0.0) + value
        free_units = _units_in({k: total.get(k, 0.0) - used.get(k, 0.0) for k in unit}, unit)
        held = self._held_units(trial.placement_group_factory, base, unit)
        units = self._new_units(
            trial=trial,
            result=result,
            live=live,
            scheduler=scheduler,
            context=context,
            base=base,
            unit=unit,
            total=total,
            held=held,
            free_units=free_units,
        )
        return self._build(base, unit, max(0, units))

    def _new_units(
        self,
        *,
        trial: Trial,
        result: dict,
        live: list[Trial],
        scheduler: Any,
        context: Any,
        base: PlacementGroupFactory,
        unit: dict[str, float],
        total: dict[str, float],
        held: int,
        free_units: int,
    ) -> int:
        """How many units the trial should hold beyond its base: its fair share at most."""
        # Fair share (Ray's "upper limit"): dealing the spare units out round robin from a
        # clean slate, once every live trial has its base, gives the first trial
        # ceil(spare / n); no trial may hold more than that.
        spare = dict(total)
        for t in live:
            for key, value in self._base(t, scheduler).required_resources().items():
                spare[key] = spare.get(key, 0.0) - value
        spare_units = _units_in({k: spare.get(k, 0.0) for k in unit}, unit)
        fair = -(-spare_units // len(live)) if spare_units > 0 else 0
        if free_units < 0:
            return held + free_units  # over-committed: give back what is beyond the base
        if free_units == 0:
            return held
        return min(held + free_units, self._limit(fair))

    # -- the parts, for subclasses -----------------------------------------------------------------
    def _limit(self, units: int) -> int:
        """``units`` capped at ``increase_by_times`` when that is set."""
        if self.increase_by_times > 0:
            return min(units, self.increase_by_times)
        return units

    def _total(self, context: Any) -> dict[str, float]:
        """The executor's total resources minus ``reserve_resources``."""
        total = getattr(context, "total_resources", None)
        if total is None:  # a Ray-style stand-in controller
            updater = getattr(context, "_resource_updater", None)
            if updater is None:
                return {}
            total = {"CPU": updater.get_num_cpus(), "GPU": updater.get_num_gpus()}
        if not total:
            return {}
        out = {k: float(v) for k, v in total.items()}
        for key, value in self.reserve_resources.items():
            out[key] = out.get(key, 0.0) - value
        return out

    @staticmethod
    def _base(trial: Trial, scheduler: Any) -> PlacementGroupFactory:
        """What ``trial`` originally requested (the scheduler remembers it)."""
        getter = getattr(scheduler, "get_base_trial_resources", None)
        base = getter(trial) if callable(getter) else getattr(scheduler, "base_trial_resources", None)
        if base is None:
            base = trial.placement_group_factory
        return to_placement_group_factory(base, "base trial resources")

    def _unit(self, base: PlacementGroupFactory) -> dict[str, float]:
        if self.increase_by:
            return dict(self.increase_by)
        if self.add_bundles:
            return {k: v for k, v in base.bundles[-1].items() if v > 0}
        if base.bundles[0].get("GPU", 0.0) > 0:
            return {"GPU": 1.0}
        return {"CPU": 1.0}

    def _held_units(
        self, current: PlacementGroupFactory, base: PlacementGroupFactory, unit: dict[str, float]
    ) -> int:
        """How many units ``current`` holds beyond ``base``."""
        if self.add_bundles:
            return max(0, len(current.bundles) - len(base.bundles))
        head, base_head = current.bundles[0], base.bundles[0]
        extra = {k: head.get(k, 0.0) - base_head.get(k, 0.0) for k in unit}
        return max(0, _units_in(extra, unit))

    def _build(
        self, base: PlacementGroupFactory, unit: dict[str, float], units: int
    ) -> PlacementGroupFactory:
        """``base`` plus ``units`` units: as new bundles, or grown into the first bundle."""
        bundles = [dict(b) for b in base.bundles]
        if self.add_bundles:
            bundles += [dict(unit) for _ in range(units)]
        else:
            head = bundles[0]
            for key, value in unit.items():
                # Rounded so fractional units give the same request every time.
                head[key] = round(head.get(key, 0.0) + value * units, 9)
        return PlacementGroupFactory(bundles, base.strategy, **base._kwargs)


def _units_in(amount: Mapping[str, float], unit: Mapping[str, float]) -> int:
    """How many whole ``unit`` fit in ``amount`` (negative when ``amount`` is)."""
    return min(math.floor(amount.get(k, 0.0) / v + _EPS) for k, v in unit.items())


class DistributeResourcesToTopJob(DistributeResources):
    """Give every free CPU and GPU to the best trial by ``metric``.

    The best trial is the live one with the best latest value of ``metric`` that may still
    grow (``increase_by_times``); the reporting trial's value is taken from the result it just
    reported, trials without a value rank last. The best trial takes all free units; other
    trials keep what they hold, giving back units beyond their base only while more is in use
    than exists. Arguments as :class:`DistributeResources`, plus:

    :param metric: the metric to rank by; default: the scheduler's (``TuneConfig.metric``).
    :param mode: ``"min"`` or ``"max"``; default: the scheduler's.
    """

    def __init__(
        self,
        add_bundles: bool = False,
        increase_by: Mapping[str, float] | None = None,
        increase_by_times: int = -1,
        reserve_resources: Mapping[str, float] | None = None,
        metric: str | None = None,
        mode: str | None = None,
    ) -> None:
        super().__init__(add_bundles, increase_by, increase_by_times, reserve_resources)
        if metric is not None and (not isinstance(metric, str) or not metric):
            raise invalid_value("metric", metric, "must be the name of a result field")
        check_mode(mode)
        self.metric = metric
        self.mode = mode

    def resolve_metric(self, scheduler: Any) -> tuple[str, str]:
        """``(metric, mode)``: this function's own, else the scheduler's.

        :raises TuneValueError: when neither knows them.
        """
        metric = self.metric or getattr(scheduler, "metric", None)
        mode = self.mode or getattr(scheduler, "mode", None)
        if not metric or mode not in ("min", "max"):
            raise TuneValueError(
                "DistributeResourcesToTopJob needs a metric and a mode to find the best trial: "
                "pass them to DistributeResourcesToTopJob(metric=..., mode=...), to the "
                "scheduler, or to TuneConfig(metric=..., mode=...)."
            )
        return metric, mode

    def _new_units(
        self,
        *,
        trial: Trial,
        result: dict,
        live: list[Trial],
        scheduler: Any,
        context: Any,
        base: PlacementGroupFactory,
        unit: dict[str, float],
        total: dict[str, float],
        held: int,
        free_units: int,
    ) -> int:
        metric, mode = self.resolve_metric(scheduler)
        sign = 1.0 if mode == "max" else -1.0
        ranked: list[tuple[float, int, Trial]] = []
        for index, t in enumerate(live):
            value = _score(result if t.trial_id == trial.trial_id else t.last_result, metric)
            if value is not None:
                ranked.append((-sign * value, index, t))
        ranked.sort(key=lambda item: item[:2])  # best first; ties in creation order
        best = None
        for _, _, t in ranked:
            if self._may_grow(t, scheduler, unit):
                best = t
                break
        if best is None and ranked:
            best = ranked[0][2]
        is_best = best is not None and best.trial_id == trial.trial_id
        if free_units < 0:
            return held + free_units  # over-committed: everyone gives back beyond the base
        if not is_best or free_units == 0:
            return held
        return self._limit(held + free_units)

    def _may_grow(self, trial: Trial, scheduler: Any, unit: dict[str, float]) -> bool:
        if self.increase_by_times <= 0:
            return True
        held = self._held_units(trial.placement_group_factory, self._base(trial, scheduler), unit)
        return held < self.increase_by_times
