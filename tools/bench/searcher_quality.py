"""Each tune-search adapter against its library driven directly: quality and overhead.

For every library (``tools/bench/searchers/<library>.py``), problem (Branin, Hartmann-6) and
seed, one run through the adapter (``suggest`` / ``on_trial_complete``, as the controller
calls it) and one through the library's own ask/tell loop, with the same budget. Reported
per library and problem:

* the median best value over the seeds, adapter vs native, and a one-sided Mann-Whitney U
  test of "the adapter finds worse values" (``p < 0.05`` would mean worse beyond noise);
* the optimizer's own seconds per suggestion (ask + tell, the objective excluded), median
  over seeds, and the adapter's overhead ratio against the native loop (target <= 1.2).

    python tools/bench/searcher_quality.py                       # every library, 10 seeds
    python tools/bench/searcher_quality.py --libraries optuna --seeds 3 --budget 20
    python tools/bench/searcher_quality.py --json tools/bench/results/searcher_quality.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from searchers.common import adapter_loop  # noqa: E402
from searchers.problems import PROBLEMS  # noqa: E402

LIBRARIES = ["hyperopt", "optuna", "bayesopt", "ax", "nevergrad", "bohb"]
DEFAULT_BUDGET = {"branin": 40, "hartmann6": 60}


def mann_whitney_greater(a: list[float], b: list[float]) -> float:
    """One-sided p-value that values in ``a`` tend to be greater than in ``b`` (normal
    approximation with tie correction; fine for 10 vs 10)."""
    pooled = sorted((v, i) for i, v in enumerate(a + b))
    ranks = [0.0] * len(pooled)
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[pooled[k][1]] = (i + j) / 2 + 1
        i = j + 1
    n1, n2 = len(a), len(b)
    u = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    if sd == 0:
        return 0.5
    z = (u - mean - 0.5) / sd
    return 0.5 * math.erfc(z / math.sqrt(2))


def run_library(name: str, problems: list[str], seeds: int, budget: dict) -> list[dict]:
    module = importlib.import_module(f"searchers.{name}")
    rows = []
    for problem_name in problems:
        problem = PROBLEMS[problem_name]
        n = budget[problem_name]
        adapter, native = [], []
        for seed in range(seeds):
            adapter.append(adapter_loop(module.make_adapter(seed), problem, n))
            native.append(module.native_loop(problem, seed, n))
            print(
                f"  {name:10s} {problem_name:10s} seed {seed}: adapter {adapter[-1].best:.4f} "
                f"native {native[-1].best:.4f}",
                flush=True,
            )
        a_best = [r.best for r in adapter]
        n_best = [r.best for r in native]
        a_cost = statistics.median(r.seconds_per_suggestion for r in adapter)
        n_cost = statistics.median(r.seconds_per_suggestion for r in native)
        rows.append(
            {
                "library": module.LIBRARY,
                "problem": problem_name,
                "optimum": problem.optimum,
                "budget": n,
                "seeds": seeds,
                "adapter_median_best": statistics.median(a_best),
                "native_median_best": statistics.median(n_best),
                "p_adapter_worse": mann_whitney_greater(a_best, n_best),
                "adapter_s_per_suggestion": a_cost,
                "native_s_per_suggestion": n_cost,
                "overhead_ratio": a_cost / n_cost if n_cost > 0 else float("nan"),
                "adapter_best": a_best,
                "native_best": n_best,
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    head = (
        "| library | problem | budget | adapter median best | native median best | "
        "p(adapter worse) | adapter ms/sugg | native ms/sugg | overhead |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['library']} | {r['problem']} | {r['budget']} | "
            f"{r['adapter_median_best']:.4f} | {r['native_median_best']:.4f} | "
            f"{r['p_adapter_worse']:.2f} | {1000 * r['adapter_s_per_suggestion']:.2f} | "
            f"{1000 * r['native_s_per_suggestion']:.2f} | {r['overhead_ratio']:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--problems", default="branin,hartmann6")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=None, help="evaluations per run")
    parser.add_argument("--json", default=None, help="write the rows to this file")
    args = parser.parse_args(argv)
    problems = args.problems.split(",")
    budget = {p: args.budget or DEFAULT_BUDGET[p] for p in problems}
    rows = []
    started = time.time()
    for name in args.libraries.split(","):
        print(f"[{name}]", flush=True)
        try:
            rows.extend(run_library(name, problems, args.seeds, budget))
        except ImportError as exc:
            print(f"  skipped: {exc}", flush=True)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "wall_s": time.time() - started}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
