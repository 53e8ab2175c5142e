"""Results per second with each tune-loggers backend on, against the default loggers alone.

2 concurrent trials each report ``--n`` results in a tight loop (the ``result_throughput``
workload of ``run.py``), with JSON + CSV loggers plus the logger under test. Each run is a
fresh process (imports excluded from the clock); the median of ``--reps`` runs is reported.

    python tools/bench/logger_throughput.py                          # every installed backend
    python tools/bench/logger_throughput.py --loggers tbx,mlflow --n 5000 --reps 3
    python tools/bench/logger_throughput.py --json tools/bench/results/logger_throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

LOGGERS = ["none", "tbx", "mlflow", "wandb", "aim", "comet"]


def logger_kwargs(name: str, storage: str) -> dict:
    """How each backend is pointed at a local, offline destination under ``storage``."""
    return {
        "tbx": {},
        # MLflow 3 refuses new file stores unless MLFLOW_ALLOW_FILE_STORE=true: SQLite, as
        # MLflow's (and the callback's) default store.
        "mlflow": {"tracking_uri": "sqlite:///" + os.path.join(storage, "mlflow.db")},
        "wandb": {"project": "bench", "mode": "offline", "dir": os.path.join(storage, "wandb")},
        "aim": {"repo": os.path.join(storage, "aim")},
        "comet": {"online": False, "offline_directory": os.path.join(storage, "comet")},
    }[name]


def reporter(config: dict) -> None:
    import tune

    report = tune.report
    for i in range(config["n"]):
        report({"loss": 1.0 / (i + 1), "acc": i * 1e-6})


def child(name: str, n: int, trials: int) -> dict:
    import time

    import tune

    storage = tempfile.mkdtemp(prefix="tune-logbench-")
    try:
        callbacks = [] if name == "none" else [tune.create_logger(name, **logger_kwargs(name, storage))]
        tuner = tune.Tuner(
            reporter,
            param_space={"n": n, "lr": tune.grid_search([0.1 * (i + 1) for i in range(trials)])},
            run_config=tune.RunConfig(storage_path=storage, verbose=0, callbacks=callbacks),
        )
        start = time.perf_counter()
        results = tuner.fit()
        fit_s = time.perf_counter() - start
        errors = [str(r.error) for r in results if r.error]
        return {"fit_s": fit_s, "results_per_s": n * trials / fit_s, "errors": errors}
    finally:
        shutil.rmtree(storage, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loggers", default=",".join(LOGGERS))
    parser.add_argument("--n", type=int, default=20000, help="results per trial")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.n, args.trials)))
        return 0
    rows = []
    for name in args.loggers.split(","):
        runs = []
        for _ in range(args.reps):
            env = dict(os.environ)
            if name == "none":
                # The baseline: JSON + CSV only, without loggers the tune-loggers plugin makes
                # default (TensorBoard whenever tensorboardX is installed).
                env["TUNE_DISABLED_PLUGINS"] = "loggers"
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, "--n", str(args.n),
                 "--trials", str(args.trials)],
                capture_output=True, text=True, env=env,
            )
            if out.returncode != 0:
                print(f"[{name}] failed:\n{out.stderr[-2000:]}", flush=True)
                break
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if not runs:
            continue
        median = statistics.median(r["results_per_s"] for r in runs)
        rows.append({"logger": name, "results_per_s": median, "runs": runs})
        print(f"{name:8s} {median:10.0f} results/s  ({len(runs)} runs)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n": args.n, "trials": args.trials, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
