"""Checkpoint retention (``CheckpointConfig(num_to_keep, checkpoint_score_attribute, ...)``):
the CheckpointManager on real directories, crash-safe deletion, pins, state round trips, and
``Result.best_checkpoints`` from the kept list."""

from __future__ import annotations

import json
import logging
import math
import os

import pytest

from tune import _result_io
from tune import checkpoint_manager as cm_module
from tune.checkpoint_manager import DELETING_PREFIX, CheckpointManager, cleanup_leftovers
from tune.config import CheckpointConfig
from tune.errors import TuneTypeError, TuneValueError
from tune.result import Result
from tune.trainable.checkpoint import Checkpoint
from tune.trial import Trial


def make_checkpoint(trial_dir, iteration: int) -> str:
    path = os.path.join(str(trial_dir), f"checkpoint_{iteration:06d}")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "state.txt"), "w") as f:
        f.write(str(iteration))
    return path


def register_all(manager, trial_dir, scores, trial_id="t0", key="score"):
    """Register one checkpoint per score (iterations 1..n); returns (paths, deleted lists)."""
    paths, deleted = [], []
    for i, score in enumerate(scores, start=1):
        path = make_checkpoint(trial_dir, i)
        metrics = {"training_iteration": i}
        if score is not None:
            metrics[key] = score
        paths.append(path)
        deleted.append(manager.register(trial_id, path, metrics))
    return paths, deleted


def on_disk(trial_dir) -> list[int]:
    return [i for i, _ in _result_io.list_checkpoint_dirs(str(trial_dir))]


# ---- retention --------------------------------------------------------------------------


def test_keeps_everything_without_num_to_keep(tmp_path):
    manager = CheckpointManager()
    paths, deleted = register_all(manager, tmp_path, [3, 1, 2, 5])
    assert deleted == [[], [], [], []]
    assert on_disk(tmp_path) == [1, 2, 3, 4]
    assert [p for p, _ in manager.best_checkpoints("t0")] == paths
    assert manager.latest("t0") == paths[-1]


def test_keeps_the_most_recent_without_a_score_attribute(tmp_path):
    manager = CheckpointManager(num_to_keep=2)
    paths, deleted = register_all(manager, tmp_path, [9, 8, 7, 6, 5])
    assert deleted == [[], [], [paths[0]], [paths[1]], [paths[2]]]
    assert on_disk(tmp_path) == [4, 5]
    assert [m["training_iteration"] for _, m in manager.best_checkpoints("t0")] == [4, 5]


def test_keeps_the_best_by_max_score_and_always_the_latest(tmp_path):
    manager = CheckpointManager(num_to_keep=2, score_attribute="score", score_order="max")
    paths, deleted = register_all(manager, tmp_path, [5, 9, 4, 7, 1])
    # 3 (score 4) is the worst but the latest: kept, so three are on disk; when 4 (score 7)
    # arrives, 1 and 3 go. 5 (score 1) is again worse than the best two but the latest.
    assert deleted[:3] == [[], [], []]
    assert deleted[3] == [paths[0], paths[2]]
    assert deleted[4] == []
    assert on_disk(tmp_path) == [2, 4, 5]
    kept = manager.best_checkpoints("t0")
    assert [m["score"] for _, m in kept] == [9, 7, 1]  # oldest first
    assert manager.best("t0") == (paths[1], kept[0][1])
    # The next registration takes the old latest out, and 4, now third best.
    path6 = make_checkpoint(tmp_path, 6)
    assert manager.register("t0", path6, {"score": 8}) == [paths[3], paths[4]]
    assert on_disk(tmp_path) == [2, 6]


def test_keeps_the_best_by_min_score(tmp_path):
    manager = CheckpointManager(num_to_keep=2, score_attribute="loss", score_order="min")
    register_all(manager, tmp_path, [0.5, 0.9, 0.1, 0.3, 0.2], key="loss")
    assert on_disk(tmp_path) == [3, 5]
    assert [m["loss"] for _, m in manager.best_checkpoints("t0")] == [0.1, 0.2]


def test_ties_keep_the_newer_checkpoint(tmp_path):
    manager = CheckpointManager(num_to_keep=1, score_attribute="score")
    register_all(manager, tmp_path, [1, 1, 1])
    assert on_disk(tmp_path) == [3]


def test_nested_score_attribute(tmp_path):
    manager = CheckpointManager(num_to_keep=1, score_attribute="val/acc")
    for i, acc in enumerate([0.2, 0.9, 0.4], start=1):
        manager.register("t0", make_checkpoint(tmp_path, i), {"val": {"acc": acc}})
    assert on_disk(tmp_path) == [2, 3]  # the best, and the latest


@pytest.mark.parametrize("order", ["max", "min"])
def test_missing_or_nan_score_ranks_last_and_warns_once(tmp_path, caplog, order):
    manager = CheckpointManager(num_to_keep=2, score_attribute="score", score_order=order)
    with caplog.at_level(logging.WARNING, logger="tune"):
        register_all(manager, tmp_path, [None, 3, float("nan"), 2, "high", 4])
    # Unscored ones (1, 3, 5) go first whatever the order; Ray would keep a missing one as
    # the best under "min".
    best_two = [2, 6] if order == "max" else [2, 4]
    assert on_disk(tmp_path) == sorted(set(best_two) | {6})
    warnings = [r for r in caplog.records if "has no numeric 'score'" in r.getMessage()]
    assert len(warnings) == 1
    assert "training_iteration" in warnings[0].getMessage()


def test_every_trial_is_managed_separately(tmp_path):
    manager = CheckpointManager(num_to_keep=1)
    register_all(manager, tmp_path / "a", [1, 2, 3], trial_id="a")
    register_all(manager, tmp_path / "b", [1, 2], trial_id="b")
    assert on_disk(tmp_path / "a") == [3] and on_disk(tmp_path / "b") == [2]
    assert sorted(manager.trial_ids()) == ["a", "b"]
    assert manager.best_checkpoints("nobody") == [] and manager.latest("nobody") is None
    manager.forget("a")
    assert manager.best_checkpoints("a") == [] and on_disk(tmp_path / "a") == [3]


def test_registering_the_same_path_again_replaces_its_entry(tmp_path):
    # A trial restarted from checkpoint 2 saves iteration 3 again, into the same directory.
    manager = CheckpointManager(num_to_keep=2, score_attribute="score")
    paths, _ = register_all(manager, tmp_path, [1, 5, 3])
    assert on_disk(tmp_path) == [2, 3]
    assert manager.register("t0", paths[2], {"score": 0, "training_iteration": 3}) == []
    kept = manager.best_checkpoints("t0")
    assert [m["score"] for _, m in kept] == [5, 0] and manager.latest("t0") == paths[2]
    assert on_disk(tmp_path) == [2, 3]


# ---- pins -------------------------------------------------------------------------------


def test_pinned_checkpoints_survive_until_unpinned(tmp_path):
    manager = CheckpointManager(num_to_keep=1)
    first = make_checkpoint(tmp_path, 1)
    manager.register("t0", first, {"training_iteration": 1})
    manager.pin("t0", first)
    manager.pin("t0", first + "/")  # the same directory; pins count
    assert manager.is_pinned("t0", first)
    register_all_from = [make_checkpoint(tmp_path, i) for i in (2, 3)]
    for i, path in enumerate(register_all_from, start=2):
        manager.register("t0", path, {"training_iteration": i})
    assert on_disk(tmp_path) == [1, 3]
    assert manager.unpin("t0", first) == []  # still pinned once
    assert on_disk(tmp_path) == [1, 3]
    assert manager.unpin("t0", first) == [first]
    assert on_disk(tmp_path) == [3] and not manager.is_pinned("t0", first)
    assert manager.unpin("t0", first) == [] and manager.unpin("other", first) == []


def test_pin_before_register_protects_the_checkpoint(tmp_path):
    manager = CheckpointManager(num_to_keep=1)
    path = os.path.join(str(tmp_path), "checkpoint_000001")
    manager.pin("t0", path)
    register_all(manager, tmp_path, [1, 2, 3])
    assert on_disk(tmp_path) == [1, 3]


# ---- deletion ---------------------------------------------------------------------------


def test_deletion_renames_first_so_a_crash_leaves_no_half_checkpoint(tmp_path, monkeypatch):
    manager = CheckpointManager(num_to_keep=1)
    # Simulate a crash between the rename and the removal: rmtree never runs.
    monkeypatch.setattr(cm_module.shutil, "rmtree", lambda *a, **k: None)
    paths, deleted = register_all(manager, tmp_path, [1, 2])
    assert deleted[1] == [paths[0]]
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(DELETING_PREFIX)]
    assert len(leftovers) == 1 and leftovers[0].startswith(".deleting-checkpoint_000001-")
    # Nothing that lists the trial directory takes the leftover for a checkpoint.
    assert on_disk(tmp_path) == [2]
    monkeypatch.undo()
    removed = cleanup_leftovers(str(tmp_path))
    assert [os.path.basename(p) for p in removed] == leftovers
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_000002"]
    assert cleanup_leftovers(str(tmp_path / "missing")) == []


def test_a_failed_deletion_is_logged_not_raised(tmp_path, caplog):
    def refuse(path):
        raise PermissionError(f"read-only: {path}")

    manager = CheckpointManager(num_to_keep=1, delete_fn=refuse)
    with caplog.at_level(logging.WARNING, logger="tune"):
        paths, deleted = register_all(manager, tmp_path, [1, 2])
    assert deleted[1] == []
    assert "Could not delete checkpoint" in caplog.text and "PermissionError" in caplog.text
    assert [p for p, _ in manager.best_checkpoints("t0")] == [paths[1]]


def test_a_checkpoint_already_gone_counts_as_deleted(tmp_path):
    manager = CheckpointManager(num_to_keep=1)
    first = make_checkpoint(tmp_path, 1)
    manager.register("t0", first, {})
    os.rename(first, str(tmp_path / "elsewhere"))
    assert manager.register("t0", make_checkpoint(tmp_path, 2), {}) == [first]


def test_fsspec_urls_are_deleted_through_fsspec():
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    base = "memory://cm-test/trial"
    for i in (1, 2):
        fs.pipe(f"/cm-test/trial/checkpoint_00000{i}/state.txt", b"x")
    fs.pipe(f"/cm-test/trial/{DELETING_PREFIX}checkpoint_000000-abc/state.txt", b"x")
    manager = CheckpointManager(num_to_keep=1)
    manager.register("t0", f"{base}/checkpoint_000001", {})
    assert manager.register("t0", f"{base}/checkpoint_000002", {}) == [f"{base}/checkpoint_000001"]
    assert not fs.exists("/cm-test/trial/checkpoint_000001")
    assert fs.exists("/cm-test/trial/checkpoint_000002/state.txt")
    assert len(cleanup_leftovers(base)) == 1
    assert [p.rsplit("/", 1)[-1] for p in fs.ls("/cm-test/trial", detail=False)] == [
        "checkpoint_000002"
    ]
    fs.rm("/cm-test", recursive=True)


# ---- state ------------------------------------------------------------------------------


def test_state_round_trips_through_json(tmp_path):
    manager = CheckpointManager(num_to_keep=2, score_attribute="score")
    paths, _ = register_all(manager, tmp_path, [5, 9, 4])
    manager.pin("t0", paths[1])
    np = pytest.importorskip("numpy")
    manager.register(
        "t1", make_checkpoint(tmp_path / "t1", 1),
        {"score": np.float32(2.5), "arr": np.arange(3), "nan": math.nan, "obj": object(),
         "config": {"fn": len}},
    )
    state = json.loads(json.dumps(manager.get_state()))
    assert state["trials"]["t1"]["entries"][0][1]["score"] == 2.5
    assert state["trials"]["t1"]["entries"][0][1]["arr"] == [0, 1, 2]
    assert state["trials"]["t1"]["entries"][0][1]["nan"] == "nan"

    restored = CheckpointManager(num_to_keep=2, score_attribute="score")
    restored.set_state(state)
    assert restored.best_checkpoints("t0") == manager.best_checkpoints("t0")
    assert restored.latest("t0") == paths[2] and restored.is_pinned("t0", paths[1])
    # Retention continues where it was: 9 and 6 are the best two.
    restored.unpin("t0", paths[1])
    assert restored.register("t0", make_checkpoint(tmp_path, 4), {"score": 6}) == [
        paths[0], paths[2]
    ]
    assert on_disk(tmp_path) == [2, 4]


def test_set_state_drops_checkpoints_deleted_after_the_state_was_written(tmp_path):
    manager = CheckpointManager(num_to_keep=3)
    paths, _ = register_all(manager, tmp_path, [1, 2, 3])
    state = manager.get_state()
    cm_module.delete_checkpoint_dir(paths[0])  # deleted after the snapshot
    cm_module.delete_checkpoint_dir(paths[2])  # even the latest vanished
    restored = CheckpointManager(num_to_keep=3)
    restored.set_state(state)
    assert [p for p, _ in restored.best_checkpoints("t0")] == paths[1:]  # latest kept
    assert restored.latest("t0") == paths[2]
    restored.set_state(state, check_exists=False)
    assert len(restored.best_checkpoints("t0")) == 3
    per_trial = manager.get_trial_state("t0")
    other = CheckpointManager()
    other.set_trial_state("t0", per_trial, check_exists=False)
    assert other.best_checkpoints("t0") == manager.best_checkpoints("t0")
    other.set_trial_state("t0", None)
    assert other.trial_ids() == []
    with pytest.raises(TuneValueError, match="version"):
        other.set_state({"version": 99, "trials": {}})


def test_arguments_are_checked():
    with pytest.raises(TuneValueError, match="num_to_keep=0"):
        CheckpointManager(num_to_keep=0)
    with pytest.raises(TuneTypeError, match="num_to_keep"):
        CheckpointManager(num_to_keep=True)
    with pytest.raises(TuneValueError, match="checkpoint_score_order='best'"):
        CheckpointManager(score_order="best")
    with pytest.raises(TuneTypeError, match="checkpoint_score_attribute"):
        CheckpointManager(score_attribute=3)
    manager = CheckpointManager.from_config(
        CheckpointConfig(num_to_keep=3, checkpoint_score_attribute="acc", checkpoint_score_order="min")
    )
    assert (manager.num_to_keep, manager.score_attribute, manager.score_order) == (3, "acc", "min")
    assert CheckpointManager.from_config(None).num_to_keep is None
    with pytest.raises(TuneTypeError, match="checkpoint_path"):
        manager.register("t0", 3, {})


# ---- results ----------------------------------------------------------------------------


def test_result_best_checkpoints_come_from_the_kept_list(tmp_path):
    trial = Trial("t0", {"lr": 0.1}, path=str(tmp_path))
    manager = CheckpointManager(num_to_keep=1, score_attribute="score")
    paths, _ = register_all(manager, tmp_path, [5, 9, 4])
    # A directory retention does not know about (say, written just before a crash) is not
    # among the kept ones; a directory scan would report it.
    make_checkpoint(tmp_path, 7)
    trial.checkpoint = Checkpoint(paths[-1])
    trial.kept_checkpoints = manager.best_checkpoints("t0")
    pairs = _result_io.trial_checkpoints_of(trial)
    assert [m["score"] for _, m in pairs] == [9, 4]
    assert pairs[-1][0] is trial.checkpoint
    result = Result(
        metrics={"score": 4}, checkpoint=trial.checkpoint, path=trial.path,
        best_checkpoints=trial.kept_checkpoints,
    )
    assert all(isinstance(cp, Checkpoint) for cp, _ in result.best_checkpoints)
    assert result.best_checkpoints[-1][0] is trial.checkpoint
    assert result.get_best_checkpoint("score", "max").path == paths[1]
    # Without a kept list, the directory is scanned as before.
    del trial.kept_checkpoints
    assert [i for i, _ in _result_io.list_checkpoint_dirs(trial.path)] == [2, 3, 7]
    assert len(_result_io.trial_checkpoints_of(trial)) == 3


def test_a_manager_is_rebuilt_from_trial_records(tmp_path):
    """The controller may keep the kept list on the trial record instead of the manager's
    own state: kept_for_state() there, adopt_trial() on restore."""
    config = {"lr": 0.1}
    manager = CheckpointManager(num_to_keep=2, score_attribute="score")
    paths = []
    for i, score in enumerate([5, 9, 4], start=1):
        paths.append(make_checkpoint(tmp_path, i))
        manager.register("t0", paths[-1], {"score": score, "training_iteration": i, "config": config})
    record = json.loads(json.dumps(manager.kept_for_state("t0")))
    assert [m["score"] for _, m in record] == [5, 9, 4]
    assert all("config" not in m for _, m in record)
    assert all("config" not in m for _, m, _ in manager.get_trial_state("t0")["entries"])

    restored = CheckpointManager(num_to_keep=2, score_attribute="score")
    restored.adopt_trial("t0", record, latest=paths[-1], config=config)
    assert restored.best_checkpoints("t0") == manager.best_checkpoints("t0")
    assert restored.latest("t0") == paths[-1]
    assert restored.register("t0", make_checkpoint(tmp_path, 4), {"score": 7}) == [
        paths[0], paths[2]
    ]
    # A latest the record lacks (its checkpoint record came after the last kept list) is added.
    other = CheckpointManager(num_to_keep=1)
    late = make_checkpoint(tmp_path / "b", 2)
    other.adopt_trial("t1", [[make_checkpoint(tmp_path / "b", 1), {"training_iteration": 1}]], late)
    assert [p for p, _ in other.best_checkpoints("t1")] == [str(tmp_path / "b" / "checkpoint_000001"), late]
    assert other.latest("t1") == late
    other.adopt_trial("t2", None)
    assert other.best_checkpoints("t2") == [] and other.latest("t2") is None


def test_deferred_deletion_waits_for_delete_pending(tmp_path):
    """A controller deletes only after the state naming the new latest checkpoint is written:
    a crash in between must never leave a recorded latest checkpoint deleted."""
    manager = CheckpointManager(num_to_keep=1, deferred=True)
    paths, deleted = register_all(manager, tmp_path, [1, 2, 3])
    assert deleted == [[], [paths[0]], [paths[1]]]
    assert on_disk(tmp_path) == [1, 2, 3]  # nothing deleted yet
    assert manager.pending_deletions == paths[:2]
    assert [p for p, _ in manager.best_checkpoints("t0")] == [paths[2]]
    assert manager.delete_pending() == paths[:2]
    assert on_disk(tmp_path) == [3] and manager.pending_deletions == []
    assert manager.delete_pending() == []


def test_deferred_deletion_spares_a_checkpoint_needed_again(tmp_path):
    manager = CheckpointManager(num_to_keep=1, deferred=True)
    paths, _ = register_all(manager, tmp_path, [1, 2, 3])
    # Before the queue is processed: the trial restarts from checkpoint 1 and saves it again,
    # and a scheduler pins checkpoint 2.
    manager.register("t0", paths[0], {"training_iteration": 1})
    manager.pin("t0", paths[1])
    # 1 is the latest again and 2 is pinned: both spared; 3, queued when 1 came back, goes.
    assert manager.delete_pending() == [paths[2]]
    assert on_disk(tmp_path) == [1, 2]
    assert manager.pending_deletions == [paths[1]]  # waits for the unpin
    manager.unpin("t0", paths[1])
    assert manager.delete_pending() == [paths[1]]
    assert on_disk(tmp_path) == [1]


# ---- through the Tuner (once the controller registers checkpoints with the manager) ---------


def _integrated() -> bool:
    from tune.experiment_spec import ExperimentSpec

    return "checkpoint_config" in ExperimentSpec.__dataclass_fields__


_SCORES = [3, 7, 1, 9, 5, 2]


def _scored_trainable():
    """A class trainable whose score goes up and down (_SCORES), checkpointing a dict."""
    import tune

    class Scored(tune.Trainable):
        def setup(self, config):
            self.i = 0

        def step(self):
            self.i += 1
            return {"score": _SCORES[self.i - 1], "done": self.i == len(_SCORES)}

        def save_checkpoint(self, checkpoint_dir):
            return {"i": self.i}

        def load_checkpoint(self, checkpoint):
            self.i = checkpoint["i"]

    return Scored


@pytest.mark.parametrize("executor", ["local", "inline"])
def test_tuner_keeps_the_best_checkpoints(tmp_path, executor):
    if not _integrated():
        pytest.skip("the controller does not use the CheckpointManager yet")
    import tune

    results = tune.Tuner(
        _scored_trainable(),
        tune_config=tune.TuneConfig(executor=executor),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), name="keep", verbose=0,
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=2, checkpoint_score_attribute="score", checkpoint_frequency=1,
            ),
        ),
    ).fit()
    (result,) = list(results)
    assert result.error is None
    # The best two (9 at iteration 4, 7 at 2) and the latest (6), oldest first.
    assert on_disk(result.path) == [2, 4, 6]
    assert not [n for n in os.listdir(result.path) if n.startswith(DELETING_PREFIX)]
    pairs = result.best_checkpoints
    assert [m["score"] for _, m in pairs] == [7, 9, 2]
    assert [m["training_iteration"] for _, m in pairs] == [2, 4, 6]
    assert pairs[-1][0] == result.checkpoint
    assert result.get_best_checkpoint("score", "max").path.endswith("checkpoint_000004")
    # Reading the finished experiment back gives the same kept list.
    restored = tune.Tuner.restore(results.experiment_path, _scored_trainable()).get_results()
    assert [m["score"] for _, m in restored[0].best_checkpoints] == [7, 9, 2]
    analysis = tune.ExperimentAnalysis(results.experiment_path)
    trial = analysis.trials[0]
    assert [v for _, v in analysis.get_trial_checkpoints_paths(trial, "score")] == [7, 9, 2]
