"""``ConcurrencyLimiter``: at most ``max_concurrent`` trials of a searcher running at once.

Useful for optimizers that do not parallelize well. A searcher that limits itself
(``set_max_concurrency`` returns ``True``, as ``BasicVariantGenerator`` does) is told the
limit and left to it. With ``batch=True`` the wrapped searcher hears about completed trials
only once the whole batch of live trials has completed.
"""

from __future__ import annotations

import copy
from typing import Any

from tune.errors import invalid_type, invalid_value
from tune.search.searcher import FINISHED, Searcher, _call_with_spec

__all__ = ["ConcurrencyLimiter"]


class ConcurrencyLimiter(Searcher):
    """Wrap ``searcher`` so that at most ``max_concurrent`` of its trials run at once.

    :param searcher: the ``Searcher`` to limit.
    :param max_concurrent: the maximum number of live (suggested, not completed) trials.
    :param batch: hold back completions until every live trial has completed, then pass them
        all to ``searcher`` (for optimizers that work in batches).
    """

    def __init__(self, searcher: Searcher, max_concurrent: int, batch: bool = False) -> None:
        if not isinstance(searcher, Searcher):
            raise invalid_type(
                "searcher",
                searcher,
                "expected a tune.search.Searcher (for BasicVariantGenerator pass "
                "max_concurrent to it directly, or use TuneConfig(max_concurrent_trials=...))",
            )
        if (
            isinstance(max_concurrent, bool)
            or not isinstance(max_concurrent, int)
            or max_concurrent < 1
        ):
            raise invalid_value("max_concurrent", max_concurrent, "must be an integer >= 1")
        self.searcher = searcher
        self.max_concurrent = max_concurrent
        self.batch = bool(batch)
        self.live_trials: set[str] = set()
        self.num_unfinished_live_trials = 0
        self.cached_results: dict[str, tuple[dict | None, bool]] = {}
        self._limit_concurrency = True
        super().__init__(metric=None, mode=None)
        self._set_searcher_max_concurrency()

    def _set_searcher_max_concurrency(self) -> None:
        # A searcher with its own concurrency logic gets the limit and this wrapper steps aside.
        self._limit_concurrency = not self.searcher.set_max_concurrency(self.max_concurrent)

    @property
    def metric(self) -> Any:
        return self.searcher.metric

    @property
    def mode(self) -> Any:
        return self.searcher.mode

    @property
    def counts_own_samples(self) -> bool:
        return self.searcher.counts_own_samples

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        self.max_concurrent = max_concurrent
        self._set_searcher_max_concurrency()
        return True

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        self._set_searcher_max_concurrency()
        return _call_with_spec(self.searcher.set_search_properties, metric, mode, config, spec)

    def suggest(self, trial_id: str) -> dict | str | None:
        if not self._limit_concurrency:
            return self.searcher.suggest(trial_id)
        if trial_id in self.live_trials:
            raise invalid_value("trial_id", trial_id, "must be unique; a live trial has it already")
        if len(self.live_trials) >= self.max_concurrent:
            return None
        suggestion = self.searcher.suggest(trial_id)
        if suggestion is not None and suggestion != FINISHED:
            self.live_trials.add(trial_id)
            self.num_unfinished_live_trials += 1
        return suggestion

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_pause(self, trial_id: str) -> None:
        self.searcher.on_pause(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        self.searcher.on_unpause(trial_id)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if not self._limit_concurrency:
            self.searcher.on_trial_complete(trial_id, result=result, error=error)
            return
        if trial_id not in self.live_trials:
            return
        if not self.batch:
            self.searcher.on_trial_complete(trial_id, result=result, error=error)
            self.live_trials.remove(trial_id)
            self.num_unfinished_live_trials -= 1
            return
        self.cached_results[trial_id] = (result, error)
        self.num_unfinished_live_trials -= 1
        if self.num_unfinished_live_trials <= 0:
            for cached_id, (cached_result, cached_error) in self.cached_results.items():
                self.searcher.on_trial_complete(cached_id, result=cached_result, error=cached_error)
                self.live_trials.discard(cached_id)
            self.cached_results = {}
            self.num_unfinished_live_trials = 0

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        self.searcher.add_evaluated_point(parameters, value, error, pruned, intermediate_values)

    def get_state(self) -> dict:
        return {
            "limiter": {
                "max_concurrent": self.max_concurrent,
                "batch": self.batch,
                "live_trials": sorted(self.live_trials),
                "num_unfinished_live_trials": self.num_unfinished_live_trials,
                "cached_results": copy.deepcopy(self.cached_results),
                "limit_concurrency": self._limit_concurrency,
            },
            "searcher": self.searcher.get_state(),
        }

    def set_state(self, state: dict) -> None:
        limiter = state["limiter"]
        self.max_concurrent = limiter["max_concurrent"]
        self.batch = limiter["batch"]
        self.live_trials = set(limiter["live_trials"])
        self.num_unfinished_live_trials = limiter["num_unfinished_live_trials"]
        self.cached_results = copy.deepcopy(limiter["cached_results"])
        self._limit_concurrency = limiter["limit_concurrency"]
        self.searcher.set_state(state["searcher"])
