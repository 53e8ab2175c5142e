"""PB2: argument checks, configs kept inside the bounds, and a real run that beats a static
population on a problem whose best setting is known."""

from __future__ import annotations

import json
import os
import random

import pytest

pytest.importorskip("GPy")

import numpy as np  # noqa: E402

import tune  # noqa: E402
from tune.errors import TuneValueError  # noqa: E402
from tune.trainable.checkpoint import Checkpoint  # noqa: E402
from tune.trial import RUNNING, Trial  # noqa: E402
from tune_schedulers import PB2  # noqa: E402

STEPS = 24
BEST_LR = 0.7


def gain(lr: float) -> float:
    """Reward per step, best at lr = 0.7."""
    return 1.0 - 4.0 * (lr - BEST_LR) ** 2


def train_fn(config):
    w, step = 0.0, 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with open(os.path.join(checkpoint.path, "w.json")) as f:
            w, step = json.load(f)
    while step < STEPS:
        step += 1
        w += gain(config["lr"])
        d = os.path.join(tune.get_context().get_trial_dir(), f"tmp_{step}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "w.json"), "w") as f:
            json.dump([w, step], f)
        tune.report({"reward": w, "lr": config["lr"]}, checkpoint=Checkpoint.from_directory(d))


@pytest.mark.parametrize(
    "bounds, match",
    [
        (None, "hyperparam_bounds"),
        ({}, "hyperparam_bounds"),
        ({"lr": [1.0]}, r"hyperparam_bounds\['lr'\]"),
        ({"lr": [1.0, 0.0]}, "lower <= upper"),
        ({"opt": {"lr": "x"}}, r"hyperparam_bounds\['opt/lr'\]"),
    ],
)
def test_bad_bounds(bounds, match):
    with pytest.raises((TuneValueError, TypeError), match=match):
        PB2(metric="reward", mode="max", hyperparam_bounds=bounds)


def test_missing_values_are_drawn_inside_the_bounds():
    random.seed(0)
    pb2 = PB2(
        metric="reward",
        mode="max",
        hyperparam_bounds={"lr": [0.1, 0.2], "opt": {"m": [0.5, 0.6]}},
    )
    t = Trial("t0", {})
    pb2.on_trial_add(t)
    assert 0.1 <= t.config["lr"] <= 0.2 and 0.5 <= t.config["opt"]["m"] <= 0.6


def test_explored_configs_stay_inside_the_bounds(tmp_path):
    random.seed(1)
    np.random.seed(1)
    pb2 = PB2(
        metric="reward",
        mode="max",
        time_attr="training_iteration",
        perturbation_interval=1,
        quantile_fraction=0.5,
        hyperparam_bounds={"lr": [0.0, 1.0], "batch": [16, 64]},
        log_config=False,
    )
    trials = []
    for i in range(4):
        t = Trial(f"t{i}", {"lr": 0.1 * (i + 1), "batch": 16 + 8 * i})
        t.status = RUNNING
        t.checkpoint = Checkpoint(str(tmp_path))
        pb2.on_trial_add(t)
        trials.append(t)
    reward = {t.trial_id: 0.0 for t in trials}
    for step in range(1, 9):
        for t in trials:
            reward[t.trial_id] += gain(t.config["lr"])
            t.last_result = {"training_iteration": step}
            pb2.on_trial_result(t, {"training_iteration": step, "reward": reward[t.trial_id]})
            t.status = RUNNING  # the controller would relaunch a paused clone
            assert 0.0 <= t.config["lr"] <= 1.0
            assert 16 <= t.config["batch"] <= 64 and isinstance(t.config["batch"], int)
    assert pb2._num_perturbations > 0


def test_pb2_beats_a_static_population(run_config):
    random.seed(2)
    np.random.seed(2)
    start = [0.0, 0.05, 0.1, 0.15]  # all far from the best lr
    pb2 = PB2(
        time_attr="training_iteration",
        perturbation_interval=2,
        quantile_fraction=0.25,
        hyperparam_bounds={"lr": [0.0, 1.0]},
    )
    results = tune.Tuner(
        train_fn,
        param_space={"lr": tune.grid_search(start)},
        # inline: one trial at a time, so the order of results (and the GP's data) is the
        # same on every run.
        tune_config=tune.TuneConfig(
            scheduler=pb2, metric="reward", mode="max", executor="inline"
        ),
        run_config=run_config(name="pb2"),
    ).fit()
    assert not results.errors
    static_best = STEPS * max(gain(lr) for lr in start)
    best = results.get_best_result()
    assert best.metrics["reward"] > static_best
    for r in results:
        assert 0.0 <= r.config["lr"] <= 1.0
    # Some explored lr got much closer to the best setting than any starting one.
    assert min(abs(r.config["lr"] - BEST_LR) for r in results) < 0.4
