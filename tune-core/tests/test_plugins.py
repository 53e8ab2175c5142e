"""Registry behaviour: add/resolve, name lookup, unknown-name messages, create_* factories."""

from __future__ import annotations

import collections
import json
import warnings

import pluggy
import pytest

import tune.plugins as plugins
from tune.errors import (
    PluginNotInstalledError,
    TuneTypeError,
    TuneValueError,
    UnknownPluginNameError,
)
from tune.plugins import PluginInfo, Registry


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.add_searcher("ordered", "collections:OrderedDict", class_names=["OrderedDict"])
    reg.add_callback("counter", "collections:Counter")
    reg.add_stopper("dumps", "json:dumps")
    reg.add_logger("fancy", "tune_no_such_module_xyz:Logger", extra="tune-loggers[fancy]")
    reg.add_executor("nested", "os:path.join")
    return reg


@pytest.fixture
def global_registry(monkeypatch: pytest.MonkeyPatch, registry: Registry) -> Registry:
    """Install ``registry`` as the process-wide one for this test only."""
    monkeypatch.setattr(plugins, "_registry", registry)
    monkeypatch.setattr(plugins, "_global_pm", plugins.get_plugin_manager())
    return registry


def test_add_and_resolve(registry: Registry) -> None:
    assert registry.resolve("searcher", "ordered") is collections.OrderedDict
    assert registry.resolve("stopper", "dumps") is json.dumps
    import os.path

    assert registry.resolve("executor", "nested") is os.path.join
    assert registry.names("searcher") == ["ordered"]
    assert registry.names("scheduler") == []


def test_lookup_is_case_insensitive_and_accepts_class_names(registry: Registry) -> None:
    assert registry.resolve("searcher", "ORDERED") is collections.OrderedDict
    assert registry.resolve("searcher", "OrderedDict") is collections.OrderedDict
    assert registry.resolve_class("searcher", "OrderedDict") is collections.OrderedDict
    assert registry.class_names("searcher") == ["OrderedDict"]


def test_entry_remembers_plugin_class_names_and_extra() -> None:
    reg = Registry()
    info = PluginInfo("mine", "my_mod", "my-dist", "1.2")
    reg._current_plugin = info
    reg.add_scheduler("s", "collections:deque", class_names=("Deque",), extra="my-dist[x]")
    reg._current_plugin = None
    (entry,) = reg.entries("scheduler")
    assert entry.plugin is info
    assert (entry.plugin_name, entry.distribution, entry.version) == ("mine", "my-dist", "1.2")
    assert entry.class_names == ("Deque",)
    assert entry.extra == "my-dist[x]"
    assert entry.module == "collections"


def test_unknown_name_lists_known_names(registry: Registry) -> None:
    with pytest.raises(UnknownPluginNameError) as info:
        registry.resolve("searcher", "nosuch")
    message = str(info.value)
    assert "'nosuch'" in message
    assert "'ordered'" in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, LookupError)


def test_unknown_name_suggests_close_match(registry: Registry) -> None:
    with pytest.raises(UnknownPluginNameError, match="Did you mean 'ordered'"):
        registry.resolve("searcher", "orderd")


@pytest.mark.parametrize(
    ("kind", "name", "pip"),
    [
        ("searcher", "optuna", "pip install 'tune-search[optuna]'"),
        ("searcher", "hyperopt", "pip install 'tune-search[hyperopt]'"),
        ("searcher", "bohb", "pip install 'tune-search[bohb]'"),
        ("scheduler", "asha", "pip install 'tune-schedulers'"),
        ("scheduler", "pb2", "pip install 'tune-schedulers[pb2]'"),
        ("scheduler", "ASHAScheduler", "pip install 'tune-schedulers'"),
        ("logger", "wandb", "pip install 'tune-loggers[wandb]'"),
        ("logger", "mlflow", "pip install 'tune-loggers[mlflow]'"),
        ("executor", "ray", "pip install 'tune-core[ray]'"),
    ],
)
def test_unknown_well_known_name_says_what_to_install(kind: str, name: str, pip: str) -> None:
    reg = Registry()
    reg.add(kind, "mine", "collections:OrderedDict")
    with pytest.raises(UnknownPluginNameError) as info:
        reg.resolve(kind, name)
    message = str(info.value)
    assert pip in message
    assert "'mine'" in message


def test_unknown_name_with_no_known_names() -> None:
    with pytest.raises(UnknownPluginNameError, match="Known callbacks: none"):
        Registry().resolve("callback", "x")


@pytest.mark.parametrize(
    ("class_name", "pip"),
    [
        ("ASHAScheduler", "pip install 'tune-schedulers'"),
        ("PB2", "pip install 'tune-schedulers[pb2]'"),
        ("PopulationBasedTrainingReplay", "pip install 'tune-schedulers'"),
    ],
)
def test_resolve_class_of_uninstalled_distribution(class_name: str, pip: str) -> None:
    with pytest.raises(PluginNotInstalledError) as info:
        Registry().resolve_class("scheduler", class_name)
    assert pip in str(info.value)
    assert class_name in str(info.value)
    assert isinstance(info.value, ImportError)


def test_resolve_class_unknown(registry: Registry) -> None:
    with pytest.raises(PluginNotInstalledError, match="Known searcher classes: OrderedDict"):
        registry.resolve_class("searcher", "Whatever")


def test_missing_optional_dependency_names_the_extra(registry: Registry) -> None:
    with pytest.raises(PluginNotInstalledError) as info:
        registry.resolve("logger", "fancy")
    assert "pip install 'tune-loggers[fancy]'" in str(info.value)
    assert "tune_no_such_module_xyz" in str(info.value)


def test_missing_attribute_is_reported() -> None:
    reg = Registry()
    reg.add_searcher("gone", "collections:NoSuchThing")
    with pytest.raises(PluginNotInstalledError, match="collections:NoSuchThing"):
        reg.resolve("searcher", "gone")


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        (("widget", "x", "collections:deque"), "kind"),
        (("searcher", "", "collections:deque"), "name"),
        (("searcher", "x", "collections.deque"), "target"),
        (("searcher", "x", ":deque"), "target"),
    ],
)
def test_add_rejects_bad_input(args: tuple, argument: str) -> None:
    with pytest.raises(TuneValueError, match=f"Invalid {argument}="):
        Registry().add(*args)


def test_names_rejects_unknown_kind() -> None:
    with pytest.raises(TuneValueError, match="searcher, scheduler, stopper"):
        Registry().names("searchers")


def test_second_plugin_cannot_replace_a_name() -> None:
    reg = Registry()
    reg._current_plugin = PluginInfo("first", "m1")
    reg.add_scheduler("fifo", "collections:deque")
    reg._current_plugin = PluginInfo("second", "m2")
    with pytest.warns(RuntimeWarning, match="'second' registers scheduler 'fifo'"):
        reg.add_scheduler("fifo", "collections:OrderedDict")
    assert reg.resolve("scheduler", "fifo") is collections.deque


def test_get_plugin_manager_is_a_fresh_manager_with_hookspecs() -> None:
    pm1 = plugins.get_plugin_manager()
    pm2 = plugins.get_plugin_manager()
    assert pm1 is not pm2
    assert isinstance(pm1, pluggy.PluginManager)
    assert pm1.get_plugins() == set()
    assert hasattr(pm1.hook, "tune_suggest") and hasattr(pm1.hook, "tune_register")


def test_global_registry_has_core_builtins() -> None:
    from tune._builtin_plugins import BUILTINS

    registry = plugins.get_registry()
    assert registry is plugins.get_registry()
    core = [p for p in registry.plugins if p.name == "core"]
    assert len(core) == 1 and core[0].status == PluginInfo.LOADED
    for kind, table in BUILTINS.items():
        for name in table:
            assert registry.get_entry(kind, name).plugin_name == "core"


def test_create_calls_target_with_kwargs(global_registry: Registry) -> None:
    counter = plugins.create_callback("counter", a=2)
    assert counter == collections.Counter(a=2)
    assert plugins.create("stopper", "dumps", obj=[1]) == "[1]"


def test_create_with_bad_kwargs_names_plugin(global_registry: Registry) -> None:
    # A Python class: checked against its signature before calling.
    global_registry.add_scheduler("tw", "textwrap:TextWrapper")
    with pytest.raises(TuneTypeError) as info:
        plugins.create_scheduler("tw", nonsense=1)
    assert "scheduler 'tw'" in str(info.value)
    assert "Accepted keyword arguments: width" in str(info.value)
    # A C type without a signature: the TypeError of the call is re-raised naming the plugin.
    global_registry.add_scheduler("dq", "collections:deque")
    with pytest.raises(TuneTypeError) as info:
        plugins.create_scheduler("dq", nonsense=1)
    assert "scheduler 'dq'" in str(info.value)
    assert "nonsense" in str(info.value)


def test_create_unknown_name(global_registry: Registry) -> None:
    with pytest.raises(UnknownPluginNameError, match="pip install 'tune-search\\[optuna\\]'"):
        plugins.create_searcher("optuna")
    with pytest.raises(UnknownPluginNameError, match="Known stoppers: 'dumps'"):
        plugins.create_stopper("nope")


def test_create_factories_use_their_kind(global_registry: Registry) -> None:
    global_registry.add_scheduler("od", "collections:OrderedDict")
    global_registry.add_logger("od", "collections:OrderedDict")
    global_registry.add_executor("od", "collections:OrderedDict")
    global_registry.add_stopper("od", "collections:OrderedDict")
    for factory in (
        plugins.create_searcher,
        plugins.create_scheduler,
        plugins.create_logger,
        plugins.create_executor,
        plugins.create_stopper,
    ):
        assert factory("od" if factory is not plugins.create_searcher else "ordered", x=1) == {
            "x": 1
        }


def test_make_trainable_rejects_other_objects() -> None:
    with pytest.raises(TuneTypeError) as info:
        plugins.make_trainable(42)
    assert "trainable must be a function or a tune.Trainable subclass, got 42" in str(info.value)


def test_make_trainable_rejects_plain_class() -> None:
    pytest.importorskip("tune.trainable.trainable")

    class NotATrainable:
        pass

    with pytest.raises(TuneTypeError, match="NotATrainable"):
        plugins.make_trainable(NotATrainable)


def test_make_trainable_function_and_class() -> None:
    trainable_mod = pytest.importorskip("tune.trainable.trainable")
    pytest.importorskip("tune.trainable.function_trainable")

    def train_fn(config):
        return None

    cls = plugins.make_trainable(train_fn)
    assert isinstance(cls, type) and issubclass(cls, trainable_mod.Trainable)

    class MyTrainable(trainable_mod.Trainable):
        def step(self):
            return {}

    assert plugins.make_trainable(MyTrainable) is MyTrainable


def test_lazy_class_getattr(global_registry: Registry) -> None:
    getattr_ = plugins.lazy_class_getattr("searcher", "pkg.mod")
    assert getattr_("OrderedDict") is collections.OrderedDict
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        getattr_("Nope")
    with pytest.raises(AttributeError):
        getattr_("__wrapped__")
    # A well-known class of this kind says what to install instead of a bare AttributeError.
    with pytest.raises(PluginNotInstalledError, match="pip install 'tune-search\\[optuna\\]'"):
        getattr_("OptunaSearch")
    # A well-known class of another kind is just absent from this module.
    with pytest.raises(AttributeError):
        getattr_("ASHAScheduler")


def test_import_is_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tune.plugins; "
        "print(','.join(m for m in ('importlib.metadata', 'pandas', 'numpy', 'cloudpickle') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_builtin_targets_resolve() -> None:
    """Every core built-in's import string points at a real object (catches renames)."""
    from tune._builtin_plugins import BUILTINS

    registry = plugins.get_registry()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for kind, table in BUILTINS.items():
            for name, (_, class_names) in table.items():
                obj = registry.resolve(kind, name)
                assert isinstance(obj, type), (kind, name, obj)
                for class_name in class_names:
                    assert registry.resolve_class(kind, class_name) is obj
                    assert obj.__name__ == class_name
