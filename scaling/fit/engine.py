"""Approach 3's engine: the Huber-on-LSE objective and a batched Levenberg-Marquardt over many starts.

Hoffmann et al. 2022, App. D.2: minimise sum_i Huber_delta(LSE(a - alpha log N_i, b - beta log D_i, e) -
log L_i), delta = 1e-3, from a 4,500-point grid. The objective is *summed*, not averaged (Besiroglu et al.
2024 show a mean-reduced objective stalls L-BFGS). All starts run at once: a batched Levenberg-Marquardt with
iteratively reweighted Huber weights and the analytic Jacobian of the log-sum-exp, vectorised over starts in
numpy; the best few are polished with scipy L-BFGS-B and the analytic gradient. The bootstrap fits every
replicate in the same engine (each replicate is a weight vector of resample counts).

Memory is bounded: starts are processed in blocks of at most `BLOCK_CELLS` (starts x runs) cells, and
bootstrap replicates in chunks of at most `BOOTSTRAP_CHUNK_CELLS` weights, whatever the number of runs.
"""

from __future__ import annotations

import os

import numpy as np

HUBER_DELTA = 1e-3  # Hoffmann et al. 2022 App. D.2
# Hoffmann et al. 2022 App. D.2 initialisation grid (5 x 5 x 5 x 6 x 6 = 4,500 starts)
HOFFMANN_GRID = {
    "alpha": np.arange(0.0, 2.0 + 1e-9, 0.5),
    "beta": np.arange(0.0, 2.0 + 1e-9, 0.5),
    "e": np.arange(-1.0, 1.0 + 1e-9, 0.5),
    "a": np.arange(0.0, 25.0 + 1e-9, 5.0),
    "b": np.arange(0.0, 25.0 + 1e-9, 5.0),
}
# (starts x runs) cells per block of starts: about 20 float arrays of this size live at once (~20 MB per
# thread), small enough to stay near the cache: 512 starts x 256 runs; fewer starts per block with more runs.
BLOCK_CELLS = 2**17
# (replicates x starts x runs) cells of bootstrap weights per chunk (64 MB):
# 1,000 replicates of 250 runs in one.
BOOTSTRAP_CHUNK_CELLS = 2**23


def evaluate(theta, logN, logD, logL, weights, delta, need_hessian=True):
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


def lm_batch(theta0, logN, logD, logL, weights, delta, max_iter=200, tol=1e-10, active=None):
    """Batched Levenberg-Marquardt on the Huber-LSE objective; each start has its own damping.

    Starts leave the active set when their relative improvement and step both fall below tol (converged) or
    when the damping explodes without progress (stalled at a minimum of a non-smooth point). Returns final
    theta (S, 5), objective (S,), converged flags (S,) and the iteration counts.
    """
    theta = np.array(theta0, dtype=float)
    S = theta.shape[0]
    W = np.broadcast_to(weights, (S, logN.shape[-1])) if np.ndim(weights) == 1 else np.asarray(weights)
    obj, grad, H = evaluate(theta, logN, logD, logL, W, delta)
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
        o2, g2, h2 = evaluate(trial, logN, logD, logL, W[active], delta)
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


def lm_parallel(theta0, logN, logD, logL, weights, delta, max_iter=200, tol=1e-10, rows=512):
    """`lm_batch` over blocks of ``rows`` starts, spread over threads (numpy releases the GIL in its loops).

    Each start's iterations depend only on its own row, so blocking changes nothing but the last bits that
    BLAS blocking may round differently. Blocks of a few hundred rows keep the (rows, runs) arrays in cache;
    with two threads on 2 cores the 4,500-start screen runs about 2.5x faster than one 4,500-row batch.
    With many runs, blocks shrink so that a block holds at most `BLOCK_CELLS` (starts x runs) cells.
    """
    theta0 = np.asarray(theta0, dtype=float)
    S = theta0.shape[0]
    rows = max(1, min(rows, BLOCK_CELLS // max(logN.shape[-1], 1)))  # bounded memory for many runs
    if S <= rows:
        return lm_batch(theta0, logN, logD, logL, weights, delta, max_iter=max_iter, tol=tol)
    from concurrent.futures import ThreadPoolExecutor

    bounds = list(range(0, S, rows)) + [S]
    per_row = np.ndim(weights) == 2

    def run(i):
        lo, hi = bounds[i], bounds[i + 1]
        w = weights[lo:hi] if per_row else weights
        return lm_batch(theta0[lo:hi], logN, logD, logL, w, delta, max_iter=max_iter, tol=tol)

    with ThreadPoolExecutor(min(os.cpu_count() or 1, 4)) as pool:
        parts = list(pool.map(run, range(len(bounds) - 1)))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))


def polish_start(theta, logN, logD, logL, weights, delta):
    """scipy L-BFGS-B with the analytic gradient, objective scaled by 1/delta^2 so tolerances bite."""
    from scipy.optimize import minimize

    scale = 1.0 / (delta * delta)

    def f(x):
        o, g, _ = evaluate(x[None, :], logN, logD, logL, weights[None, :], delta, need_hessian=False)
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


def to_natural(theta: np.ndarray) -> np.ndarray:
    """(a, b, e, alpha, beta) -> (E, A, B, alpha, beta)."""
    theta = np.atleast_2d(theta)
    return np.stack(
        [np.exp(theta[:, 2]), np.exp(theta[:, 0]), np.exp(theta[:, 1]), theta[:, 3], theta[:, 4]], axis=1
    )


def bootstrap_replicates(best_theta, grid, logN, logD, logL, delta, B, seed, extra_starts):
    """Resample runs with replacement B times and fit each replicate (warm start plus ``extra_starts`` grid
    starts) in the batched engine, in chunks of at most `BOOTSTRAP_CHUNK_CELLS` weights. Returns the
    converged replicates as rows of (E, A, B, alpha, beta) and the number left out."""
    rng = np.random.default_rng(seed)
    n = logN.shape[0]
    k = 1 + extra_starts
    chunk = max(1, min(B, BOOTSTRAP_CHUNK_CELLS // (k * n)))
    kept, failed = [], 0
    for start in range(0, B, chunk):
        size = min(chunk, B - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)  # resample counts
        picks = (
            grid[rng.choice(len(grid), size=(size, extra_starts))] if extra_starts else np.empty((size, 0, 5))
        )
        starts = np.concatenate([np.broadcast_to(best_theta, (size, 1, 5)), picks], axis=1)  # (size, k, 5)
        chosen, ok = _fit_replicates(starts, np.repeat(counts, k, axis=0), logN, logD, logL, delta)
        kept.append(to_natural(chosen[ok]))
        failed += int(size - ok.sum())
    return np.concatenate(kept), failed


def _fit_replicates(starts, weights, logN, logD, logL, delta):
    """The best converged fit of each replicate: (chosen theta (R, 5), converged flags (R,))."""
    R, k = starts.shape[:2]
    theta, obj, conv, _ = lm_parallel(starts.reshape(-1, 5), logN, logD, logL, weights, delta, max_iter=10)
    # as in the main fit: only starts near their replicate's best so far continue to convergence
    best_so_far = np.repeat(np.min(np.where(np.isfinite(obj), obj, np.inf).reshape(R, k), axis=1), k)
    keep = ~conv & np.isfinite(obj) & (obj <= 1.5 * best_so_far)
    if keep.any():
        t2, o2, c2, _ = lm_parallel(theta[keep], logN, logD, logL, weights[keep], delta, max_iter=300)
        theta[keep], obj[keep], conv[keep] = t2, o2, c2
    theta, obj, conv = theta.reshape(R, k, 5), obj.reshape(R, k), conv.reshape(R, k)
    best = np.argmin(np.where(np.isfinite(obj), obj, np.inf), axis=1)
    chosen = theta[np.arange(R), best]
    ok = conv[np.arange(R), best] & np.all(np.isfinite(chosen), axis=1)
    ok &= (chosen[:, 3] > 1e-6) & (chosen[:, 4] > 1e-6)  # an exponent pinned at 0 is a degenerate fit
    return chosen, ok
