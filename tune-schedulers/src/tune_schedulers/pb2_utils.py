"""Gaussian-process bandit math behind PB2 (Population Based Bandits).

PB2 (Parker-Holder et al. 2020, https://arxiv.org/abs/2002.02518) replaces PBT's random
perturbation with a GP-UCB choice: a GP with a time-varying kernel models how much the
reward improves per step given ``[time, reward_before, hyperparameters]``, and the new
hyperparameters maximise an upper confidence bound at the explored trial's current time
and reward. Trials still running are treated as pending points (GP-BUCB, Desautels et al.
2014) so that one batch of explore steps spreads out instead of piling onto one optimum.

Only :func:`select_config` is needed by the scheduler; the other functions are public so
that they can be tested and reused on their own.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

try:
    import GPy
    import numpy as np
    from GPy.core.parameterization import Param
    from paramz.transformations import Logexp, Logistic
    from scipy.optimize import minimize
except ImportError as exc:
    raise ImportError("PB2 needs GPy and scikit-learn: pip install 'tune-schedulers[pb2]'") from exc

try:  # ships with scikit-learn
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

__all__ = [
    "TVSquaredExp",
    "normalize",
    "optimize_acq",
    "select_config",
    "select_length",
    "standardize",
    "ucb",
    "ucb_kappa",
]

logger = logging.getLogger(__name__)

# Past a few hundred rows exact GP inference gets slow (cubic) and old rows describe a
# population that no longer exists, so only the most recent rows are fitted.
MAX_FIT_ROWS = 200
# Rule of thumb (Loeppky et al. 2009): a GP needs ~10 points per input dimension.
_ROWS_PER_DIM = 10
# Largest epsilon: even then nearby times keep sqrt(1 - 0.5) ~ 0.7 of their correlation.
_EPS_MAX = 0.5


def normalize(data: np.ndarray, wrt: np.ndarray) -> np.ndarray:
    """Scale each column of ``data`` to ``[0, 1]`` by the min and max of ``wrt``'s columns.

    ``wrt`` is 2-D with one column per column of ``data`` (a 2-row ``[mins, maxs]`` array
    works as well as raw data); a 1-D ``wrt`` is one column of values. Columns where ``wrt``
    is constant map to 0. Values outside ``wrt``'s range are not clipped.
    """
    data = np.asarray(data, dtype=float)
    wrt = np.asarray(wrt, dtype=float)
    if wrt.ndim == 1:
        wrt = wrt.reshape(-1, 1)
    lo = np.min(wrt, axis=0)
    span = np.max(wrt, axis=0) - lo
    # A constant column carries no information; 0 keeps it finite instead of 0/0.
    safe = np.where(span > 0, span, 1.0)
    out = (data - lo) / safe
    return np.where(span > 0, out, 0.0)


def standardize(data: np.ndarray) -> np.ndarray:
    """Return ``(data - mean) / std`` per column, clipped to ``[-2, 2]``.

    A zero std is treated as 1. NaNs are ignored when computing mean and std (they stay NaN
    in the output). The clip, as in Ray's PB2, stops a few outlier reward jumps (e.g. a
    trial that just restored from a much better checkpoint) from dominating the GP fit.
    """
    data = np.asarray(data, dtype=float)
    with warnings.catch_warnings():
        # All-NaN columns warn "mean of empty slice"; they are handled just below.
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(data, axis=0)
        std = np.nanstd(data, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return np.clip((data - mean) / std, -2.0, 2.0)


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Explicit differences (not the |a|^2+|b|^2-2ab trick) keep K exactly symmetric with an
    # exact zero diagonal, which the Cholesky in GPy appreciates.
    diff = a[:, None, :] - b[None, :, :]
    return np.einsum("ijk,ijk->ij", diff, diff)


class TVSquaredExp(GPy.kern.Kern):
    """Time-varying squared-exponential kernel of PB2.

    ``k(x, x') = variance * exp(-||z - z'||^2 / lengthscale) * (1 - epsilon)^(|t - t'| / 2)``

    where ``t`` is column 0 of the (active) input and ``z`` the remaining columns. The time
    factor lets the GP forget old observations: the best hyperparameters drift as training
    progresses. ``lengthscale`` divides the squared distance directly (no ``2 l^2``), as in
    the paper. ``variance`` and ``lengthscale`` are kept positive, ``epsilon`` in
    ``[0, 0.5]``.
    """

    def __init__(
        self,
        input_dim: int,
        variance: float = 1.0,
        lengthscale: float = 1.0,
        epsilon: float = 0.1,
        active_dims: Sequence[int] | None = None,
        name: str = "time_se",
    ) -> None:
        if input_dim < 2:
            raise ValueError("TVSquaredExp needs a time column plus at least one other input")
        super().__init__(input_dim, active_dims, name)
        self.variance = Param("variance", float(variance), Logexp())
        self.lengthscale = Param("lengthscale", float(lengthscale), Logexp())
        self.epsilon = Param("epsilon", float(epsilon), Logistic(0.0, _EPS_MAX))
        self.link_parameters(self.variance, self.lengthscale, self.epsilon)

    def _parts(self, X: np.ndarray, X2: np.ndarray | None):
        if X2 is None:
            X2 = X
        dt = np.abs(X[:, :1] - X2[:, :1].T)
        r2 = _sq_dists(X[:, 1:], X2[:, 1:])
        var = float(self.variance.values[0])
        ls = float(self.lengthscale.values[0])
        # The constraint only binds in the optimizer's space; a value assigned by hand can
        # be out of range, and epsilon >= 1 would make the time factor complex or zero.
        eps = min(max(float(self.epsilon.values[0]), 0.0), _EPS_MAX)
        k = var * np.exp(-r2 / ls) * (1.0 - eps) ** (0.5 * dt)
        return k, dt, r2, var, ls, eps

    def K(self, X: np.ndarray, X2: np.ndarray | None = None) -> np.ndarray:
        return self._parts(X, X2)[0]

    def Kdiag(self, X: np.ndarray) -> np.ndarray:
        return np.full(X.shape[0], float(self.variance.values[0]))

    def update_gradients_full(
        self, dL_dK: np.ndarray, X: np.ndarray, X2: np.ndarray | None = None, reset: bool = True
    ) -> None:
        k, dt, r2, var, ls, eps = self._parts(X, X2)
        self.variance.gradient = np.sum(dL_dK * k) / var
        self.lengthscale.gradient = np.sum(dL_dK * k * r2) / ls**2
        self.epsilon.gradient = -np.sum(dL_dK * k * dt) / (2.0 * (1.0 - eps))

    def update_gradients_diag(self, dL_dKdiag: np.ndarray, X: np.ndarray) -> None:
        self.variance.gradient = np.sum(dL_dKdiag)
        self.lengthscale.gradient = 0.0
        self.epsilon.gradient = 0.0

    def gradients_X(
        self, dL_dK: np.ndarray, X: np.ndarray, X2: np.ndarray | None = None
    ) -> np.ndarray:
        if X2 is None:
            # X appears on both sides of K(X, X), so both halves of dL_dK flow back to it.
            dL_dK = dL_dK + dL_dK.T
            X2 = X
        k, _, _, _, ls, eps = self._parts(X, X2)
        w = dL_dK * k
        grad = np.empty_like(X, dtype=float)
        # d|t - t'|/dt is sign(t - t'); at t == t' the subgradient 0 is used.
        grad[:, 0] = 0.5 * np.log(1.0 - eps) * np.sum(w * np.sign(X[:, :1] - X2[:, :1].T), 1)
        diff = X[:, None, 1:] - X2[None, :, 1:]
        grad[:, 1:] = -2.0 / ls * np.einsum("ij,ijk->ik", w, diff)
        return grad

    def gradients_X_diag(self, dL_dKdiag: np.ndarray, X: np.ndarray) -> np.ndarray:
        return np.zeros(X.shape)


def ucb_kappa(n: int) -> float:
    """Exploration weight of GP-UCB for a model fitted on ``n`` points.

    Uses Ray's PB2 schedule ``sqrt(0.2 + max(0, log(0.4 n)))``: it grows like
    ``sqrt(log n)`` as in Srinivas et al. (2010) but with small constants, because the
    population already explores and each explore step has to pay off quickly.
    """
    return float(np.sqrt(0.2 + max(0.0, np.log(0.4 * max(n, 1)))))


def ucb(model: Any, x: np.ndarray, kappa: float, var_model: Any | None = None) -> Any:
    """Upper confidence bound ``mean + kappa * std`` of a GPy ``model`` at inputs ``x``.

    ``x`` is one full (normalized) input row, or a 2-D array of rows. The mean comes from
    ``model``; the std comes from ``var_model`` when given, a copy of the model that also
    contains the pending points, so the bound shrinks where trials are already running.
    Returns a float for one row, else an array with one value per row.
    """
    x = np.asarray(x, dtype=float)
    rows = np.atleast_2d(x)
    # The bound is on the latent reward-change function, so observation noise is left out.
    mean, _ = model.predict(rows, include_likelihood=False)
    _, var = (var_model if var_model is not None else model).predict(rows, include_likelihood=False)
    val = mean[:, 0] + kappa * np.sqrt(np.maximum(var[:, 0], 0.0))
    return float(val[0]) if x.ndim == 1 else val


def optimize_acq(
    func: Callable[..., Any],
    model: Any,
    fixed: np.ndarray,
    kappa: float,
    var_model: Any | None = None,
    bounds: Sequence[tuple[float, float]] | None = None,
    num_restarts: int = 10,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Maximise ``func(model, rows, kappa, var_model=var_model)`` over the free inputs.

    The input rows are ``[fixed, h]``: ``fixed`` is held constant and ``h`` ranges over the
    box ``bounds`` (default ``[0, 1]`` for each of the ``model.X.shape[1] - len(fixed)``
    free columns). A batch of random candidates is scored first; L-BFGS-B then starts from
    the best of them and from fresh random points. Returns the best ``h``, inside the box.
    """
    rng = rng if rng is not None else np.random.default_rng()
    fixed = np.asarray(fixed, dtype=float).ravel()
    d = model.X.shape[1] - fixed.size
    if d <= 0:
        raise ValueError("no free inputs to optimize over")
    if bounds is None:
        bounds = [(0.0, 1.0)] * d
    lo = np.array([b[0] for b in bounds], dtype=float)
    hi = np.array([b[1] for b in bounds], dtype=float)

    def rows(h: np.ndarray) -> np.ndarray:
        h = np.atleast_2d(h)
        return np.hstack([np.repeat(fixed[None, :], h.shape[0], axis=0), h])

    def score(h: np.ndarray) -> np.ndarray:
        return np.asarray(func(model, rows(h), kappa, var_model=var_model), dtype=float)

    # One vectorised predict over many points is cheap and makes the local searches start
    # near the global optimum instead of relying on luck.
    cands = lo + (hi - lo) * rng.random((max(256, 64 * d), d))
    cand_vals = np.nan_to_num(score(cands), nan=-np.inf)
    best_h = cands[int(np.argmax(cand_vals))]
    best_val = float(np.max(cand_vals))

    n_top = max(1, num_restarts // 2)
    starts = [cands[i] for i in np.argsort(-cand_vals)[:n_top]]
    starts += list(lo + (hi - lo) * rng.random((max(0, num_restarts - n_top), d)))

    def neg(h: np.ndarray) -> float:
        v = score(h)[0]
        return -v if np.isfinite(v) else 1e10

    for x0 in starts:
        try:
            res = minimize(
                neg,
                x0,
                method="L-BFGS-B",
                bounds=list(zip(lo, hi)),
                options={"maxiter": 200, "maxfun": 400},
            )
        except (ValueError, np.linalg.LinAlgError):
            continue
        h = np.clip(res.x, lo, hi)
        val = float(score(h)[0])
        if np.isfinite(val) and val > best_val:
            best_val, best_h = val, h
    return np.clip(best_h, lo, hi)


def select_length(
    Xraw: np.ndarray, yraw: np.ndarray, bounds: Mapping[str, tuple[float, float]], num_f: int
) -> int:
    """How many of the most recent rows to fit the GP on.

    Ray searches lengths by refitting the GP many times, which is slow and compares
    likelihoods of different data sizes. Here: all rows up to ``MAX_FIT_ROWS`` (200), or
    more only when the input has so many dimensions that 10 rows per input dimension
    (``num_f + len(bounds)``) exceed that.
    """
    n = int(np.asarray(Xraw).shape[0])
    cap = max(MAX_FIT_ROWS, _ROWS_PER_DIM * (num_f + len(bounds)))
    return min(n, cap)


def _fit_gp(X: np.ndarray, y: np.ndarray, num_restarts: int) -> Any:
    """Fit a GP with the PB2 kernel; on numerical failure fall back to a plain RBF."""
    try:
        # Start inside the lengthscale bound below: at the bound itself the logistic
        # transform has zero gradient and the optimizer could never leave it.
        kern = TVSquaredExp(input_dim=X.shape[1], variance=1.0, lengthscale=0.5, epsilon=0.1)
        # Ray caps the lengthscale at 1 (inputs live in [0, 1]) so the UCB stays local
        # enough to move away from the current best; bounding it during the fit keeps the
        # other hyperparameters consistent with that cap.
        kern.lengthscale.constrain_bounded(1e-5, 1.0, warning=False)
        model = GPy.models.GPRegression(X, y, kern)
        model.likelihood.variance.constrain_bounded(1e-6, 10.0, warning=False)
        _optimize_with_restarts(model, num_restarts)
        return model
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        logger.debug("PB2: time-varying GP fit failed (%s); falling back to RBF", exc)
    model = GPy.models.GPRegression(X, y, GPy.kern.RBF(input_dim=X.shape[1]))
    try:
        model.optimize(messages=False, max_iters=200)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        logger.debug("PB2: RBF fit failed too (%s); using default hyperparameters", exc)
    return model


def _optimize_with_restarts(model: Any, num_restarts: int) -> None:
    # The marginal likelihood has local optima (e.g. "everything is noise"); a couple of
    # random restarts are cheap at <= 200 rows. paramz's own optimize_restarts prints.
    model.optimize(messages=False, max_iters=200)
    best_x, best_f = model.optimizer_array.copy(), float(model.objective_function())
    for _ in range(num_restarts):
        try:
            model.randomize()
            model.optimize(messages=False, max_iters=200)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            continue
        f = float(model.objective_function())
        if np.isfinite(f) and f < best_f:
            best_x, best_f = model.optimizer_array.copy(), f
    model.optimizer_array = best_x


def select_config(
    Xraw: np.ndarray,
    yraw: np.ndarray,
    current: np.ndarray | None,
    newpoint: np.ndarray,
    bounds: Mapping[str, tuple[float, float]],
    num_f: int,
    *,
    num_restarts: int = 2,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Choose new hyperparameters for one explore step, by batch GP-UCB.

    Args:
        Xraw: ``(n, num_f + d)`` rows ``[time, reward_before, h_1..h_d]`` (the first
            ``num_f`` columns are context the explorer cannot change; ``h`` in the raw
            units of ``bounds``, columns in ``bounds``' order). Rows should be in time
            order; they are stably sorted by column 0 anyway.
        yraw: ``(n,)`` reward change per row (Ray: per unit of time).
        current: hyperparameters of trials already running in this batch, treated as
            pending points; ``(k, d)`` rows (Ray's layout, given the context of
            ``newpoint``) or ``(k, num_f + d)`` full rows. Raw units. ``None`` or empty for
            none.
        newpoint: ``(num_f,)`` context of the trial being explored, e.g.
            ``[time_now, reward_now]`` (extra trailing values are ignored).
        bounds: ``{name: (low, high)}`` of each hyperparameter.
        num_f: number of context columns (2 in Ray's PB2).
        num_restarts: random restarts of the GP hyperparameter fit.
        rng: generator or seed for the acquisition's random starts; by default drawn from
            numpy's global state (GPy's restarts use it too), so ``np.random.seed`` makes
            the result reproducible.

    Returns:
        ``(d,)`` chosen hyperparameters in normalized ``[0, 1]`` coordinates of ``bounds``
        (map back with ``low + x * (high - low)``). Always finite and inside ``[0, 1]^d``.
    """
    if rng is None:
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
    elif not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)

    d = len(bounds)
    Xraw = np.asarray(Xraw, dtype=float)
    if Xraw.size == 0:
        Xraw = Xraw.reshape(0, num_f + d)
    if Xraw.ndim != 2 or Xraw.shape[1] != num_f + d:
        raise ValueError(f"Xraw must have num_f + len(bounds) = {num_f + d} columns")
    yraw = np.asarray(yraw, dtype=float).reshape(-1)
    if Xraw.shape[0] != yraw.shape[0]:
        raise ValueError(f"Xraw has {Xraw.shape[0]} rows but yraw has {yraw.shape[0]}")
    newpoint = np.asarray(newpoint, dtype=float).reshape(-1)
    if newpoint.size < num_f:
        raise ValueError(f"newpoint must hold the {num_f} context values")
    newpoint = newpoint[:num_f]

    ok = np.all(np.isfinite(Xraw), axis=1) & np.isfinite(yraw)
    Xraw, yraw = Xraw[ok], yraw[ok]
    order = np.argsort(Xraw[:, 0], kind="stable")
    Xraw, yraw = Xraw[order], yraw[order]
    length = select_length(Xraw, yraw, bounds, num_f)
    Xraw, yraw = Xraw[-length:], yraw[-length:]
    if Xraw.shape[0] == 0 or not np.all(np.isfinite(newpoint)):
        logger.debug("PB2: no usable data; choosing hyperparameters at random")
        return rng.random(d)

    hp_box = np.array(list(bounds.values()), dtype=float).T  # (2, d): lows, highs
    ctx = Xraw[:, :num_f]
    ctx_box = np.vstack([ctx.min(axis=0), ctx.max(axis=0)])
    limits = np.hstack([ctx_box, hp_box])
    X = normalize(Xraw, limits)
    y = standardize(yraw).reshape(-1, 1)
    fixed = normalize(newpoint[None, :], ctx_box)[0]

    pend = _pending_rows(current, fixed, limits, num_f, d)
    with _single_thread_blas():
        x = _gp_ucb_step(X, y, pend, fixed, num_restarts, rng)
    if x is None:
        return rng.random(d)
    x = np.nan_to_num(np.asarray(x, dtype=float), nan=0.5)
    return np.clip(x, 0.0, 1.0)


def _single_thread_blas() -> contextlib.AbstractContextManager:
    # The matrices are at most a few hundred rows: multi-threaded BLAS gains nothing there
    # and, on a machine busy with trials, thread hand-offs made a fit 4x slower in tests.
    if threadpool_limits is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _gp_ucb_step(
    X: np.ndarray,
    y: np.ndarray,
    pend: np.ndarray,
    fixed: np.ndarray,
    num_restarts: int,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """Fit the GP and maximise the (batch) UCB; ``None`` when the numerics fail."""
    try:
        model = _fit_gp(X, y, num_restarts)
        var_model = _pending_model(model, pend) if pend.shape[0] else None
        kappa = ucb_kappa(X.shape[0])
        return optimize_acq(ucb, model, fixed, kappa, var_model=var_model, rng=rng)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        # An explore step must not kill the experiment; random search is PBT's fallback.
        logger.warning("PB2: GP step failed (%s); choosing hyperparameters at random", exc)
        return None


def _pending_rows(
    current: np.ndarray | None, fixed: np.ndarray, limits: np.ndarray, num_f: int, d: int
) -> np.ndarray:
    """Normalized full input rows for the pending trials (possibly zero rows)."""
    if current is None or np.size(current) == 0:
        return np.empty((0, num_f + d))
    current = np.atleast_2d(np.asarray(current, dtype=float))
    if current.shape[1] == d:
        # Ray's layout: pending trials compete for the same time and reward as newpoint.
        ctx = np.repeat(fixed[None, :], current.shape[0], axis=0)
        pend = np.hstack([ctx, normalize(current, limits[:, num_f:])])
    elif current.shape[1] == num_f + d:
        pend = normalize(current, limits)
    else:
        raise ValueError(f"current rows must have {d} or {num_f + d} columns")
    return pend[np.all(np.isfinite(pend), axis=1)]


def _pending_model(model: Any, pend: np.ndarray) -> Any:
    """GP-BUCB: add pending points with the GP mean as their "observed" value.

    The posterior variance does not depend on y, so conditioning on the pending inputs
    shrinks the variance there exactly as real observations would, while hallucinating the
    mean leaves the mean unchanged. Kernel and noise are reused, not refitted, so the
    pending points cannot distort them.
    """
    mu, _ = model.predict(pend)
    return GPy.models.GPRegression(
        np.vstack([model.X, pend]),
        np.vstack([model.Y, mu]),
        model.kern.copy(),
        noise_var=float(model.likelihood.variance.values[0]),
    )
