"""Result, ResultGrid and ExperimentAnalysis built from real Trial records and trial files."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import statistics
import sys

import pytest

from tune.analysis import ExperimentAnalysis
from tune.errors import TrialError, TuneValueError
from tune.result import Result
from tune.result_grid import ResultGrid
from tune.trainable.checkpoint import Checkpoint
from tune.trial import ERROR, PENDING, RUNNING, TERMINATED, Trial


def make_trial(
    exp_dir,
    index: int,
    scores: list,
    *,
    status: str = TERMINATED,
    config: dict | None = None,
    write: bool = True,
    extra: dict | None = None,
) -> Trial:
    """A trial whose results went through update_last_result and into result.json."""
    config = config if config is not None else {"lr": round(0.01 * (index + 1), 4), "fixed": 7}
    trial_id = f"abc12_{index:05d}"
    trial = Trial(
        trial_id,
        config,
        trainable_name="train",
        experiment_tag=f"{index}_lr={config.get('lr')}",
        evaluated_params={"lr": config.get("lr")},
        path=os.path.join(str(exp_dir), f"train_{trial_id}"),
        experiment_path=str(exp_dir),
    )
    os.makedirs(trial.path, exist_ok=True)
    lines = []
    for i, score in enumerate(scores):
        result = {
            "score": score,
            "training_iteration": i + 1,
            "time_total_s": 0.5 * (i + 1),
            "trial_id": trial_id,
            "done": False,
            **(extra or {}),
            "config": config,
        }
        trial.update_last_result(result)
        lines.append(json.dumps(result))
    if write and lines:
        with open(os.path.join(trial.path, "result.json"), "w") as f:
            f.write("\n".join(lines) + "\n")
    trial.status = status if scores or status != TERMINATED else PENDING
    return trial


# Histories chosen so that the scopes disagree about the winner.
HISTORIES = [
    [80] + [0] * 11,
    [0] * 6 + [10] * 5 + [1],
    [0, 0] + [9] * 6 + [0] * 3 + [6],
    [3] * 11 + [2],
    [0] * 11 + [12],
]

ORACLE = {
    "last": lambda h, mode: h[-1],
    "avg": lambda h, mode: statistics.mean(h),
    "last-5-avg": lambda h, mode: statistics.mean(h[-5:]),
    "last-10-avg": lambda h, mode: statistics.mean(h[-10:]),
    "all": lambda h, mode: max(h) if mode == "max" else min(h),
}


def oracle_best(scope: str, mode: str) -> int:
    scores = [ORACLE[scope](h, mode) for h in HISTORIES]
    pick = max if mode == "max" else min
    return scores.index(pick(scores))


@pytest.fixture
def grid_trials(tmp_path):
    return [make_trial(tmp_path, i, h) for i, h in enumerate(HISTORIES)]


@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize("scope", list(ORACLE))
def test_best_result_per_scope_and_mode(tmp_path, grid_trials, scope, mode):
    grid = ResultGrid(grid_trials, str(tmp_path), metric="score", mode=mode)
    best = grid.get_best_result(scope=scope)
    expected = oracle_best(scope, mode)
    assert best.path == grid_trials[expected].path
    assert best.config == grid_trials[expected].config
    # the same answer through ExperimentAnalysis, with explicit arguments
    analysis = ExperimentAnalysis(str(tmp_path), trials=grid_trials)
    assert analysis.get_best_trial("score", mode, scope) is grid_trials[expected]


def test_scopes_really_disagree():
    assert len({oracle_best(s, "max") for s in ORACLE}) >= 4


def test_best_result_arguments_override_defaults(tmp_path, grid_trials):
    grid = ResultGrid(grid_trials, str(tmp_path), metric="training_iteration", mode="min")
    assert grid.get_best_result(metric="score", mode="max").path == grid_trials[4].path
    # mode alone falls back to the default metric
    assert grid.get_best_result(mode="max").metrics["training_iteration"] == 12


def test_nan_and_inf_filtering(tmp_path):
    finite = make_trial(tmp_path, 0, [1.0, 2.0])
    infinite = make_trial(tmp_path, 1, [1.0, math.inf])
    all_nan = make_trial(tmp_path, 2, [math.nan, math.nan])
    grid = ResultGrid([finite, infinite, all_nan], str(tmp_path), metric="score", mode="max")
    assert grid.get_best_result().path == finite.path
    assert grid.get_best_result(filter_nan_and_inf=False).path == infinite.path
    assert grid.get_best_result(mode="min").path == finite.path

    only_nan = ResultGrid([all_nan, make_trial(tmp_path, 3, [math.nan])], str(tmp_path), "score", "max")
    with pytest.raises(TuneValueError, match="no trial reported this metric.*filter_nan_and_inf"):
        only_nan.get_best_result()


def test_best_result_errors_name_the_argument(tmp_path, grid_trials):
    grid = ResultGrid(grid_trials, str(tmp_path))
    with pytest.raises(TuneValueError, match=r"metric=None: no metric known.*get_best_result"):
        grid.get_best_result()
    with pytest.raises(TuneValueError, match=r"mode=None: no mode known"):
        grid.get_best_result(metric="score")
    with pytest.raises(TuneValueError, match=r"mode='maximum'.*'min', 'max'"):
        grid.get_best_result(metric="score", mode="maximum")
    with pytest.raises(TuneValueError, match=r"scope='best'.*'last-5-avg'"):
        grid.get_best_result(metric="score", mode="max", scope="best")
    with pytest.raises(TuneValueError, match=r"metric='acc': no trial reported.*score"):
        grid.get_best_result(metric="acc", mode="max")
    with pytest.raises(TuneValueError, match="mode='up'"):
        ResultGrid(grid_trials, str(tmp_path), metric="score", mode="up")


def test_single_trial_still_needs_a_metric(tmp_path):
    trial = make_trial(tmp_path, 0, [1, 2])
    grid = ResultGrid([trial], str(tmp_path))
    with pytest.raises(TuneValueError, match="no metric known"):
        grid.get_best_result()
    assert grid.get_best_result("score", "min").path == trial.path


def test_nested_metric_last_scope(tmp_path):
    a = make_trial(tmp_path, 0, [1], extra={"info": {"loss": 0.5}})
    b = make_trial(tmp_path, 1, [1], extra={"info": {"loss": 0.2}})
    grid = ResultGrid([a, b], str(tmp_path))
    assert grid.get_best_result("info/loss", "min").path == b.path


def test_grid_container_and_counts(tmp_path):
    done = make_trial(tmp_path, 0, [1, 2])
    running = make_trial(tmp_path, 1, [5], status=RUNNING)
    never = make_trial(tmp_path, 2, [])
    failed = make_trial(tmp_path, 3, [4], status=ERROR)
    failed.exception = ValueError("boom")
    grid = ResultGrid([done, running, never, failed], str(tmp_path), "score", "max")
    assert len(grid) == 4
    assert [r.path for r in grid] == [t.path for t in (done, running, never, failed)]
    assert grid[-1].path == failed.path and len(grid[1:3]) == 2
    assert grid.experiment_path == str(tmp_path)
    assert grid.filesystem is None
    assert grid.num_terminated == 1 and grid.num_errors == 1
    assert grid.errors == [failed.exception]
    assert grid[0].error is None and grid[3].error is failed.exception
    # the trial that never started is there, with its config and no metrics
    assert grid[2].metrics == {} and grid[2].config == never.config
    assert grid[2].error is None and grid[2].checkpoint is None
    assert "ResultGrid<[" in repr(grid) and "score" in repr(grid)
    assert "training_iteration" not in repr(grid[0])  # auto-filled keys are hidden


def test_error_rebuilt_from_error_file(tmp_path):
    trial = make_trial(tmp_path, 0, [1], status=ERROR)
    trial.error_msg = "RuntimeError: out of cheese"
    trial.error_file = os.path.join(trial.path, "error.txt")
    with open(trial.error_file, "w") as f:
        f.write("Traceback (most recent call last):\nRuntimeError: out of cheese\n")
    error = ResultGrid([trial], str(tmp_path))[0].error
    assert isinstance(error, TrialError)
    assert str(error) == "RuntimeError: out of cheese"
    assert "Traceback" in error.traceback


def test_get_dataframe_last_results(tmp_path, grid_trials):
    never = make_trial(tmp_path, 9, [])
    grid = ResultGrid(grid_trials + [never], str(tmp_path), "score", "max")
    df = grid.get_dataframe()
    assert len(df) == len(grid_trials)  # trials without results have no row
    for column in ("score", "training_iteration", "trial_id", "config/lr", "config/fixed", "logdir"):
        assert column in df.columns, column
    assert list(df["score"]) == [h[-1] for h in HISTORIES]
    assert list(df["logdir"]) == [t.path for t in grid_trials]
    assert list(df["config/lr"]) == [t.config["lr"] for t in grid_trials]


def test_get_dataframe_filter_metric_reads_history(tmp_path, grid_trials):
    grid = ResultGrid(grid_trials, str(tmp_path), "score", "max")
    df = grid.get_dataframe(filter_metric="score", filter_mode="max")
    assert list(df["score"]) == [max(h) for h in HISTORIES]
    assert df["training_iteration"].iloc[0] == 1  # trial 0 peaked at its first result
    df_min = grid.get_dataframe(filter_metric="score", filter_mode="min")
    assert list(df_min["score"]) == [min(h) for h in HISTORIES]
    # a metric alone (no mode) keeps the last results, as in Ray Tune
    assert list(grid.get_dataframe(filter_metric="score")["score"]) == [h[-1] for h in HISTORIES]
    with pytest.raises(TuneValueError, match=r"filter_mode='max': needs filter_metric"):
        grid.get_dataframe(filter_mode="max")
    with pytest.raises(TuneValueError, match=r"filter_mode='high'"):
        grid.get_dataframe(filter_metric="score", filter_mode="high")


def test_dataframe_nested_results_are_flattened(tmp_path):
    trial = make_trial(tmp_path, 0, [1], config={"model": {"width": 64}, "lr": 0.1},
                       extra={"info": {"loss": 0.25}})
    df = ResultGrid([trial], str(tmp_path)).get_dataframe()
    assert df["info/loss"].iloc[0] == 0.25
    assert df["config/model/width"].iloc[0] == 64


def test_result_metrics_dataframe_sources(tmp_path):
    from_json = make_trial(tmp_path, 0, [3, 2, 1])
    from_csv = make_trial(tmp_path, 1, [7, 8], write=False)
    with open(os.path.join(from_csv.path, "progress.csv"), "w") as f:
        f.write("score,training_iteration,trial_id\n7,1,00001_00002\n8,2,00001_00002\n")
    no_files = make_trial(tmp_path, 2, [5, 6], write=False)
    grid = ResultGrid([from_json, from_csv, no_files], str(tmp_path))
    df = grid[0].metrics_dataframe
    assert list(df["score"]) == [3, 2, 1] and "config/lr" in df.columns
    assert grid[0].metrics_dataframe is df  # read once
    csv_df = grid[1].metrics_dataframe
    assert list(csv_df["score"]) == [7, 8]
    assert csv_df["trial_id"].iloc[0] == "00001_00002"  # ids stay strings
    assert list(grid[2].metrics_dataframe["score"]) == [6]  # only the last result is known


def test_torn_last_line_is_skipped(tmp_path):
    trial = make_trial(tmp_path, 0, [1, 2])
    with open(os.path.join(trial.path, "result.json"), "a") as f:
        f.write('{"score": 3, "trai')
    assert list(ResultGrid([trial], str(tmp_path))[0].metrics_dataframe["score"]) == [1, 2]


def test_missing_pandas_says_what_to_install(tmp_path, monkeypatch):
    trial = make_trial(tmp_path, 0, [1])
    grid = ResultGrid([trial], str(tmp_path))
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'tune-core\[pandas\]'"):
        _ = grid[0].metrics_dataframe
    with pytest.raises(ImportError, match=r"tune-core\[pandas\]"):
        grid.get_dataframe()


def add_checkpoint(trial: Trial, iteration: int) -> Checkpoint:
    path = os.path.join(trial.path, f"checkpoint_{iteration:06d}")
    os.makedirs(path)
    with open(os.path.join(path, "state.txt"), "w") as f:
        f.write(str(iteration))
    return Checkpoint(path)


def test_checkpoints(tmp_path):
    trial = make_trial(tmp_path, 0, [5, 9, 4])
    add_checkpoint(trial, 1)
    add_checkpoint(trial, 2)
    trial.checkpoint = add_checkpoint(trial, 3)
    result = ResultGrid([trial], str(tmp_path))[0]
    assert result.checkpoint is trial.checkpoint
    pairs = result.best_checkpoints
    assert [m["score"] for _, m in pairs] == [5, 9, 4]
    assert pairs[-1][0] is trial.checkpoint
    assert all(isinstance(cp, Checkpoint) for cp, _ in pairs)
    assert result.get_best_checkpoint("score", "max").path.endswith("checkpoint_000002")
    assert result.get_best_checkpoint("score", "min").path.endswith("checkpoint_000003")
    with pytest.raises(TuneValueError, match="metric='acc'"):
        result.get_best_checkpoint("acc", "max")
    with pytest.raises(TuneValueError, match="mode='best'"):
        result.get_best_checkpoint("score", "best")


def test_result_from_path(tmp_path):
    trial = make_trial(tmp_path, 0, [1, 4])
    with open(os.path.join(trial.path, "params.json"), "w") as f:
        json.dump(trial.config, f)
    add_checkpoint(trial, 2)
    result = Result.from_path(trial.path)
    assert result.metrics["score"] == 4 and result.config == trial.config
    assert result.checkpoint.path.endswith("checkpoint_000002") and result.error is None
    with pytest.raises(TuneValueError, match="path="):
        Result.from_path(str(tmp_path / "nope"))


# ---- ExperimentAnalysis ------------------------------------------------------------------


def write_state(exp_dir, trials, metric="score", mode="max") -> str:
    path = os.path.join(str(exp_dir), "experiment_state.json")
    with open(path, "w") as f:
        json.dump({"trials": [t.get_state() for t in trials], "metric": metric, "mode": mode,
                   "name": os.path.basename(str(exp_dir))}, f)
    return path


def test_analysis_loads_experiment_state(tmp_path, grid_trials):
    grid_trials[4].checkpoint = add_checkpoint(grid_trials[4], 12)
    write_state(tmp_path, grid_trials)
    analysis = ExperimentAnalysis(str(tmp_path))
    assert analysis.experiment_path == str(tmp_path)
    assert [t.trial_id for t in analysis.trials] == [t.trial_id for t in grid_trials]
    assert analysis.default_metric == "score" and analysis.default_mode == "max"
    assert analysis.best_trial.trial_id == grid_trials[4].trial_id
    assert analysis.best_config == grid_trials[4].config
    assert analysis.best_logdir == grid_trials[4].path
    assert analysis.best_result["score"] == 12
    assert analysis.best_checkpoint.path.endswith("checkpoint_000012")
    assert list(analysis.best_dataframe["score"]) == HISTORIES[4]
    assert analysis.best_result_df.index[0] == grid_trials[4].trial_id
    assert analysis.get_best_config("score", "max", "all") == grid_trials[0].config
    assert analysis.get_best_trial("score", "min").trial_id == grid_trials[0].trial_id
    # also from the file itself
    same = ExperimentAnalysis(os.path.join(str(tmp_path), "experiment_state.json"))
    assert same.experiment_path == str(tmp_path) and len(same.trials) == 5


def test_analysis_tables(tmp_path, grid_trials):
    write_state(tmp_path, grid_trials)
    analysis = ExperimentAnalysis(str(tmp_path))
    ids = [t.trial_id for t in grid_trials]
    assert list(analysis.results) == ids
    assert analysis.results[ids[1]]["score"] == 1
    results_df = analysis.results_df
    assert list(results_df.index) == ids and "config/lr" in results_df.columns
    frames = analysis.trial_dataframes
    assert set(frames) == set(ids) and list(frames[ids[2]]["score"]) == HISTORIES[2]
    assert analysis.get_all_configs()[ids[0]] == grid_trials[0].config
    assert analysis.get_all_configs(prefix=True)[ids[0]] == {"config/lr": 0.01, "config/fixed": 7}
    df = analysis.dataframe("score", "max")
    assert list(df["score"]) == [max(h) for h in HISTORIES] and "logdir" in df.columns
    with pytest.raises(TuneValueError, match=r"mode='max': needs metric"):
        analysis.dataframe(mode="max")


def test_analysis_without_defaults(tmp_path, grid_trials, caplog):
    analysis = ExperimentAnalysis(str(tmp_path), trials=grid_trials)
    for name in ("best_trial", "best_config", "best_result", "best_checkpoint", "best_logdir",
                 "best_dataframe"):
        with pytest.raises(TuneValueError, match=f"ExperimentAnalysis.{name}.*metric"):
            getattr(analysis, name)
    with pytest.raises(TuneValueError, match="metric=None: no metric known.*get_best_trial"):
        analysis.get_best_trial()
    with caplog.at_level(logging.WARNING):
        assert analysis.get_best_trial("unknown", "max") is None
    assert "unknown" in caplog.text
    with pytest.raises(TuneValueError, match="default_mode='big'"):
        ExperimentAnalysis(str(tmp_path), trials=grid_trials, default_mode="big")


def test_analysis_checkpoints(tmp_path):
    trial = make_trial(tmp_path, 0, [5, 9, 4])
    for i in (1, 2):
        add_checkpoint(trial, i)
    trial.checkpoint = add_checkpoint(trial, 3)
    analysis = ExperimentAnalysis(str(tmp_path), trials=[trial], default_metric="score",
                                  default_mode="max")
    assert analysis.get_best_checkpoint(trial).path.endswith("checkpoint_000002")
    assert analysis.get_best_checkpoint(trial, "score", "min", return_path=True).endswith(
        "checkpoint_000003")
    assert analysis.get_last_checkpoint(trial) is trial.checkpoint
    assert analysis.get_last_checkpoint().path.endswith("checkpoint_000003")
    assert [v for _, v in analysis.get_trial_checkpoints_paths(trial, "score")] == [5, 9, 4]
    no_ckpt = make_trial(tmp_path, 1, [1])
    assert analysis.get_best_checkpoint(no_ckpt) is None


def test_analysis_of_moved_experiment(tmp_path):
    old = tmp_path / "old"
    trials = [make_trial(old, i, h) for i, h in enumerate(HISTORIES[:2])]
    trials[1].checkpoint = add_checkpoint(trials[1], 12)
    write_state(old, trials)
    shutil.move(str(old), str(tmp_path / "new"))
    analysis = ExperimentAnalysis(str(tmp_path / "new"))
    assert all(t.path.startswith(str(tmp_path / "new")) for t in analysis.trials)
    assert analysis.best_checkpoint.path.startswith(str(tmp_path / "new"))
    assert list(analysis.trial_dataframes[trials[1].trial_id]["score"]) == HISTORIES[1]


def test_analysis_missing_state_names_the_path(tmp_path):
    with pytest.raises(TuneValueError, match=r"experiment_checkpoint_path=.*experiment_state.json"):
        ExperimentAnalysis(str(tmp_path))


def test_result_grid_from_analysis(tmp_path, grid_trials):
    write_state(tmp_path, grid_trials)
    grid = ResultGrid(ExperimentAnalysis(str(tmp_path)))
    assert len(grid) == 5
    assert grid.get_best_result().metrics["score"] == 12


def test_checkpoints_paired_by_checkpoint_dir_name(tmp_path):
    # Checkpoint directories numbered by checkpoint index, named in the results.
    trial = make_trial(tmp_path, 0, [], write=False)
    rows = [{"score": s, "training_iteration": i + 1,
             **({"checkpoint_dir_name": f"checkpoint_{i // 2:06d}"} if i % 2 == 0 else {})}
            for i, s in enumerate([4, 5, 8, 1])]
    with open(os.path.join(trial.path, "result.json"), "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    for row in rows:
        trial.update_last_result(row)
    add_checkpoint(trial, 0)
    trial.checkpoint = add_checkpoint(trial, 1)
    result = ResultGrid([trial], str(tmp_path))[0]
    assert [m["score"] for _, m in result.best_checkpoints] == [4, 8]
    assert result.get_best_checkpoint("score", "max") is trial.checkpoint
