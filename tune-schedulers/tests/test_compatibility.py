"""The reference docs' scheduler compatibility matrix, enforced before any trial runs."""

from __future__ import annotations

import pytest

import tune
from tune.errors import TuneValueError
from tune.search import Searcher
from tune_schedulers import (
    ASHAScheduler,
    HyperBandForBOHB,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
)


class NoCheckpoints(tune.Trainable):
    def step(self):
        return {"loss": 1.0, "done": self.iteration >= 2}


class WithCheckpoints(NoCheckpoints):
    def save_checkpoint(self, checkpoint_dir):
        return {"i": self.iteration}

    def load_checkpoint(self, checkpoint):
        pass


class FixedSearcher(Searcher):
    def suggest(self, trial_id):
        return {"x": 1}


class BOHBLike(FixedSearcher):
    pairs_with_hyperband_for_bohb = True


def fit(trainable, scheduler, run_config, searcher=None):
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            scheduler=scheduler, search_alg=searcher, metric="loss", mode="min", num_samples=1
        ),
        run_config=run_config(),
    ).fit()


def pbt():
    return PopulationBasedTraining(hyperparam_mutations={"x": [1, 2]})


@pytest.mark.parametrize(
    "make", [HyperBandScheduler, HyperBandForBOHB, pbt], ids=["hyperband", "bohb", "pbt"]
)
def test_schedulers_that_pause_need_checkpoints(make, run_config):
    with pytest.raises(TuneValueError, match="needs checkpoints.*save_checkpoint"):
        fit(NoCheckpoints, make(), run_config)
    assert not fit(WithCheckpoints, make(), run_config).errors


@pytest.mark.parametrize("make", [ASHAScheduler, MedianStoppingRule], ids=["asha", "median"])
def test_stopping_schedulers_need_no_checkpoints_and_take_any_searcher(make, run_config):
    assert not fit(NoCheckpoints, make(), run_config, FixedSearcher()).errors


def test_hyperband_for_bohb_takes_only_tunebohb_or_random_search(run_config):
    with pytest.raises(TuneValueError, match="only with the TuneBOHB.*FixedSearcher"):
        fit(WithCheckpoints, HyperBandForBOHB(), run_config, FixedSearcher())
    assert not fit(WithCheckpoints, HyperBandForBOHB(), run_config, BOHBLike()).errors
    assert not fit(WithCheckpoints, HyperBandScheduler(), run_config, FixedSearcher()).errors


def test_pbt_takes_no_search_algorithm(run_config):
    with pytest.raises(TuneValueError, match="Search algorithms cannot be used with Population"):
        fit(WithCheckpoints, pbt(), run_config, FixedSearcher())
