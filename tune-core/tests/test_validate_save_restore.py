"""``tune.utils.validate_save_restore`` and ``diagnose_serialization`` on real trainables."""

from __future__ import annotations

import glob
import json
import os
import tempfile
import threading

import pytest

import tune
from tune.errors import InsufficientResourcesError, TuneTypeError, TuneValueError
from tune.utils import FailureTuple, diagnose_serialization, validate_save_restore

# ---- trainables -------------------------------------------------------------------------


class Counter(tune.Trainable):
    """Dict checkpoints; correct."""

    def setup(self, config):
        self.total = config.get("start", 0)
        self.history = []

    def step(self):
        self.total += 1
        self.history.append(self.total)
        return {"total": self.total}

    def save_checkpoint(self, checkpoint_dir):
        return {"total": self.total, "history": list(self.history)}

    def load_checkpoint(self, checkpoint):
        self.total = checkpoint["total"]
        self.history = list(checkpoint["history"])


class FileCounter(Counter):
    """Directory checkpoints; correct."""

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "state.json"), "w") as f:
            json.dump({"total": self.total, "history": self.history}, f)

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "state.json")) as f:
            state = json.load(f)
        self.total, self.history = state["total"], state["history"]


class LoadRaises(Counter):
    def load_checkpoint(self, checkpoint):
        self.total = checkpoint["totl"]  # a typo: KeyError


class LoadForgets(Counter):
    """load_checkpoint restores only part of the state."""

    def load_checkpoint(self, checkpoint):
        self.total = checkpoint["total"]


class LoadDoesNothing(Counter):
    def load_checkpoint(self, checkpoint):
        pass


class NoCheckpointing(tune.Trainable):
    def step(self):
        return {"x": 1}


class FixedIteration(Counter):
    def step(self):
        result = super().step()
        result["training_iteration"] = 1
        return result


class WritesFileOnlySometimes(FileCounter):
    """Writes optimizer.pt only when it has trained since its last restore."""

    def save_checkpoint(self, checkpoint_dir):
        super().save_checkpoint(checkpoint_dir)
        if not getattr(self, "_just_restored", False):
            with open(os.path.join(checkpoint_dir, "optimizer.pt"), "w") as f:
                f.write("x")

    def load_checkpoint(self, checkpoint_dir):
        super().load_checkpoint(checkpoint_dir)
        self._just_restored = True


class NumpyState(tune.Trainable):
    def setup(self, config):
        import numpy as np

        self.weights = np.zeros(4)
        self.weights[2] = np.nan

    def step(self):
        self.weights[0] += 1
        return {"w0": float(self.weights[0])}

    def save_checkpoint(self, checkpoint_dir):
        return {"weights": self.weights.copy()}

    def load_checkpoint(self, checkpoint):
        self.weights = checkpoint["weights"].copy()


class Model:
    """A plain object: no __eq__, compared by its attributes."""

    def __init__(self):
        self.w = [0.0]


class PlainObjectState(Counter):
    def setup(self, config):
        super().setup(config)
        self.model = Model()

    def step(self):
        self.model.w[0] += 0.5
        return super().step()

    def save_checkpoint(self, checkpoint_dir):
        return {"model": self.model, "total": self.total, "history": self.history}

    def load_checkpoint(self, checkpoint):
        super().load_checkpoint(checkpoint)
        self.model = checkpoint["model"]


class SetupFails(tune.Trainable):
    def setup(self, config):
        raise RuntimeError("no data")


def function_trainable(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        start = checkpoint.to_dict()["i"]
    for i in range(start, 10):
        tune.report({"i": i}, checkpoint=tune.Checkpoint.from_dict({"i": i + 1}))


# ---- validate_save_restore -----------------------------------------------------------------


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """Point tempfile at tmp_path so the test can see that nothing is left behind."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    yield tmp_path
    assert glob.glob(str(tmp_path / "validate_save_restore_*")) == []


@pytest.mark.parametrize("cls", [Counter, FileCounter, PlainObjectState])
def test_a_correct_trainable_passes(temp_root, cls):
    assert validate_save_restore(cls) is True
    assert validate_save_restore(cls, config={"start": 10}, use_object_store=True) is True


def test_numpy_state_with_nan_passes(temp_root):
    pytest.importorskip("numpy")
    assert validate_save_restore(NumpyState) is True


def test_a_function_trainable_passes(temp_root):
    assert validate_save_restore(function_trainable) is True


def test_load_checkpoint_that_raises(temp_root):
    with pytest.raises(AssertionError, match=r"LoadRaises.load_checkpoint\(\) raised KeyError") as info:
        validate_save_restore(LoadRaises)
    assert isinstance(info.value.__cause__, KeyError)
    assert "checkpoint_000003" in str(info.value)


def test_load_checkpoint_that_forgets_state(temp_root):
    with pytest.raises(AssertionError, match=r"state\['history'\] was \[1, 2, 3\] when saved, \[\]"):
        validate_save_restore(LoadForgets)
    with pytest.raises(AssertionError, match="load_checkpoint.. probably does not restore"):
        validate_save_restore(LoadDoesNothing)
    # Ray Tune's checks alone (iteration numbers) do not notice.
    assert validate_save_restore(LoadDoesNothing, compare_state=False) is True


def test_directory_checkpoint_that_loses_files(temp_root):
    with pytest.raises(AssertionError, match=r"missing: \['optimizer.pt'\]"):
        validate_save_restore(WritesFileOnlySometimes)


def test_save_checkpoint_not_implemented(temp_root):
    with pytest.raises(AssertionError, match=r"NoCheckpointing.save_checkpoint\(\) raised NotImplementedError"):
        validate_save_restore(NoCheckpointing)


def test_iteration_must_continue_after_restore(temp_root):
    with pytest.raises(AssertionError, match="training_iteration=1; expected 4"):
        validate_save_restore(FixedIteration)


def test_setup_failure_is_reported(temp_root):
    with pytest.raises(AssertionError, match=r"SetupFails\(config\) raised RuntimeError: no data"):
        validate_save_restore(SetupFails)


def test_bad_arguments():
    with pytest.raises(TuneTypeError, match="trainable_cls"):
        validate_save_restore(int)
    with pytest.raises(TuneTypeError, match="trainable_cls"):
        validate_save_restore("Counter")
    with pytest.raises(TuneTypeError, match="config"):
        validate_save_restore(Counter, config=[1])
    with pytest.raises(TuneValueError, match="num_gpus=-1"):
        validate_save_restore(Counter, num_gpus=-1)


def test_num_gpus_must_exist(monkeypatch, temp_root):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(InsufficientResourcesError, match=r"num_gpus=1\) but this machine has 0"):
        validate_save_restore(Counter, num_gpus=1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")

    class SeesResources(Counter):
        def step(self):
            result = super().step()
            result["gpus"] = self.trial_resources.required_resources().get("GPU")
            return result

    assert validate_save_restore(SeesResources, num_gpus=0.5) is True


def test_exported_from_tune_utils():
    assert tune.utils.validate_save_restore is validate_save_restore


# ---- diagnose_serialization ----------------------------------------------------------------

LOCK = threading.Lock()


def test_diagnose_serialization_finds_the_culprit(capsys):
    # Defined here, so cloudpickle ships them by value (with the globals they use), as it
    # does for functions defined in a script; module-level functions of an importable
    # module travel by reference.
    def uses_lock(config):
        with LOCK:
            tune.report({"x": 1})

    def fine(config):
        tune.report({"x": config["x"]})

    assert diagnose_serialization(fine) is True
    assert "Serialization succeeded" in capsys.readouterr().out
    failures = diagnose_serialization(uses_lock)
    assert isinstance(failures, set) and len(failures) == 1
    (failure,) = failures
    assert isinstance(failure, FailureTuple)
    assert failure.name == "LOCK" and failure.obj is LOCK and failure.parent is uses_lock
    out = capsys.readouterr().out
    assert "FAIL: LOCK" in out and "tune.with_parameters" in out


def test_diagnose_serialization_looks_inside_closures_and_classes(capsys):
    event = threading.Event()

    def helper():
        return event.is_set()

    def outer(config):
        helper()

    (failure,) = diagnose_serialization(outer)
    assert failure.name == "event" and failure.obj is event and failure.parent is helper

    class Holder(tune.Trainable):
        resource = threading.Lock()

        def step(self):
            return {}

    names = {f.name for f in diagnose_serialization(Holder)}
    assert "Holder.resource" in names
    capsys.readouterr()
