"""A fit as `scaling.render.Table`s: the one description of what ``scaling fit`` shows, printed by the CLI
and displayed in notebooks (`FitReport.display_tables`)."""

from __future__ import annotations

from typing import Any

from scaling.fit.envelope import EnvelopeFit
from scaling.fit.holdout import HoldoutResult
from scaling.fit.isoflop import IsoFlopFit
from scaling.fit.parametric import FittedLaw
from scaling.render import Table


def runs_table(runs: dict[str, Any]) -> Table:
    """Rows read, used and set aside (with why), and how the table was read."""
    aside = "; ".join(f"{s['rows']}: {s['reason']}" for s in runs["set_aside"])
    line = f"{runs['rows_read']} read, {runs['rows_used']} used" + (f", set aside {aside}" if aside else "")
    return Table.of([("runs", line)], align="ll", notes=[f"note: {n}" for n in runs["notes"]])


def approach3_tables(law: FittedLaw, saved: str | None = None) -> list[Table]:
    """The constants with their bootstrap intervals, then how the fit went."""
    d = law.to_dict()
    ci = d.get("ci", {})
    names = [k for k in law.constants() if k not in ("G", "N_ref")] + ["a", "b"]
    rows = [
        (k, f"{d[k]:.4g}") + ((f"{ci[k][0]:.4g} - {ci[k][1]:.4g}" if k in ci else "",) if ci else ())
        for k in names
    ]
    headers = ("constant", "estimate") + ((f"{d.get('ci_level', 0.8):.0%} interval",) if ci else ())
    f = d["fit"]
    formula = d["form"].removeprefix("L = ")
    local = "; a, b local at the top of the fitted range" if d.get("kind") == "form" else ""
    if "N_ref" in d:
        local += f"; N_ref = {d['N_ref']:.4g}"
    title = (
        f"Approach 3 ({f['form']} form, L = {formula}, Huber on log-loss; loss in {law.loss_unit}{local}):"
    )
    constants = Table.of(rows, headers, title=title)
    failed = f.get("n_bootstrap_failed", 0)
    boot = (
        f"{f['n_bootstrap']} kept, {failed} not converged (left out)"
        if f["n_bootstrap"] or failed
        else "none (use --bootstrap 1000 for intervals)"
    )
    objective = f"{f['objective']:.6g} (best of {f['n_starts']} starts"
    if "n_starts_at_best" in f:
        objective = (
            f"{f['objective']:.6g} (reached by {f['n_starts_at_best']} of {f['n_starts']} starts; "
            f"{f['n_starts_screened_out']} screened out"
        )
    objective += ")"
    converged = "yes" if f["converged"] else "NO"
    if law.warnings:
        converged += f" (with {len(law.warnings)} caution(s), saved in the law)"
    rows = [("runs", f["n_runs"]), ("objective", objective), ("converged", converged), ("bootstrap", boot)]
    notes = [f"saved to {saved} (use it as --law {saved})"] if saved else []
    return [constants, Table.of(rows, align="ll", notes=notes)]


def holdout_table(holdout: HoldoutResult) -> Table:
    """The extrapolation check, errors relative to the observed loss."""
    h = holdout.to_dict()
    rows = [
        ("mean |error|", f"{h['mean_abs_rel_error']:.2%}"),
        ("max |error|", f"{h['max_abs_rel_error']:.2%}"),
    ]
    if h["coverage"] is not None:
        rows.append(("interval coverage", f"{h['coverage']:.0%}"))
    flops = ", ".join(f"{c:.3g}" for c in h["held_out_flops"])
    title = (
        f"Extrapolation check (held out {h['n_held_out']} runs at C = {flops}), error relative to "
        "the observed loss:"
    )
    return Table.of(rows, title=title, align="ll")


def allocation_lines(
    approach2: IsoFlopFit | None, approach1: EnvelopeFit | None, skipped: dict[str, str]
) -> Table:
    """Approaches 2 and 1 as their power laws, and why an approach was skipped."""
    rows = [
        (title, f"N_opt = {fit.n_coef:.4g} C^{fit.a:.4f}, D_opt = {fit.d_coef:.4g} C^{fit.b:.4f}")
        for fit, title in (
            (approach2, "Approach 2 (IsoFLOP parabolas)"),
            (approach1, "Approach 1 (envelope)"),
        )
        if fit is not None
    ]
    return Table.of(rows, align="ll", notes=[f"note: {reason}" for reason in skipped.values()])


def fit_tables(report: Any, saved: str | None = None) -> list[Table]:
    """Every table of a `FitReport`, in the order the CLI prints them."""
    tables = [runs_table(report.runs)]
    if report.selection is not None:
        tables.append(report.selection.table())
    if report.approach3 is not None:
        tables += approach3_tables(report.approach3, saved)
    if report.holdout is not None:
        tables.append(holdout_table(report.holdout))
    lines = allocation_lines(report.approach2, report.approach1, report.skipped)
    return tables + ([lines] if lines.rows or lines.notes else [])
