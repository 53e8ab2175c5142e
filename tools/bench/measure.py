"""Timing, memory and environment helpers shared by the benchmark runner and its workloads.

Everything here uses the standard library and ``/proc`` only (psutil is not a dependency):

* ``summarize`` turns repeated measurements into median / min / max.
* ``vmrss_bytes`` / ``vmhwm_bytes`` / ``ru_maxrss_bytes`` read a process's memory.
* ``TreeRssSampler`` is a thread that samples the summed VmRSS of a process and all its
  descendants every 50 ms and keeps the peak.
* ``machine_info`` / ``git_info`` describe where and on what code a run happened.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from typing import Any

# platform, statistics, subprocess are imported where used: this module is also imported by
# the measured processes, whose start-up should not pay for what only the runner needs.

MiB = 1024 * 1024


# ---- statistics ---------------------------------------------------------------------------


def summarize(values: list[float]) -> dict[str, Any]:
    """Median, min, max and the raw values of repeated measurements (None when empty)."""
    import statistics

    clean = [v for v in values if v is not None]
    if not clean:
        return {"median": None, "min": None, "max": None, "n": 0, "values": []}
    return {
        "median": statistics.median(clean),
        "min": min(clean),
        "max": max(clean),
        "n": len(clean),
        "values": clean,
    }


# ---- memory of one process ----------------------------------------------------------------


def _status_field(pid: int | str, field: str) -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` in bytes, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(field.encode() + b":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def vmrss_bytes(pid: int | str = "self") -> int | None:
    """Current resident set size (``VmRSS``) of a process."""
    return _status_field(pid, "VmRSS")


def vmhwm_bytes(pid: int | str = "self") -> int | None:
    """Peak resident set size (``VmHWM``, high-water mark) of a process."""
    return _status_field(pid, "VmHWM")


def ru_maxrss_bytes() -> int:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in bytes (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---- CPU time -----------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a live process has used so far (from /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def self_cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat.

    busy = user + nice + system + irq + softirq over all CPUs (idle and iowait excluded);
    steal is time the hypervisor gave our virtual CPUs to someone else.
    """
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()[1:]
    except OSError:
        return 0.0, 0.0
    values = [int(x) for x in fields] + [0] * 8
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq) / _TICKS, steal / _TICKS


def children_cpu_seconds() -> float:
    """CPU seconds of this process's waited-for children (and theirs), plus its own."""
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return c.ru_utime + c.ru_stime + self_cpu_seconds()


class Interference:
    """How much CPU the rest of the machine used while a measured child ran.

    ``other_cpu_s`` = machine busy time - (this process + its waited-for children); divided
    by the wall time it is the average number of CPUs other processes kept busy.
    """

    def __init__(self) -> None:
        self.busy0, self.steal0 = machine_cpu_seconds()
        self.ours0 = children_cpu_seconds()
        self.t0 = time.perf_counter()

    def result(self) -> dict[str, float]:
        busy, steal = machine_cpu_seconds()
        ours = children_cpu_seconds() - self.ours0
        wall = max(time.perf_counter() - self.t0, 1e-9)
        other = max(0.0, busy - self.busy0 - ours)
        return {
            "wall_s": wall,
            "tree_cpu_s": ours,
            "other_cpu_s": other,
            "other_load": other / wall,
            "steal_s": steal - self.steal0,
        }


def wait_for_quiet(
    max_load: float, window: float = 1.0, timeout: float = 600.0
) -> tuple[float, float]:
    """Wait until the machine's busy CPU over ``window`` s is at most ``max_load`` CPUs.

    Returns (seconds waited, the last measured load). Gives up after ``timeout`` seconds.
    """
    start = time.perf_counter()
    while True:
        b0, _ = machine_cpu_seconds()
        time.sleep(window)
        b1, _ = machine_cpu_seconds()
        load = (b1 - b0) / window
        waited = time.perf_counter() - start
        if load <= max_load or waited >= timeout:
            return waited, load


# ---- memory of a process tree -------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    """ppid -> [pid] for every process visible in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        rest = data[data.rfind(b")") + 2:].split()
        if len(rest) < 2:
            continue
        children.setdefault(int(rest[1]), []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """All descendants of ``pid`` (children, grandchildren, ...), found through /proc."""
    children = _children_map()
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child)
    return found


def tree_rss_bytes(pid: int) -> tuple[int, int]:
    """(summed VmRSS in bytes, number of processes) of ``pid`` and its descendants."""
    total, count = 0, 0
    for p in [pid, *descendants(pid)]:
        rss = vmrss_bytes(p)
        if rss is not None:
            total += rss
            count += 1
    return total, count


class TreeRssSampler:
    """Samples the summed VmRSS of a process tree in a daemon thread; keeps the peak.

    Use as a context manager around the code to watch::

        with TreeRssSampler(os.getpid()) as sampler:
            run()
        sampler.peak_bytes, sampler.peak_procs, sampler.samples
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_bytes = 0
        self.peak_procs = 0
        self.max_procs = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        total, count = tree_rss_bytes(self.pid)
        self.samples += 1
        self.max_procs = max(self.max_procs, count)
        if total > self.peak_bytes:
            self.peak_bytes, self.peak_procs = total, count

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()  # one last look, after the watched code finished


# ---- where the run happened ---------------------------------------------------------------


def cpu_count() -> int:
    """CPUs this process may run on (affinity), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_info() -> dict[str, Any]:
    """Python, OS, CPU model/count and memory of this machine."""
    import platform
    import sys
    model = None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_total = _meminfo_total()
    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpu_model": model,
        "cpus": cpu_count(),
        "mem_total_bytes": mem_total,
        "loadavg_at_start": _loadavg(),
    }


def _meminfo_total() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def _loadavg() -> list[float] | None:
    try:
        with open("/proc/loadavg") as fh:
            return [float(x) for x in fh.read().split()[:3]]
    except (OSError, ValueError):
        return None


def git_info(repo: str | os.PathLike) -> dict[str, Any]:
    """Commit, branch and the files that differ from it (the code actually measured)."""
    import subprocess

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    status = git("status", "--porcelain")
    return {
        "commit": git("rev-parse", "HEAD"),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty_files": status.splitlines() if status else [],
    }


def source_fingerprint(repo: str | os.PathLike) -> str:
    """A short hash of every ``*.py`` under the distributions' ``src`` folders.

    Taken before each workload, it shows whether the code changed during a run (the
    project may be edited while a long benchmark runs).
    """
    import hashlib
    from pathlib import Path

    digest = hashlib.sha1()
    root = Path(repo)
    for src in sorted(root.glob("*/src")) + sorted(root.glob("packages/*/src")):
        for path in sorted(src.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"<unreadable>")
    return digest.hexdigest()[:12]


def tune_env() -> dict[str, str]:
    """The ``TUNE_*`` variables of this environment (they change what is measured)."""
    return {k: v for k, v in os.environ.items() if k.startswith("TUNE_")}


def now() -> float:
    """Wall-clock time (seconds since the epoch) comparable across processes."""
    return time.time()
