"""``Tuner``: the entry point that runs an experiment and returns a ``ResultGrid``.

``Tuner.restore(path, trainable)`` continues an interrupted experiment exactly where its
record ends; ``Tuner.can_restore(path)`` says whether there is one to continue.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any

from tune.config import RunConfig, TuneConfig
from tune.errors import TuneError, TuneValueError
from tune.experiment_builder import build_experiment, check_configs, check_param_space
from tune.restore import (
    TUNER_FILE,
    check_restorable,
    load_restored,
    load_tuner_settings,
)
from tune.storage import point_trials_at


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
        self._restored = None
        self._storage = None  # a StorageContext made by Tuner.restore
        self.experiment_path: str | None = None

    # ------------------------------------------------------------------------------ running
    def fit(self):
        """Run the experiment; returns a ``ResultGrid`` with one ``Result`` per trial."""
        from tune.controller import TuneController
        from tune.interrupts import InterruptHandler
        from tune.result_grid import ResultGrid

        # Pickled before build_experiment hands metric/mode to the plugins: a restored
        # scheduler or searcher must look exactly as the user made it.
        settings = self._settings_bytes() if self._restored is None else None
        spec, bus, executor = build_experiment(
            self._trainable,
            self._param_space,
            self._tune_config,
            self._run_config,
            storage=self._storage,
        )
        self._storage = None
        storage = spec.storage
        self.experiment_path = storage.experiment_path
        restored = self._restored
        self._restored = None
        if settings is not None:
            self._write_settings(spec.experiment_dir, settings)
        controller = TuneController(spec, bus, executor, restored)
        with InterruptHandler() as interrupts:
            try:
                self._trials = controller.run(interrupts)
            finally:
                storage.close()  # the last upload; raises StorageSyncError naming the URL
        if storage.is_remote:
            point_trials_at(self._trials, storage)
        self._result_grid = ResultGrid(
            self._trials, storage.experiment_path, metric=spec.metric, mode=spec.mode
        )
        if controller.interrupted:
            print(
                "Experiment interrupted; its state is saved. Continue it with:\n"
                f"    tune.Tuner.restore({self.experiment_path!r}, trainable=...).fit()",
                file=sys.stderr,
            )
        raise_exc = controller._failures.exception_to_raise
        if raise_exc is not None:
            raise raise_exc
        return self._result_grid

    def get_results(self):
        """The ``ResultGrid`` of the last ``fit()``, or of the restored experiment on disk."""
        if self._result_grid is None:
            if self.experiment_path is not None and self._restored is not None:
                from tune.analysis import ExperimentAnalysis
                from tune.result_grid import ResultGrid

                storage = self._storage
                if storage is None or not storage.is_remote:
                    return ResultGrid(ExperimentAnalysis(self.experiment_path))
                analysis = ExperimentAnalysis(storage.local_experiment_dir)
                point_trials_at(analysis.trials, storage)
                return ResultGrid(
                    analysis.trials,
                    storage.experiment_path,
                    metric=analysis.default_metric,
                    mode=analysis.default_mode,
                )
            raise TuneError("No results yet: call Tuner.fit() first.")
        return self._result_grid

    def _settings_bytes(self) -> bytes:
        """Pickle what ``Tuner.restore`` needs (everything but the trainable)."""
        import warnings

        import cloudpickle

        from tune.experiment_builder import trainable_name

        settings = {
            "trainable_name": trainable_name(self._trainable),
            "param_space": self._param_space,
            "tune_config": self._tune_config,
            "run_config": self._run_config,
        }
        try:
            data = cloudpickle.dumps(settings)
        except Exception as exc:  # noqa: BLE001 - a callback holding a lock, a socket...
            warnings.warn(
                f"RunConfig callbacks/progress_reporter cannot be pickled ({exc}); "
                "Tuner.restore will run without them.",
                stacklevel=3,
            )
            settings["run_config"] = dataclasses.replace(
                self._run_config, callbacks=None, progress_reporter=None
            )
            data = cloudpickle.dumps(settings)
        return data

    @staticmethod
    def _write_settings(experiment_dir: str, data: bytes) -> None:
        """Write the settings file atomically."""
        path = os.path.join(experiment_dir, TUNER_FILE)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    # ------------------------------------------------------------------------------ restoring
    @classmethod
    def restore(
        cls,
        path: str,
        trainable: Any,
        *,
        resume_unfinished: bool = True,
        resume_errored: bool = False,
        restart_errored: bool = False,
        param_space: dict | None = None,
    ) -> Tuner:
        """A Tuner that continues the experiment at ``path`` when ``fit()`` is called.

        Terminated trials keep their results; unfinished ones continue from their latest
        checkpoint; errored ones stay errored unless ``resume_errored`` (from their
        checkpoint) or ``restart_errored`` (from scratch). Searcher, scheduler, stoppers and
        callbacks continue from their saved state. ``param_space`` re-specifies objects
        that could not be saved; it must describe the same space.
        """
        from tune.experiment_builder import trainable_name
        from tune.plugins import make_trainable
        from tune.storage import StorageContext, is_url

        storage = None
        if is_url(os.fspath(path)):
            storage = StorageContext.for_restore(os.fspath(path))  # downloads into staging
            path = storage.local_experiment_dir
        else:
            path = os.path.abspath(os.path.expanduser(os.fspath(path)))
        check_restorable(path)
        settings = load_tuner_settings(path)
        trainable_cls = make_trainable(trainable)
        name = trainable_name(trainable_cls)
        if name != settings["trainable_name"]:
            raise TuneValueError(
                f"Invalid trainable={name!r}: the experiment at {path!r} was run with "
                f"{settings['trainable_name']!r}. Pass the same trainable (a function or "
                "class of that name) to Tuner.restore."
            )
        run_config = dataclasses.replace(
            settings["run_config"],
            storage_path=storage.storage_path if storage else os.path.dirname(path),
            name=os.path.basename(path),
        )
        tuner = cls(
            trainable,
            param_space=settings["param_space"] if param_space is None else param_space,
            tune_config=settings["tune_config"],
            run_config=run_config,
        )
        tuner.experiment_path = storage.experiment_path if storage else path
        tuner._storage = storage
        tuner._restored = load_restored(
            path,
            resume_unfinished=resume_unfinished,
            resume_errored=resume_errored,
            restart_errored=restart_errored,
        )
        return tuner

    @classmethod
    def can_restore(cls, path: str) -> bool:
        """Whether ``path`` holds an experiment that ``Tuner.restore`` can continue."""
        from tune.storage import exists, is_url

        if is_url(os.fspath(path)):
            return exists(os.fspath(path))
        path = os.path.abspath(os.path.expanduser(os.fspath(path)))
        return all(
            os.path.exists(os.path.join(path, name))
            for name in ("experiment_state.json", TUNER_FILE)
        )
