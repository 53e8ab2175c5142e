"""Run every distribution's tests, one pytest run per tests directory, in the current Python.

Used by tools/run_tests.sh (fresh-clone entry point) and by ``nox -s tests``. Each tests
directory gets its own pytest run so test modules of different distributions may share base
names, and so each distribution's suite stays runnable on its own. A directory whose run
collects no tests (pytest exit status 5) counts as a failure: a silently empty suite is a bug.

    python tools/run_tests.py                 # all tests directories, pytest -n 2
    python tools/run_tests.py -n auto -- -x   # extra pytest arguments after --
    python tools/run_tests.py --list          # show the directories that would run
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NO_TESTS_COLLECTED = 5


def distributions(root: Path = ROOT) -> list[Path]:
    """Every distribution in the repository: tune-core first, then tune-*/, then packages/*/."""
    found = []
    core = root / "tune-core"
    if (core / "pyproject.toml").is_file():
        found.append(core)
    found += sorted(
        d for d in root.glob("tune-*") if d != core and (d / "pyproject.toml").is_file()
    )
    found += sorted(d for d in (root / "packages").glob("*") if (d / "pyproject.toml").is_file())
    return found


def find_test_dirs(root: Path = ROOT) -> list[Path]:
    """Each distribution's tests/ directory, then the cross-distribution tests/."""
    dirs = [d / "tests" for d in distributions(root) if (d / "tests").is_dir()]
    if (root / "tests").is_dir():
        dirs.append(root / "tests")
    return dirs


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--workers", default="2", help="pytest-xdist workers (or 'auto', 0)")
    parser.add_argument("--list", action="store_true", help="list the tests directories and exit")
    parser.add_argument(
        "dirs", nargs="*", type=Path, help="tests directories to run (default: all of them)"
    )
    args = parser.parse_args(argv)

    dirs = [d.resolve() for d in args.dirs] or find_test_dirs()
    if args.list:
        print("\n".join(str(d.relative_to(ROOT)) for d in dirs))
        return 0
    if not dirs:
        print("run_tests: no tests directories found", file=sys.stderr)
        return 1

    outcomes: list[tuple[str, int, float]] = []
    for directory in dirs:
        name = str(directory.relative_to(ROOT)) if directory.is_relative_to(ROOT) else str(directory)
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
        if args.workers not in ("0", ""):
            command += ["-n", args.workers]
        command += [*extra, name]
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        start = time.monotonic()
        code = subprocess.call(command, cwd=ROOT)
        outcomes.append((name, code, time.monotonic() - start))

    print("\n=== summary")
    failed = False
    for name, code, seconds in outcomes:
        if code == 0:
            verdict = "passed"
        elif code == NO_TESTS_COLLECTED:
            verdict = "FAILED: no tests were collected"
        else:
            verdict = f"FAILED (pytest exit status {code})"
        failed = failed or code != 0
        print(f"{name:<40} {verdict}  [{seconds:.1f}s]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
