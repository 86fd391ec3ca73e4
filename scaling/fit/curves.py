"""Fits from curves: the schedule-aware law (`scaling.laws.curve`) fitted to every point of every run's loss
curve, and how much tighter its intervals are than the final-loss-only fit of the same runs.

Each point is (N, S1, S2, loss): S1 and S2 from the learning rate the run used at each step (a table of
rates by run id, `scaling.train.schedules` for a sweep folder). The loss of a point follows
`scaling.runs_table.CURVE_LOSS_RULE` (the validation loss where a curve has three evaluations or more,
else the training loss of every step, averaged down to `MAX_POINTS_PER_RUN` points). Points in the warmup
are left out (the form describes the loss after it), so are points beyond a run's schedule; damaged rows of
the curve files are
set aside by `scaling.runs_table.read_curves` and counted. The objective is Approach 3's (Hoffmann et al.
2022 Eq. 11: Huber, delta = 1e-3, on log-loss, summed), solved by scipy's trust-region least squares.

The comparison: both fits are bootstrapped by run (a run's points stay together: resampling points would
count one run's correlated points as independent evidence), and the report gives each one's interval on the
exponents and on the compute-optimal model and loss at the runs' largest budget and 4x beyond it. The
curve law's optimum is the model whose run, under the sweep's own recipe (schedule and batch), ends at the
lowest loss for that budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scaling.errors import ScalingError
from scaling.fit.engine import HUBER_DELTA
from scaling.laws.curve import (
    CURVE_NAMES,
    LAMBDA,
    MAX_CURVE_STEPS,
    CurveLaw,
    annealing_areas,
    curve_loss,
)
from scaling.laws.parametric import parametric_loss_opt, parametric_n_opt
from scaling.units import FLOPS_PER_PARAM_TOKEN

OPTIMUM_GRID = 41  # model sizes tried for the curve law's optimum (log-spaced, runs' range x 1/4 to x 4)
MAX_TOKENS_PER_PARAM = (
    1e4  # ... and no smaller than this many tokens per parameter (Sardana et al. 2024's most)
)
BEYOND = 4.0  # the second budget the optimum is compared at: 4x the largest run's
MIN_CURVE_RUNS = 3
MAX_CURVE_BOOTSTRAP = 2_000  # each replicate is a least-squares fit of every point: ~0.1 s on one core
MAX_POINTS_PER_RUN = 64  # a curve logged every step is averaged down to this many points
C_STARTS = (0.02, 0.1, 0.3)  # C as a fraction of the final fit's E, the starts of the annealing term


@dataclass(frozen=True)
class CurvePoints:
    """The points of a fit: per point the run, N, S1, S2 and loss; per run its rates and tokens per step."""

    run_id: np.ndarray
    N: np.ndarray
    S1: np.ndarray
    S2: np.ndarray
    loss: np.ndarray
    set_aside: dict[str, int]
    lam: float = LAMBDA

    def take(self, runs: np.ndarray) -> CurvePoints:
        """The points of ``runs`` (run ids, repeats allowed: a bootstrap resample)."""
        index = np.concatenate([np.flatnonzero(self.run_id == r) for r in runs])
        return CurvePoints(
            self.run_id[index], self.N[index], self.S1[index], self.S2[index], self.loss[index], {}, self.lam
        )


def curve_points(curves: Any, rates: dict[str, np.ndarray], tokens_per_step: dict[str, float]) -> CurvePoints:
    """The fit's points from a long curves table (run_id, N, D = tokens seen, loss) and each run's rates."""
    set_aside: dict[str, int] = {}
    parts = []
    for run_id, group in curves.groupby("run_id", sort=True):
        run_id = str(run_id)
        if run_id not in rates:
            set_aside["point of a run whose learning-rate schedule is unknown"] = set_aside.get(
                "point of a run whose learning-rate schedule is unknown", 0
            ) + len(group)
            continue
        lr, per_step = rates[run_id], tokens_per_step[run_id]
        s1, s2 = annealing_areas(lr, per_step)
        index = np.round(group["D"].to_numpy(float) / per_step).astype(int) - 1
        beyond = (index < 0) | (index >= len(lr))
        warm = ~beyond & (index < int(np.argmax(lr)))
        for reason, mask in (
            ("point beyond its run's schedule", beyond),
            ("point in the warmup (the form describes the loss after it)", warm),
        ):
            if mask.any():
                set_aside[reason] = set_aside.get(reason, 0) + int(mask.sum())
        keep = ~(beyond | warm)
        index, loss = _binned(index[keep], group["loss"].to_numpy(float)[keep])
        parts.append(
            (
                np.full(len(index), run_id, dtype=object),
                np.full(len(index), float(group["N"].iloc[0])),
                s1[index],
                s2[index],
                loss,
            )
        )
    if not parts:
        raise ScalingError("no curve point has a known learning-rate schedule")
    columns = [np.concatenate([p[i] for p in parts]) for i in range(5)]
    return CurvePoints(*columns, set_aside=set_aside)


def _binned(index: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most `MAX_POINTS_PER_RUN` points per run: a curve logged every step (the training loss) is
    averaged over equal runs of consecutive points, each at its middle step; fewer points are kept as
    they are."""
    if len(index) <= MAX_POINTS_PER_RUN:
        return index, loss
    bins = np.array_split(np.arange(len(index)), MAX_POINTS_PER_RUN)
    return (
        np.array([index[b[len(b) // 2]] for b in bins]),
        np.array([float(np.mean(loss[b])) for b in bins]),
    )


# ============================================================================================ the fit
def _residuals(theta: np.ndarray, points: CurvePoints) -> tuple[np.ndarray, np.ndarray]:
    """r = log L_hat - log L and dr/dtheta, theta = (log E, log A, log B, alpha, beta, log C)."""
    E, A, B, C = np.exp(theta[[0, 1, 2, 5]])
    alpha, beta = theta[3], theta[4]
    logN, logS1 = np.log(points.N), np.log(points.S1)
    term_n = A * np.exp(-alpha * logN)
    term_d = B * np.exp(-beta * logS1)
    anneal = C * points.S2
    predicted = np.maximum(E + term_n + term_d - anneal, 1e-12)
    r = np.log(predicted) - np.log(points.loss)
    jac = np.stack([np.full_like(r, E), term_n, term_d, -term_n * logN, -term_d * logS1, -anneal], axis=1)
    return r, jac / predicted[:, None]


def _least_squares(theta0: np.ndarray, points: CurvePoints) -> tuple[np.ndarray, float, bool]:
    from scipy.optimize import least_squares

    bounds = ([-50, -50, -50, 0.0, 0.0, -50], [150, 150, 150, 5.0, 5.0, 150])
    result = least_squares(
        lambda t: _residuals(t, points)[0],
        np.clip(theta0, [b + 1e-9 for b in bounds[0]], [b - 1e-9 for b in bounds[1]]),
        jac=lambda t: _residuals(t, points)[1],
        bounds=bounds,
        loss="huber",
        f_scale=HUBER_DELTA,
        x_scale="jac",
        max_nfev=2000,
    )
    return result.x, float(result.cost), bool(result.success)


def _starts(final: Any) -> list[np.ndarray]:
    """Starts from the final-loss fit of the same runs (its E, A, B, alpha, beta) and a few sizes of C."""
    E, A, B, alpha, beta = (float(v) for v in (final.E, final.A, final.B, final.alpha, final.beta))
    out = []
    for c in C_STARTS:
        for b_alpha, b_beta in ((alpha, beta), (0.5, 0.5)):
            out.append(np.array([math.log(E), math.log(A), math.log(B), b_alpha, b_beta, math.log(c * E)]))
    return out


def fit_curve_points(points: CurvePoints, starts: list[np.ndarray]) -> tuple[np.ndarray, float, bool]:
    """The best of ``starts`` (rows of log E, log A, log B, alpha, beta, log C)."""
    best = None
    for start in starts:
        theta, cost, ok = _least_squares(start, points)
        if best is None or cost < best[1]:
            best = (theta, cost, ok)
    return best


def natural(theta: np.ndarray) -> np.ndarray:
    """(log E, log A, log B, alpha, beta, log C) -> (E, A, B, alpha, beta, C), the order of `CURVE_NAMES`."""
    theta = np.atleast_2d(theta)
    return np.stack(
        [
            np.exp(theta[:, 0]),
            np.exp(theta[:, 1]),
            np.exp(theta[:, 2]),
            theta[:, 3],
            theta[:, 4],
            np.exp(theta[:, 5]),
        ],
        axis=1,
    )


def bootstrap_curve(points: CurvePoints, theta: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Refit ``n`` resamples of the runs (with replacement, all of a run's points together) from the fit's
    optimum; rows of `CURVE_NAMES`, replicates that did not converge left out."""
    rng = np.random.default_rng(seed)
    runs = np.unique(points.run_id)
    rows = []
    for _ in range(n):
        pick = rng.choice(runs, size=len(runs), replace=True)
        if len(np.unique(points.N[np.isin(points.run_id, pick)])) < 2:
            continue  # one model size says nothing about A and alpha
        fitted, _, ok = _least_squares(theta, points.take(pick))
        if ok:
            rows.append(natural(fitted)[0])
    return np.asarray(rows, dtype=float).reshape(-1, len(CURVE_NAMES))


# ======================================================================================= the optimum
def optimum_sizes(N: np.ndarray, C: float) -> np.ndarray:
    """The sizes the curve law's optimum at C is sought among: `OPTIMUM_GRID` log-spaced from a quarter of
    the smallest run's size (but at most `MAX_TOKENS_PER_PARAM` tokens per parameter) to 4x the largest."""
    high = 4.0 * float(np.max(N))
    low = max(float(np.min(N)) / 4.0, math.sqrt(C / (FLOPS_PER_PARAM_TOKEN * MAX_TOKENS_PER_PARAM)))
    low = min(low, high / 100.0)
    return np.exp(np.linspace(math.log(low), math.log(high), OPTIMUM_GRID))


def final_areas(schedules: Any, C: float, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S1, S2) at the end of a run of each size in ``sizes`` spending C = 6ND under the recipe's schedule
    (NaN for a run longer than `MAX_CURVE_STEPS`)."""
    per_step = schedules.recipe_tokens_per_step
    s1, s2 = [], []
    for N in sizes:
        steps = max(1, round(C / (FLOPS_PER_PARAM_TOKEN * N) / per_step))
        if steps > MAX_CURVE_STEPS:
            s1.append(math.nan)
            s2.append(math.nan)
            continue
        a1, a2 = annealing_areas(schedules.rates(steps), per_step)
        s1.append(a1[-1])
        s2.append(a2[-1])
    return np.asarray(s1), np.asarray(s2)


def curve_optimum(
    constants: np.ndarray, schedules: Any, C: float, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N_opt, final loss) for each row of constants: the size of ``sizes`` (refined by a parabola in
    log N) whose run under the recipe ends lowest at C."""
    s1, s2 = final_areas(schedules, C, sizes)
    rows = np.atleast_2d(constants)
    loss = curve_loss(sizes[None, :], s1[None, :], s2[None, :], *(rows[:, i : i + 1] for i in range(6)))
    loss = np.where(np.isfinite(loss), loss, np.inf)
    best = np.clip(np.argmin(loss, axis=1), 1, len(sizes) - 2)
    x = np.log(sizes)
    i = np.arange(len(rows))
    y0, y1, y2 = loss[i, best - 1], loss[i, best], loss[i, best + 1]
    h = x[1] - x[0]
    with np.errstate(invalid="ignore"):
        curvature = y0 - 2 * y1 + y2
        bent = np.isfinite(curvature) & (curvature > 0)  # a parabola through three finite points
        safe = np.where(bent, curvature, 1.0)
        shift = np.clip(np.where(bent, 0.5 * h * (y0 - y2) / safe, 0.0), -h, h)
        minimum = y1 - np.where(bent, (y0 - y2) ** 2 / (8 * safe), 0.0)
    return np.exp(x[best] + shift), minimum


@dataclass(frozen=True)
class Comparison:
    """One quantity's interval from each fit and how much the curves' is narrower."""

    quantity: str
    unit: str
    final: tuple[float, float, float]  # estimate, low, high
    curves: tuple[float, float, float]
    ratio: bool = False  # an interval of a positive size, compared as high/low

    def width(self, which: tuple[float, float, float]) -> float:
        return math.log(which[2] / which[1]) if self.ratio else which[2] - which[1]

    @property
    def shrink(self) -> float:
        """1 - (the curves' interval width) / (the final-loss-only one's), in log for sizes."""
        wide = self.width(self.final)
        return 1.0 - self.width(self.curves) / wide if wide > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        keys = ("estimate", "low", "high")
        return {
            "quantity": self.quantity,
            "unit": self.unit,
            "final_loss_fit": dict(zip(keys, self.final)),
            "curve_fit": dict(zip(keys, self.curves)),
            "shrink": self.shrink,
        }


@dataclass(frozen=True)
class CurveFit:
    """The fit from curves: the curve law, the final-loss-only law of the same runs, their intervals, and
    each run's final loss as the curve law predicts it."""

    law: CurveLaw
    final: Any  # FittedLaw
    comparisons: tuple[Comparison, ...]
    per_run: tuple[dict[str, Any], ...]
    n_runs: int
    n_points: int
    set_aside: dict[str, int]
    schedules_source: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def max_final_error(self) -> float:
        """The largest |predicted - measured| / measured final loss over the runs."""
        return max(abs(r["error"]) for r in self.per_run)

    def to_dict(self) -> dict[str, Any]:
        return {
            "curve_law": self.law.to_dict(),
            "final_loss_law": self.final.to_dict(),
            "comparison": [c.to_dict() for c in self.comparisons],
            "runs": list(self.per_run),
            "max_final_loss_error": self.max_final_error,
            "n_runs": self.n_runs,
            "n_points": self.n_points,
            "set_aside": [{"reason": k, "rows": v} for k, v in self.set_aside.items()],
            "schedules": self.schedules_source,
            "notes": list(self.notes),
        }


def _points_and_runs(curves: Any, runs: Any, schedules: Any) -> tuple[CurvePoints, Any]:
    """The fit's points and the runs they come from, refused below `MIN_CURVE_RUNS` runs of two sizes."""
    points = curve_points(curves, schedules.by_run, schedules.tokens_per_step)
    used = np.unique(points.run_id)
    if len(used) < MIN_CURVE_RUNS or len(np.unique(points.N)) < 2:
        raise ScalingError(
            f"only {len(used)} run(s) with curves and known schedules; a fit from curves needs at least "
            f"{MIN_CURVE_RUNS} runs of two or more sizes"
        )
    return points, runs[runs["run_id"].astype(str).isin(used)].reset_index(drop=True)


def fit_curve_law(curves: Any, runs: Any, schedules: Any) -> CurveLaw:
    """The curve law alone (no bootstrap, no comparison): what a chart of a run needs."""
    from scaling.fit.parametric import fit_parametric

    points, frame = _points_and_runs(curves, runs, schedules)
    theta, cost, converged = fit_curve_points(points, _starts(fit_parametric(frame)))
    fit = {"objective": cost, "converged": converged, "n_runs": int(len(frame)), "n_points": len(points.loss)}
    return CurveLaw(*(float(v) for v in natural(theta)[0]), fit=fit)


def _interval(values: np.ndarray, estimate: float, level: float) -> tuple[float, float, float]:
    q = (0.5 - level / 2, 0.5 + level / 2)
    low, high = np.nanquantile(values, q)
    return float(estimate), float(low), float(high)


def _comparisons(final, law, constants, replicates, frame, schedules, level) -> list[Comparison]:
    """The final-loss fit's intervals beside the curve law's: alpha and beta, then N_opt and L* at the runs'
    largest budget and `BEYOND` times it (the curve law's optimum by `curve_optimum`)."""
    comparisons = [
        Comparison(
            name,
            "",
            _interval(final.replicates[:, i], getattr(final, name), level),
            _interval(replicates[:, i], getattr(law, name), level),
        )
        for name, i in (("alpha", 3), ("beta", 4))
    ]
    largest = float(frame["C"].max())
    N = frame["N"].to_numpy(float)
    for budget in (largest, BEYOND * largest):
        sizes = optimum_sizes(N, budget)
        n_best, l_best = curve_optimum(constants, schedules, budget, sizes)
        n_reps, l_reps = curve_optimum(replicates, schedules, budget, sizes)
        R = final.replicates
        n_final = parametric_n_opt(budget, R[:, 1], R[:, 2], R[:, 3], R[:, 4])
        l_final = parametric_loss_opt(budget, *(R[:, i] for i in range(5)))
        comparisons += [
            Comparison(
                f"N_opt at {budget:.3g} FLOPs",
                "parameters",
                _interval(n_final, float(final.n_opt(budget)), level),
                _interval(n_reps, float(n_best[0]), level),
                ratio=True,
            ),
            Comparison(
                f"L* at {budget:.3g} FLOPs",
                final.loss_unit,
                _interval(l_final, float(final.loss_opt(budget)), level),
                _interval(l_reps, float(l_best[0]), level),
            ),
        ]
    return comparisons


def _per_run_errors(law, frame, points) -> list[dict[str, Any]]:
    """Each run's final loss (the mean of its curve's last tenth) against the curve law's prediction."""
    per_run = []
    for _, run in frame.iterrows():
        run_id = str(run["run_id"])
        mine = np.flatnonzero(points.run_id == run_id)  # a run's points are in step order
        tail = mine[-max(1, len(mine) // 10) :]
        predicted = float(np.mean(law.loss(float(run["N"]), points.S1[tail], points.S2[tail])))
        measured = float(np.mean(points.loss[tail]))
        per_run.append(
            {
                "run_id": run_id,
                "N": float(run["N"]),
                "D": float(run["D"]),
                "measured": measured,
                "predicted": predicted,
                "error": (predicted - measured) / measured,
            }
        )
    return per_run


def fit_curves(
    curves: Any,
    runs: Any,
    schedules: Any,
    *,
    bootstrap: int = 200,
    seed: int = 0,
    level: float = 0.8,
    set_aside: dict[str, int] | None = None,
) -> CurveFit:
    """Fit the curve law to ``curves`` (long table) of ``runs`` (runs frame: run_id, N, D, C, loss) whose
    rates ``schedules`` gives (`scaling.train.schedules.RunSchedules`), and compare it with the final-loss
    fit of the same runs, both bootstrapped ``bootstrap`` times by run."""
    from scaling.fit.parametric import fit_parametric

    if not 2 <= bootstrap <= MAX_CURVE_BOOTSTRAP:
        raise ScalingError(
            f"invalid --bootstrap {bootstrap}: a fit from curves compares intervals, so it needs 2 to "
            f"{MAX_CURVE_BOOTSTRAP:,} resamples (200 or more advised)"
        )
    points, frame = _points_and_runs(curves, runs, schedules)
    final = fit_parametric(frame, bootstrap=bootstrap, seed=seed, level=level, name="final-loss fit")
    theta, cost, converged = fit_curve_points(points, _starts(final))
    replicates = bootstrap_curve(points, theta, bootstrap, seed)
    used = np.unique(points.run_id)
    constants = natural(theta)[0]
    law = CurveLaw(
        *(float(v) for v in constants),
        replicates=replicates,
        interval_level=level,
        fit={
            "objective": cost,
            "converged": converged,
            "delta": HUBER_DELTA,
            "n_runs": int(len(used)),
            "n_points": int(len(points.loss)),
            "n_bootstrap": int(len(replicates)),
            "bootstrap": "by run",
            "schedules": schedules.source,
            "recipe_tokens_per_step": schedules.recipe_tokens_per_step,
        },
    )
    comparisons = _comparisons(final, law, constants, replicates, frame, schedules, level)
    per_run = _per_run_errors(law, frame, points)
    notes = (
        f"both fits bootstrapped {bootstrap} times by run (a run's points together), {level:.0%} intervals",
        "a run's final loss: the mean of the last tenth of its curve's points (at least the last one), by "
        "the curve rule: validation loss where a curve has three evaluations or more, else the training loss",
        "the curve law's optimum: the size whose run under the sweep's recipe (its schedule and batch) ends "
        "lowest",
    )
    return CurveFit(
        law,
        final,
        tuple(comparisons),
        tuple(per_run),
        int(len(used)),
        int(len(points.loss)),
        {**(set_aside or {}), **points.set_aside},
        schedules.source,
        notes,
    )


# ======================================================================================= as tables
def curve_fit_tables(fit: CurveFit, saved: str | None = None) -> list[Any]:
    """What ``scaling fit RUNS --curves`` prints: the curve law's constants, the interval comparison, each
    run's final loss predicted from its curve."""
    from scaling import units
    from scaling.render import Table

    law, level = fit.law, fit.law.interval_level
    R = law.replicates
    rows = []
    for i, name in enumerate(CURVE_NAMES):
        low, high = np.quantile(R[:, i], (0.5 - level / 2, 0.5 + level / 2)) if len(R) else (math.nan,) * 2
        rows.append((name, f"{getattr(law, name):.4g}", f"{low:.4g} - {high:.4g}"))
    aside = "; ".join(f"{v}: {k}" for k, v in fit.set_aside.items()) or "none"
    constants = Table.of(
        rows,
        ("constant", "estimate", f"{level:.0%} interval"),
        title=(
            f"Curve law (L = {law.to_dict()['formula']}; lambda {law.lam:g}; loss in {fit.final.loss_unit}), "
            f"fitted on {fit.n_points} points of {fit.n_runs} runs:"
        ),
        notes=[
            f"bootstrap by run: {len(R)} replicates converged",
            f"set aside: {aside}",
            f"schedules: {fit.schedules_source}",
        ],
    )

    def cell(which: tuple[float, float, float], unit: str) -> str:
        show = units.format_count if unit == "parameters" else (lambda v: f"{v:.4g}")
        return f"{show(which[0])} ({show(which[1])} - {show(which[2])})"

    compare = Table.of(
        [
            (c.quantity, cell(c.final, c.unit), cell(c.curves, c.unit), f"{c.shrink:+.0%}")
            for c in fit.comparisons
        ],
        ("quantity", "final losses only", "curves", "interval shrink"),
        title=f"Intervals ({level:.0%}) from the same runs, hence the same FLOPs:",
        notes=[f"note: {n}" for n in fit.notes]
        + ["shrink = 1 - curves' width / final-only width (log width for N_opt); negative: wider"],
    )
    per_run = Table.of(
        [
            (
                r["run_id"],
                units.format_count(r["N"]),
                units.format_count(r["D"]),
                f"{r['measured']:.4f}",
                f"{r['predicted']:.4f}",
                f"{r['error']:+.2%}",
            )
            for r in fit.per_run
        ],
        ("run", "N", "D", "final loss", "curve law", "error"),
        title=f"Each run's final loss from the curve law (largest error {fit.max_final_error:.2%}):",
        notes=[f"saved the final-loss law with the curve constants to {saved}"] if saved else [],
    )
    return [constants, compare, per_run]


def run_prediction(law: CurveLaw, curves: Any, runs: Any, schedules: Any, run_id: str, loss_unit: str):
    """(the curve law's prediction for run ``run_id`` under the schedule it used, its measured points): the
    measured points are the curve's rows (D = tokens seen, loss) the fit reads."""
    known = [str(r) for r in runs["run_id"]]
    if run_id not in known:
        shown = ", ".join(known[:4]) + (", ..." if len(known) > 4 else "")
        raise ScalingError(f"unknown --run {run_id!r}: expected a run_id of the table ({shown})")
    if run_id not in schedules.by_run:
        raise ScalingError(
            f"run {run_id!r} has no known learning-rate schedule (not in the sweep's sweep.json)"
        )
    run = runs[runs["run_id"].astype(str) == run_id].iloc[0]
    rates = schedules.by_run[run_id]
    schedule = {"kind": "the run's own", "total_steps": len(rates), "source": schedules.source}
    predicted = law.predict(
        float(run["N"]), rates, schedules.tokens_per_step[run_id], schedule=schedule, loss_unit=loss_unit
    )
    return predicted, curves[curves["run_id"].astype(str) == run_id]
