"""Synthetic runs drawn from a known law: the fitter's tests and benchmarks recover the law they came from."""

from __future__ import annotations

import math
from typing import Any

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


# Bhagia et al. 2024's ladder (§4): five sizes at 1, 2, 5 and 10 x Chinchilla's 20 tokens per parameter
LADDER_SIZES = (190e6, 370e6, 600e6, 760e6, 1e9)
LADDER_MULTIPLIERS = (1, 2, 5, 10)


def synthetic_ladder(
    tasks: dict[str, tuple[tuple[float, ...], tuple[float, ...]]],
    *,
    law: Law | str = "chinchilla",
    loss_noise: float = 0.005,
    accuracy_noise: float = 0.01,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A model ladder drawn from known two-step constants: (runs, evals). ``tasks`` maps a task to its
    (E, A, B, alpha, beta) of the task loss and (a, k, L0, b) of the accuracy (`scaling.recipe.ladder`). The
    runs' loss is ``law``'s; each run's task loss (metric bpb) is multiplied by exp(loss_noise x standard
    normal) and its accuracy (metric acc) gets accuracy_noise x standard normal added."""
    from scaling.recipe.ladder import sigmoid, task_loss

    law = get_law(law)
    rng = np.random.default_rng(seed)
    runs, evals = [], []
    for N in LADDER_SIZES:
        for multiplier in LADDER_MULTIPLIERS:
            D = 20.0 * multiplier * N
            run_id = f"ladder-{N / 1e6:.0f}m-{multiplier}x"
            loss = float(law.predict(N, D)) * math.exp(0.002 * rng.standard_normal())
            runs.append({"run_id": run_id, "N": N, "D": D, "loss": loss})
            for task, (step1, step2) in tasks.items():
                bpb = float(task_loss(step1, N, D)) * math.exp(loss_noise * rng.standard_normal())
                acc = float(sigmoid(step2, bpb)) + accuracy_noise * rng.standard_normal()
                evals.append({"run_id": run_id, "task": task, "metric": "bpb", "value": bpb})
                evals.append(
                    {"run_id": run_id, "task": task, "metric": "acc", "value": min(max(acc, 0.0), 1.0)}
                )
    return pd.DataFrame(runs), pd.DataFrame(evals)


def synthetic_moe_runs(
    law: Any,
    *,
    sizes=(1.3e8, 3.5e8, 9e8, 1.8e9, 3.7e9),
    tokens=(1.6e10, 4.5e10, 1.3e11),
    noise: float = 0.005,
    seed: int = 0,
) -> pd.DataFrame:
    """MoE and dense runs drawn from a `scaling.laws.moe.MoeLaw` (Krajewski et al. 2024's ranges by default:
    129M-3.7B active parameters, 16B-130B tokens): every size x tokens at each of the law's granularities
    and once dense (granularity 0), loss multiplied by exp(noise x standard normal)."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in sizes:
        for D in tokens:
            k = law.dense
            dense = k["c"] + k["a"] / N ** k["alpha"] + k["b"] / D ** k["beta"]
            for G, loss in [(0, dense)] + [(G, float(law.loss(N, D, G))) for G in law.granularities]:
                loss *= math.exp(noise * rng.standard_normal())
                rows.append({"N": N, "D": D, "granularity": G, "expansion": law.expansion, "loss": loss})
    return pd.DataFrame(rows)


def synthetic_ptq_evals(
    law: Any,
    *,
    sizes=(3e7, 6e7, 1.1e8, 2.2e8),
    tokens_per_param=(20, 80, 320),
    bits=(3, 4, 6, 8),
    base_loss: float = 3.0,
    noise: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Quantized evaluations drawn from a `scaling.laws.precision.PrecisionLaw` (Kumar et al. 2024's range
    by default: 30M-220M parameters): each size x tokens per parameter x bits, loss_after = loss_before +
    delta_PTQ x exp(noise x standard normal)."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in sizes:
        for ratio in tokens_per_param:
            D = ratio * N
            for b in bits:
                penalty = float(law.ptq_penalty(N, D, b)) * math.exp(noise * rng.standard_normal())
                rows.append(
                    {"N": N, "D": D, "bits": b, "loss_before": base_loss, "loss_after": base_loss + penalty}
                )
    return pd.DataFrame(rows)
