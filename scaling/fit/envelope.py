"""Approach 1 (Hoffmann et al. 2022 §3.1): the envelope of loss curves. Each run's loss against C = 6 N
D_seen, the lowest loss over all runs at each compute, and power laws N_opt ∝ C^a,
D_opt ∝ C^b through it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scaling.errors import ScalingError
from scaling.fit.common import read_curves, warn
from scaling.laws import AllocationLaw, Law
from scaling.render import Displayable
from scaling.units import FLOPS_PER_PARAM_TOKEN, six_nd


@dataclass(frozen=True, eq=False)
class EnvelopeFit(Displayable):
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
    frame = (
        curves
        if isinstance(curves, pd.DataFrame)
        and {"run_id", "N", "D", "loss"} <= set(curves.columns)
        and "curve" not in curves.columns
        else read_curves(curves)
    )
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
        warn(message)
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
