from __future__ import annotations

import numpy as np
import pytest

GPy = pytest.importorskip("GPy")
pytest.importorskip("scipy")

from tune_schedulers import pb2_utils  # noqa: E402
from tune_schedulers.pb2_utils import (  # noqa: E402
    TVSquaredExp,
    normalize,
    optimize_acq,
    select_config,
    select_length,
    standardize,
    ucb,
    ucb_kappa,
)


def _random_data(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.sort(rng.uniform(0, 100, n))
    r = rng.uniform(-5, 5, n)
    h = rng.uniform(0, 1, (n, d))
    return np.column_stack([t, r, h]), rng.normal(size=n)


# ----------------------------------------------------------------------------- normalize


def test_normalize_scales_columns_to_unit_interval():
    data = np.array([[0.0, 10.0], [5.0, 20.0], [10.0, 15.0]])
    out = normalize(data, data)
    np.testing.assert_allclose(out, [[0, 0], [0.5, 1], [1, 0.5]])


def test_normalize_with_limits_rows_and_outside_values_are_not_clipped():
    limits = np.array([[0.0, -1.0], [2.0, 1.0]])
    out = normalize(np.array([[1.0, 0.0], [4.0, -3.0]]), limits)
    np.testing.assert_allclose(out, [[0.5, 0.5], [2.0, -1.0]])


def test_normalize_constant_column_and_single_row_give_zero():
    data = np.array([[3.0, 1.0], [3.0, 2.0]])
    out = normalize(data, data)
    np.testing.assert_array_equal(out[:, 0], [0.0, 0.0])
    np.testing.assert_allclose(out[:, 1], [0.0, 1.0])
    single = np.array([[7.0, -2.0]])
    np.testing.assert_array_equal(normalize(single, single), [[0.0, 0.0]])
    assert np.all(np.isfinite(normalize(np.array([1.0, 5.0]), single)))


def test_normalize_one_row_against_data_and_1d_wrt():
    wrt = np.array([[0.0, 0.0], [10.0, 4.0]])
    np.testing.assert_allclose(normalize(np.array([5.0, 1.0]), wrt), [0.5, 0.25])
    np.testing.assert_allclose(
        normalize(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0])), [0, 0.5, 1]
    )


# ----------------------------------------------------------------------------- standardize


def test_standardize_zero_mean_unit_std():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 0.5, size=200)
    out = standardize(data)
    # The [-2, 2] clip touches a few tail points, so only approximately.
    assert abs(out.mean()) < 0.05
    assert abs(out.std() - 1.0) < 0.05
    assert out.min() >= -2.0 and out.max() <= 2.0


def test_standardize_clips_outliers():
    out = standardize(np.array([0.0] * 20 + [100.0]))
    assert out.max() == 2.0


def test_standardize_constant_and_single_row():
    np.testing.assert_array_equal(standardize(np.array([4.0, 4.0, 4.0])), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(standardize(np.array([4.0])), [0.0])
    np.testing.assert_array_equal(standardize(np.array([[1.0, 2.0]])), [[0.0, 0.0]])


def test_standardize_nan_does_not_poison_other_values():
    out = standardize(np.array([1.0, np.nan, 3.0]))
    np.testing.assert_allclose(out[[0, 2]], [-1.0, 1.0])
    assert np.isnan(out[1])
    assert np.all(np.isnan(standardize(np.array([np.nan, np.nan]))))


# ----------------------------------------------------------------------------- kernel


def _kernel(**kw) -> TVSquaredExp:
    return TVSquaredExp(input_dim=3, **{"variance": 1.7, "lengthscale": 0.3, "epsilon": 0.2, **kw})


def test_kernel_matches_formula():
    k = _kernel()
    x = np.array([[0.0, 0.1, 0.2], [0.6, 0.4, 0.0]])
    r2 = 0.3**2 + 0.2**2
    expected = 1.7 * np.exp(-r2 / 0.3) * (1 - 0.2) ** (0.6 / 2)
    np.testing.assert_allclose(k.K(x)[0, 1], expected)
    np.testing.assert_allclose(k.K(x[:1], x[1:]), [[expected]])


def test_kernel_symmetric_psd_and_kdiag():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(30, 3))
    k = _kernel()
    K = k.K(x)
    np.testing.assert_array_equal(K, K.T)
    assert np.linalg.eigvalsh(K).min() > -1e-9
    np.testing.assert_allclose(k.Kdiag(x), np.diag(K))


def test_kernel_parameter_constraints():
    k = _kernel()
    # Whatever the optimizer tries, the transforms keep the parameters in range.
    for raw in (-1e3, -5.0, 0.0, 5.0, 1e3):
        k.optimizer_array = np.full(3, raw)
        assert k.variance.values[0] > 0 and k.lengthscale.values[0] > 0
        assert 0.0 <= k.epsilon.values[0] <= 0.5
    # Set by hand out of range, the kernel still treats it as 0.5.
    k = _kernel()
    k.epsilon[:] = 0.9
    x = np.array([[0.0, 0.1, 0.2], [1.0, 0.1, 0.2]])
    np.testing.assert_allclose(k.K(x)[0, 1], 1.7 * 0.5**0.5)
    with pytest.raises(ValueError):
        TVSquaredExp(input_dim=1)


def test_kernel_hyperparameter_gradients_checkgrad():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(12, 3))
    y = np.sin(4 * x[:, 1:2]) + 0.1 * rng.normal(size=(12, 1))
    model = GPy.models.GPRegression(x, y, _kernel())
    assert model.checkgrad()
    np.random.seed(0)
    model.randomize()
    assert model.checkgrad()


def test_kernel_input_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(5, 3))
    x2 = rng.uniform(size=(4, 3))
    k = _kernel()
    dL_dK = rng.normal(size=(5, 4))
    dL_dK_sq = rng.normal(size=(5, 5))

    def num_grad(f, x):
        g = np.zeros_like(x)
        for idx in np.ndindex(*x.shape):
            e = np.zeros_like(x)
            e[idx] = 1e-6
            g[idx] = (f(x + e) - f(x - e)) / 2e-6
        return g

    np.testing.assert_allclose(
        k.gradients_X(dL_dK, x, x2),
        num_grad(lambda z: np.sum(dL_dK * k.K(z, x2)), x),
        rtol=1e-5,
        atol=1e-7,
    )
    np.testing.assert_allclose(
        k.gradients_X(dL_dK_sq, x),
        num_grad(lambda z: np.sum(dL_dK_sq * k.K(z)), x),
        rtol=1e-5,
        atol=1e-7,
    )


# ----------------------------------------------------------------------------- acquisition


def test_ucb_and_optimize_acq():
    rng = np.random.default_rng(4)
    x = np.column_stack([rng.uniform(size=25), rng.uniform(size=25)])
    y = -((x[:, 1:] - 0.3) ** 2)
    kern = TVSquaredExp(input_dim=2, lengthscale=0.5)
    model = GPy.models.GPRegression(x, (y - y.mean()) / y.std(), kern, noise_var=1e-3)
    row = np.array([0.5, 0.3])
    assert isinstance(ucb(model, row, 1.0), float)
    many = ucb(model, np.vstack([row, row]), 1.0)
    assert many.shape == (2,)
    assert ucb(model, row, 2.0) > ucb(model, row, 0.0)
    best = optimize_acq(ucb, model, np.array([0.5]), 0.0, rng=np.random.default_rng(0))
    assert best.shape == (1,)
    assert abs(best[0] - 0.3) < 0.1
    boxed = optimize_acq(
        ucb, model, np.array([0.5]), 0.0, bounds=[(0.6, 0.9)], rng=np.random.default_rng(0)
    )
    assert 0.6 <= boxed[0] <= 0.65


def test_ucb_kappa_grows_slowly():
    assert ucb_kappa(1) == pytest.approx(np.sqrt(0.2))
    assert ucb_kappa(10) < ucb_kappa(100) < ucb_kappa(1000) < 3.0


def test_select_length():
    bounds = {"a": (0.0, 1.0)}
    assert select_length(np.zeros((50, 3)), np.zeros(50), bounds, 2) == 50
    assert select_length(np.zeros((1000, 3)), np.zeros(1000), bounds, 2) == pb2_utils.MAX_FIT_ROWS
    wide = {f"h{i}": (0.0, 1.0) for i in range(30)}
    assert select_length(np.zeros((1000, 32)), np.zeros(1000), wide, 2) == 320


# ----------------------------------------------------------------------------- select_config


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_select_config_in_unit_box(seed):
    rng = np.random.default_rng(seed)
    bounds = {"lr": (1e-4, 1e-1), "momentum": (0.5, 0.99), "batch": (16.0, 256.0)}
    X, y = _random_data(rng, 30, 3)
    X[:, 2:] = X[:, 2:] * (np.array([1e-1, 0.99, 256]) - [1e-4, 0.5, 16]) + [1e-4, 0.5, 16]
    np.random.seed(seed)
    out = select_config(X, y, None, np.array([100.0, 0.0]), bounds, 2)
    assert out.shape == (3,)
    assert np.all((out >= 0.0) & (out <= 1.0))


def test_select_config_with_current_in_both_layouts():
    rng = np.random.default_rng(5)
    bounds = {"a": (0.0, 1.0), "b": (-1.0, 1.0)}
    X, y = _random_data(rng, 30, 2)
    X[:, 3] = X[:, 3] * 2 - 1
    newpoint = np.array([90.0, 1.0])
    hp_only = np.array([[0.5, 0.0], [0.2, 0.9]])
    full = np.column_stack([np.full(2, 90.0), np.full(2, 1.0), hp_only])
    for current in (hp_only, full, np.empty((0, 2))):
        np.random.seed(0)
        out = select_config(X, y, current, newpoint, bounds, 2)
        assert out.shape == (2,)
        assert np.all((out >= 0.0) & (out <= 1.0))
    with pytest.raises(ValueError):
        select_config(X, y, np.zeros((1, 3)), newpoint, bounds, 2)
    with pytest.raises(ValueError):
        select_config(X[:, :3], y, None, newpoint, bounds, 2)
    with pytest.raises(ValueError):
        select_config(X, y[:-1], None, newpoint, bounds, 2)
    with pytest.raises(ValueError):
        select_config(X, y, None, newpoint[:1], bounds, 2)


def test_pending_points_lower_the_ucb_there():
    rng = np.random.default_rng(6)
    X = rng.uniform(size=(20, 3))
    model = GPy.models.GPRegression(X, rng.normal(size=(20, 1)), TVSquaredExp(3), noise_var=0.01)
    fixed = np.array([0.5, 0.5])
    limits = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    pend = pb2_utils._pending_rows(np.array([[0.9]]), fixed, limits, 2, 1)
    np.testing.assert_allclose(pend, [[0.5, 0.5, 0.9]])
    var_model = pb2_utils._pending_model(model, pend)
    row = np.array([0.5, 0.5, 0.9])
    assert ucb(model, row, 1.0, var_model=var_model) < ucb(model, row, 1.0)
    # The hallucinated value is the GP mean, so the mean itself is unchanged.
    np.testing.assert_allclose(var_model.predict(row[None])[0], model.predict(row[None])[0])


def test_select_config_degenerate_inputs():
    bounds = {"a": (0.0, 1.0)}
    newpoint = np.array([1.0, 0.0])
    np.random.seed(0)
    one = select_config(np.array([[1.0, 0.0, 0.3]]), np.array([0.5]), None, newpoint, bounds, 2)
    empty = select_config(np.zeros((0, 3)), np.zeros(0), None, newpoint, bounds, 2)
    flat_X = np.column_stack([np.ones(10), np.zeros(10), np.linspace(0, 1, 10)])
    flat = select_config(flat_X, np.zeros(10), None, newpoint, bounds, 2)
    nan_y = np.where(np.arange(10) % 3 == 0, np.nan, np.linspace(0, 1, 10))
    with_nan = select_config(flat_X, nan_y, None, newpoint, bounds, 2)
    for out in (one, empty, flat, with_nan):
        assert out.shape == (1,)
        assert np.all(np.isfinite(out)) and np.all((out >= 0) & (out <= 1))


def test_select_config_is_reproducible_under_numpy_seed():
    rng = np.random.default_rng(7)
    X, y = _random_data(rng, 25, 2)
    bounds = {"a": (0.0, 1.0), "b": (0.0, 1.0)}
    outs = []
    for _ in range(2):
        np.random.seed(42)
        outs.append(select_config(X, y, None, np.array([100.0, 0.0]), bounds, 2))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_select_config_finds_known_optimum():
    hits = 0
    seeds = range(5)
    for seed in seeds:
        np.random.seed(seed)
        n = 40
        t = np.sort(np.random.uniform(0, 100, n))
        h = np.random.uniform(2.0, 6.0, n)  # bounds (2, 6): optimum 4.8 is 0.7 normalized
        r_before = np.random.uniform(0, 10, n)
        y = -(((h - 2.0) / 4.0 - 0.7) ** 2) + 0.01 * np.random.normal(size=n)
        X = np.column_stack([t, r_before, h])
        out = select_config(X, y, None, np.array([100.0, 5.0]), {"h": (2.0, 6.0)}, 2)
        hits += abs(out[0] - 0.7) < 0.15
    assert hits >= 4


def test_select_config_tracks_a_drifting_optimum():
    # The best h moves from 0.2 at t=0 to 0.8 at t=100; the time kernel must let the
    # choice depend on the explored trial's time.
    for seed in range(3):
        np.random.seed(seed)
        n = 60
        t = np.sort(np.random.uniform(0, 100, n))
        h = np.random.uniform(0, 1, n)
        y = -((h - (0.2 + 0.6 * t / 100)) ** 2) + 0.01 * np.random.normal(size=n)
        X = np.column_stack([t, np.random.uniform(0, 10, n), h])
        late = select_config(X, y, None, np.array([100.0, 5.0]), {"h": (0.0, 1.0)}, 2)
        early = select_config(X, y, None, np.array([0.0, 5.0]), {"h": (0.0, 1.0)}, 2)
        assert abs(late[0] - 0.8) < 0.15
        assert abs(early[0] - 0.2) < 0.15
