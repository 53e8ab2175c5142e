"""The ``tune`` command line: ``tune plugins`` output and usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tune.cli import SUBCOMMANDS, main

PLUGIN = '''
from tune.plugins import hookimpl

@hookimpl
def tune_register(registry):
    registry.add_searcher("cli_good", "collections:OrderedDict")
    registry.add_logger("cli_needs_extra", "tune_no_such_mod_cli:Thing", extra="cli-dist[fancy]")
    registry.add_stopper("cli_bad_attr", "collections:NoSuchAttr")
'''


@pytest.fixture
def fake_dists(tmp_path: Path) -> Path:
    """A working plugin distribution and one whose module raises at import."""
    for dist, module, source in (
        ("cli-dist", "cli_plugin_mod", PLUGIN),
        ("cli-broken", "cli_broken_mod", "raise RuntimeError('cli boom')\n"),
    ):
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{dist.replace('-', '_')}-0.5.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.5\n")
        ep_name = module.removesuffix("_mod")
        (info / "entry_points.txt").write_text(f"[tune.plugins]\n{ep_name} = {module}\n")
    return tmp_path


def run_cli(*args: str, path: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNE_")}
    if path is not None:
        env["PYTHONPATH"] = str(path)
    return subprocess.run(
        [sys.executable, "-m", "tune.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_plugins_lists_plugins_registrations_and_checks(fake_dists: Path) -> None:
    proc = run_cli("plugins", path=fake_dists)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "core (tune-core" in out
    assert "cli_plugin (cli-dist 0.5) [loaded] module cli_plugin_mod" in out
    assert "searcher  cli_good" in out and "-> collections:OrderedDict  [ok]" in out
    assert "[missing: pip install 'cli-dist[fancy]']" in out
    assert "cli_bad_attr" in out and "[error: collections:NoSuchAttr does not exist" in out
    # The broken plugin is listed with its error instead of crashing the command.
    assert "cli_broken (cli-broken 0.5) [failed]" in out
    assert "RuntimeError: cli boom" in out
    # ... and not repeated as a Python warning on stderr.
    assert "Warning" not in proc.stderr
    # Core built-ins are listed with their targets.
    assert "scheduler" in out and "fifo" in out and "tune.schedulers.trial_scheduler" in out


def test_plugins_json(fake_dists: Path) -> None:
    proc = run_cli("plugins", "--json", "--no-check", path=fake_dists)
    assert proc.returncode == 0, proc.stderr
    report = {p["name"]: p for p in json.loads(proc.stdout)}
    assert report["cli_broken"]["status"] == "failed"
    good = report["cli_plugin"]
    assert good["distribution"] == "cli-dist" and good["version"] == "0.5"
    registered = {e["name"]: e for e in good["registered"]}
    assert registered["cli_needs_extra"]["extra"] == "cli-dist[fancy]"
    assert registered["cli_good"]["check"] is None
    assert report["core"]["status"] == "loaded"


def test_plugins_respects_disabled(fake_dists: Path) -> None:
    env_path = fake_dists
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNE_")}
    env.update(PYTHONPATH=str(env_path), TUNE_DISABLED_PLUGINS="cli_broken")
    proc = subprocess.run(
        [sys.executable, "-m", "tune.cli", "plugins", "--no-check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "cli_broken (cli-broken 0.5) [disabled]" in proc.stdout
    assert "cli boom" not in proc.stdout


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        ([], "a command is required"),
        (["plugins", "--nope"], "unrecognized arguments: --nope"),
    ],
)
def test_bad_usage_is_one_line(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_usage_subprocess_has_no_traceback() -> None:
    proc = run_cli("frobnicate")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().startswith("tune: error:")
    assert proc.stderr.count("\n") == 1


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out
    assert main(["--version"]) == 0
    assert "tune-core" in capsys.readouterr().out


def test_plugins_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--no-check"]) == 0
    out = capsys.readouterr().out
    assert "core (tune-core" in out and "random" in out


def test_console_script_is_declared() -> None:
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    assert 'tune = "tune.cli:main"' in pyproject.read_text()
