"""Nevergrad: ``NevergradSearch`` against Nevergrad's own ask/tell loop, ``OnePlusOne`` (the
adapter's default and Ray Tune's documented choice) over the same seeded parametrization."""

from __future__ import annotations

import nevergrad as ng

from searchers.common import LoopResult, Stopwatch
from searchers.problems import Problem
from tune_search.nevergrad_search import NevergradSearch

LIBRARY = "nevergrad"


def make_adapter(seed: int) -> NevergradSearch:
    return NevergradSearch(optimizer=ng.optimizers.OnePlusOne, seed=seed)


def native_loop(problem: Problem, seed: int, budget: int) -> LoopResult:
    # Set-up is not timed, as adapter_loop does not time set_search_properties. OnePlusOne
    # does not use the budget for continuous spaces, so the adapter (which is not told one
    # outside a Tuner) and this loop run the same algorithm.
    parametrization = ng.p.Dict(
        **{k: ng.p.Scalar(lower=lo, upper=hi) for k, (lo, hi) in problem.bounds.items()}
    )
    parametrization.random_state.seed(seed)
    optimizer = ng.optimizers.OnePlusOne(parametrization, budget=budget)
    watch = Stopwatch()
    best = float("inf")
    for _ in range(budget):
        with watch:
            candidate = optimizer.ask()
            config = dict(candidate.value)
        value = problem.fn(config)
        best = min(best, value)
        with watch:
            optimizer.tell(candidate, value)
    return LoopResult(best, watch.spent / budget)
