"""Every exception the tune package raises on purpose, in one place.

User mistakes raise subclasses of ``ValueError`` / ``TypeError`` whose message names the
offending argument, the value given and what is accepted, before any trial starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class TuneError(Exception):
    """Base class of tune's own runtime errors (not user input mistakes)."""


class TuneValueError(TuneError, ValueError):
    """A user-supplied value is out of range or not one of the accepted ones."""


class TuneTypeError(TuneError, TypeError):
    """A user-supplied object is of a type tune cannot use."""


class TrialError(TuneError):
    """A trial raised; ``traceback`` holds the formatted traceback from the worker."""

    def __init__(self, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.traceback = traceback


class WorkerDiedError(TrialError):
    """The process running a trial died (segfault, ``os._exit``, SIGKILL, out of memory)."""


class MetricNotReportedError(TuneError, ValueError):
    """A result lacked the metric the experiment optimizes (strict metric checking)."""


class UnknownPluginNameError(TuneValueError, LookupError):
    """A name given to ``create_searcher`` and friends is not registered."""


class PluginNotInstalledError(ImportError):
    """A class was requested that a not-installed distribution provides."""


class InsufficientResourcesError(TuneValueError):
    """A trial requests more resources than the executor will ever have."""


def invalid_value(argument: str, value: Any, accepted: str) -> TuneValueError:
    """Build the standard message: which argument, what value, what is accepted."""
    return TuneValueError(f"Invalid {argument}={value!r}: {accepted}.")


def invalid_type(argument: str, value: Any, accepted: str) -> TuneTypeError:
    return TuneTypeError(
        f"Invalid {argument} of type {type(value).__name__} ({value!r}): {accepted}."
    )


def check_choice(argument: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ``TuneValueError`` unless ``value`` is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise invalid_value(argument, value, "must be one of " + ", ".join(map(repr, choices)))


def check_mode(mode: str | None, argument: str = "mode") -> None:
    """``mode`` must be None, "min" or "max"."""
    if mode is not None:
        check_choice(argument, mode, ["min", "max"])
