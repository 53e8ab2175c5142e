"""Benchmark runner for tune's foundation figures (see tools/bench/README.md).

    python tools/bench/run.py [--quick] [--only NAME[,NAME...]] [--json out.json]
                              [--reps N] [--profile] [--list]

Every repetition of every workload runs in a fresh Python process (``workloads.py`` or a
``python -c`` snippet), so interpreter start-up, imports and worker-pool warm-up are counted,
and memory is not shared between runs. Each repetition gets its own temporary storage
directory, removed afterwards. The runner prints a table of median / min / max per metric
with the project's targets, and optionally writes everything (raw values included) as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from measure import (
    Interference,
    git_info,
    machine_info,
    source_fingerprint,
    summarize,
    tune_env,
    wait_for_quiet,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
WORKLOADS_PY = HERE / "workloads.py"


@dataclass
class Metric:
    """One reported figure: its key in the workload's output, unit, and optional target."""

    key: str
    unit: str
    target: tuple[str, float] | None = None  # (">=" or "<=" or "<", value)
    fmt: str = "{:.3f}"

    def ok(self, value: float | None) -> bool | None:
        if self.target is None or value is None:
            return None
        op, bound = self.target
        return {">=": value >= bound, "<=": value <= bound, "<": value < bound}[op]


@dataclass
class Workload:
    """A benchmark: which child workload to run, with which parameters, and what to show."""

    name: str
    description: str
    child: str | None  # name in workloads.WORKLOADS; None: import_time (python -c)
    metrics: list[Metric]
    params: dict[str, Any] = field(default_factory=dict)
    quick_params: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    reps: int = 5
    full_only: bool = False
    timeout_s: float = 900.0
    storage_root: str | None = None  # None: --storage-root (default: the system temp dir)


WORKLOADS: list[Workload] = [
    Workload(
        "import_time",
        'python -c "import tune" in 10 fresh processes: perf_counter around the import; '
        "then the first use of tune.Tuner/TuneConfig/RunConfig/randint (lazy exports)",
        None,
        [
            Metric("import_tune_s", "s", ("<", 0.15), "{:.4f}"),
            Metric("first_use_imports_s", "s", None, "{:.4f}"),
            Metric("import_plus_first_use_s", "s", ("<", 0.15), "{:.4f}"),
            Metric("import_plus_first_use_nopyc_s", "s", None, "{:.4f}"),
            Metric("process_wall_s", "s", None, "{:.4f}"),
            Metric("bare_python_process_wall_s", "s", None, "{:.4f}"),
        ],
        reps=10,
    ),
    Workload(
        "time_to_first_result",
        "1 trial reporting once: time from just before the parent spawns the process to the "
        "first on_trial_result callback",
        "time_to_first_result",
        [
            Metric("spawn_to_first_result_s", "s", None),
            Metric("spawn_to_import_done_s", "s", None),
            Metric("fit_start_to_first_result_s", "s", None),
            Metric("process_wall_s", "s", None),
        ],
    ),
    Workload(
        "trivial_trials",
        "1,000 trials that report once: trials / wall time of Tuner(...).fit(), and the same "
        "counting from process spawn (start-up + import + fit)",
        "trivial_trials",
        [
            Metric("trials_per_s", "trials/s", (">=", 1000), "{:.0f}"),
            Metric("trials_per_s_incl_start", "trials/s", None, "{:.0f}"),
            Metric("fit_s", "s", None),
            Metric("per_trial_ms", "ms", None),
            Metric("startup_and_import_s", "s", None),
            Metric("process_wall_s", "s", None),
            Metric("driver_cpu_s", "s", None),
            Metric("workers_cpu_s", "s", None),
            Metric("snapshot_share_pct", "%", ("<=", 5), "{:.1f}"),
            Metric("journal_share_pct", "%", None, "{:.1f}"),
            Metric("snapshots", "", None, "{:.0f}"),
        ],
        params={"n": 1000},
    ),
    Workload(
        "trivial_trials_tmpfs",
        "the same 1,000 trials with storage on tmpfs (/dev/shm): the difference to "
        "trivial_trials is what the disk file system costs (file and directory creation)",
        "trivial_trials",
        [
            Metric("trials_per_s", "trials/s", None, "{:.0f}"),
            Metric("fit_s", "s", None),
            Metric("per_trial_ms", "ms", None),
            Metric("driver_cpu_s", "s", None),
            Metric("workers_cpu_s", "s", None),
        ],
        params={"n": 1000},
        storage_root="/dev/shm",
    ),
    Workload(
        "memory",
        "1,000 trivial trials: driver RSS after fit (VmRSS, VmHWM, ru_maxrss) and peak summed "
        "VmRSS of the driver + worker tree sampled every 50 ms during fit",
        "memory",
        [
            Metric("driver_rss_before_fit_mib", "MiB", None, "{:.1f}"),
            Metric("driver_vmrss_after_mib", "MiB", None, "{:.1f}"),
            Metric("driver_ru_maxrss_mib", "MiB", None, "{:.1f}"),
            Metric("tree_peak_rss_mib", "MiB", None, "{:.1f}"),
            Metric("tree_peak_procs", "procs", None, "{:.0f}"),
            Metric("pickled_result_bytes_per_trial", "B", None, "{:.0f}"),
        ],
        params={"n": 1000},
    ),
    Workload(
        "memory_10k",
        "10,000 trivial trials: the same figures, to show driver RSS grows only by the trials' "
        "records (skipped with --quick)",
        "memory",
        [
            Metric("driver_rss_before_fit_mib", "MiB", None, "{:.1f}"),
            Metric("driver_vmrss_after_mib", "MiB", None, "{:.1f}"),
            Metric("driver_ru_maxrss_mib", "MiB", None, "{:.1f}"),
            Metric("tree_peak_rss_mib", "MiB", None, "{:.1f}"),
            Metric("pickled_result_bytes_per_trial", "B", None, "{:.0f}"),
            Metric("fit_s", "s", None),
        ],
        params={"n": 10000},
        reps=3,
        full_only=True,
    ),
    Workload(
        "result_throughput",
        "2 concurrent trials each reporting 20,000 results in a tight loop, JSON + CSV loggers "
        "on: results / wall time of fit",
        "result_throughput",
        [
            Metric("results_per_s", "results/s", (">=", 50000), "{:.0f}"),
            Metric("per_result_us", "us", None, "{:.1f}"),
            Metric("fit_s", "s", None),
            Metric("driver_cpu_s", "s", None),
            Metric("workers_cpu_s", "s", None),
        ],
        params={"n": 20000, "trials": 2},
    ),
    Workload(
        "result_throughput_nologgers",
        "the same with TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1 (no result.json/progress.csv)",
        "result_throughput",
        [
            Metric("results_per_s", "results/s", None, "{:.0f}"),
            Metric("per_result_us", "us", None, "{:.1f}"),
            Metric("fit_s", "s", None),
            Metric("driver_cpu_s", "s", None),
            Metric("workers_cpu_s", "s", None),
        ],
        params={"n": 20000, "trials": 2},
        env={"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"},
    ),
    Workload(
        "bookkeeping",
        "200 trials that sleep 0.5 s then report once; the ideal on N CPUs is "
        "200 * 0.5 / N s (50 s on 2 CPUs); --quick: 40 trials (10 s on 2 CPUs)",
        "bookkeeping",
        [
            Metric("fit_s", "s", None, "{:.2f}"),
            Metric("ideal_s", "s", None, "{:.2f}"),
            Metric("overhead_s", "s", None, "{:.3f}"),
            Metric("overhead_pct", "%", ("<=", 2.0), "{:.2f}"),
        ],
        params={"n": 200, "sleep": 0.5},
        quick_params={"n": 40, "sleep": 0.5},
        reps=3,
    ),
]

BY_NAME = {w.name: w for w in WORKLOADS}


# ---- the environment of the child processes -----------------------------------------------


class Settings:
    """How children run: storage root, bytecode cache, sync; and the storage to delete."""

    storage_root: str = tempfile.gettempdir()
    pyc_cache: str | None = None  # PYTHONPYCACHEPREFIX for children; None: inherit env
    sync: bool = True
    to_delete: list[str] = []
    max_other_load: float = 0.15  # CPUs other processes may keep busy during a repetition
    noise_retries: int = 3
    quiet_timeout: float = 600.0


def _child_env(extra: dict[str, str], storage: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if Settings.pyc_cache:
        # As after a normal install: compiled bytecode is cached (the editable install here
        # has no __pycache__ and the sandbox sets PYTHONDONTWRITEBYTECODE=1).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = Settings.pyc_cache
    env.update(extra)
    if storage:
        env["TUNE_BENCH_STORAGE"] = storage
        env["TUNE_RESULTS_DIR"] = storage  # nothing may land in ~/tune_results
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _new_storage(root: str | None) -> str:
    """A fresh storage directory, deleted only when the whole run ends.

    Deleting thousands of trial files between repetitions makes ext4 slow to create files
    for the next few minutes (its inode allocator skips recently deleted inodes one by one,
    visible as ``recently_deleted`` in ``perf``), which would show up as a slower next run.
    """
    path = tempfile.mkdtemp(prefix="tune-bench-", dir=root or Settings.storage_root)
    Settings.to_delete.append(path)
    return path


def cleanup_storage() -> None:
    for path in Settings.to_delete:
        shutil.rmtree(path, ignore_errors=True)
    Settings.to_delete.clear()
    _settle()  # clean inode-table buffers: ext4 then forgets the deletions sooner


def _settle() -> None:
    """Flush dirty pages of earlier repetitions so their write-back does not land in this one."""
    if Settings.sync and hasattr(os, "sync"):
        os.sync()


# ---- running one repetition ---------------------------------------------------------------

_IMPORT_SNIPPET = """\
import time
t0 = time.perf_counter()
import tune
t1 = time.perf_counter()
tune.Tuner; tune.TuneConfig; tune.RunConfig; tune.randint
t2 = time.perf_counter()
print("BENCH_IMPORT", t1 - t0, t2 - t1)
"""
_FIRST_USE = "import tune; tune.Tuner; tune.TuneConfig; tune.RunConfig; tune.randint"


class RepFailed(Exception):
    """A repetition's process failed (crash, timeout or missing output)."""


def _run_child(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, str, str]:
    """Spawn ``cmd``; returns (process wall seconds, stdout, stderr).

    ``--spawn-time`` in ``cmd`` is replaced by the wall-clock time taken just before spawning.
    """
    if "--spawn-time" in cmd:
        cmd = list(cmd)
        cmd[cmd.index("--spawn-time") + 1] = repr(time.time())
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
            cwd=tempfile.gettempdir(),
        )
    except subprocess.TimeoutExpired as exc:
        raise RepFailed(f"timed out after {timeout:.0f} s") from exc
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RepFailed(f"exit code {proc.returncode}:\n{(proc.stderr or proc.stdout)[-3000:]}")
    return wall, proc.stdout, proc.stderr


def _parse_import(out: str) -> tuple[float, float]:
    match = re.search(r"BENCH_IMPORT (\S+) (\S+)", out)
    if not match:
        raise RepFailed(f"no timing in output: {out[-500:]!r}")
    return float(match.group(1)), float(match.group(2))


def run_import_rep(timeout: float) -> dict[str, Any]:
    """Fresh ``python -c`` processes timing ``import tune`` and the first-use imports."""
    env = _child_env({}, None)
    wall, out, _err = _run_child([sys.executable, "-c", _IMPORT_SNIPPET], env, timeout)
    imp, first = _parse_import(out)
    bare_wall, _o, _e = _run_child([sys.executable, "-c", "pass"], env, timeout)
    # Without a bytecode cache: tune's modules are compiled from source at every import
    # wherever no __pycache__ exists (as in this editable install with
    # PYTHONDONTWRITEBYTECODE=1).
    nopyc = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    nopyc.pop("PYTHONPYCACHEPREFIX", None)
    _w, out2, _e2 = _run_child([sys.executable, "-c", _IMPORT_SNIPPET], nopyc, timeout)
    imp2, first2 = _parse_import(out2)
    return {
        "metrics": {
            "import_tune_s": imp,
            "first_use_imports_s": first,
            "import_plus_first_use_s": imp + first,
            "import_plus_first_use_nopyc_s": imp2 + first2,
            "process_wall_s": wall,
            "bare_python_process_wall_s": bare_wall,
        },
        "checks": {},
        "problems": [],
        "ok": True,
    }


def run_workload_rep(
    w: Workload, params: dict[str, Any], profile: str | None = None
) -> dict[str, Any]:
    """One fresh ``workloads.py`` process; returns its output plus ``process_wall_s``."""
    storage = _new_storage(w.storage_root)
    fd, out_path = tempfile.mkstemp(suffix=".json", prefix="tune-bench-out-")
    os.close(fd)
    try:
        args = [f"{k}={v}" for k, v in params.items()]
        cmd = [sys.executable, str(WORKLOADS_PY), str(w.child), "--out", out_path, *args,
               "--spawn-time", "0"]
        if profile:
            cmd += ["--profile", profile]
        wall, _out, err = _run_child(cmd, _child_env(w.env, storage), w.timeout_s)
        try:
            with open(out_path) as fh:
                outcome = json.load(fh)
        except (OSError, ValueError) as exc:
            raise RepFailed(f"no output ({exc}); stderr:\n{err[-3000:]}") from exc
        outcome["metrics"]["process_wall_s"] = wall
        if err.strip():
            outcome["stderr_tail"] = err[-2000:]
        return outcome
    finally:
        os.unlink(out_path)


def run_rep(w: Workload, params: dict[str, Any]) -> dict[str, Any]:
    """One repetition on a quiet machine, repeated while other processes disturbed it.

    Before each attempt it waits until other processes keep at most ``max_other_load`` CPUs
    busy; after it, the CPU they used meanwhile is checked against the same bound. The
    outcome carries ``interference`` (and ``noisy_attempts``, the discarded ones).
    """
    noisy: list[dict[str, Any]] = []
    while True:
        _settle()
        waited, _load = wait_for_quiet(
            Settings.max_other_load, window=0.5 if w.child is None else 1.0,
            timeout=Settings.quiet_timeout,
        )
        probe = Interference()
        if w.child is None:
            outcome = run_import_rep(w.timeout_s)
        else:
            outcome = run_workload_rep(w, params)
        outcome["interference"] = probe.result()
        outcome["waited_for_quiet_s"] = waited
        if outcome["interference"]["other_load"] <= Settings.max_other_load:
            break
        if len(noisy) >= Settings.noise_retries:
            outcome["noisy"] = True
            break
        noisy.append({"metrics": outcome["metrics"], "interference": outcome["interference"]})
        print(f"[{w.name}] other processes kept "
              f"{outcome['interference']['other_load']:.2f} CPUs busy: repeating",
              file=sys.stderr)
    outcome["noisy_attempts"] = noisy
    return outcome


def warm_up() -> None:
    """Fill the bytecode cache (imports and one tiny run) before anything is measured."""
    env = _child_env({}, None)
    _run_child([sys.executable, "-c", _FIRST_USE], env, 120)
    storage = _new_storage(None)
    _run_child(
        [sys.executable, str(WORKLOADS_PY), "time_to_first_result", "--out", os.devnull],
        _child_env({}, storage), 120,
    )


# ---- import-time breakdown ----------------------------------------------------------------


def _importtime(code: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
        check=False, cwd=tempfile.gettempdir(), env=_child_env({}, None),
    )
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            rows.append({
                "module": m.group(4),
                "self_us": int(m.group(1)),
                "cumulative_us": int(m.group(2)),
                "depth": (len(m.group(3)) - 1) // 2,
            })
    return rows


def importtime_top(limit: int = 12) -> list[dict[str, Any]]:
    """``python -X importtime`` of import tune + first use: the modules it loads (not those
    the interpreter loads at start-up anyway, e.g. from site-packages ``.pth`` files), by
    cumulative time."""
    _importtime(_FIRST_USE)  # warm the bytecode cache for what follows
    startup = {r["module"] for r in _importtime("pass")}
    rows = [r for r in _importtime(_FIRST_USE) if r["module"] not in startup]
    rows.sort(key=lambda r: r["cumulative_us"], reverse=True)
    return rows[:limit]


# ---- output -------------------------------------------------------------------------------


def _fmt(metric: Metric, value: float | None) -> str:
    return "-" if value is None else metric.fmt.format(value)


def print_table(report: dict[str, Any]) -> None:
    header = f"{'workload':<28} {'metric':<32} {'median':>11} {'min':>11} {'max':>11}  " \
             f"{'unit':<10} {'target':<10} ok"
    print(header)
    print("-" * len(header))
    for name, entry in report["workloads"].items():
        w = BY_NAME[name]
        shown = name
        if entry.get("failed_reps"):
            shown += f" ({entry['failed_reps']} failed)"
        for metric in w.metrics:
            s = entry["summary"].get(metric.key)
            if s is None:
                continue
            target = f"{metric.target[0]} {metric.target[1]:g}" if metric.target else ""
            ok = metric.ok(s["median"])
            mark = "" if ok is None else ("yes" if ok else "NO")
            print(
                f"{shown:<28} {metric.key:<32} {_fmt(metric, s['median']):>11} "
                f"{_fmt(metric, s['min']):>11} {_fmt(metric, s['max']):>11}  "
                f"{metric.unit:<10} {target:<10} {mark}"
            )
            shown = ""
    derived = report.get("derived") or {}
    if derived:
        print()
        for key, value in derived.items():
            print(f"  {key}: {value}")
    top = report.get("importtime_top")
    if top:
        print("\npython -X importtime (import tune + first use), top modules by cumulative time:")
        for row in top:
            print(f"  {row['cumulative_us'] / 1000:8.1f} ms cumulative  "
                  f"{row['self_us'] / 1000:7.1f} ms self  {row['module']}")


def _derive(report: dict[str, Any]) -> dict[str, Any]:
    """Figures computed across workloads (driver RSS growth per trial)."""
    wl = report["workloads"]
    out: dict[str, Any] = {}
    try:
        small = wl["memory"]["summary"]["driver_vmrss_after_mib"]["median"]
        big = wl["memory_10k"]["summary"]["driver_vmrss_after_mib"]["median"]
        n_small = wl["memory"]["params"]["n"]
        n_big = wl["memory_10k"]["params"]["n"]
        per_trial = (big - small) * 1024 * 1024 / (n_big - n_small)
        record = wl["memory_10k"]["summary"]["pickled_result_bytes_per_trial"]["median"]
        out["driver_rss_growth_per_trial_bytes"] = round(per_trial)
        out["driver_rss_growth_1k_to_10k_mib"] = round(big - small, 1)
        out["pickled_result_bytes_per_trial_10k"] = round(record) if record else None
    except (KeyError, TypeError, ZeroDivisionError):
        pass
    return out


# ---- profiling ----------------------------------------------------------------------------


def profile_workloads(selected: list[Workload], quick: bool, out_dir: Path, top: int) -> None:
    """Run one repetition of each workload with the driver's fit under cProfile."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for w in selected:
        if w.child is None:
            print(f"[profile] {w.name}: see the -X importtime table instead", file=sys.stderr)
            continue
        params = dict(w.quick_params if quick and w.quick_params else w.params)
        path = out_dir / f"{w.name}.prof"
        outcome = run_workload_rep(w, params, profile=str(path))
        print(f"\n==== {w.name} (driver, cProfile; {path}) ====")
        print("metrics:", json.dumps({k: round(v, 4) for k, v in outcome["metrics"].items()
                                      if isinstance(v, (int, float))}))
        stats = pstats.Stats(str(path))
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)


# ---- main ---------------------------------------------------------------------------------


def select(only: str | None, quick: bool) -> list[Workload]:
    if not only:
        return [w for w in WORKLOADS if not (quick and w.full_only)]
    names = [n.strip() for n in only.split(",") if n.strip()]
    selected = []
    for n in names:
        matches = [w for w in WORKLOADS if w.name == n] or [
            w for w in WORKLOADS if w.name.startswith(n)
        ]
        if not matches:
            raise SystemExit(f"unknown workload {n!r}; known: {', '.join(BY_NAME)}")
        selected += [w for w in matches if w not in selected]
    return selected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="bookkeeping with 40 trials, no 10,000-trial memory run")
    parser.add_argument("--only", help="comma-separated workload names (or name prefixes)")
    parser.add_argument("--json", help="write the full report (raw values too) to this file")
    parser.add_argument("--reps", type=int, default=None,
                        help="repetitions per workload (default 5; import_time 10; "
                             "bookkeeping and memory_10k 3)")
    parser.add_argument("--retries", type=int, default=1,
                        help="retries of a crashed repetition (default 1)")
    parser.add_argument("--retry-wait", type=float, default=60.0,
                        help="seconds to wait before retrying a crashed repetition")
    parser.add_argument("--no-importtime", action="store_true",
                        help="skip the python -X importtime breakdown")
    parser.add_argument("--profile", action="store_true",
                        help="instead of benchmarking, run each selected workload once with "
                             "the driver under cProfile and print the hotspots")
    parser.add_argument("--profile-dir", default=None, help="where --profile writes .prof files")
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--storage-root", default=tempfile.gettempdir(),
                        help="where the experiments' temporary storage directories go "
                             "(default: the system temp dir, on disk here)")
    parser.add_argument("--no-pyc-cache", action="store_true",
                        help="do not give children a bytecode cache (PYTHONPYCACHEPREFIX); "
                             "they inherit PYTHONDONTWRITEBYTECODE from this environment")
    parser.add_argument("--no-sync", action="store_true",
                        help="do not call os.sync() before each repetition")
    parser.add_argument("--max-other-load", type=float, default=0.15,
                        help="CPUs other processes may keep busy during a repetition before "
                             "it is repeated (default 0.15); the runner also waits for this "
                             "before each repetition")
    parser.add_argument("--noise-retries", type=int, default=3,
                        help="how often a disturbed repetition is repeated (default 3)")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = parser.parse_args(argv)
    Settings.max_other_load = args.max_other_load
    Settings.noise_retries = args.noise_retries
    Settings.storage_root = args.storage_root
    Settings.sync = not args.no_sync
    if not args.no_pyc_cache:
        Settings.pyc_cache = os.path.join(tempfile.gettempdir(), "tune-bench-pycache")

    selected = select(args.only, args.quick)
    if args.list:
        for w in WORKLOADS:
            print(f"{w.name:<28} {w.description}")
        return 0
    try:
        try:
            warm_up()
        except RepFailed as exc:
            print(f"warm-up failed (the measured runs will show it too): {exc}", file=sys.stderr)
        if args.profile:
            out_dir = Path(args.profile_dir or tempfile.mkdtemp(prefix="tune-bench-prof-"))
            profile_workloads(selected, args.quick, out_dir, args.profile_top)
            return 0
        return benchmark(selected, args)
    finally:
        cleanup_storage()


def benchmark(selected: list[Workload], args: argparse.Namespace) -> int:
    """Run every selected workload ``reps`` times; print the table; write the JSON."""
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": machine_info(),
        "git": git_info(REPO),
        "source_fingerprint_at_start": source_fingerprint(REPO),
        "tune_env": tune_env(),
        "settings": {
            "storage_root": Settings.storage_root,
            "pyc_cache": Settings.pyc_cache,
            "sync_before_each_rep": Settings.sync,
            "max_other_load": Settings.max_other_load,
            "noise_retries": Settings.noise_retries,
            "reps": args.reps,
        },
        "workloads": {},
    }
    all_ok = True
    for w in selected:
        params = dict(w.quick_params if args.quick and w.quick_params else w.params)
        if w.storage_root and not os.path.isdir(w.storage_root):
            print(f"[{w.name}] skipped: {w.storage_root} does not exist", file=sys.stderr)
            continue
        reps = w.reps if args.reps is None else max(args.reps, w.reps if w.child is None else 1)
        entry: dict[str, Any] = {
            "description": w.description, "params": params, "env": w.env, "reps": [],
            "failed_reps": 0, "errors": [], "source_fingerprint": source_fingerprint(REPO),
        }
        if args.quick and w.quick_params:
            entry["note"] = f"quick mode: {params}"
        for i in range(reps):
            for attempt in range(args.retries + 1):
                try:
                    outcome = run_rep(w, params)
                    break
                except RepFailed as exc:
                    entry["errors"].append(f"rep {i + 1} attempt {attempt + 1}: {exc}")
                    print(f"[{w.name}] rep {i + 1} failed: {exc}", file=sys.stderr)
                    if attempt < args.retries:
                        print(f"[{w.name}] retrying in {args.retry_wait:.0f} s",
                              file=sys.stderr)
                        time.sleep(args.retry_wait)
            else:
                entry["failed_reps"] += 1
                continue
            entry["reps"].append(outcome)
            if not outcome.get("ok", True):
                entry["errors"].append(f"rep {i + 1}: {outcome['problems']}")
            if outcome.get("noisy"):
                entry["errors"].append(
                    f"rep {i + 1}: other processes kept "
                    f"{outcome['interference']['other_load']:.2f} CPUs busy "
                    f"(kept after {Settings.noise_retries} repeats)"
                )
            head = w.metrics[0]
            print(f"[{w.name}] rep {i + 1}/{reps}: {head.key} = "
                  f"{_fmt(head, outcome['metrics'].get(head.key))} {head.unit}"
                  + ("" if outcome.get("ok", True) else f"  PROBLEMS: {outcome['problems']}"),
                  file=sys.stderr)
        entry["summary"] = {}
        for metric in w.metrics:
            values = [r["metrics"].get(metric.key) for r in entry["reps"]]
            s = summarize(values)
            s["unit"] = metric.unit
            if metric.target:
                s["target"] = f"{metric.target[0]} {metric.target[1]:g}"
                s["meets_target"] = metric.ok(s["median"])
                all_ok = all_ok and bool(s["meets_target"])
            entry["summary"][metric.key] = s
        report["workloads"][w.name] = entry
    report["derived"] = _derive(report)
    if "import_time" in report["workloads"] and not args.no_importtime:
        report["importtime_top"] = importtime_top()
    report["all_targets_met"] = all_ok
    report["source_fingerprint_at_end"] = source_fingerprint(REPO)
    fingerprints = {e["source_fingerprint"] for e in report["workloads"].values()}
    fingerprints.add(report["source_fingerprint_at_start"])
    fingerprints.add(report["source_fingerprint_at_end"])
    report["source_changed_during_run"] = len(fingerprints) > 1

    print()
    print(f"tune benchmark ({report['mode']}), {report['date']}, "
          f"{report['machine']['cpus']} CPUs, Python {report['machine']['python']}, "
          f"commit {str(report['git']['commit'])[:10]}, source {report['source_fingerprint_at_start']}"
          + (f" + {len(report['git']['dirty_files'])} changed files"
             if report["git"]["dirty_files"] else ""))
    if report["source_changed_during_run"]:
        print("WARNING: the project's source files changed during this run; workloads record "
              "the source_fingerprint they ran against (see the JSON)")
    if args.quick:
        print("quick mode: bookkeeping runs 40 trials (ideal 10 s on 2 CPUs); "
              "memory_10k skipped")
    print()
    print_table(report)
    failed = {n: e["errors"] for n, e in report["workloads"].items() if e["errors"]}
    if failed:
        print("\nproblems:")
        for name, errors in failed.items():
            for err in errors:
                print(f"  {name}: {err.splitlines()[0] if err else err}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1, default=str) + "\n")
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
