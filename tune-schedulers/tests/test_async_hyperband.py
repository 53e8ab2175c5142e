"""ASHA: rung placement, promotions on known curves, state, arguments, end to end."""

from __future__ import annotations

import pytest

import tune
from tune.errors import TuneValueError
from tune.schedulers.trial_scheduler import TrialScheduler
from tune.trial import Trial
from tune_schedulers.async_hyperband import AsyncHyperBandScheduler

CONTINUE, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP


def make(**kw) -> AsyncHyperBandScheduler:
    kw.setdefault("metric", "loss")
    kw.setdefault("mode", "min")
    return AsyncHyperBandScheduler(**kw)


def feed(scheduler, trial, it, loss):
    return scheduler.on_trial_result(trial, {"training_iteration": it, "loss": loss})


def add(scheduler, *names):
    trials = [Trial(n, {}) for n in names]
    for t in trials:
        scheduler.on_trial_add(t)
    return trials


def test_rung_milestones():
    assert make().rung_milestones == [[1, 4, 16, 64]]  # Ray's defaults: max_t=100, rf=4
    assert make(max_t=81, reduction_factor=3).rung_milestones == [[1, 3, 9, 27, 81]]
    three = make(max_t=81, reduction_factor=3, grace_period=1, brackets=3)
    assert three.rung_milestones == [[1, 3, 9, 27, 81], [3, 9, 27, 81], [9, 27, 81]]
    assert make(max_t=10, grace_period=2, reduction_factor=2).rung_milestones == [[2, 4, 8]]


def test_worse_trials_stop_at_first_rung_in_arrival_order():
    """Constant losses 1 < 2 < 3 < 4 arriving best first: each later one is below the
    top half (rf=2) of what the rung recorded, so it stops."""
    s = make(max_t=8, reduction_factor=2)
    a, b, c, d = add(s, "a", "b", "c", "d")
    assert feed(s, a, 1, 1.0) == CONTINUE  # nothing recorded yet
    assert feed(s, b, 1, 2.0) == STOP
    assert feed(s, c, 1, 3.0) == STOP
    assert feed(s, d, 1, 4.0) == STOP
    assert s.recorded()[1] == {"a": -1.0, "b": -2.0, "c": -3.0, "d": -4.0}
    assert s.num_stopped == 3


def test_asynchronous_promotion_when_better_trials_arrive_later():
    """Same curves worst first: each newcomer beats the rung's cutoff, so all continue."""
    s = make(max_t=8, reduction_factor=2)
    a, b, c, d = add(s, "a", "b", "c", "d")
    assert [feed(s, t, 1, v) for t, v in ((d, 4.0), (c, 3.0), (b, 2.0), (a, 1.0))] == [CONTINUE] * 4


def test_top_one_over_rf_continues_at_each_rung():
    """rf=3: a result continues at a rung iff it reaches the 2/3 quantile of the rung."""
    s = make(max_t=27, reduction_factor=3)
    trials = add(s, *"abcdefghi")
    # losses at iteration 1: 5, 1, 8, ... as in a shuffled grid
    q = [4, 0, 7, 2, 8, 1, 6, 3, 5]
    decisions = [feed(s, t, 1, v + 1.0) for t, v in zip(trials, q)]
    assert decisions == [CONTINUE, CONTINUE, STOP, CONTINUE, STOP, CONTINUE, STOP, STOP, STOP]
    # next rung (3): a (q=4) recorded first; b (q=0) better; d (q=2) below the 2/3 quantile
    a, b, _, d, _, f, *_ = trials
    assert [feed(s, t, 2, 0.0) for t in (a, b, d, f)] == [CONTINUE] * 4  # between rungs
    assert feed(s, a, 3, 4 + 1 / 3) == CONTINUE
    assert feed(s, b, 3, 0 + 1 / 3) == CONTINUE
    assert feed(s, d, 3, 2 + 1 / 3) == STOP
    assert feed(s, f, 3, 1 + 1 / 3) == CONTINUE  # cutoff of {-4.33, -0.33, -2.33} is -1.67
    assert sorted(s.recorded()[3]) == ["a", "b", "d", "f"]


def test_max_t_stops_last_trials():
    s = make(max_t=4, reduction_factor=2)
    (a,) = add(s, "a")
    assert feed(s, a, 4, 0.1) == STOP
    keep = make(max_t=4, reduction_factor=2, stop_last_trials=False)
    (a,) = add(keep, "a")
    assert feed(keep, a, 4, 0.1) == CONTINUE
    assert feed(keep, a, 5, 0.1) == CONTINUE


def test_max_mode_and_missing_fields():
    s = make(metric="acc", mode="max", max_t=8, reduction_factor=2)
    a, b = add(s, "a", "b")
    assert s.on_trial_result(a, {"training_iteration": 1}) == CONTINUE  # no metric
    assert s.on_trial_result(a, {"training_iteration": 1, "acc": 0.9}) == CONTINUE
    assert s.on_trial_result(b, {"training_iteration": 1, "acc": 0.1}) == STOP


def test_metric_and_mode_from_tune_config():
    s = AsyncHyperBandScheduler()
    with pytest.raises(TuneValueError, match="metric"):
        s.on_trial_add(Trial("t", {}))
    assert s.set_search_properties("loss", "min") is True
    assert (s.metric, s.mode) == ("loss", "min")
    s.on_trial_add(Trial("t", {}))
    assert make().set_search_properties("other", "max") is False


def test_completed_trial_result_is_recorded():
    s = make(max_t=8, reduction_factor=2)
    a, b = add(s, "a", "b")
    s.on_trial_complete(a, {"training_iteration": 2, "loss": 0.5})
    assert s.recorded()[2] == {"a": -0.5}
    assert feed(s, b, 2, 0.9) == STOP


@pytest.mark.parametrize("brackets", [1, 3])
def test_state_round_trip(tmp_path, brackets):
    s = make(max_t=27, reduction_factor=3, brackets=brackets)
    a, b = add(s, "a", "b")
    feed(s, a, 9, 1.0)  # 9 is a rung of every bracket (1, 3, 9, 27 / 3, 9, 27 / 9, 27)
    path = str(tmp_path / "asha.pkl")
    s.save(path)
    feed(s, b, 9, 0.5)  # after the snapshot: must not leak into the restored copy
    other = make(max_t=27, reduction_factor=3, brackets=brackets)
    other.restore(path)
    assert other._trial_info == s._trial_info
    assert other.recorded(other._trial_info["a"])[9] == {"a": -1.0}
    assert all("b" not in r for r in other.recorded(other._trial_info["b"]).values())
    assert s._rng.random() == other._rng.random()


def test_restored_scheduler_decides_like_the_original(tmp_path):
    s = make(max_t=8, reduction_factor=2)
    a, b = add(s, "a", "b")
    feed(s, a, 1, 1.0)
    other = make(max_t=8, reduction_factor=2)
    other.set_state(s.get_state())
    assert feed(other, b, 1, 5.0) == STOP
    assert s.recorded()[1] == {"a": -1.0}  # the copy shares nothing with the original


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"max_t": 0}, "max_t"),
        ({"max_t": "100"}, "max_t"),
        ({"grace_period": 0}, "grace_period"),
        ({"grace_period": 200}, "grace_period"),
        ({"reduction_factor": 1}, "reduction_factor"),
        ({"brackets": 0}, "brackets"),
        ({"brackets": 1.5}, "brackets"),
        ({"mode": "best"}, "mode"),
        ({"time_attr": ""}, "time_attr"),
        ({"stop_last_trials": "yes"}, "stop_last_trials"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(TuneValueError, match=argument):
        AsyncHyperBandScheduler(**kwargs)


def test_names_resolve():
    import tune_schedulers
    from tune.schedulers import ASHAScheduler
    from tune.schedulers import AsyncHyperBandScheduler as Async
    from tune_schedulers import ASHAScheduler as Direct

    assert ASHAScheduler is Direct is Async is tune_schedulers.AsyncHyperBandScheduler
    created = tune.create_scheduler("asha", metric="loss", mode="min", max_t=10)
    assert isinstance(created, AsyncHyperBandScheduler)
    assert (created.metric, created.mode) == ("loss", "min")
    assert isinstance(tune.create_scheduler("async_hyperband"), AsyncHyperBandScheduler)
    assert isinstance(tune.create_scheduler("ASHAScheduler"), AsyncHyperBandScheduler)


# -- end to end ---------------------------------------------------------------------------
Q = [4, 0, 7, 2, 8, 1, 6, 3, 5]
MAX_T = 27


def curve(config):
    for i in range(1, MAX_T + 1):
        tune.report({"loss": config["q"] + 1.0 / i})


def run(run_config, scheduler, name):
    return tune.Tuner(
        curve,
        param_space={"q": tune.grid_search(Q)},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=scheduler, max_concurrent_trials=1
        ),
        run_config=run_config(name=name),
    ).fit()


def test_end_to_end_stops_bad_trials_early(run_config):
    fifo = run(run_config, None, "fifo")
    asha = run(run_config, AsyncHyperBandScheduler(max_t=MAX_T, reduction_factor=3), "asha")
    iters = {r.config["q"]: r.metrics["training_iteration"] for r in asha}
    fifo_total = sum(r.metrics["training_iteration"] for r in fifo)
    assert fifo_total == len(Q) * MAX_T
    # Trials run one at a time in the grid's order, so the run is deterministic.
    assert iters == {4: 27, 0: 27, 7: 1, 2: 3, 8: 1, 1: 27, 6: 1, 3: 1, 5: 1}
    assert sum(iters.values()) < fifo_total / 2
    assert asha.get_best_result().config["q"] == 0
    assert not asha.errors


def test_end_to_end_by_name_and_from_tune_config(run_config):
    grid = tune.Tuner(
        curve,
        param_space={"q": tune.grid_search(Q)},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler="asha", max_concurrent_trials=1
        ),
        run_config=run_config(name="by_name"),
    ).fit()
    iters = [r.metrics["training_iteration"] for r in grid]
    assert max(iters) == MAX_T and min(iters) == 1  # default grace_period=1
