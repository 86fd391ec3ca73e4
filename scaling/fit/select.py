"""``--form auto``: choose the law form by rolling-origin held-out error.

Budgets are ordered by compute (`scaling.fit.isoflop.budget_groups`). For every k the data allow, each form
is fitted on the k smallest budgets and predicts the runs of budget k+1; its error there is the mean of
|predicted - observed| / observed over those runs. A fit needs two budgets (one budget's runs vary N and D
together), so K budgets give K - 2 folds. The form with the least mean error over the folds is chosen; a tie
goes to the form listed first in `FIT_FORMS` (the simpler). A form that cannot be fitted on some fold (too
few runs, no repeated data for ``muennighoff``) is set aside with the reason.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scaling.errors import ScalingError
from scaling.fit.forms import FIT_FORMS, fit_form, predict_runs
from scaling.fit.isoflop import budget_groups
from scaling.render import Displayable, Table

MIN_TRAINING_BUDGETS = 2


@dataclass(frozen=True, eq=False)
class FormSelection(Displayable):
    """Each form's held-out error per fold (``fold_flops``: the compute of the budget each fold predicts),
    its mean, the forms set aside and why, and the form chosen."""

    chosen: str
    fold_flops: tuple[float, ...]
    errors: dict[str, tuple[float, ...]]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def mean_errors(self) -> dict[str, float]:
        return {form: float(np.mean(e)) for form, e in self.errors.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "rolling origin: fit on the k smallest budgets, predict budget k+1",
            "error": "mean |predicted - observed| / observed over the predicted budget's runs",
            "chosen": self.chosen,
            "fold_flops": list(self.fold_flops),
            "errors": {form: list(e) for form, e in self.errors.items()},
            "mean_errors": self.mean_errors,
            "skipped": dict(self.skipped),
        }

    def table(self) -> Table:
        headers = ("form", *(f"predict {c:.3g}" for c in self.fold_flops), "mean")
        rows = [
            (
                form + (" (chosen)" if form == self.chosen else ""),
                *(f"{e:.2%}" for e in errors),
                f"{self.mean_errors[form]:.2%}",
            )
            for form, errors in self.errors.items()
        ]
        notes = [f"note: {form} set aside: {why}" for form, why in self.skipped.items()]
        return Table.of(
            rows,
            headers,
            title="Law forms by rolling-origin held-out error (fit on the smaller budgets, predict the "
            "next):",
            notes=notes,
        )


def rolling_folds(frame: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(training mask, test mask, test budget's compute) for every k from `MIN_TRAINING_BUDGETS` up."""
    labels = budget_groups(frame)
    groups = list(np.unique(labels))  # ordered by compute
    if len(groups) < MIN_TRAINING_BUDGETS + 1:
        raise ScalingError(
            f"--form auto needs at least {MIN_TRAINING_BUDGETS + 1} compute budgets (fit on "
            f"{MIN_TRAINING_BUDGETS}, predict the next); these runs have {len(groups)}"
        )
    folds = []
    for k in range(MIN_TRAINING_BUDGETS, len(groups)):
        test = labels == groups[k]
        centre = float(np.exp(np.mean(np.log(frame["C"].to_numpy(float)[test]))))
        folds.append((np.isin(labels, groups[:k]), test, centre))
    return folds


def held_out_error(law: Any, test: pd.DataFrame) -> float:
    observed = test["loss"].to_numpy(float)
    return float(np.mean(np.abs(predict_runs(law, test) - observed) / observed))


def select_form(runs: pd.DataFrame, forms: tuple[str, ...] = FIT_FORMS, *, seed: int = 0) -> FormSelection:
    """Score every form by rolling-origin held-out error on ``runs`` (a validated runs frame) and choose."""
    errors: dict[str, list[float]] = {form: [] for form in forms}
    skipped: dict[str, str] = {}
    folds = rolling_folds(runs)
    for train, test, _ in folds:
        fold = runs[train].reset_index(drop=True)
        base = None
        for form in forms:
            if form in skipped:
                continue
            try:
                with warnings.catch_warnings():  # a fold's cautions are not the chosen law's
                    warnings.simplefilter("ignore")
                    law = fit_form(fold, form, base=base, seed=seed)
            except ScalingError as exc:
                skipped[form] = str(exc)
                continue
            if form == "chinchilla":
                base = law
            errors[form].append(held_out_error(law, runs[test]))
    scored = {form: tuple(e) for form, e in errors.items() if form not in skipped}
    if not scored:
        raise ScalingError(
            "no law form could be fitted on the smaller budgets: " + "; ".join(skipped.values())
        )
    means = {form: float(np.mean(e)) for form, e in scored.items()}
    finite = {form: m for form, m in means.items() if math.isfinite(m)}
    chosen = min(finite or means, key=lambda form: (round((finite or means)[form], 12), forms.index(form)))
    return FormSelection(chosen, tuple(c for _, _, c in folds), scored, skipped)
