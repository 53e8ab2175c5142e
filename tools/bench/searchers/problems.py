"""Benchmark functions with known minima: Branin (2-D) and Hartmann-6 (6-D)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import tune


@dataclass(frozen=True)
class Problem:
    """A function to minimise over a box: ``bounds`` per parameter, ``optimum`` its minimum."""

    name: str
    bounds: dict[str, tuple[float, float]]
    fn: Callable[[dict], float]
    optimum: float

    @property
    def space(self) -> dict:
        """The box as a tune search space (``tune.uniform`` per parameter)."""
        return {k: tune.uniform(lo, hi) for k, (lo, hi) in self.bounds.items()}


def branin(config: dict) -> float:
    x1, x2 = config["x1"], config["x2"]
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


_H6_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
_H6_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]
_H6_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(config: dict) -> float:
    x = [config[f"x{i}"] for i in range(1, 7)]
    total = 0.0
    for alpha, a_row, p_row in zip(_H6_ALPHA, _H6_A, _H6_P):
        inner = sum(a * (xi - p) ** 2 for a, xi, p in zip(a_row, x, p_row))
        total += alpha * math.exp(-inner)
    return -total


PROBLEMS = {
    "branin": Problem("branin", {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}, branin, 0.397887),
    "hartmann6": Problem(
        "hartmann6", {f"x{i}": (0.0, 1.0) for i in range(1, 7)}, hartmann6, -3.32237
    ),
}
