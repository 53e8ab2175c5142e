"""``BasicVariantGenerator``: random and grid search, the default search algorithm.

It takes the ``param_space`` and ``num_samples`` in ``set_search_properties`` and suggests,
lazily: first the ``points_to_evaluate`` (each a partial config, the rest drawn from the
space, each using up one of ``num_samples``), then the whole grid once per remaining sample,
random values drawn anew for each config. ``num_samples=-1`` never ends. After the last
config ``suggest`` returns ``FINISHED``.

Its state (``get_state``) holds the position and the random generator's state at the start
of the current repetition, so a restored generator replays to where it was and continues with
the very configs the original would have suggested.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from tune.errors import TuneError, invalid_type, invalid_value
from tune.search.sample import _as_rng, _Rng, _seed_from
from tune.search.searcher import FINISHED, Searcher
from tune.search.variant_generator import (
    apply_preset,
    count_variants,
    evaluated_params,
    generate_variants,
)

__all__ = ["BasicVariantGenerator"]


class BasicVariantGenerator(Searcher):
    """Random search and grid search over ``Tuner``'s ``param_space``.

    :param points_to_evaluate: configs to try first, as dicts nested like the space (or with
        flattened ``"a/b"`` keys); parameters they leave out are drawn from the space.
    :param max_concurrent: at most this many suggested trials running at once (0: no limit).
    :param constant_grid_search: draw the random values once per repetition of the grid and
        keep them for every grid point, instead of drawing new ones for each.
    :param random_state: an int seed, a ``random.Random`` or a NumPy ``Generator`` or
        ``RandomState`` for reproducible sampling; ``None`` seeds from NumPy's global
        generator (so ``np.random.seed`` works as in Ray Tune).
    """

    def __init__(
        self,
        points_to_evaluate: list[dict] | None = None,
        max_concurrent: int = 0,
        constant_grid_search: bool = False,
        random_state: Any = None,
    ) -> None:
        super().__init__(metric=None, mode=None)
        if points_to_evaluate is None:
            points_to_evaluate = []
        if not isinstance(points_to_evaluate, (list, tuple)) or not all(
            isinstance(p, Mapping) for p in points_to_evaluate
        ):
            raise invalid_type("points_to_evaluate", points_to_evaluate, "expected a list of dicts")
        if (
            isinstance(max_concurrent, bool)
            or not isinstance(max_concurrent, int)
            or max_concurrent < 0
        ):
            raise invalid_value(
                "max_concurrent", max_concurrent, "must be an integer >= 0 (0: no limit)"
            )
        if random_state is not None:
            _as_rng(random_state)  # type check now, not at the first suggestion
        self._points: list[dict] = [copy.deepcopy(dict(p)) for p in points_to_evaluate]
        self._max_concurrent = max_concurrent
        self._constant_grid_search = bool(constant_grid_search)
        self._random_state = random_state
        self._rng: _Rng | None = None
        self._space: dict | None = None
        self._num_samples = 1
        # Position: repetition number, whether it has started, configs it has yielded, and the
        # random state at its start (to rebuild the lazy iterator after a restore).
        self._repeat = 0
        self._in_repeat = False
        self._variant = 0
        self._repeat_rng: Any = None
        self._iter: Iterator | None = None
        self._live: set[str] = set()
        self._evaluated: dict[str, dict] = {}
        self._finished = False

    # -- Searcher API -------------------------------------------------------------------------
    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise invalid_type("param_space", config, "expected a dict of parameters")
        num_samples = spec.get("num_samples", 1)
        if num_samples is None:
            num_samples = 1
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < -1:
            raise invalid_value(
                "num_samples", num_samples, "must be -1 (no limit) or an integer >= 0"
            )
        for point in self._points:
            apply_preset(config, point)  # unknown keys fail now, before any trial
        restored = self._space is not None and (self._in_repeat or self._repeat > 0)
        self._space = config
        self._num_samples = num_samples
        self._finished = False  # re-decided by the next suggestion
        if self._rng is None:
            if self._random_state is None:
                # Seeded from NumPy's global generator: reproducible after np.random.seed(),
                # yet a private generator whose state can be saved.
                self._rng = _Rng(_seed_from(None), "py")
            else:
                # A private copy: the user's generator object is never advanced by us.
                given = _as_rng(self._random_state)
                self._rng = _Rng(copy.deepcopy(given.source), given._kind)
        if restored:
            # Restored state: keep the position; rebuild the iterator from the new space.
            self._iter = None
        return True

    def suggest(self, trial_id: str) -> dict | str | None:
        if self._space is None:
            raise TuneError(
                "BasicVariantGenerator has no search space yet: it gets one from "
                "set_search_properties(metric, mode, param_space, num_samples=...)"
            )
        if self._finished:
            return FINISHED
        if self._max_concurrent and len(self._live) >= self._max_concurrent:
            return None
        config = self._next_config()
        if config is None:
            self._finished = True
            return FINISHED
        self._live.add(trial_id)
        self._evaluated[trial_id] = evaluated_params(self._space, config)
        return config

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        self._live.discard(trial_id)

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        self._max_concurrent = max_concurrent
        return True

    @property
    def counts_own_samples(self) -> bool:
        return True

    # -- what it has done -----------------------------------------------------------------
    def get_evaluated_params(self, trial_id: str) -> dict:
        """The sampled and grid-searched values of trial ``trial_id`` (flat ``"a/b"`` keys)."""
        return dict(self._evaluated[trial_id])

    @property
    def total_samples(self) -> int | None:
        """How many configs it suggests in all (``None`` when ``num_samples=-1``)."""
        if self._space is None:
            return None
        return count_variants(self._space, self._num_samples, self._points)

    @property
    def is_finished(self) -> bool:
        return self._finished

    # -- state ---------------------------------------------------------------------------------
    def get_state(self) -> dict:
        return {
            "points": copy.deepcopy(self._points),
            "max_concurrent": self._max_concurrent,
            "constant_grid_search": self._constant_grid_search,
            "space": self._space,
            "num_samples": self._num_samples,
            "repeat": self._repeat,
            "in_repeat": self._in_repeat,
            "variant": self._variant,
            "repeat_rng": copy.deepcopy(self._repeat_rng),  # a get_state() snapshot
            "rng": copy.deepcopy(self._rng.source) if self._rng is not None else None,
            "rng_kind": self._rng._kind if self._rng is not None else None,
            "live": sorted(self._live),
            "evaluated": dict(self._evaluated),  # entries are never changed once made
            "finished": self._finished,
        }

    def set_state(self, state: dict) -> None:
        self._points = copy.deepcopy(state["points"])
        self._max_concurrent = state["max_concurrent"]
        self._constant_grid_search = state["constant_grid_search"]
        self._space = state["space"]
        self._num_samples = state["num_samples"]
        self._repeat = state["repeat"]
        self._in_repeat = state["in_repeat"]
        self._variant = state["variant"]
        self._repeat_rng = copy.deepcopy(state["repeat_rng"])
        rng = state["rng"]
        self._rng = _Rng(copy.deepcopy(rng), state["rng_kind"]) if rng is not None else None
        self._iter = None  # rebuilt from repeat_rng at the next suggestion
        self._live = set(state["live"])
        self._evaluated = copy.deepcopy(state["evaluated"])
        self._finished = state["finished"]

    # -- internals ----------------------------------------------------------------------------
    def _has_repeat(self, index: int) -> bool:
        if self._num_samples == -1:
            return True
        return index < max(self._num_samples, len(self._points))

    def _make_iter(self, index: int, rng: _Rng) -> Iterator:
        assert self._space is not None
        spec = (
            apply_preset(self._space, self._points[index])
            if index < len(self._points)
            else self._space
        )
        return generate_variants(spec, self._constant_grid_search, rng)

    def _next_config(self) -> dict | None:
        assert self._rng is not None
        while True:
            if not self._in_repeat:
                if not self._has_repeat(self._repeat):
                    return None
                self._repeat_rng = self._rng.get_state()
                self._in_repeat = True
                self._variant = 0
                self._iter = self._make_iter(self._repeat, self._rng)
            if self._iter is None:
                # After a restore: replay this repetition from its saved random state, which
                # draws exactly what the original run drew, up to where it was.
                self._rng.set_state(self._repeat_rng)
                self._iter = self._make_iter(self._repeat, self._rng)
                for _ in range(self._variant):
                    next(self._iter, None)
            item = next(self._iter, None)
            if item is None:
                self._in_repeat = False
                self._iter = None
                self._repeat += 1
                continue
            self._variant += 1
            return item[1]
