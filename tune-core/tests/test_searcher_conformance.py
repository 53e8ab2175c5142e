"""The searcher conformance suite run against two small adapters written the way a third
party would write one: on ``parse_space`` and a declaration. One supports every domain, the
other fewer, so both halves of the suite (honoured / refused) run."""

from __future__ import annotations

import random

import tune
from tune.search.flat_space import FlatSpace, Param, SearcherSupport, parse_space
from tune.search.searcher import Searcher
from tune.testing.searcher_conformance import SearcherConformance


def draw(param: Param, rng: random.Random) -> object:
    if param.kind == "categorical":
        index = rng.randrange(len(param.categories))
        if param.branches and param.branches[index] is not None:
            branch = param.branches[index]
            values = {p.name: draw(p, rng) for p in branch.params}
            return param.branch_config(index, values)
        return param.category(index)
    if param.normal is not None:
        return param.cast(rng.gauss(*param.normal))
    if param.log:
        import math

        raw = math.exp(rng.uniform(math.log(param.lower), math.log(param.upper)))
    else:
        raw = rng.uniform(param.lower, param.upper)
    return param.cast(raw)


class ReferenceRandomSearch(Searcher):
    supports = SearcherSupport(normal=True, conditional=True)

    def __init__(self, metric=None, mode=None, points_to_evaluate=None, seed=0):
        super().__init__(metric=metric, mode=mode)
        self._space: FlatSpace | None = None
        self._points = list(points_to_evaluate or [])
        self._rng = random.Random(seed)

    def set_search_properties(self, metric, mode, config, **spec):
        if self._space is not None:
            return False
        self._space = parse_space(config, searcher=type(self).__name__, supports=self.supports)
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        return True

    def suggest(self, trial_id):
        if self._points:
            point = self._points.pop(0)
            return self._space.to_config(self._space.values_of(point))
        return self._space.to_config({p.name: draw(p, self._rng) for p in self._space.params})

    def get_state(self):
        return {"space": self._space, "points": self._points, "rng": self._rng.getstate()}

    def set_state(self, state):
        self._space, self._points = state["space"], state["points"]
        self._rng = random.Random()
        self._rng.setstate(state["rng"])


class LimitedRandomSearch(ReferenceRandomSearch):
    supports = SearcherSupport(log=False, quantized=False, nested=False, points_to_evaluate=False)


class TestReferenceRandomSearch(SearcherConformance):
    def make_searcher(self, **kwargs):
        return ReferenceRandomSearch(**kwargs)


class TestLimitedRandomSearch(SearcherConformance):
    def make_searcher(self, **kwargs):
        return LimitedRandomSearch(**kwargs)


def test_refusal_names_the_parameter_and_what_is_supported():
    import pytest

    from tune.errors import TuneValueError

    with pytest.raises(TuneValueError, match=r"'lr'.*log.*It supports: float, integer"):
        parse_space(
            {"lr": tune.loguniform(1e-3, 1)},
            searcher="LimitedRandomSearch",
            supports=LimitedRandomSearch.supports,
        )
