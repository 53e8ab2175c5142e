"""Ax's default Bayesian optimization: ``AxSearch`` against ``AxClient``'s own loop.

The native loop is Ax's service API as its tutorials drive it: ``create_experiment`` with
the same range parameters and objective, then ``get_next_trial`` / ``complete_trial`` per
evaluation. Same settings as the adapter's defaults: ``AxClient(random_seed=seed,
verbose_logging=False)``, Ax's own choice of generation strategy (Sobol for
max(5, 2 * dimensions) trials, then a GP with BoTorch), results without SEM (Ax infers the
noise), as ``AxSearch`` reports them.

Both loops run with one torch thread: on a busy 2-core machine torch's default thread pool
makes each GP fit 5-7x slower and the timings mostly noise (the setting is the same for both).
"""

from __future__ import annotations

import warnings

import torch
from ax.service.ax_client import AxClient, ObjectiveProperties

from searchers.common import LoopResult, Stopwatch
from searchers.problems import Problem
from tune_search import AxSearch

LIBRARY = "ax"

torch.set_num_threads(1)


def make_adapter(seed: int) -> AxSearch:
    return AxSearch(random_seed=seed)


def native_loop(problem: Problem, seed: int, budget: int) -> LoopResult:
    # Setup is not timed, as adapter_loop does not time set_search_properties.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = AxClient(random_seed=seed, verbose_logging=False)
    client.create_experiment(
        parameters=[
            {"name": name, "type": "range", "bounds": [lo, hi], "value_type": "float"}
            for name, (lo, hi) in problem.bounds.items()
        ],
        objectives={"value": ObjectiveProperties(minimize=True)},
    )
    watch = Stopwatch()
    best = float("inf")
    for _ in range(budget):
        with watch:
            config, index = client.get_next_trial()
        value = problem.fn(config)
        best = min(best, value)
        with watch:
            client.complete_trial(index, raw_data={"value": (value, None)})
    return LoopResult(best, watch.spent / budget)
