"""``Tuner``: the entry point that runs an experiment and returns a ``ResultGrid``."""

from __future__ import annotations

from typing import Any

from tune.config import RunConfig, TuneConfig
from tune.errors import TuneError
from tune.experiment_builder import build_experiment, check_configs, check_param_space


class Tuner:
    """Tune a trainable over a parameter space, as Ray Tune's ``Tuner``.

    Args:
        trainable: a function ``fn(config)`` that calls ``tune.report``, or a
            ``tune.Trainable`` subclass (optionally wrapped by ``tune.with_parameters`` /
            ``tune.with_resources``).
        param_space: the search space: a dict of constants, ``tune.uniform(...)`` and friends,
            ``tune.grid_search([...])``, nested dicts and lists.
        tune_config: ``tune.TuneConfig`` (metric, mode, search_alg, scheduler, num_samples...).
        run_config: ``tune.RunConfig`` (name, storage_path, stop, callbacks...).
    """

    def __init__(
        self,
        trainable: Any = None,
        *,
        param_space: dict | None = None,
        tune_config: TuneConfig | None = None,
        run_config: RunConfig | None = None,
    ) -> None:
        from tune.plugins import make_trainable

        if trainable is None:
            from tune.errors import invalid_type

            raise invalid_type(
                "trainable", trainable, "expected a function or a tune.Trainable subclass"
            )
        self._trainable = make_trainable(trainable)
        self._param_space = check_param_space(param_space)
        self._tune_config, self._run_config = check_configs(tune_config, run_config)
        self._result_grid = None
        self._trials: list = []

    def fit(self):
        """Run the experiment; returns a ``ResultGrid`` with one ``Result`` per trial."""
        from tune.controller import TuneController
        from tune.result_grid import ResultGrid

        spec, bus, executor = build_experiment(
            self._trainable, self._param_space, self._tune_config, self._run_config
        )
        controller = TuneController(spec, bus, executor)
        self._trials = controller.run()
        self.experiment_path = spec.experiment_dir
        self._result_grid = ResultGrid(
            self._trials, spec.experiment_dir, metric=spec.metric, mode=spec.mode
        )
        raise_exc = controller._failures.exception_to_raise
        if raise_exc is not None:
            raise raise_exc
        return self._result_grid

    def get_results(self):
        """The ``ResultGrid`` of the last ``fit()``."""
        if self._result_grid is None:
            raise TuneError("No results yet: call Tuner.fit() first.")
        return self._result_grid
