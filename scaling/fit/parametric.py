"""Approach 3: the parametric fit L = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, Eq. 11), and what it
says about how much to trust it.

`fit_parametric` screens Hoffmann's 4,500 starts with the batched engine (`scaling.fit.engine`), runs the
promising ones to convergence, polishes the best few with L-BFGS-B, and bootstraps. With more than
`SCREEN_RUNS` runs the screen uses a seeded subsample of them and only the polish sees every run, so a
million-run table fits in bounded memory (`engine.BLOCK_CELLS`). `fit_diagnostics` holds the cautions: too
few runs for five parameters, a parameter on a bound, a degenerate optimum (alpha = beta, a = b = 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scaling import checks
from scaling.errors import ScalingError
from scaling.fit.common import read_runs, warn
from scaling.fit.engine import (
    HUBER_DELTA,
    bootstrap_replicates,
    evaluate,
    hoffmann_grid,
    lm_parallel,
    polish_start,
    to_natural,
)
from scaling.flops import six_nd
from scaling.laws import ParametricLaw
from scaling.runs_table import loss_metadata

N_PARAMETERS = 5  # E, A, B, alpha, beta
RUNS_PER_PARAMETER = (
    3  # fewer runs than 3 per parameter: the fit warns that the constants are poorly determined
)
SCREEN_RUNS = 1_000  # beyond this many runs, the start screen uses a seeded subsample of this size
MAX_BOOTSTRAP = 100_000  # resamples
MAX_BOOTSTRAP_CELLS = (
    20_000_000  # resamples x runs (e.g. 1,000 resamples of 20,000 runs): time stays in minutes
)
LOG_BOUNDS = (-50.0, 100.0)  # the engine's bounds on a = log A, b = log B, e = log E
EXPONENT_BOUNDS = (0.0, 10.0)  # the engine's bounds on alpha and beta


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
    n_screen_runs: int = 0  # runs the start screen used (all, or a seeded subsample of SCREEN_RUNS)
    fit_warnings: tuple[str, ...] = ()
    fitted_form: str = "chinchilla"  # or "muennighoff" with R_D*, R_N* fitted (`scaling.fit.forms`)
    selection: dict | None = None  # the held-out error of every form, when `--form auto` chose this one

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["fit"] = {
            "approach": 3,
            "form": self.fitted_form,
            "objective": self.objective,
            "delta": self.delta,
            "n_runs": self.n_runs,
            "flops_range": list(self.fit_flops_range) if self.fit_flops_range else None,
            "n_starts": self.n_starts,
            "n_starts_at_best": self.n_starts_at_best,
            "n_starts_screened_out": self.n_starts_screened_out,
            "n_screen_runs": self.n_screen_runs,
            "converged": self.converged,
            "n_bootstrap": self.n_bootstrap,
            "n_bootstrap_failed": self.n_bootstrap_failed,
            "warnings": list(self.fit_warnings),
        }
        if self.selection:
            out["fit"]["selection"] = self.selection
        return out


def run_arrays(runs: Any) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """The runs (read unless already a table with N, D, loss, C) and log N, log D, log loss."""
    frame = runs if isinstance(runs, pd.DataFrame) and {"N", "D", "loss", "C"} <= set(runs.columns) else None
    if frame is None:
        frame = read_runs(runs)
    return (
        frame,
        np.log(frame["N"].to_numpy(float)),
        np.log(frame["D"].to_numpy(float)),
        np.log(frame["loss"].to_numpy(float)),
    )


def check_bootstrap(bootstrap: Any, n_runs: int, least: int = 0) -> int:
    """The number of bootstrap resamples, refused beyond `MAX_BOOTSTRAP` or `MAX_BOOTSTRAP_CELLS` / runs;
    ``least``: the fewest the caller can use (a run design needs `scaling.design.MIN_REPLICATES`)."""
    bootstrap = checks.positive_int(bootstrap, "--bootstrap", allow_zero=True)
    checks.at_most(bootstrap, MAX_BOOTSTRAP, "--bootstrap", "resamples; 1,000 give good 80% intervals")
    limit = MAX_BOOTSTRAP_CELLS // max(n_runs, 1)
    cap = f"resamples x runs <= {MAX_BOOTSTRAP_CELLS:,}, so the fit takes minutes"
    if limit < least:
        raise ScalingError(
            f"{n_runs:,} runs are too many: this needs at least {least} bootstrap resamples and {cap}, so at "
            f"most {MAX_BOOTSTRAP_CELLS // least:,} runs; use a subset of the runs"
        )
    if bootstrap > limit:  # often the command's default, not a number the user typed: say what to pass
        fewer = f"{least} to {limit}" if least else f"{limit} or fewer"
        raise ScalingError(
            f"{n_runs:,} runs allow at most {limit:,} bootstrap resamples, not {bootstrap:,} ({cap}): "
            f"pass --bootstrap {fewer}"
        )
    return bootstrap


@dataclass(frozen=True, eq=False)
class StartSearch:
    """The best optimum over many starts: theta = (a, b, e, alpha, beta), its objective, and the screen."""

    theta: np.ndarray
    objective: float
    converged: bool
    n_starts: int
    n_starts_at_best: int
    n_starts_screened_out: int
    n_screen_runs: int


def screen_runs(logN, logD, logL, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs the start screen sees: all of them, or a seeded subsample of `SCREEN_RUNS`."""
    n = logN.shape[0]
    if n <= SCREEN_RUNS:
        return logN, logD, logL
    pick = np.sort(np.random.default_rng(seed).choice(n, SCREEN_RUNS, replace=False))
    return logN[pick], logD[pick], logL[pick]


def screen_starts(starts, logN, logD, logL, delta, *, screen_iters, screen):
    """Stage 1: every start gets ``screen_iters`` LM iterations; stage 2: those within ``screen`` x the best
    objective so far run to convergence. Returns (theta, objective, converged, kept for stage 2)."""
    ones = np.ones(logN.shape[0])
    theta, obj, conv, _ = lm_parallel(starts, logN, logD, logL, ones, delta, max_iter=screen_iters)
    finite = np.isfinite(obj)
    if not finite.any():
        raise ScalingError("Approach 3 found no finite objective from any start: the runs hold absurd values")
    keep = ~conv & finite & (obj <= screen * np.min(obj[finite]))
    if keep.any():
        t2, o2, c2, _ = lm_parallel(theta[keep], logN, logD, logL, ones, delta, max_iter=300)
        theta[keep], obj[keep], conv[keep] = t2, o2, c2
    return theta, obj, conv, keep


def polish_best(theta, obj, conv, logN, logD, logL, delta, polish: int) -> tuple[np.ndarray, float, bool]:
    """L-BFGS-B from the best ``polish`` distinct end points of the screen, on the runs the screen saw."""
    order = np.argsort(np.where(np.isfinite(obj), obj, np.inf))
    picked: list[np.ndarray] = []
    for i in order:
        if len(picked) >= polish:
            break
        if all(np.max(np.abs(theta[i] - p)) > 1e-4 for p in picked):
            picked.append(theta[i])
    ones = np.ones(logN.shape[0])
    best_theta, best_obj, best_ok = theta[order[0]], float(obj[order[0]]), bool(conv[order[0]])
    for p in picked:
        x, fx, ok, _res = polish_start(p, logN, logD, logL, ones, delta)
        if fx < best_obj:  # polishing never makes things worse
            best_theta, best_obj, best_ok = x, fx, ok
    return best_theta, best_obj, best_ok


def search_starts(starts, logN, logD, logL, delta, *, screen_iters, screen, polish, seed) -> StartSearch:
    """Screen the starts and polish the best few (on a subsample of `SCREEN_RUNS` runs when there are more),
    then, with a subsample, polish the best once more on every run."""
    n = logN.shape[0]
    sub = screen_runs(logN, logD, logL, seed)
    theta, obj, conv, keep = screen_starts(starts, *sub, delta, screen_iters=screen_iters, screen=screen)
    best_theta, best_obj, best_ok = polish_best(theta, obj, conv, *sub, delta, polish)
    at_best = int(np.sum(obj <= best_obj * (1 + 1e-4) + 1e-15))
    ones = np.ones(n)
    if sub[0].shape[0] < n:
        best_theta, best_obj, best_ok, _res = polish_start(best_theta, logN, logD, logL, ones, delta)
    _, g_best, _ = evaluate(best_theta[None, :], logN, logD, logL, ones[None, :], delta, need_hessian=False)
    best_ok = best_ok or bool(
        np.max(np.abs(g_best)) <= 1e-4 * n * delta
    )  # L-BFGS-B may stop in its line search
    screened_out = int(np.sum(~conv & ~keep))
    return StartSearch(
        best_theta, float(best_obj), bool(best_ok), len(starts), at_best, screened_out, sub[0].shape[0]
    )


def fit_diagnostics(frame: pd.DataFrame, search: StartSearch) -> list[str]:
    """The cautions a fit carries: not converged, too few runs or sizes, a parameter on a bound or at an
    implausible value, a degenerate optimum (alpha = beta and a = b = 0.5 to 1e-8)."""
    E, A, B, alpha, beta = to_natural(search.theta)[0]
    a_log, b_log, e_log = search.theta[:3]
    out = []
    if not search.converged:
        out.append("the best Approach 3 fit did not converge (L-BFGS-B stopped early); treat it with care")
    minimum = RUNS_PER_PARAMETER * N_PARAMETERS
    if len(frame) < minimum:
        out.append(
            f"only {len(frame)} runs for {N_PARAMETERS} parameters (E, A, B, alpha, beta): the constants "
            f"are poorly determined; use at least {minimum} ({RUNS_PER_PARAMETER} per parameter) over "
            "several sizes and budgets"
        )
    for column, what in (("N", "model sizes"), ("D", "token counts")):
        if frame[column].nunique() < 3:
            out.append(f"only {frame[column].nunique()} distinct {what}: the {column} term is not identified")
    on_bound = [
        name
        for name, value, (lo, hi) in (
            ("alpha", alpha, EXPONENT_BOUNDS),
            ("beta", beta, EXPONENT_BOUNDS),
            ("log A", a_log, LOG_BOUNDS),
            ("log B", b_log, LOG_BOUNDS),
            ("log E", e_log, LOG_BOUNDS),
        )
        if value <= lo + 1e-6 or value >= hi - 1e-6
    ]
    if on_bound:
        out.append(f"{', '.join(on_bound)} sit(s) on the search bound: the data do not pin the optimum")
    for label, value in (("alpha", alpha), ("beta", beta)):
        if not 0.02 < value < 3.0:
            out.append(f"{label} = {value:.3g} is at an implausible value; the data may not identify it")
    if abs(alpha - beta) <= 1e-8:
        out.append(
            f"degenerate fit: alpha = beta = {alpha:.6g} (so a = b = 0.5 exactly); the runs do not "
            "separate the N and D terms (too few runs, or N and D vary together)"
        )
    return out


def check_determined(
    A: float, B: float, alpha: float, beta: float, N: np.ndarray | None = None, D: np.ndarray | None = None
) -> None:
    """Refuse a fit whose size or data term vanished: A, B, alpha or beta at 0 or not finite, or (given the
    runs' N and D) a term that changes the predicted loss by less than a millionth across the runs (alpha at
    its bound with A underflowing, or a single token count). The loss then does not fall with N or with D over
    these runs, and no compute-optimal frontier (Hoffmann Eq. 4) exists."""
    bad = {
        k: f"{k} = {v:.3g}"
        for k, v in dict(A=A, B=B, alpha=alpha, beta=beta).items()
        if not (math.isfinite(v) and v > 1e-300)
    }
    if not bad and N is not None and D is not None:
        with np.errstate(over="ignore", under="ignore"):
            size, data = A * np.asarray(N, float) ** -alpha, B * np.asarray(D, float) ** -beta
        scale = float(np.max(size + data))
        for name, term in (("A/N^alpha", size), ("B/D^beta", data)):
            spread = float(np.ptp(term)) if term.size else 0.0
            if not spread > 1e-6 * scale:
                bad[name] = f"{name} changes by {spread:.3g} across the runs"
    if bad:
        raise ScalingError(
            f"the runs do not determine a law ({', '.join(bad.values())}): the loss does not fall with "
            "both N and D over them; fit runs that vary both the model size and the tokens"
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
    ``bootstrap``: number of resamples of the runs with replacement (0 = none; use >= 1,000 for intervals),
    at most `MAX_BOOTSTRAP` and `MAX_BOOTSTRAP_CELLS` / runs. ``screen_iters``, ``screen``: every start gets
    ``screen_iters`` batched LM iterations; those whose objective is then within ``screen`` x the best
    continue to convergence (the rest are counted as screened out). The law carries the runs' loss unit,
    tokenizer and vocabulary (`scaling.runs_table.loss_metadata`) and the cautions of `fit_diagnostics` as
    its warnings.
    """
    frame, logN, logD, logL = run_arrays(runs)
    bootstrap = check_bootstrap(bootstrap, len(frame))
    starts = hoffmann_grid() if isinstance(grid, str) and grid == "hoffmann" else np.asarray(grid, float)
    if starts.ndim != 2 or starts.shape[1] != 5:
        raise ScalingError("grid must be 'hoffmann' or an (S, 5) array of (a, b, e, alpha, beta) starts")
    search = search_starts(
        starts, logN, logD, logL, delta, screen_iters=screen_iters, screen=screen, polish=polish, seed=seed
    )
    fit_warnings = fit_diagnostics(frame, search)
    replicates, n_failed = None, 0
    if bootstrap:
        replicates, n_failed = bootstrap_replicates(
            search.theta, starts, logN, logD, logL, delta, bootstrap, seed, bootstrap_starts
        )
        if n_failed:
            fit_warnings.append(
                f"{n_failed} of {bootstrap} bootstrap replicates did not converge and were left out"
            )
    for message in fit_warnings:
        warn(message)
    E, A, B, alpha, beta = (float(v) for v in to_natural(search.theta)[0])
    check_determined(A, B, alpha, beta, np.exp(logN), np.exp(logD))
    compute = six_nd(np.exp(logN), np.exp(logD))  # C = 6ND of every run, the convention of the fit
    return FittedLaw(
        name=name,
        source=(
            f"Approach 3 fit (Hoffmann et al. 2022 Eq. 11, Huber delta={delta:g} on log-loss) to "
            f"{len(frame)} runs"
        ),
        convention="C = 6ND; N and D as given in the runs table",
        form="L = E + A/N^alpha + B/D^beta",
        E=E,
        A=A,
        B=B,
        alpha=alpha,
        beta=beta,
        replicates=replicates,
        interval_level=level,
        fit_flops_range=(float(compute.min()), float(compute.max())),
        warnings=tuple(fit_warnings),
        objective=search.objective,
        n_starts=search.n_starts,
        n_starts_at_best=search.n_starts_at_best,
        n_starts_screened_out=search.n_starts_screened_out,
        n_screen_runs=search.n_screen_runs,
        converged=search.converged,
        n_runs=len(frame),
        delta=delta,
        n_bootstrap=0 if replicates is None else len(replicates),
        n_bootstrap_failed=n_failed,
        fit_warnings=tuple(fit_warnings),
        **loss_metadata(frame),
    )
