"""Trainables: the class API (``Trainable``), function trainables, the in-trial session
(``report``, ``get_checkpoint``, ``get_context``), ``Checkpoint`` and the wrappers
``with_parameters`` / ``with_resources``. Names are imported lazily."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Trainable": "tune.trainable.trainable",
    "FunctionTrainable": "tune.trainable.function_trainable",
    "wrap_function": "tune.trainable.function_trainable",
    "Checkpoint": "tune.trainable.checkpoint",
    "report": "tune.trainable.session",
    "get_checkpoint": "tune.trainable.session",
    "get_context": "tune.trainable.session",
    "TuneContext": "tune.trainable.session",
    "with_parameters": "tune.trainable.util",
    "with_resources": "tune.trainable.util",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tune.trainable' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
