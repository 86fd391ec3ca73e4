"""The extrapolation check: fit Approach 3 on the smaller budgets, predict the held-out larger ones.

What is held out is whole IsoFLOP budgets (`scaling.fit.isoflop.budget_groups`): the K largest
(``--holdout-largest K``) or every budget at or above a compute (``--holdout-from 1e21``). Errors are
reported in one unit, relative to the observed loss: mean and max |predicted - observed| / observed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scaling import checks
from scaling.errors import ScalingError
from scaling.fit.common import read_runs
from scaling.fit.forms import fit_form, predict_runs
from scaling.fit.isoflop import budget_groups
from scaling.fit.parametric import FittedLaw
from scaling.render import Displayable


@dataclass(frozen=True, eq=False)
class HoldoutResult(Displayable):
    """Fit on the smaller budgets, predict the held-out larger ones (an extrapolation check)."""

    law: FittedLaw
    held_out_flops: tuple[float, ...]
    table: pd.DataFrame  # N, D, C, loss, predicted, error, rel_error (+ lo, hi, covered with a bootstrap)
    mean_abs_error: float  # loss units (kept for existing scripts); the relative errors below are the report
    max_abs_rel_error: float
    coverage: float | None = None
    mean_abs_rel_error: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "held_out_flops": list(self.held_out_flops),
            "n_held_out": int(len(self.table)),
            "mean_abs_rel_error": self.mean_abs_rel_error,
            "max_abs_rel_error": self.max_abs_rel_error,
            "mean_abs_error": self.mean_abs_error,
            "coverage": self.coverage,
            "law": self.law.to_dict(),
            "runs": self.table.to_dict(orient="records"),
        }


def held_out_mask(frame: pd.DataFrame, k: int = 0, from_flops: float | None = None) -> np.ndarray:
    """Runs of the ``k`` largest budgets, or of every budget whose C is at least ``from_flops``."""
    labels = budget_groups(frame)
    groups = np.unique(labels)
    if from_flops is not None:
        from_flops = checks.positive(from_flops, "--holdout-from")
        centre = {g: float(np.exp(np.mean(np.log(frame["C"][labels == g])))) for g in groups}
        top = [g for g in groups if centre[g] >= from_flops * (1 - 1e-9)]
        if not top or len(top) == len(groups):
            raise ScalingError(
                f"--holdout-from {from_flops:.3g}: must leave at least one budget on each side (budgets span "
                f"{min(centre.values()):.3g} to {max(centre.values()):.3g} FLOPs)"
            )
    else:
        if not 1 <= k < len(groups):
            raise ScalingError(f"--holdout-largest {k}: need 1 <= k < number of budgets ({len(groups)})")
        top = groups[-k:]
    return np.isin(labels, top)


def holdout_check(
    runs, k: int = 1, *, from_flops: float | None = None, form: str = "chinchilla", **fit_options
) -> HoldoutResult:
    """Hold out the runs of the k largest budgets (or of every budget from ``from_flops`` FLOPs), fit Approach
    3 (of law form ``form``, `scaling.fit.forms`) on the rest, and report the relative prediction error on the
    held-out runs (and interval coverage when bootstrapping)."""
    frame = runs if isinstance(runs, pd.DataFrame) and "C" in runs.columns else read_runs(runs)
    held = held_out_mask(frame, k, from_flops)
    law = fit_form(frame[~held].reset_index(drop=True), form, **fit_options)
    test = frame[held].reset_index(drop=True)
    predicted = predict_runs(law, test)
    test = test[["N", "D", "C", "loss"]].copy()
    test["predicted"] = predicted
    test["error"] = test["predicted"] - test["loss"]
    test["rel_error"] = test["error"] / test["loss"]
    coverage = None
    preds = law.predict_replicates(test["N"].to_numpy(), test["D"].to_numpy())
    if preds is not None:
        q = (0.5 - law.interval_level / 2, 0.5 + law.interval_level / 2)
        test["lo"], test["hi"] = np.quantile(preds, q, axis=0)
        test["covered"] = (test["loss"] >= test["lo"]) & (test["loss"] <= test["hi"])
        coverage = float(test["covered"].mean())
    labels = budget_groups(frame)
    held_flops = tuple(
        sorted(float(np.exp(np.mean(np.log(frame["C"][labels == g])))) for g in np.unique(labels[held]))
    )
    return HoldoutResult(
        law,
        held_flops,
        test,
        float(np.mean(np.abs(test["error"]))),
        float(np.max(np.abs(test["rel_error"]))),
        coverage,
        float(np.mean(np.abs(test["rel_error"]))),
    )
