"""ThresholdScheduler: stops trials still worse than the threshold after the grace period."""

from __future__ import annotations

import pytest

from tune.errors import TuneValueError
from tune.schedulers.trial_scheduler import TrialScheduler
from tune.trial import Trial
from tune_plugin_example.scheduler import ThresholdScheduler


def result(it: int, loss: float) -> dict:
    return {"training_iteration": it, "loss": loss}


def test_stops_only_after_grace_period_and_when_worse() -> None:
    scheduler = ThresholdScheduler(threshold=1.0, grace_period=3)
    assert scheduler.set_search_properties("loss", "min")
    good, bad = Trial("good", {}), Trial("bad", {})
    for trial in (good, bad):
        scheduler.on_trial_add(trial)
    for it in (1, 2):
        assert scheduler.on_trial_result(bad, result(it, 5.0)) == TrialScheduler.CONTINUE
    assert scheduler.on_trial_result(bad, result(3, 5.0)) == TrialScheduler.STOP
    assert scheduler.on_trial_result(good, result(3, 0.5)) == TrialScheduler.CONTINUE
    assert scheduler.stopped_trial_ids == {"bad"}
    assert "1 trials stopped" in scheduler.debug_string()


def test_max_mode_and_missing_metric() -> None:
    scheduler = ThresholdScheduler(threshold=0.9, metric="acc", mode="max", grace_period=1)
    trial = Trial("t", {})
    assert scheduler.on_trial_result(trial, {"training_iteration": 1}) == TrialScheduler.CONTINUE
    assert scheduler.on_trial_result(trial, {"training_iteration": 1, "acc": 0.95}) == "CONTINUE"
    assert scheduler.on_trial_result(trial, {"training_iteration": 2, "acc": 0.5}) == "STOP"


def test_own_metric_is_kept() -> None:
    scheduler = ThresholdScheduler(threshold=1.0, metric="acc", mode="max")
    assert scheduler.set_search_properties("loss", "min") is False
    assert (scheduler.metric, scheduler.mode) == ("acc", "max")


def test_chooses_pending_first() -> None:
    scheduler = ThresholdScheduler(threshold=1.0)
    paused, pending = Trial("p", {}), Trial("q", {})
    paused.status = Trial.PAUSED
    assert scheduler.choose_trial_to_run([paused, pending]) is pending
    assert scheduler.choose_trial_to_run([paused]) is paused


def test_state_round_trip(tmp_path) -> None:
    scheduler = ThresholdScheduler(threshold=1.0, metric="loss", mode="min")
    scheduler.on_trial_result(Trial("x", {}), result(5, 9.0))
    path = tmp_path / "sched.pkl"
    scheduler.save(str(path))
    other = ThresholdScheduler(threshold=1.0, metric="loss", mode="min")
    other.restore(str(path))
    assert other.stopped_trial_ids == {"x"}


def test_needs_metric() -> None:
    with pytest.raises(TuneValueError, match="metric"):
        ThresholdScheduler(threshold=1.0).on_trial_result(Trial("t", {}), result(1, 1.0))


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"threshold": "high"}, "threshold"),
        ({"threshold": 1.0, "grace_period": -1}, "grace_period"),
        ({"threshold": 1.0, "mode": "up"}, "mode"),
    ],
)
def test_bad_arguments(kwargs: dict, argument: str) -> None:
    with pytest.raises(TuneValueError, match=argument):
        ThresholdScheduler(**kwargs)


def test_scheduler_hooks_drive_it() -> None:
    from tune.plugins import get_plugin_manager

    pm = get_plugin_manager()
    scheduler = ThresholdScheduler(threshold=1.0, grace_period=1)
    pm.register(scheduler)
    assert pm.hook.tune_scheduler_configure(metric="loss", mode="min", spec={}) is True
    decision = pm.hook.tune_scheduler_on_trial_result(trial=Trial("t", {}), result=result(1, 2.0))
    assert decision == "STOP"
    assert pm.hook.tune_scheduler_needs_every_result() is True
