"""The experiment's durable record: periodic snapshots plus an append-only journal.

``experiment_state.json`` is a full snapshot (written to a temporary file, fsynced and renamed
over the old one). Between snapshots every change that must survive a crash is appended to
``journal-<generation>.jsonl``: one record a line, ``<crc32 hex> <json>``. A record cut short
by a crash, or damaged, fails its checksum and is skipped; the records before it still count.

Reading: load the snapshot, then apply the journal of the snapshot's generation. A new
snapshot starts a new generation (a new, empty journal), so the journal stays short.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import zlib
from collections.abc import Iterator
from typing import Any

from tune.experiment_state import STATE_FILE, json_default, read_state, write_state

logger = logging.getLogger("tune")

JOURNAL_PREFIX = "journal-"


def journal_name(generation: int) -> str:
    return f"{JOURNAL_PREFIX}{generation}.jsonl"


def encode_blob(obj: Any) -> str:
    """A picklable object (searcher state, lambdas included) as a JSON-safe string."""
    import cloudpickle

    return base64.b64encode(cloudpickle.dumps(obj)).decode("ascii")


def decode_blob(text: str | None) -> Any:
    if text is None:
        return None
    import pickle

    return pickle.loads(base64.b64decode(text))


class Journal:
    """Appends checksummed records to the journal of the current generation."""

    def __init__(self, experiment_dir: str, generation: int) -> None:
        self.experiment_dir = experiment_dir
        self.generation = generation
        self._file = open(os.path.join(experiment_dir, journal_name(generation)), "ab")

    def append(self, record: dict) -> None:
        payload = json.dumps(record, default=json_default, separators=(",", ":")).encode()
        line = b"%08x " % zlib.crc32(payload) + payload + b"\n"
        self._file.write(line)

    def flush(self) -> None:
        """Hand buffered records to the OS (one write per controller step): from then on a
        killed driver loses nothing; a record torn by a crash mid-write is skipped."""
        self._file.flush()

    def rotate(self, snapshot: dict) -> None:
        """Write a full snapshot as generation + 1, then continue in a fresh journal."""
        self._file.flush()
        old = self.generation
        self.generation = old + 1
        snapshot["generation"] = self.generation
        write_state(self.experiment_dir, snapshot)
        self._file.close()
        self._file = open(os.path.join(self.experiment_dir, journal_name(self.generation)), "ab")
        try:
            os.remove(os.path.join(self.experiment_dir, journal_name(old)))
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def read_records(path: str) -> Iterator[dict]:
    """The journal's intact records, in order; damaged or torn ones are skipped with a warning."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    skipped = 0
    with f:
        for raw in f:
            crc, _, payload = raw.rstrip(b"\n").partition(b" ")
            try:
                if not raw.endswith(b"\n") or int(crc, 16) != zlib.crc32(payload):
                    raise ValueError("checksum")
                yield json.loads(payload)
            except ValueError:
                skipped += 1
    if skipped:
        logger.warning("Skipped %d damaged or incomplete record(s) in %s.", skipped, path)


def load_experiment(experiment_dir: str) -> dict:
    """The experiment's latest state: the snapshot with its journal applied.

    Returns the snapshot dict whose ``"trials"`` list holds the newest record of every trial,
    in creation order, and whose ``"plugins"`` are the newest saved plugin states. For
    restoring plugins exactly, ``"plugins_seq"`` is the journal position of those states and
    each trial state's ``"_end_seq"`` the position where it ended (-1: before the snapshot).
    """
    state = read_state(experiment_dir)
    trials = {t["trial_id"]: t for t in state.get("trials", [])}
    for t in trials.values():
        t["_end_seq"] = -1
    order = list(trials)
    state["plugins_seq"] = -1
    generation = state.get("generation", 0)
    path = os.path.join(experiment_dir, journal_name(generation))
    for seq, record in enumerate(read_records(path)):
        kind = record.get("t")
        if kind == "trial":
            update = record["trial"]
            trial_id = update["trial_id"]
            if trial_id not in trials:
                order.append(trial_id)
                trials[trial_id] = {"_end_seq": None}
            trials[trial_id].update(update)
            if update.get("status") in ("TERMINATED", "ERROR"):
                trials[trial_id]["_end_seq"] = seq
        elif kind == "plugins":
            state["plugins"] = record["plugins"]
            state["plugins_seq"] = seq
    state["trials"] = [trials[i] for i in order]
    return state


def has_experiment(experiment_dir: str) -> bool:
    return os.path.exists(os.path.join(experiment_dir, STATE_FILE))


class SnapshotClock:
    """When to write the next snapshot: about 5% of driver time, or a fixed period.

    ``TUNE_GLOBAL_CHECKPOINT_S`` = "auto" (default) sets the period to 19 times the last
    snapshot's duration (so snapshots take ~5% of the time), but at least ``min_period_s``;
    a number fixes the period in seconds.
    """

    def __init__(self, setting: str, min_period_s: float = 1.0) -> None:
        self.auto = setting.strip().lower() == "auto"
        self.period = min_period_s if self.auto else float(setting)
        self.min_period_s = min_period_s
        self.last = time.monotonic()
        self.total_s = 0.0
        self.count = 0

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.period

    def record(self, took_s: float) -> None:
        self.total_s += took_s
        self.count += 1
        self.last = time.monotonic()
        if self.auto:
            self.period = max(self.min_period_s, 19.0 * took_s)
