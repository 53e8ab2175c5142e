"""How many trial-iterations each early-stopping scheduler saves against FIFO (README.md).

    python tools/bench/scheduler_savings.py [--quick] [--json out.json] [--reps N]
        [--configs N] [--max-t T] [--seed S] [--schedulers fifo,asha,...]
        [--concurrency N] [--list]

One deterministic synthetic workload, run to the end under each scheduler: ``--configs``
configurations (64; 32 with ``--quick``), each with a final quality ``q`` and a learning
speed ``tau`` drawn from a seeded RNG, and the learning curve

    acc(t) = q * (1 - exp(-t / tau)) + noise(seed, config, t),   t = 1 .. max_t (81)

with small Gaussian noise seeded per (config, t), so a curve is the same however often a
trial is paused and resumed. The trainable is a function that reports one iteration per
step without sleeping, and reports a checkpoint with every result (HyperBand pauses trials
and resumes them from their checkpoints; every scheduler runs the same trainable, so the wall
times compare). Trials are the grid ``tune.grid_search(range(configs))`` over a config index.

Per scheduler: ``iterations`` (sum over trials of the last ``training_iteration``),
``steps_run`` (results delivered to the driver: iterations repeated after a pause or a restore
would count twice here), ``share_saved = 1 - steps_run / steps_run(FIFO)``, the best final
``acc`` found against FIFO's best (quality kept), and the wall time of ``Tuner(...).fit()``.
Every repetition runs in a fresh Python process, like ``run.py``'s workloads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

NOISE_SD = 0.005
Q_RANGE = (0.60, 0.95)
TAU_RANGE = (2.0, 24.0)  # log-uniform: fast and slow learners, so curves cross


# ---- the workload (module level: picklable, inherited by forked workers) -----------------


def curve_params(seed: int, idx: int) -> tuple[float, float]:
    """``(q, tau)`` of config ``idx``: its own seeded RNG, independent of the other configs."""
    rng = random.Random(f"curve:{seed}:{idx}")
    q = rng.uniform(*Q_RANGE)
    tau = math.exp(rng.uniform(math.log(TAU_RANGE[0]), math.log(TAU_RANGE[1])))
    return q, tau


def accuracy(seed: int, idx: int, t: int) -> float:
    q, tau = curve_params(seed, idx)
    noise = random.Random(f"noise:{seed}:{idx}:{t}").gauss(0.0, NOISE_SD)
    return q * (1.0 - math.exp(-t / tau)) + noise


def trainable(config: dict) -> None:
    """One iteration per report, from the checkpointed ``t`` on; a checkpoint every report."""
    import tune

    seed, idx, max_t = config["seed"], config["idx"], config["max_t"]
    ckpt = tune.get_checkpoint()
    start = ckpt.to_dict()["t"] if ckpt else 0
    for t in range(start + 1, max_t + 1):
        tune.report(
            {"acc": accuracy(seed, idx, t), "t": t},
            checkpoint=tune.Checkpoint.from_dict({"t": t}),
        )


# ---- the schedulers ------------------------------------------------------------------------


def make_scheduler(name: str, max_t: int) -> Any:
    if name == "fifo":
        return None  # TuneConfig's default: FIFOScheduler
    import tune_schedulers as ts

    if name == "asha":
        return ts.ASHAScheduler(max_t=max_t, grace_period=1, reduction_factor=3)
    if name == "hyperband":
        return ts.HyperBandScheduler(max_t=max_t, reduction_factor=3)
    if name == "median":
        # training_iteration, not the default time_total_s: these trials do not sleep, so a
        # grace period in seconds would never pass. grace_period and min_samples_required
        # keep their defaults (60 and 3).
        return ts.MedianStoppingRule(time_attr="training_iteration")
    if name == "median_g10":
        return ts.MedianStoppingRule(time_attr="training_iteration", grace_period=10)
    if name == "hb_bohb":
        return ts.HyperBandForBOHB(max_t=max_t, reduction_factor=3)  # grid, no TuneBOHB
    raise SystemExit(f"unknown scheduler {name!r}; known: {', '.join(SCHEDULERS)}")


SCHEDULERS = {
    "fifo": "FIFOScheduler (baseline): every trial runs to max_t",
    "asha": "ASHAScheduler(max_t, grace_period=1, reduction_factor=3)",
    "hyperband": "HyperBandScheduler(max_t, reduction_factor=3), pauses and resumes",
    "median": "MedianStoppingRule(time_attr='training_iteration'), defaults otherwise",
    "hb_bohb": "HyperBandForBOHB(max_t, reduction_factor=3) with the default search",
    "median_g10": "(extra) MedianStoppingRule(time_attr='training_iteration', grace_period=10)",
}
DEFAULT = ["fifo", "asha", "hyperband", "median", "hb_bohb"]


# ---- one repetition (in a fresh process) -------------------------------------------------


def child(
    name: str,
    configs: int,
    max_t: int,
    seed: int,
    concurrency: int | None,
    storage: str,
    num_to_keep: int | None = None,
) -> dict:
    import tune

    class Count(tune.Callback):
        """Results delivered per trial: the steps that really ran."""

        def __init__(self) -> None:
            self.steps: dict[str, int] = {}

        def on_trial_result(self, iteration, trials, trial, result, **info):  # noqa: ANN001
            self.steps[trial.trial_id] = self.steps.get(trial.trial_id, 0) + 1

    count = Count()
    scheduler = make_scheduler(name, max_t)
    # The package exports lazily: load what fit() uses before the clock starts.
    _ = (tune.Tuner, tune.TuneConfig, tune.RunConfig, tune.CheckpointConfig, tune.Checkpoint)
    start = time.perf_counter()
    grid = tune.Tuner(
        trainable,
        param_space={
            "idx": tune.grid_search(list(range(configs))),
            "seed": seed,
            "max_t": max_t,
        },
        tune_config=tune.TuneConfig(
            metric="acc",
            mode="max",
            scheduler=scheduler,
            max_concurrent_trials=concurrency,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage,
            verbose=0,
            callbacks=[count],
            checkpoint_config=tune.CheckpointConfig(num_to_keep=num_to_keep),
        ),
    ).fit()
    fit_s = time.perf_counter() - start

    problems = [f"{len(grid.errors)} trial errors: {grid.errors[:2]}"] if grid.errors else []
    last = {r.config["idx"]: r.metrics for r in grid}
    if len(last) != configs:
        problems.append(f"{len(last)} trials, expected {configs}")
    iters = {idx: int(m.get("training_iteration", 0)) for idx, m in last.items()}
    restarted = [idx for idx, m in last.items() if m.get("t") != m.get("training_iteration")]
    if restarted:
        problems.append(f"state and iteration count disagree (not resumed?): {restarted[:5]}")
    if any(it > max_t for it in iters.values()):
        problems.append("a trial ran past max_t")
    final = {idx: float(m["acc"]) for idx, m in last.items() if "acc" in m}
    best_idx = max(final, key=final.get)
    stops: dict[int, int] = {}
    for it in iters.values():
        stops[it] = stops.get(it, 0) + 1
    return {
        "scheduler": name,
        "fit_s": fit_s,
        "trials": len(last),
        "iterations": sum(iters.values()),
        "steps_run": sum(count.steps.values()),
        "best_acc": final[best_idx],
        "best_idx": best_idx,
        "best_q": curve_params(seed, best_idx)[0],
        "reached_max_t": sum(1 for it in iters.values() if it >= max_t),
        "stopped_at": {str(k): v for k, v in sorted(stops.items())},
        "problems": problems,
    }


# ---- the runner --------------------------------------------------------------------------


def _run_child(name: str, args: argparse.Namespace) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        name,
        "--out",
        out,
        "--configs",
        str(args.configs),
        "--max-t",
        str(args.max_t),
        "--seed",
        str(args.seed),
    ]
    if args.concurrency is not None:
        cmd += ["--concurrency", str(args.concurrency)]
    if args.num_to_keep is not None:
        cmd += ["--num-to-keep", str(args.num_to_keep)]
    # A fresh storage directory per repetition, deleted only when the whole run ends (as in
    # run.py: deleting thousands of files makes ext4 slow to create the next ones).
    storage = tempfile.mkdtemp(prefix=f"{name}-", dir=args.storage_root)
    args.to_delete.append(storage)
    cmd += ["--storage", storage]
    env = dict(os.environ, TUNE_RESULTS_DIR=storage, PYTHONUNBUFFERED="1")
    # As run.py does: compiled bytecode is cached, as after a normal install (the editable
    # install has no __pycache__ and the sandbox sets PYTHONDONTWRITEBYTECODE=1).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "tune-bench-pycache")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout)[-2000:]
            return {"scheduler": name, "problems": [f"exit {proc.returncode}: {tail}"]}
        with open(out) as fh:
            return json.load(fh)
    except subprocess.TimeoutExpired:
        return {"scheduler": name, "problems": [f"timed out after {args.timeout} s"]}
    finally:
        os.unlink(out)


def run_rep(name: str, args: argparse.Namespace) -> dict:
    """One repetition in a fresh process on a quiet machine (as run.py does: wait until other
    processes keep at most ``--max-other-load`` CPUs busy; repeat a disturbed repetition up
    to ``--noise-retries`` times, then keep it marked ``noisy``). The iteration figures do
    not depend on the load; the wall time does."""
    from measure import Interference, wait_for_quiet

    noisy: list[dict] = []
    while True:
        if hasattr(os, "sync"):
            os.sync()  # earlier repetitions' write-back should not land in this one
        waited, _ = wait_for_quiet(args.max_other_load, window=1.0, timeout=args.quiet_timeout)
        probe = Interference()
        result = _run_child(name, args)
        result["interference"] = probe.result()
        result["waited_for_quiet_s"] = waited
        if result["interference"]["other_load"] <= args.max_other_load:
            break
        if len(noisy) >= args.noise_retries:
            result["noisy"] = True
            break
        noisy.append({k: result.get(k) for k in ("fit_s", "steps_run", "interference")})
        print(
            f"[{name}] other processes kept {result['interference']['other_load']:.2f} CPUs "
            "busy: repeating",
            file=sys.stderr,
        )
    result["noisy_attempts"] = noisy
    return result


def _median(values: list[float]) -> float | None:
    import statistics

    return statistics.median(values) if values else None


def summarize(name: str, reps: list[dict], fifo: dict | None) -> dict:
    ok = [r for r in reps if not r.get("problems")]
    out: dict[str, Any] = {"scheduler": name, "description": SCHEDULERS[name], "reps": len(ok)}
    if not ok:
        return out
    for key in ("iterations", "steps_run", "best_acc", "best_q", "fit_s", "reached_max_t"):
        values = [r[key] for r in ok]
        out[key] = {"median": _median(values), "min": min(values), "max": max(values)}
    steps = out["steps_run"]["median"]
    out["repeated_steps"] = steps - out["iterations"]["median"]
    if fifo and fifo.get("reps"):
        out["share_saved"] = 1.0 - steps / fifo["steps_run"]["median"]
        out["best_acc_vs_fifo"] = out["best_acc"]["median"] / fifo["best_acc"]["median"]
        out["best_acc_gap"] = out["best_acc"]["median"] - fifo["best_acc"]["median"]
        out["fit_s_vs_fifo"] = out["fit_s"]["median"] / fifo["fit_s"]["median"]
    return out


def print_table(report: dict) -> None:
    s = report["settings"]
    print(
        f"\n{s['configs']} configs x max_t={s['max_t']} (seed {s['seed']}), "
        f"{s['reps']} repetition(s), concurrency {s['concurrency'] or 'executor default'}; "
        f"best possible final acc {report['workload']['best_possible_acc']:.4f} "
        f"(config {report['workload']['best_config']}, q={report['workload']['best_q']:.4f})"
    )
    header = (
        f"{'scheduler':<11} {'iterations':>10} {'steps_run':>9} {'saved':>7} {'to_max_t':>8} "
        f"{'best_acc':>8} {'vs_fifo':>8} {'best_q':>7} {'wall_s':>7} {'vs_fifo':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, summary in report["schedulers"].items():
        if not summary.get("reps"):
            print(f"{name:<11} FAILED (see problems)")
            continue
        it, st = summary["iterations"], summary["steps_run"]
        spread = "" if it["min"] == it["max"] else f" ({it['min']}-{it['max']})"
        print(
            f"{name:<11} {it['median']:>10g} {st['median']:>9g} "
            f"{100 * summary.get('share_saved', 0.0):>6.1f}% "
            f"{summary['reached_max_t']['median']:>8g} "
            f"{summary['best_acc']['median']:>8.4f} "
            f"{100 * summary.get('best_acc_vs_fifo', 1.0):>7.2f}% "
            f"{summary['best_q']['median']:>7.4f} "
            f"{summary['fit_s']['median']:>7.2f} "
            f"{summary.get('fit_s_vs_fifo', 1.0):>6.2f}x{spread}"
        )
    problems = [
        (name, p) for name, reps in report["raw"].items() for r in reps for p in r["problems"]
    ]
    for name, p in problems:
        print(f"problem [{name}]: {p}")
    for name, reps in report["raw"].items():
        for i, r in enumerate(reps):
            if r.get("noisy"):
                load = r["interference"]["other_load"]
                print(f"noisy [{name}] rep {i + 1}: other processes kept {load:.2f} CPUs busy")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="32 configs, 1 repetition")
    parser.add_argument("--json", help="write the report (raw repetitions too) to this file")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3; quick 1)")
    parser.add_argument("--configs", type=int, default=None, help="configs (default 64; quick 32)")
    parser.add_argument("--max-t", type=int, default=81, help="iterations per trial (81)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--schedulers",
        default=",".join(DEFAULT),
        help=f"comma-separated, fifo first (default {','.join(DEFAULT)}; also median_g10)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="max_concurrent_trials (default: as many as the executor fits)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per repetition")
    parser.add_argument(
        "--max-other-load",
        type=float,
        default=0.15,
        help="CPUs other processes may keep busy during a repetition before "
        "it is repeated (default 0.15); also waited for before each",
    )
    parser.add_argument(
        "--noise-retries",
        type=int,
        default=2,
        help="how often a disturbed repetition is repeated (default 2)",
    )
    parser.add_argument(
        "--quiet-timeout",
        type=float,
        default=60.0,
        help="longest wait for a quiet machine before a repetition (60 s)",
    )
    parser.add_argument("--list", action="store_true", help="list the schedulers and exit")
    parser.add_argument(
        "--num-to-keep",
        type=int,
        default=None,
        help="CheckpointConfig(num_to_keep) (default None: keep all; the "
        "driver deletes older checkpoints synchronously, which costs "
        "every scheduler that decides on each result)",
    )
    parser.add_argument(
        "--storage-root",
        default=None,
        help="where the experiments go (default: a temporary directory, deleted at the end)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--storage", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.list:
        for name, text in SCHEDULERS.items():
            print(f"{name:<11} {text}")
        return 0
    args.configs = args.configs or (32 if args.quick else 64)
    args.reps = args.reps or (1 if args.quick else 3)
    if args.child:
        result = child(
            args.child,
            args.configs,
            args.max_t,
            args.seed,
            args.concurrency,
            args.storage,
            args.num_to_keep,
        )
        with open(args.out, "w") as fh:
            json.dump(result, fh)
        return 0

    names = [n.strip() for n in args.schedulers.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCHEDULERS]
    if unknown:
        raise SystemExit(f"unknown scheduler(s) {unknown}; known: {', '.join(SCHEDULERS)}")
    if "fifo" in names:
        names = ["fifo"] + [n for n in names if n != "fifo"]

    sys.path.insert(0, str(HERE))
    from measure import git_info, machine_info, source_fingerprint, tune_env

    finals = {i: accuracy(args.seed, i, args.max_t) for i in range(args.configs)}
    best = max(finals, key=finals.get)
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": machine_info(),
        "git": git_info(REPO),
        "source_fingerprint_at_start": source_fingerprint(REPO),
        "tune_env": tune_env(),
        "settings": {
            "configs": args.configs,
            "max_t": args.max_t,
            "seed": args.seed,
            "reps": args.reps,
            "concurrency": args.concurrency,
            "num_to_keep": args.num_to_keep,
            "storage_root": args.storage_root or "a temporary directory",
            "max_other_load": args.max_other_load,
            "noise_retries": args.noise_retries,
        },
        "workload": {
            "curve": "acc(t) = q * (1 - exp(-t / tau)) + N(0, noise_sd), seeded per (config, t)",
            "q_range": Q_RANGE,
            "tau_range_log_uniform": TAU_RANGE,
            "noise_sd": NOISE_SD,
            "fifo_iterations": args.configs * args.max_t,
            "best_possible_acc": finals[best],
            "best_config": best,
            "best_q": curve_params(args.seed, best)[0],
            "max_q": max(curve_params(args.seed, i)[0] for i in range(args.configs)),
        },
        "raw": {},
        "schedulers": {},
    }
    given_root = args.storage_root
    if given_root is None:
        args.storage_root = tempfile.mkdtemp(prefix="tune-bench-savings-")
    args.to_delete = []
    try:
        # Warm-up, not measured: fills the bytecode cache and the disk's caches.
        warm = argparse.Namespace(**{**vars(args), "configs": 4, "max_t": 9})
        for name in names:
            _run_child(name, warm)
        for name in names:
            reps = []
            for rep in range(args.reps):
                result = run_rep(name, args)
                reps.append(result)
                tail = (
                    f"{result['steps_run']} steps, best acc {result['best_acc']:.4f}, "
                    f"{result['fit_s']:.2f} s"
                    if "steps_run" in result
                    else "failed"
                )
                print(f"[{name}] rep {rep + 1}/{args.reps}: {tail}", file=sys.stderr)
            report["raw"][name] = reps
            report["schedulers"][name] = summarize(name, reps, report["schedulers"].get("fifo"))
    finally:
        for path in [*args.to_delete, *([args.storage_root] if given_root is None else [])]:
            shutil.rmtree(path, ignore_errors=True)
    report["source_fingerprint_at_end"] = source_fingerprint(REPO)
    print_table(report)
    if report["source_fingerprint_at_end"] != report["source_fingerprint_at_start"]:
        print("warning: the sources changed during the run", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
        print(f"wrote {args.json}", file=sys.stderr)
    failed = any(r.get("problems") for reps in report["raw"].values() for r in reps)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
