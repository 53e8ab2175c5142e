"""Turns what the user passed to ``Tuner`` into a ready experiment: spec, bus and executor.

Every argument is checked here, before any trial starts; each mistake raises an error that
names the argument, the value and what is accepted.
"""

from __future__ import annotations

import os
from typing import Any

from tune import env
from tune.bus import ExperimentBus
from tune.config import RunConfig, TuneConfig
from tune.errors import (
    InsufficientResourcesError,
    TuneValueError,
    invalid_type,
    invalid_value,
)
from tune.execution.executor import Executor
from tune.experiment import experiment_name
from tune.experiment_spec import ExperimentSpec
from tune.trial_timeout import check_executor_can_kill


def trainable_name(trainable_cls: type) -> str:
    return getattr(trainable_cls, "_name", None) or trainable_cls.__name__


def check_picklable(argument: str, value: Any) -> None:
    """Raise naming the offending key when ``value`` cannot be shipped to a worker."""
    import cloudpickle

    try:
        cloudpickle.dumps(value)
        return
    except Exception as exc:  # noqa: BLE001 - any pickling failure is the user's to fix
        error = exc
    where = argument
    if isinstance(value, dict):
        for key, item in value.items():
            try:
                cloudpickle.dumps(item)
            except Exception:  # noqa: BLE001
                where = f"{argument}[{key!r}]"
                break
    raise TuneValueError(
        f"Invalid {where}: it cannot be pickled ({type(error).__name__}: {error}), so it cannot "
        "be sent to the processes that run trials. Pass large or unpicklable objects with "
        "tune.with_parameters(trainable, name=obj) and build them inside the trainable."
    ) from error


def _stop_setting(stop: Any, bus: ExperimentBus) -> dict:
    """Register stopper objects; return the ``{key: threshold}`` criteria of a dict."""
    from tune.stopper import FunctionStopper, Stopper

    if stop is None:
        return {}
    if isinstance(stop, dict):
        for key, threshold in stop.items():
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
                raise invalid_type(f"stop[{key!r}]", threshold, "expected a number threshold")
        return dict(stop)
    if isinstance(stop, Stopper):
        bus.register(stop, "stopper")
        return {}
    if callable(stop):
        bus.register(FunctionStopper(stop), "stopper")
        return {}
    raise invalid_type("stop", stop, "expected a dict, a function (trial_id, result) -> bool or a Stopper")


def _searcher(tune_config: TuneConfig) -> Any:
    from tune.plugins import create_searcher
    from tune.search.basic_variant import BasicVariantGenerator
    from tune.search.searcher import Searcher

    searcher = tune_config.search_alg
    if searcher is None:
        return BasicVariantGenerator()
    if isinstance(searcher, str):
        return create_searcher(searcher)
    if not isinstance(searcher, Searcher):
        raise invalid_type("search_alg", searcher, "expected a tune.search.Searcher or a searcher name")
    return searcher


def _scheduler(tune_config: TuneConfig) -> Any:
    from tune.plugins import create_scheduler
    from tune.schedulers import FIFOScheduler, TrialScheduler

    scheduler = tune_config.scheduler
    if scheduler is None:
        return FIFOScheduler()
    if isinstance(scheduler, str):
        return create_scheduler(scheduler)
    if not isinstance(scheduler, TrialScheduler):
        raise invalid_type(
            "scheduler", scheduler, "expected a tune.schedulers.TrialScheduler or a scheduler name"
        )
    return scheduler


def _conflict(role: str) -> TuneValueError:
    return TuneValueError(
        f"You passed metric/mode to TuneConfig, but the {role} was created with its own metric "
        f"and mode. Remove them from the {role} or from TuneConfig."
    )


def _callbacks(run_config: RunConfig, metric: str | None, mode: str | None, bus: ExperimentBus) -> None:
    from tune.callback import Callback
    from tune.logger import CSVLoggerCallback, JsonLoggerCallback
    from tune.progress_reporter import ReporterCallback, default_reporter

    callbacks = list(run_config.callbacks or [])
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            raise invalid_type(f"callbacks[{i}]", cb, "expected a tune.Callback instance")
    defaults: list = []
    if not env.flag("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"):
        for cls in (JsonLoggerCallback, CSVLoggerCallback):
            if not any(isinstance(cb, cls) for cb in callbacks):
                defaults.append(cls())
        defaults.extend(_plugin_default_loggers(callbacks))
    # Call order: the default loggers first (a result is on disk before any user callback can
    # fail on it), then RunConfig(callbacks=[...]) in list order, as Ray Tune calls them.
    # pluggy calls the last registered first, hence the reversed registration.
    for cb in reversed(defaults + callbacks):
        bus.register(cb, "callback")
    verbose = 1 if run_config.verbose is None else run_config.verbose
    reporter = run_config.progress_reporter
    if verbose > 0 or reporter is not None:
        if reporter is None:
            reporter = default_reporter(metric=metric, mode=mode, verbose=verbose)
        bus.register(ReporterCallback(reporter, verbose=verbose, metric=metric, mode=mode), "reporter")


def _plugin_default_loggers(callbacks: list) -> list:
    """Loggers plugins make default when their library is installed (TensorBoard when
    tensorboardX is), unless the user already passed one of the same class."""
    from tune.plugins import get_registry

    registry = get_registry()
    extra = []
    for entry in registry.default_loggers():
        cls = registry.resolve("logger", entry.name)
        if not any(isinstance(cb, cls) for cb in callbacks):
            extra.append(cls())
    return extra


def _executor(tune_config: TuneConfig) -> Executor:
    from tune.plugins import create_executor

    executor = tune_config.executor
    if executor is None:
        executor = "local"
    if isinstance(executor, str):
        return create_executor(executor)
    if not isinstance(executor, Executor):
        raise invalid_type("executor", executor, "expected an executor name ('local', 'inline') or an Executor")
    return executor


def build_experiment(
    trainable_cls: type,
    param_space: dict,
    tune_config: TuneConfig,
    run_config: RunConfig,
    storage: Any = None,
) -> tuple[ExperimentSpec, ExperimentBus, Executor]:
    """Assemble the experiment's plugins on a fresh bus and pick its executor."""
    metric, mode = tune_config.metric, tune_config.mode
    bus = ExperimentBus()
    searcher = _searcher(tune_config)
    bus.register(searcher, "searcher")
    spec_info = {"num_samples": tune_config.num_samples, "time_budget_s": tune_config.time_budget_s}
    if bus.searcher_configure(metric, mode, param_space, spec_info) is False:
        from tune.search.variant_generator import has_unresolved_values

        if has_unresolved_values(param_space):
            raise TuneValueError(
                "Invalid param_space: it has search-space definitions, but the search "
                f"algorithm {type(searcher).__name__} was created with its own search space. "
                "Define the space in one place only: the searcher or param_space."
            )
    executor = _executor(tune_config)
    scheduler = _scheduler(tune_config)
    bus.register(scheduler, "scheduler")
    scheduler_info = {
        **spec_info,
        "searcher_class": type(searcher),
        "searcher_classes": _searcher_classes(searcher),
        "trainable_can_checkpoint": trainable_can_checkpoint(trainable_cls),
        "checkpoint_frequency": run_config.checkpoint_config.checkpoint_frequency,
        "total_resources": dict(executor.total_resources()),
    }
    if bus.scheduler_configure(metric, mode, scheduler_info) is False and (metric or mode):
        raise _conflict("scheduler")
    stop_criteria = _stop_setting(run_config.stop, bus)
    _callbacks(run_config, metric, mode, bus)

    name = trainable_name(trainable_cls)
    exp_name = experiment_name(run_config.name, name)
    if storage is None:  # Tuner.restore passes the context that downloaded the experiment
        from tune.storage import StorageContext

        storage = StorageContext(
            run_config.storage_path, exp_name, getattr(run_config, "storage_filesystem", None)
        )
    exp_dir = storage.local_experiment_dir
    os.makedirs(exp_dir, exist_ok=True)

    checkpoint_config = run_config.checkpoint_config
    failure_config = run_config.failure_config
    spec = ExperimentSpec(
        trainable=trainable_cls,
        trainable_name=name,
        param_space=param_space,
        experiment_dir=exp_dir,
        storage=storage,
        experiment_name=exp_name,
        metric=metric,
        mode=mode,
        num_samples=tune_config.num_samples,
        max_concurrent_trials=tune_config.max_concurrent_trials,
        time_budget_s=tune_config.time_budget_s,
        stop_criteria=stop_criteria,
        stop=run_config.stop,
        reuse_actors=tune_config.reuse_actors,
        checkpoint_frequency=checkpoint_config.checkpoint_frequency,
        checkpoint_at_end=bool(checkpoint_config.checkpoint_at_end),
        checkpoint_config=checkpoint_config,
        trial_timeout_s=tune_config.trial_timeout_s,
        max_failures=failure_config.max_failures,
        fail_fast=failure_config.fail_fast,
        log_files=run_config.log_files(),
        trial_name_creator=tune_config.trial_name_creator,
        trial_dirname_creator=tune_config.trial_dirname_creator,
        adaptive_searcher=not getattr(searcher, "counts_own_samples", False),
        total_num_samples=getattr(searcher, "total_samples", None)
        or (None if tune_config.num_samples == -1 else tune_config.num_samples),
    )
    _check_static_resources(trainable_cls, executor)
    check_executor_can_kill(tune_config.trial_timeout_s, executor)
    return spec, bus, executor


def _searcher_classes(searcher: Any) -> tuple[type, ...]:
    """The searcher's class and those of the searchers it wraps (ConcurrencyLimiter,
    Repeater...), outermost first."""
    from tune.search.searcher import Searcher

    classes = [type(searcher)]
    inner = getattr(searcher, "searcher", None)
    while isinstance(inner, Searcher) and len(classes) < 16:
        classes.append(type(inner))
        inner = getattr(inner, "searcher", None)
    return tuple(classes)


def trainable_can_checkpoint(trainable_cls: type) -> bool | None:
    """Whether trials can save checkpoints: a class trainable only if it overrides
    ``save_checkpoint``; ``None`` for functions (they may report checkpoints or not)."""
    from tune.trainable.function_trainable import FunctionTrainable
    from tune.trainable.trainable import Trainable

    if issubclass(trainable_cls, FunctionTrainable):
        return None
    return getattr(trainable_cls, "save_checkpoint", None) is not getattr(
        Trainable, "save_checkpoint", None
    )


def _check_static_resources(trainable_cls: type, executor: Executor) -> None:
    """A fixed resource request that can never fit is reported before anything runs."""
    from tune.resources import to_placement_group_factory

    request = getattr(trainable_cls, "_static_resources", None)
    if request is None:
        return
    needed = to_placement_group_factory(request).required_resources()
    if not executor.fits_ever(needed):
        raise InsufficientResourcesError(
            f"Invalid resources={dict(needed)}: every trial needs more than the "
            f"{executor.name} executor has ({dict(executor.total_resources())}). Lower the "
            "request or add resources."
        )


def check_param_space(param_space: Any) -> dict:
    if param_space is None:
        return {}
    if not isinstance(param_space, dict):
        raise invalid_type("param_space", param_space, "expected a dict of parameters")
    check_picklable("param_space", param_space)
    return param_space


def check_configs(tune_config: Any, run_config: Any) -> tuple[TuneConfig, RunConfig]:
    tune_config = TuneConfig() if tune_config is None else tune_config
    run_config = RunConfig() if run_config is None else run_config
    if not isinstance(tune_config, TuneConfig):
        raise invalid_type("tune_config", tune_config, "expected tune.TuneConfig")
    if not isinstance(run_config, RunConfig):
        raise invalid_type("run_config", run_config, "expected tune.RunConfig")
    if tune_config.num_samples == 0:
        raise invalid_value("num_samples", 0, "must be -1 (no limit) or an integer >= 1")
    return tune_config, run_config
