"""Entry point discovery: env switches, broken plugins skipped with a warning, plugin hooks.

Each case runs in a subprocess with a temporary directory on PYTHONPATH holding fake installed
distributions (``*.dist-info`` with ``entry_points.txt``), so the real entry point machinery is
exercised and the test process's own plugin state is untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOOD = '''
"""A working plugin."""
from tune.plugins import hookimpl

class Handled:
    pass

@hookimpl
def tune_register(registry):
    registry.add_searcher("good_one", "collections:OrderedDict", class_names=["GoodSearch"])
    registry.add_logger("good_needs_extra", "tune_no_such_mod_abc:Thing", extra="good-dist[fancy]")

@hookimpl
def tune_make_trainable(obj):
    if getattr(obj, "good_plugin_kind", False):
        return Handled
    return None
'''

BROKEN_IMPORT = '''
raise RuntimeError("boom at import")
'''

BROKEN_REGISTER = '''
from tune.plugins import hookimpl

@hookimpl
def tune_register(registry):
    registry.add_searcher("half_registered", "collections:deque")
    raise ValueError("boom in register")

@hookimpl
def tune_make_trainable(obj):
    return "should never be used"
'''


def make_fake_dists(root: Path) -> Path:
    """Three fake distributions: a good plugin, one that fails to import, one whose register fails."""
    dists = {
        ("good-dist", "1.0", "good"): ("good_plugin_mod", GOOD),
        ("broken-dist", "2.0", "broken"): ("broken_plugin_mod", BROKEN_IMPORT),
        ("badreg-dist", "3.0", "badreg"): ("badreg_plugin_mod", BROKEN_REGISTER),
    }
    for (dist, version, ep_name), (module, source) in dists.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
        )
        (info / "entry_points.txt").write_text(f"[tune.plugins]\n{ep_name} = {module}\n")
    return root


@pytest.fixture
def fake_dists(tmp_path: Path) -> Path:
    return make_fake_dists(tmp_path)


PROBE = """
import json, warnings
warnings.simplefilter("always")
import tune.plugins as p
r = p.get_registry()
class Obj:
    good_plugin_kind = True
try:
    trainable = p.make_trainable(Obj()).__name__
except TypeError as exc:
    trainable = f"TypeError: {exc}"
print(json.dumps({
    "plugins": {i.name: [i.status, i.distribution, i.version, i.error] for i in r.plugins},
    "searchers": r.names("searcher"),
    "loggers": r.names("logger"),
    "trainable": trainable,
}))
"""


def run_probe(path: Path, **env: str) -> tuple[dict, str]:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith("TUNE_") and k != "PYTHONPATH"
    }
    full_env["PYTHONPATH"] = str(path)
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=full_env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def test_good_plugin_loaded_broken_ones_skipped_with_warning(fake_dists: Path) -> None:
    out, stderr = run_probe(fake_dists)
    plugins = out["plugins"]
    assert plugins["core"][0] == "loaded"
    assert plugins["good"][:3] == ["loaded", "good-dist", "1.0"]
    assert "good_one" in out["searchers"] and "random" in out["searchers"]
    assert "good_needs_extra" in out["loggers"]
    # The failing import names the plugin and the error, and does not stop the rest.
    assert plugins["broken"][0] == "failed"
    assert "RuntimeError: boom at import" in plugins["broken"][3]
    assert "tune plugin broken (broken-dist 2.0)" in stderr
    assert "boom at import" in stderr
    # A failing tune_register: what it registered before failing is rolled back, its other
    # hooks are taken off the manager.
    assert plugins["badreg"][0] == "failed"
    assert "ValueError: boom in register" in plugins["badreg"][3]
    assert "tune plugin badreg (badreg-dist 3.0)" in stderr
    assert "half_registered" not in out["searchers"]
    # The good plugin's tune_make_trainable is consulted before the core's.
    assert out["trainable"] == "Handled"


def test_disable_autoload_loads_only_core(fake_dists: Path) -> None:
    out, stderr = run_probe(fake_dists, TUNE_DISABLE_PLUGIN_AUTOLOAD="1")
    assert list(out["plugins"]) == ["core"]
    assert "good_one" not in out["searchers"]
    # No plugin handles the object any more: the core's answer is a TypeError.
    assert out["trainable"].startswith(
        "TypeError: trainable must be a function or a tune.Trainable subclass, got"
    )
    assert "boom" not in stderr


def test_disable_autoload_registry(fake_dists: Path) -> None:
    code = (
        "import json, tune.plugins as p; r = p.get_registry(); "
        "print(json.dumps([[i.name, i.status, i.distribution] for i in r.plugins] + "
        "[r.names('searcher'), r.names('executor')]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNE_")}
    env.update(PYTHONPATH=str(fake_dists), TUNE_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    *plugins, searchers, executors = json.loads(proc.stdout)
    assert plugins == [["core", "loaded", "tune-core"]]
    assert searchers == ["random", "variant_generator"]
    assert executors == ["inline", "local"]
    assert proc.stderr == ""


def test_disabled_plugins_by_name(fake_dists: Path) -> None:
    out, stderr = run_probe(fake_dists, TUNE_DISABLED_PLUGINS=" broken , badreg")
    plugins = out["plugins"]
    assert plugins["broken"][0] == "disabled"
    assert plugins["badreg"][0] == "disabled"
    assert plugins["good"][0] == "loaded"
    assert "boom" not in stderr
    assert out["trainable"] == "Handled"


def test_core_cannot_be_disabled(fake_dists: Path) -> None:
    out, _ = run_probe(fake_dists, TUNE_DISABLED_PLUGINS="core,good")
    assert out["plugins"]["core"][0] == "loaded"
    assert out["plugins"]["good"][0] == "disabled"
    assert "random" in out["searchers"]
    assert "good_one" not in out["searchers"]
