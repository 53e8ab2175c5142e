"""Cutting a trial's result history back to the checkpoint it resumes from.

When a trial restarts from a checkpoint at iteration N (after a failure, or when an
interrupted experiment is restored), the results it reported after N will be reported again.
Dropping them from ``result.json`` and ``progress.csv`` first keeps every iteration in the
history exactly once. Files are replaced atomically; a torn last line is dropped too.
"""

from __future__ import annotations

import csv
import io
import json
import os

from tune.logger.logger import write_atomic

RESULT_FILE = "result.json"
PROGRESS_FILE = "progress.csv"


def checkpoint_iteration(checkpoint_dir: str | None) -> int:
    """The training_iteration a checkpoint was taken at (0 for none)."""
    if not checkpoint_dir:
        return 0
    from tune.trainable.trainable import read_tune_metadata

    return int(read_tune_metadata(checkpoint_dir).get("iteration", 0))


def _iteration_of_json_line(line: str) -> int | None:
    try:
        return int(json.loads(line).get("training_iteration", 0))
    except (ValueError, AttributeError, TypeError):
        return None


def truncate_history(trial_dir: str, max_iteration: int) -> None:
    """Keep only results with ``training_iteration <= max_iteration``."""
    path = os.path.join(trial_dir, RESULT_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        kept = []
        for line in text.splitlines(keepends=True):
            if not line.endswith("\n"):
                break
            it = _iteration_of_json_line(line)
            if it is None or it > max_iteration:
                break
            kept.append(line)
        new = "".join(kept)
        if new != text:
            write_atomic(path, new.encode("utf-8"))
    path = os.path.join(trial_dir, PROGRESS_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return
        header = rows[0]
        column = header.index("training_iteration") if "training_iteration" in header else None
        kept_rows = [header]
        for row in rows[1:]:
            if column is None or len(row) != len(header):
                break
            try:
                if int(float(row[column])) > max_iteration:
                    break
            except ValueError:
                break
            kept_rows.append(row)
        out = io.StringIO()
        csv.writer(out).writerows(kept_rows)
        if out.getvalue() != text:
            write_atomic(path, out.getvalue().encode("utf-8"))
