"""Developer sessions for the monorepo: ``python -m nox -s <session>``.

Distributions are discovered from disk (tune-core/, tune-*/, packages/*/ with a
pyproject.toml), so a new distribution gets its ``tests-<name>`` session without editing
this file.

    demo               tune-core[all], then examples/quickstart.py
    tests              everything installed, every tests directory (pytest -n auto)
    tests-<dist>       only tune-core and <dist>[all] installed, <dist>'s own tests
    plugins            everything installed; every entry point loads, every hook documented
    lint               ruff
    bench              tools/bench, when present
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))

from run_tests import distributions  # noqa: E402  (tools/ is not a package)

nox.options.sessions = ["lint", "tests", "plugins"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
TEST_TOOLS = ["pytest>=7", "pytest-xdist>=3"]
# The CPU build of torch on this machine's disk: ax-platform (tune-search[ax]) pulls torch in,
# and an unpinned one is a multi-GB CUDA download. Installed in the same pip command.
CI_PINS = ["torch==2.13.0"]


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _install_everything(session: nox.Session) -> None:
    requirements = ["-e", "tune-core[all,test]"]
    for dist in distributions(ROOT):
        if dist.name != "tune-core":
            requirements += ["-e", f"{_rel(dist)}[all]"]
    session.install(*CI_PINS, *requirements, *TEST_TOOLS)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Install tune-core[all] and run the quick start."""
    session.install("-e", "tune-core[all]")
    session.run("python", "examples/quickstart.py")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Everything installed; every tests directory, each in its own pytest run."""
    _install_everything(session)
    session.run("python", "tools/run_tests.py", "-n", "auto", *session.posargs)


def _make_isolated_session(dist: Path) -> None:
    name = dist.name

    @nox.session(python=PYTHON, name=f"tests-{name}")
    def isolated(session: nox.Session) -> None:
        # Only tune-core and this distribution: proves its tests need nothing else.
        requirements = ["-e", "tune-core"] if name != "tune-core" else []
        requirements += ["-e", f"{_rel(dist)}[all]"]
        session.install(*CI_PINS, *requirements, *TEST_TOOLS)
        tests_dir = dist / "tests"
        if not tests_dir.is_dir():
            session.error(f"{_rel(dist)} has no tests/ directory")
        session.run(
            "python", "tools/run_tests.py", "-n", "auto", _rel(tests_dir), *session.posargs
        )

    installed = f"{name}[all]" if name == "tune-core" else f"tune-core and {name}[all]"
    isolated.__doc__ = f"Only {installed} installed; {name}'s own tests."


for _dist in distributions(ROOT):
    _make_isolated_session(_dist)


@nox.session(python=PYTHON)
def plugins(session: nox.Session) -> None:
    """Everything installed; fail if any entry point fails to load or any hook is undocumented."""
    _install_everything(session)
    session.run("python", "tools/check_plugins.py")
    session.run("python", "tools/gen_hook_docs.py", "--check")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the whole repository (settings in the root pyproject.toml)."""
    session.install("ruff")
    session.run("ruff", "check", ".", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run tools/bench (side-by-side benchmarks) when it has an entry point."""
    bench_dir = ROOT / "tools" / "bench"
    for entry in (bench_dir / "__main__.py", bench_dir / "run.py", bench_dir / "bench.py"):
        if entry.is_file():
            break
    else:
        session.skip("tools/bench has no __main__.py, run.py or bench.py yet")
    _install_everything(session)
    requirements = bench_dir / "requirements.txt"
    if requirements.is_file():
        session.install("-r", _rel(requirements))
    session.run("python", _rel(entry), *session.posargs)
