"""Plugin discovery and the registry of named searchers, schedulers, stoppers, loggers, executors.

Plugins are modules of ``@hookimpl`` functions announced through the ``tune.plugins`` entry point
group. The process-wide registry is filled once, lazily, by calling every plugin's
``tune_register(registry)``; plugins register ``"module:attr"`` import strings so nothing heavy is
imported before a name is used. Importing this module is cheap on purpose (pluggy only): entry
points are scanned on the first ``get_registry()`` call.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import pluggy

from tune.errors import (
    PluginNotInstalledError,
    TuneTypeError,
    UnknownPluginNameError,
    invalid_value,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "Registry",
    "RegistryEntry",
    "create",
    "create_callback",
    "create_executor",
    "create_logger",
    "create_scheduler",
    "create_searcher",
    "create_stopper",
    "get_global_plugin_manager",
    "get_plugin_manager",
    "get_registry",
    "hookimpl",
    "import_target",
    "lazy_class_getattr",
    "make_trainable",
    "pip_hint",
]

PROJECT_NAME = "tune"
ENTRY_POINT_GROUP = "tune.plugins"
CORE_PLUGIN_NAME = "core"
CORE_PLUGIN_MODULE = "tune._builtin_plugins"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

# Well-known names and classes of the distributions this repository publishes. They let an
# unknown-name error say what to install instead of only "unknown". Values are pip requirements.
_WELL_KNOWN_NAMES: dict[str, dict[str, str]] = {
    "searcher": {
        "hyperopt": "tune-search[hyperopt]",
        "optuna": "tune-search[optuna]",
        "bayesopt": "tune-search[bayesopt]",
        "ax": "tune-search[ax]",
        "nevergrad": "tune-search[nevergrad]",
        "bohb": "tune-search[bohb]",
    },
    "scheduler": {
        "asha": "tune-schedulers",
        "async_hyperband": "tune-schedulers",
        "hyperband": "tune-schedulers",
        "hb_bohb": "tune-schedulers",
        "median_stopping_rule": "tune-schedulers",
        "pbt": "tune-schedulers",
        "pbt_replay": "tune-schedulers",
        "pb2": "tune-schedulers[pb2]",
        "resource_changing": "tune-schedulers",
    },
    "logger": {
        "tensorboard": "tune-loggers[tensorboard]",
        "tbx": "tune-loggers[tensorboard]",
        "mlflow": "tune-loggers[mlflow]",
        "wandb": "tune-loggers[wandb]",
        "aim": "tune-loggers[aim]",
        "comet": "tune-loggers[comet]",
    },
    "executor": {
        "ray": "tune-core[ray]",
    },
}

_WELL_KNOWN_CLASSES: dict[str, tuple[str, str]] = {
    "ASHAScheduler": ("scheduler", "tune-schedulers"),
    "AsyncHyperBandScheduler": ("scheduler", "tune-schedulers"),
    "HyperBandScheduler": ("scheduler", "tune-schedulers"),
    "HyperBandForBOHB": ("scheduler", "tune-schedulers"),
    "MedianStoppingRule": ("scheduler", "tune-schedulers"),
    "PopulationBasedTraining": ("scheduler", "tune-schedulers"),
    "PopulationBasedTrainingReplay": ("scheduler", "tune-schedulers"),
    "PB2": ("scheduler", "tune-schedulers[pb2]"),
    "ResourceChangingScheduler": ("scheduler", "tune-schedulers"),
    "HyperOptSearch": ("searcher", "tune-search[hyperopt]"),
    "OptunaSearch": ("searcher", "tune-search[optuna]"),
    "BayesOptSearch": ("searcher", "tune-search[bayesopt]"),
    "AxSearch": ("searcher", "tune-search[ax]"),
    "NevergradSearch": ("searcher", "tune-search[nevergrad]"),
    "TuneBOHB": ("searcher", "tune-search[bohb]"),
    "TBXLoggerCallback": ("logger", "tune-loggers[tensorboard]"),
    "MLflowLoggerCallback": ("logger", "tune-loggers[mlflow]"),
    "WandbLoggerCallback": ("logger", "tune-loggers[wandb]"),
    "AimLoggerCallback": ("logger", "tune-loggers[aim]"),
    "CometLoggerCallback": ("logger", "tune-loggers[comet]"),
}


def pip_hint(requirement: str) -> str:
    """The shell command that installs ``requirement`` (quoted: extras' brackets are globs)."""
    return f"pip install '{requirement}'"


def _plural(kind: str) -> str:
    return kind + "s"


class PluginInfo:
    """One plugin as discovered: its entry point name, module, distribution and load outcome."""

    __slots__ = ("name", "module", "distribution", "version", "status", "error")

    LOADED = "loaded"
    FAILED = "failed"
    DISABLED = "disabled"

    def __init__(
        self,
        name: str,
        module: str,
        distribution: str | None = None,
        version: str | None = None,
        status: str = LOADED,
        error: str | None = None,
    ) -> None:
        self.name = name
        self.module = module
        self.distribution = distribution
        self.version = version
        self.status = status
        self.error = error

    def describe(self) -> str:
        """``name (distribution version)`` as shown by ``tune plugins`` and in messages."""
        if self.distribution:
            dist = self.distribution + (f" {self.version}" if self.version else "")
        else:
            dist = "no distribution"
        return f"{self.name} ({dist})"

    def __repr__(self) -> str:
        return (
            f"PluginInfo(name={self.name!r}, module={self.module!r}, "
            f"distribution={self.distribution!r}, version={self.version!r}, "
            f"status={self.status!r})"
        )


class RegistryEntry:
    """A registered name: what it imports, its class names and extra, and who registered it."""

    __slots__ = ("kind", "name", "target", "class_names", "extra", "plugin", "default_when")

    def __init__(
        self,
        kind: str,
        name: str,
        target: str,
        class_names: tuple[str, ...] = (),
        extra: str | None = None,
        plugin: PluginInfo | None = None,
        default_when: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.target = target
        self.class_names = class_names
        self.extra = extra
        self.plugin = plugin
        self.default_when = default_when

    @property
    def plugin_name(self) -> str | None:
        return self.plugin.name if self.plugin else None

    @property
    def distribution(self) -> str | None:
        return self.plugin.distribution if self.plugin else None

    @property
    def version(self) -> str | None:
        return self.plugin.version if self.plugin else None

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    def __repr__(self) -> str:
        return (
            f"RegistryEntry(kind={self.kind!r}, name={self.name!r}, target={self.target!r}, "
            f"class_names={self.class_names!r}, extra={self.extra!r}, plugin={self.plugin_name!r})"
        )


def import_target(target: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute (the module if no attr)."""
    import importlib

    module_name, _, attr_path = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for attr in attr_path.split(".") if attr_path else ():
        obj = getattr(obj, attr)
    return obj


class Registry:
    """Named, lazily imported implementations of each plugin kind."""

    KINDS = ("searcher", "scheduler", "stopper", "logger", "executor", "callback")

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, RegistryEntry]] = {kind: {} for kind in self.KINDS}
        self._plugins: list[PluginInfo] = []
        # Set while a plugin's tune_register runs so entries remember who added them.
        self._current_plugin: PluginInfo | None = None

    # -- registration -------------------------------------------------------------------------

    def _check_kind(self, kind: str) -> None:
        if kind not in self.KINDS:
            raise invalid_value("kind", kind, "must be one of " + ", ".join(self.KINDS))

    def add(
        self,
        kind: str,
        name: str,
        target: str,
        *,
        class_names: Sequence[str] = (),
        extra: str | None = None,
        default_when: str | None = None,
    ) -> None:
        """Register ``name`` of ``kind`` as the lazy import string ``target`` (``"module:attr"``).

        :param class_names: class names that resolve to the same target (``resolve_class``).
        :param extra: the pip requirement providing its optional dependencies, e.g.
            ``"tune-search[optuna]"``.
        :param default_when: loggers only: a module name; when it can be imported, the logger
            is one of the defaults every experiment gets (as Ray Tune adds TensorBoard when
            tensorboardX is installed). Built with no arguments.
        """
        self._check_kind(kind)
        if not isinstance(name, str) or not name:
            raise invalid_value("name", name, "must be a non-empty string")
        if not isinstance(target, str) or ":" not in target or target.startswith(":"):
            raise invalid_value(
                "target", target, "must be an import string 'package.module:attribute'"
            )
        if isinstance(class_names, str):
            class_names = (class_names,)
        if default_when is not None and kind != "logger":
            raise invalid_value("default_when", default_when, "applies to loggers only")
        entry = RegistryEntry(
            kind, name, target, tuple(class_names), extra, self._current_plugin, default_when
        )
        existing = self._entries[kind].get(name)
        if existing is not None and existing.plugin is not entry.plugin:
            # First registration wins: the core registers first, so a plugin cannot silently
            # replace a built-in; the author learns about the clash from the warning.
            warnings.warn(
                f"tune plugin {entry.plugin_name!r} registers {kind} {name!r} which plugin "
                f"{existing.plugin_name!r} already registered ({existing.target}); keeping "
                f"{existing.target}",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        self._entries[kind][name] = entry

    def add_searcher(self, name: str, target: str, **kw: Any) -> None:
        self.add("searcher", name, target, **kw)

    def add_scheduler(self, name: str, target: str, **kw: Any) -> None:
        self.add("scheduler", name, target, **kw)

    def add_stopper(self, name: str, target: str, **kw: Any) -> None:
        self.add("stopper", name, target, **kw)

    def add_logger(self, name: str, target: str, **kw: Any) -> None:
        self.add("logger", name, target, **kw)

    def add_executor(self, name: str, target: str, **kw: Any) -> None:
        self.add("executor", name, target, **kw)

    def add_callback(self, name: str, target: str, **kw: Any) -> None:
        self.add("callback", name, target, **kw)

    # -- queries ------------------------------------------------------------------------------

    def names(self, kind: str) -> list[str]:
        """The registered names of ``kind``, sorted."""
        self._check_kind(kind)
        return sorted(self._entries[kind])

    def entries(self, kind: str | None = None) -> list[RegistryEntry]:
        """Registered entries of ``kind`` (all kinds when ``None``), by kind then name."""
        kinds = self.KINDS if kind is None else (kind,)
        out: list[RegistryEntry] = []
        for k in kinds:
            self._check_kind(k)
            out.extend(self._entries[k][n] for n in sorted(self._entries[k]))
        return out

    @property
    def plugins(self) -> list[PluginInfo]:
        """Every plugin discovered, including failed and disabled ones, in load order."""
        return list(self._plugins)

    def get_entry(self, kind: str, name: str) -> RegistryEntry:
        """The entry for ``name`` (exact, then case-insensitive, then a class name)."""
        self._check_kind(kind)
        table = self._entries[kind]
        if isinstance(name, str):
            if name in table:
                return table[name]
            lowered = name.lower()
            for entry in table.values():
                if entry.name.lower() == lowered:
                    return entry
            for entry in table.values():
                if name in entry.class_names:
                    return entry
        raise self._unknown_name_error(kind, name)

    def _unknown_name_error(self, kind: str, name: Any) -> UnknownPluginNameError:
        known = self.names(kind)
        known_text = ", ".join(repr(n) for n in known) if known else "none"
        message = f"Unknown {kind} name {name!r}. Known {_plural(kind)}: {known_text}."
        requirement = None
        if isinstance(name, str):
            requirement = _WELL_KNOWN_NAMES.get(kind, {}).get(name.lower())
            if requirement is None and name in _WELL_KNOWN_CLASSES:
                class_kind, class_req = _WELL_KNOWN_CLASSES[name]
                if class_kind == kind:
                    requirement = class_req
        if requirement is not None:
            dist = requirement.partition("[")[0]
            message += (
                f" {kind.capitalize()} {name!r} is provided by the {dist} distribution, "
                f"which is not installed: {pip_hint(requirement)}"
            )
        elif isinstance(name, str) and known:
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            if close:
                message += f" Did you mean {close[0]!r}?"
        return UnknownPluginNameError(message)

    def _load(self, entry: RegistryEntry) -> Any:
        try:
            return import_target(entry.target)
        except ImportError as exc:
            who = f" (registered by plugin {entry.plugin.describe()})" if entry.plugin else ""
            if entry.extra:
                fix = f"; install its optional dependencies: {pip_hint(entry.extra)}"
            else:
                fix = ""
            raise PluginNotInstalledError(
                f"Cannot import {entry.kind} {entry.name!r} from {entry.target}{who}: {exc}{fix}"
            ) from exc
        except AttributeError as exc:
            raise PluginNotInstalledError(
                f"Cannot import {entry.kind} {entry.name!r}: {entry.target} does not exist ({exc})"
            ) from exc

    def resolve(self, kind: str, name: str) -> Any:
        """Import and return what ``name`` of ``kind`` refers to (a class or a factory).

        :raises UnknownPluginNameError: listing the known names and, for a well-known name of
            a distribution that is not installed, the ``pip install`` that provides it.
        :raises PluginNotInstalledError: if the name is registered but its import fails
            (missing optional dependency), naming the extra to install.
        """
        return self._load(self.get_entry(kind, name))

    def resolve_class(self, kind: str, class_name: str) -> Any:
        """Import the class registered under ``class_name`` (``from tune.schedulers import X``).

        :raises PluginNotInstalledError: naming the distribution for well-known classes of
            distributions that are not installed, or saying no plugin provides the class.
        """
        self._check_kind(kind)
        for entry in self._entries[kind].values():
            if class_name in entry.class_names:
                return self._load(entry)
        well_known = _WELL_KNOWN_CLASSES.get(class_name)
        if well_known is not None:
            requirement = well_known[1]
            dist = requirement.partition("[")[0]
            raise PluginNotInstalledError(
                f"{class_name} is provided by the {dist} distribution, which is not installed: "
                f"{pip_hint(requirement)}"
            )
        known = sorted(c for e in self._entries[kind].values() for c in e.class_names)
        raise PluginNotInstalledError(
            f"No installed tune plugin provides a {kind} class named {class_name!r}. "
            f"Known {kind} classes: {', '.join(known) if known else 'none'}."
        )

    def default_loggers(self) -> list[RegistryEntry]:
        """Logger entries whose ``default_when`` module is installed (found, not imported)."""
        import importlib.util

        found = []
        for entry in self.entries("logger"):
            if entry.default_when is None:
                continue
            try:
                if importlib.util.find_spec(entry.default_when) is not None:
                    found.append(entry)
            except (ImportError, ValueError):
                continue
        return found

    def class_names(self, kind: str) -> list[str]:
        """Every class name registered for ``kind``, sorted."""
        self._check_kind(kind)
        return sorted(c for e in self._entries[kind].values() for c in e.class_names)


# ---------------------------------------------------------------------------------------------
# Plugin managers
# ---------------------------------------------------------------------------------------------


def get_plugin_manager() -> pluggy.PluginManager:
    """A new plugin manager with tune's hook specs added and nothing registered.

    The controller makes one per experiment and registers that experiment's searcher,
    scheduler, stoppers and callbacks on it.
    """
    from tune import hookspecs

    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


_lock = threading.RLock()
_global_pm: pluggy.PluginManager | None = None
_registry: Registry | None = None

_TRUE = {"1", "true", "yes", "on"}


def _autoload_disabled() -> bool:
    return os.environ.get("TUNE_DISABLE_PLUGIN_AUTOLOAD", "").strip().lower() in _TRUE


def _disabled_names() -> set[str]:
    raw = os.environ.get("TUNE_DISABLED_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _core_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("tune-core")
    except metadata.PackageNotFoundError:
        return None


def _warn_broken(info: PluginInfo, what: str, exc: BaseException) -> None:
    info.status = PluginInfo.FAILED
    info.error = f"{type(exc).__name__}: {exc}"
    warnings.warn(
        f"tune plugin {info.describe()} from {info.module!r} was skipped: {what} failed with "
        f"{info.error}",
        RuntimeWarning,
        stacklevel=5,  # the caller of get_registry()
    )


def _discover(pm: pluggy.PluginManager, registry: Registry) -> list[tuple[PluginInfo, Any]]:
    """Import the plugins' modules and register them on ``pm``; returns those that loaded."""
    import importlib
    from importlib import metadata

    loaded: list[tuple[PluginInfo, Any]] = []
    disabled = _disabled_names()
    seen_core = False

    candidates: list[tuple[PluginInfo, Callable[[], Any]]] = []
    skipped: list[PluginInfo] = []
    if not _autoload_disabled():
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                ep.name,
                ep.value,
                dist.metadata["Name"] if dist is not None else None,
                dist.version if dist is not None else None,
            )
            if ep.name == CORE_PLUGIN_NAME:
                # The core built-ins are not optional: Tuner needs FIFO, the variant generator
                # and the local executor even when every plugin is switched off.
                seen_core = True
                info.module = CORE_PLUGIN_MODULE
                candidates.insert(0, (info, lambda: importlib.import_module(CORE_PLUGIN_MODULE)))
                continue
            if ep.name in disabled:
                info.status = PluginInfo.DISABLED
                skipped.append(info)
                continue
            candidates.append((info, ep.load))
    if not seen_core:
        info = PluginInfo(CORE_PLUGIN_NAME, CORE_PLUGIN_MODULE, "tune-core", _core_version())
        candidates.insert(0, (info, lambda: importlib.import_module(CORE_PLUGIN_MODULE)))

    for info, load in candidates:
        registry._plugins.append(info)
        try:
            module = load()
        except Exception as exc:
            _warn_broken(info, "import", exc)
            continue
        try:
            if pm.is_registered(module):
                raise ValueError(f"module {info.module!r} is already registered by another plugin")
            pm.register(module, name=info.name)
        except Exception as exc:
            _warn_broken(info, "registration", exc)
            continue
        loaded.append((info, module))
    registry._plugins.extend(skipped)
    return loaded


def _run_register(pm: pluggy.PluginManager, registry: Registry, loaded: list) -> None:
    """Call each plugin's ``tune_register`` separately, so one failure skips only that plugin."""
    impls_by_plugin: dict[str, list[Any]] = {}
    for impl in pm.hook.tune_register.get_hookimpls():
        impls_by_plugin.setdefault(impl.plugin_name, []).append(impl)
    for info, module in loaded:
        before = {kind: dict(registry._entries[kind]) for kind in registry.KINDS}
        registry._current_plugin = info
        try:
            for impl in impls_by_plugin.get(info.name, ()):
                impl.function(**{arg: registry for arg in impl.argnames})
        except Exception as exc:
            # Roll back what the plugin half-registered and take its hooks off the manager.
            registry._entries = before
            pm.unregister(module)
            _warn_broken(info, "tune_register", exc)
        finally:
            registry._current_plugin = None


def _ensure_loaded() -> tuple[pluggy.PluginManager, Registry]:
    global _global_pm, _registry
    with _lock:
        if _global_pm is None or _registry is None:
            pm = get_plugin_manager()
            registry = Registry()
            loaded = _discover(pm, registry)
            _run_register(pm, registry, loaded)
            _global_pm, _registry = pm, registry
        return _global_pm, _registry


def get_registry() -> Registry:
    """The process-wide registry, filled on first use from the ``tune.plugins`` entry points.

    ``TUNE_DISABLE_PLUGIN_AUTOLOAD=1`` loads only the core built-ins;
    ``TUNE_DISABLED_PLUGINS=a,b`` skips the entry points named ``a`` and ``b``. A plugin that
    fails to import or to register is reported with a ``RuntimeWarning`` and skipped.
    """
    return _ensure_loaded()[1]


def get_global_plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager holding the discovered plugin modules (``tune_make_trainable``)."""
    return _ensure_loaded()[0]


def _reset() -> None:
    """Forget the discovered plugins so the next ``get_registry()`` scans again (tests)."""
    global _global_pm, _registry
    with _lock:
        _global_pm = None
        _registry = None


# ---------------------------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------------------------


def create(kind: str, name: str, **kwargs: Any) -> Any:
    """Resolve ``name`` of ``kind`` and call it with ``kwargs``.

    Keyword arguments the target does not accept raise ``TuneTypeError`` naming the plugin
    name and the accepted parameters.
    """
    registry = get_registry()
    entry = registry.get_entry(kind, name)
    factory = registry._load(entry)
    import inspect

    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            accepted = ", ".join(
                p.name
                for p in signature.parameters.values()
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            )
            raise TuneTypeError(
                f"Invalid arguments for {kind} {entry.name!r} ({entry.target}): {exc}. "
                f"Accepted keyword arguments: {accepted or 'none'}."
            ) from exc
        return factory(**kwargs)
    try:
        return factory(**kwargs)
    except TypeError as exc:
        # No signature to check up front (a C type): the TypeError most likely means bad
        # kwargs, so say which plugin name they were passed to, keeping the original chained.
        raise TuneTypeError(
            f"Invalid arguments for {kind} {entry.name!r} ({entry.target}): {exc}"
        ) from exc


def create_searcher(name: str, **kwargs: Any) -> Any:
    """A searcher by registered name: ``create_searcher("random")``."""
    return create("searcher", name, **kwargs)


def create_scheduler(name: str, **kwargs: Any) -> Any:
    """A trial scheduler by registered name: ``create_scheduler("fifo")``."""
    return create("scheduler", name, **kwargs)


def create_stopper(name: str, **kwargs: Any) -> Any:
    """A stopper by registered name: ``create_stopper("maximum_iteration", max_iter=10)``."""
    return create("stopper", name, **kwargs)


def create_logger(name: str, **kwargs: Any) -> Any:
    """A logger callback by registered name: ``create_logger("csv")``."""
    return create("logger", name, **kwargs)


def create_executor(name: str, **kwargs: Any) -> Any:
    """An executor by registered name: ``create_executor("local")``."""
    return create("executor", name, **kwargs)


def create_callback(name: str, **kwargs: Any) -> Any:
    """A callback by registered name."""
    return create("callback", name, **kwargs)


def make_trainable(obj: Any) -> Any:
    """Turn a user trainable (function, ``Trainable`` subclass, or a plugin's kind) into a class.

    :raises TuneTypeError: if no plugin handles ``obj``.
    """
    pm = get_global_plugin_manager()
    result = pm.hook.tune_make_trainable(obj=obj)
    if result is None:
        raise TuneTypeError(
            "trainable must be a function or a tune.Trainable subclass, got "
            f"{obj!r} of type {type(obj).__name__}"
        )
    return result


def lazy_class_getattr(kind: str, module_name: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves plugin classes by class name.

    ``tune/schedulers/__init__.py`` does ``__getattr__ = lazy_class_getattr("scheduler",
    __name__)`` so ``from tune.schedulers import ASHAScheduler`` works once tune-schedulers is
    installed, and says what to install when it is not. Unknown, non-well-known names raise
    ``AttributeError`` as for any module, so ``hasattr`` and tooling probes behave.
    """

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        registry = get_registry()
        if name in registry.class_names(kind) or _WELL_KNOWN_CLASSES.get(name, ("",))[0] == kind:
            return registry.resolve_class(kind, name)
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__
