"""Trial schedulers: the ``TrialScheduler`` interface and the default ``FIFOScheduler``.

Other schedulers come from plugins (ASHA, HyperBand, PBT, ... live in the tune-schedulers
distribution) and are served here by class name, so ``from tune.schedulers import
ASHAScheduler`` works once that distribution is installed and says what to install when it
is not.
"""

from __future__ import annotations

from typing import Any

from tune.plugins import lazy_class_getattr
from tune.schedulers.trial_scheduler import DEFAULT_METRIC, FIFOScheduler, TrialScheduler

__all__ = ["DEFAULT_METRIC", "FIFOScheduler", "TrialScheduler", "create_scheduler"]

__getattr__ = lazy_class_getattr("scheduler", __name__)


def create_scheduler(scheduler: str, **kwargs: Any) -> TrialScheduler:
    """A scheduler by registered name, e.g. ``create_scheduler("asha", max_t=100)``.

    :raises tune.errors.UnknownPluginNameError: listing the known names (and what to install
        for a well-known one).
    """
    from tune.plugins import create_scheduler as _create

    return _create(scheduler, **kwargs)
