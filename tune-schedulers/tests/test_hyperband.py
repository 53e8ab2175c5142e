"""HyperBand and HyperBandForBOHB: bracket table, placement, synchronous halving with
pause/resume, the no-stall rule, state, arguments, end to end with checkpoints."""

from __future__ import annotations

import pytest

import tune
from tune.errors import TuneValueError
from tune.schedulers.trial_scheduler import TrialScheduler
from tune.trial import PAUSED, PENDING, RUNNING, Trial
from tune_schedulers.hb_bohb import HyperBandForBOHB
from tune_schedulers.hyperband import HyperBandScheduler, bracket_table

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


def make(cls=HyperBandScheduler, **kw):
    kw.setdefault("metric", "loss")
    kw.setdefault("mode", "min")
    return cls(**kw)


def add(s, n, prefix="t"):
    trials = []
    for i in range(n):
        t = Trial(f"{prefix}{i}", {})
        s.on_trial_add(t)
        trials.append(t)
    return trials


def feed(s, trial, it, loss):
    """Report like the controller does: the decision also moves the trial's status."""
    trial.status = RUNNING
    decision = s.on_trial_result(trial, {"training_iteration": it, "loss": loss})
    if decision == PAUSE:
        trial.status = PAUSED
    elif decision == STOP:
        trial.status = "TERMINATED"
        s.on_trial_complete(trial, {"training_iteration": it, "loss": loss})
    return decision


def test_bracket_table_of_the_paper():
    # Li et al. (2018), Table 1: R=81, eta=3 -> s_max=4, brackets (n_i, r_i) for s=4..0.
    assert bracket_table(81, 3) == [(81, 1), (34, 3), (15, 9), (8, 27), (5, 81)]
    assert make(max_t=81, reduction_factor=3).bracket_table == bracket_table(81, 3)
    assert bracket_table(9, 3) == [(9, 1), (5, 3), (3, 9)]


def test_trials_fill_smaller_brackets_first():
    s = make(max_t=81, reduction_factor=3)
    trials = add(s, 81 + 34 + 15 + 8 + 5 + 1)
    sizes = {}
    for t in trials:
        sizes.setdefault(s.bracket_of(t.trial_id), []).append(t)
    assert {k: len(v) for k, v in sizes.items()} == {
        (0, 0): 5,
        (1, 0): 8,
        (2, 0): 15,
        (3, 0): 34,
        (4, 0): 81,
        (0, 1): 1,
    }
    assert s.bracket_of("t0") == (0, 0) and s.bracket_of("t5") == (1, 0)


def test_bohb_fills_largest_bracket_first():
    s = make(HyperBandForBOHB, max_t=9, reduction_factor=3)
    trials = add(s, 9 + 5 + 3 + 1)
    order = [s.bracket_of(t.trial_id) for t in trials]
    assert order == [(2, 0)] * 9 + [(1, 0)] * 5 + [(0, 0)] * 3 + [(2, 1)]


def test_synchronous_halving_pauses_then_keeps_the_top_third():
    """Bracket s=1 of max_t=9, eta=3: 5 trials, milestone 3, then one survivor to 9."""
    s = make(max_t=9, reduction_factor=3)
    add(s, 3, prefix="skip")  # bracket s=0 takes the first three
    trials = add(s, 5)
    losses = {"t0": 4.0, "t1": 1.0, "t2": 3.0, "t3": 0.5, "t4": 2.0}
    for t in trials:
        for it in (1, 2):
            assert feed(s, t, it, losses[t.trial_id]) == CONTINUE
    # every trial but the last waits at the milestone
    for t in trials[:-1]:
        assert feed(s, t, 3, losses[t.trial_id]) == PAUSE
    # the last one completes the round: keep floor(5/3)=1, the best (t3); t4 itself loses
    assert feed(s, trials[-1], 3, losses["t4"]) == STOP
    assert s.num_stopped == 4
    waiting = [t for t in trials if t.status == PAUSED]
    # the controller asks trials_to_stop first: the losers end where they paused
    losers = s.trials_to_stop(waiting)
    assert sorted(t.trial_id for t in losers) == ["t0", "t1", "t2"]
    for t in losers:
        t.status = "TERMINATED"
        s.on_trial_complete(t, None)
    remaining = [t for t in waiting if t not in losers]
    assert [t.trial_id for t in remaining] == ["t3"]
    assert s.choose_trial_to_run(remaining) is remaining[0]
    for it in range(4, 9):
        assert feed(s, remaining[0], it, 0.5) == CONTINUE
    assert feed(s, remaining[0], 9, 0.5) == STOP  # max_t


def test_caller_that_never_asks_trials_to_stop_still_ends_the_losers():
    """choose_trial_to_run never resumes a loser while anything else may run; with nothing
    else left it does (so a caller without trials_to_stop does not stall), and the loser
    stops at its first result."""
    s = make(max_t=9, reduction_factor=3)
    add(s, 3, prefix="skip")
    trials = add(s, 5)
    losses = {"t0": 4.0, "t1": 1.0, "t2": 3.0, "t3": 0.5, "t4": 2.0}
    for t in trials[:-1]:
        assert feed(s, t, 3, losses[t.trial_id]) == PAUSE
    assert feed(s, trials[-1], 3, losses["t4"]) == STOP
    waiting = [t for t in trials if t.status == PAUSED]
    survivor = s.choose_trial_to_run(waiting)
    assert survivor.trial_id == "t3"
    survivor.status = RUNNING
    remaining = [t for t in waiting if t is not survivor]
    assert s.choose_trial_to_run(remaining) is None  # the survivor runs: losers stay put
    assert feed(s, survivor, 9, 0.5) == STOP
    for _ in range(3):
        chosen = s.choose_trial_to_run(remaining)
        assert chosen.trial_id in {"t0", "t1", "t2"}
        assert feed(s, chosen, 4, 0.0) == STOP
        remaining.remove(chosen)
    assert remaining == []


def test_losers_paused_at_the_milestone_end_without_running_again():
    s = make(max_t=9, reduction_factor=3)
    add(s, 3, prefix="skip")
    trials = add(s, 5)
    losses = {"t0": 4.0, "t1": 1.0, "t2": 3.0, "t3": 0.5, "t4": 2.0}
    for t in trials:
        for it in (1, 2):
            feed(s, t, it, losses[t.trial_id])
    for t in trials[:-1]:
        assert feed(s, t, 3, losses[t.trial_id]) == PAUSE
    assert feed(s, trials[-1], 3, losses["t4"]) == STOP
    waiting = [t for t in trials if t.status == PAUSED]
    losers = s.trials_to_stop(waiting)
    assert sorted(t.trial_id for t in losers) == ["t0", "t1", "t2"]
    assert s.trials_to_stop(waiting) == []  # each is handed over once
    survivors = [t for t in waiting if t not in losers]
    assert s.choose_trial_to_run(survivors).trial_id == "t3"


def test_paused_trials_wait_until_released():
    s = make(max_t=9, reduction_factor=3)
    add(s, 3, prefix="skip")
    a, b, *_ = add(s, 5)
    assert feed(s, a, 3, 1.0) == PAUSE
    b.status = RUNNING  # others still run: the paused one is not chosen
    assert s.choose_trial_to_run([a]) is None


def test_max_mode_keeps_highest():
    s = make(metric="acc", mode="max", max_t=3, reduction_factor=3)
    assert s.bracket_table == [(3, 1), (2, 3)]
    add(s, 2, prefix="skip")  # bracket s=0: two trials straight to max_t
    trials = add(s, 3)
    decisions = []
    for t, acc in zip(trials, (0.1, 0.9, 0.5)):
        t.status = RUNNING
        decisions.append(s.on_trial_result(t, {"training_iteration": 1, "acc": acc}))
    assert decisions == [PAUSE, PAUSE, STOP]
    assert s._trial_info["t1"][0].trials_to_unpause == {"t1"}
    assert s._trial_info["t0"][0].trials_to_stop == {"t0"}


def test_no_stall_when_a_bracket_cannot_fill():
    """Nothing runs and every waiting trial is paused at a milestone of an unfilled bracket
    (the searcher made no more trials): the bracket is halved with what it has."""
    for cls in (HyperBandScheduler, HyperBandForBOHB):
        s = make(cls, max_t=9, reduction_factor=3)
        trials = add(s, 3)  # BOHB: bracket s=2 wants 9; HyperBand: s=0 (milestone 9)
        for t, loss in zip(trials, (3.0, 1.0, 2.0)):
            expected = STOP if cls is HyperBandScheduler else PAUSE
            if cls is HyperBandScheduler:
                for it in range(1, 9):
                    feed(s, t, it, loss)
            assert feed(s, t, 9 if cls is HyperBandScheduler else 1, loss) == expected
        if cls is HyperBandScheduler:
            continue  # its first bracket has no milestone to wait at
        waiting = list(trials)
        # nothing runs: asked first, trials_to_stop forces the halving (keep floor(3/3) = 1)
        # and hands over its losers, which end at the milestone without running again
        losers = s.trials_to_stop(waiting)
        assert sorted(t.trial_id for t in losers) == ["t0", "t2"]
        for t in losers:
            t.status = "TERMINATED"
            s.on_trial_complete(t, None)
            waiting.remove(t)
        assert s.choose_trial_to_run(waiting).trial_id == "t1"


def test_forced_halving_in_choose_trial_to_run_resumes_the_survivor_not_a_loser():
    s = make(HyperBandForBOHB, max_t=9, reduction_factor=3)
    trials = add(s, 3)
    for t, loss in zip(trials, (3.0, 1.0, 2.0)):
        assert feed(s, t, 1, loss) == PAUSE
    # forced here (no trials_to_stop call before): the survivor is chosen, the losers wait
    # for the controller's next trials_to_stop call
    assert s.choose_trial_to_run(trials).trial_id == "t1"
    assert sorted(t.trial_id for t in s.trials_to_stop(trials)) == ["t0", "t2"]


def test_bohb_halves_only_when_filled_and_others_paused():
    s = make(HyperBandForBOHB, max_t=3, reduction_factor=3)
    assert s.bracket_table == [(3, 1), (2, 3)]
    trials = add(s, 3)
    for t in trials:
        t.status = PENDING
    assert feed(s, trials[0], 1, 1.0) == PAUSE
    assert feed(s, trials[1], 1, 2.0) == PAUSE
    trials[2].status = RUNNING
    assert feed(s, trials[2], 1, 0.5) == CONTINUE  # all others paused: halving, it is best


def test_state_round_trip(tmp_path):
    s = make(max_t=9, reduction_factor=3)
    add(s, 3, prefix="skip")
    trials = add(s, 5)
    for t in trials[:-1]:
        feed(s, t, 3, float(t.trial_id[1:]))
    path = str(tmp_path / "hb.pkl")
    s.save(path)
    other = make(max_t=9, reduction_factor=3)
    other.restore(path)
    for t in trials[:-1]:
        assert other.bracket_of(t.trial_id) == s.bracket_of(t.trial_id)
    # brackets are shared between the band list and the trial index after a restore too
    assert other._trial_info["t0"][0] is other._hyperbands[0][1]
    assert other._trial_info["t0"][0] is not s._trial_info["t0"][0]
    # the restored scheduler completes the round as the original would
    last = trials[-1]
    assert feed(other, last, 3, 10.0) == STOP
    assert other._trial_info["t0"][0].trials_to_unpause == {"t0"}
    assert s._trial_info["t0"][0].trials_to_unpause == set()


def test_metric_and_mode_required():
    s = HyperBandScheduler()
    with pytest.raises(TuneValueError, match="metric"):
        s.on_trial_add(Trial("t", {}))
    assert s.set_search_properties("loss", "min")
    s.on_trial_add(Trial("t", {}))


@pytest.mark.parametrize("cls", [HyperBandScheduler, HyperBandForBOHB])
@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"max_t": 0}, "max_t"),
        ({"max_t": None}, "max_t"),
        ({"reduction_factor": 1}, "reduction_factor"),
        ({"mode": "maximize"}, "mode"),
        ({"time_attr": None}, "time_attr"),
        ({"stop_last_trials": 1}, "stop_last_trials"),
    ],
)
def test_bad_arguments(cls, kwargs, argument):
    with pytest.raises(TuneValueError, match=argument):
        cls(**kwargs)


def test_names_resolve():
    from tune.schedulers import HyperBandForBOHB as B
    from tune.schedulers import HyperBandScheduler as H
    from tune_schedulers import HyperBandForBOHB as B2
    from tune_schedulers import HyperBandScheduler as H2

    assert H is H2 is HyperBandScheduler and B is B2 is HyperBandForBOHB
    assert isinstance(tune.create_scheduler("hyperband", max_t=9), HyperBandScheduler)
    assert isinstance(tune.create_scheduler("hb_bohb"), HyperBandForBOHB)


# -- end to end ---------------------------------------------------------------------------
Q = [4, 0, 7, 2, 8, 1, 6, 3, 5, 16, 12, 9, 15, 10, 14, 11, 13]
MAX_T = 9


def curve(config):
    """loss = q + 1/i; checkpoints every step and resumes from tune.get_checkpoint()."""
    ckpt = tune.get_checkpoint()
    start = ckpt.to_dict()["i"] if ckpt else 0
    for i in range(start + 1, 100):
        tune.report(
            {"loss": config["q"] + 1.0 / i, "i": i},
            checkpoint=tune.Checkpoint.from_dict({"i": i}),
        )


def run(run_config, scheduler, name, concurrency):
    return tune.Tuner(
        curve,
        param_space={"q": tune.grid_search(Q)},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=scheduler, max_concurrent_trials=concurrency
        ),
        run_config=run_config(name=name),
    ).fit()


@pytest.mark.parametrize("concurrency", [1, 4])
def test_end_to_end_hyperband(run_config, concurrency):
    grid = run(run_config, HyperBandScheduler(max_t=MAX_T), f"hb{concurrency}", concurrency)
    assert not grid.errors
    iters = {r.config["q"]: r.metrics["training_iteration"] for r in grid}
    # paused trials resumed from their checkpoints: state and iteration count agree
    assert all(r.metrics["i"] == r.metrics["training_iteration"] for r in grid)
    # bracket s=0 (q 4, 0, 7): 3 trials straight to max_t
    assert [iters[q] for q in (4, 0, 7)] == [9, 9, 9]
    # bracket s=1 (q 2, 8, 1, 6, 3): milestone 3, best (q=1) goes on to 9; losers end at 3
    assert iters[1] == 9 and all(iters[q] == 3 for q in (2, 8, 6, 3))
    # bracket s=2 (the other 9): milestone 1 keeps q 5, 9, 10; milestone 3 keeps q=5
    assert iters[5] == 9 and iters[9] == 3 and iters[10] == 3
    assert all(iters[q] == 1 for q in (16, 12, 15, 14, 11, 13))
    assert sum(iters.values()) < 0.6 * len(Q) * MAX_T  # FIFO runs len(Q) * MAX_T
    assert grid.get_best_result().config["q"] == 0


def test_end_to_end_bohb_variant(run_config):
    grid = run(run_config, HyperBandForBOHB(max_t=MAX_T), "bohb", 2)
    assert not grid.errors
    iters = {r.config["q"]: r.metrics["training_iteration"] for r in grid}
    assert all(r.metrics["i"] == r.metrics["training_iteration"] for r in grid)
    # largest bracket first: the first nine (s=2) are halved twice, q=0 survives
    # (halvings forced once nothing runs end their losers at the milestone too)
    assert iters[0] == 9 and iters[1] == 3 and iters[2] == 3
    assert all(iters[q] == 1 for q in (4, 7, 8, 6, 3, 5))
    # s=1 (q 16, 12, 9, 15, 10): q=9 survives; s=0 (q 14, 11, 13): all to max_t
    assert iters[9] == 9 and all(iters[q] == 3 for q in (16, 12, 15, 10))
    assert [iters[q] for q in (14, 11, 13)] == [9, 9, 9]


def test_end_to_end_by_name(run_config):
    grid = run(run_config, "hyperband", "hb_name", 2)
    assert not grid.errors
    # default max_t=81: 17 trials fill brackets s=0 (5 trials to 81) and s=1 (8, milestone 27)
    # and 4 of s=2 (milestone 9): 5 + 2 + 1 reach 81, 6 stop at 27, 3 at 9
    iters = sorted(r.metrics["training_iteration"] for r in grid)
    assert iters == [9] * 3 + [27] * 6 + [81] * 8


# -- forced halving: losers end exactly at their rung's milestone ----------------------------
def successive_halving(qs, r0, max_t=MAX_T, eta=3):
    """Reference iterations at stop for one bracket of ``curve`` trials (rank = q, lower is
    better): each rung keeps the best floor(len/eta) (at least one), the rest stop exactly at
    the rung's milestone; the last rung's trials stop at max_t."""
    iters, live, r = {}, sorted(qs), r0
    while r < max_t and len(live) > 0:
        keep = max(1, len(live) // eta)
        for q in live[keep:]:
            iters[q] = r
        live, r = live[:keep], min(r * eta, max_t)
    for q in live:
        iters[q] = max_t
    return iters


def expected(brackets):
    out = {}
    for qs, r0 in brackets:
        out.update(successive_halving(qs, r0))
    return out


# Brackets for max_t=9, eta=3 as trials fill them: HyperBand s=0 (3 trials, r=9), s=1 (5, r=3),
# s=2 (9, r=1); HyperBandForBOHB the other way round. With fewer trials than a bracket's n the
# bracket closes with what it has: BOHB, which halves a bracket only once it is filled and
# everything else in it is paused, then forces the halving when nothing runs.
FORCED_CASES = {
    "bohb_5": (HyperBandForBOHB, Q[:5], [(Q[:5], 1)]),
    "bohb_12": (HyperBandForBOHB, Q[:12], [(Q[:9], 1), (Q[9:12], 3)]),
    "bohb_17": (HyperBandForBOHB, Q, [(Q[:9], 1), (Q[9:14], 3), (Q[14:], 9)]),
    "hb_17": (HyperBandScheduler, Q, [(Q[:3], 9), (Q[3:8], 3), (Q[8:], 1)]),
}


@pytest.mark.parametrize("concurrency", [1, 2, 4])
@pytest.mark.parametrize("case", sorted(FORCED_CASES))
def test_forced_halving_stops_losers_at_the_milestone(run_config, case, concurrency):
    """A rung halved with the trials at hand (the bracket closed unfilled, or the last trials
    paused together) ends its losers where they paused, at the rung's milestone: none is
    resumed for one more step before it is stopped."""
    cls, qs, brackets = FORCED_CASES[case]
    grid = tune.Tuner(
        curve,
        param_space={"q": tune.grid_search(qs)},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            scheduler=cls(max_t=MAX_T, reduction_factor=3),
            max_concurrent_trials=concurrency,
        ),
        run_config=run_config(name=f"{case}_{concurrency}"),
    ).fit()
    assert not grid.errors
    iters = {r.config["q"]: r.metrics["training_iteration"] for r in grid}
    # resumed from checkpoints, never repeated: state and iteration count agree
    assert all(r.metrics["i"] == r.metrics["training_iteration"] for r in grid)
    want = expected(brackets)
    # no trial runs past the milestone of the rung it stopped in; losers stop exactly there
    past = {q: (iters[q], want[q]) for q in qs if iters[q] != want[q]}
    assert not past, f"(iterations at stop, milestone) of trials off their milestone: {past}"
    assert grid.get_best_result().config["q"] == 0
