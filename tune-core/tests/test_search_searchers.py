"""Searchers driven through a real pluggy plugin manager with tune's hook specs.

BasicVariantGenerator (grid x num_samples, points_to_evaluate, limits, save/restore),
the Searcher base hookimpls (num_samples cap, state envelope), ConcurrencyLimiter, Repeater.
"""

from __future__ import annotations

import math
import pickle

import cloudpickle
import pluggy
import pytest

import tune
import tune.hookspecs
from tune.errors import PluginNotInstalledError, TuneError, TuneTypeError, TuneValueError
from tune.search import (
    BasicVariantGenerator,
    ConcurrencyLimiter,
    Repeater,
    Searcher,
)
from tune.search.repeater import TRIAL_INDEX

FINISHED = Searcher.FINISHED


def make_pm(searcher):
    pm = pluggy.PluginManager("tune")
    pm.add_hookspecs(tune.hookspecs)
    pm.register(searcher)
    return pm


def configure(pm, space, num_samples=1, metric=None, mode=None):
    return pm.hook.tune_searcher_configure(
        metric=metric, mode=mode, config=space, spec={"num_samples": num_samples}
    )


def drain(pm, limit=10_000, complete=True, prefix="t"):
    """Ask for suggestions until FINISHED (completing each trial at once); returns configs."""
    out = []
    for i in range(limit):
        trial_id = f"{prefix}{i}"
        suggestion = pm.hook.tune_suggest(trial_id=trial_id)
        if suggestion == FINISHED:
            return out
        assert suggestion is not None
        out.append(suggestion)
        if complete:
            pm.hook.tune_searcher_on_trial_complete(trial_id=trial_id, result={}, error=False)
    raise AssertionError("searcher never finished")


class Counter(Searcher):
    """Suggests {"i": 0}, {"i": 1}, ... and records what it hears."""

    def __init__(self, metric=None, mode=None):
        super().__init__(metric=metric, mode=mode)
        self.n = 0
        self.completed = []
        self.results = []
        self.space = None

    def set_search_properties(self, metric, mode, config, **spec):
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        self.space = config
        return True

    def suggest(self, trial_id):
        self.n += 1
        return {"i": self.n - 1}

    def on_trial_result(self, trial_id, result):
        self.results.append((trial_id, result))

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, result, error))


# -- BasicVariantGenerator -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "space, num_samples, expected",
    [
        ({"x": tune.choice([0, 1, 2])}, 13, 13),
        ({"x": tune.grid_search([1, 2, 3, 4])}, 1, 4),
        ({"x": tune.grid_search([1, 2, 3])}, 2, 6),
        ({"x": tune.grid_search([1, 2, 3]), "y": tune.grid_search(["a", "b", "c"])}, 1, 9),
        ({"x": tune.grid_search([1, 2, 3]), "y": tune.grid_search(["a", "b", "c"])}, 5, 45),
        ({"x": tune.sample_from(lambda spec: 1), "y": tune.grid_search([1, 2, 3])}, 2, 6),
        ({"c": 1}, 3, 3),
        ({"x": tune.uniform(0, 1)}, 0, 0),
    ],
)
def test_bvg_grid_times_num_samples(space, num_samples, expected):
    bvg = BasicVariantGenerator(random_state=0)
    pm = make_pm(bvg)
    assert configure(pm, space, num_samples) is True
    assert bvg.total_samples == expected
    assert len(drain(pm)) == expected
    assert pm.hook.tune_suggest(trial_id="again") == FINISHED


def test_bvg_repeats_grid_resampling_random_values():
    bvg = BasicVariantGenerator(random_state=1)
    pm = make_pm(bvg)
    configure(pm, {"g": tune.grid_search([1, 2]), "u": tune.uniform(0, 1)}, num_samples=3)
    out = drain(pm)
    assert [c["g"] for c in out] == [1, 2] * 3
    assert len({c["u"] for c in out}) == 6


def test_bvg_infinite_num_samples():
    bvg = BasicVariantGenerator(random_state=0)
    pm = make_pm(bvg)
    configure(pm, {"x": tune.uniform(0, 1)}, num_samples=-1)
    assert bvg.total_samples is None
    for i in range(500):
        assert isinstance(pm.hook.tune_suggest(trial_id=f"t{i}"), dict)


def test_bvg_points_to_evaluate_first_and_filled_from_space():
    bvg = BasicVariantGenerator(
        points_to_evaluate=[{"a": 0.5}, {"a": 0.25, "m": {"w": 8}}], random_state=2
    )
    pm = make_pm(bvg)
    space = {"a": tune.uniform(0, 1), "m": {"w": tune.choice([1, 2])}, "c": "const"}
    configure(pm, space, num_samples=4)
    out = drain(pm)
    assert len(out) == 4
    assert out[0]["a"] == 0.5 and out[0]["m"]["w"] in (1, 2) and out[0]["c"] == "const"
    assert out[1] == {"a": 0.25, "m": {"w": 8}, "c": "const"}
    assert all(0 <= c["a"] <= 1 for c in out[2:])


def test_bvg_points_expand_open_grid_and_outnumber_num_samples():
    bvg = BasicVariantGenerator(points_to_evaluate=[{"x": 9}, {"x": 8}])
    pm = make_pm(bvg)
    configure(pm, {"x": tune.uniform(0, 1), "g": tune.grid_search([1, 2])}, num_samples=1)
    assert [(c["x"], c["g"]) for c in drain(pm)] == [(9, 1), (9, 2), (8, 1), (8, 2)]


def test_bvg_bad_points_fail_at_configure():
    bvg = BasicVariantGenerator(points_to_evaluate=[{"nope": 1}])
    pm = make_pm(bvg)
    with pytest.raises(TuneValueError, match="'nope'"):
        configure(pm, {"x": tune.uniform(0, 1)})
    with pytest.raises(TuneTypeError, match="points_to_evaluate"):
        BasicVariantGenerator(points_to_evaluate={"x": 1})
    with pytest.raises(TuneValueError, match="max_concurrent=-1"):
        BasicVariantGenerator(max_concurrent=-1)
    with pytest.raises(TuneTypeError, match="random_state"):
        BasicVariantGenerator(random_state="x")


def test_bvg_max_concurrent_limits_live_trials():
    bvg = BasicVariantGenerator(max_concurrent=2, random_state=0)
    pm = make_pm(bvg)
    configure(pm, {"x": tune.grid_search([1, 2, 3])})
    assert pm.hook.tune_suggest(trial_id="a")["x"] == 1
    assert pm.hook.tune_suggest(trial_id="b")["x"] == 2
    assert pm.hook.tune_suggest(trial_id="c") is None
    pm.hook.tune_searcher_on_trial_complete(trial_id="a", result=None, error=True)
    assert pm.hook.tune_suggest(trial_id="c")["x"] == 3
    assert pm.hook.tune_suggest(trial_id="d") is None  # full again, not yet FINISHED
    pm.hook.tune_searcher_on_trial_complete(trial_id="b", result={}, error=False)
    assert pm.hook.tune_suggest(trial_id="d") == FINISHED


def test_bvg_without_space_raises():
    with pytest.raises(TuneError, match="set_search_properties"):
        BasicVariantGenerator().suggest("t0")


def test_bvg_keeps_evaluated_params_per_trial():
    bvg = BasicVariantGenerator(random_state=0)
    pm = make_pm(bvg)
    configure(pm, {"lr": tune.uniform(0, 1), "m": {"w": tune.grid_search([8, 16])}, "k": 1})
    config = pm.hook.tune_suggest(trial_id="t0")
    assert bvg.get_evaluated_params("t0") == {"lr": config["lr"], "m/w": 8}


def test_bvg_random_state_reproducible_and_global_numpy_seed():
    space = {"a": tune.uniform(0, 1), "g": tune.grid_search([1, 2]), "f": tune.randn()}

    def run(**kw):
        pm = make_pm(BasicVariantGenerator(**kw))
        configure(pm, space, num_samples=3)
        return drain(pm)

    assert run(random_state=5) == run(random_state=5)
    assert run(random_state=5) != run(random_state=6)
    np = pytest.importorskip("numpy")
    np.random.seed(3)
    first = run()
    np.random.seed(3)
    assert run() == first
    assert run(random_state=np.random.default_rng(1)) == run(random_state=np.random.default_rng(1))


SPACE = {
    "a": tune.uniform(0, 1),
    "g": tune.grid_search([1, 2, 3]),
    "f": tune.sample_from(lambda spec: spec.config.a + spec.config.g),
    "n": {"c": tune.choice(["x", "y"]), "k": [tune.randint(0, 100), 4]},
}


@pytest.mark.parametrize("stop_after", [0, 1, 2, 3, 4, 7])
def test_bvg_save_restore_continues_the_same_sequence(tmp_path, stop_after):
    def fresh(**kw):
        bvg = BasicVariantGenerator(points_to_evaluate=[{"a": 0.5}], random_state=9, **kw)
        return bvg, make_pm(bvg)

    reference, pm = fresh()
    configure(pm, SPACE, num_samples=4)
    expected = drain(pm)
    assert len(expected) == 12

    original, pm = fresh()
    configure(pm, SPACE, num_samples=4)
    got = [pm.hook.tune_suggest(trial_id=f"t{i}") for i in range(stop_after)]
    path = tmp_path / "searcher.pkl"
    original.save(str(path))
    # The state holds the space's lambdas: it travels with cloudpickle, as save() writes it.
    hook_state = pickle.loads(cloudpickle.dumps(pm.hook.tune_searcher_get_state()))

    restored = BasicVariantGenerator()
    restored.restore(str(path))
    rest = drain(make_pm(restored), prefix="r")
    assert got + rest == expected

    # Through the hooks, state first and then configure (as a controller restoring would).
    again = BasicVariantGenerator()
    pm2 = make_pm(again)
    assert pm2.hook.tune_searcher_set_state(state=hook_state) is True
    configure(pm2, SPACE, num_samples=4)
    assert got + drain(pm2, prefix="s") == expected


def test_bvg_restore_with_numpy_generator(tmp_path):
    np = pytest.importorskip("numpy")
    bvg = BasicVariantGenerator(random_state=np.random.default_rng(0))
    pm = make_pm(bvg)
    configure(pm, {"a": tune.uniform(0, 1)}, num_samples=6)
    head = [pm.hook.tune_suggest(trial_id=f"t{i}") for i in range(2)]
    bvg.save(str(tmp_path / "s.pkl"))
    tail = drain(pm, prefix="x")
    other = BasicVariantGenerator()
    other.restore(str(tmp_path / "s.pkl"))
    assert drain(make_pm(other)) == tail
    assert len(head + tail) == 6


def test_bvg_registered_name():
    searcher = tune.search.create_searcher("random")
    assert isinstance(searcher, BasicVariantGenerator)
    assert isinstance(
        tune.create_searcher("variant_generator", random_state=1), BasicVariantGenerator
    )


# -- Searcher base ----------------------------------------------------------------------------


def test_base_hookimpls_drive_a_custom_searcher():
    searcher = Counter()
    pm = make_pm(searcher)
    assert configure(pm, {"x": 1}, num_samples=3, metric="loss", mode="min") is True
    assert searcher.space == {"x": 1} and searcher.metric == "loss" and searcher.mode == "min"
    out = drain(pm)
    assert out == [{"i": 0}, {"i": 1}, {"i": 2}]  # capped at num_samples
    pm.hook.tune_searcher_on_trial_result(trial_id="t0", result={"loss": 1})
    assert searcher.results == [("t0", {"loss": 1})]
    assert searcher.completed[0] == ("t0", {}, False)


def test_base_num_samples_minus_one_is_unlimited():
    pm = make_pm(Counter())
    configure(pm, {}, num_samples=-1)
    assert [pm.hook.tune_suggest(trial_id=str(i))["i"] for i in range(50)] == list(range(50))


def test_base_state_envelope_keeps_the_suggestion_count(tmp_path):
    searcher = Counter()
    pm = make_pm(searcher)
    configure(pm, {}, num_samples=5)
    for i in range(3):
        pm.hook.tune_suggest(trial_id=str(i))
    state = pickle.loads(pickle.dumps(pm.hook.tune_searcher_get_state()))
    other = Counter()
    pm2 = make_pm(other)
    pm2.hook.tune_searcher_set_state(state=state)
    assert other.n == 3
    assert drain(pm2) == [{"i": 3}, {"i": 4}]
    # Default get_state/set_state: the attributes, through save/restore.
    searcher.save(str(tmp_path / "c.pkl"))
    third = Counter()
    third.restore(str(tmp_path / "c.pkl"))
    assert third.n == 3 and third.space == {}
    searcher.save_to_dir(str(tmp_path), "abc")
    fourth = Counter()
    fourth.restore_from_dir(str(tmp_path))
    assert fourth.n == 3
    with pytest.raises(TuneError, match="searcher-state"):
        Counter().restore_from_dir(str(tmp_path / "nothing"))


def test_old_style_set_search_properties_without_spec():
    class Old(Counter):
        def set_search_properties(self, metric, mode, config):
            self.space = config
            return True

    searcher = Old()
    assert configure(make_pm(searcher), {"y": 2}) is True
    assert searcher.space == {"y": 2}


def test_base_defaults():
    class Plain(Searcher):
        def suggest(self, trial_id):
            return {}

    plain = Plain()
    pm = make_pm(plain)
    assert configure(pm, {"x": tune.uniform(0, 1)}) is False  # ignores param_space
    assert plain.set_max_concurrency(3) is False
    with pytest.raises(NotImplementedError):
        plain.add_evaluated_point({"x": 1}, 1.0)
    with pytest.raises(NotImplementedError):
        Searcher().suggest("t")
    with pytest.raises(TuneValueError, match="mode='best'"):
        Searcher(metric="loss", mode="best")
    with pytest.raises(TuneValueError, match="metric"):
        Searcher(metric="loss", mode=["min", "max"])
    Searcher(metric=["a", "b"], mode=["min", "max"])


def test_add_evaluated_trials_feeds_points():
    from tune.trial import TERMINATED, Trial

    class Learner(Counter):
        def __init__(self):
            super().__init__()
            self.points = []

        def add_evaluated_point(
            self, parameters, value, error=False, pruned=False, intermediate_values=None
        ):
            self.points.append((parameters, value, error, pruned))

    done = Trial("a", {"x": 1})
    done.status = TERMINATED
    done.last_result = {"loss": 0.5, "done": True}
    stopped = Trial("b", {"x": 2})
    stopped.status = TERMINATED
    stopped.last_result = {"loss": 0.7}
    learner = Learner()
    learner.add_evaluated_trials([done, stopped, Trial("c", {"x": 3})], "loss")
    assert learner.points == [({"x": 1}, 0.5, False, False), ({"x": 2}, 0.7, False, True)]
    with pytest.warns(UserWarning, match="loss"):
        learner.add_evaluated_trials(Trial("d", {}), "loss")


# -- ConcurrencyLimiter -------------------------------------------------------------------------


def test_limiter_caps_live_trials():
    inner = Counter()
    limiter = ConcurrencyLimiter(inner, max_concurrent=2)
    pm = make_pm(limiter)
    configure(pm, {}, num_samples=10, metric="m", mode="max")
    assert limiter.metric == "m" and limiter.mode == "max"
    assert pm.hook.tune_suggest(trial_id="a") == {"i": 0}
    assert pm.hook.tune_suggest(trial_id="b") == {"i": 1}
    assert pm.hook.tune_suggest(trial_id="c") is None
    pm.hook.tune_searcher_on_trial_result(trial_id="a", result={"m": 1})
    assert inner.results == [("a", {"m": 1})]
    pm.hook.tune_searcher_on_trial_complete(trial_id="a", result={"m": 2}, error=False)
    assert inner.completed == [("a", {"m": 2}, False)]
    assert pm.hook.tune_suggest(trial_id="c") == {"i": 2}
    with pytest.raises(TuneValueError, match="trial_id='c'"):
        limiter.suggest("c")


def test_limiter_batch_holds_completions_until_all_done():
    inner = Counter()
    limiter = ConcurrencyLimiter(inner, max_concurrent=3, batch=True)
    pm = make_pm(limiter)
    configure(pm, {}, num_samples=10)
    for trial_id in "abc":
        pm.hook.tune_suggest(trial_id=trial_id)
    pm.hook.tune_searcher_on_trial_complete(trial_id="a", result={"m": 1}, error=False)
    pm.hook.tune_searcher_on_trial_complete(trial_id="b", result={"m": 2}, error=False)
    assert inner.completed == []
    assert pm.hook.tune_suggest(trial_id="d") is None  # the batch is still live
    pm.hook.tune_searcher_on_trial_complete(trial_id="c", result=None, error=True)
    assert [c[0] for c in inner.completed] == ["a", "b", "c"]
    assert pm.hook.tune_suggest(trial_id="d") == {"i": 3}


def test_limiter_delegates_to_a_self_limiting_searcher_and_its_count():
    bvg = BasicVariantGenerator(random_state=0)
    limiter = ConcurrencyLimiter(bvg, max_concurrent=1)
    assert bvg._max_concurrent == 1
    pm = make_pm(limiter)
    configure(pm, {"g": tune.grid_search([1, 2, 3])}, num_samples=2)
    assert pm.hook.tune_suggest(trial_id="a")["g"] == 1
    assert pm.hook.tune_suggest(trial_id="b") is None
    pm.hook.tune_searcher_on_trial_complete(trial_id="a", result={}, error=False)
    assert len(drain(pm, prefix="z")) == 5  # grid x num_samples, not capped at num_samples


def test_limiter_state_round_trip_includes_inner():
    limiter = ConcurrencyLimiter(Counter(), max_concurrent=2)
    pm = make_pm(limiter)
    configure(pm, {}, num_samples=4)
    pm.hook.tune_suggest(trial_id="a")
    pm.hook.tune_suggest(trial_id="b")
    state = pickle.loads(pickle.dumps(pm.hook.tune_searcher_get_state()))
    other = ConcurrencyLimiter(Counter(), max_concurrent=5)
    pm2 = make_pm(other)
    pm2.hook.tune_searcher_set_state(state=state)
    assert other.live_trials == {"a", "b"} and other.max_concurrent == 2
    assert other.searcher.n == 2
    assert pm2.hook.tune_suggest(trial_id="c") is None
    pm2.hook.tune_searcher_on_trial_complete(trial_id="a", result={}, error=False)
    assert drain(pm2, prefix="n") == [{"i": 2}, {"i": 3}]


def test_limiter_bad_arguments():
    with pytest.raises(TuneValueError, match="max_concurrent=0"):
        ConcurrencyLimiter(Counter(), max_concurrent=0)
    with pytest.raises(TuneTypeError, match="searcher"):
        ConcurrencyLimiter(object(), max_concurrent=1)


# -- Repeater ----------------------------------------------------------------------------------


def test_repeater_repeats_configs_and_reports_the_mean():
    inner = Counter(metric="loss", mode="min")
    repeater = Repeater(inner, repeat=3)
    pm = make_pm(repeater)
    configure(pm, {}, num_samples=6)
    trial_ids = [f"t{i}" for i in range(6)]
    configs = [pm.hook.tune_suggest(trial_id=t) for t in trial_ids]
    assert pm.hook.tune_suggest(trial_id="t6") == FINISHED
    assert [c["i"] for c in configs] == [0, 0, 0, 1, 1, 1]
    assert [c[TRIAL_INDEX] for c in configs] == [0, 1, 2, 0, 1, 2]
    assert inner.n == 2
    for trial_id, loss in zip(trial_ids[:3], [1.0, 2.0, float("nan")]):
        pm.hook.tune_searcher_on_trial_complete(
            trial_id=trial_id, result={"loss": loss}, error=False
        )
    assert inner.completed == [("t0", {"loss": 1.5}, False)]
    pm.hook.tune_searcher_on_trial_complete(trial_id="t3", result=None, error=True)
    pm.hook.tune_searcher_on_trial_complete(trial_id="t4", result={"other": 1}, error=False)
    pm.hook.tune_searcher_on_trial_complete(trial_id="t5", result={"loss": 4}, error=False)
    primary, result, error = inner.completed[1]
    assert primary == "t3" and result == {"loss": 4.0} and error is False


def test_repeater_mean_of_nothing_is_nan_and_unknown_trial_is_ignored():
    inner = Counter(metric="loss", mode="min")
    repeater = Repeater(inner, repeat=2, set_index=False)
    pm = make_pm(repeater)
    configure(pm, {}, num_samples=2)
    a = pm.hook.tune_suggest(trial_id="a")
    assert TRIAL_INDEX not in a
    pm.hook.tune_suggest(trial_id="b")
    pm.hook.tune_searcher_on_trial_complete(trial_id="zzz", result={}, error=False)
    pm.hook.tune_searcher_on_trial_complete(trial_id="a", result=None, error=True)
    pm.hook.tune_searcher_on_trial_complete(trial_id="b", result=None, error=True)
    _, result, error = inner.completed[0]
    assert math.isnan(result["loss"]) and error is True


def test_repeater_num_samples_counts_repeats_and_drops_leftovers():
    pm = make_pm(Repeater(Counter(), repeat=3))
    configure(pm, {}, num_samples=7, metric="loss", mode="min")
    assert len(drain(pm)) == 6


def test_repeater_over_bvg_repeats_every_grid_point():
    bvg = BasicVariantGenerator(random_state=0)
    pm = make_pm(Repeater(bvg, repeat=2))
    configure(pm, {"g": tune.grid_search([1, 2, 3]), "u": tune.uniform(0, 1)}, num_samples=4)
    out = drain(pm)
    assert len(out) == 12  # (4 // 2) samples x 3 grid points x 2 repeats
    pairs = [(out[i], out[i + 1]) for i in range(0, 12, 2)]
    for first, second in pairs:
        assert {k: v for k, v in first.items() if k != TRIAL_INDEX} == {
            k: v for k, v in second.items() if k != TRIAL_INDEX
        }


def test_repeater_state_round_trip():
    inner = Counter(metric="loss", mode="min")
    repeater = Repeater(inner, repeat=2)
    pm = make_pm(repeater)
    configure(pm, {}, num_samples=4)
    pm.hook.tune_suggest(trial_id="a")
    pm.hook.tune_suggest(trial_id="b")
    pm.hook.tune_suggest(trial_id="c")
    pm.hook.tune_searcher_on_trial_complete(trial_id="a", result={"loss": 2}, error=False)
    state = pickle.loads(pickle.dumps(pm.hook.tune_searcher_get_state()))
    other = Repeater(Counter(metric="loss", mode="min"), repeat=5)
    pm2 = make_pm(other)
    pm2.hook.tune_searcher_set_state(state=state)
    assert other.repeat == 2
    assert pm2.hook.tune_suggest(trial_id="d") == {"i": 1, TRIAL_INDEX: 1}
    assert pm2.hook.tune_suggest(trial_id="e") == FINISHED
    pm2.hook.tune_searcher_on_trial_complete(trial_id="b", result={"loss": 4}, error=False)
    assert other.searcher.completed == [("a", {"loss": 3.0}, False)]


def test_repeater_bad_arguments():
    with pytest.raises(TuneValueError, match="repeat=0"):
        Repeater(Counter(), repeat=0)
    with pytest.raises(TuneTypeError, match="searcher"):
        Repeater("optuna")


# -- the tune.search namespace ----------------------------------------------------------------------


def test_namespace_exports_and_plugin_classes():
    import tune.search as search
    from tune.plugins import get_registry

    for name in search.__all__:
        assert getattr(search, name) is not None
    assert search.uniform is tune.uniform
    if "OptunaSearch" not in get_registry().class_names("searcher"):
        with pytest.raises(PluginNotInstalledError, match="tune-search"):
            from tune.search import OptunaSearch  # noqa: F401
    with pytest.raises(ImportError):
        from tune.search import NoSuchSearcher  # noqa: F401


def test_hookimpls_are_found_on_every_searcher_kind():
    names = {
        "tune_searcher_configure",
        "tune_suggest",
        "tune_searcher_on_trial_result",
        "tune_searcher_on_trial_complete",
        "tune_searcher_get_state",
        "tune_searcher_set_state",
        "tune_searcher_on_pause",
        "tune_searcher_on_unpause",
    }
    for searcher in (
        BasicVariantGenerator(),
        Counter(),
        ConcurrencyLimiter(Counter(), 1),
        Repeater(Counter()),
    ):
        pm = make_pm(searcher)
        registered = {
            impl.function.__name__
            for hook in pm.hook.__dict__.values()
            if isinstance(hook, pluggy.HookCaller)
            for impl in hook.get_hookimpls()
        }
        assert registered == names


def test_searcher_hears_of_pauses_and_resumes(tmp_path):
    import tune
    from tune.schedulers import TrialScheduler

    events = []

    class Recording(BasicVariantGenerator):
        def on_pause(self, trial_id):
            events.append(("pause", trial_id))

        def on_unpause(self, trial_id):
            events.append(("unpause", trial_id))

    class PauseOnceAtTwo(TrialScheduler):
        def __init__(self):
            super().__init__()
            self.paused = set()

        def on_trial_result(self, trial, result):
            if result["training_iteration"] == 2 and trial.trial_id not in self.paused:
                self.paused.add(trial.trial_id)
                return self.PAUSE
            return self.CONTINUE

    def fn(config):
        checkpoint = tune.get_checkpoint()
        start = checkpoint.to_dict()["i"] if checkpoint else 0
        for i in range(start + 1, 4):
            tune.report({"i": i}, checkpoint=tune.Checkpoint.from_dict({"i": i}))

    results = tune.Tuner(
        fn,
        param_space={"x": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(search_alg=Recording(), scheduler=PauseOnceAtTwo()),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert all(r.metrics["i"] == 3 and r.metrics["training_iteration"] == 3 for r in results)
    ids = sorted({t for _, t in events})
    assert len(ids) == 2
    for trial_id in ids:
        assert [e for e, t in events if t == trial_id] == ["pause", "unpause"]
