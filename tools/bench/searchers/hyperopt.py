"""HyperOpt's TPE: ``HyperOptSearch`` against hyperopt's own ask/tell loop.

The native loop is what ``hyperopt.fmin`` does per evaluation, without ``fmin``: reserve a
trial id, ``tpe.suggest`` on the ``Trials`` against a ``Domain``, insert the document, run
the objective, write the loss into the document. Same TPE settings as the adapter's defaults
(``n_startup_jobs=20``, ``gamma=0.25``) and the same seeding (a NumPy ``Generator`` seeded
once, one draw below 2**31 - 1 per ``tpe.suggest`` call, as ``fmin`` draws them).
"""

from __future__ import annotations

from functools import partial

import hyperopt
import numpy as np
from hyperopt import hp, tpe
from hyperopt.utils import coarse_utcnow

from searchers.common import LoopResult, Stopwatch
from searchers.problems import Problem
from tune_search import HyperOptSearch

LIBRARY = "hyperopt"


def make_adapter(seed: int) -> HyperOptSearch:
    return HyperOptSearch(random_state_seed=seed)


def native_loop(problem: Problem, seed: int, budget: int) -> LoopResult:
    # Setup is not timed, as adapter_loop does not time set_search_properties.
    space = {name: hp.uniform(name, lo, hi) for name, (lo, hi) in problem.bounds.items()}
    domain = hyperopt.Domain(lambda config: config, space)
    trials = hyperopt.Trials()
    algo = partial(tpe.suggest, n_startup_jobs=20, gamma=0.25)
    rstate = np.random.default_rng(seed)
    watch = Stopwatch()
    best = float("inf")
    for _ in range(budget):
        with watch:
            new_ids = trials.new_trial_ids(1)
            trials.refresh()
            docs = algo(new_ids, domain, trials, int(rstate.integers(2**31 - 1)))
            trials.insert_trial_docs(docs)
            trials.refresh()
            doc = trials.trials[-1]
            doc["state"] = hyperopt.JOB_STATE_RUNNING
            doc["book_time"] = doc["refresh_time"] = coarse_utcnow()
            config = hyperopt.base.spec_from_misc(doc["misc"])
        value = problem.fn(config)
        best = min(best, value)
        with watch:
            doc["state"] = hyperopt.JOB_STATE_DONE
            doc["result"] = {"loss": value, "status": hyperopt.STATUS_OK}
            doc["refresh_time"] = coarse_utcnow()
            trials.refresh()
    return LoopResult(best, watch.spent / budget)
