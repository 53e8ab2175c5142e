"""``Searcher``: the base class of search algorithms (Ray Tune's names) and its hookimpls.

Users subclass ``Searcher`` exactly as in Ray Tune (``suggest``, ``on_trial_complete``,
``set_search_properties``, ``get_state``/``set_state``). The base class carries the
``@hookimpl`` methods that put an instance on an experiment's plugin manager: the controller
registers the searcher instance and only ever calls ``pm.hook.tune_suggest(...)`` and friends.

``num_samples``: ``tune_searcher_configure`` receives it in ``spec``. A searcher that decides
the number of trials itself (``counts_own_samples``, e.g. ``BasicVariantGenerator`` with its
grid x ``num_samples``) returns ``FINISHED`` on its own; for every other searcher the
``tune_suggest`` hookimpl returns ``FINISHED`` once ``num_samples`` configs were suggested
(``-1``: no limit). So a controller can simply ask until it hears ``FINISHED``.
"""

from __future__ import annotations

import glob
import inspect
import logging
import os
import pickle
import uuid
import warnings
from collections.abc import Callable
from typing import Any

from tune.errors import TuneError, check_mode, invalid_type, invalid_value
from tune.plugins import hookimpl

__all__ = ["FINISHED", "Searcher"]

logger = logging.getLogger(__name__)

FINISHED = "FINISHED"

# Marks the envelope the hookimpls wrap ``get_state()`` in (it also carries the count of
# suggestions made, so a restored experiment does not draw more than ``num_samples``).
_STATE_MARKER = "__tune_searcher_state__"


def _call_with_spec(
    method: Callable[..., Any], metric: Any, mode: Any, config: dict, spec: dict
) -> Any:
    """Call ``set_search_properties``, passing only the ``spec`` keys it accepts.

    Searchers written for older Ray Tune versions do not take ``**spec``.
    """
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return method(metric, mode, config, **spec)
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return method(metric, mode, config, **spec)
    names = {p.name for p in parameters}
    return method(metric, mode, config, **{k: v for k, v in spec.items() if k in names})


def _check_metric_mode(metric: Any, mode: Any) -> None:
    if isinstance(mode, (list, tuple)):
        if not isinstance(metric, (list, tuple)) or len(metric) != len(mode):
            raise invalid_value("metric", metric, f"must be a list as long as mode={list(mode)!r}")
        for one in mode:
            if one not in ("min", "max", "obs"):
                raise invalid_value("mode", one, "each mode must be 'min', 'max' or 'obs'")
        return
    check_mode(mode)
    if metric is not None and not isinstance(metric, (str, list, tuple)):
        raise invalid_type("metric", metric, "expected the name of a reported metric")


class Searcher:
    """Base class of search algorithms: suggest configs, learn from results.

    Subclasses implement ``suggest`` and usually ``on_trial_complete``; those that take the
    search space from ``Tuner(param_space=...)`` implement ``set_search_properties``. Any
    subclass with its own ``__init__`` must call ``super().__init__(metric=..., mode=...)``.

    :param metric: the reported metric to optimize (a list for multi-objective searchers).
    :param mode: ``"min"`` or ``"max"`` (a list matching ``metric`` for multi-objective).
    """

    FINISHED = FINISHED
    CKPT_FILE_TMPL = "searcher-state-{}.pkl"

    def __init__(
        self, metric: str | list[str] | None = None, mode: str | list[str] | None = None
    ) -> None:
        _check_metric_mode(metric, mode)
        self._metric = metric
        self._mode = mode

    # -- Ray Tune's Searcher API ----------------------------------------------------------------
    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        """Take the experiment's metric, mode and search space.

        :param metric: ``TuneConfig.metric``.
        :param mode: ``TuneConfig.mode``.
        :param config: the ``param_space``.
        :param spec: further settings: ``num_samples``, ``time_budget_s``.
        :return: ``True`` if the searcher took them, ``False`` if it already has its own
            (the default: a searcher that ignores the ``param_space``).
        """
        return False

    def suggest(self, trial_id: str) -> dict | str | None:
        """The config for trial ``trial_id``, ``None`` if none is ready yet, or ``FINISHED``."""
        raise NotImplementedError(f"{type(self).__name__} must implement suggest(trial_id)")

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """An intermediate result of a suggested trial (may lack the metric or hold NaN)."""

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        """A suggested trial ended; ``result`` is its last result (``None``: never reported)."""

    def on_pause(self, trial_id: str) -> None:
        """The scheduler paused a suggested trial (it may resume later)."""

    def on_unpause(self, trial_id: str) -> None:
        """A paused trial resumes."""

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Tell the searcher about a point evaluated outside of it (where supported)."""
        raise NotImplementedError(f"{type(self).__name__} does not support add_evaluated_point")

    def add_evaluated_trials(self, trials_or_analysis: Any, metric: str) -> None:
        """Feed finished trials (a ``Trial``, a list of them, or an analysis) to the searcher."""
        from tune.trial import ERROR, TERMINATED, Trial

        if isinstance(trials_or_analysis, Trial):
            trials = [trials_or_analysis]
        elif isinstance(trials_or_analysis, (list, tuple)):
            trials = list(trials_or_analysis)
        elif hasattr(trials_or_analysis, "trials"):
            trials = list(trials_or_analysis.trials)
        else:
            raise invalid_type(
                "trials_or_analysis",
                trials_or_analysis,
                "expected a Trial, a list of trials or an ExperimentAnalysis",
            )
        any_metric = False
        for trial in trials:
            last = trial.last_result or {}
            if metric not in last:
                continue
            any_metric = True
            self.add_evaluated_point(
                parameters=trial.config,
                value=last[metric],
                error=trial.status == ERROR,
                pruned=trial.status == TERMINATED and not last.get("done", False),
                intermediate_values=None,
            )
        if not any_metric:
            warnings.warn(
                f"No trial reported the metric {metric!r}; nothing was added to the searcher.",
                stacklevel=2,
            )

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Called by ``ConcurrencyLimiter``; return ``True`` if the searcher limits itself."""
        return False

    def get_state(self) -> dict:
        """The searcher's state as a picklable dict (by default its attributes).

        Override together with ``set_state`` when attributes are not picklable.
        """
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_tune_")}

    def set_state(self, state: dict) -> None:
        """Bring back what ``get_state`` returned."""
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        """Write ``get_state()`` to ``checkpoint_path`` (atomically; cloudpickle, so lambdas in
        the search space survive)."""
        import cloudpickle

        directory = os.path.dirname(os.path.abspath(checkpoint_path))
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as f:
                cloudpickle.dump(self.get_state(), f)
            os.replace(tmp, checkpoint_path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def restore(self, checkpoint_path: str) -> None:
        """Load what ``save`` wrote and ``set_state`` it."""
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))

    def save_to_dir(self, checkpoint_dir: str, session_str: str = "default") -> None:
        """``save`` into ``checkpoint_dir/searcher-state-<session_str>.pkl``."""
        self.save(os.path.join(checkpoint_dir, self.CKPT_FILE_TMPL.format(session_str)))

    def restore_from_dir(self, checkpoint_dir: str) -> None:
        """``restore`` the newest ``searcher-state-*.pkl`` in ``checkpoint_dir``."""
        pattern = os.path.join(os.path.expanduser(checkpoint_dir), self.CKPT_FILE_TMPL.format("*"))
        paths = glob.glob(pattern)
        if paths:
            self.restore(max(paths, key=os.path.getmtime))
            return
        # An experiment directory written by tune keeps the searcher's state in its record.
        from tune.journal import decode_blob, has_experiment, load_experiment

        directory = os.path.expanduser(checkpoint_dir)
        if has_experiment(directory):
            saved = decode_blob((load_experiment(directory).get("plugins") or {}).get("searcher"))
            if saved is not None:
                self.tune_searcher_set_state(saved)
                return
        raise TuneError(
            f"No searcher state found in {checkpoint_dir!r}: it holds neither a {pattern} "
            "file nor an experiment record with a saved searcher. Pass the experiment "
            "directory (<storage_path>/<name>) of a tune run."
        )

    @property
    def metric(self) -> Any:
        """The metric to optimize."""
        return getattr(self, "_metric", None)

    @property
    def mode(self) -> Any:
        """``"min"`` or ``"max"``."""
        return getattr(self, "_mode", None)

    @property
    def counts_own_samples(self) -> bool:
        """Whether the searcher decides the number of trials and returns ``FINISHED`` itself.

        ``False`` (the default): the ``tune_suggest`` hookimpl stops after ``num_samples``
        suggestions. ``BasicVariantGenerator`` answers ``True`` (grid x ``num_samples``).
        """
        return False

    def _suggestion_limit(self, num_samples: int) -> int:
        """How many configs to suggest for ``num_samples`` when not counting its own."""
        return num_samples

    # -- hookimpls: how the experiment's plugin manager talks to the searcher -------------------
    @hookimpl
    def tune_searcher_configure(
        self, metric: Any, mode: Any, config: dict, spec: dict
    ) -> bool | None:
        spec = dict(spec or {})
        self._tune_num_samples = spec.get("num_samples", 1)
        return _call_with_spec(self.set_search_properties, metric, mode, config, spec)

    @hookimpl
    def tune_suggest(self, trial_id: str) -> dict | str | None:
        count = getattr(self, "_tune_suggested", 0)
        if not self.counts_own_samples:
            num_samples = getattr(self, "_tune_num_samples", 1)
            if num_samples is not None and num_samples >= 0:
                if count >= self._suggestion_limit(num_samples):
                    return FINISHED
        suggestion = self.suggest(trial_id)
        if isinstance(suggestion, dict):
            self._tune_suggested = count + 1
        return suggestion

    @hookimpl
    def tune_searcher_on_trial_result(self, trial_id: str, result: dict) -> None:
        self.on_trial_result(trial_id, result)

    @hookimpl
    def tune_searcher_on_trial_complete(
        self, trial_id: str, result: dict | None, error: bool
    ) -> None:
        self.on_trial_complete(trial_id, result=result, error=error)

    @hookimpl
    def tune_searcher_on_pause(self, trial_id: str) -> None:
        self.on_pause(trial_id)

    @hookimpl
    def tune_searcher_on_unpause(self, trial_id: str) -> None:
        self.on_unpause(trial_id)

    @hookimpl
    def tune_searcher_get_state(self) -> dict:
        try:
            state = self.get_state()
        except NotImplementedError:
            state = None
        return {
            _STATE_MARKER: 1,
            "state": state,
            "suggested": getattr(self, "_tune_suggested", 0),
            "num_samples": getattr(self, "_tune_num_samples", 1),
        }

    @hookimpl
    def tune_searcher_set_state(self, state: dict) -> bool:
        if isinstance(state, dict) and _STATE_MARKER in state:
            self._tune_suggested = state.get("suggested", 0)
            self._tune_num_samples = state.get("num_samples", 1)
            state = state.get("state")
            if state is None:
                return True
        self.set_state(state)
        return True
