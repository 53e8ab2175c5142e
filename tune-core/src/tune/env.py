"""The ``TUNE_*`` environment variables tune reads, their defaults and their documentation.

Each is read when used (not at import), so tests and users can change them per run.
``docs/env.md`` lists them; a test checks that every variable here is documented there.
"""

from __future__ import annotations

import os

#: name -> (default, documentation)
ENV_VARS: dict[str, tuple[str, str]] = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": (
        "0",
        "Set to 1 to stop tune from adding the JSON and CSV logger callbacks (result.json, "
        "progress.csv, params.json) when none were passed.",
    ),
    "TUNE_DISABLE_DATED_SUBDIR": (
        "0",
        "Set to 1 to name an unnamed experiment's directory after the trainable only, without "
        "the date string.",
    ),
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": (
        "0",
        "Set to 1 to accept results that lack the experiment's metric instead of stopping the "
        "experiment with an error naming it.",
    ),
    "TUNE_MAX_LEN_IDENTIFIER": (
        "130",
        "Maximum length of the parameter part of trial directory names.",
    ),
    "TUNE_GLOBAL_CHECKPOINT_S": (
        "auto",
        "How often the full experiment snapshot (experiment_state.json) is written. 'auto' "
        "keeps snapshotting to about 5% of the driver's time (at least 1 s apart); a number "
        "fixes the period in seconds. Trial endings and checkpoints are journaled as they "
        "happen either way, so nothing committed is lost between snapshots.",
    ),
    "TUNE_DISABLE_SIGINT_HANDLER": (
        "0",
        "Set to 1 to leave SIGINT and SIGUSR1 alone. Otherwise the first Ctrl+C (or SIGUSR1) "
        "stops running trials gracefully and writes a final snapshot, so the run can be "
        "restored with Tuner.restore; a second Ctrl+C stops at once.",
    ),
    "TUNE_MAX_PENDING_TRIALS_PG": (
        "auto",
        "How many trials may wait for resources at once. 'auto': 1 for adaptive search "
        "algorithms (each suggestion sees the latest results), max(200, 1.1 x CPUs) for "
        "random and grid search.",
    ),
    "TUNE_WARN_THRESHOLD_S": (
        "0.5",
        "Log a warning when one step of the controller's event loop takes longer than this.",
    ),
    "TUNE_WARN_INSUFFICENT_RESOURCE_THRESHOLD_S": (
        "60",
        "Warn (and repeat every this many seconds) when trials are pending but none is running "
        "because the executor has no free resources for them.",
    ),
    "TUNE_PRINT_ALL_TRIAL_ERRORS": (
        "1",
        "Set to 0 to keep trial errors out of the console (they are still written to "
        "error.txt in the trial directory).",
    ),
    "TUNE_RESULT_DELIM": (
        "/",
        "Delimiter of nested result keys in progress.csv and in dataframes.",
    ),
    "TUNE_DISABLE_PLUGIN_AUTOLOAD": (
        "0",
        "Set to 1 to load only tune-core's built-in plugins, not those found through the "
        "tune.plugins entry points.",
    ),
    "TUNE_DISABLED_PLUGINS": (
        "",
        "Comma-separated entry point names of plugins not to load.",
    ),
    "TUNE_WORKER_START_METHOD": (
        "",
        "How the local executor starts its worker processes: fork (default on Linux), spawn or "
        "forkserver.",
    ),
    "TUNE_CHDIR_TO_TRIAL_DIR": (
        "1",
        "Set to 0 to keep worker processes in the driver's working directory instead of "
        "changing into each trial's directory while it runs.",
    ),
    "TUNE_STAGING_DIR": (
        "~/.cache/tune/staging",
        "Local directory where experiments stored at a URL (RunConfig(storage_path='s3://...')) "
        "are written before upload, one sub-directory per experiment URL; Tuner.restore "
        "downloads into it too.",
    ),
    "TUNE_SYNC_PERIOD_S": (
        "30",
        "Least number of seconds between two periodic uploads of an experiment stored at a URL "
        "(trial ends, checkpoints and the end of the run upload at once).",
    ),
    "TUNE_RESULTS_DIR": (
        "~/tune_results",
        "Default storage path when RunConfig(storage_path=...) is not given.",
    ),
}


def get(name: str) -> str:
    """The variable's value, or its documented default."""
    return os.environ.get(name, ENV_VARS[name][0])


def flag(name: str) -> bool:
    """Whether a boolean variable is switched on ("1", "true", "yes")."""
    return get(name).strip().lower() in ("1", "true", "yes", "on")


def number(name: str) -> float:
    """A numeric variable; a malformed value raises naming the variable."""
    raw = get(name)
    try:
        return float(raw)
    except ValueError:
        from tune.errors import invalid_value

        raise invalid_value(f"environment variable {name}", raw, "must be a number") from None
