"""Reading a trial's files back: result history, dataframes and checkpoint directories.

Shared by ``Result``, ``ResultGrid`` and ``ExperimentAnalysis`` so that every reader agrees on
file names, flattening of nested keys and the fallbacks when a file is missing. Local paths
are read directly; ``scheme://`` URLs go through fsspec. pandas is imported only when a
dataframe is asked for.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tune import env

RESULT_FILE = "result.json"
PROGRESS_FILE = "progress.csv"
PARAMS_FILE = "params.json"
ERROR_FILE = "error.txt"
#: result key naming the checkpoint directory saved with that result
CHECKPOINT_DIR_NAME = "checkpoint_dir_name"

_CHECKPOINT_DIR = re.compile(r"^checkpoint_(\d+)$")


def pandas() -> Any:
    """The pandas module, or an ImportError saying how to install it."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            "Result dataframes need pandas, which is not installed: "
            "pip install 'tune-core[pandas]'"
        ) from exc
    return pd


def result_delim() -> str:
    """Delimiter of nested keys in flattened results (``TUNE_RESULT_DELIM``, default "/")."""
    return env.get("TUNE_RESULT_DELIM")


def flatten_dict(d: Mapping, delimiter: str = "/", prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a/b": 1}``; lists and other values are kept as they are."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{delimiter}{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten_dict(value, delimiter, name))
        else:
            out[name] = value
    return out


_MISSING = object()


def lookup(d: Mapping | None, key: str, delimiter: str = "/", default: Any = None) -> Any:
    """``d[key]``, or the nested value ``d["a"]["b"]`` for ``key="a/b"``."""
    if not d:
        return default
    value = d.get(key, _MISSING)
    if value is not _MISSING:
        return value
    if delimiter not in key:
        return default
    node: Any = d
    for part in key.split(delimiter):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def is_number(value: Any) -> bool:
    """A real number usable as a metric (bools are not)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    # numpy scalars without importing numpy
    return hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0 and hasattr(value, "item")


def is_nan_or_inf(value: Any) -> bool:
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def is_nan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


# -- file system ----------------------------------------------------------------------------


def _is_url(path: str) -> bool:
    return "://" in path


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError as exc:
        raise ImportError(
            "Reading results from a URL needs fsspec, which is not installed: pip install fsspec"
        ) from exc
    return fsspec


def join(path: str, name: str) -> str:
    return f"{path.rstrip('/')}/{name}" if _is_url(path) else os.path.join(path, name)


def exists(path: str) -> bool:
    if _is_url(path):
        fs, p = _fsspec().core.url_to_fs(path)
        return fs.exists(p)
    return os.path.exists(path)


def read_text(path: str) -> str | None:
    """The file's text, or ``None`` if it does not exist."""
    try:
        if _is_url(path):
            with _fsspec().open(path, "r", encoding="utf-8") as f:
                return f.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError):
        return None


def list_checkpoint_dirs(trial_path: str) -> list[tuple[int, str]]:
    """``[(index, path), ...]`` of the ``checkpoint_<index>`` directories, oldest first."""
    try:
        if _is_url(trial_path):
            fs, p = _fsspec().core.url_to_fs(trial_path)
            names = [n.rstrip("/").rsplit("/", 1)[-1] for n in fs.ls(p, detail=False)]
        else:
            names = os.listdir(trial_path)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        match = _CHECKPOINT_DIR.match(name)
        if match:
            found.append((int(match.group(1)), join(trial_path, name)))
    return sorted(found)


# -- result history -------------------------------------------------------------------------


def _parse_csv_value(text: str) -> Any:
    if text == "":
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    return text


def _parse_json_lines(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            # A torn last line (the process died mid-write) must not hide the rest.
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_rows(trial_path: str | None) -> list[dict] | None:
    """Every result the trial logged, oldest first; ``None`` when no history file exists.

    ``result.json`` rows keep their nested dicts; ``progress.csv`` rows (used only when there
    is no ``result.json``) are flat, with numbers parsed back from text.
    """
    if not trial_path:
        return None
    text = read_text(join(trial_path, RESULT_FILE))
    if text is not None:
        return _parse_json_lines(text)
    text = read_text(join(trial_path, PROGRESS_FILE))
    if text is not None:
        return [
            {k: _parse_csv_value(v) for k, v in row.items() if k is not None}
            for row in csv.DictReader(io.StringIO(text))
        ]
    return None


def history_dataframe(trial_path: str | None, last_result: Mapping | None) -> Any:
    """The trial's result history as a DataFrame, nested keys joined with ``TUNE_RESULT_DELIM``.

    Reads ``result.json`` (preferred) or ``progress.csv``. Without either file (loggers
    switched off) the last result, if any, is the only row.
    """
    pd = pandas()
    delim = result_delim()
    if trial_path:
        text = read_text(join(trial_path, RESULT_FILE))
        if text is not None:
            rows = _parse_json_lines(text)
            return pd.json_normalize(rows, sep=delim) if rows else pd.DataFrame()
        text = read_text(join(trial_path, PROGRESS_FILE))
        if text is not None and text.strip():
            # trial ids like "00001_00002" must not become numbers
            return pd.read_csv(io.StringIO(text), dtype={"trial_id": str})
    if last_result:
        return pd.json_normalize([dict(last_result)], sep=delim)
    return pd.DataFrame()


def best_row(
    rows: Iterable[Mapping], metric: str, mode: str | None, delimiter: str = "/"
) -> Mapping | None:
    """The row with the best value of ``metric`` (NaN ignored); the last row if ``mode`` is None
    or no row has a numeric value for it."""
    rows = list(rows)
    if not rows:
        return None
    if mode is None:
        return rows[-1]
    best, best_value = None, None
    for row in rows:
        value = lookup(row, metric, delimiter)
        if not is_number(value) or is_nan(value):
            continue
        if best is None or (value > best_value if mode == "max" else value < best_value):
            best, best_value = row, value
    return best if best is not None else rows[-1]


# -- checkpoints ----------------------------------------------------------------------------


def kept_checkpoints(kept: Iterable, latest: Any = None) -> list[tuple[Any, dict]]:
    """``[(Checkpoint, metrics), ...]`` from the checkpoint manager's ``[(path, metrics), ...]``
    (``Trial.kept_checkpoints``), in its order; ``latest`` is reused for its own path."""
    from tune.trainable.checkpoint import Checkpoint

    latest_path = getattr(latest, "path", None) if latest is not None else None
    out: list[tuple[Any, dict]] = []
    for path, metrics in kept:
        if isinstance(path, Checkpoint):
            checkpoint = path
        elif latest_path is not None and _same_path(str(latest_path), str(path)):
            checkpoint = latest
        else:
            checkpoint = Checkpoint(path)
        out.append((checkpoint, dict(metrics or {})))
    return out


def _same_path(a: str, b: str) -> bool:
    if _is_url(a) or _is_url(b):
        return a.rstrip("/") == b.rstrip("/")
    return os.path.normpath(a) == os.path.normpath(b)


def trial_checkpoints_of(trial: Any) -> list[tuple[Any, dict]]:
    """A trial record's kept checkpoints: the checkpoint manager's list when the controller
    recorded one (``trial.kept_checkpoints``), else found in the trial directory."""
    return trial_checkpoints(
        trial.path,
        trial.checkpoint,
        trial.last_result,
        kept=getattr(trial, "kept_checkpoints", None),
    )


def trial_checkpoints(
    trial_path: str | None,
    latest: Any,
    last_result: Mapping | None,
    kept: Iterable | None = None,
) -> list[tuple[Any, dict]]:
    """``[(Checkpoint, metrics), ...]`` for the checkpoints kept in the trial directory.

    ``kept``: the checkpoint manager's ``[(path, metrics), ...]`` (``Trial.kept_checkpoints``);
    when given it is the answer (exact metrics, no listing). Otherwise directories are
    ``checkpoint_<training_iteration>``; each is paired with the logged result of that
    iteration. ``latest`` (the trial's current checkpoint object) is reused for its directory
    and included even where the directory cannot be listed.
    """
    if kept is not None:
        return kept_checkpoints(kept, latest)
    dirs = list_checkpoint_dirs(trial_path) if trial_path else []
    latest_path = getattr(latest, "path", None)
    if not dirs:
        return [(latest, dict(last_result or {}))] if latest is not None else []
    from tune.trainable.checkpoint import Checkpoint

    by_name: dict[str, dict] = {}
    by_iteration: dict[Any, dict] = {}
    rows = read_rows(trial_path) or ([dict(last_result)] if last_result else [])
    for row in rows:  # later rows win: a restored trial repeats iterations
        name = row.get(CHECKPOINT_DIR_NAME)
        if name:
            by_name[name] = row
        by_iteration[row.get("training_iteration")] = row
    out: list[tuple[Any, dict]] = []
    seen_latest = False
    for index, path in dirs:
        if latest_path is not None and os.path.normpath(str(latest_path)) == os.path.normpath(path):
            checkpoint, seen_latest = latest, True
        else:
            checkpoint = Checkpoint(path)
        # Results name their checkpoint when the controller records it (Ray's
        # "checkpoint_dir_name"); otherwise the directory number is the iteration.
        name = path.rstrip("/").rsplit("/", 1)[-1]
        metrics = by_name.get(name) or by_iteration.get(index) or {"training_iteration": index}
        out.append((checkpoint, dict(metrics)))
    if latest is not None and not seen_latest:
        out.append((latest, dict(last_result or {})))
    return out


def best_checkpoint(checkpoints: list[tuple[Any, dict]], metric: str, mode: str) -> Any:
    """The checkpoint whose metrics have the best ``metric`` (NaN ignored), or ``None``."""
    delim = result_delim()
    scored = []
    for checkpoint, metrics in checkpoints:
        value = lookup(metrics, metric, delim)
        if is_number(value) and not is_nan(value):
            scored.append((value, checkpoint))
    if not scored:
        return None
    pick = max if mode == "max" else min
    return pick(scored, key=lambda pair: pair[0])[1]
