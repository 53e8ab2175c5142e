"""Stoppers on synthetic results, their argument checks, and their hooks on a PluginManager."""

from __future__ import annotations

import datetime
import math
import time

import numpy as np
import pluggy
import pytest

import tune.hookspecs
from tune.errors import TuneValueError
from tune.plugins import create_stopper
from tune.stopper import (
    CombinedStopper,
    ExperimentPlateauStopper,
    FunctionStopper,
    MaximumIterationStopper,
    Stopper,
    TimeoutStopper,
    TrialPlateauStopper,
)


def make_pm(*plugins: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("tune")
    pm.add_hookspecs(tune.hookspecs)
    for plugin in plugins:
        pm.register(plugin)
    return pm


def decisions(stopper: Stopper, values: list, trial_id: str = "t", metric: str = "m") -> list:
    return [stopper(trial_id, {metric: value}) for value in values]


# -- MaximumIterationStopper ---------------------------------------------------------------------


def test_maximum_iteration_counts_results_per_trial() -> None:
    stopper = MaximumIterationStopper(max_iter=3)
    assert [stopper("a", {}) for _ in range(3)] == [False, False, True]
    assert stopper("b", {}) is False  # another trial has its own count
    assert stopper.stop_all() is False

    restored = MaximumIterationStopper(3)
    restored.set_state(stopper.get_state())
    assert restored("b", {}) is False
    assert restored("b", {}) is True


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3", None])
def test_maximum_iteration_rejects_bad_max_iter(bad) -> None:
    with pytest.raises(TuneValueError, match="max_iter"):
        MaximumIterationStopper(bad)


# -- TrialPlateauStopper -------------------------------------------------------------------------


def test_trial_plateau_stops_when_last_results_are_flat() -> None:
    stopper = TrialPlateauStopper("m", std=0.01, num_results=4, grace_period=4)
    # The first window of four flat values ends at the 6th result.
    values = [5.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert decisions(stopper, values) == [False] * 5 + [True, True]
    assert stopper.stop_all() is False


def test_trial_plateau_grace_period_and_window_size() -> None:
    stopper = TrialPlateauStopper("m", std=0.5, num_results=2, grace_period=5)
    assert decisions(stopper, [1.0] * 6) == [False] * 4 + [True, True]

    stopper = TrialPlateauStopper("m", std=0.5, num_results=3, grace_period=0)
    assert decisions(stopper, [1.0, 1.0, 1.0]) == [False, False, True]


def test_trial_plateau_uses_population_std_strictly_below() -> None:
    values = [1.0, 2.0, 1.0, 2.0]
    exact = float(np.std(values))  # 0.5
    assert decisions(TrialPlateauStopper("m", std=exact, grace_period=0), values)[-1] is False
    assert decisions(TrialPlateauStopper("m", std=exact + 1e-9, grace_period=0), values)[-1]


def test_trial_plateau_trials_are_independent() -> None:
    stopper = TrialPlateauStopper("m", num_results=2, grace_period=2)
    assert stopper("a", {"m": 1.0}) is False
    assert stopper("b", {"m": 1.0}) is False
    assert stopper("a", {"m": 1.0}) is True
    assert stopper("b", {"m": 9.0}) is False


def test_trial_plateau_metric_threshold() -> None:
    flat_high = [10.0] * 6
    stopper = TrialPlateauStopper("m", metric_threshold=5.0, mode="min", grace_period=0)
    assert not any(decisions(stopper, flat_high))
    stopper = TrialPlateauStopper("m", metric_threshold=5.0, mode="max", grace_period=0)
    assert decisions(stopper, flat_high)[-1] is True
    # A threshold of 0 is a threshold too.
    stopper = TrialPlateauStopper("m", metric_threshold=0.0, mode="min", grace_period=0)
    assert not any(decisions(stopper, [1.0] * 6))


def test_trial_plateau_missing_or_nan_metric_never_stops() -> None:
    stopper = TrialPlateauStopper("m", grace_period=0, num_results=2)
    assert stopper("t", {"other": 1}) is False
    assert stopper("t", {"m": 1.0}) is False  # the window still holds the missing value
    assert stopper("t", {"m": 1.0}) is True
    stopper = TrialPlateauStopper("m", grace_period=0, num_results=2)
    assert decisions(stopper, [math.nan, math.nan, 1.0]) == [False, False, False]
    stopper = TrialPlateauStopper("m", grace_period=0, num_results=2)
    assert decisions(stopper, [np.float32(2.0), np.float64(2.0)]) == [False, True]


def test_trial_plateau_state_round_trip() -> None:
    stopper = TrialPlateauStopper("m", num_results=3, grace_period=3)
    decisions(stopper, [1.0, 1.0])
    restored = TrialPlateauStopper("m", num_results=3, grace_period=3)
    restored.set_state(stopper.get_state())
    assert restored("t", {"m": 1.0}) is True


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"metric": ""}, "metric"),
        ({"metric": None}, "metric"),
        ({"std": 0}, "std"),
        ({"std": -1.0}, "std"),
        ({"num_results": 0}, "num_results"),
        ({"grace_period": -1}, "grace_period"),
        ({"mode": "maximize"}, "mode"),
        ({"metric_threshold": 1.0}, "mode"),
        ({"metric_threshold": "1", "mode": "min"}, "metric_threshold"),
    ],
)
def test_trial_plateau_rejects_bad_arguments(kwargs, argument) -> None:
    kwargs = {"metric": "m", **kwargs}
    with pytest.raises(TuneValueError, match=argument):
        TrialPlateauStopper(**kwargs)


# -- ExperimentPlateauStopper --------------------------------------------------------------------


def test_experiment_plateau_stops_when_top_values_agree() -> None:
    stopper = ExperimentPlateauStopper("m", std=0.01, top=3, mode="min")
    results = [("a", 5.0), ("b", 1.0), ("c", 1.001), ("a", 4.0), ("b", 1.002)]
    out = [stopper(tid, {"m": v}) for tid, v in results]
    # Top-3 (smallest) after result 3 are [1.0, 1.001, 5.0]: not flat; after 5: flat.
    assert out == [False, False, False, False, True]
    assert stopper.stop_all() is True


def test_experiment_plateau_mode_max_keeps_the_largest() -> None:
    stopper = ExperimentPlateauStopper("m", std=0.1, top=2, mode="max")
    assert [stopper("t", {"m": v}) for v in [10.0, 0.0, 10.05]] == [False, False, True]
    assert stopper.get_state()["top_values"] == [10.0, 10.05]


def test_experiment_plateau_patience() -> None:
    stopper = ExperimentPlateauStopper("m", std=0.01, top=2, patience=2)
    out = [stopper("t", {"m": v}) for v in [1.0, 1.0, 1.0, 1.0]]
    assert out == [False, False, True, True]
    # A result that breaks the plateau resets the count.
    stopper = ExperimentPlateauStopper("m", std=0.01, top=2, mode="max", patience=1)
    out = [stopper("t", {"m": v}) for v in [1.0, 1.0, 5.0, 5.0]]
    assert out == [False, True, False, True]


def test_experiment_plateau_matches_numpy_std_and_ignores_missing() -> None:
    values = [0.3, 0.1, 0.2, 0.25, 0.15, 0.4]
    stopper = ExperimentPlateauStopper("m", std=1.0, top=4)
    for value in values:
        stopper("t", {"m": value})
        stopper("t", {"other": 1.0})
        stopper("t", {"m": float("nan")})
    top = sorted(values)[:4]
    assert stopper.get_state()["top_values"] == top
    assert stopper.has_plateaued() is True
    # The threshold is inclusive and the std is numpy's (population) std.
    for std, expected in [(float(np.std(top)), True), (float(np.std(top)) * 0.999, False)]:
        boundary = ExperimentPlateauStopper("m", std=std, top=4)
        for value in values:
            boundary("t", {"m": value})
        assert boundary.has_plateaued() is expected

    restored = ExperimentPlateauStopper("m", std=1.0, top=4)
    restored.set_state(stopper.get_state())
    assert restored.stop_all() is True


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"mode": None}, "mode"),
        ({"mode": "maximize"}, "mode"),
        ({"top": 1}, "top"),
        ({"top": 2.5}, "top"),
        ({"patience": -1}, "patience"),
        ({"std": 0.0}, "std"),
        ({"metric": 3}, "metric"),
    ],
)
def test_experiment_plateau_rejects_bad_arguments(kwargs, argument) -> None:
    kwargs = {"metric": "m", **kwargs}
    with pytest.raises(TuneValueError, match=argument):
        ExperimentPlateauStopper(**kwargs)


# -- TimeoutStopper ------------------------------------------------------------------------------


def test_timeout_budget_starts_at_first_check() -> None:
    stopper = TimeoutStopper(0.05)
    assert stopper("t", {}) is False
    assert stopper.stop_all() is False
    time.sleep(0.08)
    assert stopper.stop_all() is True


def test_timeout_accepts_timedelta_and_keeps_remaining_budget() -> None:
    stopper = TimeoutStopper(datetime.timedelta(minutes=1))
    assert stopper.get_state() == {"budget": 60.0}
    stopper.stop_all()
    time.sleep(0.01)
    stopper.stop_all()
    left = stopper.get_state()["budget"]
    assert 59.0 < left < 60.0

    restored = TimeoutStopper(60)
    restored.set_state({"budget": 0.0})
    assert restored.stop_all() is True


@pytest.mark.parametrize("bad", ["10", None, True, -1, float("nan"), [1]])
def test_timeout_rejects_bad_values(bad) -> None:
    with pytest.raises(TuneValueError, match="timeout"):
        TimeoutStopper(bad)


# -- FunctionStopper / CombinedStopper -----------------------------------------------------------


def test_function_stopper_wraps_a_function() -> None:
    stopper = FunctionStopper(lambda trial_id, result: result["acc"] > 0.9)
    assert stopper("t", {"acc": 0.5}) is False
    assert stopper("t", {"acc": 0.95}) is True
    assert stopper.stop_all() is False
    assert FunctionStopper.is_valid_function(lambda t, r: False) is True
    assert FunctionStopper.is_valid_function(MaximumIterationStopper(1)) is False


def test_function_stopper_rejects_non_callables_and_stopper_lookalikes() -> None:
    for bad in (3, "stop", {"training_iteration": 3}, MaximumIterationStopper):
        with pytest.raises(TuneValueError, match="function"):
            FunctionStopper(bad)

    class LooksLikeStopper:
        def __call__(self, trial_id, result):
            return False

        def stop_all(self):
            return True

    with pytest.raises(TuneValueError, match="Stopper"):
        FunctionStopper.is_valid_function(LooksLikeStopper())


def test_combined_stopper_any_and_every_stopper_sees_every_result() -> None:
    counter = MaximumIterationStopper(2)
    seen = []

    def always(trial_id, result):
        seen.append(trial_id)
        return True

    combined = CombinedStopper(always, counter)
    assert combined("t", {}) is True
    assert combined("t", {}) is True
    assert seen == ["t", "t"]
    assert counter.get_state() == {"iter": {"t": 2}}
    assert combined.stop_all() is False

    timeout = TimeoutStopper(0)
    combined = CombinedStopper(MaximumIterationStopper(5), timeout)
    combined.stop_all()
    assert combined.stop_all() is True


def test_combined_stopper_state_and_bad_arguments() -> None:
    combined = CombinedStopper(MaximumIterationStopper(3), FunctionStopper(lambda t, r: False))
    combined("t", {})
    state = combined.get_state()
    assert state == [{"iter": {"t": 1}}, None]
    fresh = CombinedStopper(MaximumIterationStopper(3), FunctionStopper(lambda t, r: False))
    fresh.set_state(state)
    assert fresh("t", {}) is False and fresh("t", {}) is True
    assert CombinedStopper(FunctionStopper(lambda t, r: False)).get_state() is None

    with pytest.raises(TuneValueError, match=r"stoppers\[1\]"):
        CombinedStopper(MaximumIterationStopper(3), {"training_iteration": 3})


# -- the base class, hooks and registry ----------------------------------------------------------


class CustomStopper(Stopper):
    """The reference documentation's example."""

    def __init__(self):
        self.should_stop = False

    def __call__(self, trial_id, result):
        if not self.should_stop and result["foo"] > 10:
            self.should_stop = True
        return self.should_stop

    def stop_all(self):
        return self.should_stop


def test_stopper_is_abstract_and_doc_example_works() -> None:
    with pytest.raises(TypeError):
        Stopper()
    stopper = CustomStopper()
    assert stopper("t", {"foo": 1}) is False
    assert stopper("t", {"foo": 11}) is True
    assert stopper.stop_all() is True


def test_stoppers_answer_hooks_on_a_plugin_manager() -> None:
    max_iter = MaximumIterationStopper(2)
    custom = CustomStopper()
    pm = make_pm(max_iter, custom, FunctionStopper(lambda t, r: r.get("acc", 0) > 0.9))
    answers = pm.hook.tune_should_stop_trial(trial_id="t", result={"foo": 1, "acc": 0.1})
    assert sorted(answers) == [False, False, False]
    answers = pm.hook.tune_should_stop_trial(trial_id="t", result={"foo": 1, "acc": 0.1})
    assert sorted(answers) == [False, False, True]  # max_iter reached
    assert not any(pm.hook.tune_should_stop_all())
    pm.hook.tune_should_stop_trial(trial_id="u", result={"foo": 20})
    assert any(pm.hook.tune_should_stop_all())


def test_stopper_state_goes_through_get_and_set_state_hooks() -> None:
    first = MaximumIterationStopper(3)
    second = MaximumIterationStopper(3)
    second.state_key = "second-counter"
    pm = make_pm(first, second, CustomStopper(), TimeoutStopper(30))
    first("a", {})
    second("b", {})
    second("b", {})
    saved = dict(pm.hook.tune_get_state())
    # Stoppers without state (get_state() is None) save nothing.
    assert saved == {
        "MaximumIterationStopper": {"iter": {"a": 1}},
        "second-counter": {"iter": {"b": 2}},
        "TimeoutStopper": {"budget": 30.0},
    }

    new_first, new_second = MaximumIterationStopper(3), MaximumIterationStopper(3)
    new_second.state_key = "second-counter"
    pm = make_pm(new_first, new_second)
    for key, state in saved.items():
        pm.hook.tune_set_state(key=key, state=state)
    assert new_first.get_state() == {"iter": {"a": 1}}
    assert new_second("b", {}) is True


def test_stoppers_by_registered_name_and_ray_module_paths() -> None:
    assert isinstance(create_stopper("maximum_iteration", max_iter=2), MaximumIterationStopper)
    assert isinstance(create_stopper("timeout", timeout=5), TimeoutStopper)
    assert isinstance(create_stopper("combined"), CombinedStopper)
    from tune.stopper.stopper import CombinedStopper as FromStopperModule

    assert FromStopperModule is CombinedStopper
