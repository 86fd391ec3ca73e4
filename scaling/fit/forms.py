"""Fit a law of any form to runs: `fit_form(runs, form)`, the one door ``scaling fit --form`` goes through.

* ``chinchilla``: Approach 3, E + A/N^alpha + B/D^beta (`scaling.fit.parametric.fit_parametric`).
* ``farseer``, ``kaplan``: the forms of `scaling.laws.forms`, fitted by the same objective as Approach 3
  (Hoffmann et al. 2022 Eq. 11: Huber, delta = 1e-3, on log-loss, summed) with scipy's trust-region least
  squares, whose ``loss="huber"`` cost with ``f_scale = delta`` is that sum exactly, and analytic Jacobians.
  Farseer starts from the Chinchilla fit of the same runs (gamma = 0 is Chinchilla's law) and a small grid;
  Kaplan from a grid screened by its objective.
* ``muennighoff``: the data-constrained form (Muennighoff et al. 2023, Eq. 5-6), fitted their way: the base
  law on the runs that see each token at most once, then R_D* and R_N* on the runs that repeat data, the
  base held fixed. It needs a ``unique_tokens`` column.

Bootstrap replicates resample the runs with replacement and refit from the best fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from scaling.errors import ScalingError
from scaling.fit.common import warn
from scaling.fit.engine import HUBER_DELTA
from scaling.fit.parametric import FittedLaw, check_bootstrap, fit_parametric, run_arrays
from scaling.flops import six_nd
from scaling.laws.forms import FORMS, FormLaw
from scaling.laws.rules import EXPONENT_RANGE, FORM_CHOICES, LAW_FORMS
from scaling.runs_table import loss_metadata

FIT_FORMS = LAW_FORMS
UNIQUE_TOKENS = "unique_tokens"  # the runs-table column the data-constrained form reads
LOG_BOUNDS = (-50.0, 150.0)
GAMMA_BOUNDS = (-2.0, 2.0)
POLISHED_STARTS = 8  # Kaplan: the grid's best starts by objective that run to convergence


@dataclass(frozen=True, eq=False, kw_only=True)
class FittedFormLaw(FormLaw):
    """A `FormLaw` fitted to runs: usable anywhere a law is, with how the fit went."""

    objective: float = math.nan
    n_starts: int = 0
    converged: bool = False
    n_runs: int = 0
    delta: float = HUBER_DELTA
    n_bootstrap: int = 0
    fit_warnings: tuple[str, ...] = ()
    selection: dict | None = None  # the held-out error of every form, when `auto` chose this one

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["fit"] = {
            "approach": 3,
            "form": self.law_form,
            "objective": self.objective,
            "delta": self.delta,
            "n_runs": self.n_runs,
            "flops_range": list(self.fit_flops_range) if self.fit_flops_range else None,
            "n_starts": self.n_starts,
            "converged": self.converged,
            "n_bootstrap": self.n_bootstrap,
            "warnings": list(self.fit_warnings),
        }
        if self.selection:
            out["fit"]["selection"] = self.selection
        return out


# ======================================================================== residuals and their Jacobians
def farseer_residuals(theta, logN, logD, logL, log_n_ref):
    """r = log L_hat - log L and dr/dtheta for theta = (log E, log A, log B, alpha, beta, gamma)."""
    e, a, b, alpha, beta, gamma = theta
    s = logN - log_n_ref
    beta_n = beta * np.exp(gamma * s)
    terms = np.stack([np.full_like(logN, e), a - alpha * logN, b - beta_n * logD])
    top = terms.max(axis=0)
    weights = np.exp(terms - top)
    total = weights.sum(axis=0)
    wE, wA, wB = weights / total
    r = top + np.log(total) - logL
    jac = np.stack([wE, wA, wB, -wA * logN, -wB * logD * beta_n / beta, -wB * logD * beta_n * s], axis=1)
    return r, jac


def kaplan_residuals(theta, logN, logD, logL):
    """r and dr/dtheta for theta = (log N_c, log D_c, alpha_N, alpha_D) of Kaplan et al. 2020 Eq. 1.5."""
    n_c, d_c, alpha_n, alpha_d = theta
    p = alpha_n / alpha_d
    v1, v2 = p * (n_c - logN), d_c - logD
    top = np.maximum(v1, v2)
    w1, w2 = np.exp(v1 - top), np.exp(v2 - top)
    total = w1 + w2
    lse = top + np.log(total)
    w1, w2 = w1 / total, w2 / total
    r = alpha_d * lse - logL
    jac = np.stack([w1 * alpha_n, w2 * alpha_d, w1 * (n_c - logN), lse - w1 * p * (n_c - logN)], axis=1)
    return r, jac


def huber(r: np.ndarray, delta: float) -> float:
    a = np.abs(r)
    return float(np.sum(np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))))


def least_squares_fit(residuals, theta0, bounds, delta):
    """scipy's trust-region least squares with the Huber loss: its cost is Hoffmann's summed objective."""
    from scipy.optimize import least_squares

    result = least_squares(
        lambda t: residuals(t)[0],
        theta0,
        jac=lambda t: residuals(t)[1],
        bounds=bounds,
        loss="huber",
        f_scale=delta,
        x_scale="jac",
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
        max_nfev=2000,
    )
    return result.x, huber(residuals(result.x)[0], delta), result.status > 0


# ======================================================================================= the two forms
def farseer_setup(logN, logD, logL, base: FittedLaw):
    """(residuals of resampled runs, starts, bounds, to_parameters) of the Farseer-style form, started from
    ``base``; N_ref is the geometric mean of the runs' sizes."""
    log_n_ref = float(np.mean(logN))

    def residuals_of(lN, lD, lL):
        return lambda t: farseer_residuals(t, lN, lD, lL, log_n_ref)

    logs = [math.log(base.E), math.log(base.A), math.log(base.B)]
    starts = [
        [*logs, base.alpha, beta, gamma]
        for beta in (base.beta, 0.5 * base.beta, 2.0 * base.beta)
        for gamma in (0.0, -0.3, -0.1, 0.1, 0.3)
    ]
    exp_lo, exp_hi = EXPONENT_RANGE
    bounds = (
        [LOG_BOUNDS[0]] * 3 + [exp_lo] * 2 + [GAMMA_BOUNDS[0]],
        [LOG_BOUNDS[1]] * 3 + [exp_hi] * 2 + [GAMMA_BOUNDS[1]],
    )
    starts = np.clip(np.asarray(starts), bounds[0], bounds[1])

    def to_parameters(t):
        E, A, B = (math.exp(v) for v in t[:3])
        return dict(
            E=E, A=A, B=B, alpha=float(t[3]), beta=float(t[4]), gamma=float(t[5]), N_ref=math.exp(log_n_ref)
        )

    return residuals_of, starts, bounds, to_parameters


def kaplan_setup(logN, logD, logL):
    """(residuals of resampled runs, starts, bounds, to_parameters) of Kaplan et al. 2020 Eq. 1.5: the best
    `POLISHED_STARTS` of a grid by objective."""

    def residuals_of(lN, lD, lL):
        return lambda t: kaplan_residuals(t, lN, lD, lL)

    residuals = residuals_of(logN, logD, logL)
    grid = np.array(
        [
            [n_c, d_c, alpha_n, alpha_d]
            for n_c in (10.0, 20.0, 30.0, 45.0)
            for d_c in (10.0, 20.0, 30.0, 45.0)
            for alpha_n in (0.03, 0.1, 0.3, 1.0)
            for alpha_d in (0.03, 0.1, 0.3, 1.0)
        ]
    )
    scores = np.array([huber(residuals(t)[0], HUBER_DELTA) for t in grid])
    starts = grid[np.argsort(np.where(np.isfinite(scores), scores, np.inf))[:POLISHED_STARTS]]
    exp_lo, exp_hi = EXPONENT_RANGE
    bounds = ([LOG_BOUNDS[0]] * 2 + [exp_lo] * 2, [LOG_BOUNDS[1]] * 2 + [exp_hi] * 2)

    def to_parameters(t):
        return dict(N_c=math.exp(t[0]), D_c=math.exp(t[1]), alpha_N=float(t[2]), alpha_D=float(t[3]))

    return residuals_of, starts, bounds, to_parameters


def fit_named_form(
    runs: Any,
    form: str,
    *,
    base: FittedLaw | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.8,
    delta: float = HUBER_DELTA,
    name: str = "fitted",
) -> FittedFormLaw:
    """Fit the ``farseer`` or ``kaplan`` form (`scaling.laws.forms`); ``base``: the Chinchilla fit of the same
    runs Farseer starts from (fitted here when not given)."""
    frame, logN, logD, logL = run_arrays(runs)
    bootstrap = check_bootstrap(bootstrap, len(frame))
    n_free = len(FORMS[form].names) - len(FORMS[form].fixed)

    def setup(lN, lD, lL):
        if form == "farseer":
            return farseer_setup(lN, lD, lL, base or fit_parametric(frame, name=name))
        return kaplan_setup(lN, lD, lL)

    residuals_of, starts, bounds, to_parameters = setup(logN, logD, logL)
    fits = [least_squares_fit(residuals_of(logN, logD, logL), s, bounds, delta) for s in starts]
    theta, objective, converged = min(fits, key=lambda f: f[1] if math.isfinite(f[1]) else math.inf)
    if not math.isfinite(objective):
        raise ScalingError(f"the {form} form found no finite fit to these runs")
    fit_warnings = []
    if len(frame) < 3 * n_free:
        fit_warnings.append(
            f"only {len(frame)} runs for the {n_free} constants of the {form} form: they are poorly "
            f"determined; use at least {3 * n_free}"
        )
    if not converged:
        fit_warnings.append(f"the {form} fit did not converge; treat it with care")
    replicates = None
    if bootstrap:
        rng = np.random.default_rng(seed)
        rows = []
        for _ in range(bootstrap):
            pick = rng.integers(0, len(frame), len(frame))
            resampled = residuals_of(logN[pick], logD[pick], logL[pick])
            t, _obj, ok = least_squares_fit(resampled, theta, bounds, delta)
            if ok:
                rows.append(list(to_parameters(t).values()))
        replicates = np.asarray(rows) if rows else None
    for message in fit_warnings:
        warn(message)
    compute = six_nd(np.exp(logN), np.exp(logD))
    spec = FORMS[form]
    return FittedFormLaw(
        name=name,
        source=f"{form} form fit ({spec.source}; Huber delta={delta:g} on log-loss) to {len(frame)} runs",
        convention="C = 6ND; N and D as given in the runs table",
        form=f"L = {spec.formula}",
        law_form=form,
        parameters=to_parameters(theta),
        replicates=replicates,
        interval_level=level,
        fit_flops_range=(float(compute.min()), float(compute.max())),
        warnings=tuple(fit_warnings),
        objective=objective,
        n_starts=len(starts),
        converged=converged,
        n_runs=len(frame),
        delta=delta,
        n_bootstrap=0 if replicates is None else len(replicates),
        fit_warnings=tuple(fit_warnings),
        **loss_metadata(frame),
    )


# ============================================================================= data-constrained (repeats)
def repeated_runs(frame: pd.DataFrame) -> np.ndarray:
    """Which runs see some token more than once (D > unique_tokens); refused without the column or repeats."""
    if UNIQUE_TOKENS not in frame.columns:
        raise ScalingError(
            f"the muennighoff form needs a {UNIQUE_TOKENS} column (the unique tokens each run drew from): "
            "it models repeated data (Muennighoff et al. 2023)"
        )
    unique = pd.to_numeric(frame[UNIQUE_TOKENS], errors="coerce").to_numpy(float)
    if not np.all(np.isfinite(unique) & (unique >= 1)):
        raise ScalingError(f"invalid {UNIQUE_TOKENS}: every run needs a count of at least 1 token")
    repeated = frame["D"].to_numpy(float) > unique * (1 + 1e-9)
    if not repeated.any():
        raise ScalingError(
            f"no run repeats its data (D <= {UNIQUE_TOKENS} everywhere): the muennighoff form is the "
            "chinchilla form there"
        )
    return repeated


def fit_data_constrained(runs: Any, *, bootstrap: int = 0, seed: int = 0, name: str = "fitted") -> FittedLaw:
    """Muennighoff et al. 2023 (Eq. 5-6): the base law (Approach 3) on the runs that see each token at most
    once, then R_D* and R_N* on those that repeat data, the base held fixed (their procedure)."""
    from scipy.optimize import least_squares

    frame = run_arrays(runs)[0]
    repeated = repeated_runs(frame)
    base = fit_parametric(frame[~repeated].reset_index(drop=True), bootstrap=bootstrap, seed=seed, name=name)
    rep = frame[repeated]
    N, D, U = (rep[k].to_numpy(float) for k in ("N", "D", UNIQUE_TOKENS))
    logL = np.log(rep["loss"].to_numpy(float))

    def residuals(t):
        law = replace(base, R_D_star=math.exp(t[0]), R_N_star=math.exp(t[1]))
        return np.log(law.predict(N, D, unique_tokens=U)) - logL

    fits = [
        least_squares(
            residuals,
            [math.log(r_d), math.log(r_n)],
            bounds=([-5, -5], [10, 10]),
            loss="huber",
            f_scale=HUBER_DELTA,
        )
        for r_d in (1.0, 5.0, 15.0, 50.0)
        for r_n in (1.0, 5.0, 15.0, 50.0)
    ]
    best = min(fits, key=lambda f: huber(f.fun, HUBER_DELTA))
    return replace(
        base,
        form="L = E + A/N'^alpha + B/D'^beta (N', D': Muennighoff et al. 2023 Eq. 5-6)",
        R_D_star=math.exp(best.x[0]),
        R_N_star=math.exp(best.x[1]),
        fitted_form="muennighoff",
        source=base.source + f"; R_D*, R_N* (Muennighoff et al. 2023 Eq. 5-6) on {int(repeated.sum())} "
        "runs that repeat data",
        n_runs=len(frame),
    )


def fit_form(runs: Any, form: str = "chinchilla", *, base: FittedLaw | None = None, **options: Any):
    """Fit one form of `FIT_FORMS` to the runs (``options``: bootstrap, seed, name); ``base``: a Chinchilla
    fit of the same runs, reused where a form starts from it."""
    if form not in FIT_FORMS:
        raise ScalingError(f"invalid law form {form!r}: expected one of {', '.join(FORM_CHOICES)}")
    if form == "chinchilla":
        return fit_parametric(runs, **options)
    if form == "muennighoff":
        return fit_data_constrained(runs, **options)
    return fit_named_form(runs, form, base=base, **options)


def predict_runs(law: Any, frame: pd.DataFrame) -> np.ndarray:
    """The law's loss for each run: with the runs' unique tokens for a law that models repeated data."""
    N, D = frame["N"].to_numpy(float), frame["D"].to_numpy(float)
    if getattr(law, "R_D_star", None) is not None and UNIQUE_TOKENS in frame.columns:
        return np.asarray(law.predict(N, D, unique_tokens=frame[UNIQUE_TOKENS].to_numpy(float)), dtype=float)
    return np.asarray(law.predict(N, D), dtype=float)
