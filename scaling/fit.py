"""Fit scaling laws to your own runs: Chinchilla Approaches 1, 2 and 3, with bootstrap uncertainty.

The runs table (CSV, JSON, JSON lines, Parquet, a DataFrame or a sweep folder) is read through
`scaling.runs`, which documents its columns and their one meaning: ``N`` total parameters, ``D`` tokens,
``C`` = 6ND (the convention of every fit here), ``loss``; damaged and failed rows are set aside and reported.
Approach 2 groups runs into IsoFLOP profiles by their planned ``budget`` when the table has one (a sweep's),
else by C within 5%. Approach 1 reads loss curves (`scaling.runs.read_curves`, a sweep folder's ``curves/``).

Approach 3 (Hoffmann et al. 2022, App. D.2): minimise sum_i Huber_delta(LSE(a - alpha log N_i, b - beta log D_i,
e) - log L_i), delta = 1e-3, from Hoffmann's 4,500-point grid. The objective is *summed*, not averaged
(Besiroglu et al. 2024 show a mean-reduced objective stalls L-BFGS). All starts run at once: a batched
Levenberg-Marquardt with iteratively reweighted Huber weights and the analytic Jacobian of the log-sum-exp,
vectorised over starts in numpy; the best few are polished with scipy L-BFGS-B and the analytic gradient.
The bootstrap resamples runs with replacement and fits every replicate in the same batched engine (each
replicate is a weight vector of resample counts), warm-started from the full-data optimum plus a few grid
starts; replicates that do not converge are counted and left out.
"""

from __future__ import annotations

import math
import os
import warnings as _warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scaling import runs as runs_table
from scaling.errors import ScalingError
from scaling.flops import FLOPS_PER_PARAM_TOKEN, six_nd
from scaling.laws import AllocationLaw, Law, ParametricLaw, get_law, parametric_loss, save_law
from scaling.runs import RunsTable

HUBER_DELTA = 1e-3  # Hoffmann et al. 2022 App. D.2
# Hoffmann et al. 2022 App. D.2 initialisation grid (5 x 5 x 5 x 6 x 6 = 4,500 starts)
HOFFMANN_GRID = {
    "alpha": np.arange(0.0, 2.0 + 1e-9, 0.5),
    "beta": np.arange(0.0, 2.0 + 1e-9, 0.5),
    "e": np.arange(-1.0, 1.0 + 1e-9, 0.5),
    "a": np.arange(0.0, 25.0 + 1e-9, 5.0),
    "b": np.arange(0.0, 25.0 + 1e-9, 5.0),
}


class ScalingWarning(UserWarning):
    """Data problems that do not stop a fit (duplicated rows, dropped failed runs, weak IsoFLOP profiles)."""


def _warn(message: str) -> None:
    _warnings.warn(message, ScalingWarning, stacklevel=3)


# =========================================================================================== reading runs
def report_table(table: RunsTable) -> None:
    """Say what a read set aside and how it read the table (derived columns, curves), as warnings."""
    for reason, count in table.dropped:
        _warn(f"set aside {count} row(s) of {table.source}: {reason}")
    for note in table.notes:
        if "derived" in note or "C_6N" in note or "loss curves" in note or "curve field" in note:
            _warn(note)


def read_curves(source: Any) -> pd.DataFrame:
    """Loss curves as a long table with columns run_id, N, D (tokens seen), loss (`scaling.runs.read_curves`)."""
    table = runs_table.read_curves(source)
    report_table(table)
    return table.frame


def check_runs(frame: pd.DataFrame, min_runs: int = 5) -> pd.DataFrame:
    """Refuse a runs table a parametric fit cannot use: a single model size, or fewer than ``min_runs`` runs."""
    if frame["N"].nunique() < 2:
        raise ScalingError(
            f"all runs have the same model size N = {frame['N'].iloc[0]:.4g}; a scaling law needs at "
            "least two model sizes (and, for Approach 3, several sizes and token counts)"
        )
    if len(frame) < min_runs:
        raise ScalingError(
            f"only {len(frame)} run(s) after validation; fitting needs at least {min_runs} "
            "(Approach 3 has 5 parameters: E, A, B, alpha, beta)"
        )
    return frame


def read_runs(source: Any, *, min_runs: int = 5) -> pd.DataFrame:
    """Read and validate a runs table (`scaling.runs.read_table`): columns N, D, loss, C = 6ND (and any
    others), one row per run. Rows set aside (damaged, failed, duplicated) are reported as warnings.

    Raises `ScalingError` when nothing usable is left, for a single model size, or for fewer runs than
    ``min_runs`` (5, the parameters of Approach 3).
    """
    table = runs_table.read_table(source)
    report_table(table)
    return check_runs(table.frame, min_runs)


# ====================================================================== Approach 3: the batched engine
def _evaluate(theta, logN, logD, logL, weights, delta, need_hessian=True):
    """Huber-on-LSE objective for S parameter vectors at once (Hoffmann et al. 2022 Eq. 11).

    theta: (S, 5) rows of (a, b, e, alpha, beta) with A = e^a, B = e^b, E = e^e. weights: (S, n) run weights
    (bootstrap resample counts). Returns the summed objective (S,), its gradient (S, 5) and the IRLS
    Gauss-Newton matrix sum_i w_i psi(r_i)/r_i J_i J_i^T (S, 5, 5), J_i = d r_i / d theta. The residual is
    r = LSE(a - alpha log N, b - beta log D, e) - log L; d LSE/dx_k is the softmax weight w_k, so
    J = (w1, w2, w3, -w1 log N, -w2 log D). Every sum over runs is a matrix product with a few per-run
    features (1, log N, log^2 N, ...), which keeps the number of passes over the (S, n) arrays small.
    """
    a, b, e, alpha, beta = (theta[:, i : i + 1] for i in range(5))
    # theta is clipped to a <= 100, alpha >= 0 and N, D > 1, so no exponent overflows (no max-shift needed)
    u1 = np.exp(a - alpha * logN)
    u2 = np.exp(b - beta * logD)
    u3 = np.exp(e)
    total = u1 + u2 + u3
    r = np.log(total) - logL
    psi = np.clip(r, -delta, delta)
    obj = np.einsum("sn,sn->s", weights, psi * (r - 0.5 * psi))  # Huber = psi (r - psi/2)
    inv = 1.0 / total
    w1, w2, w3 = u1 * inv, u2 * inv, u3 * inv
    wpsi = weights * psi
    one = np.ones_like(logN)
    f1, f2 = np.stack([one, logN], 1), np.stack([one, logD], 1)
    p1, p2, p3 = (wpsi * w1) @ f1, (wpsi * w2) @ f2, np.sum(wpsi * w3, axis=1)
    grad = np.stack([p1[:, 0], p2[:, 0], p3, -p1[:, 1], -p2[:, 1]], axis=1)
    if not need_hessian:
        return obj, grad, None
    absr = np.abs(r)
    omega = weights * np.where(
        absr <= delta, 1.0, delta / np.maximum(absr, delta)
    )  # IRLS: 1 inside, delta/|r|
    ow1, ow2 = omega * w1, omega * w2
    q11 = (ow1 * w1) @ np.stack([one, logN, logN * logN], 1)
    q22 = (ow2 * w2) @ np.stack([one, logD, logD * logD], 1)
    q12 = (ow1 * w2) @ np.stack([one, logN, logD, logN * logD], 1)
    q13, q23 = (ow1 * w3) @ f1, (ow2 * w3) @ f2
    q33 = np.sum(omega * w3 * w3, axis=1)
    H = np.empty((theta.shape[0], 5, 5))
    H[:, 0, 0], H[:, 3, 3], H[:, 1, 1], H[:, 4, 4], H[:, 2, 2] = (
        q11[:, 0],
        q11[:, 2],
        q22[:, 0],
        q22[:, 2],
        q33,
    )
    H[:, 0, 3] = H[:, 3, 0] = -q11[:, 1]
    H[:, 1, 4] = H[:, 4, 1] = -q22[:, 1]
    H[:, 0, 1] = H[:, 1, 0] = q12[:, 0]
    H[:, 3, 1] = H[:, 1, 3] = -q12[:, 1]
    H[:, 0, 4] = H[:, 4, 0] = -q12[:, 2]
    H[:, 3, 4] = H[:, 4, 3] = q12[:, 3]
    H[:, 0, 2] = H[:, 2, 0] = q13[:, 0]
    H[:, 3, 2] = H[:, 2, 3] = -q13[:, 1]
    H[:, 1, 2] = H[:, 2, 1] = q23[:, 0]
    H[:, 4, 2] = H[:, 2, 4] = -q23[:, 1]
    return obj, grad, H


def _lm_batch(theta0, logN, logD, logL, weights, delta, max_iter=200, tol=1e-10, active=None):
    """Batched Levenberg-Marquardt on the Huber-LSE objective; each start has its own damping.

    Starts leave the active set when their relative improvement and step both fall below tol (converged) or
    when the damping explodes without progress (stalled at a minimum of a non-smooth point). Returns final
    theta (S, 5), objective (S,), converged flags (S,) and the iteration counts.
    """
    theta = np.array(theta0, dtype=float)
    S = theta.shape[0]
    W = np.broadcast_to(weights, (S, logN.shape[-1])) if np.ndim(weights) == 1 else np.asarray(weights)
    obj, grad, H = _evaluate(theta, logN, logD, logL, W, delta)
    lam = np.full(S, 1e-3)
    converged = np.zeros(S, dtype=bool)
    iters = np.zeros(S, dtype=int)
    active = np.arange(S) if active is None else np.asarray(active)
    eye = np.eye(5)
    scale = np.maximum(np.sum(W, axis=1), 1.0) * delta * delta  # objective units: n delta^2
    for _ in range(max_iter):
        if active.size == 0:
            break
        t, o, g, h, lm = theta[active], obj[active], grad[active], H[active], lam[active]
        diag = np.einsum("skk->sk", h)
        A = h + lm[:, None, None] * (diag[:, :, None] * eye + 1e-12 * eye)
        try:
            step = np.linalg.solve(A, -g[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            step = -g / (np.abs(diag) + lm[:, None] + 1e-12)
        step = np.where(np.isfinite(step), step, 0.0)
        trial = t + step
        trial[:, 3:] = np.clip(trial[:, 3:], 0.0, 10.0)  # exponents stay in [0, 10]
        trial[:, :3] = np.clip(trial[:, :3], -50.0, 100.0)
        o2, g2, h2 = _evaluate(trial, logN, logD, logL, W[active], delta)
        better = np.isfinite(o2) & (o2 <= o)
        gain = np.where(better, o - o2, 0.0)
        small = (
            better
            & (gain <= tol * np.maximum(o, scale[active]))
            & (np.max(np.abs(trial - t), axis=1) <= 1e-6)
        )
        idx = active[better]
        theta[idx], obj[idx], grad[idx], H[idx] = trial[better], o2[better], g2[better], h2[better]
        lam[active] = np.where(better, np.maximum(lm / 3.0, 1e-12), lm * 4.0)
        iters[active] += 1
        stalled = (~better) & (lam[active] > 1e8)
        done = small | stalled
        converged[active[done]] = True
        active = active[~done]
    # a start is converged if it stopped on its own with a small gradient relative to the objective scale
    gnorm = np.max(np.abs(grad), axis=1)
    converged &= gnorm <= 1e-4 * np.maximum(np.sum(W, axis=1), 1.0) * delta
    return theta, obj, converged, iters


def _lm_parallel(theta0, logN, logD, logL, weights, delta, max_iter=200, tol=1e-10, rows=512):
    """`_lm_batch` over blocks of ``rows`` starts, spread over threads (numpy releases the GIL in its loops).

    Each start's iterations depend only on its own row, so blocking changes nothing but the last bits that
    BLAS blocking may round differently. Blocks of a few hundred rows keep the (rows, runs) arrays in cache;
    with two threads on 2 cores the 4,500-start screen runs about 2.5x faster than one 4,500-row batch.
    """
    theta0 = np.asarray(theta0, dtype=float)
    S = theta0.shape[0]
    if S <= rows:
        return _lm_batch(theta0, logN, logD, logL, weights, delta, max_iter=max_iter, tol=tol)
    from concurrent.futures import ThreadPoolExecutor

    bounds = list(range(0, S, rows)) + [S]
    per_row = np.ndim(weights) == 2

    def run(i):
        lo, hi = bounds[i], bounds[i + 1]
        w = weights[lo:hi] if per_row else weights
        return _lm_batch(theta0[lo:hi], logN, logD, logL, w, delta, max_iter=max_iter, tol=tol)

    with ThreadPoolExecutor(min(os.cpu_count() or 1, 4)) as pool:
        parts = list(pool.map(run, range(len(bounds) - 1)))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))


def _polish(theta, logN, logD, logL, weights, delta):
    """scipy L-BFGS-B with the analytic gradient, objective scaled by 1/delta^2 so tolerances bite."""
    from scipy.optimize import minimize

    scale = 1.0 / (delta * delta)

    def f(x):
        o, g, _ = _evaluate(x[None, :], logN, logD, logL, weights[None, :], delta, need_hessian=False)
        return float(o[0]) * scale, g[0] * scale

    bounds = [(-50, 100)] * 3 + [(0.0, 10.0)] * 2
    res = minimize(
        f,
        theta,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-9},
    )
    return res.x, res.fun / scale, bool(res.success), res


def hoffmann_grid() -> np.ndarray:
    """The 4,500 initialisations of Hoffmann et al. 2022 App. D.2 as rows of (a, b, e, alpha, beta)."""
    g = HOFFMANN_GRID
    mesh = np.meshgrid(g["a"], g["b"], g["e"], g["alpha"], g["beta"], indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _to_natural(theta: np.ndarray) -> np.ndarray:
    """(a, b, e, alpha, beta) -> (E, A, B, alpha, beta)."""
    theta = np.atleast_2d(theta)
    return np.stack(
        [np.exp(theta[:, 2]), np.exp(theta[:, 0]), np.exp(theta[:, 1]), theta[:, 3], theta[:, 4]], axis=1
    )


@dataclass(frozen=True, eq=False)
class FittedLaw(ParametricLaw):
    """A parametric law fitted to runs (Approach 3); usable anywhere a preset `Law` is.

    Extra attributes: the objective at the optimum, how many of the starts reached it, convergence, the
    number of runs, and the bootstrap summary (replicates kept, non-converged replicates left out).
    """

    objective: float = math.nan
    n_starts: int = 0
    n_starts_at_best: int = 0
    n_starts_screened_out: int = 0
    converged: bool = False
    n_runs: int = 0
    delta: float = HUBER_DELTA
    n_bootstrap: int = 0
    n_bootstrap_failed: int = 0
    fit_warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["fit"] = {
            "approach": 3,
            "objective": self.objective,
            "delta": self.delta,
            "n_runs": self.n_runs,
            "flops_range": list(self.fit_flops_range) if self.fit_flops_range else None,
            "n_starts": self.n_starts,
            "n_starts_at_best": self.n_starts_at_best,
            "n_starts_screened_out": self.n_starts_screened_out,
            "converged": self.converged,
            "n_bootstrap": self.n_bootstrap,
            "n_bootstrap_failed": self.n_bootstrap_failed,
            "warnings": list(self.fit_warnings),
        }
        return out


def _arrays(runs) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    frame = runs if isinstance(runs, pd.DataFrame) and {"N", "D", "loss", "C"} <= set(runs.columns) else None
    if frame is None:
        frame = read_runs(runs)
    return (
        frame,
        np.log(frame["N"].to_numpy(float)),
        np.log(frame["D"].to_numpy(float)),
        np.log(frame["loss"].to_numpy(float)),
    )


def fit_parametric(
    runs,
    *,
    delta: float = HUBER_DELTA,
    grid: str | np.ndarray = "hoffmann",
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.8,
    bootstrap_starts: int = 4,
    polish: int = 5,
    screen_iters: int = 10,
    screen: float = 1.5,
    name: str = "fitted",
) -> FittedLaw:
    """Approach 3: fit L = E + A/N^alpha + B/D^beta (Hoffmann Eq. 11, Huber on log-loss via LSE, summed).

    ``grid``: "hoffmann" (4,500 starts) or an (S, 5) array of (a, b, e, alpha, beta) starts.
    ``bootstrap``: number of resamples of the runs with replacement (0 = none; use >= 1,000 for intervals).
    ``screen_iters``, ``screen``: every start gets ``screen_iters`` batched LM iterations; those whose objective
    is then within ``screen`` x the best continue to convergence (the rest are counted as screened out).
    """
    frame, logN, logD, logL = _arrays(runs)
    n = len(frame)
    starts = hoffmann_grid() if isinstance(grid, str) and grid == "hoffmann" else np.asarray(grid, float)
    if starts.ndim != 2 or starts.shape[1] != 5:
        raise ScalingError("grid must be 'hoffmann' or an (S, 5) array of (a, b, e, alpha, beta) starts")
    ones = np.ones(n)
    # stage 1: every start, a few LM iterations; stage 2: the starts within `screen` x the best objective
    # so far run to convergence. Starts screened out are reported, never counted as reaching the best.
    theta, obj, conv, _ = _lm_parallel(starts, logN, logD, logL, ones, delta, max_iter=screen_iters)
    finite = np.isfinite(obj)
    keep = ~conv & finite & (obj <= screen * np.min(obj[finite]))
    if keep.any():
        t2, o2, c2, _ = _lm_parallel(theta[keep], logN, logD, logL, ones, delta, max_iter=300)
        theta[keep], obj[keep], conv[keep] = t2, o2, c2
    n_screened = int(np.sum(~conv & ~keep))
    order = np.argsort(np.where(np.isfinite(obj), obj, np.inf))
    # polish the best few distinct end points with scipy L-BFGS-B and the analytic gradient
    picked: list[np.ndarray] = []
    for i in order:
        if len(picked) >= polish:
            break
        if all(np.max(np.abs(theta[i] - p)) > 1e-4 for p in picked):
            picked.append(theta[i])
    best_theta, best_obj, best_ok = None, np.inf, False
    for p in picked:
        x, fx, ok, _res = _polish(p, logN, logD, logL, ones, delta)
        if fx < best_obj:
            best_theta, best_obj, best_ok = x, fx, ok
    if best_obj > obj[order[0]]:  # polishing never makes things worse
        best_theta, best_obj = theta[order[0]], float(obj[order[0]])
        best_ok = bool(conv[order[0]])
    _, g_best, _ = _evaluate(best_theta[None, :], logN, logD, logL, ones[None, :], delta, need_hessian=False)
    best_ok = best_ok or bool(
        np.max(np.abs(g_best)) <= 1e-4 * n * delta
    )  # L-BFGS-B may stop in its line search
    at_best = int(np.sum(obj <= best_obj * (1 + 1e-4) + 1e-15))
    fit_warnings = []
    if not best_ok:
        fit_warnings.append(
            "the best Approach 3 fit did not converge (L-BFGS-B stopped early); treat it with care"
        )
    E, A, B, alpha, beta = _to_natural(best_theta)[0]
    for label, value, lo, hi in (("alpha", alpha, 0.02, 3.0), ("beta", beta, 0.02, 3.0)):
        if not lo < value < hi:
            fit_warnings.append(
                f"{label} = {value:.3g} is at an implausible value; the data may not identify it"
            )
    if frame["D"].nunique() < 2:
        fit_warnings.append("all runs have the same token count: beta and B are not identified")

    replicates = None
    n_failed = 0
    if bootstrap:
        replicates, n_failed = _bootstrap(
            best_theta, starts, logN, logD, logL, delta, bootstrap, seed, bootstrap_starts
        )
        if n_failed:
            fit_warnings.append(
                f"{n_failed} of {bootstrap} bootstrap replicates did not converge and were left out"
            )
    src = f"Approach 3 fit (Hoffmann et al. 2022 Eq. 11, Huber delta={delta:g} on log-loss) to {n} runs"
    for message in fit_warnings:
        _warn(message)
    compute = six_nd(np.exp(logN), np.exp(logD))  # C = 6ND of every run, the convention of the fit
    return FittedLaw(
        fit_flops_range=(float(compute.min()), float(compute.max())),
        name=name,
        source=src,
        convention="C = 6ND; N and D as given in the runs table",
        form="L = E + A/N^alpha + B/D^beta",
        E=float(E),
        A=float(A),
        B=float(B),
        alpha=float(alpha),
        beta=float(beta),
        replicates=replicates,
        interval_level=level,
        objective=float(best_obj),
        n_starts=len(starts),
        n_starts_at_best=at_best,
        n_starts_screened_out=n_screened,
        converged=bool(best_ok),
        n_runs=n,
        delta=delta,
        n_bootstrap=0 if replicates is None else len(replicates),
        n_bootstrap_failed=n_failed,
        fit_warnings=tuple(fit_warnings),
    )


def _bootstrap(best_theta, grid, logN, logD, logL, delta, B, seed, extra_starts):
    """Resample runs with replacement B times; all replicates x starts in one batched LM."""
    rng = np.random.default_rng(seed)
    n = logN.shape[0]
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=B).astype(float)  # (B, n) resample counts
    picks = grid[rng.choice(len(grid), size=(B, extra_starts))] if extra_starts else np.empty((B, 0, 5))
    starts = np.concatenate([np.broadcast_to(best_theta, (B, 1, 5)), picks], axis=1)  # (B, k, 5)
    k = starts.shape[1]
    weights = np.repeat(counts, k, axis=0)
    theta, obj, conv, _ = _lm_parallel(starts.reshape(-1, 5), logN, logD, logL, weights, delta, max_iter=10)
    # as in the main fit: only starts near their replicate's best so far continue to convergence
    best_so_far = np.repeat(np.min(np.where(np.isfinite(obj), obj, np.inf).reshape(B, k), axis=1), k)
    keep = ~conv & np.isfinite(obj) & (obj <= 1.5 * best_so_far)
    if keep.any():
        t2, o2, c2, _ = _lm_parallel(theta[keep], logN, logD, logL, weights[keep], delta, max_iter=300)
        theta[keep], obj[keep], conv[keep] = t2, o2, c2
    theta, obj, conv = theta.reshape(B, k, 5), obj.reshape(B, k), conv.reshape(B, k)
    best = np.argmin(np.where(np.isfinite(obj), obj, np.inf), axis=1)
    chosen = theta[np.arange(B), best]
    ok = conv[np.arange(B), best] & np.all(np.isfinite(chosen), axis=1)
    ok &= (chosen[:, 3] > 1e-6) & (chosen[:, 4] > 1e-6)  # an exponent pinned at 0 is a degenerate fit
    return _to_natural(chosen[ok]), int(B - ok.sum())


# ================================================================================ synthetic runs
def synthetic_runs(
    law: Law | str = "chinchilla",
    *,
    budgets=(6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21),
    per_budget: int = 28,
    spread: float = 16.0,
    noise: float = 0.01,
    seed: int = 0,
) -> pd.DataFrame:
    """IsoFLOP-style runs drawn from a known law: per budget, N log-spaced over N_opt/spread..N_opt*spread,
    D = C/(6N), loss multiplied by exp(noise * standard normal). Default 9 budgets x 28 = 252 runs,
    Hoffmann's 6e18..3e21 design (§3.2)."""
    law = get_law(law)
    rng = np.random.default_rng(seed)
    rows = []
    for C in budgets:
        n0 = float(law.n_opt(C))
        for N in n0 * np.geomspace(1.0 / spread, spread, per_budget):
            D = C / (FLOPS_PER_PARAM_TOKEN * N)
            loss = float(parametric_loss(N, D, *law.params)) * math.exp(noise * rng.standard_normal())
            rows.append({"N": N, "D": D, "C": C, "loss": loss})
    return pd.DataFrame(rows)


# ======================================================================== Approach 2: IsoFLOP profiles
@dataclass(frozen=True)
class IsoFlopBudget:
    """One IsoFLOP profile: loss = c2 x^2 + c1 x + c0 with x = log10 N, and its vertex."""

    flops: float
    n_points: int
    coeffs: tuple[float, float, float]  # (c2, c1, c0) in x = log10(N)
    params: float  # vertex N_opt
    tokens: float  # C / (6 N_opt)
    loss: float  # parabola value at the vertex
    n_range: tuple[float, float]
    flags: tuple[str, ...] = ()
    used: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "flops": self.flops,
            "n_points": self.n_points,
            "coeffs": list(self.coeffs),
            "params": self.params,
            "tokens": self.tokens,
            "loss": self.loss,
            "n_range": list(self.n_range),
            "flags": list(self.flags),
            "used": self.used,
        }


@dataclass(frozen=True)
class IsoFlopFit:
    """Approach 2: per-budget parabolas, their vertices, and N_opt = n_coef C^a, D_opt = d_coef C^b."""

    budgets: tuple[IsoFlopBudget, ...]
    a: float
    b: float
    n_coef: float
    d_coef: float
    warnings: tuple[str, ...] = ()

    def n_opt(self, C):
        return self.n_coef * np.power(C, self.a)

    def d_opt(self, C):
        return self.d_coef * np.power(C, self.b)

    def to_law(self, name: str = "fitted-a2") -> Law:
        return AllocationLaw(
            name=name,
            source="Approach 2 (IsoFLOP parabolas) fitted to your runs",
            convention="C = 6ND; D = C/(6N)",
            n_coef=self.n_coef,
            n_exp=self.a,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "approach": 2,
            "a": self.a,
            "b": self.b,
            "n_coef": self.n_coef,
            "d_coef": self.d_coef,
            "budgets": [b.to_dict() for b in self.budgets],
            "warnings": list(self.warnings),
        }


def budget_groups(frame: pd.DataFrame, rtol: float = 0.05) -> np.ndarray:
    """Label the runs of one IsoFLOP profile alike: by the planned ``budget`` column when every run has one
    (runs of a sweep share it exactly, while their 6ND C differs by the attention share), else by C within
    ``rtol``. Labels increase with compute."""
    if "budget" in frame.columns:
        planned = pd.to_numeric(frame["budget"], errors="coerce").to_numpy(float)
        if np.all(np.isfinite(planned) & (planned > 0)):
            _, labels = np.unique(planned, return_inverse=True)
            return labels
    C = frame["C"].to_numpy(float)
    order = np.argsort(C)
    labels = np.empty(len(C), dtype=int)
    label, anchor = -1, None
    for i in order:
        if anchor is None or C[i] > anchor * (1 + rtol):
            label, anchor = label + 1, C[i]
        labels[i] = label
    return labels


def fit_isoflop(runs, *, min_points: int = 5) -> IsoFlopFit:
    """Approach 2 (Hoffmann et al. 2022 §3.2): a parabola in log10 N per budget, vertices, power laws.

    Flags per budget: ``too-few-points`` (< min_points; fewer than 3 is skipped), ``no-minimum`` (the
    parabola opens downward: skipped), ``weak-curvature`` (the loss changes by less than 1% across the
    sampled range), ``off-centre`` (the vertex lies in the outer quarter of, or outside, the sampled log N
    range: the vertex is biased, Czech et al. 2026).
    """
    frame = runs if isinstance(runs, pd.DataFrame) and "C" in runs.columns else read_runs(runs)
    labels = budget_groups(frame)
    budgets, warnings = [], []
    for label in np.unique(labels):
        sub = frame[labels == label]
        c = float(np.exp(np.mean(np.log(sub["C"]))))
        x, y = np.log10(sub["N"].to_numpy(float)), sub["loss"].to_numpy(float)
        flags = []
        if len(sub) < 3 or np.unique(x).size < 3:
            continue
        if len(sub) < min_points:
            flags.append("too-few-points")
        c2, c1, c0 = np.polyfit(x, y, 2)
        lo, hi = float(x.min()), float(x.max())
        if c2 <= 0:
            flags.append("no-minimum")
            budgets.append(
                IsoFlopBudget(
                    c,
                    len(sub),
                    (c2, c1, c0),
                    math.nan,
                    math.nan,
                    math.nan,
                    (10**lo, 10**hi),
                    tuple(flags),
                    used=False,
                )
            )
            continue
        xv = -c1 / (2 * c2)
        vertex_loss = c0 - c1 * c1 / (4 * c2)
        if c2 * ((hi - lo) / 2) ** 2 < 0.01 * vertex_loss:
            flags.append("weak-curvature")
        width = hi - lo
        if not (lo + 0.25 * width <= xv <= hi - 0.25 * width):
            flags.append("off-centre")
        N_v = 10**xv
        budgets.append(
            IsoFlopBudget(
                c,
                len(sub),
                (float(c2), float(c1), float(c0)),
                float(N_v),
                float(c / (FLOPS_PER_PARAM_TOKEN * N_v)),
                float(vertex_loss),
                (10**lo, 10**hi),
                tuple(flags),
            )
        )
    used = [b for b in budgets if b.used and not (set(b.flags) & {"no-minimum"})]
    outside = [b for b in used if not (b.n_range[0] <= b.params <= b.n_range[1])]
    used = [b for b in used if b not in outside]
    for b in budgets:
        if b.flags:
            warnings.append(f"budget {b.flops:.3g}: {', '.join(b.flags)}")
    if outside:
        warnings.append(f"{len(outside)} budget(s) left out: the vertex lies outside the sampled model sizes")
    for message in warnings:
        _warn(message)
    if len(used) < 2:
        raise ScalingError(
            f"Approach 2 needs at least two IsoFLOP budgets with a minimum inside the sampled sizes; found "
            f"{len(used)} (runs are grouped by C within 5%; give runs a shared C column per budget)"
        )
    logC = np.log([b.flops for b in used])
    a, log_k = np.polyfit(logC, np.log([b.params for b in used]), 1)
    b_exp, log_kd = np.polyfit(logC, np.log([b.tokens for b in used]), 1)
    if len(used) < 3:
        warnings.append("only two usable budgets: the exponents have no check")
        _warn(warnings[-1])
    return IsoFlopFit(
        tuple(budgets), float(a), float(b_exp), float(np.exp(log_k)), float(np.exp(log_kd)), tuple(warnings)
    )


# =================================================================== Approach 1: envelope of curves
@dataclass(frozen=True, eq=False)
class EnvelopeFit:
    """Approach 1: the lowest loss over all runs at each of ``flops`` (log-spaced), and the power laws."""

    flops: np.ndarray
    params: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray
    a: float
    b: float
    n_coef: float
    d_coef: float
    warnings: tuple[str, ...] = ()

    def to_law(self, name: str = "fitted-a1") -> Law:
        return AllocationLaw(
            name=name,
            source="Approach 1 (envelope of loss curves) fitted to your runs",
            convention="C = 6ND; D = C/(6N)",
            n_coef=self.n_coef,
            n_exp=self.a,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "approach": 1,
            "a": self.a,
            "b": self.b,
            "n_coef": self.n_coef,
            "d_coef": self.d_coef,
            "n_points": int(len(self.flops)),
            "warnings": list(self.warnings),
        }


def fit_envelope(curves, *, n_flops: int = 1500, smooth: int = 5) -> EnvelopeFit:
    """Approach 1 (Hoffmann et al. 2022 §3.1): smooth and interpolate each run's loss against C = 6 N D_seen,
    take the lowest-loss run at ``n_flops`` log-spaced C values, fit N_opt ∝ C^a and D_opt ∝ C^b."""
    frame = read_curves(curves)
    runs = []
    for _, sub in frame.groupby("run_id", sort=False):
        if len(sub) < 2:
            continue
        N = float(sub["N"].iloc[0])
        logC = np.log(six_nd(N, sub["D"].to_numpy(float)))
        loss = sub["loss"].to_numpy(float)
        if smooth > 1 and len(loss) >= smooth:
            loss = pd.Series(loss).rolling(smooth, center=True, min_periods=1).mean().to_numpy()
        runs.append((N, logC, loss))
    if len({r[0] for r in runs}) < 2:
        raise ScalingError("Approach 1 needs loss curves from at least two model sizes")
    lo = min(r[1][0] for r in runs)
    hi = max(r[1][-1] for r in runs)
    grid = np.linspace(lo, hi, n_flops)
    table = np.full((len(runs), n_flops), np.inf)
    for i, (_, logC, loss) in enumerate(runs):
        inside = (grid >= logC[0]) & (grid <= logC[-1])
        table[i, inside] = np.interp(grid[inside], logC, loss)
    best = np.argmin(table, axis=0)
    ok = np.isfinite(table[best, np.arange(n_flops)])
    C = np.exp(grid[ok])
    N = np.array([runs[i][0] for i in best[ok]])
    warnings = []
    if len(np.unique(N)) < 3:
        warnings.append(
            "the envelope visits fewer than three model sizes; the exponents are poorly determined"
        )
    a, log_k = np.polyfit(np.log(C), np.log(N), 1)
    D = C / (FLOPS_PER_PARAM_TOKEN * N)
    for message in warnings:
        _warn(message)
    return EnvelopeFit(
        C,
        N,
        D,
        table[best[ok], np.nonzero(ok)[0]],
        float(a),
        float(1 - a),
        float(np.exp(log_k)),
        float(1 / (FLOPS_PER_PARAM_TOKEN * np.exp(log_k))),
        tuple(warnings),
    )


# ============================================================================== extrapolation check
@dataclass(frozen=True, eq=False)
class HoldoutResult:
    """Fit on the smaller budgets, predict the held-out largest ones (an extrapolation check)."""

    law: FittedLaw
    held_out_flops: tuple[float, ...]
    table: pd.DataFrame  # N, D, C, loss, predicted, error, rel_error (+ lo, hi, covered with a bootstrap)
    mean_abs_error: float
    max_abs_rel_error: float
    coverage: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "held_out_flops": list(self.held_out_flops),
            "n_held_out": int(len(self.table)),
            "mean_abs_error": self.mean_abs_error,
            "max_abs_rel_error": self.max_abs_rel_error,
            "coverage": self.coverage,
            "law": self.law.to_dict(),
        }
        out["runs"] = self.table.to_dict(orient="records")
        return out


def holdout_check(runs, k: int = 1, **fit_options) -> HoldoutResult:
    """Hold out the runs of the k largest budgets (grouped by C within 5%), fit Approach 3 on the rest, and
    report the prediction error on the held-out runs (and interval coverage when bootstrapping)."""
    frame = runs if isinstance(runs, pd.DataFrame) and "C" in runs.columns else read_runs(runs)
    labels = budget_groups(frame)
    top = np.unique(labels)[-k:] if k > 0 else []
    if k < 1 or len(np.unique(labels)) <= k:
        raise ScalingError(
            f"--holdout-largest {k}: need 1 <= k < number of budgets ({len(np.unique(labels))})"
        )
    held = np.isin(labels, top)
    law = fit_parametric(frame[~held].reset_index(drop=True), **fit_options)
    test = frame[held].reset_index(drop=True)[["N", "D", "C", "loss"]].copy()
    test["predicted"] = law.predict(test["N"].to_numpy(), test["D"].to_numpy())
    test["error"] = test["predicted"] - test["loss"]
    test["rel_error"] = test["error"] / test["loss"]
    coverage = None
    if law.replicates is not None and len(law.replicates):
        R = law.replicates
        preds = parametric_loss(
            test["N"].to_numpy()[None, :],
            test["D"].to_numpy()[None, :],
            *(R[:, i][:, None] for i in range(5)),
        )
        q = (0.5 - law.interval_level / 2, 0.5 + law.interval_level / 2)
        test["lo"], test["hi"] = np.quantile(preds, q, axis=0)
        test["covered"] = (test["loss"] >= test["lo"]) & (test["loss"] <= test["hi"])
        coverage = float(test["covered"].mean())
    held_flops = tuple(float(np.exp(np.mean(np.log(frame["C"][labels == t])))) for t in top)
    return HoldoutResult(
        law,
        held_flops,
        test,
        float(np.mean(np.abs(test["error"]))),
        float(np.max(np.abs(test["rel_error"]))),
        coverage,
    )


__all__ = [
    "FittedLaw", "EnvelopeFit", "HoldoutResult", "IsoFlopBudget", "IsoFlopFit", "ScalingWarning", "fit_envelope",
    "fit_isoflop", "fit_parametric", "hoffmann_grid", "holdout_check", "read_curves", "read_runs", "save_law",
    "synthetic_runs",
]  # fmt: skip
