"""The status table (CLIReporter), its live redraw, and ReporterCallback's verbose levels."""

from __future__ import annotations

import io
import re

import pytest

from tune.errors import TuneTypeError, TuneValueError
from tune.plugins import get_plugin_manager
from tune.progress_reporter import (
    CLIReporter,
    JupyterNotebookReporter,
    ProgressReporter,
    ReporterCallback,
    default_reporter,
)
from tune.trial import ERROR, PENDING, RUNNING, TERMINATED, Trial

ERASE = re.compile(r"\x1b\[(\d+)A\r\x1b\[J")


def make_trial(index: int, status: str, score: float | None = None, iters: int = 1, **extra):
    trial = Trial(
        f"abc12_{index:05d}",
        {"lr": 0.001 * (index + 1), "layers": index % 3, "fixed": "x"},
        trainable_name="train",
        evaluated_params={"lr": 0.001 * (index + 1), "layers": index % 3},
        path=f"/exp/train_abc12_{index:05d}",
        experiment_path="/exp",
    )
    if score is not None:
        for i in range(iters):
            trial.update_last_result(
                {"score": score, "training_iteration": i + 1, "time_total_s": 1.5 * (i + 1),
                 "node_ip": "10.0.0.1", "pid": 1000 + index, "trial_id": trial.trial_id,
                 "config": trial.config, **extra}
            )
    trial.status = status
    return trial


def eight_trials():
    statuses = [PENDING, PENDING, RUNNING, RUNNING, RUNNING, RUNNING, TERMINATED, TERMINATED]
    return [
        make_trial(i, s, None if s == PENDING else float(i), iters=i)
        for i, s in enumerate(statuses)
    ]


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def big_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("LINES", "200")
    monkeypatch.delenv("TERM", raising=False)


def test_status_block_contents(capsys):
    reporter = CLIReporter(metric="score", mode="max", max_report_frequency=0)
    reporter.setup(total_samples=10)
    trials = eight_trials()
    reporter.report(trials, False, "Using FIFO scheduling algorithm.")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "== Status =="
    assert re.match(r"Current time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(running for 00:00:\d\d\.\d\d\)",
                    lines[1])
    assert "Using FIFO scheduling algorithm." in lines
    assert "Number of trials: 8/10 (2 PENDING, 4 RUNNING, 2 TERMINATED)" in lines
    assert "Result logdir: /exp" in lines
    assert any(line.startswith("Current best trial: abc12_00007 with score=7.0 and parameters=")
               for line in lines)
    header = next(line for line in lines if line.startswith("| Trial name"))
    assert [h.strip() for h in header.strip("|").split("|")] == [
        "Trial name", "status", "loc", "layers", "lr", "score", "iter", "total time (s)"]
    rows = [line for line in lines if line.startswith("| train_")]
    assert len(rows) == 8
    # table order: RUNNING, PENDING, TERMINATED
    assert [r.split("|")[2].strip() for r in rows] == ["RUNNING"] * 4 + ["PENDING"] * 2 + [
        "TERMINATED"] * 2
    running = rows[0]
    assert "10.0.0.1:1002" in running and "0.003" in running and "| 4.5 |" not in running
    assert "more trials not shown" not in out and "errored" not in out


def test_truncation_keeps_every_state(capsys):
    reporter = CLIReporter(max_progress_rows=4)
    trials = eight_trials()
    reporter.report(trials, False)
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| train_")]
    assert len(rows) == 4
    assert {r.split("|")[2].strip() for r in rows} == {RUNNING, PENDING, TERMINATED}
    assert "... 4 more trials not shown (2 RUNNING, 1 PENDING, 1 TERMINATED)" in out
    # the final report shows every trial
    reporter.report(trials, True)
    final = capsys.readouterr().out
    assert len([ln for ln in final.splitlines() if ln.startswith("| train_")]) == 8
    assert "more trials not shown" not in final


def test_error_table():
    trials = eight_trials()
    failed = make_trial(8, ERROR, 1.0)
    failed.error_file = "/exp/train_abc12_00008/error.txt"
    failed.num_failures = 2
    reporter = CLIReporter(max_error_rows=1)
    text = reporter._progress_str(trials + [failed], False)
    assert "Number of errored trials: 1" in text
    row = next(ln for ln in text.splitlines() if "error.txt" in ln)
    assert [c.strip() for c in row.strip("|").split("|")] == [
        "train_abc12_00008", "2", "/exp/train_abc12_00008/error.txt"]


def test_intermediate_tables_off_and_columns():
    trials = eight_trials()
    quiet = CLIReporter(print_intermediate_tables=False)
    assert "| Trial name" not in quiet._progress_str(trials, False)
    assert "| Trial name" in quiet._progress_str(trials, True)

    custom = CLIReporter(metric_columns={"score": "S"}, parameter_columns=["lr"])
    custom.add_metric_column("time_total_s", "secs")
    header = next(ln for ln in custom._progress_str(trials, False).splitlines()
                  if ln.startswith("| Trial name"))
    assert [h.strip() for h in header.strip("|").split("|")] == [
        "Trial name", "status", "loc", "lr", "S", "secs"]
    with pytest.raises(TuneValueError, match="metric='score'.*already"):
        custom.add_metric_column("score")
    with pytest.raises(TuneValueError, match="representation='LR'"):
        custom.add_parameter_column("layers", "LR")
    custom.add_parameter_column("layers")


def test_inferred_metrics_and_long_values():
    trial = make_trial(0, RUNNING, 1.0, acc=0.5, loss=0.25, extra_metric=3, name="y" * 40)
    reporter = CLIReporter(infer_limit=2)
    text = reporter._progress_str([trial], False)
    header = next(ln for ln in text.splitlines() if ln.startswith("| Trial name"))
    columns = [h.strip() for h in header.strip("|").split("|")]
    # numbers only (never the string "name"), in result order, up to infer_limit
    assert columns[-4:] == ["score", "acc", "iter", "total time (s)"]
    long = CLIReporter(metric_columns=["name"], max_column_length=10)
    assert "yyyyyyy..." in long._progress_str([trial], False)


def test_sort_by_metric():
    trials = [make_trial(i, TERMINATED, s) for i, s in enumerate([0.2, 0.9, 0.5])]
    reporter = CLIReporter(metric="score", mode="max", sort_by_metric=True)
    rows = [ln for ln in reporter._progress_str(trials, False).splitlines()
            if ln.startswith("| train_")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "train_abc12_00001", "train_abc12_00002", "train_abc12_00000"]


def test_should_report_frequency():
    reporter = CLIReporter(max_report_frequency=1000)
    assert reporter.should_report([]) is True
    assert reporter.should_report([]) is False
    assert reporter.should_report([], done=True) is True


def test_invalid_arguments_are_named():
    with pytest.raises(TuneValueError, match="max_progress_rows=0"):
        CLIReporter(max_progress_rows=0)
    with pytest.raises(TuneTypeError, match="metric_columns"):
        CLIReporter(metric_columns="score")
    with pytest.raises(TuneValueError, match="mode='up'"):
        CLIReporter(mode="up")
    reporter = CLIReporter(metric="score", mode="max")
    with pytest.raises(TuneValueError, match="metric='loss'.*created with metric='score'"):
        reporter.setup(metric="loss", mode="max")
    reporter.setup(metric="score", mode="max")  # the same values are fine


def test_live_redraw_on_a_terminal(monkeypatch, big_terminal):
    tty = TTY()
    monkeypatch.setattr("sys.stdout", tty)
    reporter = CLIReporter(max_report_frequency=0)
    trials = eight_trials()
    reporter.report(trials, False)
    first = tty.getvalue()
    assert not ERASE.search(first)
    block_lines = first.count("\n")
    reporter.report(trials, False)
    second = tty.getvalue()[len(first):]
    match = ERASE.match(second)
    assert match and int(match.group(1)) == block_lines
    reporter.print_above("Trial train_abc12_00002 completed.")
    third = tty.getvalue()[len(first) + len(second):]
    assert ERASE.match(third)
    assert third.index("completed.") < third.index("== Status ==")
    # the final report replaces the live block and stays
    reporter.report(trials, True)
    reporter.print_above("after the end")
    rest = tty.getvalue()[len(first) + len(second) + len(third):]
    assert len(ERASE.findall(rest)) == 1 and rest.endswith("after the end\n")


def test_no_escape_codes_when_not_a_terminal(monkeypatch, big_terminal):
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    reporter = CLIReporter(max_report_frequency=0)
    for done in (False, False, True):
        reporter.report(eight_trials(), done)
    assert "\x1b[" not in out.getvalue()
    assert out.getvalue().count("== Status ==") == 3


def test_html_reporter_escapes():
    trial = make_trial(0, RUNNING, 1.0)
    trial.evaluated_params = {"op": "<b>"}
    reporter = JupyterNotebookReporter(overwrite=False)
    html = reporter._progress_str([trial], False, "a < b", fmt="html", delim="<br>")
    assert "<table>" in html and "&lt;b&gt;" in html and "a &lt; b" in html
    assert "== Status ==<br>" in html


def test_default_reporter_outside_notebook():
    reporter = default_reporter("score", "min", 1)
    assert type(reporter) is CLIReporter
    assert reporter._metric == "score" and reporter._mode == "min"


# ---- ReporterCallback on a real plugin manager -------------------------------------------


class CountingReporter(ProgressReporter):
    """A user reporter as in the docs: reports on every check."""

    def __init__(self):
        self.checks = 0
        self.reports: list[tuple[int, bool, tuple]] = []
        self.setup_args = None

    def setup(self, **kwargs):
        self.setup_args = kwargs

    def should_report(self, trials, done=False):
        self.checks += 1
        return True

    def report(self, trials, done, *sys_info):
        self.reports.append((len(trials), done, sys_info))


def bus_with(callback):
    pm = get_plugin_manager()
    pm.register(callback)
    return pm.hook


def run_events(hook, trials):
    hook.tune_setup(stop=None, num_samples=1, total_num_samples=len(trials))
    for trial in trials:
        hook.tune_on_trial_start(iteration=0, trials=trials, trial=trial)
    for step in range(3):
        for trial in trials:
            result = {"score": step, "training_iteration": step + 1, "config": trial.config}
            trial.update_last_result(result)
            hook.tune_on_trial_result(iteration=step, trials=trials, trial=trial, result=result)
        hook.tune_on_step_end(iteration=step, trials=trials)
    trials[0].status = TERMINATED
    hook.tune_on_trial_complete(iteration=3, trials=trials, trial=trials[0])
    if len(trials) > 1:
        trials[1].status = ERROR
        trials[1].error_file = "/exp/t1/error.txt"
        hook.tune_on_trial_error(iteration=3, trials=trials, trial=trials[1])
    hook.tune_on_experiment_end(trials=trials)


def test_verbose_0_prints_nothing(capsys):
    reporter = CountingReporter()
    hook = bus_with(ReporterCallback(reporter, verbose=0))
    run_events(hook, [make_trial(0, RUNNING), make_trial(1, RUNNING)])
    assert capsys.readouterr().out == ""
    assert reporter.checks == 0 and reporter.reports == [] and reporter.setup_args is None


def test_verbose_0_with_default_reporter_prints_nothing(capsys):
    hook = bus_with(ReporterCallback(None, verbose=0))
    run_events(hook, [make_trial(0, RUNNING)])
    assert capsys.readouterr().out == ""


def test_verbose_1_status_updates_are_throttled(capsys):
    reporter = CountingReporter()
    callback = ReporterCallback(reporter, verbose=1, metric="score", mode="max",
                                sys_info=lambda: ["Using FIFO scheduling algorithm."])
    hook = bus_with(callback)
    # no per-result hook below verbose 3: nothing to pay per result
    assert not hook.tune_on_trial_result.get_hookimpls()
    trials = [make_trial(0, RUNNING), make_trial(1, RUNNING)]
    run_events(hook, trials)
    assert reporter.setup_args["total_samples"] == 2
    assert reporter.setup_args["metric"] == "score" and reporter.setup_args["mode"] == "max"
    # three step ends within CHECK_INTERVAL_S -> asked once, plus the final report
    assert reporter.checks == 2
    assert reporter.reports == [(2, False, ("Using FIFO scheduling algorithm.",)),
                                (2, True, ("Using FIFO scheduling algorithm.",))]
    assert capsys.readouterr().out == ""  # trial lines start at verbose 2


def test_verbose_1_cli_prints_status_and_final_table(capsys):
    hook = bus_with(ReporterCallback(CLIReporter(), verbose=1))
    run_events(hook, [make_trial(0, RUNNING), make_trial(1, RUNNING)])
    out = capsys.readouterr().out
    assert out.count("== Status ==") == 2
    assert "Number of trials: 2/2 (1 ERROR, 1 TERMINATED)" in out
    assert "Number of errored trials: 1" in out


def test_verbose_2_trial_lines(capsys):
    hook = bus_with(ReporterCallback(CountingReporter(), verbose=2))
    run_events(hook, [make_trial(0, RUNNING), make_trial(1, RUNNING)])
    out = capsys.readouterr().out
    assert "Trial train_abc12_00000 started with parameters={'lr': 0.001, 'layers': 0}." in out
    assert "Trial train_abc12_00000 completed. Last result: score=2" in out
    assert "Trial train_abc12_00001 errored with parameters=" in out
    assert "Error file: /exp/t1/error.txt" in out
    assert "Result for" not in out


def test_verbose_3_prints_results_throttled(capsys):
    callback = ReporterCallback(CountingReporter(), verbose=3)
    assert isinstance(callback, ReporterCallback)
    hook = bus_with(callback)
    assert hook.tune_on_trial_result.get_hookimpls()
    run_events(hook, [make_trial(0, RUNNING), make_trial(1, RUNNING)])
    out = capsys.readouterr().out
    # the first result of each trial, then throttled; the last one of the completed trial
    assert out.count("Result for train_abc12_00000:") == 2
    assert out.count("Result for train_abc12_00001:") == 1
    assert "  score: 2" in out and "  config:\n    fixed: x" in out
    assert "Trial train_abc12_00000 completed." in out


def test_callback_checks_its_arguments():
    with pytest.raises(TuneValueError, match="verbose=4"):
        ReporterCallback(CLIReporter(), verbose=4)
    with pytest.raises(TuneTypeError, match="progress_reporter"):
        ReporterCallback(object(), verbose=1)


def test_doc_style_custom_reporters(capsys):
    class CustomReporter(ProgressReporter):
        def should_report(self, trials, done=False):
            return True

        def report(self, trials, *sys_info):
            print(*sys_info)
            print("\n".join([str(trial) for trial in trials]))

    class ExperimentTerminationReporter(CLIReporter):
        def should_report(self, trials, done=False):
            return done

    hook = bus_with(ReporterCallback(CustomReporter(), verbose=1))
    run_events(hook, [make_trial(0, RUNNING)])
    assert "train_abc12_00000" in capsys.readouterr().out

    hook = bus_with(ReporterCallback(ExperimentTerminationReporter(), verbose=1))
    run_events(hook, [make_trial(0, RUNNING)])
    assert capsys.readouterr().out.count("== Status ==") == 1


def test_live_block_fits_a_small_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("LINES", "16")
    tty = TTY()
    monkeypatch.setattr("sys.stdout", tty)
    reporter = CLIReporter(max_report_frequency=0)
    reporter.report(eight_trials(), False)
    first = tty.getvalue()
    assert first.count("\n") < 16 and "more trials not shown" in first
    reporter.report(eight_trials(), False)
    assert ERASE.match(tty.getvalue()[len(first):])


def test_eta_from_the_rate_trials_finish_at():
    from tune.progress_reporter import eta_str
    from tune.trial import Trial

    trials = [Trial(f"t{i}", {}) for i in range(8)]
    assert eta_str(trials, 8, 10.0) is None  # nothing finished yet
    for t in trials[:2]:
        t.status = "TERMINATED"
    trials[2].status = "ERROR"
    assert eta_str(trials, 8, 30.0) == "Estimated time left: 00:00:50 (3/8 trials done)"
    assert eta_str(trials, None, 30.0) is None
    assert eta_str(trials, -1, 30.0) is None
