"""``HyperBandForBOHB``: the HyperBand variant that TuneBOHB (tune-search) pairs with.

As Ray Tune's: the same brackets as ``HyperBandScheduler`` but filled largest bracket first
(most exploration first, as in Falkner et al.'s BOHB), and a bracket is halved only once it
is filled and all its other trials are paused; when nothing runs and nothing may, the
brackets are processed with the trials they have (BOHB's searcher creates trials one at a
time, so brackets would otherwise wait for trials that never come).

The controller tells the searcher when a trial pauses and resumes (``on_pause`` /
``on_unpause``), which TuneBOHB needs. Search algorithms other than TuneBOHB (and random or
grid search) are refused: their suggestions would ignore the brackets' budgets.
"""

from __future__ import annotations

from typing import Any

from tune.errors import TuneValueError
from tune_schedulers.hyperband import HyperBandScheduler

__all__ = ["HyperBandForBOHB"]


class HyperBandForBOHB(HyperBandScheduler):
    """HyperBand for BOHB: largest bracket first, halving once a bracket is filled and paused.

    Takes the same arguments as :class:`~tune_schedulers.hyperband.HyperBandScheduler`.
    """

    _largest_bracket_first = True
    _wait_until_filled = True

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        from tune.search.basic_variant import BasicVariantGenerator

        # The searcher doing the work, inside any ConcurrencyLimiter / Repeater.
        searcher_class = (spec.get("searcher_classes") or (spec.get("searcher_class"),))[-1]
        if (
            searcher_class is not None
            and not issubclass(searcher_class, BasicVariantGenerator)
            # TuneBOHB (tune-search) declares that it pairs with this scheduler.
            and not getattr(searcher_class, "pairs_with_hyperband_for_bohb", False)
        ):
            raise TuneValueError(
                f"HyperBandForBOHB works only with the TuneBOHB search algorithm (or random "
                f"and grid search), not with search_alg={searcher_class.__name__}. Use "
                "TuneBOHB, or HyperBandScheduler / ASHAScheduler with this search algorithm."
            )
        return super().set_search_properties(metric, mode, **spec)

    def debug_string(self) -> str:
        return super().debug_string().replace("Using HyperBand", "Using HyperBandForBOHB", 1)
