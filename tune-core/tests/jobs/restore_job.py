"""A small checkpointing experiment, run in a subprocess by the restore and kill tests.

usage: restore_job.py STORAGE NAME fit|restore [--sleep S] [--trials N] [--steps K]

Every trial appends "start <trial_id> <first step>" and "end <trial_id>" lines to
<STORAGE>/markers.txt, so a test can tell which trials ran (again) after a restore.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import tune


def train(config):
    ctx = tune.get_context()
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            with open(os.path.join(d, "state.json")) as f:
                start = json.load(f)["step"]
    with open(config["markers"], "a") as f:
        f.write(f"start {ctx.get_trial_id()} {start}\n")
    for step in range(start, config["steps"]):
        time.sleep(config["sleep"])
        d = tempfile.mkdtemp()
        with open(os.path.join(d, "state.json"), "w") as f:
            json.dump({"step": step + 1}, f)
        tune.report(
            {"step": step + 1, "score": config["x"] * (step + 1)},
            checkpoint=tune.Checkpoint.from_directory(d),
        )
    with open(config["markers"], "a") as f:
        f.write(f"end {ctx.get_trial_id()}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("storage")
    parser.add_argument("name")
    parser.add_argument("mode", choices=["fit", "restore"])
    parser.add_argument("--sleep", type=float, default=0.05)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    path = os.path.join(args.storage, args.name)
    if args.mode == "restore":
        tuner = tune.Tuner.restore(path, train, resume_errored=True)
    else:
        tuner = tune.Tuner(
            train,
            param_space={
                "x": tune.grid_search(list(range(args.trials))),
                "steps": args.steps,
                "sleep": args.sleep,
                "markers": os.path.join(args.storage, "markers.txt"),
            },
            tune_config=tune.TuneConfig(metric="score", mode="max"),
            run_config=tune.RunConfig(storage_path=args.storage, name=args.name, verbose=0),
        )
    results = tuner.fit()
    print(json.dumps({"trials": len(results), "errors": results.num_errors}))


if __name__ == "__main__":
    main()
