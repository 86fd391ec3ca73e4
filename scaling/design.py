"""Which runs to do next: the (N, D) runs that shrink most the interval of one target, for a FLOP spend.

The target is a quantity at a target compute C_t, read off a fitted law L = E + A/N^alpha + B/D^beta:

* ``n_opt``: ln N_opt(C_t) (Hoffmann et al. 2022, Eq. 4);
* ``ratio``: ln(D_opt/N_opt) at C_t (= ln(C_t/6) - 2 ln N_opt under C = 6ND);
* ``loss``: ln L*(C_t), the loss of the compute-optimal model.

Scoring uses the fit's bootstrap replicates (no refits, no Jacobian). For each replicate r the target g_r and,
at each candidate run x, the predicted log-loss f_r(x) are computed; their joint covariance S over the
replicates is the current uncertainty. Observing run x with noise variance sigma^2 conditions it
(linear-Gaussian update, the ensemble-Kalman form of the delta method's c-optimal design):

    Var(g | x) = Var(g) - Cov(g, f(x))^2 / (Var(f(x)) + sigma^2)

A run helps exactly as much as its predicted loss co-varies with the target: disagreement between replicates
at x alone is not enough (the most extrapolated run disagrees most, and may say nothing about the target).
Runs are picked greedily, each conditioning S before the next pick (a repeat of a run is a valid pick: it
lowers the noise there), by gain / (cost / spend)^kappa among the candidates still affordable, until the spend
or the number of runs is used up. kappa = 0: the most informative run that still fits the spend (kappa = 1,
information per FLOP, picks only the tiniest runs; budget-aware design in "Spend Less, Fit Better", 2026, uses
0.4). In bench/bench_design.py kappa = 0 narrowed the target interval most at equal FLOPs (0.25 and 0.5 left
most of the spend unused).

sigma is the fit's own residual scatter in log-loss (RMS over n - 5 degrees of freedom), at least 0.002.
The expected interval after the runs keeps today's centre and scales today's width by the predicted standard
deviation ratio; it is a forecast under the current fit, not a promise: bench/bench_design.py measures it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scaling.checks import choice, positive, positive_int
from scaling.errors import ScalingError
from scaling.flops import FLOPS_PER_PARAM_TOKEN
from scaling.laws import Law, ParametricLaw, parametric_loss, parametric_n_opt

QUANTITIES = ("n_opt", "ratio", "loss")
QUANTITY_TEXT = {"n_opt": "N_opt", "ratio": "D_opt/N_opt", "loss": "L*"}
COST_EXPONENT = 0.0
MIN_NOISE = 0.002  # log-loss; below this a run's noise is not credible (seed-to-seed scatter is larger)
SIZE_SPAN = 8.0  # candidate sizes within N_opt / 8 .. N_opt x 8 at each budget
SIZES_PER_BUDGET = 13
MIN_BUDGETS = 3  # IsoFLOP budgets a design needs: one IsoFLOP line cannot identify five parameters
MIN_REPLICATES = 20  # bootstrap replicates a design needs to score candidates


@dataclass(frozen=True)
class Candidates:
    """Runs that could be done: sizes N, tokens D, cost in FLOPs, the budget they belong to, extra columns."""

    N: np.ndarray
    D: np.ndarray
    cost: np.ndarray
    budget: np.ndarray
    extra: tuple[dict[str, Any], ...] = ()
    cost_convention: str = "C = 6ND"

    def __post_init__(self) -> None:
        if not (len(self.N) == len(self.D) == len(self.cost) == len(self.budget)):
            raise ScalingError("candidate arrays N, D, cost and budget must have one entry per candidate")


@dataclass(frozen=True)
class ProposedRun:
    """One run of a design: its size, tokens, cost, and why it was picked."""

    N: float
    D: float
    cost: float
    budget: float
    variance_cut: float  # fraction of the target's variance (before this pick) that this run removes
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def C(self) -> float:
        return FLOPS_PER_PARAM_TOKEN * self.N * self.D

    def to_dict(self) -> dict[str, Any]:
        return {
            "N": self.N,
            "D": self.D,
            "C": self.C,
            "cost_flops": self.cost,
            "budget": self.budget,
            "variance_cut": self.variance_cut,
            "reason": self.reason,
            **self.extra,
        }


@dataclass(frozen=True)
class Design:
    """Proposed runs and the target interval now and (expected) after them."""

    quantity: str
    target_flops: float
    level: float
    interval_now: tuple[float, float]
    interval_after: tuple[float, float]
    runs: tuple[ProposedRun, ...]
    spend_flops: float
    budget_flops: float
    noise: float
    n_replicates: int
    cost_convention: str
    notes: tuple[str, ...] = ()

    @property
    def width_ratio(self) -> float:
        """Expected interval width after / now (log width for N_opt and D/N, absolute for the loss)."""
        return _width(self.interval_after, self.quantity) / _width(self.interval_now, self.quantity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "target_flops": self.target_flops,
            "level": self.level,
            "interval_now": list(self.interval_now),
            "interval_after": list(self.interval_after),
            "width_ratio": self.width_ratio,
            "spend_flops": self.spend_flops,
            "budget_flops": self.budget_flops,
            "noise_log_loss": self.noise,
            "n_replicates": self.n_replicates,
            "cost_convention": self.cost_convention,
            "runs": [r.to_dict() for r in self.runs],
            "notes": list(self.notes),
        }


def _width(interval: tuple[float, float], quantity: str) -> float:
    lo, hi = interval
    return hi - lo if quantity == "loss" else math.log(hi / lo)


# ------------------------------------------------------------------------------------------- targets
def target_values(replicates: np.ndarray, quantity: str, target_flops: float) -> np.ndarray:
    """The target (in log) for each replicate row (E, A, B, alpha, beta)."""
    E, A, B, alpha, beta = np.asarray(replicates, dtype=float).T
    log_n = np.log(parametric_n_opt(target_flops, A, B, alpha, beta))
    half = math.log(target_flops / FLOPS_PER_PARAM_TOKEN)
    if quantity == "n_opt":
        return log_n
    if quantity == "ratio":
        return half - 2.0 * log_n
    n_opt = np.exp(log_n)
    return np.log(parametric_loss(n_opt, np.exp(half) / n_opt, E, A, B, alpha, beta))


def log_loss(replicates: np.ndarray, N: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Predicted ln L of every replicate (rows) at every (N, D) (columns)."""
    E, A, B, alpha, beta = np.asarray(replicates, dtype=float).T[:, :, None]
    return np.log(
        parametric_loss(np.asarray(N, float)[None, :], np.asarray(D, float)[None, :], E, A, B, alpha, beta)
    )


def noise_of_fit(law: Law, N: np.ndarray, D: np.ndarray, loss: np.ndarray) -> float:
    """The runs' scatter around the fit in log-loss: root-mean-square residual with the fit's five parameters
    taken off the degrees of freedom (the raw residuals of a 5-parameter Huber fit to few runs understate it),
    at least MIN_NOISE."""
    residual = np.log(loss) - np.log(law.predict(N, D))
    residual = residual[np.isfinite(residual)]
    if residual.size <= 5:
        return MIN_NOISE
    return max(MIN_NOISE, math.sqrt(float(np.sum(residual**2)) / (residual.size - 5)))


# ---------------------------------------------------------------------------------------- candidates
def candidate_grid(
    law: Law, budgets_done: np.ndarray, budget_flops: float, sizes: np.ndarray | None = None
) -> Candidates:
    """Runs over budgets (C = 6ND) from the smallest done to the spend, log-spaced by 2x and including the
    budgets already done; at each, sizes around the fitted N_opt (N_opt/8 .. 8 N_opt), or ``sizes`` given."""
    done = np.unique(np.asarray(budgets_done, dtype=float))
    top = max(float(budget_flops), float(done.min()))
    steps = int(math.floor(math.log2(top / done.min()))) + 1
    budgets = np.unique(np.concatenate([done, done.min() * 2.0 ** np.arange(steps)]))
    budgets = budgets[budgets <= budget_flops * (1 + 1e-9)]
    check_spend(budget_flops, done)
    Ns, Bs = [], []
    for c in budgets:
        n_opt = float(law.n_opt(c))
        pool = (
            np.geomspace(n_opt / SIZE_SPAN, n_opt * SIZE_SPAN, SIZES_PER_BUDGET) if sizes is None else sizes
        )
        pool = pool[(pool >= n_opt / (2 * SIZE_SPAN)) & (pool <= n_opt * 2 * SIZE_SPAN)]
        Ns.append(pool)
        Bs.append(np.full(len(pool), c))
    N, budget = np.concatenate(Ns), np.concatenate(Bs)
    D = budget / (FLOPS_PER_PARAM_TOKEN * N)
    return Candidates(N=N, D=D, cost=budget, budget=budget)


# -------------------------------------------------------------------------------------------- design
def _replicates(law: Law) -> np.ndarray:
    """The law's bootstrap replicates, refused in one line when the law is not of the chinchilla form or has
    too few of them."""
    if not isinstance(law, ParametricLaw):
        raise ScalingError(
            f"designing runs needs a law of the chinchilla form (E + A/N^alpha + B/D^beta); law {law.name!r} "
            f"is of kind {law.kind}: fit with --form chinchilla"
        )
    R = np.asarray(law.replicates if law.replicates is not None else np.empty((0, 5)), dtype=float)
    if len(R) < MIN_REPLICATES:
        raise ScalingError(
            f"designing runs needs the fit's bootstrap replicates (got {len(R)}); fit with bootstrap >= 200"
        )
    return R


def _intervals(g: np.ndarray, variance: float, level: float) -> tuple[tuple, tuple]:
    """The quantity's interval now (replicate quantiles) and after the proposed runs: the same interval
    shrunk about the median by the square root of the variance left over the variance now."""
    now = tuple(float(x) for x in np.exp(np.quantile(g, [(1 - level) / 2, (1 + level) / 2])))
    centre, scale = float(np.median(g)), math.sqrt(max(variance, 0.0) / float(np.var(g, ddof=1)))
    lo, hi = np.quantile(g, [(1 - level) / 2, (1 + level) / 2])
    after = tuple(float(x) for x in np.exp([centre - (centre - lo) * scale, centre + (hi - centre) * scale]))
    return now, after


def design_runs(
    law: Law,
    runs: Any,
    *,
    budget_flops: float,
    max_runs: int = 6,
    target_flops: float | None = None,
    quantity: str = "n_opt",
    candidates: Candidates | None = None,
    cost_exponent: float = COST_EXPONENT,
    noise: float | None = None,
) -> Design:
    """Propose up to ``max_runs`` runs costing at most ``budget_flops`` in all that shrink the ``quantity``
    interval at ``target_flops`` most (module docstring). ``law`` needs bootstrap replicates; ``runs`` is the
    table it was fitted to (columns N, D, C, loss, and budget when the runs were planned on IsoFLOP
    budgets)."""
    quantity = choice(quantity, QUANTITIES, "--quantity")
    budget_flops = positive(budget_flops, "--budget-flops")
    max_runs = positive_int(max_runs, "--runs")
    R = _replicates(law)
    frame = runs
    N, D, loss = (frame[k].to_numpy(float) for k in ("N", "D", "loss"))
    budgets_done = _budgets(frame)
    check_budgets(budgets_done)
    target_flops = float(target_flops or 1000.0 * budgets_done.max())
    target_flops = positive(target_flops, "--target")
    cands = candidates or candidate_grid(law, budgets_done, budget_flops)
    sigma = noise if noise is not None else noise_of_fit(law, N, D, loss)
    g = target_values(R, quantity, target_flops)
    F = log_loss(R, cands.N, cands.D)
    ok = np.isfinite(g) & np.all(np.isfinite(F), axis=1)
    if ok.sum() < MIN_REPLICATES:
        raise ScalingError("too few finite bootstrap replicates to score candidate runs")
    g, F = g[ok], F[ok]
    picks, cuts, variance = greedy_picks(g, F, cands.cost, sigma**2, budget_flops, max_runs, cost_exponent)
    level = law.interval_level
    now, after = _intervals(g, variance, level)
    proposed = tuple(
        ProposedRun(
            N=float(cands.N[j]),
            D=float(cands.D[j]),
            cost=float(cands.cost[j]),
            budget=float(cands.budget[j]),
            variance_cut=cut,
            reason=_reason(law, frame, budgets_done, float(cands.budget[j]), float(cands.N[j]), cut),
            extra=dict(cands.extra[j]) if cands.extra else {},
        )
        for j, cut in zip(picks, cuts)
    )
    notes = [
        f"noise {sigma:.4f} in log-loss per run (the fit's residual scatter)",
        f"{len(g)} bootstrap replicates; candidates: {len(cands.N)} runs over "
        f"{np.unique(cands.budget).size} budgets",
    ]
    if not proposed:
        notes.append("no candidate run fits the spend; raise --budget-flops")
    return Design(
        quantity=quantity,
        target_flops=target_flops,
        level=level,
        interval_now=now,
        interval_after=after,
        runs=proposed,
        spend_flops=float(sum(r.cost for r in proposed)),
        budget_flops=budget_flops,
        noise=sigma,
        n_replicates=len(g),
        cost_convention=cands.cost_convention,
        notes=tuple(notes),
    )


def check_budgets(budgets_done: np.ndarray) -> None:
    """Refuse runs on fewer than `MIN_BUDGETS` IsoFLOP budgets."""
    count = np.unique(budgets_done).size
    if count < MIN_BUDGETS:
        raise ScalingError(
            f"the runs span {count} budget(s); a design needs at least {MIN_BUDGETS} "
            "(one IsoFLOP line cannot identify five parameters)"
        )


def check_spend(budget_flops: float, budgets_done: np.ndarray) -> None:
    """Refuse a spend that buys no run: less than the smallest budget in the runs (new budgets step up from
    it)."""
    smallest = float(np.min(budgets_done))
    if smallest > budget_flops * (1 + 1e-9):
        raise ScalingError(
            f"--budget-flops {budget_flops:.3g} buys no run: the smallest budget in the runs is "
            f"{smallest:.3g} FLOPs; spend at least that"
        )


def _budgets(frame: Any) -> np.ndarray:
    """The IsoFLOP budget of each run: the ``budget`` column when there is one, else C (= 6ND)."""
    column = "budget" if "budget" in frame.columns else "C"
    values = np.asarray(frame[column], dtype=float)
    return np.where(np.isfinite(values) & (values > 0), values, frame["C"].to_numpy(float))


def greedy_picks(
    g: np.ndarray,
    F: np.ndarray,
    cost: np.ndarray,
    noise_var: float,
    spend: float,
    max_runs: int,
    kappa: float,
) -> tuple[list[int], list[float], float]:
    """Greedy conditioning of the replicates' joint covariance of (target, candidate losses)."""
    Z = np.column_stack([g, F])
    Z = Z - Z.mean(axis=0)
    S = Z.T @ Z / (len(Z) - 1)
    picks, cuts, spent = [], [], 0.0
    while len(picks) < max_runs:
        afford = cost <= spend - spent + 1e-9 * spend
        if not afford.any():
            break
        gain = S[0, 1:] ** 2 / (np.diag(S)[1:] + noise_var)
        score = np.where(afford, gain / (cost / spend) ** kappa, -np.inf)
        j = int(np.argmax(score))
        if not gain[j] > 1e-12 * S[0, 0]:
            break
        column = S[:, 1 + j].copy()
        cuts.append(float(gain[j] / S[0, 0]))
        S = S - np.outer(column, column) / (column[1 + j] + noise_var)
        picks.append(j)
        spent += float(cost[j])
    return picks, cuts, float(S[0, 0])


def _reason(law: Law, frame: Any, budgets_done: np.ndarray, budget: float, N: float, cut: float) -> str:
    """Why a run: where it sits against its budget's fitted minimum, and what its budget lacks."""
    n_opt = float(law.n_opt(budget))
    ratio = N / n_opt
    if 0.8 <= ratio <= 1.25:
        where = "at the fitted optimum"
    else:
        where = f"{'left' if ratio < 1 else 'right'} of the minimum (N = {ratio:.2g} N_opt)"
    same = np.isclose(budgets_done, budget, rtol=0.05)
    if not same.any() and budget > budgets_done.max():
        why = f"new budget {budget:.3g} ({budget / budgets_done.max():.2g}x the largest so far)"
    elif not same.any():
        why = f"new budget {budget:.3g} (between the budgets run)"
    else:
        sizes = frame["N"].to_numpy(float)[same]
        side = "left" if ratio < 1 else "right"
        lacking = not ((sizes < n_opt / 1.25).any() if ratio < 1 else (sizes > n_opt * 1.25).any())
        why = f"the {budget:.3g} budget " + (
            f"lacks points {side} of its minimum"
            if lacking
            else f"has {int(same.sum())} runs; one more {side} of its minimum"
        )
    return f"{why}; {where}; cuts the target variance by {100 * cut:.0f}%"


# ------------------------------------------------------------------------------------ from a runs table
DESIGN_COLUMNS = [
    "N",
    "D",
    "C",
    "budget",
    "cost_flops",
    "d_model",
    "n_layer",
    "seed",
    "variance_cut",
    "reason",
]


def next_runs(
    source: Any,
    *,
    budget_flops: float,
    max_runs: int = 6,
    target_flops: float | None = None,
    quantity: str = "n_opt",
    bootstrap: int = 400,
    seed: int = 0,
) -> Design:
    """`design_runs` for a runs table (a file, a folder holding runs.csv, or a frame): fit Approach 3 with
    ``bootstrap`` replicates, then design over sizes on a continuous grid, at a cost of 6ND. (A sweep folder's
    own shapes on exact-FLOP budgets: `scaling.train.sweep.designed.next_sweep_runs`.)"""
    frame, law = fit_for_design(
        source,
        budget_flops=budget_flops,
        max_runs=max_runs,
        quantity=quantity,
        bootstrap=bootstrap,
        seed=seed,
    )
    return design_runs(
        law,
        frame,
        budget_flops=budget_flops,
        max_runs=max_runs,
        target_flops=target_flops,
        quantity=quantity,
    )


def fit_for_design(
    source: Any, *, budget_flops: float, max_runs: int, quantity: str, bootstrap: int, seed: int
) -> tuple[Any, Law]:
    """The runs table of ``source`` (`read_runs`) and Approach 3 fitted to it with ``bootstrap`` replicates.

    Everything a design will refuse that can be seen without the fit (a quantity, spend or count not
    accepted, fewer than `MIN_BUDGETS` budgets, a spend below the smallest budget, too few or too many
    replicates for the runs) is refused first: the fit takes seconds."""
    from scaling.fit import check_bootstrap, fit_parametric, read_runs

    choice(quantity, QUANTITIES, "--quantity")
    budget_flops = positive(budget_flops, "--budget-flops")
    positive_int(max_runs, "--runs")
    bootstrap = positive_int(bootstrap, "--bootstrap")
    if bootstrap < MIN_REPLICATES:
        raise ScalingError(
            f"--bootstrap {bootstrap}: designing runs needs at least {MIN_REPLICATES} bootstrap replicates "
            "(400 by default)"
        )
    frame = read_runs(source)
    budgets_done = _budgets(frame)
    check_budgets(budgets_done)
    check_spend(budget_flops, budgets_done)
    check_bootstrap(bootstrap, len(frame), least=MIN_REPLICATES)
    return frame, fit_parametric(frame, bootstrap=bootstrap, seed=seed)


def design_csv(design: Design) -> str:
    """The proposed runs as CSV text (`DESIGN_COLUMNS`), what `scaling sweep --design` reads."""
    import csv
    import io

    from scaling.runs_table import format_cell

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=DESIGN_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for run in design.runs:
        writer.writerow({k: format_cell(v) for k, v in run.to_dict().items() if k in DESIGN_COLUMNS})
    return buf.getvalue()
