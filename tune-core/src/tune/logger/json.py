"""``JsonLoggerCallback``: ``params.json``/``params.pkl`` and one JSON line per result.

Writes, per trial directory (Ray Tune's layout): ``params.json`` (the config, indented,
sorted), ``params.pkl`` (the config, cloudpickled) and ``result.json``, one JSON object per
line, appended. Values JSON cannot encode are converted: numpy scalars and arrays to Python
numbers and lists, other objects to their ``repr``. NaN and infinities are written as
``NaN``/``Infinity``, as Python's ``json`` (and Ray Tune) do. Each line carries the trial's
``config``, as Ray Tune's does, even when the trainable did not put it in the result.
"""

from __future__ import annotations

import json
import logging
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tune.logger.logger import (
    EXPR_PARAM_FILE,
    EXPR_PARAM_PICKLE_FILE,
    EXPR_RESULT_FILE,
    _TrialFileLogger,
    trial_dir,
    write_atomic,
)

if TYPE_CHECKING:
    from tune.trial import Trial

__all__ = ["JsonLoggerCallback", "to_json", "to_json_line"]

logger = logging.getLogger(__name__)


def _fallback(value: Any) -> Any:
    """JSON stand-in for a value the encoder does not know."""
    tolist = getattr(value, "tolist", None)
    if tolist is not None and callable(tolist):
        # numpy scalars and arrays (and tensors) become Python numbers and lists.
        try:
            return tolist()
        except Exception:
            pass
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    return repr(value)


# One encoder reused for every line: json.dumps with options builds a new one per call.
_line_encoder = json.JSONEncoder(default=_fallback)
_params_encoder = json.JSONEncoder(default=_fallback, indent=2, sort_keys=True)


def _make_c_line_encoder() -> Any:
    """The C encoder ``_line_encoder.encode`` would build on every call, built once.

    ``None`` where the C accelerator is missing or its signature differs (then the
    ``JSONEncoder`` is used). Its ``markers`` dict detects cycles and is empty again after
    every successful call.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        encoder = make(
            {},
            _fallback,
            json.encoder.encode_basestring_ascii,
            None,
            ": ",
            ", ",
            False,
            False,
            True,
        )
        probe = {"a": [1, 2.5, float("nan"), None, True, "x"], "b": {"c": object}}
        if "".join(encoder(probe, 0)) != _line_encoder.encode(probe):
            return None
    except Exception:
        return None
    return encoder


_c_line_encoder = _make_c_line_encoder()


def _encode_line(obj: Any) -> str:
    global _c_line_encoder
    encoder = _c_line_encoder
    if encoder is not None:
        try:
            return "".join(encoder(obj, 0))
        except (TypeError, ValueError, RecursionError):
            # A failed call can leave entries in the cycle markers: start a clean encoder.
            _c_line_encoder = _make_c_line_encoder()
    return to_json_line(obj)


def _sanitize(obj: Any, active: set[int]) -> Any:
    """A copy JSON can encode: keys as strings, reference cycles cut."""
    if isinstance(obj, Mapping):
        if id(obj) in active:
            return "<cycle>"
        active.add(id(obj))
        out = {
            (key if isinstance(key, str) else str(key)): _sanitize(value, active)
            for key, value in obj.items()
        }
        active.discard(id(obj))
        return out
    if isinstance(obj, (list, tuple)):
        if id(obj) in active:
            return "<cycle>"
        active.add(id(obj))
        out_list = [_sanitize(value, active) for value in obj]
        active.discard(id(obj))
        return out_list
    return obj


def _encode(encoder: json.JSONEncoder, obj: Any) -> str:
    try:
        return encoder.encode(obj)
    except (TypeError, ValueError, RecursionError):
        # Non-string keys that cannot be sorted or encoded, or a reference cycle.
        return encoder.encode(_sanitize(obj, set()))


def to_json_line(obj: Any) -> str:
    """``obj`` as compact JSON on one line, with the loggers' conversions of odd values."""
    return _encode(_line_encoder, obj)


def to_json(obj: Any) -> str:
    """``obj`` as indented JSON with sorted keys (``params.json``'s format)."""
    return _encode(_params_encoder, obj)


class JsonLoggerCallback(_TrialFileLogger):
    """Logs each trial's config to ``params.json``/``params.pkl`` and results to ``result.json``.

    One of the two default loggers (with ``CSVLoggerCallback``). A restarted trial appends to
    its existing ``result.json``.
    """

    _SAVED_FILE_TEMPLATES = [EXPR_RESULT_FILE, EXPR_PARAM_FILE, EXPR_PARAM_PICKLE_FILE]
    _filename = EXPR_RESULT_FILE

    def __init__(self) -> None:
        super().__init__()
        self._trial_configs: dict[str, dict] = {}
        # trial_id -> (config object, its JSON), to add "config" to results that lack it.
        self._config_json: dict[str, tuple[Any, str]] = {}
        self._pickle_warned = False

    def log_trial_start(self, trial: Trial) -> None:
        self.update_config(trial, trial.config)
        self._open(trial)

    def log_trial_restore(self, trial: Trial) -> None:
        # A scheduler such as PBT may have given the trial a new config before restoring it.
        if self._trial_configs.get(trial.trial_id) is not trial.config:
            self.update_config(trial, trial.config)
        self._open(trial)

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        trial_id = trial.trial_id
        f = self._files.get(trial_id)
        if f is None:
            if trial_id not in self._trial_configs:
                self.update_config(trial, trial.config)
            f = self._open(trial)
        line = _encode_line(result)
        if "config" not in result:
            line = self._with_config(trial, line)
        f.write(line + "\n")
        self._dirty.add(trial_id)

    def _with_config(self, trial: Trial, line: str) -> str:
        config = trial.config
        cached = self._config_json.get(trial.trial_id)
        if cached is None or cached[0] is not config:
            cached = (config, to_json_line(config))
            self._config_json[trial.trial_id] = cached
        if line == "{}":
            return '{"config": ' + cached[1] + "}"
        return line[:-1] + ', "config": ' + cached[1] + "}"

    def update_config(self, trial: Trial, config: dict) -> None:
        """Write ``params.json`` and ``params.pkl`` for ``trial``."""
        self._trial_configs[trial.trial_id] = config
        directory = trial_dir(trial)
        write_atomic(f"{directory}/{EXPR_PARAM_FILE}", to_json(config).encode("utf-8"))
        try:
            import cloudpickle

            data = cloudpickle.dumps(config)
        except Exception as exc:
            if not self._pickle_warned:
                self._pickle_warned = True
                logger.warning(
                    "Could not pickle the config of trial %s to %s (%s: %s); params.json is "
                    "still written.",
                    trial,
                    EXPR_PARAM_PICKLE_FILE,
                    type(exc).__name__,
                    exc,
                )
            return
        write_atomic(f"{directory}/{EXPR_PARAM_PICKLE_FILE}", data)

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        super().log_trial_end(trial, failed)
        self._trial_configs.pop(trial.trial_id, None)
        self._config_json.pop(trial.trial_id, None)
