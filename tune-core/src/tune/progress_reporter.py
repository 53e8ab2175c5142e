"""Console progress while an experiment runs: the status table and per-trial lines.

``ProgressReporter`` is the interface users subclass (Ray Tune's): ``should_report`` decides
when, ``report`` prints. ``CLIReporter`` prints the familiar "== Status ==" block with a table
of trials; on a terminal it redraws that block in place instead of scrolling.
``JupyterNotebookReporter`` shows it as HTML in a notebook.

``ReporterCallback`` puts a reporter on the experiment's bus (pluggy hooks) and implements
``RunConfig(verbose=...)``: 0 silent; 1 status updates and the final table; 2 also a line when
a trial starts, completes or errors; 3 also the results (each trial's at most every
``RESULT_PRINT_INTERVAL_S`` seconds, and always its last one). It stays off the hot path:
``should_report`` is asked at most every ``CHECK_INTERVAL_S`` seconds, not per result.
"""

from __future__ import annotations

import abc
import datetime
import html
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tune import _table
from tune._result_io import is_number, lookup
from tune.errors import check_mode, invalid_type, invalid_value
from tune.plugins import hookimpl
from tune.result import (
    AUTO_RESULT_KEYS,
    DEFAULT_METRIC,
    EPISODE_REWARD_MEAN,
    MEAN_ACCURACY,
    MEAN_LOSS,
    NODE_IP,
    PID,
    TIME_TOTAL_S,
    TIMESTEPS_TOTAL,
    TRAINING_ITERATION,
)
from tune.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, Trial

#: order in which trial states appear in the table
_STATE_ORDER = (RUNNING, PAUSED, PENDING, TERMINATED, ERROR)
_TRAILING_COLUMNS = (TRAINING_ITERATION, TIME_TOTAL_S)

ColumnSpec = Sequence[str] | Mapping[str, str]


class ProgressReporter(abc.ABC):
    """Interface for experiment progress reporting (Ray Tune's ``tune.ProgressReporter``).

    Tune calls ``should_report`` regularly while the experiment runs and once at the end with
    ``done=True``; when it returns True, ``report`` is called. Print to any stream or file.
    """

    def setup(  # noqa: B027 - optional to override; a no-op by default
        self,
        start_time: float | None = None,
        total_samples: int | None = None,
        metric: str | None = None,
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Called once before the experiment starts, with what is known only at run time.

        :param start_time: ``time.time()`` when the experiment started.
        :param total_samples: number of trials the experiment will create, if known.
        :param metric: the experiment's metric.
        :param mode: its mode, "min" or "max".
        """

    @abc.abstractmethod
    def should_report(self, trials: list[Trial], done: bool = False) -> bool:
        """Whether ``report`` should be called now.

        :param trials: all trials.
        :param done: True for the last call, when the experiment has ended.
        """

    @abc.abstractmethod
    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        """Report progress.

        :param trials: all trials.
        :param done: True for the final report.
        :param sys_info: extra lines to show (scheduler, resources).
        """


def _check_columns(argument: str, columns: Any) -> None:
    if columns is None:
        return
    if isinstance(columns, str) or not isinstance(columns, (list, tuple, Mapping)):
        raise invalid_type(
            argument, columns, "expected a list of result keys or a dict {key: column title}"
        )


def _check_int(argument: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(argument, value, f"expected an integer >= {minimum}")
    if value < minimum:
        raise invalid_value(argument, value, f"must be an integer >= {minimum}")


class TuneReporterBase(ProgressReporter):
    """The status block shared by the built-in reporters.

    Without ``metric_columns``, the table shows the well-known metrics present (accuracy,
    loss, ...), up to ``infer_limit`` other numeric metrics found in the results, the
    iteration and the total time.

    :param metric_columns: result keys to show; a dict maps key -> column title.
    :param parameter_columns: config keys to show ("model/width" for nested ones); a dict
        maps key -> column title. Default: the sampled parameters.
    :param total_samples: number of trials the experiment will create (shown as "N/total").
    :param max_progress_rows: at most this many trial rows while running (all at the end).
    :param max_error_rows: at most this many rows in the error table while running.
    :param max_column_length: longer values are cut and end in "...".
    :param max_report_frequency: report at most every this many seconds.
    :param infer_limit: at most this many metrics are picked automatically.
    :param print_intermediate_tables: show the trial table in every status update
        (default). False shows it only in the final report.
    :param metric: metric for the "Current best trial" line and ``sort_by_metric``.
    :param mode: "min" or "max".
    :param sort_by_metric: list terminated trials best first.
    """

    DEFAULT_COLUMNS: dict[str, str] = {
        MEAN_ACCURACY: "acc",
        MEAN_LOSS: "loss",
        TRAINING_ITERATION: "iter",
        TIME_TOTAL_S: "total time (s)",
        TIMESTEPS_TOTAL: "ts",
        EPISODE_REWARD_MEAN: "reward",
    }

    def __init__(
        self,
        metric_columns: ColumnSpec | None = None,
        parameter_columns: ColumnSpec | None = None,
        total_samples: int | None = None,
        max_progress_rows: int = 20,
        max_error_rows: int = 20,
        max_column_length: int = 20,
        max_report_frequency: float = 5,
        infer_limit: int = 3,
        print_intermediate_tables: bool | None = None,
        metric: str | None = None,
        mode: str | None = None,
        sort_by_metric: bool = False,
    ) -> None:
        _check_columns("metric_columns", metric_columns)
        _check_columns("parameter_columns", parameter_columns)
        _check_int("max_progress_rows", max_progress_rows, 1)
        _check_int("max_error_rows", max_error_rows, 1)
        _check_int("max_column_length", max_column_length, 4)
        _check_int("infer_limit", infer_limit, 0)
        if isinstance(max_report_frequency, bool) or not isinstance(
            max_report_frequency, (int, float)
        ):
            raise invalid_type("max_report_frequency", max_report_frequency, "expected seconds")
        if max_report_frequency < 0 or math.isnan(max_report_frequency):
            raise invalid_value("max_report_frequency", max_report_frequency, "must be >= 0")
        if metric is not None and not isinstance(metric, str):
            raise invalid_type("metric", metric, "expected a result key (string)")
        check_mode(mode)

        self._metrics_override = metric_columns is not None
        self._metric_columns: ColumnSpec = (
            (dict(metric_columns) if isinstance(metric_columns, Mapping) else list(metric_columns))
            if metric_columns is not None
            else dict(self.DEFAULT_COLUMNS)
        )
        self._parameter_columns: ColumnSpec = (
            dict(parameter_columns)
            if isinstance(parameter_columns, Mapping)
            else list(parameter_columns or [])
        )
        self._inferred_metrics: list[str] = []
        self._total_samples = total_samples
        self._max_progress_rows = max_progress_rows
        self._max_error_rows = max_error_rows
        self._max_column_length = max_column_length
        self._max_report_frequency = max_report_frequency
        self._infer_limit = infer_limit
        self._print_intermediate_tables = (
            True if print_intermediate_tables is None else bool(print_intermediate_tables)
        )
        self._metric = metric
        self._mode = mode
        self._sort_by_metric = bool(sort_by_metric)
        self._start_time = time.time()
        self._last_report_time = 0.0

    # -- run-time settings ----------------------------------------------------------------
    def setup(
        self,
        start_time: float | None = None,
        total_samples: int | None = None,
        metric: str | None = None,
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.set_start_time(start_time)
        if total_samples is not None:
            self.set_total_samples(total_samples)
        self.set_search_properties(metric, mode)

    def set_search_properties(self, metric: str | None, mode: str | None) -> bool:
        """Take the experiment's metric and mode unless the reporter has different ones."""
        check_mode(mode)
        if self._metric and metric and metric != self._metric:
            raise invalid_value(
                "metric",
                metric,
                f"the progress reporter was created with metric={self._metric!r}; remove the "
                "metric from the reporter or make them the same",
            )
        if self._mode and mode and mode != self._mode:
            raise invalid_value(
                "mode",
                mode,
                f"the progress reporter was created with mode={self._mode!r}; remove the mode "
                "from the reporter or make them the same",
            )
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        return True

    def set_total_samples(self, total_samples: int | None) -> None:
        self._total_samples = total_samples

    def set_start_time(self, timestamp: float | None = None) -> None:
        self._start_time = time.time() if timestamp is None else timestamp

    # -- columns --------------------------------------------------------------------------
    def add_metric_column(self, metric: str, representation: str | None = None) -> None:
        """Show ``metric`` (a result key) in the table, titled ``representation``."""
        if not isinstance(metric, str) or not metric:
            raise invalid_type("metric", metric, "expected a result key (string)")
        self._metrics_override = True
        self._add_column(self._metric_columns, "metric", metric, representation)

    def add_parameter_column(self, parameter: str, representation: str | None = None) -> None:
        """Show config value ``parameter`` ("a/b" for nested) in the table."""
        if not isinstance(parameter, str) or not parameter:
            raise invalid_type("parameter", parameter, "expected a config key (string)")
        self._add_column(self._parameter_columns, "parameter", parameter, representation)

    @staticmethod
    def _add_column(
        columns: ColumnSpec, argument: str, key: str, representation: str | None
    ) -> None:
        if key in columns:
            raise invalid_value(argument, key, "this column is already shown")
        if isinstance(columns, dict):
            columns[key] = representation or key
        else:
            if representation is not None and representation != key:
                raise invalid_value(
                    "representation",
                    representation,
                    f"cannot differ from the {argument} name when the columns were given as "
                    "a list; give them as a dict {key: title} to rename columns",
                )
            columns.append(key)  # type: ignore[union-attr]

    # -- when ------------------------------------------------------------------------------
    def should_report(self, trials: list[Trial], done: bool = False) -> bool:
        now = time.time()
        if now - self._last_report_time > self._max_report_frequency:
            self._last_report_time = now
            return True
        return done

    # -- what ------------------------------------------------------------------------------
    def _infer_user_metrics(self, trials: list[Trial]) -> list[str]:
        if len(self._inferred_metrics) >= self._infer_limit:
            return self._inferred_metrics
        found: list[str] = []
        if self._metric and self._metric not in self.DEFAULT_COLUMNS and self._infer_limit:
            found.append(self._metric)
        for trial in trials:
            if len(found) >= self._infer_limit:
                break
            for key, value in trial.last_result.items():
                if (
                    key in self.DEFAULT_COLUMNS
                    or key in AUTO_RESULT_KEYS
                    or key in found
                    or not is_number(value)
                ):
                    continue
                found.append(key)
                if len(found) >= self._infer_limit:
                    break
        self._inferred_metrics = found
        return found

    def _metric_column_titles(self, trials: list[Trial]) -> dict[str, str]:
        if self._metrics_override:
            cols = self._metric_columns
            return dict(cols) if isinstance(cols, Mapping) else {k: k for k in cols}
        titles = {k: v for k, v in self.DEFAULT_COLUMNS.items() if k not in _TRAILING_COLUMNS}
        for key in self._infer_user_metrics(trials):
            titles.setdefault(key, key)
        for key in _TRAILING_COLUMNS:
            titles[key] = self.DEFAULT_COLUMNS[key]
        return titles

    def _parameter_column_titles(self, trials: list[Trial]) -> dict[str, str]:
        cols = self._parameter_columns
        if isinstance(cols, Mapping) and cols:
            return dict(cols)
        if cols:
            return {k: k for k in cols}
        keys: dict[str, None] = {}
        for trial in trials:
            for key in trial.evaluated_params:
                keys.setdefault(key, None)
        return {k: k for k in sorted(keys)}

    def _current_best_trial(self, trials: list[Trial]) -> tuple[Trial | None, str | None]:
        from tune.analysis import find_best_trial

        metric, mode = self._metric, self._mode
        if not metric and len(self._inferred_metrics) == 1:
            metric = self._inferred_metrics[0]
        if not metric or not mode or not trials:
            return None, metric
        return find_best_trial(trials, metric, mode, "last"), metric

    def _best_trial_str(self, trial: Trial, metric: str) -> str:
        value = lookup(trial.last_result, metric)
        params = {
            k: _param_value(trial, k) for k in self._parameter_column_titles([trial])
        } or trial.config
        return f"Current best trial: {trial.trial_id} with {metric}={value} and parameters={params}"

    def _progress_str(
        self,
        trials: list[Trial],
        done: bool,
        *sys_info: Any,
        fmt: str = "psql",
        delim: str = "\n",
        max_rows: int | None = None,
    ) -> str:
        """The whole status block: header lines, trial table and error table.

        ``max_rows`` overrides ``max_progress_rows`` (the final report shows every trial).
        """
        text_lines: list[str] = ["== Status ==", _time_passed_str(self._start_time, time.time())]
        memory = _memory_str()
        if memory:
            text_lines.append(memory)
        text_lines.extend(str(info) for info in sys_info if info)
        metric_titles = self._metric_column_titles(trials)
        best, metric = self._current_best_trial(trials)
        if best is not None and metric:
            text_lines.append(self._best_trial_str(best, metric))
        for logdir in sorted({d for d in map(_experiment_dir, trials) if d}):
            text_lines.append(f"Result logdir: {logdir}")
        text_lines.append(_trial_count_str(trials, self._total_samples))
        eta = None if done else eta_str(trials, self._total_samples, time.time() - self._start_time)
        if eta:
            text_lines.append(eta)

        def esc(line: str) -> str:
            return html.escape(line) if fmt == "html" else line

        parts = [esc(line) for line in text_lines]
        if trials and (self._print_intermediate_tables or done):
            table, overflow = self._trial_table(
                trials, metric_titles, None if done else (max_rows or self._max_progress_rows), fmt
            )
            parts.append(table)
            if overflow:
                parts.append(esc(overflow))
        error_lines, error_table = _errors_str(trials, None if done else self._max_error_rows, fmt)
        parts.extend(esc(line) for line in error_lines)
        if error_table:
            parts.append(error_table)
        return delim.join(parts)

    def _trial_table(
        self,
        trials: list[Trial],
        metric_titles: dict[str, str],
        max_rows: int | None,
        fmt: str,
    ) -> tuple[str, str]:
        by_state: dict[str, list[Trial]] = {}
        for t in trials:
            by_state.setdefault(t.status, []).append(t)
        metric, mode = self._metric, self._mode
        if self._sort_by_metric and metric and mode and TERMINATED in by_state:
            sign = -1.0 if mode == "max" else 1.0

            def key(t: Trial) -> tuple[int, float]:
                value = lookup(t.last_result, metric)
                if not is_number(value) or math.isnan(value):
                    return (1, 0.0)
                return (0, sign * float(value))

            by_state[TERMINATED] = sorted(by_state[TERMINATED], key=key)
        states = [s for s in _STATE_ORDER if s in by_state] + sorted(
            s for s in by_state if s not in _STATE_ORDER
        )
        overflow = ""
        if max_rows is not None and len(trials) > max_rows:
            shown_counts = _fair_share({s: len(by_state[s]) for s in states}, max_rows)
            hidden = [
                f"{len(by_state[s]) - shown_counts[s]} {s}"
                for s in states
                if len(by_state[s]) > shown_counts[s]
            ]
            overflow = f"... {len(trials) - max_rows} more trials not shown ({', '.join(hidden)})"
            shown = [t for s in states for t in by_state[s][: shown_counts[s]]]
        else:
            shown = [t for s in states for t in by_state[s]]

        metric_keys = [
            k for k in metric_titles if any(lookup(t.last_result, k) is not None for t in shown)
        ]
        param_titles = self._parameter_column_titles(shown)
        locations = [_location(t) for t in shown]
        show_loc = any(locations)
        headers = ["Trial name", "status"] + (["loc"] if show_loc else [])
        headers += [param_titles[k] for k in param_titles]
        headers += [metric_titles[k] for k in metric_keys]
        rows = []
        for t, loc in zip(shown, locations):
            row: list[Any] = [_table.Whole(t), t.status] + ([loc] if show_loc else [])
            row += [_param_value(t, k) for k in param_titles]
            row += [lookup(t.last_result, k) for k in metric_keys]
            rows.append(row)
        return _table.render(headers, rows, fmt, self._max_column_length), overflow


def _param_value(trial: Trial, key: str) -> Any:
    if key in trial.evaluated_params:
        return trial.evaluated_params[key]
    return lookup(trial.config, key)


def _location(trial: Trial) -> str:
    result = trial.last_result
    ip, pid = result.get(NODE_IP), result.get(PID)
    return f"{ip}:{pid}" if ip and pid else ""


def _experiment_dir(trial: Trial) -> str | None:
    if trial.experiment_path:
        return trial.experiment_path
    return os.path.dirname(trial.path) if trial.path else None


def _trial_count_str(trials: list[Trial], total_samples: int | None) -> str:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    by_state = ", ".join(f"{counts[s]} {s}" for s in sorted(counts))
    total = ""
    if total_samples is not None and (total_samples < 0 or total_samples >= sys.maxsize):
        total = "/infinite"
    elif total_samples:
        total = f"/{total_samples}"
    return f"Number of trials: {len(trials)}{total} ({by_state})"


def eta_str(trials: list[Trial], total_samples: int | None, elapsed_s: float) -> str | None:
    """'Estimated time left: 00:01:05 (3/8 trials done)', from the rate trials have finished
    at so far (which already reflects how many run at once); None until one has finished or
    when the number of trials is open-ended."""
    if not total_samples or total_samples < 0 or total_samples >= sys.maxsize:
        return None
    finished = sum(1 for t in trials if t.status in ("TERMINATED", "ERROR"))
    if not finished or elapsed_s <= 0 or finished >= total_samples:
        return None
    left = (total_samples - finished) * elapsed_s / finished
    hours, rest = divmod(left, 3600)
    minutes, seconds = divmod(rest, 60)
    return (
        f"Estimated time left: {hours:02.0f}:{minutes:02.0f}:{seconds:02.0f} "
        f"({finished}/{total_samples} trials done)"
    )


def _fair_share(counts: dict[str, int], max_rows: int) -> dict[str, int]:
    """Rows per state so that every state is represented: one each in turn until full."""
    shown = dict.fromkeys(counts, 0)
    left = max_rows
    while left > 0:
        progressed = False
        for state, n in counts.items():
            if left > 0 and shown[state] < n:
                shown[state] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return shown


def _errors_str(trials: list[Trial], max_rows: int | None, fmt: str) -> tuple[list[str], str]:
    """The lines above the error table, and the table ('' when no trial failed)."""
    failed = [t for t in trials if t.error_file]
    if not failed:
        return [], ""
    lines = [f"Number of errored trials: {len(failed)}"]
    if max_rows is not None and len(failed) > max_rows:
        lines.append(f"Table truncated to {max_rows} rows ({len(failed) - max_rows} overflow)")
        failed = failed[:max_rows]
    rows = [[str(t), t.num_failures, t.error_file] for t in failed]
    # error file paths are what users copy; never cut them
    return lines, _table.render(["Trial name", "# failures", "error file"], rows, fmt, None)


def _time_passed_str(start_time: float, current_time: float) -> str:
    now = datetime.datetime.fromtimestamp(current_time)
    rest = max(current_time - start_time, 0.0)
    days, rest = divmod(rest, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    running = f"{days:.0f} days, " if days else ""
    running += f"{hours:02.0f}:{minutes:02.0f}:{seconds:05.2f}"
    return f"Current time: {now:%Y-%m-%d %H:%M:%S} (running for {running})"


def _memory_str() -> str | None:
    """'Memory usage on this node: 6.9/31.1 GiB' where /proc/meminfo exists (Linux)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = {}
            for line in f:
                name, _, rest = line.partition(":")
                if name in ("MemTotal", "MemAvailable"):
                    info[name] = int(rest.split()[0]) / (1024 * 1024)
                    if len(info) == 2:
                        break
    except (OSError, ValueError, IndexError):
        return None
    if len(info) != 2:
        return None
    total = info["MemTotal"]
    used = total - info["MemAvailable"]
    warn = " (***LOW MEMORY*** less than 10% available)" if used > 0.9 * total else ""
    return f"Memory usage on this node: {used:.1f}/{total:.1f} GiB{warn}"


def _screen_lines(text: str, columns: int) -> int:
    """How many terminal rows ``text`` takes once long lines wrap."""
    return sum(max(1, math.ceil(len(line) / columns)) for line in text.split("\n"))


class CLIReporter(TuneReporterBase):
    """Prints the status block to ``sys.stdout`` (Ray Tune's ``tune.CLIReporter``).

    On a terminal the block is redrawn in place (the previous one is erased with ANSI
    escapes); elsewhere (files, pipes, CI logs) each update is printed below the last. The
    final report is always printed in full and stays on screen.

    Takes the arguments of :class:`TuneReporterBase`, and:

    :param live: redraw in place: ``None`` (default) when stdout is a terminal.
    """

    def __init__(
        self,
        metric_columns: ColumnSpec | None = None,
        parameter_columns: ColumnSpec | None = None,
        total_samples: int | None = None,
        max_progress_rows: int = 20,
        max_error_rows: int = 20,
        max_column_length: int = 20,
        max_report_frequency: float = 5,
        infer_limit: int = 3,
        print_intermediate_tables: bool | None = None,
        metric: str | None = None,
        mode: str | None = None,
        sort_by_metric: bool = False,
        *,
        live: bool | None = None,
    ) -> None:
        super().__init__(
            metric_columns,
            parameter_columns,
            total_samples,
            max_progress_rows,
            max_error_rows,
            max_column_length,
            max_report_frequency,
            infer_limit,
            print_intermediate_tables,
            metric,
            mode,
            sort_by_metric,
        )
        self._live = live
        self._live_lines = 0  # terminal rows of the block on screen that the next one replaces
        self._live_text = ""

    def report(self, trials: list[Trial], done: bool, *sys_info: Any) -> None:
        text = self._progress_str(trials, done, *sys_info)
        if not done and self._is_live(sys.stdout):
            # A block taller than the terminal cannot be redrawn: show fewer trial rows.
            size = shutil.get_terminal_size()
            rows = min(self._max_progress_rows, len(trials))
            for _ in range(3):  # the "... more trials not shown" line may add one more
                excess = _screen_lines(text, max(size.columns, 1)) - (size.lines - 1)
                if excess <= 0 or rows <= 1:
                    break
                rows = max(1, rows - excess)
                text = self._progress_str(trials, done, *sys_info, max_rows=rows)
        self._write_block(text, final=done)

    def print_above(self, text: str) -> None:
        """Print a line above the live status block (or just print it)."""
        stream = sys.stdout
        if self._live_lines and self._is_live(stream):
            stream.write(f"{self._erase()}{text}\n{self._live_text}\n")
        else:
            stream.write(text + "\n")
        stream.flush()

    def _is_live(self, stream: Any) -> bool:
        if self._live is not None:
            return self._live
        isatty = getattr(stream, "isatty", None)
        try:
            tty = bool(isatty and isatty())
        except ValueError:  # closed stream
            return False
        return tty and os.environ.get("TERM") != "dumb"

    def _erase(self) -> str:
        # cursor up over the old block, to column 0, clear to the end of the screen
        return f"\x1b[{self._live_lines}A\r\x1b[J" if self._live_lines else ""

    def _write_block(self, text: str, final: bool) -> None:
        stream = sys.stdout
        if self._is_live(stream):
            size = shutil.get_terminal_size()
            lines = _screen_lines(text, max(size.columns, 1))
            stream.write(f"{self._erase()}{text}\n")
            # A block taller than the screen cannot be erased: leave it and start afresh.
            keep = not final and lines < size.lines
            self._live_lines = lines if keep else 0
            self._live_text = text if keep else ""
            if final:
                stream.write("\n")
        else:
            stream.write(text + "\n\n")
        stream.flush()


class JupyterNotebookReporter(TuneReporterBase):
    """Shows the status block as HTML in a Jupyter notebook (Ray Tune's reporter).

    :param overwrite: replace the previous output instead of appending.

    Takes the other arguments of :class:`TuneReporterBase`.
    """

    def __init__(
        self,
        overwrite: bool = True,
        metric_columns: ColumnSpec | None = None,
        parameter_columns: ColumnSpec | None = None,
        total_samples: int | None = None,
        max_progress_rows: int = 20,
        max_error_rows: int = 20,
        max_column_length: int = 20,
        max_report_frequency: float = 5,
        infer_limit: int = 3,
        print_intermediate_tables: bool | None = None,
        metric: str | None = None,
        mode: str | None = None,
        sort_by_metric: bool = False,
    ) -> None:
        super().__init__(
            metric_columns,
            parameter_columns,
            total_samples,
            max_progress_rows,
            max_error_rows,
            max_column_length,
            max_report_frequency,
            infer_limit,
            print_intermediate_tables,
            metric,
            mode,
            sort_by_metric,
        )
        self._overwrite = overwrite

    def report(self, trials: list[Trial], done: bool, *sys_info: Any) -> None:
        try:
            from IPython.display import HTML, clear_output, display
        except ImportError as exc:
            raise ImportError(
                "JupyterNotebookReporter needs IPython: pip install ipython "
                "(or use tune.CLIReporter)"
            ) from exc
        progress = self._progress_str(trials, done, *sys_info, fmt="html", delim="<br>")
        if self._overwrite:
            clear_output(wait=True)
        display(HTML(progress))

    def print_above(self, text: str) -> None:
        print(text)


def in_notebook() -> bool:
    """Whether this runs inside a Jupyter kernel (only checks an already imported IPython)."""
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return False
    try:
        shell = ipython_module.get_ipython()
    except Exception:
        return False
    return shell is not None and "Terminal" not in type(shell).__name__


def default_reporter(
    metric: str | None = None, mode: str | None = None, verbose: int = 1
) -> TuneReporterBase:
    """The reporter used when none is given: a notebook one in Jupyter, else ``CLIReporter``."""
    if in_notebook():
        return JupyterNotebookReporter(overwrite=verbose < 2, metric=metric, mode=mode)
    return CLIReporter(metric=metric, mode=mode)


# ---------------------------------------------------------------------------------------------
# The bus adapter
# ---------------------------------------------------------------------------------------------


def _short_result(result: Mapping) -> str:
    return ",".join(
        f"{k}={v}" for k, v in result.items() if k not in AUTO_RESULT_KEYS
    )


def _pretty(value: Any, indent: int = 2) -> list[str]:
    lines = []
    pad = " " * indent
    for key in sorted(value, key=str):
        item = value[key]
        if isinstance(item, Mapping) and item:
            lines.append(f"{pad}{key}:")
            lines.extend(_pretty(item, indent + 2))
        else:
            lines.append(f"{pad}{key}: {item}")
    return lines


class ReporterCallback:
    """Drives a ``ProgressReporter`` from the experiment's hooks; implements ``verbose``.

    Register it on the experiment's bus. ``verbose``: 0 prints nothing; 1 status updates and
    the final table; 2 also a line when a trial starts, completes or errors; 3 also results.

    :param reporter: the ``ProgressReporter``; ``None`` picks :func:`default_reporter`.
    :param verbose: 0, 1, 2 or 3.
    :param metric: the experiment's metric (passed to ``reporter.setup``).
    :param mode: the experiment's mode.
    :param sys_info: called at each report; returns extra lines for the status block
        (scheduler, resources).
    """

    #: ask ``should_report`` at most this often (seconds)
    CHECK_INTERVAL_S = 0.25
    #: verbose 3: print a trial's results at most this often (its last one always)
    RESULT_PRINT_INTERVAL_S = 5.0

    def __new__(cls, reporter: ProgressReporter | None = None, verbose: int = 1, **kwargs: Any):
        # Only verbose 3 implements the per-result hook, so lower levels cost nothing per result.
        if cls is ReporterCallback and verbose == 3:
            cls = _ResultPrintingReporterCallback
        return super().__new__(cls)

    def __init__(
        self,
        reporter: ProgressReporter | None = None,
        verbose: int = 1,
        *,
        metric: str | None = None,
        mode: str | None = None,
        sys_info: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        if verbose not in (0, 1, 2, 3) or isinstance(verbose, bool):
            raise invalid_value("verbose", verbose, "must be 0, 1, 2 or 3")
        if reporter is None:
            reporter = default_reporter(metric, mode, verbose)
        if not (callable(getattr(reporter, "should_report", None)) and callable(
            getattr(reporter, "report", None)
        )):
            raise invalid_type(
                "progress_reporter",
                reporter,
                "expected a tune.ProgressReporter (with should_report and report methods)",
            )
        if sys_info is not None and not callable(sys_info):
            raise invalid_type("sys_info", sys_info, "expected a function returning lines")
        self.reporter = reporter
        self.verbose = verbose
        self.metric = metric
        self.mode = mode
        self._sys_info = sys_info
        self._next_check = 0.0

    def _info(self) -> list[str]:
        return list(self._sys_info()) if self._sys_info is not None else []

    def _line(self, text: str) -> None:
        print_above = getattr(self.reporter, "print_above", None)
        if print_above is not None:
            print_above(text)
        else:
            print(text, flush=True)

    @staticmethod
    def _params(trial: Trial) -> dict:
        return trial.evaluated_params or trial.config

    @hookimpl
    def tune_setup(self, total_num_samples: int | None) -> None:
        if not self.verbose:
            return
        setup = getattr(self.reporter, "setup", None)
        if setup is not None:
            setup(
                start_time=time.time(),
                total_samples=total_num_samples,
                metric=self.metric,
                mode=self.mode,
            )

    @hookimpl
    def tune_on_step_end(self, trials: list[Trial]) -> None:
        if not self.verbose:
            return
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.CHECK_INTERVAL_S
        if self.reporter.should_report(trials, False):
            self.reporter.report(trials, False, *self._info())

    @hookimpl
    def tune_on_trial_start(self, trial: Trial) -> None:
        if self.verbose >= 2:
            self._line(f"Trial {trial} started with parameters={self._params(trial)}.")

    @hookimpl
    def tune_on_trial_complete(self, trial: Trial) -> None:
        if self.verbose >= 2:
            self._line(f"Trial {trial} completed. Last result: {_short_result(trial.last_result)}")

    @hookimpl
    def tune_on_trial_error(self, trial: Trial) -> None:
        if self.verbose >= 2:
            self._line(
                f"Trial {trial} errored with parameters={self._params(trial)}. "
                f"Error file: {trial.error_file}"
            )

    @hookimpl
    def tune_on_experiment_end(self, trials: list[Trial]) -> None:
        if not self.verbose:
            return
        if self.reporter.should_report(trials, True):
            self.reporter.report(trials, True, *self._info())


class _ResultPrintingReporterCallback(ReporterCallback):
    """``ReporterCallback`` at verbose 3: also prints results, throttled per trial."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_print: dict[str, float] = {}
        self._last_printed: dict[str, dict] = {}

    def _print_result(self, trial: Trial, result: dict) -> None:
        self._last_printed[trial.trial_id] = result
        self._line("\n".join([f"Result for {trial}:", *_pretty(result)]))

    @hookimpl
    def tune_on_trial_result(self, trial: Trial, result: dict) -> None:
        now = time.monotonic()
        last = self._last_print.get(trial.trial_id)
        if last is not None and now - last < self.RESULT_PRINT_INTERVAL_S:
            return
        self._last_print[trial.trial_id] = now
        self._print_result(trial, result)

    @hookimpl
    def tune_on_trial_complete(self, trial: Trial) -> None:
        # the last result is always shown, even if throttling skipped it
        if trial.last_result and self._last_printed.get(trial.trial_id) is not trial.last_result:
            self._print_result(trial, trial.last_result)
        self._last_printed.pop(trial.trial_id, None)
        self._last_print.pop(trial.trial_id, None)
        super().tune_on_trial_complete(trial)
