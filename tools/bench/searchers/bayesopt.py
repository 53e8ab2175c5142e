"""bayesian-optimization: ``BayesOptSearch`` against ``BayesianOptimization`` driven directly.

Both use Ray's defaults: UCB with kappa 2.576, seed ``seed``, ten uniformly random configs
before the GP (bayes_opt's ``maximize(init_points=10)`` done by hand with ask/tell).
bayes_opt maximizes, so the native loop registers ``-value``. Runs on bayesian-optimization
1.4.x (a ``UtilityFunction`` handed to ``suggest``) and 2.x/3.x (``acquisition`` classes).
"""

from __future__ import annotations

from bayes_opt import BayesianOptimization

from searchers.common import LoopResult, Stopwatch
from searchers.problems import Problem
from tune_search.bayesopt_search import BayesOptSearch

try:  # 2.x and 3.x
    from bayes_opt.acquisition import UpperConfidenceBound
except ImportError:  # 1.x
    UpperConfidenceBound = None
    from bayes_opt import UtilityFunction

LIBRARY = "bayesopt"
RANDOM_STEPS = 10  # BayesOptSearch's default random_search_steps


def make_adapter(seed: int) -> BayesOptSearch:
    return BayesOptSearch(random_state=seed)


def native_loop(problem: Problem, seed: int, budget: int) -> LoopResult:
    watch = Stopwatch()
    with watch:
        common = dict(
            f=None,
            pbounds=dict(problem.bounds),
            random_state=seed,
            verbose=0,
            allow_duplicate_points=True,  # a repeated suggestion is evaluated, not an error
        )
        if UpperConfidenceBound is None:
            optimizer = BayesianOptimization(**common)
            utility = UtilityFunction(kind="ucb", kappa=2.576, xi=0.0)
        else:
            optimizer = BayesianOptimization(
                acquisition_function=UpperConfidenceBound(kappa=2.576), **common
            )
    best = float("inf")
    for i in range(budget):
        with watch:
            if i < RANDOM_STEPS:
                if hasattr(optimizer, "random_sample"):
                    params = optimizer.random_sample(1)[0]
                else:
                    space = optimizer.space
                    params = space.array_to_params(space.random_sample())
            elif UpperConfidenceBound is None:
                utility.update_params()  # as 1.x's maximize() does before each suggest
                params = optimizer.suggest(utility)
            else:
                params = optimizer.suggest()
        config = {k: float(v) for k, v in params.items()}
        value = problem.fn(config)
        best = min(best, value)
        with watch:
            optimizer.register(params=params, target=-value)
    return LoopResult(best, watch.spent / budget)
