"""Synthetic runs drawn from a known law: the fitter's tests and benchmarks recover the law they came from."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scaling.laws import Law, get_law
from scaling.units import FLOPS_PER_PARAM_TOKEN


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
            loss = float(law.predict(N, D)) * math.exp(noise * rng.standard_normal())
            rows.append({"N": N, "D": D, "C": C, "loss": loss})
    return pd.DataFrame(rows)
