"""Trainables on their own: the class API, function wrapping, Checkpoint, the session
functions outside a trial, with_parameters and with_resources."""

from __future__ import annotations

import os
import pickle

import pytest

from tune.errors import TuneTypeError, TuneValueError
from tune.resources import PlacementGroupFactory
from tune.trainable.checkpoint import Checkpoint
from tune.trainable.function_trainable import FunctionTrainable, wrap_function
from tune.trainable.session import get_checkpoint, get_context, report
from tune.trainable.trainable import Trainable
from tune.trainable.util import with_parameters, with_resources


class Adder(Trainable):
    def setup(self, config, offset=0):
        self.total = config.get("start", 0) + offset

    def step(self):
        self.total += 1
        return {"total": self.total}

    def save_checkpoint(self, checkpoint_dir):
        return {"total": self.total}

    def load_checkpoint(self, checkpoint):
        self.total = checkpoint["total"]


class FileAdder(Adder):
    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "total"), "w") as f:
            f.write(str(self.total))

    def load_checkpoint(self, checkpoint):
        assert isinstance(checkpoint, str)
        with open(os.path.join(checkpoint, "total")) as f:
            self.total = int(f.read())


# ---- Trainable ----------------------------------------------------------------------------


def test_train_fills_automatic_fields():
    t = Adder({"start": 10})
    r1 = t.train()
    r2 = t.train()
    assert (r1["total"], r2["total"]) == (11, 12)
    assert (r1["training_iteration"], r2["training_iteration"]) == (1, 2)
    assert t.iteration == t.training_iteration == 2
    for key in ("time_this_iter_s", "time_total_s", "timestamp", "date", "done", "trial_id",
                "hostname", "node_ip", "pid", "iterations_since_restore", "time_since_restore"):
        assert key in r2
    assert r2["done"] is False and r2["pid"] == os.getpid()
    assert r2["time_total_s"] >= r1["time_total_s"]
    assert t.trial_id == "default" and os.path.isdir(t.logdir)


def test_setup_gets_a_copy_of_the_config():
    class Mutates(Trainable):
        def setup(self, config):
            config["changed"] = True

        def step(self):
            return {}

    config = {"a": 1}
    t = Mutates(config)
    assert config == {"a": 1} and t.config is config


def test_user_overrides_of_automatic_fields_are_kept():
    class Custom(Trainable):
        def step(self):
            return {"time_this_iter_s": 5.0, "done": True}

    t = Custom()
    r = t.train()
    assert r["time_this_iter_s"] == 5.0 and r["time_total_s"] == 5.0 and r["done"] is True


def test_step_must_return_a_dict():
    class Bad(Trainable):
        def step(self):
            return None

    with pytest.raises(TuneTypeError, match="must return a dict"):
        Bad().train()


def test_save_and_restore_dict_checkpoint(tmp_path):
    t = Adder({"start": 0})
    for _ in range(3):
        t.train()
    path = t.save(str(tmp_path / "ck"))
    assert Checkpoint(path).to_dict() == {"total": 3}
    fresh = Adder({"start": 100})
    fresh.restore(path)
    assert fresh.total == 3 and fresh.iteration == 3
    r = fresh.train()
    assert r["training_iteration"] == 4 and r["iterations_since_restore"] == 1


def test_save_and_restore_directory_checkpoint(tmp_path):
    t = FileAdder({})
    t.train()
    path = t.save()
    assert os.path.basename(path) == "checkpoint_000001"
    fresh = FileAdder({})
    fresh.restore(Checkpoint(path))
    assert fresh.total == 1


def test_checkpointing_without_implementation_says_what_to_implement(tmp_path):
    class Plain(Trainable):
        def step(self):
            return {}

    with pytest.raises(NotImplementedError, match="save_checkpoint"):
        Plain().save(str(tmp_path))


def test_reset_uses_reset_config():
    class Resettable(Adder):
        def reset_config(self, new_config):
            self.total = new_config["start"]
            return True

    t = Resettable({"start": 1})
    t.train()
    assert t.reset({"start": 50})
    assert t.config == {"start": 50} and t.iteration == 0 and t.train()["total"] == 51
    assert not Adder({}).reset({"start": 2})


def test_default_resource_request_is_none():
    assert Adder.default_resource_request({}) is None


# ---- function trainables ------------------------------------------------------------------


def objective(config):
    for i in range(3):
        report({"score": config["x"] * i})


def test_wrap_function_names_and_attributes():
    cls = wrap_function(objective)
    assert issubclass(cls, FunctionTrainable) and cls._function is objective
    assert cls.__name__ == cls._name == "objective"
    assert wrap_function(lambda config: None)._name == "lambda"
    assert wrap_function(objective, name="custom")._name == "custom"
    with pytest.raises(TuneTypeError, match="trainable"):
        wrap_function(42)


def test_function_trainable_runs_through_step():
    t = wrap_function(objective)({"x": 2})
    results = [t.train() for _ in range(3)]
    assert [r["score"] for r in results] == [0, 2, 4]
    assert [r["training_iteration"] for r in results] == [1, 2, 3]
    assert t.train()["done"] is True
    t.stop()


def test_function_trainable_step_propagates_errors():
    def broken(config):
        raise KeyError("missing")

    t = wrap_function(broken)({})
    with pytest.raises(KeyError, match="missing"):
        t.train()


def test_function_trainable_step_with_checkpoints(tmp_path):
    def saves(config):
        ckpt = get_checkpoint()
        start = ckpt.to_dict()["i"] + 1 if ckpt else 0
        for i in range(start, start + 2):
            report({"i": i}, checkpoint=Checkpoint.from_dict({"i": i}))

    t = wrap_function(saves)({})
    assert t.train()["i"] == 0
    path = t.save(str(tmp_path / "ck"))
    t.stop()
    t2 = wrap_function(saves)({})
    t2.restore(path)
    assert t2.train()["i"] == 1
    t2.stop()


# ---- Checkpoint ---------------------------------------------------------------------------


def test_checkpoint_from_directory(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_text("data")
    ckpt = Checkpoint.from_directory(src)
    assert ckpt.path == str(src) and ckpt.filesystem is None
    with ckpt.as_directory() as d:
        assert open(os.path.join(d, "f.txt")).read() == "data"
    copy = ckpt.to_directory(str(tmp_path / "copy"))
    assert open(os.path.join(copy, "f.txt")).read() == "data"
    assert open(os.path.join(ckpt.to_directory(), "f.txt")).read() == "data"
    assert pickle.loads(pickle.dumps(ckpt)) == ckpt
    assert repr(ckpt) == f"Checkpoint(filesystem=local, path={src})"
    with pytest.raises(TuneValueError, match="holds no dict"):
        ckpt.to_dict()


def test_checkpoint_from_dict(tmp_path):
    ckpt = Checkpoint.from_dict({"step": 3})
    assert ckpt.to_dict() == {"step": 3}
    assert pickle.loads(pickle.dumps(ckpt)).to_dict() == {"step": 3}
    with ckpt.as_directory() as d:
        assert Checkpoint(d).to_dict() == {"step": 3}
    target = ckpt.to_directory(str(tmp_path / "out"))
    assert Checkpoint(target).to_dict() == {"step": 3}
    assert Checkpoint(ckpt.path).to_dict() == {"step": 3}
    with pytest.raises(TuneTypeError, match="data"):
        Checkpoint.from_dict([1])
    with pytest.raises(TuneTypeError, match="path"):
        Checkpoint(3)


def test_checkpoint_metadata(tmp_path):
    ckpt = Checkpoint(str(tmp_path))
    assert ckpt.get_metadata() == {}
    ckpt.set_metadata({"a": 1})
    ckpt.update_metadata({"b": 2})
    assert ckpt.get_metadata() == {"a": 1, "b": 2}


# ---- session outside a trial --------------------------------------------------------------


def test_session_functions_outside_a_trial():
    with pytest.raises(RuntimeError, match="outside of a running trial"):
        report({"x": 1})
    with pytest.raises(RuntimeError, match="outside of a running trial"):
        get_context()
    assert get_checkpoint() is None


# ---- with_parameters ----------------------------------------------------------------------


def takes_data(config, data, scale=1):
    report({"value": len(data) * scale + config["x"]})


def test_with_parameters_function():
    fn = with_parameters(takes_data, data=[1, 2, 3], scale=10)
    assert fn.__name__ == "takes_data" and fn._tune_parameter_names == ("data", "scale")
    t = wrap_function(fn)({"x": 1})
    assert t.train()["value"] == 31
    assert t.config == {"x": 1}
    t.stop()


def test_with_parameters_class():
    cls = with_parameters(Adder, offset=100)
    assert cls.__name__ == "Adder" and issubclass(cls, Adder)
    t = cls({"start": 1})
    assert t.train()["total"] == 102 and t.config == {"start": 1}


def test_with_parameters_of_a_wrapped_function_class():
    cls = with_parameters(wrap_function(takes_data), data=[0])
    assert issubclass(cls, FunctionTrainable) and cls._name == "takes_data"
    t = cls({"x": 5})
    assert t.train()["value"] == 6
    t.stop()


def test_with_parameters_rejects_other_things():
    with pytest.raises(TuneTypeError, match="trainable"):
        with_parameters(42, data=1)
    with pytest.raises(TuneTypeError, match="trainable"):
        with_parameters(dict, data=1)


# ---- with_resources -----------------------------------------------------------------------


def test_with_resources_dict_on_a_function():
    fn = with_resources(objective, {"cpu": 0.5, "gpu": 1})
    cls = wrap_function(fn)
    request = cls.default_resource_request({})
    assert isinstance(request, PlacementGroupFactory)
    assert request.required_resources() == {"CPU": 0.5, "GPU": 1.0}
    assert cls._static_resources == request and cls._name == "objective"


def test_with_resources_placement_group_and_callable_on_a_class():
    pgf = PlacementGroupFactory([{"CPU": 1}, {"CPU": 2}])
    cls = with_resources(Adder, pgf)
    assert cls.default_resource_request({}) is pgf and cls._static_resources is pgf
    assert cls.__name__ == "Adder"
    dynamic = with_resources(Adder, lambda config: {"cpu": config["n"]})
    assert dynamic.default_resource_request({"n": 3}).required_resources() == {"CPU": 3.0}
    assert dynamic._static_resources is None


def test_with_resources_then_with_parameters_keeps_both():
    fn = with_parameters(with_resources(takes_data, {"cpu": 2}), data=[1])
    cls = wrap_function(fn)
    assert cls.default_resource_request({}).required_resources() == {"CPU": 2.0}
    t = cls({"x": 0})
    assert t.train()["value"] == 1
    t.stop()


def test_with_resources_validates_input():
    with pytest.raises(TuneValueError, match="CPU"):
        with_resources(objective, {"cpu": -1})
    with pytest.raises(TuneTypeError, match="resources"):
        with_resources(objective, 3)
    with pytest.raises(TuneTypeError, match="trainable"):
        with_resources("objective", {"cpu": 1})
    bad = with_resources(Adder, lambda config: 7)
    with pytest.raises(TuneTypeError, match="resources"):
        bad.default_resource_request({})
