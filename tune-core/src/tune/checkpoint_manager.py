"""Which trial checkpoints to keep on disk: ``CheckpointConfig(num_to_keep, ...)`` retention.

One ``CheckpointManager`` serves every trial of an experiment, keyed by trial id (one object
in the controller, one entry in the experiment state). For each trial it tracks the
checkpoints on disk with the result they were saved with, and after each ``register`` deletes
the ones retention no longer wants:

* ``num_to_keep=None`` keeps everything.
* With ``score_attribute`` the best ``num_to_keep`` by that metric are kept (``score_order``
  "max" or "min"; nested keys as ``"a/b"``; ties go to the newer checkpoint). A checkpoint
  whose result lacks the attribute, or has a NaN or non-numeric value, ranks below every
  scored one (a warning says so, once per trial), whatever the order. Ray Tune scores a
  missing value as ``-inf`` and then negates it for ``"min"``, so there such a checkpoint is
  kept as the *best*; here it is always the first to go.
* Without ``score_attribute`` the ``num_to_keep`` most recent are kept.
* Never deleted, whatever the ranking: the trial's **latest** checkpoint (a restart or a
  restore resumes from it), so up to ``num_to_keep + 1`` may be on disk, as in Ray Tune; and
  every checkpoint **pinned** with ``pin(trial_id, path)`` until it is unpinned as many times
  (a scheduler cloning a trial from it, as PBT does, pins it until the clone has started).

Deleting can wait for the state that no longer needs a checkpoint to be durable
(``deferred=True``): ``register`` then only decides, and ``delete_pending()`` deletes.
Without it, a driver killed after ``register`` deleted the previous latest checkpoint but
before the new one was recorded restores a state whose latest checkpoint is gone. A
controller with a journal calls ``delete_pending()`` right after each flush.

Deleting is crash-safe: the directory is first renamed to ``.deleting-<name>-<random>`` in the
same parent (atomic on a local file system, and the name no longer looks like a checkpoint to
anything that lists the trial directory), then removed. ``cleanup_leftovers(trial_dir)``
removes what a crash between the two steps left behind; call it for every trial directory
when an experiment is restored. fsspec URLs (``s3://...``) are removed with ``fs.rm``
directly (object stores have no atomic rename). ``delete_fn=`` replaces both.

The manager's bookkeeping is JSON (``get_state`` / ``set_state``, or per trial with
``get_trial_state`` / ``set_trial_state`` for a journal that writes only what changed;
``"config"`` is left out of the saved metrics, the trial record has it). A controller that
keeps the kept list on its trial records instead (``Trial.kept_checkpoints``) rebuilds a
manager on restore with ``adopt_trial``.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tune.errors import check_choice, invalid_type, invalid_value

logger = logging.getLogger("tune")

DELETING_PREFIX = ".deleting-"
STATE_VERSION = 1


@dataclass
class _Entry:
    path: str
    metrics: dict
    seq: int  # registration order within the trial: higher is newer


@dataclass
class _TrialCheckpoints:
    entries: list[_Entry] = field(default_factory=list)  # oldest first
    latest: str | None = None
    pins: dict[str, int] = field(default_factory=dict)  # path -> pin count
    next_seq: int = 0
    warned: bool = False


def _is_url(path: str) -> bool:
    return "://" in path


def _norm(path: str) -> str:
    return path.rstrip("/") if _is_url(path) else os.path.normpath(os.path.abspath(path))


def delete_checkpoint_dir(path: str) -> None:
    """Remove a checkpoint directory, crash-safely for local paths (rename, then rmtree)."""
    if _is_url(path):
        import fsspec

        fs, p = fsspec.core.url_to_fs(path)
        if fs.exists(p):
            fs.rm(p, recursive=True)
        return
    parent, name = os.path.split(os.path.normpath(path))
    doomed = os.path.join(parent, f"{DELETING_PREFIX}{name}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, doomed)
    except FileNotFoundError:
        return  # already gone
    shutil.rmtree(doomed, ignore_errors=True)


def cleanup_leftovers(trial_dir: str) -> list[str]:
    """Remove the ``.deleting-*`` directories an interrupted deletion left in ``trial_dir``.

    Returns the paths removed. A missing ``trial_dir`` (or a URL) is not an error.
    """
    if _is_url(trial_dir):
        try:
            import fsspec
        except ImportError:
            return []
        fs, p = fsspec.core.url_to_fs(trial_dir)
        try:
            names = fs.ls(p, detail=False)
        except FileNotFoundError:
            return []
        removed = []
        for full in names:
            if full.rstrip("/").rsplit("/", 1)[-1].startswith(DELETING_PREFIX):
                fs.rm(full, recursive=True)
                removed.append(full)
        return removed
    try:
        names = os.listdir(trial_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for name in names:
        if name.startswith(DELETING_PREFIX):
            full = os.path.join(trial_dir, name)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full, ignore_errors=True)
            else:
                try:
                    os.remove(full)
                except OSError:
                    continue
            removed.append(full)
    return removed


def _lookup(metrics: Mapping, key: str) -> Any:
    if key in metrics:
        return metrics[key]
    node: Any = metrics
    for part in key.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _json_safe(value: Any) -> Any:
    """``value`` with everything JSON cannot hold turned into numbers, lists or strings."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # "nan", "inf" stay readable
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy / torch scalars and arrays
        try:
            return _json_safe(value.item() if getattr(value, "ndim", 0) == 0 else value.tolist())
        except Exception:  # noqa: BLE001 - fall through to repr
            pass
    return repr(value)


class CheckpointManager:
    """Keeps each trial's checkpoints within ``num_to_keep`` (see the module docstring).

    :param num_to_keep: checkpoints to keep per trial (None: all), ``CheckpointConfig``'s.
    :param score_attribute: rank checkpoints by this result key (None: by recency).
    :param score_order: "max" (higher is better) or "min".
    :param delete_fn: ``delete_fn(path)`` removes one checkpoint directory (default:
        :func:`delete_checkpoint_dir`).
    :param deferred: only queue deletions; ``delete_pending()`` carries them out (call it
        once the experiment state that no longer refers to them has been written).

    Example (what the controller does)::

        manager = CheckpointManager.from_config(run_config.checkpoint_config)
        deleted = manager.register(trial.trial_id, checkpoint_dir, result)
        trial.kept_checkpoints = manager.best_checkpoints(trial.trial_id)
    """

    def __init__(
        self,
        num_to_keep: int | None = None,
        score_attribute: str | None = None,
        score_order: str = "max",
        *,
        delete_fn: Callable[[str], None] | None = None,
        deferred: bool = False,
    ) -> None:
        if num_to_keep is not None:
            if isinstance(num_to_keep, bool) or not isinstance(num_to_keep, int):
                raise invalid_type("num_to_keep", num_to_keep, "expected None or an integer >= 1")
            if num_to_keep < 1:
                raise invalid_value("num_to_keep", num_to_keep, "must be None or an integer >= 1")
        if score_attribute is not None and not isinstance(score_attribute, str):
            raise invalid_type(
                "checkpoint_score_attribute", score_attribute, "expected a result key or None"
            )
        check_choice("checkpoint_score_order", score_order, ["max", "min"])
        self.num_to_keep = num_to_keep
        self.score_attribute = score_attribute
        self.score_order = score_order
        self._delete = delete_fn or delete_checkpoint_dir
        self.deferred = deferred
        self._pending: list[tuple[str, str]] = []  # (trial_id, path) waiting for delete_pending
        self._trials: dict[str, _TrialCheckpoints] = {}

    @classmethod
    def from_config(cls, checkpoint_config: Any, **kwargs: Any) -> CheckpointManager:
        """A manager for ``tune.CheckpointConfig`` (``None``: keep everything)."""
        if checkpoint_config is None:
            return cls(**kwargs)
        return cls(
            checkpoint_config.num_to_keep,
            checkpoint_config.checkpoint_score_attribute,
            checkpoint_config.checkpoint_score_order,
            **kwargs,
        )

    # -- registering and retention ------------------------------------------------------------
    def register(self, trial_id: str, checkpoint_path: str, metrics: Mapping | None) -> list[str]:
        """Record a new checkpoint of ``trial_id`` (now its latest) and apply retention.

        Registering a path the trial already has (a trial restarted from an earlier
        checkpoint saves the same iteration again) replaces that entry (and cancels its
        pending deletion). Returns the directories deleted (``deferred``: queued).
        """
        if not isinstance(checkpoint_path, (str, os.PathLike)):
            raise invalid_type("checkpoint_path", checkpoint_path, "expected a directory path")
        path = os.fspath(checkpoint_path)
        state = self._trials.setdefault(trial_id, _TrialCheckpoints())
        key = _norm(path)
        if self._pending:
            self._pending = [
                (t, p) for t, p in self._pending if not (t == trial_id and _norm(p) == key)
            ]
        state.entries = [e for e in state.entries if _norm(e.path) != key]
        state.entries.append(_Entry(path, dict(metrics or {}), state.next_seq))
        state.next_seq += 1
        state.latest = path
        return self._enforce(trial_id, state)

    def pin(self, trial_id: str, path: str) -> None:
        """Keep ``path`` (a checkpoint of ``trial_id``) on disk until a matching ``unpin``.

        Pins count: pinning twice needs two unpins. Pinning a path not registered (yet) is
        allowed and protects it once it is.
        """
        state = self._trials.setdefault(trial_id, _TrialCheckpoints())
        key = _norm(os.fspath(path))
        state.pins[key] = state.pins.get(key, 0) + 1

    def unpin(self, trial_id: str, path: str) -> list[str]:
        """Undo one ``pin``; a checkpoint retention no longer wants is deleted now
        (``deferred``: queued).

        Returns the directories deleted. Unpinning a path that is not pinned does nothing.
        """
        state = self._trials.get(trial_id)
        if state is None:
            return []
        key = _norm(os.fspath(path))
        count = state.pins.get(key, 0)
        if count <= 0:
            return []
        if count == 1:
            del state.pins[key]
        else:
            state.pins[key] = count - 1
        return self._enforce(trial_id, state)

    def owner_of(self, path: str) -> str | None:
        """The trial whose registered checkpoint ``path`` is, or None."""
        key = _norm(os.fspath(path))
        for trial_id, state in self._trials.items():
            if any(_norm(e.path) == key for e in state.entries):
                return trial_id
        return None

    def is_pinned(self, trial_id: str, path: str) -> bool:
        state = self._trials.get(trial_id)
        return bool(state and state.pins.get(_norm(os.fspath(path)), 0) > 0)

    def _score(self, trial_id: str, state: _TrialCheckpoints, entry: _Entry) -> tuple:
        """Sort key, higher is better: (has a score, signed score, recency)."""
        attribute = self.score_attribute
        if attribute is None:
            return (True, 0.0, entry.seq)
        value = _lookup(entry.metrics, attribute)
        number = None
        if not isinstance(value, bool):
            try:
                number = float(value)  # ints, floats, numpy scalars
            except (TypeError, ValueError):
                number = None
        if number is None or math.isnan(number):
            if not state.warned:
                state.warned = True
                shown = sorted(k for k in entry.metrics if k != "config")
                logger.warning(
                    "Checkpoint %s of trial %s has no numeric %r in its result "
                    "(CheckpointConfig(checkpoint_score_attribute=...)), so it ranks below "
                    "every scored checkpoint and is deleted first. Result keys: %s. "
                    "(Warned once per trial.)",
                    entry.path, trial_id, attribute, ", ".join(shown) or "none",
                )
            return (False, 0.0, entry.seq)
        signed = number if self.score_order == "max" else -number
        return (True, signed, entry.seq)

    def _enforce(self, trial_id: str, state: _TrialCheckpoints) -> list[str]:
        limit = self.num_to_keep
        if limit is None or len(state.entries) <= limit:
            return []
        ranked = sorted(
            state.entries, key=lambda e: self._score(trial_id, state, e), reverse=True
        )
        keep = {id(e) for e in ranked[:limit]}
        latest = _norm(state.latest) if state.latest else None
        deleted: list[str] = []
        survivors: list[_Entry] = []
        for entry in state.entries:
            key = _norm(entry.path)
            if id(entry) in keep or key == latest or state.pins.get(key, 0) > 0:
                survivors.append(entry)
                continue
            if self.deferred:
                self._pending.append((trial_id, entry.path))
                deleted.append(entry.path)
            elif self._delete_now(trial_id, entry.path):
                deleted.append(entry.path)
        state.entries = survivors
        return deleted

    def _delete_now(self, trial_id: str, path: str) -> bool:
        try:
            self._delete(path)
        except Exception as exc:  # noqa: BLE001 - a failed deletion must not fail the run
            logger.warning(
                "Could not delete checkpoint %s of trial %s (%s: %s); it stays on disk "
                "but is no longer tracked.", path, trial_id, type(exc).__name__, exc,
            )
            return False
        return True

    def delete_pending(self) -> list[str]:
        """Delete what ``deferred`` retention queued; returns the directories deleted.

        A queued checkpoint that was registered again since is spared; one pinned since
        stays queued until it is unpinned.
        """
        pending, self._pending = self._pending, []
        deleted = []
        for trial_id, path in pending:
            state = self._trials.get(trial_id)
            if state is not None:
                key = _norm(path)
                if state.pins.get(key, 0) > 0:
                    self._pending.append((trial_id, path))
                    continue
                if (state.latest and _norm(state.latest) == key) or any(
                    _norm(e.path) == key for e in state.entries
                ):
                    continue
            if self._delete_now(trial_id, path):
                deleted.append(path)
        return deleted

    @property
    def pending_deletions(self) -> list[str]:
        """Directories queued by ``deferred`` retention, not deleted yet."""
        return [p for _, p in self._pending]

    # -- reading ------------------------------------------------------------------------------
    def best_checkpoints(self, trial_id: str) -> list[tuple[str, dict]]:
        """``[(path, metrics), ...]`` of the trial's checkpoints on disk, oldest first: the
        best ``num_to_keep`` (all when None), the latest, and any pinned ones."""
        state = self._trials.get(trial_id)
        if state is None:
            return []
        return [(e.path, e.metrics) for e in state.entries]

    def latest(self, trial_id: str) -> str | None:
        """The trial's most recently registered checkpoint path (never deleted), or None."""
        state = self._trials.get(trial_id)
        return state.latest if state is not None else None

    def best(self, trial_id: str) -> tuple[str, dict] | None:
        """The kept checkpoint ranking first (by score, else the latest), or None."""
        state = self._trials.get(trial_id)
        if state is None or not state.entries:
            return None
        entry = max(state.entries, key=lambda e: self._score(trial_id, state, e))
        return entry.path, entry.metrics

    def trial_ids(self) -> list[str]:
        return list(self._trials)

    def forget(self, trial_id: str) -> None:
        """Drop a trial's bookkeeping (its directories stay on disk)."""
        self._trials.pop(trial_id, None)

    # -- state --------------------------------------------------------------------------------
    def kept_for_state(self, trial_id: str) -> list[list]:
        """``best_checkpoints`` as JSON-safe ``[[path, metrics], ...]`` without ``"config"``,
        for a trial record (what ``adopt_trial`` takes back)."""
        return [
            [path, _json_safe({k: v for k, v in metrics.items() if k != "config"})]
            for path, metrics in self.best_checkpoints(trial_id)
        ]

    def adopt_trial(
        self,
        trial_id: str,
        kept: list | None,
        latest: str | None = None,
        config: dict | None = None,
        check_exists: bool = True,
    ) -> None:
        """Rebuild a trial's bookkeeping from its record on restore: ``kept`` is the
        ``[(path, metrics), ...]`` list ``best_checkpoints`` gave (oldest first), ``latest``
        the trial's checkpoint path (added if ``kept`` lacks it). ``config``, when given, is
        put back into the metrics. Pins are not restored (whoever pinned pins again)."""
        entries = [[os.fspath(p), dict(m or {}), i] for i, (p, m) in enumerate(kept or [])]
        if config is not None:
            for entry in entries:
                entry[1].setdefault("config", config)
        if latest is not None and all(_norm(e[0]) != _norm(latest) for e in entries):
            entries.append([latest, {"config": config} if config is not None else {}, len(entries)])
        self.set_trial_state(
            trial_id,
            {"entries": entries, "latest": latest if latest is not None else (
                entries[-1][0] if entries else None)},
            check_exists=check_exists,
        )

    def get_trial_state(self, trial_id: str) -> dict | None:
        """JSON-safe bookkeeping of one trial (None if it has none); metrics without
        ``"config"``."""
        state = self._trials.get(trial_id)
        if state is None:
            return None
        return {
            "entries": [
                [e.path, _json_safe({k: v for k, v in e.metrics.items() if k != "config"}), e.seq]
                for e in state.entries
            ],
            "latest": state.latest,
            "pins": dict(state.pins),
            "next_seq": state.next_seq,
        }

    def set_trial_state(self, trial_id: str, data: Mapping | None, check_exists: bool = True) -> None:
        """Restore one trial's bookkeeping from ``get_trial_state`` output.

        With ``check_exists`` (local paths only), entries whose directory no longer exists
        are dropped: a deletion that completed after the state was written. The latest is
        kept even so; whoever restores from it reports a missing directory.
        """
        if data is None:
            self._trials.pop(trial_id, None)
            return
        state = _TrialCheckpoints()
        state.latest = data.get("latest")
        state.pins = {str(k): int(v) for k, v in (data.get("pins") or {}).items()}
        entries = []
        for path, metrics, seq in data.get("entries") or []:
            if (
                check_exists
                and not _is_url(path)
                and not os.path.isdir(path)
                and path != state.latest
            ):
                continue
            entries.append(_Entry(path, dict(metrics or {}), int(seq)))
        state.entries = entries
        state.next_seq = int(data.get("next_seq", max((e.seq for e in entries), default=-1) + 1))
        self._trials[trial_id] = state

    def get_state(self) -> dict:
        """Everything, JSON-safe, for the experiment state."""
        return {
            "version": STATE_VERSION,
            "num_to_keep": self.num_to_keep,
            "score_attribute": self.score_attribute,
            "score_order": self.score_order,
            "trials": {tid: self.get_trial_state(tid) for tid in self._trials},
        }

    def set_state(self, data: Mapping, check_exists: bool = True) -> None:
        """Restore from ``get_state`` output. The retention settings stay this manager's own
        (a restored run may change ``CheckpointConfig``); they apply from the next register."""
        if not isinstance(data, Mapping):
            raise invalid_type("state", data, "expected the dict CheckpointManager.get_state made")
        version = data.get("version", STATE_VERSION)
        if version != STATE_VERSION:
            raise invalid_value(
                "checkpoint manager state version", version, f"this tune reads version {STATE_VERSION}"
            )
        self._trials = {}
        for trial_id, trial_state in (data.get("trials") or {}).items():
            self.set_trial_state(trial_id, trial_state, check_exists=check_exists)
