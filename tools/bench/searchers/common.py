"""Driving a tune searcher the way the controller does, and timing what it costs.

``adapter_loop`` calls ``set_search_properties``, then ``suggest`` / ``on_trial_complete``
for ``budget`` sequential evaluations, and measures the seconds the searcher itself spends
per suggestion (suggest + on_trial_complete; the objective is not counted). Native loops
in the per-library modules measure the library's own ask + tell the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from searchers.problems import Problem


@dataclass
class LoopResult:
    best: float  # the best (lowest) value found
    seconds_per_suggestion: float  # optimizer time per suggestion (ask + tell)


def adapter_loop(searcher, problem: Problem, budget: int) -> LoopResult:
    searcher.set_search_properties("value", "min", problem.space)
    best = float("inf")
    spent = 0.0
    for i in range(budget):
        trial_id = f"t{i}"
        start = time.perf_counter()
        config = searcher.suggest(trial_id)
        spent += time.perf_counter() - start
        if not isinstance(config, dict):
            raise RuntimeError(f"{type(searcher).__name__}.suggest returned {config!r}")
        value = problem.fn(config)
        best = min(best, value)
        start = time.perf_counter()
        searcher.on_trial_complete(trial_id, {"value": value, "training_iteration": 1})
        spent += time.perf_counter() - start
    return LoopResult(best, spent / budget)


class Stopwatch:
    """Accumulates the optimizer's own time in a native loop: ``with watch: ask()``."""

    def __init__(self) -> None:
        self.spent = 0.0
        self._start = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.spent += time.perf_counter() - self._start
