"""The searcher conformance suite: checks a search algorithm against what it declares.

Every adapter in tune-search runs it, and so can a third-party searcher. Subclass
``SearcherConformance`` in a pytest module and say how to build the searcher::

    from tune.testing.searcher_conformance import SearcherConformance

    class TestMySearch(SearcherConformance):
        registered_name = "my_search"        # optional: also tested through create_searcher

        def make_searcher(self, **kwargs):
            return MySearch(**kwargs)

The searcher's class attribute ``supports`` (a ``tune.search.flat_space.SearcherSupport``)
is its declaration. For every feature it declares, the suite checks that suggestions honour
it (bounds, integer types, log ranges, multiples of ``q``, categories returned exactly,
nested dicts, conditional branches); for every feature it does not declare, that the search
space is refused up front with an error naming the parameter. Then real runs through
``tune.Tuner``: alone, by name, under ``ConcurrencyLimiter`` and ``Repeater``, with
``points_to_evaluate`` and ``evaluated_rewards`` where declared, with errored and
early-stopped trials, multi-objective where declared, and save/restore (``save``/``restore``
and an interrupted experiment restored with ``Tuner.restore``).

``make_searcher(**kwargs)`` receives ``points_to_evaluate=``/``evaluated_rewards=`` in the
tests that need them and nothing else: metric, mode and space come from ``TuneConfig`` and
``param_space`` (``set_search_properties``), as a user would pass them. Override
``num_samples`` or ``seeded_kwargs`` (extra constructor arguments, e.g. a seed) as needed.
"""

from __future__ import annotations

import math
import os
import pickle
from typing import Any, ClassVar

import pytest

import tune
from tune.errors import TuneValueError
from tune.search.flat_space import SearcherSupport
from tune.search.searcher import FINISHED, Searcher

__all__ = ["SearcherConformance", "SPACES"]

#: one search space per declarable feature, with a check every suggested config must pass
SPACES: dict[str, tuple[dict, Any]] = {}


def _space(feature: str, space: dict):
    def register(check):
        SPACES[feature] = (space, check)
        return check

    return register


@_space("float", {"x": tune.uniform(-2.0, 3.0)})
def _check_float(config):
    assert isinstance(config["x"], float) and -2.0 <= config["x"] <= 3.0, config


@_space("integer", {"n": tune.randint(1, 10)})
def _check_integer(config):
    n = config["n"]
    assert isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 9, config


@_space("log", {"lr": tune.loguniform(1e-4, 1.0), "units": tune.lograndint(1, 100)})
def _check_log(config):
    assert isinstance(config["lr"], float) and 1e-4 <= config["lr"] <= 1.0, config
    assert isinstance(config["units"], int) and 1 <= config["units"] <= 99, config


@_space("quantized", {"q": tune.quniform(0.0, 1.0, 0.25), "k": tune.qrandint(0, 20, 5)})
def _check_quantized(config):
    q, k = config["q"], config["k"]
    assert 0.0 <= q <= 1.0 and abs(q / 0.25 - round(q / 0.25)) < 1e-6, config
    assert isinstance(k, int) and 0 <= k <= 20 and k % 5 == 0, config


@_space(
    "categorical",
    {"c": tune.choice(["a", "b", "c"]), "v": tune.choice([[1, 2], {"k": "v"}, None, 3.5])},
)
def _check_categorical(config):
    assert config["c"] in ("a", "b", "c"), config
    assert config["v"] in ([1, 2], {"k": "v"}, None, 3.5), config
    if isinstance(config["v"], list):
        assert config["v"] == [1, 2]


@_space("normal", {"z": tune.randn(0.0, 1.0)})
def _check_normal(config):
    assert isinstance(config["z"], float) and math.isfinite(config["z"]), config


@_space(
    "nested", {"model": {"width": tune.uniform(1.0, 5.0), "depth": 3}, "x": tune.uniform(0, 1)}
)
def _check_nested(config):
    assert set(config) == {"model", "x"} and config["model"]["depth"] == 3, config
    assert 1.0 <= config["model"]["width"] <= 5.0 and 0 <= config["x"] <= 1, config


@_space(
    "conditional",
    {
        "opt": tune.choice(
            [{"name": "sgd", "lr": tune.uniform(0.0, 1.0)}, {"name": "adam"}]
        )
    },
)
def _check_conditional(config):
    opt = config["opt"]
    if opt["name"] == "sgd":
        assert set(opt) == {"name", "lr"} and 0.0 <= opt["lr"] <= 1.0, config
    else:
        assert opt == {"name": "adam"}, config


#: what every space above needs besides its feature (a quantized integer is an integer...)
_REQUIRES = {
    "log": ("float", "integer"),
    "quantized": ("float", "integer"),
    "categorical": (),
    "normal": ("float",),
    "nested": ("float",),
    "conditional": ("categorical", "float", "nested"),
}

BASE_SPACE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)}


def objective(config: dict) -> None:
    """A smooth bowl with its minimum at x = y = 0.3 (``loss``), reported twice."""
    loss = (config["x"] - 0.3) ** 2 + (config["y"] - 0.3) ** 2
    if config.get("fail"):
        raise RuntimeError("this trial fails on purpose")
    for step in range(2):
        tune.report({"loss": loss + (1 - step) * 0.01, "gain": -loss})


def failing_objective(config: dict) -> None:
    if config["x"] > 0.5:
        raise RuntimeError("this trial fails on purpose")
    objective(config)


class _CrashOnce(tune.Callback):
    def __init__(self, after: int, flag: str) -> None:
        self.after, self.flag, self.seen = after, flag, 0

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.seen += 1
        if self.seen == self.after and not os.path.exists(self.flag):
            open(self.flag, "w").close()
            raise RuntimeError("driver crash (conformance test)")


class SearcherConformance:
    """Base class of a searcher's conformance tests (see the module docstring)."""

    #: the name the searcher is registered under (``tune.create_searcher``), if any
    registered_name: ClassVar[str | None] = None
    #: trials per run
    num_samples: ClassVar[int] = 6
    #: suggestions drawn per supported feature
    draws: ClassVar[int] = 8

    def make_searcher(self, **kwargs: Any) -> Searcher:
        raise NotImplementedError("subclasses return a new searcher: make_searcher(**kwargs)")

    # -- helpers -------------------------------------------------------------------------------
    @property
    def supports(self) -> SearcherSupport:
        supports = getattr(type(self.make_searcher()), "supports", None)
        assert isinstance(supports, SearcherSupport), (
            "the searcher class must declare `supports = SearcherSupport(...)`"
        )
        return supports

    def _configured(self, space: dict, metric: Any = "loss", mode: Any = "min", **kw: Any):
        searcher = self.make_searcher(**kw)
        accepted = searcher.set_search_properties(metric, mode, space)
        assert accepted is not False, "set_search_properties refused a param_space"
        return searcher

    def _tuner(self, tmp_path, searcher, trainable=objective, space=None, **tune_kw):
        tune_kw.setdefault("metric", "loss")
        tune_kw.setdefault("mode", "min")
        tune_kw.setdefault("num_samples", self.num_samples)
        run_kw = tune_kw.pop("run_kw", {})
        return tune.Tuner(
            trainable,
            param_space=BASE_SPACE if space is None else space,
            tune_config=tune.TuneConfig(search_alg=searcher, **tune_kw),
            run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, **run_kw),
        )

    # -- the declaration -----------------------------------------------------------------------
    def test_declares_what_it_supports(self):
        assert self.supports.names(), "a searcher that supports nothing"

    @pytest.mark.parametrize("feature", sorted(SPACES))
    def test_suggestions_honour_each_supported_feature(self, feature):
        supports = self.supports
        if not getattr(supports, feature) or not all(
            getattr(supports, need) for need in _REQUIRES.get(feature, ("float",))
            if need != feature
        ):
            pytest.skip(f"{feature} is not declared")
        space, check = SPACES[feature]
        searcher = self._configured(space)
        answered = 0
        for i in range(self.draws):
            config = searcher.suggest(f"t{i}")
            # None is allowed (e.g. a duplicate skipped), FINISHED ends the draws
            if config is None or config == FINISHED:
                continue
            assert isinstance(config, dict), f"suggest returned {config!r}"
            check(config)
            answered += 1
            searcher.on_trial_complete(f"t{i}", {"loss": float(i % 3), "training_iteration": 1})
        assert answered >= 1, "the searcher suggested nothing"

    @pytest.mark.parametrize("feature", sorted(SPACES))
    def test_each_undeclared_feature_is_refused_up_front(self, feature):
        if getattr(self.supports, feature):
            pytest.skip(f"{feature} is declared")
        space, _ = SPACES[feature]
        searcher = self.make_searcher()
        with pytest.raises((TuneValueError, ValueError)) as info:
            searcher.set_search_properties("loss", "min", space)
        assert any(name in str(info.value) for name in ("'x'", "'n'", "'lr'", "'units'", "'q'",
                                                        "'k'", "'c'", "'v'", "'z'", "'model",
                                                        "'opt'")), str(info.value)

    def test_grid_search_is_refused(self):
        searcher = self.make_searcher()
        with pytest.raises((TuneValueError, ValueError), match="grid"):
            searcher.set_search_properties(
                "loss", "min", {"x": tune.grid_search([0.1, 0.2]), "y": 0.3}
            )

    # -- real runs ------------------------------------------------------------------------------
    def test_runs_end_to_end_with_metric_and_mode_from_tune_config(self, tmp_path):
        results = self._tuner(tmp_path, self.make_searcher()).fit()
        assert not results.errors and len(results) == self.num_samples
        best = results.get_best_result()
        assert best.metrics["loss"] == min(r.metrics["loss"] for r in results)
        for r in results:
            assert 0.0 <= r.config["x"] <= 1.0 and 0.0 <= r.config["y"] <= 1.0

    def test_runs_by_registered_name(self, tmp_path):
        if not self.registered_name:
            pytest.skip("no registered name")
        searcher = tune.create_searcher(self.registered_name)
        assert type(searcher) is type(self.make_searcher())
        results = self._tuner(tmp_path, searcher).fit()
        assert not results.errors and len(results) == self.num_samples

    def test_runs_under_concurrency_limiter(self, tmp_path):
        from tune.search import ConcurrencyLimiter

        limited = ConcurrencyLimiter(self.make_searcher(), max_concurrent=2)
        results = self._tuner(tmp_path, limited).fit()
        assert not results.errors and len(results) == self.num_samples

    def test_runs_under_repeater(self, tmp_path):
        from tune.search import Repeater

        repeated = Repeater(self.make_searcher(), repeat=2)
        results = self._tuner(tmp_path, repeated, num_samples=4).fit()
        assert not results.errors and len(results) == 4
        configs = sorted(
            (r.config["x"], r.config["y"]) for r in results
        )
        assert configs[0] == configs[1] and configs[2] == configs[3]

    def test_points_to_evaluate_come_first(self, tmp_path):
        if not self.supports.points_to_evaluate:
            pytest.skip("points_to_evaluate is not declared")
        points = [{"x": 0.3, "y": 0.3}, {"x": 0.9, "y": 0.1}]
        searcher = self._configured(BASE_SPACE, points_to_evaluate=points)
        first = [searcher.suggest("p0"), searcher.suggest("p1")]
        for got, want in zip(first, points):
            assert got["x"] == pytest.approx(want["x"]) and got["y"] == pytest.approx(want["y"])
        results = self._tuner(
            tmp_path, self.make_searcher(points_to_evaluate=points)
        ).fit()
        assert not results.errors
        assert results.get_best_result().metrics["loss"] == pytest.approx(0.0)

    def test_evaluated_rewards_are_not_run_again(self, tmp_path):
        if not self.supports.evaluated_rewards:
            pytest.skip("evaluated_rewards is not declared")
        points = [{"x": 0.3, "y": 0.3}, {"x": 0.9, "y": 0.1}]
        searcher = self.make_searcher(points_to_evaluate=points, evaluated_rewards=[0.0, 0.4])
        results = self._tuner(tmp_path, searcher).fit()
        assert not results.errors and len(results) == self.num_samples
        # The points' rewards are known already: no trial runs exactly those points.
        for r in results:
            assert (r.config["x"], r.config["y"]) not in ((0.3, 0.3), (0.9, 0.1))

    def test_errored_trials_do_not_break_the_search(self, tmp_path):
        results = self._tuner(tmp_path, self.make_searcher(), trainable=failing_objective).fit()
        assert len(results) == self.num_samples
        for r in results:
            assert (r.error is not None) == (r.config["x"] > 0.5)

    def test_early_stopped_trials_do_not_break_the_search(self, tmp_path):
        from tune.stopper import MaximumIterationStopper

        results = self._tuner(
            tmp_path, self.make_searcher(), run_kw={"stop": MaximumIterationStopper(1)}
        ).fit()
        assert not results.errors and len(results) == self.num_samples
        assert all(r.metrics["training_iteration"] == 1 for r in results)

    def test_multi_objective(self, tmp_path):
        if not self.supports.multi_objective:
            pytest.skip("multi_objective is not declared")
        searcher = self.make_searcher()
        accepted = searcher.set_search_properties(["loss", "gain"], ["min", "max"], BASE_SPACE)
        assert accepted is not False
        for i in range(3):
            config = searcher.suggest(f"m{i}")
            assert isinstance(config, dict)
            searcher.on_trial_complete(f"m{i}", {"loss": config["x"], "gain": config["y"]})

    def test_save_and_restore(self, tmp_path):
        searcher = self._configured(BASE_SPACE)
        for i in range(3):
            config = searcher.suggest(f"s{i}")
            searcher.on_trial_complete(f"s{i}", {"loss": config["x"] + config["y"]})
        path = str(tmp_path / "searcher.pkl")
        searcher.save(path)
        fresh = self.make_searcher()
        fresh.restore(path)
        for i in range(3, 6):
            config = fresh.suggest(f"s{i}")
            assert isinstance(config, dict) and 0.0 <= config["x"] <= 1.0, config
            fresh.on_trial_complete(f"s{i}", {"loss": config["x"] + config["y"]})
        state = fresh.get_state()
        pickle.loads(pickle.dumps(state))  # the experiment state pickles it too

    def test_interrupted_experiment_restores(self, tmp_path):
        crash = _CrashOnce(after=3, flag=str(tmp_path / "crashed"))
        tuner = self._tuner(
            tmp_path, self.make_searcher(), run_kw={"name": "conf", "callbacks": [crash]}
        )
        with pytest.raises(RuntimeError, match="driver crash"):
            tuner.fit()
        restored = tune.Tuner.restore(str(tmp_path / "conf"), trainable=objective)
        results = restored.fit()
        assert not results.errors and len(results) == self.num_samples

    def test_finished_is_a_valid_answer(self):
        # A searcher may end the search itself; anything else must be a dict or None.
        searcher = self._configured(BASE_SPACE)
        answer = searcher.suggest("f0")
        assert answer is None or answer == FINISHED or isinstance(answer, dict)
