"""``tune.utils.validate_save_restore``: does a Trainable resume correctly from its checkpoint?"""

from __future__ import annotations

import math
import os
import pickle
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

from tune.errors import InsufficientResourcesError, invalid_type, invalid_value

_STEPS_BEFORE_SAVE = 3
_MISSING = object()


def validate_save_restore(
    trainable_cls: Any,
    config: dict | None = None,
    num_gpus: float = 0,
    use_object_store: bool = False,
    *,
    compare_state: bool = True,
) -> bool:
    """Check that ``trainable_cls`` will resume correctly from its checkpoints.

    As in Ray Tune: one instance trains 3 iterations and saves; a fresh instance restores
    that checkpoint and must then report ``training_iteration`` 4 and 5. Tune also checks
    that the restored instance saves the same state it was restored from (``compare_state``:
    a ``load_checkpoint`` that forgets part of what ``save_checkpoint`` wrote is caught
    here rather than hours into an experiment). Both instances run in this process, in a
    temporary directory that is removed afterwards.

    Example::

        from tune.utils import validate_save_restore

        validate_save_restore(MyTrainableClass, config={"lr": 0.01})

    :param trainable_cls: a ``tune.Trainable`` subclass (a function trainable is accepted
        too: it is wrapped as the executors would).
    :param config: the config both instances get (default ``{}``).
    :param num_gpus: GPUs the trainable expects (``trial_resources`` reports them); the
        check fails at once when this machine has fewer.
    :param use_object_store: accepted for Ray Tune compatibility; there is no object store
        here, checkpoints always go through a directory.
    :param compare_state: compare the state saved after the restore with the one saved
        before; switch it off for trainables whose saved state legitimately changes (a
        timestamp, say). Dict states are compared value by value; directory checkpoints by
        their file names.
    :returns: True when every check passes.
    :raises AssertionError: naming the check that failed and the likely cause (an error
        raised by ``save_checkpoint`` or ``load_checkpoint`` is chained as ``__cause__``).
    :raises TuneTypeError / TuneValueError: for bad arguments.
    """
    from tune.resources import PlacementGroupFactory
    from tune.trainable.trainable import Trainable, TrialInfo, construct

    cls = _as_trainable_class(trainable_cls, Trainable)
    if config is not None and not isinstance(config, dict):
        raise invalid_type("config", config, "expected a dict or None")
    if isinstance(num_gpus, bool) or not isinstance(num_gpus, (int, float)):
        raise invalid_type("num_gpus", num_gpus, "expected a number of GPUs >= 0")
    if num_gpus < 0 or math.isnan(num_gpus):
        raise invalid_value("num_gpus", num_gpus, "must be >= 0")
    if num_gpus > 0:
        from tune.execution.local import detect_gpu_ids

        found = len(detect_gpu_ids())
        if found < num_gpus:
            raise InsufficientResourcesError(
                f"validate_save_restore(num_gpus={num_gpus}) but this machine has {found} GPU(s) "
                "visible (CUDA_VISIBLE_DEVICES / nvidia-smi). Pass the number it has, or 0."
            )
    del use_object_store  # nothing to do: see the docstring
    name = cls.__name__
    bundle: dict[str, float] = {"CPU": 1.0}
    if num_gpus:
        bundle["GPU"] = float(num_gpus)
    resources = PlacementGroupFactory([bundle])
    root = tempfile.mkdtemp(prefix=f"validate_save_restore_{name}_")
    made: list[Any] = []

    def instance(label: str) -> Any:
        logdir = os.path.join(root, label)
        os.makedirs(logdir)
        info = TrialInfo(f"validate_{label}", f"{name}_{label}", logdir, "", "validate", resources)
        try:
            trainable = construct(cls, dict(config or {}), info)
        except Exception as exc:
            raise AssertionError(
                f"{name}(config) raised {type(exc).__name__}: {exc} (in setup())."
            ) from exc
        made.append(trainable)
        return trainable

    try:
        first = instance("original")
        result: dict = {}
        for step in range(_STEPS_BEFORE_SAVE):
            result = _train(first, f"{name}.step() (iteration {step + 1}, before saving)")
        if not result.get("training_iteration"):
            raise AssertionError(
                f"{name}'s results have no truthy training_iteration (got "
                f"{result.get('training_iteration')!r}); validation needs it. Do not override "
                "training_iteration in step()'s result, or count from 1."
            )
        saved = os.path.join(root, "original", f"checkpoint_{first.iteration:06d}")
        try:
            saved = first.save(saved)
        except Exception as exc:
            raise AssertionError(
                f"{name}.save_checkpoint() raised {type(exc).__name__}: {exc}"
            ) from exc

        second = instance("restored")
        try:
            second.restore(saved)
        except Exception as exc:
            raise AssertionError(
                f"{name}.load_checkpoint() raised {type(exc).__name__}: {exc} while restoring "
                f"the checkpoint {name}.save_checkpoint() had just written ({saved}). "
                "load_checkpoint receives the dict save_checkpoint returned, or the checkpoint "
                "directory when save_checkpoint wrote files and returned None."
            ) from exc
        if second.iteration != first.iteration:
            raise AssertionError(
                f"After restoring, {name} is at iteration {second.iteration}, expected "
                f"{first.iteration} (the iteration it was saved at)."
            )
        if compare_state:
            _compare_saved_state(name, second, saved, os.path.join(root, "resaved"))
        for expected in (_STEPS_BEFORE_SAVE + 1, _STEPS_BEFORE_SAVE + 2):
            result = _train(second, f"{name}.step() (iteration {expected}, after restoring)")
            got = result.get("training_iteration")
            if got != expected:
                raise AssertionError(
                    f"After restoring {name} from its checkpoint at iteration "
                    f"{_STEPS_BEFORE_SAVE}, a step reported training_iteration={got!r}; "
                    f"expected {expected}. The iteration count must continue from the "
                    "checkpoint (do not set training_iteration yourself in step(), or restore "
                    "it in load_checkpoint)."
                )
        return True
    finally:
        for trainable in made:
            try:
                trainable.stop()
            except Exception:  # noqa: BLE001,S110 - cleanup errors must not hide the verdict
                pass
        shutil.rmtree(root, ignore_errors=True)


def _as_trainable_class(obj: Any, base: type) -> type:
    if isinstance(obj, type):
        if issubclass(obj, base):
            return obj
        raise invalid_type(
            "trainable_cls", obj, "expected a tune.Trainable subclass (or a function trainable)"
        )
    if callable(obj):
        from tune.trainable.function_trainable import wrap_function

        return wrap_function(obj)
    raise invalid_type(
        "trainable_cls", obj, "expected a tune.Trainable subclass (or a function trainable)"
    )


def _train(trainable: Any, what: str) -> dict:
    try:
        return trainable.train()
    except Exception as exc:
        raise AssertionError(f"{what} raised {type(exc).__name__}: {exc}") from exc


def _compare_saved_state(name: str, restored: Any, saved: str, resave_dir: str) -> None:
    """Save the restored instance again; it must save what it was restored from."""
    from tune.trainable.checkpoint import DICT_CHECKPOINT_FILE

    try:
        resaved = restored.save(resave_dir)
    except Exception as exc:
        raise AssertionError(
            f"{name}.save_checkpoint() raised {type(exc).__name__}: {exc} when saving right "
            "after a restore."
        ) from exc
    before_file = os.path.join(saved, DICT_CHECKPOINT_FILE)
    after_file = os.path.join(resaved, DICT_CHECKPOINT_FILE)
    hint = (
        f"{name}.load_checkpoint() probably does not restore everything "
        f"{name}.save_checkpoint() saves. (If the saved state legitimately changes, e.g. it "
        "holds a timestamp, pass compare_state=False.)"
    )
    if os.path.exists(before_file) and os.path.exists(after_file):
        with open(before_file, "rb") as f:
            before = pickle.load(f)
        with open(after_file, "rb") as f:
            after = pickle.load(f)
        difference = _difference(before, after, "state")
        if difference is not None:
            raise AssertionError(
                f"Restoring {name} from its checkpoint and saving again gave a different state: "
                f"{difference}. {hint}"
            )
        return
    before_files = _files(saved)
    after_files = _files(resaved)
    if before_files != after_files:
        missing = sorted(before_files - after_files)
        extra = sorted(after_files - before_files)
        raise AssertionError(
            f"Restoring {name} from its checkpoint and saving again wrote different files "
            f"(missing: {missing or 'none'}; new: {extra or 'none'}). {hint}"
        )


def _files(directory: str) -> set[str]:
    from tune.trainable.checkpoint import METADATA_FILE
    from tune.trainable.trainable import TUNE_METADATA_FILE

    skip = {TUNE_METADATA_FILE, METADATA_FILE}
    found = set()
    for parent, _dirs, names in os.walk(directory):
        for file_name in names:
            rel = os.path.relpath(os.path.join(parent, file_name), directory)
            if rel not in skip:
                found.add(rel)
    return found


def _difference(a: Any, b: Any, where: str, depth: int = 0) -> str | None:
    """Where ``a`` and ``b`` differ (``None`` when equal or when it cannot be told)."""
    if depth > 50:
        return None
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if set(a) != set(b):
            return (
                f"{where} has keys {sorted(map(repr, a))} when saved, "
                f"{sorted(map(repr, b))} after the restore"
            )
        for key in a:
            found = _difference(a[key], b[key], f"{where}[{key!r}]", depth + 1)
            if found:
                return found
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        if len(a) != len(b):
            return f"{where} was {_short(a)} when saved, {_short(b)} after the restore"
        for i, (x, y) in enumerate(zip(a, b)):
            found = _difference(x, y, f"{where}[{i}]", depth + 1)
            if found:
                return found
        return None
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return None
    if type(a).__eq__ is object.__eq__ and type(a) is type(b):
        # No value equality (a plain object): compare its attributes instead.
        if hasattr(a, "__dict__") and hasattr(b, "__dict__"):
            return _difference(vars(a), vars(b), f"{where}.__dict__", depth + 1)
        return None
    if type(a).__module__ == "numpy" and type(b).__module__ == "numpy":
        try:
            import numpy as np

            return None if np.array_equal(a, b, equal_nan=True) else (
                f"{where} was {_short(a)} when saved, {_short(b)} after the restore"
            )
        except (TypeError, ValueError):
            pass  # non-numeric arrays: equal_nan does not apply
    try:
        equal = a == b
        if not isinstance(equal, bool):
            shape_a, shape_b = getattr(a, "shape", _MISSING), getattr(b, "shape", _MISSING)
            if shape_a is not _MISSING and shape_a != shape_b:
                equal = False
            else:
                equal = bool(equal.all()) if hasattr(equal, "all") else bool(equal)
    except Exception:  # noqa: BLE001 - values that cannot be compared are not reported
        return None
    if equal:
        return None
    return f"{where} was {_short(a)} when saved, {_short(b)} after the restore"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
