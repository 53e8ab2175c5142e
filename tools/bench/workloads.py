"""The benchmark workloads, each run by ``run.py`` in a fresh Python process.

Usage (``run.py`` does this; run it by hand to debug one workload)::

    python tools/bench/workloads.py NAME --out result.json --spawn-time T [key=value ...]
        [--profile driver.prof]

``--spawn-time`` is the parent's ``time.time()`` taken just before it started this process,
so that "time since process start" figures include interpreter start-up and imports.
``key=value`` pairs set the workload's parameters (numbers are converted). ``--profile``
runs the timed ``Tuner(...).fit()`` under cProfile and writes the stats there.

Each workload imports ``tune`` itself (timed), builds a Tuner with verbose=0, the default
loggers (JSON + CSV, unless the parent set TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1) and storage
in a fresh temporary directory given by the parent in ``TUNE_BENCH_STORAGE``, times
``Tuner(...).fit()`` with ``time.perf_counter`` and writes a JSON object::

    {"metrics": {name: number, ...}, "checks": {...}, "ok": bool, "problems": [...]}

The import-time workload is not here: ``run.py`` runs ``python -c "import tune"`` snippets for
it, so that nothing but the interpreter is loaded before the timed import.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

# ---- trainables (module level: picklable, inherited by forked workers) --------------------


def trivial(config: dict) -> None:
    """Report once and return."""
    import tune

    tune.report({"x": config["i"]})


def sleeper(config: dict) -> None:
    """Sleep ``config["sleep"]`` seconds, then report once."""
    import tune

    time.sleep(config["sleep"])
    tune.report({"x": 1})


def reporter(config: dict) -> None:
    """Report ``config["n"]`` results as fast as possible."""
    import tune

    for i in range(config["n"]):
        tune.report({"loss": i})


# ---- helpers ------------------------------------------------------------------------------


def _storage() -> str:
    path = os.environ.get("TUNE_BENCH_STORAGE")
    if not path:  # run by hand: a temporary directory of our own, removed at exit
        import atexit
        import shutil
        import tempfile

        path = tempfile.mkdtemp(prefix="tune-bench-")
        os.environ["TUNE_BENCH_STORAGE"] = path
        atexit.register(shutil.rmtree, path, True)
    return path


def _timed_fit(make_tuner: Any, profile: str | None) -> tuple[Any, float, float, float]:
    """Run ``make_tuner().fit()``; returns (results, seconds, wall-clock start, end).

    The Tuner is built inside the timed region, as users write ``Tuner(...).fit()``.
    CPU seconds of the driver and of its worker processes during the fit are left in
    ``CPU`` (workers are forked during the fit and stay alive, idle, in the pool after it).
    """
    from measure import descendants, proc_cpu_seconds, self_cpu_seconds

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    cpu0 = self_cpu_seconds()
    t_start = time.time()
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    results = make_tuner().fit()
    if profiler is not None:
        profiler.disable()
    elapsed = time.perf_counter() - start
    t_end = time.time()
    driver_cpu = self_cpu_seconds() - cpu0
    workers_cpu = sum(proc_cpu_seconds(p) or 0.0 for p in descendants(os.getpid()))
    CPU.update({
        "driver_cpu_s": driver_cpu,
        "driver_cpu_pct_of_wall": driver_cpu / elapsed * 100,
        "workers_cpu_s": workers_cpu,
    })
    if profiler is not None:
        profiler.dump_stats(profile)
    return results, elapsed, t_start, t_end


CPU: dict[str, float] = {}


def _watch_durability() -> dict[str, float]:
    """Fill a dict, once the run ends, with the driver's time spent making it durable.

    ``snapshots_s``: full snapshots (experiment_state.json); ``journal_s``: journal records
    and their per-step flushes; ``run_s``: the controller's whole run (the driver's time).
    """
    from tune.controller import TuneController

    out: dict[str, float] = {}
    original = TuneController.run

    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            out["run_s"] = time.perf_counter() - start
            out["snapshots_s"] = self.recorder.clock.total_s
            out["snapshots"] = self.recorder.clock.count
            out["journal_s"] = self.recorder.cost_s - self.recorder.clock.total_s

    TuneController.run = run
    return out


def _check_trials(results: Any, expected: int, problems: list[str]) -> dict[str, Any]:
    checks = {
        "num_trials": len(results),
        "num_errors": results.num_errors,
        "num_terminated": results.num_terminated,
    }
    if len(results) != expected:
        problems.append(f"expected {expected} trials, got {len(results)}")
    if results.num_errors:
        problems.append(f"{results.num_errors} trials failed: {results.errors[:1]!r}")
    return checks


def _run_config(name: str, callbacks: list | None = None) -> Any:
    import tune

    return tune.RunConfig(
        name=name, storage_path=_storage(), verbose=0, callbacks=callbacks
    )


# ---- workloads ----------------------------------------------------------------------------


def w_trivial_trials(p: dict, spawn: float, profile: str | None) -> dict:
    """``n`` trials that each report once; trials/s over fit and over process start."""
    n = int(p.get("n", 1000))
    start = time.perf_counter()
    import tune

    import_s = time.perf_counter() - start
    t_imported = time.time()

    def make() -> Any:
        return tune.Tuner(
            trivial,
            param_space={"i": tune.randint(0, 1000)},
            tune_config=tune.TuneConfig(num_samples=n),
            run_config=_run_config("trivial"),
        )

    durability = _watch_durability()
    results, fit_s, _t0, t_end = _timed_fit(make, profile)
    problems: list[str] = []
    checks = _check_trials(results, n, problems)
    since_spawn = t_end - spawn
    return {
        "metrics": {
            "snapshot_share_pct": durability["snapshots_s"] / durability["run_s"] * 100,
            "journal_share_pct": durability["journal_s"] / durability["run_s"] * 100,
            "snapshots": durability["snapshots"],
            "trials_per_s": n / fit_s,
            "trials_per_s_incl_start": n / since_spawn,
            "fit_s": fit_s,
            "spawn_to_fit_end_s": since_spawn,
            "startup_and_import_s": t_imported - spawn,
            "import_tune_s": import_s,
            "per_trial_ms": fit_s / n * 1000,
        },
        "checks": checks,
        "problems": problems,
    }


def w_bookkeeping(p: dict, spawn: float, profile: str | None) -> dict:
    """``n`` trials sleeping ``sleep`` s each; overhead over n * sleep / CPUs."""
    from measure import cpu_count

    n = int(p.get("n", 200))
    sleep = float(p.get("sleep", 0.5))
    import tune

    cpus = cpu_count()

    def make() -> Any:
        return tune.Tuner(
            sleeper,
            param_space={"sleep": sleep},
            tune_config=tune.TuneConfig(num_samples=n),
            run_config=_run_config("bookkeeping"),
        )

    results, fit_s, _t0, _t1 = _timed_fit(make, profile)
    problems: list[str] = []
    checks = _check_trials(results, n, problems)
    ideal = n * sleep / cpus
    checks.update({"cpus": cpus, "ideal_s": ideal})
    return {
        "metrics": {
            "fit_s": fit_s,
            "ideal_s": ideal,
            "overhead_s": fit_s - ideal,
            "overhead_pct": (fit_s - ideal) / ideal * 100,
        },
        "checks": checks,
        "problems": problems,
    }


def w_result_throughput(p: dict, spawn: float, profile: str | None) -> dict:
    """``trials`` concurrent trials each reporting ``n`` results; results/s over fit."""
    n = int(p.get("n", 20000))
    trials = int(p.get("trials", 2))
    import tune

    def make() -> Any:
        return tune.Tuner(
            reporter,
            param_space={"n": n},
            tune_config=tune.TuneConfig(num_samples=trials),
            run_config=_run_config("throughput"),
        )

    results, fit_s, _t0, _t1 = _timed_fit(make, profile)
    problems: list[str] = []
    checks = _check_trials(results, trials, problems)
    loggers = os.environ.get("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "0") not in ("1", "true")
    checks["loggers"] = loggers
    iterations = [r.metrics.get("training_iteration") for r in results]
    checks["last_training_iteration"] = iterations
    if any(it != n for it in iterations):
        problems.append(f"expected training_iteration {n} in every trial, got {iterations}")
    if loggers:
        lines = []
        for r in results:
            try:
                with open(os.path.join(r.path, "result.json"), "rb") as fh:
                    lines.append(sum(1 for _ in fh))
            except OSError:
                lines.append(None)
        checks["result_json_lines"] = lines
        if any(count != n for count in lines):
            problems.append(f"expected {n} lines in every result.json, got {lines}")
    total = n * trials
    return {
        "metrics": {
            "results_per_s": total / fit_s,
            "fit_s": fit_s,
            "per_result_us": fit_s / total * 1e6,
        },
        "checks": checks,
        "problems": problems,
    }


def w_memory(p: dict, spawn: float, profile: str | None) -> dict:
    """Driver RSS after ``n`` trivial trials, and the process tree's peak RSS during them."""
    import pickle

    from measure import MiB, TreeRssSampler, ru_maxrss_bytes, vmhwm_bytes, vmrss_bytes

    n = int(p.get("n", 1000))
    import tune

    rss_before = vmrss_bytes()

    def make() -> Any:
        return tune.Tuner(
            trivial,
            param_space={"i": tune.randint(0, 1000)},
            tune_config=tune.TuneConfig(num_samples=n),
            run_config=_run_config("memory"),
        )

    with TreeRssSampler(os.getpid(), interval=0.05) as sampler:
        results, fit_s, _t0, _t1 = _timed_fit(make, profile)
    rss_after = vmrss_bytes()
    hwm = vmhwm_bytes()
    maxrss = ru_maxrss_bytes()
    problems: list[str] = []
    checks = _check_trials(results, n, problems)
    checks.update({"samples": sampler.samples, "max_procs": sampler.max_procs})
    try:
        record = len(pickle.dumps(list(results), protocol=pickle.HIGHEST_PROTOCOL)) / n
    except Exception:  # noqa: BLE001 - only an indication
        record = None
    return {
        "metrics": {
            "driver_rss_before_fit_mib": rss_before / MiB if rss_before else None,
            "driver_vmrss_after_mib": rss_after / MiB if rss_after else None,
            "driver_vmhwm_mib": hwm / MiB if hwm else None,
            "driver_ru_maxrss_mib": maxrss / MiB,
            "tree_peak_rss_mib": sampler.peak_bytes / MiB,
            "tree_peak_procs": sampler.peak_procs,
            "driver_growth_during_fit_mib": (rss_after - rss_before) / MiB
            if rss_after and rss_before else None,
            "pickled_result_bytes_per_trial": record,
            "fit_s": fit_s,
        },
        "checks": checks,
        "problems": problems,
    }


def w_time_to_first_result(p: dict, spawn: float, profile: str | None) -> dict:
    """Time from process spawn to the first ``on_trial_result`` of a one-trial run."""
    import tune

    t_imported = time.time()

    class FirstResult(tune.Callback):
        first: float | None = None

        def on_trial_result(self, iteration, trials, trial, result, **info):  # noqa: ANN001
            if self.first is None:
                self.first = time.time()

    cb = FirstResult()

    def make() -> Any:
        return tune.Tuner(
            trivial,
            param_space={"i": 1},
            tune_config=tune.TuneConfig(num_samples=1),
            run_config=_run_config("first", callbacks=[cb]),
        )

    results, fit_s, t_fit_start, t_fit_end = _timed_fit(make, profile)
    problems: list[str] = []
    checks = _check_trials(results, 1, problems)
    if cb.first is None:
        problems.append("the callback saw no result")
        first = None
    else:
        first = cb.first - spawn
    return {
        "metrics": {
            "spawn_to_first_result_s": first,
            "fit_start_to_first_result_s": cb.first - t_fit_start if cb.first else None,
            "spawn_to_import_done_s": t_imported - spawn,
            "spawn_to_fit_end_s": t_fit_end - spawn,
            "fit_s": fit_s,
        },
        "checks": checks,
        "problems": problems,
    }


WORKLOADS = {
    "trivial_trials": w_trivial_trials,
    "bookkeeping": w_bookkeeping,
    "result_throughput": w_result_throughput,
    "memory": w_memory,
    "time_to_first_result": w_time_to_first_result,
}


def _parse_value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def main(argv: list[str]) -> int:
    name, rest = argv[0], argv[1:]
    out = profile = None
    spawn = time.time()
    params: dict[str, Any] = {}
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg in ("--out", "--spawn-time", "--profile"):
            value = rest[i + 1]
            i += 2
            if arg == "--out":
                out = value
            elif arg == "--profile":
                profile = value
            else:
                spawn = float(value)
            continue
        key, _, value = arg.partition("=")
        params[key] = _parse_value(value)
        i += 1
    outcome = WORKLOADS[name](params, spawn, profile)
    outcome["metrics"].update(CPU)
    outcome["ok"] = not outcome["problems"]
    outcome["params"] = params
    import json

    text = json.dumps(outcome, indent=1, default=str)
    if out:
        with open(out, "w") as fh:
            fh.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
