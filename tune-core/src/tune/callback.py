"""``Callback``: user code called at points of the experiment's life (Ray Tune's interface).

Subclass ``Callback``, override the methods you need and pass instances in
``RunConfig(callbacks=[...])``. The base class carries the hookimpls that connect those
methods to the experiment bus; methods are called with keyword arguments, as Ray Tune does,
so overrides must use the parameter names below (``**info`` takes whatever is added later).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tune.plugins import hookimpl
from tune.stateful import StatefulPlugin

if TYPE_CHECKING:
    from tune.trial import Trial

__all__ = ["Callback"]


class Callback(StatefulPlugin):
    """Base class of experiment callbacks; every method is a no-op until overridden.

    ``iteration`` is the controller's event-loop counter and ``trials`` the list of all
    trials of the experiment.

    Stateful callbacks override ``get_state()`` (return a picklable object, or ``None`` for
    nothing to save) and ``set_state()``; the state is saved with the experiment under
    ``state_key``, which defaults to the class's qualified name. Set ``state_key`` on an
    instance when one experiment has two stateful callbacks of the same class, so each gets
    its own state back on restore.
    """

    #: Key the experiment state keeps ``get_state()`` under (default: the class's qualname).
    state_key: str | None = None

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        """Called once before the experiment starts (or resumes).

        :param stop: the stopping criteria (``RunConfig.stop``).
        :param num_samples: ``TuneConfig.num_samples``.
        :param total_num_samples: how many trials will be created, when known.
        """

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        """Called at the start of each step of the controller's event loop."""

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        """Called at the end of each step of the controller's event loop."""

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        """Called when ``trial`` starts for the first time."""

    def on_trial_restore(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        """Called when ``trial`` starts again from a checkpoint (after a pause or a failure)."""

    def on_trial_save(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        """Called when ``trial`` saved a checkpoint."""

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        """Called after ``trial`` reported ``result``."""

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        """Called when ``trial`` ended without error (finished or stopped)."""

    def on_trial_recover(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        """Called when ``trial`` failed and will be retried."""

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        """Called when ``trial`` failed and will not be retried."""

    def on_checkpoint(
        self, iteration: int, trials: list[Trial], trial: Trial, checkpoint: Any, **info: Any
    ) -> None:
        """Called when a checkpoint of ``trial`` was persisted."""

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        """Called once when the experiment ends (finished, stopped or interrupted)."""

    def get_state(self) -> dict | None:
        """Return this callback's state to save with the experiment, or ``None``."""
        return None

    def set_state(self, state: dict) -> None:
        """Bring back the state ``get_state`` returned."""


    # -- hookimpls: the experiment bus calls these --------------------------------------------
    @hookimpl
    def tune_setup(self, stop: Any, num_samples: int, total_num_samples: int | None) -> None:
        self.setup(stop=stop, num_samples=num_samples, total_num_samples=total_num_samples)

    @hookimpl
    def tune_on_step_begin(self, iteration: int, trials: list[Trial]) -> None:
        self.on_step_begin(iteration=iteration, trials=trials)

    @hookimpl
    def tune_on_step_end(self, iteration: int, trials: list[Trial]) -> None:
        self.on_step_end(iteration=iteration, trials=trials)

    @hookimpl
    def tune_on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.on_trial_start(iteration=iteration, trials=trials, trial=trial)

    @hookimpl
    def tune_on_trial_restore(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.on_trial_restore(iteration=iteration, trials=trials, trial=trial)

    @hookimpl
    def tune_on_trial_save(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.on_trial_save(iteration=iteration, trials=trials, trial=trial)

    @hookimpl
    def tune_on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict
    ) -> None:
        self.on_trial_result(iteration=iteration, trials=trials, trial=trial, result=result)

    @hookimpl
    def tune_on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.on_trial_complete(iteration=iteration, trials=trials, trial=trial)

    @hookimpl
    def tune_on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.on_trial_recover(iteration=iteration, trials=trials, trial=trial)

    @hookimpl
    def tune_on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial) -> None:
        self.on_trial_error(iteration=iteration, trials=trials, trial=trial)

    @hookimpl
    def tune_on_checkpoint(
        self, iteration: int, trials: list[Trial], trial: Trial, checkpoint: Any
    ) -> None:
        self.on_checkpoint(iteration=iteration, trials=trials, trial=trial, checkpoint=checkpoint)

    @hookimpl
    def tune_on_experiment_end(self, trials: list[Trial]) -> None:
        self.on_experiment_end(trials=trials)


