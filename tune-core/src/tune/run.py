"""``tune.run``: the older entry point, kept for scripts written against Ray Tune's older guide.

It maps its keyword arguments onto ``TuneConfig`` / ``RunConfig``, runs a ``Tuner`` and
returns an ``ExperimentAnalysis``.
"""

from __future__ import annotations

from typing import Any

from tune.config import CheckpointConfig, FailureConfig, RunConfig, TuneConfig
from tune.errors import TuneError


def run(
    run_or_experiment: Any,
    *,
    name: str | None = None,
    metric: str | None = None,
    mode: str | None = None,
    stop: Any = None,
    time_budget_s: float | None = None,
    config: dict | None = None,
    resources_per_trial: Any = None,
    num_samples: int = 1,
    storage_path: str | None = None,
    local_dir: str | None = None,
    search_alg: Any = None,
    scheduler: Any = None,
    keep_checkpoints_num: int | None = None,
    checkpoint_score_attr: str | None = None,
    checkpoint_freq: int = 0,
    checkpoint_at_end: bool = False,
    checkpoint_config: CheckpointConfig | None = None,
    verbose: int = 3,
    progress_reporter: Any = None,
    log_to_file: bool | str | tuple = False,
    trial_name_creator: Any = None,
    trial_dirname_creator: Any = None,
    max_failures: int = 0,
    fail_fast: bool | str = False,
    reuse_actors: bool = False,
    raise_on_failed_trial: bool = True,
    callbacks: list | None = None,
    max_concurrent_trials: int | None = None,
    executor: Any = None,
):
    """Run an experiment and return its ``ExperimentAnalysis`` (Ray Tune's ``tune.run``).

    ``raise_on_failed_trial=True`` raises ``TuneError`` after the run if any trial errored.
    ``local_dir`` is the older name of ``storage_path``.
    """
    from tune.analysis import ExperimentAnalysis
    from tune.trainable.util import with_resources
    from tune.tuner import Tuner

    trainable = run_or_experiment
    if resources_per_trial is not None:
        trainable = with_resources(trainable, resources_per_trial)
    if checkpoint_config is None:
        order = "max"
        attr = checkpoint_score_attr
        if attr and attr.startswith("min-"):
            order, attr = "min", attr[4:]
        checkpoint_config = CheckpointConfig(
            num_to_keep=keep_checkpoints_num,
            checkpoint_score_attribute=attr,
            checkpoint_score_order=order,
            checkpoint_frequency=checkpoint_freq,
            checkpoint_at_end=checkpoint_at_end,
        )
    tuner = Tuner(
        trainable,
        param_space=config,
        tune_config=TuneConfig(
            metric=metric,
            mode=mode,
            search_alg=search_alg,
            scheduler=scheduler,
            num_samples=num_samples,
            max_concurrent_trials=max_concurrent_trials,
            time_budget_s=time_budget_s,
            reuse_actors=reuse_actors,
            trial_name_creator=trial_name_creator,
            trial_dirname_creator=trial_dirname_creator,
            executor=executor,
        ),
        run_config=RunConfig(
            name=name,
            storage_path=storage_path or local_dir,
            stop=stop,
            callbacks=callbacks,
            checkpoint_config=checkpoint_config,
            failure_config=FailureConfig(max_failures=max_failures, fail_fast=fail_fast),
            progress_reporter=progress_reporter,
            verbose=verbose,
            log_to_file=log_to_file,
        ),
    )
    tuner.fit()
    trials = tuner._trials
    errored = [t for t in trials if t.status == "ERROR"]
    if errored and raise_on_failed_trial:
        raise TuneError(f"Trials did not complete: {[str(t) for t in errored]}")
    return ExperimentAnalysis(
        tuner.experiment_path, trials=trials, default_metric=metric, default_mode=mode
    )
