"""``tune.utils.diagnose_serialization``: which objects keep a trainable from being pickled."""

from __future__ import annotations

import functools
import inspect
import pickle
from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 3


class FailureTuple:
    """One object that cannot be pickled: ``obj``, the ``name`` it is known by and the
    ``parent`` that refers to it (as in Ray Tune)."""

    __slots__ = ("obj", "name", "parent")

    def __init__(self, obj: Any, name: str, parent: Any) -> None:
        self.obj = obj
        self.name = name
        self.parent = parent

    def _key(self) -> tuple:
        return (self.name, id(self.obj), id(self.parent))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FailureTuple) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"FailureTuple(name={self.name!r}, obj={_short(self.obj)}, parent={_short(self.parent)})"


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break the diagnosis
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 80 else text[:77] + "..."


def _dumps_error(obj: Any) -> Exception | None:
    import cloudpickle

    try:
        cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - any pickling error is the answer
        return exc
    return None


def diagnose_serialization(trainable: Any) -> bool | set[FailureTuple]:
    """Find out why ``trainable`` cannot be pickled (Ray Tune's utility of the same name).

    Trainables are pickled (cloudpickle) to reach worker processes, so a function that
    refers to a lock, an open file, a database connection or a CUDA context fails to
    launch. This tries to pickle the trainable; when that fails it checks each global and
    closure variable the function (or the class's methods and attributes,
    ``with_parameters`` objects included) refers to, and prints what it finds.

    Example::

        import threading
        lock = threading.Lock()

        def train_fn(config):
            with lock:
                ...

        tune.utils.diagnose_serialization(train_fn)
        # prints: FAIL: variable 'lock' (a lock) ... ; returns {FailureTuple(name='lock', ...)}

    Fix: create such objects inside the trainable, or pass them with
    ``tune.with_parameters`` if they can be pickled themselves.

    :returns: True if the trainable can be pickled, else the set of ``FailureTuple``
        (``obj``, ``name``, ``parent``) found (possibly empty when the culprit could not be
        narrowed down).
    """
    print(f"Trying to serialize {_short(trainable)}...")
    error = _dumps_error(trainable)
    if error is None:
        print("Serialization succeeded: the trainable can be sent to worker processes.")
        return True
    print(f"Serialization failed ({type(error).__name__}: {error}). Checking what it refers to...")
    failures: set[FailureTuple] = set()
    _inspect(trainable, failures, 0, set())
    if failures:
        for failure in sorted(failures, key=lambda f: f.name):
            print(
                f"FAIL: {failure.name} = {_short(failure.obj)} (referred to by "
                f"{_short(failure.parent)}) cannot be pickled."
            )
        print(
            "Create these objects inside the trainable, or pass them with tune.with_parameters "
            "if they can be pickled themselves."
        )
    else:
        print(
            "No single global or closure variable was found at fault; the trainable object "
            "itself may hold the unpicklable state."
        )
    return failures


def _references(obj: Any) -> list[tuple[str, Any]]:
    """``(name, value)`` of what ``obj`` refers to that pickling would have to carry."""
    from tune.trainable.function_trainable import FunctionTrainable

    if isinstance(obj, functools.partial):
        named = [("func", obj.func)]
        named += [(f"args[{i}]", v) for i, v in enumerate(obj.args)]
        named += [(f"keywords[{k!r}]", v) for k, v in (obj.keywords or {}).items()]
        return named
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        try:
            closure = inspect.getclosurevars(obj)
        except (TypeError, ValueError):
            return []
        named = [(n, v) for n, v in closure.nonlocals.items()]
        named += [
            (n, v) for n, v in closure.globals.items() if not inspect.ismodule(v) and n != "print"
        ]
        return named
    if isinstance(obj, type):
        named = []
        if issubclass(obj, FunctionTrainable) and obj._function is not None:
            named.append(("_function", obj._function))
        for klass in obj.__mro__:
            if klass.__module__ in ("builtins",) or klass.__module__.startswith("tune."):
                continue
            for attr, value in vars(klass).items():
                if attr.startswith("__") and attr.endswith("__"):
                    continue
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                named.append((f"{klass.__name__}.{attr}", value))
        return named
    if isinstance(obj, Mapping):
        return [(f"[{k!r}]", v) for k, v in obj.items()]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [(f"[{i}]", v) for i, v in enumerate(obj)]
    # Other objects are reported themselves: the variable the user wrote is what to fix,
    # not the lock buried in its attributes.
    return []


def _inspect(obj: Any, failures: set[FailureTuple], depth: int, seen: set[int]) -> bool:
    """Add the unpicklable objects ``obj`` refers to; True when some were found below it."""
    if depth > _MAX_DEPTH or id(obj) in seen:
        return False
    seen.add(id(obj))
    found = False
    for name, value in _references(obj):
        if _dumps_error(value) is None:
            continue
        # Report the deepest culprit; the container only when nothing inside explains it.
        if not _inspect(value, failures, depth + 1, seen):
            failures.add(FailureTuple(value, name, obj))
        found = True
    return found
