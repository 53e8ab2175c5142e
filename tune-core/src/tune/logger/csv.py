"""``CSVLoggerCallback``: one ``progress.csv`` row per result in each trial directory.

The header comes from the first result. Nested dicts are flattened into columns joined with
the ``TUNE_RESULT_DELIM`` environment variable (default ``/``: ``info/loss``); ``config`` is
left out as in Ray Tune (it is in ``params.json`` and ``result.json``). When a later result
brings keys the header lacks, the file is rewritten once with the wider header (earlier rows
get empty cells), so every row always matches the header; keys missing from a result leave
empty cells. A restarted trial appends to its existing file under the existing header.
"""

from __future__ import annotations

import csv
import os
from typing import IO, TYPE_CHECKING, Any

from tune.logger.logger import EXPR_PROGRESS_FILE, _TrialFileLogger, open_for_append

if TYPE_CHECKING:
    from tune.trial import Trial

__all__ = ["CSVLoggerCallback", "flatten_result"]


def _flatten_into(out: dict, nested: dict, prefix: str, delimiter: str) -> None:
    for key, value in nested.items():
        if isinstance(value, dict):
            _flatten_into(out, value, f"{prefix}{key}{delimiter}", delimiter)
        else:
            out[f"{prefix}{key}"] = value


def flatten_result(result: dict, delimiter: str = "/", *, drop_config: bool = True) -> dict:
    """``result`` with nested dicts flattened to ``"outer<delimiter>inner"`` keys.

    Keys keep their order; an empty nested dict produces no column. ``config`` is dropped
    unless ``drop_config`` is false.
    """
    out: dict = {}
    for key, value in result.items():
        if isinstance(value, dict):
            if drop_config and key == "config":
                continue
            _flatten_into(out, value, f"{key}{delimiter}", delimiter)
        else:
            out[key] = value
    return out


class _CsvTrial:
    """Per-trial bookkeeping: the header as written and the writer of the open file."""

    __slots__ = ("fields", "known", "writer")

    def __init__(self) -> None:
        self.fields: list | None = None
        self.known: set = set()
        self.writer: Any = None


def _read_header(path: str) -> list[str] | None:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return next(csv.reader(f), None)
    except FileNotFoundError:
        return None


class CSVLoggerCallback(_TrialFileLogger):
    """Logs each trial's results to ``<trial dir>/progress.csv``.

    One of the two default loggers (with ``JsonLoggerCallback``).
    """

    _SAVED_FILE_TEMPLATES = [EXPR_PROGRESS_FILE]
    _filename = EXPR_PROGRESS_FILE
    _newline = ""  # the csv module writes its own line endings

    def __init__(self) -> None:
        super().__init__()
        from tune import env

        self._delimiter = env.get("TUNE_RESULT_DELIM")
        self._trials: dict[str, _CsvTrial] = {}

    def _opened(self, trial: Trial, f: IO[str]) -> None:
        state = self._trials.get(trial.trial_id)
        if state is None:
            state = self._trials[trial.trial_id] = _CsvTrial()
            # An existing file (a restarted trial) keeps its header.
            header = _read_header(self._path(trial)) if f.tell() else None
            if header:
                state.fields = header
                state.known = set(header)
        state.writer = csv.writer(f, lineterminator="\n")

    def _close(self, trial_id: str) -> None:
        state = self._trials.get(trial_id)
        if state is not None:
            state.writer = None
        super()._close(trial_id)

    def log_trial_start(self, trial: Trial) -> None:
        self._open(trial)

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        trial_id = trial.trial_id
        state = self._trials.get(trial_id)
        if state is None or state.writer is None:
            self._open(trial)
            state = self._trials[trial_id]
        row = flatten_result(result, self._delimiter)
        fields = state.fields
        if fields is None:
            state.fields = fields = list(row)
            state.known = set(fields)
            state.writer.writerow(fields)
        elif not row.keys() <= state.known:
            self._widen(trial, state, [key for key in row if key not in state.known])
            fields = state.fields
        state.writer.writerow([row.get(key, "") for key in fields])
        self._dirty.add(trial_id)

    def _widen(self, trial: Trial, state: _CsvTrial, new_keys: list) -> None:
        """Rewrite the trial's file with ``new_keys`` added to the header."""
        trial_id = trial.trial_id
        super()._close(trial_id)
        state.writer = None
        path = self._path(trial)
        fields = list(state.fields or ()) + new_keys
        with open(path, encoding="utf-8", newline="") as src:
            rows = list(csv.reader(src))
        tmp = f"{path}.tmp.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8", newline="") as dst:
            writer = csv.writer(dst, lineterminator="\n")
            writer.writerow(fields)
            padding = [""] * len(new_keys)
            for row in rows[1:]:
                writer.writerow(row + padding)
        os.replace(tmp, path)
        state.fields = fields
        state.known = set(fields)
        self._files[trial_id] = f = open_for_append(path, self._newline)
        state.writer = csv.writer(f, lineterminator="\n")

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        super().log_trial_end(trial, failed)
        self._trials.pop(trial.trial_id, None)
