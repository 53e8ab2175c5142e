"""Optuna: ``OptunaSearch`` against Optuna's own ask/tell loop, TPE with the same seed."""

from __future__ import annotations

import optuna
from optuna.distributions import FloatDistribution
from optuna.samplers import TPESampler

from searchers.common import LoopResult, Stopwatch
from searchers.problems import Problem
from tune_search.optuna_search import OptunaSearch

LIBRARY = "optuna"


def make_adapter(seed: int) -> OptunaSearch:
    return OptunaSearch(seed=seed)


def native_loop(problem: Problem, seed: int, budget: int) -> LoopResult:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Set-up is not timed, as adapter_loop does not time set_search_properties.
    study = optuna.create_study(sampler=TPESampler(seed=seed))
    distributions = {k: FloatDistribution(lo, hi) for k, (lo, hi) in problem.bounds.items()}
    watch = Stopwatch()
    best = float("inf")
    for _ in range(budget):
        with watch:
            trial = study.ask(distributions)
            config = dict(trial.params)
        value = problem.fn(config)
        best = min(best, value)
        with watch:
            study.tell(trial, value)
    return LoopResult(best, watch.spent / budget)
