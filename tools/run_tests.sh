#!/usr/bin/env bash
# Run the whole test suite from a clean clone, in one command: bash tools/run_tests.sh
#
# Creates (or reuses) a virtual environment at .venv, installs tune-core[all,test] and every
# other distribution of the repository (tune-*/ and packages/*/, with their `all` extra) in
# editable mode from PyPI and the local tree, then runs each tests directory with pytest -n 2
# (tools/run_tests.py). Exits non-zero if any test fails or any tests directory collects none.
#
# Environment: PYTHON (interpreter to create the venv with, default python3.11 or python3),
# TUNE_VENV (venv path, default .venv), TUNE_TEST_WORKERS (pytest-xdist workers, default 2).
# Extra arguments go to tools/run_tests.py, e.g. `bash tools/run_tests.sh -- -x -k plugins`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${TUNE_VENV:-.venv}"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "run_tests.sh: $python is older than Python 3.11; set PYTHON=..." >&2; exit 1; }
    echo "run_tests.sh: creating $venv with $python"
    "$python" -m venv "$venv"
fi
vpy="$venv/bin/python"

# Every distribution, discovered from disk so new ones are picked up without editing this file.
# torch is pinned to the CPU build this machine has on disk: ax-platform (tune-search[ax])
# pulls torch in, and an unpinned one means a multi-GB CUDA download.
requirements=("torch==2.13.0" -e "tune-core[all,test]")
for dir in tune-*/ packages/*/; do
    dir="${dir%/}"
    [[ "$dir" == "tune-core" || ! -f "$dir/pyproject.toml" ]] && continue
    requirements+=(-e "$dir[all]")
done

# Reinstall only when a pyproject.toml changed (editable installs pick up source edits anyway).
stamp="$venv/.tune-install-stamp"
want="$(cat pyproject.toml tune-*/pyproject.toml packages/*/pyproject.toml 2>/dev/null \
    | "$vpy" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
want="$want ${requirements[*]}"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "run_tests.sh: installing ${requirements[*]}"
    "$vpy" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
    printf '%s' "$want" > "$stamp"
fi

exec "$vpy" tools/run_tests.py -n "${TUNE_TEST_WORKERS:-2}" "$@"
