"""``tune.with_parameters`` and ``tune.with_resources``: wrappers around a trainable.

``with_parameters`` attaches (large) objects to the trainable itself, never to configs, so
they are not copied into trial names, ``params.json`` or experiment state; the local
executor ships the pickled trainable once per worker process, not once per trial.
``with_resources`` attaches a resource request that becomes ``default_resource_request``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from tune.errors import invalid_type
from tune.resources import PlacementGroupFactory, to_placement_group_factory


def _is_trainable_class(obj: Any) -> bool:
    from tune.trainable.trainable import Trainable

    return isinstance(obj, type) and issubclass(obj, Trainable)


def with_parameters(trainable: Any, **kwargs: Any) -> Any:
    """Pass extra objects to a trainable: ``fn(config, **kwargs)`` or
    ``setup(self, config, **kwargs)`` for a Trainable class.

    Example::

        data = load_big_dataset()
        tuner = tune.Tuner(tune.with_parameters(train_fn, data=data), param_space=...)

    The objects travel with the trainable (pickled once, unpickled once per worker process)
    and are shared by the trials a worker runs: treat them as read-only.
    """
    from tune.trainable.function_trainable import FunctionTrainable, wrap_function

    if _is_trainable_class(trainable):
        if issubclass(trainable, FunctionTrainable) and trainable._function is not None:
            inner_fn = with_parameters(trainable._function, **kwargs)
            return wrap_function(inner_fn, name=trainable._name)
        params = dict(kwargs)
        base = trainable

        def setup(self: Any, config: dict) -> None:
            base.setup(self, config, **params)

        cls = type(
            base.__name__,
            (base,),
            {"setup": setup, "_tune_parameter_names": tuple(params), "__doc__": base.__doc__},
        )
        cls.__qualname__ = base.__qualname__
        cls._name = getattr(base, "_name", None) or base.__name__
        return cls
    if callable(trainable) and not isinstance(trainable, type):
        fn = trainable
        params = dict(kwargs)

        def inner(config: dict) -> Any:
            return fn(config, **params)

        functools.update_wrapper(inner, fn)
        inner._tune_parameter_names = tuple(params)  # type: ignore[attr-defined]
        return inner
    raise invalid_type(
        "trainable", trainable, "with_parameters expects a function or a tune.Trainable subclass"
    )


def _normalise(resources: Any, argument: str) -> PlacementGroupFactory | None:
    if resources is None:
        return None
    if isinstance(resources, PlacementGroupFactory):
        return resources
    if isinstance(resources, Mapping):
        return to_placement_group_factory(resources, argument)
    raise invalid_type(
        argument, resources, "expected a dict like {'cpu': 1, 'gpu': 0} or a PlacementGroupFactory"
    )


def static_resources(resources: Any) -> PlacementGroupFactory | None:
    """The fixed request of ``resources`` (None when it is a function of the config)."""
    if isinstance(resources, (PlacementGroupFactory, Mapping)):
        return _normalise(resources, "resources")
    return None


def resource_request_method(resources: Any) -> classmethod:
    """A ``default_resource_request`` classmethod answering with ``resources``."""
    fixed = static_resources(resources)

    def default_resource_request(cls: type, config: dict) -> PlacementGroupFactory | None:
        if fixed is not None:
            return fixed
        return _normalise(resources(config), "resources(config)")

    return classmethod(default_resource_request)


def with_resources(trainable: Any, resources: Any) -> Any:
    """Attach a resource request to a trainable.

    ``resources``: a dict like ``{"cpu": 2, "gpu": 0.5, "memory": 2e9, "custom": 1}``, a
    ``PlacementGroupFactory``, or a function ``config -> dict | PlacementGroupFactory``.
    """
    if isinstance(resources, (PlacementGroupFactory, Mapping)):
        _normalise(resources, "resources")  # validate now, before any trial starts
    elif not callable(resources):
        raise invalid_type(
            "resources",
            resources,
            "expected a dict like {'cpu': 1, 'gpu': 0}, a PlacementGroupFactory, or a function "
            "config -> either",
        )
    if _is_trainable_class(trainable):
        base = trainable
        cls = type(
            base.__name__,
            (base,),
            {
                "default_resource_request": resource_request_method(resources),
                "_static_resources": static_resources(resources),
                "__doc__": base.__doc__,
            },
        )
        cls.__qualname__ = base.__qualname__
        cls._name = getattr(base, "_name", None) or base.__name__
        return cls
    if callable(trainable) and not isinstance(trainable, type):
        fn: Callable = trainable

        def inner(config: dict, **kwargs: Any) -> Any:
            return fn(config, **kwargs)  # kwargs: from a with_parameters around this

        functools.update_wrapper(inner, fn)
        inner._resources = resources  # type: ignore[attr-defined]
        return inner
    raise invalid_type(
        "trainable", trainable, "with_resources expects a function or a tune.Trainable subclass"
    )
