"""``scaling fit RUNS --moe``: Krajewski et al. 2024's fine-grained MoE law fitted to your own runs, written
in the law-file format ``scaling plan --moe --moe-law`` reads (`scaling.laws.moe`).

    MoE:   L(N, D, G) = c + (g / G**gamma + a) / N**alpha + b / D**beta     (Krajewski et al. 2024, Eq. 5)
    dense: L(N, D)    = c + a / N**alpha + b / D**beta                      (Hoffmann et al. 2022, Eq. 2)

The runs table is the fit's usual one (`scaling.runs_table`: ``N``, ``D``, ``loss``, one row per run) with
``N`` the *active* parameters (those a token meets) and the granularity of each run:

==================  =========================================================================================
column              meaning
==================  =========================================================================================
``granularity``     G (also ``G``): experts G times narrower than the dense FFN, G times as many, top-G; an
                    integer >= 1 for a MoE run, ``0`` or ``dense`` for a dense run
``experts``         instead of ``granularity``: the routed experts, G = experts / expansion (Krajewski et
                    al.'s E x G experts); ``0`` or ``dense`` for a dense run
``expansion``       E, total over active expert parameters, one value for every MoE run (the law holds at
                    one E; Krajewski et al. fix 64); derived as experts / granularity when both are given
==================  =========================================================================================

Both sides are fitted by the objective of Approach 3 (Hoffmann et al. 2022, App. D.2: Huber, delta = 1e-3, on
log-loss, summed): the dense runs by `scaling.fit.parametric.fit_parametric` itself, the MoE runs by the same
trust-region least squares the other forms use (`scaling.fit.forms.least_squares_fit`) on the log-sum-exp of
the law's four terms, started from the dense fit. Bootstrap replicates resample each side's runs and refit
from its best fit; intervals are their percentiles. Rows with a granularity the law cannot read are set aside
and reported in one line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scaling.errors import ScalingError, quoted
from scaling.fit.common import percentile_intervals, report_table, save_law_file, warn
from scaling.fit.engine import HUBER_DELTA
from scaling.fit.forms import LOG_BOUNDS, least_squares_fit
from scaling.fit.parametric import check_bootstrap, fit_parametric
from scaling.fit.report import collect
from scaling.laws.moe import EXPONENT_RANGE, MoeLaw, moe_law_from_dict

FORM = "Krajewski et al. 2024 (arXiv 2402.07871): L = c + (g/G^gamma + a)/N^alpha + b/D^beta, N active"
# theta of the MoE side: logs of c, a, g, b, then alpha, beta, gamma
THETA = ("c", "a", "g", "b", "alpha", "beta", "gamma")
MIN_MOE_RUNS = 8  # one more than the seven constants
MIN_DENSE_RUNS = 5  # Approach 3's five
RUNS_PER_PARAMETER = 3  # as Approach 3: fewer per constant and the fit warns
DENSE_WORDS = ("dense", "0")
COLUMNS_NEEDED = (
    "a granularity column (G: an integer >= 1 for a MoE run, 0 or dense for a dense run) or an experts "
    "column with an expansion column"
)


@dataclass(frozen=True)
class MoeRuns:
    """A MoE runs table split into its MoE runs (N, D, loss, G) and dense runs (N, D, loss, C)."""

    moe: pd.DataFrame
    dense: pd.DataFrame
    expansion: float
    source: str
    set_aside: str | None = None


def _cell(value: Any) -> float | None:
    """A granularity-like cell as a number: 0.0 for dense, None when unreadable."""
    text = str(value).strip().lower()
    if text in DENSE_WORDS:
        return 0.0
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _column(frame: pd.DataFrame, *names: str) -> str | None:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def split_moe_runs(frame: pd.DataFrame, source: str = "runs") -> MoeRuns:
    """Split a read runs table (`scaling.runs_table.read_table`'s frame) into MoE and dense runs by their
    granularity (module docstring); rows whose granularity cannot be read are set aside, one line says so."""
    g_col, e_col = _column(frame, "granularity", "g"), _column(frame, "experts", "n_experts", "num_experts")
    x_col = _column(frame, "expansion", "expansion_rate")
    if g_col is None and e_col is None:
        raise ScalingError(f"{source} has no granularity: expected {COLUMNS_NEEDED}")
    n = len(frame)
    grans = np.array([_cell(v) for v in frame[g_col]] if g_col else [np.nan] * n, dtype=float)
    experts = np.array([_cell(v) for v in frame[e_col]] if e_col else [np.nan] * n, dtype=float)
    expansion = np.array([_cell(v) for v in frame[x_col]] if x_col else [np.nan] * n, dtype=float)
    if g_col is None:  # G from experts and expansion; a dense run has 0 experts
        grans = np.where(experts == 0, 0.0, experts / expansion)
    expansion = np.where(np.isnan(expansion), experts / np.where(grans > 0, grans, np.nan), expansion)
    whole = np.isfinite(grans) & (np.abs(grans - np.round(grans)) < 1e-9)
    good = whole & ((grans == 0) | (grans >= 1))
    shown = frame[g_col or e_col].astype(str).to_numpy()
    bad = np.flatnonzero(~good)
    line = None
    if bad.size:
        what = "granularity" if g_col else f"experts / {x_col or 'expansion'}"
        line = (
            f"set aside {bad.size} of {n} runs of {source}: {what} not 0, dense or an integer >= 1 "
            f"(first: {quoted(shown[bad[0]], 40)})"
        )
    moe_rows = good & (grans >= 1)
    moe = frame[moe_rows].assign(G=np.round(grans[moe_rows])).reset_index(drop=True)
    dense = frame[good & (grans == 0)].reset_index(drop=True)
    kept = np.unique(expansion[moe_rows][np.isfinite(expansion[moe_rows])])
    if moe_rows.any() and kept.size == 0:
        raise ScalingError(
            f"{source} gives no expansion for its MoE runs: add an expansion column (total over active "
            "expert parameters; Krajewski et al. fix 64) or an experts column beside granularity"
        )
    if kept.size > 1 and not np.allclose(kept, kept[0], rtol=1e-6):
        raise ScalingError(
            f"{source} mixes expansions {', '.join(f'{x:g}' for x in kept)}: Krajewski et al.'s law holds at "
            "one expansion; fit each expansion's runs on their own"
        )
    return MoeRuns(moe, dense, float(kept[0]) if kept.size else math.nan, source, line)


def read_moe_runs(source: Any) -> MoeRuns:
    """Read a MoE runs table (`scaling.runs_table.read_table`; damaged rows reported as warnings) and split it
    (`split_moe_runs`); refuses too few runs on either side."""
    from scaling import runs_table

    table = runs_table.read_table(source)
    report_table(table)
    runs = split_moe_runs(table.frame, table.source)
    if runs.set_aside:
        warn(runs.set_aside)
    if len(runs.moe) < MIN_MOE_RUNS or runs.moe["G"].nunique() < 2:
        raise ScalingError(
            f"{runs.source} has {len(runs.moe)} usable MoE run(s) at {runs.moe['G'].nunique()} "
            f"granularities: the MoE law's 7 constants need at least {MIN_MOE_RUNS} runs at 2 or more "
            "granularities"
        )
    if len(runs.dense) < MIN_DENSE_RUNS or runs.dense["N"].nunique() < 2:
        raise ScalingError(
            f"{runs.source} has {len(runs.dense)} usable dense run(s) (granularity 0 or dense): the law "
            f"file's dense side needs at least {MIN_DENSE_RUNS} at 2 or more sizes"
        )
    return runs


# =============================================================================== the MoE side's objective
def moe_residuals(theta, logN, logD, logG, logL):
    """r = log L_hat - log L and dr/dtheta for theta = (log c, log a, log g, log b, alpha, beta, gamma):
    log L_hat is the log-sum-exp of the four terms c, a/N^alpha, g/(G^gamma N^alpha), b/D^beta."""
    c, a, g, b, alpha, beta, gamma = theta
    terms = np.stack(
        [np.full_like(logN, c), a - alpha * logN, g - gamma * logG - alpha * logN, b - beta * logD]
    )
    top = terms.max(axis=0)
    weights = np.exp(terms - top)
    total = weights.sum(axis=0)
    wc, wa, wg, wb = weights / total
    r = top + np.log(total) - logL
    jac = np.stack([wc, wa, wg, wb, -(wa + wg) * logN, -wb * logD, -wg * logG], axis=1)
    return r, jac


def _bounds():
    lo, hi = EXPONENT_RANGE
    return [LOG_BOUNDS[0]] * 4 + [lo] * 3, [LOG_BOUNDS[1]] * 4 + [hi] * 3


def _starts(dense: dict[str, float]) -> np.ndarray:
    """Starts from the dense fit: its c, a, b, alpha, beta, with g a share of a and a spread of gamma."""
    c, a, b = (math.log(dense[k]) for k in ("c", "a", "b"))
    starts = [
        [c, a + math.log(1.0 - share), a + math.log(share), b, dense["alpha"], dense["beta"], gamma]
        for share in (0.1, 0.3, 0.6)
        for gamma in (0.25, 0.5, 1.0)
    ]
    lo, hi = _bounds()
    return np.clip(np.asarray(starts), np.asarray(lo) + 1e-9, np.asarray(hi) - 1e-9)


def _natural(theta) -> dict[str, float]:
    values = {k: float(v) for k, v in zip(THETA, theta)}
    return {k: math.exp(v) if i < 4 else v for i, (k, v) in enumerate(values.items())}


# ==================================================================================== the fitted law
@dataclass(frozen=True)
class FittedMoeLaw:
    """A `MoeLaw` fitted to runs, with its bootstrap intervals and how the fit went."""

    law: MoeLaw
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    interval_level: float = 0.8
    runs: str = ""
    n_moe_runs: int = 0
    n_dense_runs: int = 0
    objective: float = math.nan
    converged: bool = False
    n_bootstrap: int = 0
    delta: float = HUBER_DELTA
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The law file (`scaling.laws.moe.load_moe_law` reads it back) with a ``fit`` record."""
        return {
            **self.law.to_dict(),
            "fit": {
                "runs": self.runs,
                "n_moe_runs": self.n_moe_runs,
                "n_dense_runs": self.n_dense_runs,
                "objective": "Huber on log-loss, summed (Hoffmann et al. 2022 App. D.2)",
                "delta": self.delta,
                "moe_objective_value": self.objective,
                "converged": self.converged,
                "n_bootstrap": self.n_bootstrap,
                "interval_level": self.interval_level,
                "intervals": {
                    side: {k: list(v) for k, v in iv.items()} for side, iv in self.intervals.items()
                },
                "warnings": list(self.warnings),
            },
        }

    def save(self, path: str | Path) -> Path:
        """Write the law file (read back by `moe_law_from_dict` first, so it always loads)."""
        return save_law_file(self.to_dict(), path, moe_law_from_dict)


def _bootstrap_rows(fit_from: Any, theta: Any, logs: tuple, bootstrap: int, seed: int) -> list[list[float]]:
    """The MoE constants of each converged bootstrap refit (runs resampled with replacement) from theta."""
    rows, rng, n = [], np.random.default_rng(seed), len(logs[0])
    for _ in range(bootstrap):
        pick = rng.integers(0, n, n)
        t, _obj, ok = fit_from([theta], *(x[pick] for x in logs))
        if ok:
            rows.append(list(_natural(t).values()))
    return rows


def _fitted_law(runs: Any, theta: Any, dense: dict[str, float], name: str, delta: float) -> MoeLaw:
    """The law file's `MoeLaw` of a fit: N the runs table's active parameters, fit range the runs'."""
    moe = runs.moe
    both = pd.concat([moe[["N", "D"]], runs.dense[["N", "D"]]])
    return MoeLaw(
        moe={k: _natural(theta)[k] for k in THETA},
        dense=dense,
        expansion=runs.expansion,
        granularities=tuple(sorted(int(g) for g in moe["G"].unique())),
        name=name,
        source=(
            f"fitted to {len(moe)} MoE and {len(runs.dense)} dense runs of {runs.source} in {FORM}; Huber "
            f"delta={delta:g} on log-loss"
        ),
        fit_range={
            "params": (float(both["N"].min()), float(both["N"].max())),
            "tokens": (float(both["D"].min()), float(both["D"].max())),
        },
        params="active",
    )


def fit_moe_law(
    source: Any,
    *,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.8,
    delta: float = HUBER_DELTA,
    name: str = "fitted-moe-law",
) -> FittedMoeLaw:
    """Fit Krajewski et al. 2024's MoE law and its dense counterpart to a MoE runs table (module
    docstring); ``bootstrap`` resamples of each side give intervals at ``level``."""
    runs, read_notes = collect(read_moe_runs, source)
    moe = runs.moe
    bootstrap = check_bootstrap(bootstrap, max(len(moe), len(runs.dense)))
    dense_fit, dense_notes = collect(fit_parametric, runs.dense, bootstrap=bootstrap, seed=seed, name=name)
    dense = dict(c=dense_fit.E, a=dense_fit.A, b=dense_fit.B, alpha=dense_fit.alpha, beta=dense_fit.beta)
    logN, logD, logL = (np.log(moe[k].to_numpy(float)) for k in ("N", "D", "loss"))
    logG = np.log(moe["G"].to_numpy(float))
    bounds = _bounds()

    def fit_from(starts, lN, lD, lG, lL):
        fits = [
            least_squares_fit(lambda t: moe_residuals(t, lN, lD, lG, lL), s, bounds, delta) for s in starts
        ]
        return min(fits, key=lambda f: f[1] if math.isfinite(f[1]) else math.inf)

    theta, objective, converged = fit_from(_starts(dense), logN, logD, logG, logL)
    if not math.isfinite(objective):
        raise ScalingError(f"the MoE law found no finite fit to the {len(moe)} MoE runs of {runs.source}")
    notes = read_notes + [f"dense runs: {n}" for n in dense_notes]
    if len(moe) < RUNS_PER_PARAMETER * len(THETA):
        notes.append(
            f"only {len(moe)} MoE runs for the law's {len(THETA)} constants: they are poorly determined; use "
            f"at least {RUNS_PER_PARAMETER * len(THETA)}"
        )
    if not converged:
        notes.append("the MoE fit did not converge; treat it with care")
    rows = _bootstrap_rows(fit_from, theta, (logN, logD, logG, logL), bootstrap, seed)
    if len(rows) < bootstrap:
        notes.append(
            f"{bootstrap - len(rows)} of {bootstrap} MoE bootstrap replicates did not converge "
            "and were left out"
        )
    dense_iv = dense_fit.parameter_intervals(level) if bootstrap else {}
    renamed = {"E": "c", "A": "a", "B": "b", "alpha": "alpha", "beta": "beta"}
    intervals = {
        "moe": percentile_intervals(rows, THETA, level),
        "dense": {renamed[k]: dense_iv[k] for k in renamed if k in dense_iv},
    }
    return FittedMoeLaw(
        law=_fitted_law(runs, theta, dense, name, delta),
        intervals={k: v for k, v in intervals.items() if v},
        interval_level=level,
        runs=runs.source,
        n_moe_runs=len(moe),
        n_dense_runs=len(runs.dense),
        objective=objective,
        converged=converged,
        n_bootstrap=len(rows),
        delta=delta,
        warnings=tuple(notes),
    )
