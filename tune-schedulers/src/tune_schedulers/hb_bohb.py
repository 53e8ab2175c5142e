"""``HyperBandForBOHB``: the HyperBand variant that TuneBOHB (tune-search) pairs with.

As Ray Tune's: the same brackets as ``HyperBandScheduler`` but filled largest bracket first
(most exploration first, as in Falkner et al.'s BOHB), and a bracket is halved only once it
is filled and all its other trials are paused; when nothing runs and nothing may, the
brackets are processed with the trials they have (BOHB's searcher creates trials one at a
time, so brackets would otherwise wait for trials that never come).

Ray Tune's version also tells the searcher when a trial pauses and resumes
(``searcher.on_pause``/``on_unpause``, through the controller); tune's schedulers do not see
the controller or the searcher, so that part is not done here.
"""

from __future__ import annotations

from tune_schedulers.hyperband import HyperBandScheduler

__all__ = ["HyperBandForBOHB"]


class HyperBandForBOHB(HyperBandScheduler):
    """HyperBand for BOHB: largest bracket first, halving once a bracket is filled and paused.

    Takes the same arguments as :class:`~tune_schedulers.hyperband.HyperBandScheduler`.
    """

    _largest_bracket_first = True
    _wait_until_filled = True

    def debug_string(self) -> str:
        return super().debug_string().replace("Using HyperBand", "Using HyperBandForBOHB", 1)
