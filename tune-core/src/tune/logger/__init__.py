"""Result loggers: the ``LoggerCallback`` interface and the JSON and CSV loggers.

``default_logger_callbacks()`` gives the loggers tune adds when the user passed none (unless
``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1``). Loggers from plugins (TensorBoard, MLflow, W&B,
...) are served here by class name once their distribution is installed.
"""

from __future__ import annotations

from tune.logger.csv import CSVLoggerCallback
from tune.logger.json import JsonLoggerCallback
from tune.logger.logger import (
    EXPR_PARAM_FILE,
    EXPR_PARAM_PICKLE_FILE,
    EXPR_PROGRESS_FILE,
    EXPR_RESULT_FILE,
    LoggerCallback,
)
from tune.plugins import lazy_class_getattr

__all__ = [
    "CSVLoggerCallback",
    "EXPR_PARAM_FILE",
    "EXPR_PARAM_PICKLE_FILE",
    "EXPR_PROGRESS_FILE",
    "EXPR_RESULT_FILE",
    "JsonLoggerCallback",
    "LoggerCallback",
    "default_logger_callbacks",
]

__getattr__ = lazy_class_getattr("logger", __name__)


def default_logger_callbacks() -> list[LoggerCallback]:
    """New instances of the default loggers: JSON (``result.json``, ``params.json``) and CSV."""
    return [JsonLoggerCallback(), CSVLoggerCallback()]
