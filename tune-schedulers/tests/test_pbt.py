"""PopulationBasedTraining: explore rules, quantiles, exploit decisions on synthetic trials,
and real runs (asynchronous and synchronous) that clone checkpoints and log the policy."""

from __future__ import annotations

import json
import os
import random

import pytest

import tune
from tune.errors import TuneError, TuneValueError
from tune.execution.executor import SAVE
from tune.schedulers.trial_scheduler import TrialScheduler
from tune.trainable.checkpoint import Checkpoint
from tune.trial import PAUSED, RUNNING, Trial
from tune_schedulers.pbt import PopulationBasedTraining
from tune_schedulers.pbt_explore import explore, make_experiment_tag

CONTINUE, PAUSE = TrialScheduler.CONTINUE, TrialScheduler.PAUSE


def make(**kw):
    kw.setdefault("metric", "score")
    kw.setdefault("mode", "max")
    kw.setdefault("time_attr", "training_iteration")
    kw.setdefault("perturbation_interval", 2)
    kw.setdefault("hyperparam_mutations", {"lr": tune.uniform(0.0, 1.0)})
    kw.setdefault("log_config", False)
    return PopulationBasedTraining(**kw)


def population(pbt, lrs, tmp_path=None):
    trials = []
    for i, lr in enumerate(lrs):
        t = Trial(f"t{i}", {"lr": lr}, experiment_tag=f"{i}_lr={lr}")
        if tmp_path is not None:
            t.path = str(tmp_path / f"t{i}")
            t.experiment_path = str(tmp_path)
        t.status = RUNNING
        pbt.on_trial_add(t)
        trials.append(t)
    return trials


# ---------------------------------------------------------------------------- explore
def test_explore_perturbs_by_the_given_factors():
    random.seed(0)
    seen = set()
    for _ in range(50):
        new, ops = explore({"lr": 0.5}, {"lr": tune.uniform(0, 1)}, 0.0, (3.0, 0.5))
        seen.add(round(new["lr"] / 0.5, 6))
        assert ops["lr"] in ("* 3.0", "* 0.5")
    assert seen == {3.0, 0.5}


def test_explore_lists_shift_to_a_neighbour_or_resample():
    random.seed(1)
    values = [1, 2, 3, 4]
    for _ in range(30):
        new, ops = explore({"bs": 2}, {"bs": values}, 0.0, (1.2, 0.8))
        assert new["bs"] in (1, 3) and ops["bs"].startswith("shift")
    new, ops = explore({"bs": 99}, {"bs": values}, 0.0, (1.2, 0.8))
    assert new["bs"] in values and ops["bs"] == "resample"  # not in the list: resampled
    new, ops = explore({"bs": 1}, {"bs": values}, 1.0, (1.2, 0.8))
    assert ops["bs"] == "resample"


def test_explore_nested_callables_ints_and_custom_fn():
    random.seed(2)
    new, ops = explore(
        {"opt": {"lr": 0.1, "steps": 10}, "other": 1},
        {"opt": {"lr": lambda: 0.7, "steps": tune.randint(1, 100)}},
        0.0,
        (2.0, 2.0),
        custom_explore_fn=lambda c: {**c, "other": 5},
    )
    assert new["opt"] == {"lr": 0.2, "steps": 20} and isinstance(new["opt"]["steps"], int)
    assert new["other"] == 5 and ops == {"opt": {"lr": "* 2.0", "steps": "* 2.0"}}
    new, _ = explore({"lr": 0.1}, {"lr": lambda: 0.7}, 1.0, (2.0, 2.0))
    assert new["lr"] == 0.7  # resampled from the callable


def test_experiment_tag():
    assert make_experiment_tag("3_lr=0.1", {"lr": 0.25, "x": 1}, {"lr": [1]}) == (
        "3_lr=0.1@perturbed[lr=0.2500]"
    )


# ---------------------------------------------------------------------------- decisions
def test_bottom_quantile_clones_the_top_and_perturbs(tmp_path):
    random.seed(3)
    pbt = make(quantile_fraction=0.25, perturbation_factors=(1.2, 0.8))
    trials = population(pbt, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], tmp_path)
    for t in trials:
        t.checkpoint = Checkpoint(str(tmp_path / f"{t.trial_id}_ckpt"))
    # Scores follow the index, so t6/t7 are top, t0/t1 bottom. In the first round the early
    # reporters are ranked among few; the second round ranks everyone.
    score = {t.trial_id: i for i, t in enumerate(trials)}
    for t in reversed(trials):
        pbt.on_trial_result(t, {"training_iteration": 2, "score": score[t.trial_id]})
    decisions = {}
    for t in reversed(trials):
        decisions[t.trial_id] = pbt.on_trial_result(
            t, {"training_iteration": 4, "score": score[t.trial_id]}
        )
    assert decisions["t7"] == SAVE and decisions["t6"] == SAVE  # sources save now
    assert all(decisions[f"t{i}"] == CONTINUE for i in range(2, 6))
    for i in (0, 1):
        t = trials[i]
        assert decisions[t.trial_id] == PAUSE
        source = next(s for s in trials[6:] if t.pending_restore == s.checkpoint.path)
        ratio = t.config["lr"] / source.config["lr"]
        assert ratio == pytest.approx(1.2) or ratio == pytest.approx(0.8)
        assert t.experiment_tag.startswith(f"{i}_lr=") and "@perturbed[lr=" in t.experiment_tag
    assert "2 checkpoints, 2 perturbs" in pbt.debug_string()


def test_no_exploit_from_a_trial_without_checkpoint():
    pbt = make(quantile_fraction=0.5)
    low, high = population(pbt, [0.1, 0.9])
    assert pbt.on_trial_result(high, {"training_iteration": 2, "score": 0.9}) == CONTINUE
    assert pbt.on_trial_result(low, {"training_iteration": 2, "score": 0.1}) == CONTINUE
    assert low.pending_restore is None and low.config == {"lr": 0.1}


def test_interval_and_burn_in():
    pbt = make(quantile_fraction=0.5, perturbation_interval=3, burn_in_period=5)
    low, high = population(pbt, [0.1, 0.9])
    high.checkpoint = Checkpoint("/tmp/x")
    for it in (1, 2, 3, 4):
        assert pbt.on_trial_result(high, {"training_iteration": it, "score": 1.0}) == CONTINUE
        assert pbt.on_trial_result(low, {"training_iteration": it, "score": 0.0}) == CONTINUE
    # Burn-in over: ranked from now on. The first to report has no one to rank against,
    # and a bottom trial copies only a trial that was top at its own perturbation.
    assert pbt.on_trial_result(high, {"training_iteration": 5, "score": 1.0}) == CONTINUE
    assert pbt.on_trial_result(low, {"training_iteration": 5, "score": 0.0}) == CONTINUE
    for it in (6, 7):
        assert pbt.on_trial_result(high, {"training_iteration": it, "score": 1.0}) == CONTINUE
    assert pbt.on_trial_result(high, {"training_iteration": 8, "score": 1.0}) == SAVE
    assert pbt.on_trial_result(low, {"training_iteration": 8, "score": 0.0}) == PAUSE
    assert low.pending_restore == "/tmp/x"


def test_waiting_trials_take_turns():
    pbt = make(quantile_fraction=0.25)
    a, b, c = population(pbt, [0.1, 0.5, 0.9])
    c.status = PAUSED
    assert pbt.on_trial_result(a, {"training_iteration": 2, "score": 0.1}) == PAUSE
    chosen = pbt.choose_trial_to_run([c])
    assert chosen is c


def test_missing_attrs():
    pbt = make()
    (t,) = population(pbt, [0.1])
    with pytest.raises(TuneError, match="training_iteration"):
        pbt.on_trial_result(t, {"score": 1})
    with pytest.raises(TuneError, match="'score'"):
        pbt.on_trial_result(t, {"training_iteration": 1})
    lenient = make(require_attrs=False)
    (t,) = population(lenient, [0.1])
    assert lenient.on_trial_result(t, {"score": 1}) == CONTINUE


def test_missing_params_are_filled_from_the_mutations():
    random.seed(4)
    pbt = make(hyperparam_mutations={"lr": [0.5], "opt": {"m": lambda: 0.9}})
    t = Trial("t0", {"other": 1})
    pbt.on_trial_add(t)
    assert t.config == {"other": 1, "lr": 0.5, "opt": {"m": 0.9}}
    assert t.evaluated_params["lr"] == 0.5


def test_state_round_trip():
    pbt = make(quantile_fraction=0.5)
    low, high = population(pbt, [0.1, 0.9])
    pbt.on_trial_result(low, {"training_iteration": 2, "score": 0.1})
    pbt.on_trial_result(high, {"training_iteration": 2, "score": 0.9})
    fresh = make(quantile_fraction=0.5)
    fresh.set_state(pbt.get_state())
    assert fresh._state["t1"].last_score == 0.9 and fresh._state["t1"].is_source
    assert "_trials" not in pbt.get_state()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"hyperparam_mutations": {}}, "hyperparam_mutations"),
        ({"hyperparam_mutations": {"lr": 3}}, r"hyperparam_mutations\['lr'\]"),
        ({"hyperparam_mutations": {"lr": []}}, "non-empty"),
        ({"quantile_fraction": 0.6}, "quantile_fraction"),
        ({"perturbation_interval": 0}, "perturbation_interval"),
        ({"resample_probability": 2}, "resample_probability"),
        ({"perturbation_factors": (1.2,)}, "perturbation_factors"),
        ({"synch": "yes"}, "synch"),
        ({"mode": "maximize"}, "mode"),
        ({"custom_explore_fn": 5}, "custom_explore_fn"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((TuneValueError, TypeError), match=match):
        make(**kwargs)


# ---------------------------------------------------------------------------- real runs
def train_fn(config):
    """``w`` grows by ``lr`` per step; the checkpoint carries ``w`` (what clones inherit)."""
    w, step = 0.0, 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with open(os.path.join(checkpoint.path, "w.json")) as f:
            w, step = json.load(f)
    while step < config.get("steps", 12):
        step += 1
        w += config["lr"]
        d = os.path.join(tune.get_context().get_trial_dir(), f"tmp_{step}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "w.json"), "w") as f:
            json.dump([w, step], f)
        tune.report(
            {"score": w, "lr": config["lr"], "step": step},
            checkpoint=Checkpoint.from_directory(d),
        )


@pytest.mark.parametrize("synch", [False, True])
def test_pbt_end_to_end_clones_checkpoints_and_logs_the_policy(run_config, synch):
    random.seed(5)
    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=3,
        hyperparam_mutations={"lr": tune.uniform(0.0, 0.01)},
        quantile_fraction=0.25,
        resample_probability=0.0,
        perturbation_factors=(1.0, 1.0),  # a clone keeps the source's lr exactly
        synch=synch,
    )
    lrs = [0.01, 0.1, 1.0, 10.0]
    results = tune.Tuner(
        train_fn,
        # 13 steps: even a clone made at the last perturbation (12) reports once more
        param_space={"lr": tune.grid_search(lrs), "steps": 13},
        # Synchronous PBT ranks everyone at each barrier: clones happen whatever the timing.
        # Asynchronous PBT ranks trials in the order they report, so it runs inline (one
        # trial at a time, taking turns) to make that order, and the clones, repeatable.
        tune_config=tune.TuneConfig(
            scheduler=pbt, metric="score", mode="max", executor="local" if synch else "inline"
        ),
        run_config=run_config(name=f"pbt_{synch}"),
    ).fit()
    assert not results.errors
    exp_dir = results.experiment_path
    rows = [json.loads(x) for x in open(os.path.join(exp_dir, "pbt_global.txt"))]
    assert rows, "no exploit happened"
    # The worst trial (lr=0.01) was cloned from a better one: it ends with a better lr and
    # far more than 13 * 0.01, which it would reach alone.
    worst = next(r for r in results if r.metrics["experiment_tag"].startswith("0_"))
    assert worst.config["lr"] > 0.01
    assert worst.metrics["score"] > 1.0
    assert worst.metrics["step"] == 13  # resumed from the source's step, not from zero
    assert "@perturbed[lr=" in worst.metrics["experiment_tag"]
    policy = os.path.join(exp_dir, f"pbt_policy_{worst.metrics['trial_id']}.txt")
    assert os.path.exists(policy)
    # Every row: [target tag, source tag, target step, source step, source config, new config]
    target_tag, source_tag, _, source_step, source_conf, new_conf = rows[0]
    assert source_step % 3 == 0 and new_conf["lr"] == source_conf["lr"]


def test_pbt_rejects_search_algorithms_and_non_checkpointing_classes(run_config):
    from tune.search import Searcher

    class MySearcher(Searcher):
        def suggest(self, trial_id):
            return {"lr": 0.1}

    with pytest.raises(TuneValueError, match="Search algorithms cannot be used"):
        tune.Tuner(
            train_fn,
            tune_config=tune.TuneConfig(
                scheduler=make(), search_alg=MySearcher(), metric="score", mode="max"
            ),
            run_config=run_config(),
        ).fit()

    class NoCheckpoints(tune.Trainable):
        def step(self):
            return {"score": 1}

    with pytest.raises(TuneValueError, match="needs checkpoints"):
        tune.Tuner(
            NoCheckpoints,
            tune_config=tune.TuneConfig(scheduler=make()),
            run_config=run_config(),
        ).fit()


class Counter(tune.Trainable):
    """A class trainable: PBT asks top trials to save (SAVE) rather than waiting for one."""

    def setup(self, config):
        self.w = 0.0

    def step(self):
        self.w += self.config["lr"]
        return {"score": self.w, "done": self.iteration >= 9}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "w"), "w") as f:
            f.write(repr(self.w))

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "w")) as f:
            self.w = float(f.read())


def test_pbt_with_a_class_trainable_saves_sources_on_request(run_config):
    random.seed(6)
    pbt = make(
        metric=None,
        mode=None,
        perturbation_interval=2,
        perturbation_factors=(1.0, 1.0),
        resample_probability=0.0,
    )
    results = tune.Tuner(
        Counter,
        param_space={"lr": tune.grid_search([0.01, 1.0, 2.0, 3.0])},
        # inline for a repeatable order of results (see the function trainable test above)
        tune_config=tune.TuneConfig(scheduler=pbt, metric="score", mode="max", executor="inline"),
        run_config=run_config(name="pbt_class"),
    ).fit()
    assert not results.errors
    worst = next(r for r in results if r.metrics["experiment_tag"].startswith("0_"))
    assert worst.config["lr"] >= 1.0 and worst.metrics["score"] > 5
    # No checkpoint_frequency was set: the sources' checkpoints came from SAVE requests.
    top = next(r for r in results if r.metrics["experiment_tag"].startswith("3_"))
    assert any(n.startswith("checkpoint_") for n in os.listdir(top.path))
