"""Fit the learning-rate and batch laws of your own sweep: eta_opt(C) and B_opt(C) as power laws of compute,
by DeepSeek LLM's method (Bi et al. 2024, §3.1): at each budget the runs whose loss is within 0.25% of the
budget's best are near-optimal; a power law in C is fitted through all near-optimal (C, eta) and (C, B)
points, by least squares in log-log; bootstrap intervals resample the near-optimal points within each
budget.

Input: a runs table with ``lr`` (peak learning rate) and ``batch`` (sequences per step) with ``seq_len``
(or ``batch_tokens``) beside the usual columns, e.g. a sweep run with ``--lr-grid 5`` and ``--batch-grid``.
C is the table's own C = 6ND (`scaling.runs_table`), so the fitted law is applied at the plan's 6ND.
`best_runs` keeps the best learning rate and batch per budget and size, what a loss law is fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scaling import checks, units
from scaling.errors import ScalingError
from scaling.render import Displayable, Table

NEAR_OPTIMAL = 0.0025  # within 0.25% of the budget's best loss (Bi et al. 2024, §3.1)
DEFAULT_LEVEL = 0.8
DEFAULT_BOOTSTRAP = 1000
MAX_BOOTSTRAP = 100_000


@dataclass(frozen=True, eq=False)
class HyperparameterFit(Displayable):
    """eta_opt = lr_coef C^lr_exp and B_opt = batch_coef C^batch_exp tokens, with bootstrap replicates (rows
    of lr_coef, lr_exp, batch_coef, batch_exp) and the near-optimal points they came from."""

    lr_coef: float
    lr_exp: float
    batch_coef: float
    batch_exp: float
    replicates: np.ndarray
    level: float
    points: Any  # DataFrame: budget, C, lr, batch_tokens, loss of the near-optimal runs
    budgets: int
    batch_varied: bool
    near_optimal: float = NEAR_OPTIMAL
    on_edge: int = 0  # budgets whose best learning rate is the largest or smallest tried

    @property
    def warnings(self) -> tuple[str, ...]:
        if not self.on_edge:
            return ()
        return (
            f"at {self.on_edge} of {self.budgets} budgets the best learning rate is the largest or smallest "
            "tried: the optimum may lie beyond the grid (widen --lr-grid or move --lr)",
        )

    def interval(self, column: int) -> tuple[float, float] | None:
        if not len(self.replicates):
            return None
        tail = (1 - self.level) / 2 * 100
        low, high = np.percentile(self.replicates[:, column], [tail, 100 - tail])
        return float(low), float(high)

    def learning_rate(self, flops: Any) -> Any:
        return self.lr_coef * np.asarray(flops, dtype=float) ** self.lr_exp

    def batch_tokens(self, flops: Any) -> Any:
        return self.batch_coef * np.asarray(flops, dtype=float) ** self.batch_exp

    def to_law_key(self) -> dict[str, Any]:
        """The law file's ``hyperparameters`` key (`scaling.recipe.fitted`)."""
        c = self.points["C"].to_numpy(float)
        return {
            "learning_rate": {"coef": self.lr_coef, "exp": self.lr_exp},
            "batch_tokens": {"coef": self.batch_coef, "exp": self.batch_exp},
            "convention": "C = 6ND",
            "near_optimal": self.near_optimal,
            "flops_range": [float(c.min()), float(c.max())],
            "batch_varied": self.batch_varied,
            "bootstrap": {"level": self.level, "replicates": np.asarray(self.replicates).tolist()},
            "source": "scaling fit --hyperparameters (Bi et al. 2024 §3.1 near-optimal region)",
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "learning_rate": {"coef": self.lr_coef, "exp": self.lr_exp, "exp_interval": self.interval(1)},
            "batch_tokens": {
                "coef": self.batch_coef,
                "exp": self.batch_exp,
                "exp_interval": self.interval(3),
                "varied": self.batch_varied,
            },
            "interval_level": self.level,
            "near_optimal": self.near_optimal,
            "budgets": self.budgets,
            "near_optimal_runs": int(len(self.points)),
            "convention": "C = 6ND",
            "warnings": list(self.warnings),
        }

    def display_tables(self) -> list[Table]:
        def interval(column: int) -> str:
            low_high = self.interval(column)
            return "" if low_high is None else f" ({self.level:.0%}: {low_high[0]:.3f} to {low_high[1]:.3f})"

        batch = (
            f"{self.batch_coef:.4g} C^{self.batch_exp:.4f}{interval(3)} tokens"
            if self.batch_varied
            else f"{units.format_count(self.batch_coef)} tokens (not varied in these runs)"
        )
        rows = [
            ("eta_opt(C)", f"{self.lr_coef:.4g} C^{self.lr_exp:.4f}{interval(1)}"),
            ("B_opt(C)", batch),
            (
                "from",
                f"{len(self.points)} near-optimal runs (within {self.near_optimal:.2%} of each budget's "
                f"best) over {self.budgets} budgets; C = 6ND (Bi et al. 2024 §3.1)",
            ),
        ]
        rows += [("!", w) for w in self.warnings]
        return [Table.of(rows, title="Hyperparameter laws", align="ll")]


def _power_law(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(coef, exp) of y = coef x^exp by least squares in log-log; exp 0 when x does not vary."""
    lx, ly = np.log(x), np.log(y)
    if np.ptp(lx) == 0:
        return float(np.exp(ly.mean())), 0.0
    exp, intercept = np.polyfit(lx, ly, 1)
    return float(np.exp(intercept)), float(exp)


def _batch_tokens(frame: Any) -> np.ndarray:
    if "batch_tokens" in frame.columns:
        return frame["batch_tokens"].to_numpy(float)
    if "batch" in frame.columns and "seq_len" in frame.columns:
        return frame["batch"].to_numpy(float) * frame["seq_len"].to_numpy(float)
    raise ScalingError(
        "--hyperparameters needs the batch of each run: columns batch and seq_len (a sweep's runs.csv has "
        "them), or batch_tokens"
    )


def near_optimal_runs(frame: Any, near_optimal: float = NEAR_OPTIMAL) -> Any:
    """The runs within ``near_optimal`` (a fraction) of their budget's best loss, with their budget label."""
    import pandas as pd

    from scaling.fit.isoflop import budget_groups

    if "lr" not in frame.columns:
        raise ScalingError(
            "--hyperparameters needs an lr column (the peak learning rate of each run), e.g. the runs of "
            "'scaling sweep --lr-grid 5'"
        )
    data = pd.DataFrame(
        {
            "budget": budget_groups(frame),
            "C": frame["C"].to_numpy(float),
            "lr": pd.to_numeric(frame["lr"], errors="coerce").to_numpy(float),
            "batch_tokens": _batch_tokens(frame),
            "loss": frame["loss"].to_numpy(float),
        }
    )
    data = data[np.isfinite(data["lr"]) & (data["lr"] > 0) & np.isfinite(data["batch_tokens"])]
    best = data.groupby("budget")["loss"].transform("min")
    return data[data["loss"] <= best * (1 + near_optimal)].reset_index(drop=True)


def fit_hyperparameters(
    frame: Any,
    *,
    near_optimal: float = NEAR_OPTIMAL,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> HyperparameterFit:
    """eta_opt(C) and B_opt(C) from the runs of ``frame`` (a `scaling.runs_table` frame)."""
    bootstrap = checks.positive_int(bootstrap, "--bootstrap", allow_zero=True)
    checks.at_most(bootstrap, MAX_BOOTSTRAP, "--bootstrap", "resamples")
    points = near_optimal_runs(frame, near_optimal)
    budgets = int(points["budget"].nunique())
    if budgets < 2:
        raise ScalingError(
            f"--hyperparameters needs runs at 2 or more budgets to fit a power law of C; these runs have "
            f"{budgets}"
        )
    C, lr, batch = (points[k].to_numpy(float) for k in ("C", "lr", "batch_tokens"))
    lr_coef, lr_exp = _power_law(C, lr)
    batch_coef, batch_exp = _power_law(C, batch)
    batch_varied = bool(np.ptp(np.log(_batch_tokens(frame))) > 0)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(points["budget"].to_numpy() == b) for b in np.unique(points["budget"])]
    rows = []
    for _ in range(bootstrap):  # resample the near-optimal runs within each budget
        pick = np.concatenate([rng.choice(g, size=len(g)) for g in groups])
        rows.append((*_power_law(C[pick], lr[pick]), *_power_law(C[pick], batch[pick])))
    replicates = np.asarray(rows, dtype=float).reshape(-1, 4)
    return HyperparameterFit(
        lr_coef,
        lr_exp,
        batch_coef,
        batch_exp,
        replicates,
        level,
        points,
        budgets,
        batch_varied,
        near_optimal,
        _lr_on_edge(frame),
    )


def _lr_on_edge(frame: Any) -> int:
    """Budgets whose lowest-loss run used the largest or smallest learning rate tried at that budget."""
    import pandas as pd

    from scaling.fit.isoflop import budget_groups

    data = pd.DataFrame(
        {
            "budget": budget_groups(frame),
            "lr": pd.to_numeric(frame["lr"], errors="coerce"),
            "loss": frame["loss"],
        }
    )
    count = 0
    for _, group in data.groupby("budget"):
        if group["lr"].nunique() < 3:
            continue
        best = group.loc[group["loss"].idxmin(), "lr"]
        count += int(best in (group["lr"].min(), group["lr"].max()))
    return count


def best_runs(frame: Any) -> Any:
    """The best-loss run per budget and size (``N``): what a loss law is fitted on when the runs also vary
    the learning rate or batch."""
    from scaling.fit.isoflop import budget_groups

    labelled = frame.assign(_budget=budget_groups(frame))
    best = labelled.groupby(["_budget", "N"])["loss"].idxmin()
    return labelled.loc[best].drop(columns="_budget").reset_index(drop=True)


def fit_runs_with_hyperparameters(
    source: Any, *, bootstrap: int = 0, seed: int = 0
) -> tuple[Any, HyperparameterFit]:
    """``scaling fit RUNS --hyperparameters``: the hyperparameter laws of the runs, and the Approach 3 loss
    law fitted on their best run per budget and size, carrying the hyperparameter laws (the law file the
    plan uses with ``--hp-law law``). Returns (`FitReport`, `HyperparameterFit`)."""
    from dataclasses import replace
    from pathlib import Path

    from scaling.fit.report import fit_runs
    from scaling.runs_table import read_table

    frame = read_table(source).frame
    fit = fit_hyperparameters(frame, bootstrap=bootstrap or DEFAULT_BOOTSTRAP, seed=seed)
    name = Path(str(source)).stem if isinstance(source, (str, Path)) else "fitted"
    report = fit_runs(best_runs(frame), approach="3", bootstrap=bootstrap, seed=seed, name=name)
    if report.approach3 is not None:
        report = replace(report, approach3=replace(report.approach3, hyperparameters=fit.to_law_key()))
    return report, fit
