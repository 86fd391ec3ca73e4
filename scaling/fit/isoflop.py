"""Approach 2 (Hoffmann et al. 2022 §3.2): a parabola in log10 N per IsoFLOP budget, its vertex, and power
laws N_opt = n_coef C^a, D_opt = d_coef C^b through the vertices (C = 6ND, `scaling.runs_table`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scaling.errors import ScalingError
from scaling.fit.common import read_runs, warn
from scaling.laws import AllocationLaw, Law
from scaling.render import Displayable
from scaling.runs_table.columns import MIN_CONVERGED_STEPS
from scaling.units import FLOPS_PER_PARAM_TOKEN


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
class IsoFlopFit(Displayable):
    """Approach 2: per-budget parabolas, their vertices, and N_opt = n_coef C^a, D_opt = d_coef C^b."""

    budgets: tuple[IsoFlopBudget, ...]
    a: float
    b: float
    n_coef: float
    d_coef: float
    warnings: tuple[str, ...] = ()
    a_se: float | None = None  # standard error of a from the regression over budgets (None with two budgets)

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
            "a_se": self.a_se,
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


def isoflop_profile(flops: float, x: np.ndarray, y: np.ndarray, min_points: int) -> IsoFlopBudget | None:
    """One budget's parabola loss = c2 x^2 + c1 x + c0 in x = log10 N and its flags (None below 3 sizes)."""
    if len(x) < 3 or np.unique(x).size < 3:
        return None
    flags = ["too-few-points"] if len(x) < min_points else []
    c2, c1, c0 = (float(c) for c in np.polyfit(x, y, 2))
    lo, hi = float(x.min()), float(x.max())
    if c2 <= 0:
        flags.append("no-minimum")
        nan = math.nan
        return IsoFlopBudget(
            flops, len(x), (c2, c1, c0), nan, nan, nan, (10**lo, 10**hi), tuple(flags), used=False
        )
    xv = -c1 / (2 * c2)
    vertex_loss = c0 - c1 * c1 / (4 * c2)
    if c2 * ((hi - lo) / 2) ** 2 < 0.01 * vertex_loss:
        flags.append("weak-curvature")
    width = hi - lo
    if not (lo + 0.25 * width <= xv <= hi - 0.25 * width):
        flags.append("off-centre")
    N_v = 10**xv
    tokens = flops / (FLOPS_PER_PARAM_TOKEN * N_v)
    return IsoFlopBudget(
        flops, len(x), (c2, c1, c0), N_v, tokens, vertex_loss, (10**lo, 10**hi), tuple(flags)
    )


def slope_se(x: np.ndarray, y: np.ndarray) -> float | None:
    """Standard error of the least-squares slope of y on x (None with fewer than three points)."""
    if len(x) < 3:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    return float(math.sqrt(np.sum(residual**2) / (len(x) - 2) / np.sum((x - x.mean()) ** 2)))


def converged(sub: pd.DataFrame, min_steps: int) -> tuple[pd.DataFrame, int]:
    """One IsoFLOP profile's runs without those of fewer than ``min_steps`` optimizer steps (a ``steps``
    column; a table without one is kept whole), and how many were set aside. An unconverged run's loss is
    biased high by the schedule it did not finish, most at the large sizes of a small budget, which pulls the
    parabola's vertex toward small N. The profile is kept whole when fewer than 3 sizes would remain."""
    if "steps" not in sub.columns or min_steps <= 0:
        return sub, 0
    steps = pd.to_numeric(sub["steps"], errors="coerce")
    short = steps.notna() & (steps < min_steps)
    kept = sub[~short]
    if not short.any() or kept["N"].nunique() < 3:
        return sub, 0
    return kept, int(short.sum())


def fit_isoflop(runs, *, min_points: int = 5, min_steps: int = MIN_CONVERGED_STEPS) -> IsoFlopFit:
    """Approach 2 (Hoffmann et al. 2022 §3.2): a parabola in log10 N per budget, vertices, power laws.

    Runs are grouped by `budget_groups`; runs of fewer than ``min_steps`` optimizer steps are set aside
    (`converged`; 0 keeps them). Flags per budget: ``too-few-points`` (< min_points; fewer than 3
    sizes is skipped), ``no-minimum`` (the parabola opens downward: skipped), ``weak-curvature`` (the loss
    changes by less than 1% across the sampled range), ``off-centre`` (the vertex lies in the outer quarter
    of, or outside, the sampled log N range: the vertex is biased, Czech et al. 2026).
    """
    frame = runs if isinstance(runs, pd.DataFrame) and "C" in runs.columns else read_runs(runs)
    labels = budget_groups(frame)
    budgets, set_aside = [], 0
    for label in np.unique(labels):
        sub, short = converged(frame[labels == label], min_steps)
        set_aside += short
        flops = float(np.exp(np.mean(np.log(sub["C"]))))
        profile = isoflop_profile(
            flops, np.log10(sub["N"].to_numpy(float)), sub["loss"].to_numpy(float), min_points
        )
        if profile is not None:
            budgets.append(profile)
    used = [b for b in budgets if b.used]
    outside = [b for b in used if not (b.n_range[0] <= b.params <= b.n_range[1])]
    used = [b for b in used if b not in outside]
    warnings = [f"budget {b.flops:.3g}: {', '.join(b.flags)}" for b in budgets if b.flags]
    if set_aside:
        warnings.append(
            f"{set_aside} run(s) of fewer than {min_steps} optimizer steps set aside from the parabolas (not "
            "converged)"
        )
    if outside:
        warnings.append(f"{len(outside)} budget(s) left out: the vertex lies outside the sampled model sizes")
    if len(used) < 2:
        for message in warnings:
            warn(message)
        raise ScalingError(
            f"Approach 2 needs at least two IsoFLOP budgets with a minimum inside the sampled sizes; found "
            f"{len(used)} (runs are grouped by their budget column, else by C within 5%)"
        )
    logC, logN = np.log([b.flops for b in used]), np.log([b.params for b in used])
    a, log_k = np.polyfit(logC, logN, 1)
    b_exp, log_kd = np.polyfit(logC, np.log([b.tokens for b in used]), 1)
    if len(used) < 3:
        warnings.append("only two usable budgets: the exponents have no check")
    for message in warnings:
        warn(message)
    return IsoFlopFit(
        tuple(budgets),
        float(a),
        float(b_exp),
        float(np.exp(log_k)),
        float(np.exp(log_kd)),
        tuple(warnings),
        slope_se(logC, logN),
    )
