"""Designed next runs (`scaling next`) against the conventional extension, at equal FLOPs, by simulation.

Each trial draws IsoFLOP runs from a known law (3 budgets 1e17, 3e17, 1e18 x 5 sizes at N_opt x 1/4..4, the
usual start), with Gaussian noise in log-loss, fits Approach 3 with bootstrap replicates, then spends the same
FLOPs two ways:

* conventional: the next budget (3x the largest) with the same grid of 5 sizes around the fitted N_opt;
* designed: `scaling.design.design_runs` with that spend and at most as many runs (5).

The new runs are drawn from the same law and noise, the law is refitted with a fresh bootstrap, and the 80%
interval of the target (ln N_opt at 1e24 FLOPs by default) is compared: the median ratio of interval widths
(designed / conventional), its interquartile range, and how often each interval covers the truth.

Truth sets: Hoffmann et al. 2022 (TeX constants), Epoch AI's replication (Besiroglu et al. 2024,
Table 1), and a symmetric law alpha = beta (Muennighoff et al. 2023's fit).

    python bench/bench_design.py                       # 3 laws x 17 trials = 51, ~3-5 min on 2 busy cores
    python bench/bench_design.py --trials 4 --noise 0.02 --quantity loss
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from scaling.design import COST_EXPONENT, design_runs, target_values
from scaling.fit import fit_parametric
from scaling.flops import FLOPS_PER_PARAM_TOKEN
from scaling.laws import parametric_loss, parametric_n_opt

TRUTHS = {  # E, A, B, alpha, beta
    "hoffmann": (1.69337368, 406.401018, 410.722827, 0.33917084, 0.2849083),
    "epoch": (1.8172, 482.01, 2085.43, 0.3478, 0.3658),
    "symmetric": (1.8691, 520.8, 1487.7, 0.3527, 0.3527),
}
START_BUDGETS = (1e17, 3e17, 1e18)
GRID = (0.25, 0.5, 1.0, 2.0, 4.0)


def simulate(truth, N, D, noise, rng):
    import pandas as pd

    N, D = np.asarray(N, float), np.asarray(D, float)
    loss = parametric_loss(N, D, *truth) * np.exp(noise * rng.standard_normal(N.shape))
    return pd.DataFrame({"N": N, "D": D, "C": FLOPS_PER_PARAM_TOKEN * N * D, "loss": loss})


def isoflop(budgets, n_centre, grid=GRID):
    N = np.array([n_centre(c) * k for c in budgets for k in grid])
    C = np.array([c for c in budgets for _ in grid])
    return N, C / (FLOPS_PER_PARAM_TOKEN * N), C


def interval(frame, quantity, target, bootstrap, seed, level=0.8):
    """The fitted law and the bootstrap interval of the target (in log)."""
    law = fit_parametric(frame, bootstrap=bootstrap, seed=seed)
    g = target_values(law.replicates, quantity, target)
    g = g[np.isfinite(g)]
    lo, hi = np.quantile(g, [(1 - level) / 2, (1 + level) / 2])
    return law, float(lo), float(hi)


def trial(truth, quantity, target, noise, bootstrap, seed, kappa):
    import pandas as pd

    rng = np.random.default_rng(seed)
    true_g = float(target_values(np.array([truth]), quantity, target)[0])
    N, D, C = isoflop(START_BUDGETS, lambda c: float(parametric_n_opt(c, *truth[1:])))
    start = simulate(truth, N, D, noise, rng).assign(budget=C)
    law, lo, hi = interval(start, quantity, target, bootstrap, seed)
    spend_budget = 3 * max(START_BUDGETS)
    Nc, Dc, Cc = isoflop([spend_budget], lambda c: float(law.n_opt(c)))
    spend = float(Cc.sum())
    design = design_runs(
        law,
        start,
        budget_flops=spend,
        max_runs=len(GRID),
        target_flops=target,
        quantity=quantity,
        cost_exponent=kappa,
    )
    Nd = np.array([r.N for r in design.runs])
    Dd = np.array([r.D for r in design.runs])
    out = {"now": hi - lo, "design_spend": design.spend_flops / spend, "forecast": design.width_ratio}
    for name, (n, d, b) in {
        "conventional": (Nc, Dc, Cc),
        "designed": (Nd, Dd, [r.budget for r in design.runs]),
    }.items():
        new = simulate(truth, n, d, noise, rng).assign(budget=b)
        _, lo2, hi2 = interval(
            pd.concat([start, new], ignore_index=True), quantity, target, bootstrap, seed + 1
        )
        out[name] = hi2 - lo2
        out[name + "_covered"] = lo2 <= true_g <= hi2
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=17, help="trials per truth set (3 sets)")
    parser.add_argument("--noise", type=float, default=0.01, help="std of the log-loss noise per run")
    parser.add_argument("--quantity", default="n_opt", choices=["n_opt", "ratio", "loss"])
    parser.add_argument("--target", type=float, default=1e24)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument(
        "--cost-exponent", type=float, default=COST_EXPONENT, help="kappa of the design's score"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    print(
        f"target: {args.quantity} at {args.target:.3g} FLOPs; noise {args.noise} in log-loss; start "
        f"{len(START_BUDGETS)} budgets x {len(GRID)} sizes; spend = 5 runs at 3x the largest budget; "
        f"{args.bootstrap} bootstrap replicates; 80% intervals"
    )
    header = (
        f"{'law':<10} {'trials':>6} {'width ratio median':>19} {'IQR':>13} {'forecast':>9} "
        f"{'cover conv':>10} {'cover design':>12} {'design spend':>12}"
    )
    print(header)
    every = []
    for name, truth in TRUTHS.items():
        results = [
            trial(
                truth,
                args.quantity,
                args.target,
                args.noise,
                args.bootstrap,
                1000 * i + 7,
                args.cost_exponent,
            )
            for i in range(args.trials)
        ]
        every += results
        print(_line(name, results))
    print(_line("all", every))
    print(f"{time.perf_counter() - started:.0f} s")


def _line(name, results) -> str:
    ratio = np.array([r["designed"] / r["conventional"] for r in results])
    q1, med, q3 = np.quantile(ratio, [0.25, 0.5, 0.75])
    forecast = np.median([r["forecast"] * r["now"] / r["conventional"] for r in results])
    cov_c = np.mean([r["conventional_covered"] for r in results])
    cov_d = np.mean([r["designed_covered"] for r in results])
    spend = np.median([r["design_spend"] for r in results])
    return (
        f"{name:<10} {len(results):>6} {med:>19.2f} {q1:>6.2f}-{q3:<6.2f} {forecast:>9.2f} {cov_c:>10.0%} "
        f"{cov_d:>12.0%} {spend:>12.0%}"
    )


if __name__ == "__main__":
    main()
