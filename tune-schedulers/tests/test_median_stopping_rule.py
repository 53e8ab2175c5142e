"""MedianStoppingRule: stops exactly the trials below the median; pause paths; state; args."""

from __future__ import annotations

import pytest

import tune
from tune.errors import TuneValueError
from tune.schedulers.trial_scheduler import TrialScheduler
from tune.trial import PAUSED, PENDING, RUNNING, Trial
from tune_schedulers.median_stopping_rule import MedianStoppingRule

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


def make(**kw) -> MedianStoppingRule:
    kw.setdefault("metric", "loss")
    kw.setdefault("mode", "min")
    kw.setdefault("time_attr", "training_iteration")
    return MedianStoppingRule(**kw)


def add(s, *names, status=RUNNING):
    trials = []
    for n in names:
        t = Trial(n, {})
        t.status = status
        s.on_trial_add(t)
        trials.append(t)
    return trials


def feed(s, trial, it, loss):
    return s.on_trial_result(trial, {"training_iteration": it, "loss": loss})


def test_stops_exactly_the_trials_below_the_median():
    """Five reference trials with constant losses 1..5 (median of their running means: 3);
    each candidate is judged at iteration 3 against them: exactly those above 3 stop."""
    candidates = {2.5: CONTINUE, 3.0: CONTINUE, 3.5: STOP, 10.0: STOP, 0.1: CONTINUE}
    s = make(grace_period=1, min_samples_required=5)
    refs = add(s, *[f"ref{i}" for i in range(1, 6)])
    for it in (1, 2, 3):
        for i, t in enumerate(refs, start=1):
            assert feed(s, t, it, float(i)) == CONTINUE  # at most 4 others: not judged
    decisions = {}
    for k, loss in enumerate(candidates):
        (t,) = add(s, f"c{k}")
        decisions[loss] = feed(s, t, 3, loss)
        s.on_trial_remove(t)
        del s._results[t.trial_id]  # judge each candidate against the references only
    assert decisions == candidates
    assert s.stopped_trial_ids == {"c2", "c3"}


def test_best_result_so_far_against_running_means():
    """A trial whose best result beats the median survives a bad latest result; running
    means only count results from grace_period up to the judged time."""
    s = make(grace_period=2, min_samples_required=2)
    a, b, c = add(s, "a", "b", "c")
    for it, la, lb in ((1, 100.0, 100.0), (2, 1.0, 3.0), (3, 1.0, 3.0), (4, 1.0, 3.0)):
        assert feed(s, a, it, la) == CONTINUE
        assert feed(s, b, it, lb) == CONTINUE  # only one other trial: not enough samples
    # median of means over [2, 3]: a=1, b=3 -> 2 (the 100s before the grace period are out)
    assert feed(s, c, 1, 50.0) == CONTINUE  # grace period
    assert feed(s, c, 2, 1.5) == CONTINUE
    assert feed(s, c, 3, 9.0) == CONTINUE  # best so far (1.5) still beats 2
    (d,) = add(s, "d")
    assert feed(s, d, 2, 2.5) == STOP
    assert s.stopped_trial_ids == {"d"}


def test_max_mode():
    s = make(metric="acc", mode="max", grace_period=0, min_samples_required=1)
    a, b, c = add(s, "a", "b", "c")
    assert s.on_trial_result(a, {"training_iteration": 1, "acc": 0.8}) == CONTINUE
    assert s.on_trial_result(b, {"training_iteration": 1, "acc": 0.9}) == CONTINUE
    assert s.on_trial_result(c, {"training_iteration": 1, "acc": 0.5}) == STOP


def test_soft_stop_pauses_once_then_fifo():
    s = make(grace_period=0, min_samples_required=1, hard_stop=False)
    a, b = add(s, "a", "b")
    assert feed(s, a, 1, 1.0) == CONTINUE
    assert feed(s, b, 1, 5.0) == PAUSE
    assert feed(s, b, 2, 9.0) == CONTINUE  # judged once; afterwards first-in first-out


def test_yields_to_waiting_trials_when_samples_are_insufficient():
    s = make(grace_period=1, min_samples_required=3, min_time_slice=2)
    (a,) = add(s, "a")
    assert feed(s, a, 1, 1.0) == CONTINUE  # nobody waits
    (waiting,) = add(s, "w", status=PENDING)
    assert feed(s, a, 2, 1.0) == PAUSE  # 2 - (-inf) > min_time_slice, a trial waits
    assert feed(s, a, 3, 1.0) == CONTINUE  # runs min_time_slice before yielding again
    assert feed(s, a, 4, 1.0) == CONTINUE
    assert feed(s, a, 5, 1.0) == PAUSE
    waiting.status = PAUSED
    assert feed(s, a, 8, 1.0) == PAUSE
    waiting.status = RUNNING
    assert feed(s, a, 11, 1.0) == CONTINUE


def test_missing_fields_and_metric_from_tune_config():
    s = MedianStoppingRule()
    with pytest.raises(TuneValueError, match="metric"):
        s.on_trial_result(Trial("t", {}), {"time_total_s": 100, "loss": 1})
    assert s.set_search_properties("loss", "min")
    assert s.on_trial_result(Trial("t", {}), {"loss": 1.0}) == CONTINUE


def test_state_round_trip(tmp_path):
    s = make(grace_period=0, min_samples_required=1)
    a, b, c = add(s, "a", "b", "c")
    feed(s, a, 1, 1.0)
    feed(s, b, 1, 5.0)
    path = str(tmp_path / "median.pkl")
    s.save(path)
    feed(s, c, 1, 0.5)
    other = make(grace_period=0, min_samples_required=1)
    other.restore(path)
    assert other.stopped_trial_ids == {"b"}
    assert "c" not in other._results
    assert feed(other, c, 1, 7.0) == STOP


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"grace_period": -1}, "grace_period"),
        ({"min_samples_required": 0}, "min_samples_required"),
        ({"min_samples_required": 2.5}, "min_samples_required"),
        ({"min_time_slice": -1}, "min_time_slice"),
        ({"hard_stop": "no"}, "hard_stop"),
        ({"mode": "up"}, "mode"),
        ({"time_attr": 3}, "time_attr"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(TuneValueError, match=argument):
        MedianStoppingRule(**kwargs)


def test_names_resolve():
    from tune.schedulers import MedianStoppingRule as Core
    from tune_schedulers import MedianStoppingRule as Direct

    assert Core is Direct is MedianStoppingRule
    assert isinstance(tune.create_scheduler("median_stopping_rule"), MedianStoppingRule)


# -- end to end ---------------------------------------------------------------------------
LOSSES = [3.0, 1.0, 5.0, 2.0, 4.0, 0.5]
MAX_T = 10


def flat(config):
    """A constant loss; checkpoints every step and resumes from its checkpoint."""
    ckpt = tune.get_checkpoint()
    start = ckpt.to_dict()["i"] if ckpt else 0
    for i in range(start + 1, MAX_T + 1):
        tune.report(
            {"loss": config["loss"], "i": i}, checkpoint=tune.Checkpoint.from_dict({"i": i})
        )


class Restores(tune.Callback):
    def __init__(self):
        self.restored = []

    def on_trial_restore(self, iteration, trials, trial, **info):
        self.restored.append(trial.config["loss"])


def test_end_to_end_stops_trials_worse_than_median(run_config):
    """One trial at a time in grid order. Trials with too few peers yield to waiting ones
    (PAUSE, resumed from their checkpoint); the others stop once worse than the median."""
    restores = Restores()
    scheduler = MedianStoppingRule(
        time_attr="training_iteration", grace_period=2, min_samples_required=2
    )
    grid = tune.Tuner(
        flat,
        param_space={"loss": tune.grid_search(LOSSES)},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=scheduler, max_concurrent_trials=1
        ),
        run_config=run_config(name="median", callbacks=[restores]),
    ).fit()
    assert not grid.errors
    iters = {r.config["loss"]: r.metrics["training_iteration"] for r in grid}
    # resumed trials continue from their checkpoint: iteration count and state agree
    assert all(r.metrics["i"] == r.metrics["training_iteration"] for r in grid)
    # 5.0 vs median(3, 1) = 2 and 4.0 vs median(3, 1, 5, 2) = 2.5 stop at the grace period;
    # the two best run to the end; 3.0 and 2.0 stop once better trials have gone further.
    assert iters[5.0] == iters[4.0] == 2
    assert iters[1.0] == iters[0.5] == MAX_T
    assert 2 < iters[3.0] < MAX_T and 2 < iters[2.0] < MAX_T
    by_id = {r.metrics["trial_id"]: r.config["loss"] for r in grid}
    assert {by_id[t] for t in scheduler.stopped_trial_ids} == {5.0, 4.0, 3.0, 2.0}
    assert restores.restored and set(restores.restored) <= {3.0, 1.0, 2.0, 0.5}
    assert sum(iters.values()) < len(LOSSES) * MAX_T


def test_end_to_end_hard_stop_false_pauses_instead(run_config):
    scheduler = MedianStoppingRule(
        time_attr="training_iteration", grace_period=2, min_samples_required=2, hard_stop=False
    )
    grid = tune.Tuner(
        flat,
        param_space={"loss": tune.grid_search(LOSSES)},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=scheduler, max_concurrent_trials=1
        ),
        run_config=run_config(name="median_soft"),
    ).fit()
    assert not grid.errors
    # paused trials are resumed later and run to the end first-in first-out
    assert all(r.metrics["training_iteration"] == MAX_T for r in grid)
    by_id = {r.metrics["trial_id"]: r.config["loss"] for r in grid}
    paused = {by_id[t] for t in scheduler.stopped_trial_ids}
    assert {5.0, 4.0} <= paused and not paused & {1.0, 0.5}
