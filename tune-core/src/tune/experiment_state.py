"""Writing and reading ``<experiment dir>/experiment_state.json``, always atomically.

The file holds the trials' records, the experiment's settings and the plugins' states. It is
written to a temporary file and renamed over the old one, so a crash at any instant leaves
either the previous or the new state, never a torn file.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

STATE_FILE = "experiment_state.json"
FORMAT_VERSION = 1


def json_default(obj: Any) -> Any:
    """JSON stand-in for values the encoder does not know: NumPy scalars and arrays become
    numbers and lists (recognised without importing NumPy), anything else its repr."""
    if hasattr(obj, "item") and hasattr(obj, "dtype"):
        return obj.item() if getattr(obj, "ndim", 0) == 0 else obj.tolist()
    return repr(obj)


def write_state(experiment_dir: str, state: dict) -> str:
    """Atomically replace the experiment state file; returns its path."""
    path = os.path.join(experiment_dir, STATE_FILE)
    tmp = f"{path}.tmp-{os.getpid()}"
    payload = {"format_version": FORMAT_VERSION, "timestamp": time.time(), **state}
    data = json.dumps(payload, default=json_default, separators=(",", ":")).encode("utf-8")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_state(experiment_dir: str) -> dict:
    """Read the state file; a missing or unreadable one raises naming the path."""
    from tune.errors import TuneValueError

    path = os.path.join(experiment_dir, STATE_FILE)
    if not os.path.exists(path):
        raise TuneValueError(
            f"No experiment found at {experiment_dir!r}: {STATE_FILE} does not exist there. "
            "Pass the experiment directory (<storage_path>/<name>)."
        )
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise TuneValueError(
            f"The experiment state file {path!r} cannot be read ({exc})."
        ) from exc
