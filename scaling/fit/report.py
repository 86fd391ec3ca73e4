"""`fit_runs`: everything ``scaling fit`` does, as one library call: read the runs once, fit the approaches
asked for, check them against each other and against held-out budgets, and collect every caution.

The cautions about the data and the law (rows set aside, too few runs, a parameter on a bound, Approaches 2
and 3 disagreeing beyond their intervals) are stored in the Approach 3 law's ``warnings``, so the law file
carries them and every plan made with it repeats them; every warning of the fit (Approach 1 and 2 flags,
the holdout refit's) is kept in the file's ``fit.warnings``.
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scaling import runs_table
from scaling.errors import ScalingError
from scaling.fit.common import ScalingWarning, check_runs, report_table
from scaling.fit.envelope import EnvelopeFit, fit_envelope
from scaling.fit.forms import FORM_CHOICES, fit_form
from scaling.fit.holdout import HoldoutResult, holdout_check
from scaling.fit.isoflop import IsoFlopFit, fit_isoflop
from scaling.fit.parametric import FittedLaw
from scaling.fit.select import FormSelection, select_form
from scaling.fit.tables import fit_tables
from scaling.render import Displayable

APPROACHES = ("1", "2", "3", "all")
# Without intervals on either side, exponents a further apart than this are called a disagreement
# (Hoffmann et al. 2022, Table 2: their three approaches give a = 0.46 to 0.50).
A_TOLERANCE = 0.05
# The holdout refit bootstraps only to measure interval coverage on the held-out runs; 200 resamples
# estimate an 80% interval's ends to a few percent and keep the check about as costly as the main fit.
HOLDOUT_BOOTSTRAP = 200


@dataclass(frozen=True, eq=False)
class FitReport(Displayable):
    """What ``scaling fit`` found: the runs read, each approach's fit, the extrapolation check,
    the cautions."""

    runs: dict[str, Any]
    approach3: FittedLaw | None = None
    approach2: IsoFlopFit | None = None
    approach1: EnvelopeFit | None = None
    holdout: HoldoutResult | None = None
    selection: FormSelection | None = None  # --form auto: every form's held-out error
    warnings: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)

    def display_tables(self) -> list[Any]:
        """The tables ``scaling fit`` prints (`scaling.fit.tables`)."""
        return fit_tables(self)

    def to_dict(self) -> dict[str, Any]:
        """The Approach 3 law at the top level (as before), the other approaches and checks under
        their keys."""
        out: dict[str, Any] = dict(self.approach3.to_dict()) if self.approach3 else {}
        out["runs"] = self.runs
        if self.approach2:
            out["approach2"] = self.approach2.to_dict()
        if self.approach1:
            out["approach1"] = self.approach1.to_dict()
        if self.holdout:
            out["holdout"] = {k: v for k, v in self.holdout.to_dict().items() if k != "law"}
        if self.selection:
            out["selection"] = self.selection.to_dict()
        out["skipped"] = dict(self.skipped)
        out["warnings"] = list(self.warnings)
        return out


def collect(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Call ``function`` and return its result with the warnings it raised as messages, in order: a
    `ScalingWarning` as its text, any other (numpy, scipy) prefixed with its category, never a raw warning."""
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        result = function(*args, **kwargs)
    return result, [
        str(w.message) if issubclass(w.category, ScalingWarning) else f"{w.category.__name__}: {w.message}"
        for w in caught
    ]


def approaches_disagree(a2: IsoFlopFit, a3: FittedLaw) -> str | None:
    """A caution when Approach 2's and 3's exponent a differ beyond their intervals (or, with no interval on
    either side, by more than `A_TOLERANCE`)."""
    level = a3.interval_level
    lo3, hi3 = a3.parameter_intervals().get("a", (None, None))
    lo2 = hi2 = None
    if a2.a_se is not None:
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + level / 2))
        lo2, hi2 = a2.a - z * a2.a_se, a2.a + z * a2.a_se
    a2_text = f"{a2.a:.3f}" + (f" ({lo2:.3f}-{hi2:.3f})" if lo2 is not None else "")
    a3_text = f"{a3.a:.3f}" + (f" ({lo3:.3f}-{hi3:.3f})" if lo3 is not None else "")
    if lo2 is None and lo3 is None:
        if abs(a2.a - a3.a) <= A_TOLERANCE:
            return None
        return (
            f"Approaches 2 and 3 disagree: a = {a2_text} vs {a3_text}, more than {A_TOLERANCE} apart (no "
            "intervals to compare: bootstrap Approach 3, or give Approach 2 three or more budgets)"
        )
    lo2, hi2 = (a2.a, a2.a) if lo2 is None else (lo2, hi2)
    lo3, hi3 = (a3.a, a3.a) if lo3 is None else (lo3, hi3)
    if hi2 < lo3 or hi3 < lo2:
        return (
            f"Approaches 2 and 3 disagree beyond their {level:.0%} intervals: a = {a2_text} (Approach 2) vs "
            f"{a3_text} (Approach 3); the allocation depends on which you trust"
        )
    return None


def fit_approach1(
    source: Any, table: runs_table.RunsTable, required: bool
) -> tuple[EnvelopeFit | None, str | None, list[str]]:
    """Approach 1 from the loss curves (the ``curves/`` folder beside the runs, or the source itself);
    skipped with the reason when not ``required`` and there are none."""
    try:
        if table.curves_path is not None:
            curves, messages = collect(runs_table.read_sweep_curves, table.curves_path, table.frame)
            _, more = collect(report_table, curves)
            fit, most = collect(fit_envelope, curves.frame)
            return fit, None, messages + more + most
        fit, messages = collect(fit_envelope, source)
        return fit, None, messages
    except ScalingError as exc:
        if required:
            raise
        return None, f"Approach 1 skipped: {exc}", []


def fit_runs(
    source: Any,
    *,
    approach: str = "3",
    bootstrap: int = 0,
    seed: int = 0,
    holdout_largest: int = 0,
    holdout_from: float | None = None,
    name: str | None = None,
    form: str = "chinchilla",
) -> FitReport:
    """Fit Approach 1, 2, 3 or all to the runs in ``source`` (a table, a file or a sweep folder). ``form``:
    the form of the Approach 3 law (`scaling.fit.forms.FORM_CHOICES`); ``auto`` chooses it by rolling-origin
    held-out error (`scaling.fit.select`) and the law records every form's error."""
    if approach not in APPROACHES:
        raise ScalingError(f"invalid approach {approach!r}: expected one of {', '.join(APPROACHES)}")
    if form not in FORM_CHOICES:
        raise ScalingError(f"invalid law form {form!r}: expected one of {', '.join(FORM_CHOICES)}")
    table, law_notes = collect(runs_table.read_table, source)
    _, read_notes = collect(report_table, table)
    law_notes += read_notes
    frame = check_runs(table.frame)
    name = name or (Path(str(source)).stem if isinstance(source, (str, Path)) else "fitted")
    out: dict[str, Any] = {"skipped": {}}
    printed: list[str] = []
    if approach in ("3", "all") and form == "auto":
        out["selection"] = select_form(frame, seed=seed)
        form = out["selection"].chosen
    if approach in ("3", "all"):
        out["approach3"], messages = collect(fit_form, frame, form, bootstrap=bootstrap, seed=seed, name=name)
        law_notes += messages
    if holdout_largest or holdout_from is not None:
        out["holdout"], messages = collect(
            holdout_check,
            frame,
            holdout_largest,
            form=form,
            from_flops=holdout_from,
            bootstrap=min(bootstrap, HOLDOUT_BOOTSTRAP),
            seed=seed,
        )
        printed += [f"holdout refit: {m}" for m in messages]
    if approach in ("2", "all"):
        try:
            out["approach2"], messages = collect(fit_isoflop, frame)
            printed += [f"Approach 2: {m}" for m in messages]
        except ScalingError as exc:
            if approach == "2":
                raise
            out["skipped"]["2"] = f"Approach 2 skipped: {exc}"
    if approach in ("1", "all"):
        out["approach1"], skipped, messages = fit_approach1(source, table, approach == "1")
        printed += [f"Approach 1: {m}" for m in messages]
        if skipped:
            out["skipped"]["1"] = skipped
    if out.get("approach2") is not None and out.get("approach3") is not None:
        law_notes += [m for m in [approaches_disagree(out["approach2"], out["approach3"])] if m]
    law_notes, everything = list(dict.fromkeys(law_notes)), tuple(dict.fromkeys(law_notes + printed))
    if out.get("approach3") is not None:  # the law repeats its own cautions; its file keeps every one
        chosen = out.get("selection")
        out["approach3"] = replace(
            out["approach3"],
            warnings=tuple(law_notes),
            fit_warnings=everything,
            selection=chosen.to_dict() if chosen else None,
        )
    return FitReport(runs=table.to_dict(), warnings=everything, **out)
