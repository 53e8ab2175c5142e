"""``tune.Trainable``: the class API of trainables, with Ray Tune's method names.

Subclasses implement ``setup(config)``, ``step() -> dict`` and, to support checkpoints,
``save_checkpoint(checkpoint_dir) -> dict | None`` and ``load_checkpoint(checkpoint)``.
``train()`` runs one ``step()`` and fills in the automatic result fields (``Progress``,
shared with function trainables).
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import re
import socket
import tempfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tune.errors import TuneTypeError, invalid_type
from tune.trainable.checkpoint import DICT_CHECKPOINT_FILE, Checkpoint, _dump_pickle

if TYPE_CHECKING:
    from tune.resources import PlacementGroupFactory

# Result keys (Ray Tune's tune.result names).
DONE = "done"
SHOULD_CHECKPOINT = "should_checkpoint"
TRAINING_ITERATION = "training_iteration"
TIME_THIS_ITER_S = "time_this_iter_s"
TIME_TOTAL_S = "time_total_s"
TIMESTAMP = "timestamp"

#: tune's own bookkeeping inside checkpoint directories (iteration and time to resume from).
TUNE_METADATA_FILE = ".tune_metadata.json"
_CHECKPOINT_DIR_RE = re.compile(r"checkpoint_(\d+)$")


@dataclass
class TrialInfo:
    """Who a Trainable instance is running for (set by the runner before ``setup``)."""

    trial_id: str = "default"
    trial_name: str = "default"
    logdir: str | None = None
    experiment_tag: str = ""
    experiment_name: str = ""
    resources: PlacementGroupFactory | None = None


_pending_info: TrialInfo | None = None


def construct(cls: type, config: dict, info: TrialInfo) -> Trainable:
    """Instantiate ``cls(config)`` with ``info`` visible in its ``setup``."""
    global _pending_info
    _pending_info = info
    try:
        return cls(config)
    finally:
        _pending_info = None


_HOST: tuple[str, str] | None = None


def host_identity() -> tuple[str, str]:
    """(hostname, node ip) of this machine, computed once per process."""
    global _HOST
    if _HOST is None:
        hostname = socket.gethostname()
        ip = "127.0.0.1"
        try:
            # A UDP connect sends nothing; it only picks the outgoing interface.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect(("10.255.255.255", 1))
                ip = s.getsockname()[0]
        except OSError:
            pass
        _HOST = (hostname, ip)
    return _HOST


class Progress:
    """Iteration and time counters of one trial, and the auto-filled result fields."""

    __slots__ = (
        "iteration", "time_total", "time_since_restore", "iterations_since_restore",
        "last_time", "static", "_date_second", "_date",
    )

    def __init__(self, trial_id: str, experiment_tag: str) -> None:
        hostname, ip = host_identity()
        self.static = {
            "trial_id": trial_id,
            "experiment_tag": experiment_tag,
            "hostname": hostname,
            "node_ip": ip,
            "pid": os.getpid(),
        }
        self.iteration = 0
        self.time_total = 0.0
        self.time_since_restore = 0.0
        self.iterations_since_restore = 0
        self.last_time = time.time()
        self._date_second = -1
        self._date = ""

    def restored(self, iteration: int, time_total: float) -> None:
        self.iteration = iteration
        self.time_total = time_total
        self.time_since_restore = 0.0
        self.iterations_since_restore = 0

    def fill(self, result: dict, now: float) -> dict:
        """Count one iteration ending at ``now`` and add the automatic fields to ``result``.

        User-provided ``done``, ``training_iteration``, ``time_this_iter_s`` and ``timestamp``
        are kept, as in Ray Tune; the other automatic fields are overwritten.
        """
        self.iteration += 1
        self.iterations_since_restore += 1
        dt = result.get(TIME_THIS_ITER_S)
        if dt is None or isinstance(dt, bool) or not isinstance(dt, (int, float)):
            dt = now - self.last_time
            result[TIME_THIS_ITER_S] = dt
        self.last_time = now
        self.time_total += dt
        self.time_since_restore += dt
        if DONE not in result:
            result[DONE] = False
        if TRAINING_ITERATION not in result:
            result[TRAINING_ITERATION] = self.iteration
        second = int(now)
        if second != self._date_second:
            self._date_second = second
            self._date = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(second))
        if TIMESTAMP not in result:
            result[TIMESTAMP] = second
        result["date"] = self._date
        result[TIME_TOTAL_S] = self.time_total
        result["time_since_restore"] = self.time_since_restore
        result["iterations_since_restore"] = self.iterations_since_restore
        result.update(self.static)
        return result


def write_tune_metadata(checkpoint_dir: str, progress: Progress, **extra: Any) -> None:
    data = {"iteration": progress.iteration, "time_total_s": progress.time_total, **extra}
    with open(os.path.join(checkpoint_dir, TUNE_METADATA_FILE), "w") as f:
        json.dump(data, f)


def read_tune_metadata(checkpoint_dir: str) -> dict:
    """Tune's metadata of a checkpoint; without the file, the iteration from the dir name."""
    try:
        with open(os.path.join(checkpoint_dir, TUNE_METADATA_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        match = _CHECKPOINT_DIR_RE.search(os.path.basename(os.path.normpath(checkpoint_dir)))
        return {"iteration": int(match.group(1)) if match else 0, "time_total_s": 0.0}


class Trainable:
    """Base class of class trainables (Ray Tune's ``tune.Trainable``).

    Example::

        class MyTrainable(tune.Trainable):
            def setup(self, config):
                self.x = 0

            def step(self):
                self.x += 1
                return {"score": self.x * self.config["lr"]}

            def save_checkpoint(self, checkpoint_dir):
                return {"x": self.x}

            def load_checkpoint(self, checkpoint):
                self.x = checkpoint["x"]

    A ``step`` result may contain ``done=True`` to end the trial and ``should_checkpoint=True``
    to ask for a checkpoint after this step.
    """

    def __init__(self, config: dict | None = None) -> None:
        info = _pending_info or TrialInfo()
        self.config: dict = config if config is not None else {}
        self._info = info
        self._progress = Progress(info.trial_id, info.experiment_tag)
        self._restored = False
        self.setup(copy.deepcopy(self.config))

    # -- methods subclasses implement ---------------------------------------------------------
    def setup(self, config: dict) -> None:
        """Called once with the trial's config (a copy) when the trainable starts."""

    def step(self) -> dict:
        """Run one logical iteration of training and return a dict of metrics."""
        raise NotImplementedError(f"{type(self).__name__} must implement step() -> dict")

    def save_checkpoint(self, checkpoint_dir: str) -> dict | None:
        """Save state: write files into ``checkpoint_dir`` (return None) or return a dict."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement save_checkpoint(checkpoint_dir); "
            "implement it to use checkpoint_frequency, checkpoint_at_end, pausing or PBT."
        )

    def load_checkpoint(self, checkpoint: dict | str) -> None:
        """Restore state: ``checkpoint`` is the dict ``save_checkpoint`` returned, else the
        checkpoint directory."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement load_checkpoint(checkpoint); "
            "implement it to restore trials from checkpoints."
        )

    def reset_config(self, new_config: dict) -> bool:
        """Reconfigure for a new trial without restarting (``reuse_actors``); return True
        when that worked, False to have a fresh instance created instead."""
        return False

    def cleanup(self) -> None:
        """Release what ``setup`` acquired; called when the trainable stops."""

    @classmethod
    def default_resource_request(cls, config: dict) -> PlacementGroupFactory | None:
        """The resources a trial with ``config`` needs; ``None`` means the default (1 CPU)."""
        return None

    # -- identity and counters ----------------------------------------------------------------
    @property
    def iteration(self) -> int:
        """Iterations (``step`` calls) done so far, including those before a restore."""
        return self._progress.iteration

    training_iteration = iteration

    @property
    def trial_id(self) -> str:
        return self._info.trial_id

    @property
    def trial_name(self) -> str:
        return self._info.trial_name

    @property
    def logdir(self) -> str:
        """The trial directory (a temporary directory when used outside tune)."""
        if self._info.logdir is None:
            self._info.logdir = tempfile.mkdtemp(prefix=f"{type(self).__name__}_")
        return self._info.logdir

    @property
    def trial_resources(self) -> PlacementGroupFactory | None:
        return self._info.resources

    def get_config(self) -> dict:
        return self.config

    def update_resources(self, trial_resources: PlacementGroupFactory) -> None:
        """Called when the trial resumes with other resources than before
        (``ResourceChangingScheduler``); ``self.trial_resources`` already holds them.

        Override to use them, e.g. to change the number of data-loading threads.
        """

    # -- driving ------------------------------------------------------------------------------
    def train(self) -> dict:
        """Run one ``step()`` and return its result with the automatic fields filled in."""
        self._progress.last_time = time.time()
        result = self.step()
        if not isinstance(result, dict):
            raise TuneTypeError(
                f"{type(self).__name__}.step() returned {result!r} of type "
                f"{type(result).__name__}; it must return a dict of metrics."
            )
        return self._progress.fill(dict(result), time.time())

    def save(self, checkpoint_dir: str | None = None) -> str:
        """Save a checkpoint into ``checkpoint_dir`` (default ``<logdir>/checkpoint_<iter>``)
        and return its path."""
        if checkpoint_dir is None:
            checkpoint_dir = os.path.join(self.logdir, f"checkpoint_{self.iteration:06d}")
        os.makedirs(checkpoint_dir, exist_ok=True)
        state = self.save_checkpoint(checkpoint_dir)
        if isinstance(state, dict):
            _dump_pickle(state, os.path.join(checkpoint_dir, DICT_CHECKPOINT_FILE))
        elif state is not None and not isinstance(state, (str, os.PathLike)):
            raise invalid_type(
                f"{type(self).__name__}.save_checkpoint() return value",
                state,
                "expected a dict, None (files written into checkpoint_dir) or a path",
            )
        write_tune_metadata(checkpoint_dir, self._progress, dict_state=isinstance(state, dict))
        return checkpoint_dir

    def restore(self, checkpoint_path: str | os.PathLike | Checkpoint) -> None:
        """Load a checkpoint made by ``save`` (or any directory): calls ``load_checkpoint``
        and continues the iteration count from the checkpoint's."""
        path = checkpoint_path.path if isinstance(checkpoint_path, Checkpoint) else os.fspath(
            checkpoint_path
        )
        meta = read_tune_metadata(path)
        dict_file = os.path.join(path, DICT_CHECKPOINT_FILE)
        if meta.get("dict_state", os.path.exists(dict_file)):
            with open(dict_file, "rb") as f:
                self.load_checkpoint(pickle.load(f))
        else:
            self.load_checkpoint(path)
        self._progress.restored(int(meta.get("iteration", 0)), float(meta.get("time_total_s", 0.0)))
        self._restored = True

    def reset(self, new_config: dict, info: TrialInfo | None = None) -> bool:
        """Reuse this instance for another trial: ``reset_config`` and fresh counters."""
        old_config, old_info = self.config, self._info
        self.config = new_config
        if info is not None:
            self._info = info
        if not self.reset_config(new_config):
            self.config, self._info = old_config, old_info
            return False
        self._progress = Progress(self._info.trial_id, self._info.experiment_tag)
        self._restored = False
        return True

    def stop(self) -> None:
        """End the trainable: calls ``cleanup``."""
        self.cleanup()
