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
    PopulationBasedTraining,
    ResourceChangingScheduler,
)


def pb2():
    pytest.importorskip("GPy")
    from tune_schedulers import PB2

    return PB2(time_attr="training_iteration", perturbation_interval=2,
               hyperparam_bounds={"q": [1, 9]})


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
        lambda: PopulationBasedTraining(
            time_attr="training_iteration", perturbation_interval=2,
            hyperparam_mutations={"q": [1, 2, 3]},
        ),
        pb2,
        lambda: ResourceChangingScheduler(AsyncHyperBandScheduler(max_t=9)),
    ],
    ids=["asha", "median", "hyperband", "hb_bohb", "pbt", "pb2", "resource_changing"],
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


class CrashOnce(tune.Callback):
    """Fails the driver after a number of results, the first time only."""

    def __init__(self, after: int, flag: str) -> None:
        self.after, self.flag, self.seen = after, flag, 0

    def on_trial_result(self, iteration, trials, trial, result, **info):
        import os

        self.seen += 1
        if self.seen == self.after and not os.path.exists(self.flag):
            open(self.flag, "w").close()
            raise RuntimeError("driver crash")


def test_pbt_run_interrupted_and_restored_finishes(run_config, tmp_path):
    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=2,
        hyperparam_mutations={"q": [1, 2, 3, 4]},
        quantile_fraction=0.5,
    )
    crash = CrashOnce(after=12, flag=str(tmp_path / "crashed"))
    tuner = tune.Tuner(
        curve,
        param_space={"q": tune.grid_search([3, 1, 4, 2])},
        tune_config=tune.TuneConfig(metric="loss", mode="min", scheduler=pbt),
        run_config=run_config(name="pbt_crash", callbacks=[crash]),
    )
    with pytest.raises(RuntimeError, match="driver crash"):
        tuner.fit()
    path = str(tmp_path / "pbt_crash")
    restored = tune.Tuner.restore(path, trainable=curve)
    grid = restored.fit()
    assert not grid.errors and len(grid) == 4
    # Every trial reached the end of the curve (i runs to 9), from its checkpoints.
    assert all(r.metrics["i"] == 9 for r in grid)
