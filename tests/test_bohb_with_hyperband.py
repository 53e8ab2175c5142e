"""Integration: TuneBOHB (tune-search[bohb]) with HyperBandForBOHB (tune-schedulers), the
pairing BOHB is: HyperBand's brackets pause and resume trials, the config generator learns
from every budget they reach."""

from __future__ import annotations

import pytest

pytest.importorskip("hpbandster", reason="pip install 'tune-search[bohb]'")
pytest.importorskip("ConfigSpace", reason="pip install 'tune-search[bohb]'")
pytest.importorskip("tune_schedulers", reason="pip install -e tune-schedulers")

import tune  # noqa: E402
from tune_schedulers import HyperBandForBOHB  # noqa: E402
from tune_search import TuneBOHB  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:hpbandster"),
    pytest.mark.filterwarnings("ignore:After 0.17 or January 2028:FutureWarning"),
]

MAX_T = 9
SPACE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0), "tag": "bohb"}


def curve(config):
    """A learning curve that flattens at the bowl (x - 0.3)^2 + (y - 0.3)^2; checkpoints
    every step and resumes from ``tune.get_checkpoint()`` after a pause."""
    ckpt = tune.get_checkpoint()
    start = ckpt.to_dict()["i"] if ckpt else 0
    bowl = (config["x"] - 0.3) ** 2 + (config["y"] - 0.3) ** 2
    for i in range(start + 1, MAX_T + 1):
        tune.report(
            {"loss": bowl + 1.0 / i, "i": i}, checkpoint=tune.Checkpoint.from_dict({"i": i})
        )


class RecordingBOHB(TuneBOHB):
    """TuneBOHB that records the pauses and resumes the controller tells it about."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.events: list[tuple[str, str]] = []

    def on_pause(self, trial_id):
        self.events.append(("pause", trial_id))
        super().on_pause(trial_id)

    def on_unpause(self, trial_id):
        self.events.append(("unpause", trial_id))
        super().on_unpause(trial_id)


def _fit(tmp_path, searcher, num_samples, name, **tune_kw):
    return tune.Tuner(
        curve,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=HyperBandForBOHB(time_attr="training_iteration", max_t=MAX_T),
            metric="loss",
            mode="min",
            num_samples=num_samples,
            **tune_kw,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name=name, verbose=0),
    ).fit()


def test_bohb_with_hyperband_pauses_resumes_and_learns_per_budget(tmp_path):
    searcher = RecordingBOHB(seed=0)
    grid = _fit(tmp_path, searcher, 22, "bohb", max_concurrent_trials=3)
    assert not grid.errors and len(grid) == 22
    # Paused trials resumed from their checkpoints: state and iteration count agree.
    assert all(r.metrics["i"] == r.metrics["training_iteration"] for r in grid)
    assert all(r.config["tag"] == "bohb" for r in grid)
    iters = [r.metrics["training_iteration"] for r in grid]
    assert min(iters) == 1 and max(iters) == MAX_T  # a bracket stopped losers at rung 1

    pauses = {t for kind, t in searcher.events if kind == "pause"}
    resumed = {t for kind, t in searcher.events if kind == "unpause"}
    assert pauses and resumed and resumed <= pauses
    assert not searcher.running and not searcher.paused and not searcher._trial_params

    # The generator saw results at HyperBand's budgets (max_t=9, eta=3: rungs 1, 3, 9)
    # only, where trials paused or ended, each trial once per budget.
    generator = searcher._generator
    assert {1, MAX_T} <= set(generator.configs) <= {1, 3, MAX_T}
    assert len(generator.configs[MAX_T]) == sum(it == MAX_T for it in iters)

    best = grid.get_best_result()
    assert best.metrics["loss"] == min(r.metrics["loss"] for r in grid)
    assert best.metrics["training_iteration"] == MAX_T
    assert best.metrics["loss"] < 1.0 / MAX_T + 0.1


def test_brackets_fill_while_their_first_trials_wait(tmp_path):
    grid = _fit(tmp_path, TuneBOHB(seed=0), 22, "filled", max_concurrent_trials=3)
    iters = sorted(r.metrics["training_iteration"] for r in grid)
    # The largest bracket (s=2: 9 trials at budget 1) keeps 3 for budget 3, 1 for 9, ...
    assert iters.count(1) >= 6 and sum(iters) < 0.7 * 22 * MAX_T


def test_by_registered_name_with_hyperband_for_bohb(tmp_path):
    searcher = tune.create_searcher("bohb")
    assert type(searcher) is TuneBOHB
    grid = _fit(tmp_path, searcher, 8, "by_name")
    assert not grid.errors and len(grid) == 8
    assert max(r.metrics["training_iteration"] for r in grid) == MAX_T

    grid = _fit(tmp_path, "bohb", 4, "by_string")  # TuneConfig(search_alg="bohb")
    assert not grid.errors and len(grid) == 4


def test_hyperband_for_bohb_accepts_tunebohb_only():
    assert TuneBOHB.pairs_with_hyperband_for_bohb is True
    from tune.errors import TuneValueError
    from tune.search.searcher import Searcher

    class Other(Searcher):
        pass

    scheduler = HyperBandForBOHB(max_t=MAX_T)
    assert scheduler.set_search_properties("loss", "min", searcher_class=TuneBOHB) is True
    with pytest.raises(TuneValueError, match="TuneBOHB"):
        HyperBandForBOHB(max_t=MAX_T).set_search_properties("loss", "min", searcher_class=Other)
