"""``LoggerCallback``, the base of result loggers, and the plumbing the file loggers share.

A logger callback turns the callback hooks into five ``log_trial_*`` methods (Ray Tune's
interface). ``_TrialFileLogger`` keeps one file per trial open in append mode while the
trial runs, buffers writes, flushes the trials written to at the end of each controller step
and closes a trial's file when the trial ends, which is what makes logging tens of thousands
of results per second affordable.
"""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any

from tune.callback import Callback
from tune.errors import TuneError

if TYPE_CHECKING:
    from tune.trial import Trial

__all__ = [
    "EXPR_PARAM_FILE",
    "EXPR_PARAM_PICKLE_FILE",
    "EXPR_PROGRESS_FILE",
    "EXPR_RESULT_FILE",
    "LoggerCallback",
]

#: File names inside a trial directory, as in Ray Tune.
EXPR_PARAM_FILE = "params.json"
EXPR_PARAM_PICKLE_FILE = "params.pkl"
EXPR_RESULT_FILE = "result.json"
EXPR_PROGRESS_FILE = "progress.csv"

_BUFFER_SIZE = 1 << 16


class LoggerCallback(Callback):
    """Base class of experiment-level loggers.

    Override ``log_trial_start``, ``log_trial_restore``, ``log_trial_save``,
    ``log_trial_result`` and ``log_trial_end``; the callback hooks call them. A logger must
    release what it holds for a trial (close files) in ``log_trial_end``.
    """

    # Files this logger writes into each trial directory (Ray Tune's attribute).
    _SAVED_FILE_TEMPLATES: list[str] = []

    def log_trial_start(self, trial: Trial) -> None:
        """A trial started: set up whatever logs it."""

    def log_trial_restore(self, trial: Trial) -> None:
        """A trial was restored from a checkpoint and runs again."""

    def log_trial_save(self, trial: Trial) -> None:
        """A trial saved a checkpoint."""

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        """A trial reported ``result``."""

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        """A trial ended (``failed``: with an error); release what it holds."""

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        self.log_trial_result(iteration, trial, result)

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.log_trial_start(trial)

    def on_trial_restore(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.log_trial_restore(trial)

    def on_trial_save(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.log_trial_save(trial)

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.log_trial_end(trial, failed=False)

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.log_trial_end(trial, failed=True)


def trial_dir(trial: Trial) -> str:
    """The trial's local directory, created if missing."""
    path = trial.path
    if not path:
        raise TuneError(f"Trial {trial} has no directory (trial.path is not set); cannot log it.")
    if not os.path.isdir(path):
        os.makedirs(path, exist_ok=True)
    return path


def open_for_append(path: str, newline: str | None = "\n") -> IO[str]:
    """Open ``path`` to append text, first cutting off a partial last line.

    A process killed mid-write leaves a line without its newline; appending to it would
    corrupt the next record too, so the fragment is dropped.
    """
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if size:
        with open(path, "r+b") as f:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                f.truncate(_end_of_last_line(f, size))
    return open(path, "a", encoding="utf-8", newline=newline, buffering=_BUFFER_SIZE)


def _end_of_last_line(f: IO[bytes], size: int) -> int:
    chunk = 1 << 16
    end = size
    while end > 0:
        start = max(0, end - chunk)
        f.seek(start)
        position = f.read(end - start).rfind(b"\n")
        if position >= 0:
            return start + position + 1
        end = start
    return 0


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class _TrialFileLogger(LoggerCallback):
    """Keeps ``<trial dir>/<_filename>`` open per trial; subclasses write records to it.

    At most ``max_open_files`` files are open at once (experiments with many paused trials
    would run out of file descriptors otherwise); beyond that the earliest opened is closed
    and reopened in append mode on its trial's next result.
    """

    _filename = ""
    _newline: str | None = "\n"
    max_open_files = 256

    def __init__(self) -> None:
        self._files: dict[str, IO[str]] = {}
        self._dirty: set[str] = set()

    # -- file management ----------------------------------------------------------------------
    def _path(self, trial: Trial) -> str:
        return os.path.join(trial_dir(trial), self._filename)

    def _open(self, trial: Trial) -> IO[str]:
        trial_id = trial.trial_id
        current = self._files.get(trial_id)
        if current is not None:
            return current
        if len(self._files) >= self.max_open_files:
            self._close(next(iter(self._files)))
        f = open_for_append(self._path(trial), self._newline)
        self._files[trial_id] = f
        self._opened(trial, f)
        return f

    def _opened(self, trial: Trial, f: IO[str]) -> None:
        """Called after a trial's file was (re)opened."""

    def _close(self, trial_id: str) -> None:
        f = self._files.pop(trial_id, None)
        self._dirty.discard(trial_id)
        if f is not None:
            f.close()

    def flush(self) -> None:
        """Flush every file written to since the last flush."""
        files = self._files
        for trial_id in self._dirty:
            f = files.get(trial_id)
            if f is not None:
                f.flush()
        self._dirty.clear()

    def close(self) -> None:
        """Flush and close every open file."""
        for trial_id in list(self._files):
            self._close(trial_id)

    # -- callback methods ---------------------------------------------------------------------
    def log_trial_restore(self, trial: Trial) -> None:
        self._open(trial)

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        self._close(trial.trial_id)

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if self._dirty:
            self.flush()

    def on_trial_recover(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        # Closed, not just flushed: before the retry the controller cuts the history back to
        # the checkpoint it resumes from, by replacing the file.
        self._close(trial.trial_id)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.close()
