"""PopulationBasedTrainingReplay: reading policy files, and replaying a real PBT trial's
schedule to the same end state in one run."""

from __future__ import annotations

import json
import os
import random
import sys

import pytest

import tune
from tune.errors import TuneValueError
from tune_schedulers import PopulationBasedTraining, PopulationBasedTrainingReplay
from tune_schedulers.pbt_replay import load_policy

sys.path.insert(0, os.path.dirname(__file__))
from test_pbt import train_fn  # noqa: E402


def write_rows(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def test_load_policy_follows_the_lineage(tmp_path):
    path = tmp_path / "pbt_policy_x.txt"
    write_rows(
        path,
        [
            ["B", "Z", 2, 2, {"lr": 9}, {"lr": 8}],  # overwritten history: not in the chain
            ["B", "A", 3, 3, {"lr": 1}, {"lr": 2}],
            ["C", "B", 7, 6, {"lr": 2}, {"lr": 3}],
        ],
    )
    initial, policy = load_policy(str(path))
    assert initial == {"lr": 1}
    assert policy == [(3, {"lr": 2}), (6, {"lr": 3})]


def test_bad_policy_files(tmp_path):
    with pytest.raises(TuneValueError, match="policy_file"):
        PopulationBasedTrainingReplay(str(tmp_path / "missing.txt"))
    with pytest.raises(TuneValueError, match="experiment_dir and"):
        PopulationBasedTrainingReplay()
    bad = tmp_path / "pbt_policy_bad.txt"
    bad.write_text("not json\n")
    with pytest.raises(TuneValueError, match="line 1"):
        PopulationBasedTrainingReplay(str(bad))


def test_replay_reaches_the_same_state_as_the_pbt_trial(run_config):
    random.seed(7)
    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=3,
        hyperparam_mutations={"lr": tune.uniform(0.0, 0.01)},
        quantile_fraction=0.25,
        resample_probability=0.0,
        perturbation_factors=(2.0, 2.0),
    )
    results = tune.Tuner(
        train_fn,
        # 13 steps: a clone made at the last perturbation (step 12) still reports after it,
        # so every trial's final result reflects the state its schedule led to.
        param_space={"lr": tune.grid_search([0.01, 0.1, 1.0, 10.0]), "steps": 13},
        # inline: trials take turns in a fixed order, so which trials get cloned is repeatable
        tune_config=tune.TuneConfig(scheduler=pbt, metric="score", mode="max", executor="inline"),
        run_config=run_config(name="pbt_source"),
    ).fit()
    cloned = [
        r for r in results
        if os.path.exists(
            os.path.join(results.experiment_path, f"pbt_policy_{r.metrics['trial_id']}.txt")
        )
    ]
    assert cloned
    original = cloned[0]
    replay = PopulationBasedTrainingReplay(
        experiment_dir=results.experiment_path, trial_id=original.metrics["trial_id"]
    )
    replayed = tune.Tuner(
        train_fn,
        tune_config=tune.TuneConfig(scheduler=replay),
        run_config=run_config(name="pbt_replay"),
    ).fit()
    assert not replayed.errors and len(replayed) == 1
    result = replayed[0]
    # w is the sum of the lr used at each step: the same schedule gives the same w.
    assert result.metrics["score"] == pytest.approx(original.metrics["score"])
    assert result.config == original.config
    assert result.metrics["step"] == 13
    assert "replayed" in replay.debug_string()


def test_replay_takes_one_trial_only(run_config, tmp_path):
    path = tmp_path / "pbt_policy_y.txt"
    write_rows(path, [["B", "A", 3, 3, {"lr": 1.0}, {"lr": 2.0}]])
    with pytest.raises(TuneValueError, match="num_samples"):
        tune.Tuner(
            train_fn,
            tune_config=tune.TuneConfig(
                scheduler=PopulationBasedTrainingReplay(str(path)), num_samples=2
            ),
            run_config=run_config(),
        ).fit()
