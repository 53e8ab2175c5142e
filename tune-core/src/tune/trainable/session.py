"""What a running trial calls: ``tune.report``, ``tune.get_checkpoint``, ``tune.get_context``.

Whoever runs a trial (a worker process, the inline executor, a standalone
``FunctionTrainable``) installs a session object for it; these functions forward to it.
One trial runs per worker process, so the session is process-wide (threads the trainable
starts can report too); a thread-local session, when set, takes precedence.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tune.resources import PlacementGroupFactory
    from tune.trainable.checkpoint import Checkpoint

_session: Session | None = None
_local = threading.local()


class Session:
    """The running trial, as seen from inside it. Runners subclass this."""

    trial_id: str = ""
    trial_name: str = ""
    trial_dir: str = ""
    experiment_name: str = ""
    experiment_dir: str = ""
    trial_resources: PlacementGroupFactory | None = None

    def report(self, metrics: dict, checkpoint: Checkpoint | None) -> None:
        raise RuntimeError(
            "tune.report() can't be used within a tune.Trainable class: return the metrics "
            "from step() instead."
        )

    def get_checkpoint(self) -> Checkpoint | None:
        return None


def set_session(session: Session | None, *, thread_local: bool = False) -> None:
    """Install (or with ``None`` remove) the session of the trial running here."""
    global _session
    if thread_local:
        _local.session = session
    else:
        _session = session


def current_session() -> Session | None:
    """The session of the trial running in this thread or process, or ``None``."""
    s = getattr(_local, "session", None)
    return s if s is not None else _session


_OUTSIDE = (
    "tune.{name}() was called outside of a running trial. Call it inside the trainable "
    "function passed to tune.Tuner(...) or tune.run(...)."
)


def report(
    metrics: dict | None = None, *, checkpoint: Checkpoint | None = None, **kwargs: Any
) -> None:
    """Report a result (a dict of metrics) and optionally a checkpoint, from a function trial.

    ``tune.report({"loss": 0.1}, checkpoint=tune.Checkpoint.from_directory(d))``. The older
    keyword form ``tune.report(loss=0.1)`` works too. Returns when the result is handed over
    (and the checkpoint copied into the trial directory); a stop decision ends the trial here.
    """
    s = getattr(_local, "session", None) or _session
    if s is None:
        raise RuntimeError(_OUTSIDE.format(name="report"))
    if kwargs:
        metrics = {**(metrics or {}), **kwargs}
    elif metrics is None:
        metrics = {}
    s.report(metrics, checkpoint)


def get_checkpoint() -> Checkpoint | None:
    """The checkpoint to resume from (the latest one this trial reported or was restored
    from), or ``None`` for a fresh trial or outside a trial."""
    s = current_session()
    return s.get_checkpoint() if s is not None else None


class TuneContext:
    """Information about the running trial, from ``tune.get_context()``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get_trial_name(self) -> str:
        return self._session.trial_name

    def get_trial_id(self) -> str:
        return self._session.trial_id

    def get_trial_dir(self) -> str:
        return self._session.trial_dir

    def get_trial_resources(self) -> PlacementGroupFactory:
        from tune.resources import PlacementGroupFactory

        return self._session.trial_resources or PlacementGroupFactory([{"CPU": 1}])

    def get_experiment_name(self) -> str:
        return self._session.experiment_name

    def get_world_size(self) -> int:
        return 1

    def get_world_rank(self) -> int:
        return 0

    def get_local_rank(self) -> int:
        return 0

    def get_local_world_size(self) -> int:
        return 1

    def get_node_rank(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"TuneContext(trial_name={self.get_trial_name()!r})"


def get_context() -> TuneContext:
    """The running trial's context: name, id, directory, resources, experiment name."""
    s = current_session()
    if s is None:
        raise RuntimeError(_OUTSIDE.format(name="get_context"))
    return TuneContext(s)


# Ray Tune 2.0-2.6 module-level helpers, kept for old scripts.
def get_trial_id() -> str:
    return get_context().get_trial_id()


def get_trial_name() -> str:
    return get_context().get_trial_name()


def get_trial_dir() -> str:
    return get_context().get_trial_dir()


def get_trial_resources() -> PlacementGroupFactory:
    return get_context().get_trial_resources()
