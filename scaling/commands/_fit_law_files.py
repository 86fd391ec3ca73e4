"""``scaling fit RUNS --moe`` and ``scaling fit EVALS --ptq``: fit a law file the plan and ``loss`` read
(`scaling.fit.moe`, `scaling.fit.ptq`), print its constants with their intervals, and save it with -o."""

from __future__ import annotations

from typing import Any

import click

from scaling.commands._common import echo_json, key_values, warn
from scaling.errors import ScalingError

READER = {"moe": "scaling plan --moe --moe-law", "ptq": "scaling loss --quant Q --precision-law"}


def _refuse_mixed(kind: str, both: bool, others: dict[str, Any]) -> None:
    """--moe and --ptq fit their own law: refuse them together or with the Approach 3 options given
    (``others``: each flag and its value, falsy when not given)."""
    flag = f"--{kind}"
    if both:
        raise ScalingError("--moe and --ptq fit different tables: give one of them")
    given = [flag for flag, value in others.items() if value]
    if given:
        raise ScalingError(f"{flag} fits its own law file; it does not take {', '.join(given)}")


def _constant_rows(
    constants: dict[str, float], intervals: dict[str, tuple[float, float]], level: float, side: str
):
    rows = []
    for key, value in constants.items():
        shown = f"{value:.4g}"
        if key in intervals:
            lo, hi = intervals[key]
            shown += f"  ({level:.0%} interval {lo:.4g} to {hi:.4g})"
        rows.append((f"{side}{key}", shown))
    return rows


def fit_law_file(runs, kind, bootstrap, seed, output, force, as_json, both, others) -> None:
    from scaling.checks import output_path

    _refuse_mixed(kind, both, others)
    if output:
        output = output_path(output, force=force, suffixes=(".json",), inputs=[runs])
    if kind == "moe":
        from scaling.fit.moe import fit_moe_law

        fitted = fit_moe_law(runs, bootstrap=bootstrap, seed=seed)
        rows = [("runs", f"{fitted.n_moe_runs} MoE and {fitted.n_dense_runs} dense of {fitted.runs}")]
        rows += _constant_rows(fitted.law.moe, fitted.intervals.get("moe", {}), fitted.interval_level, "moe ")
        rows += _constant_rows(
            fitted.law.dense, fitted.intervals.get("dense", {}), fitted.interval_level, "dense "
        )
        rows += [
            ("expansion", f"{fitted.law.expansion:g}"),
            ("granularities", ", ".join(str(g) for g in fitted.law.granularities)),
        ]
        span = fitted.law.fit_range
    else:
        from scaling.fit.ptq import fit_precision_law

        fitted = fit_precision_law(runs, bootstrap=bootstrap, seed=seed)
        constants = {k: v for k, v in fitted.law.to_dict()["constants"].items()}
        rows = [("evaluations", f"{fitted.n_rows} with a positive penalty, of {fitted.evals}")]
        rows += _constant_rows(constants, fitted.intervals, fitted.interval_level, "")
        rows.append(("rms error of log delta", f"{fitted.rms_log_error:.3g}"))
        span = fitted.law.fit_range or {}
    if output:
        fitted.save(output)
    if as_json:
        echo_json({**fitted.to_dict(), "saved": output and str(output)})
        return
    for message in fitted.warnings:
        warn(message)
    rows += [(f"fit range {k.replace('_', ' ')}", f"{lo:.3g} to {hi:.3g}") for k, (lo, hi) in span.items()]
    rows.append(("source", fitted.law.source))
    rows.append(("saved", f"{output} (read by {READER[kind]})" if output else "not saved (-o FILE saves it)"))
    click.echo(key_values(rows))
