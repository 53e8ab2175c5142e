"""Each scheduler's state is saved with the experiment and loads into a fresh instance."""

from __future__ import annotations

import pytest

import tune
from tune.restore import load_restored
from tune_schedulers import (
    AsyncHyperBandScheduler,
    HyperBandForBOHB,
    HyperBandScheduler,
    MedianStoppingRule,
)


def curve(config):
    ckpt = tune.get_checkpoint()
    start = ckpt.to_dict()["i"] if ckpt else 0
    for i in range(start + 1, 10):
        tune.report(
            {"loss": config["q"] + 1.0 / i, "i": i},
            checkpoint=tune.Checkpoint.from_dict({"i": i}),
        )


@pytest.mark.parametrize(
    "make",
    [
        lambda: AsyncHyperBandScheduler(max_t=9, reduction_factor=3),
        lambda: MedianStoppingRule(time_attr="training_iteration", grace_period=1),
        lambda: HyperBandScheduler(max_t=9),
        lambda: HyperBandForBOHB(max_t=9),
    ],
    ids=["asha", "median", "hyperband", "hb_bohb"],
)
def test_state_saved_with_experiment(run_config, make):
    scheduler = make()
    grid = tune.Tuner(
        curve,
        param_space={"q": tune.grid_search([3, 1, 4, 1.5, 5, 9, 2, 6])},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=scheduler, max_concurrent_trials=2
        ),
        run_config=run_config(name="saved"),
    ).fit()
    assert not grid.errors
    restored = load_restored(
        grid.experiment_path,
        resume_unfinished=True,
        resume_errored=False,
        restart_errored=False,
    )
    assert restored.scheduler_state is not None
    fresh = make()
    fresh.set_state(restored.scheduler_state)
    assert fresh.debug_string() == scheduler.debug_string()
    assert (fresh.metric, fresh.mode) == ("loss", "min")
