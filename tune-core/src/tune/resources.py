"""Resource requests of trials: a flat ``Resources`` mapping and ``PlacementGroupFactory``.

A trial asks for CPUs, GPUs (fractional allowed), memory and custom resources. A
``PlacementGroupFactory`` describes several bundles (the trainable's own first, then bundles
for the tasks it starts); executors that cannot place bundles separately use the summed total.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tune.errors import invalid_type, invalid_value

_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


class Resources(dict):
    """A mapping ``{"CPU": 1.0, "GPU": 0.5, "memory": ..., "custom": n}`` with canonical keys.

    Keys ``cpu``/``gpu`` (any case) are normalised to ``CPU``/``GPU``; zero entries dropped.
    """

    @classmethod
    def from_request(cls, request: Mapping[str, Any], argument: str = "resources") -> Resources:
        out = cls()
        for key, value in dict(request).items():
            if key in ("custom_resources", "resources") and isinstance(value, Mapping):
                for ck, cv in value.items():
                    out._add(ck, cv, argument)
                continue
            canon = {"cpu": "CPU", "gpu": "GPU", "num_cpus": "CPU", "num_gpus": "GPU"}.get(
                key.lower(), key
            )
            out._add(canon, value, argument)
        return out

    def _add(self, key: str, value: Any, argument: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise invalid_type(f"{argument}[{key!r}]", value, "expected a number >= 0")
        if value < 0 or math.isnan(value):
            raise invalid_value(f"{argument}[{key!r}]", value, "must be a number >= 0")
        if value:
            self[key] = self.get(key, 0.0) + float(value)

    @property
    def cpu(self) -> float:
        return self.get("CPU", 0.0)

    @property
    def gpu(self) -> float:
        return self.get("GPU", 0.0)

    def __add__(self, other: Mapping[str, float]) -> Resources:  # type: ignore[override]
        out = Resources(self)
        for k, v in other.items():
            out[k] = out.get(k, 0.0) + v
        return out


class PlacementGroupFactory:
    """Bundles of resources for one trial, as in Ray Tune.

    ``PlacementGroupFactory([{"CPU": 1}, {"CPU": 2, "GPU": 1}], strategy="PACK")``: the first
    bundle is the trainable's own; the rest are for work the trainable starts itself.
    """

    def __init__(self, bundles: list[Mapping[str, float]], strategy: str = "PACK", **kwargs: Any):
        if not isinstance(bundles, (list, tuple)) or not bundles:
            raise invalid_value("bundles", bundles, "must be a non-empty list of resource dicts")
        if strategy not in _STRATEGIES:
            raise invalid_value("strategy", strategy, "must be one of " + ", ".join(_STRATEGIES))
        self.bundles = [Resources.from_request(b, argument=f"bundles[{i}]") for i, b in enumerate(bundles)]
        self.strategy = strategy
        self._kwargs = kwargs

    @property
    def head_bundle_is_empty(self) -> bool:
        return not self.bundles[0]

    def required_resources(self) -> Resources:
        """All bundles summed: what a single-machine executor must reserve."""
        total = Resources()
        for b in self.bundles:
            total = total + b
        return total

    def __call__(self) -> PlacementGroupFactory:
        return self

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PlacementGroupFactory)
            and self.bundles == other.bundles
            and self.strategy == other.strategy
        )

    def __hash__(self) -> int:
        return hash((repr(self.bundles), self.strategy))

    def __repr__(self) -> str:
        return f"PlacementGroupFactory({self.bundles!r}, strategy={self.strategy!r})"

    def __getstate__(self) -> dict:
        return {"bundles": [dict(b) for b in self.bundles], "strategy": self.strategy}

    def __setstate__(self, state: dict) -> None:
        self.bundles = [Resources(b) for b in state["bundles"]]
        self.strategy = state["strategy"]
        self._kwargs = {}


def to_placement_group_factory(request: Any, argument: str = "resources") -> PlacementGroupFactory:
    """Normalise a dict / Resources / PlacementGroupFactory into a PlacementGroupFactory."""
    if isinstance(request, PlacementGroupFactory):
        return request
    if isinstance(request, Mapping):
        return PlacementGroupFactory([Resources.from_request(request, argument)])
    raise invalid_type(
        argument, request, "expected a dict like {'cpu': 1, 'gpu': 0}, or a PlacementGroupFactory"
    )


DEFAULT_RESOURCES = {"CPU": 1.0}
