"""BOHB: ``TuneBOHB`` against hpbandster's BOHB config generator driven directly.

Both run the generator with its defaults at one budget (every evaluation is a full run, as
the adapter sees trials under the default FIFO scheduler: fed once, at training_iteration
1), seeded alike: the ConfigurationSpace's RNG and numpy's (hpbandster draws from numpy's
global RNG; the adapter swaps in its own stream seeded the same way).
"""

from __future__ import annotations

LIBRARY = "bohb"


def make_adapter(seed: int):
    from tune_search.bohb_search import TuneBOHB

    return TuneBOHB(seed=seed)


class _Job:
    """What hpbandster's ``new_result`` reads of a finished run."""

    def __init__(self, loss: float, budget: float, config: dict) -> None:
        self.result = {"loss": loss}
        self.kwargs = {"budget": budget, "config": config}
        self.exception = None
        self.id = None


def native_loop(problem, seed: int, budget: int):
    import ConfigSpace
    import numpy as np
    from hpbandster.optimizers.config_generators.bohb import BOHB

    from searchers.common import LoopResult, Stopwatch

    space = ConfigSpace.ConfigurationSpace(seed=seed)
    for name, (lower, upper) in problem.bounds.items():
        space.add(ConfigSpace.UniformFloatHyperparameter(name, lower=lower, upper=upper))
    np.random.seed(seed)
    generator = BOHB(space)
    watch = Stopwatch()
    best = float("inf")
    for _ in range(budget):
        with watch:
            config, _info = generator.get_config(None)
        value = problem.fn(config)
        best = min(best, value)
        with watch:
            generator.new_result(_Job(value, 1, config))
    return LoopResult(best, watch.spent / budget)
