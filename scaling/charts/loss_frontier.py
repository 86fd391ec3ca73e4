"""The loss frontier L*(C): the runs, the held-out runs with their prediction error, the law's curve with its
interval band, and the extrapolation to a target compute."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from scaling import units
from scaling.charts.axes import base_layout, linear_axis, log_axis, sci, ticks_125
from scaling.charts.inputs import as_law, loss_unit_of, runs_frame
from scaling.charts.style import law_label, law_title
from scaling.charts.text import compute_text, run_hover
from scaling.charts.traces import band_trace
from scaling.errors import ScalingError
from scaling.laws import Law


def frontier_figure(
    runs: Any,
    law: Law | str,
    *,
    holdout: Any = None,
    target_flops: float | str | None = None,
) -> go.Figure:
    """The loss frontier: every run's loss against its compute, the law's L*(C) with its interval band,
    held-out runs (a `HoldoutResult`, a table of runs or a boolean mask over ``runs``) and the extrapolation
    to ``target_flops``."""
    frame = runs_frame(runs)
    law = as_law(law)
    if not law.has_loss:
        raise ScalingError(
            f"law {law.name!r} has no loss model, so it has no L*(C) frontier; use a parametric law "
            "(chinchilla, epoch, muennighoff) or a fitted law JSON"
        )
    held = _holdout_mask(frame, holdout)
    target = units.parse_flops(target_flops, "target FLOPs") if target_flops is not None else None
    c_lo, c_hi = float(frame["C"].min()), float(frame["C"].max())
    top = max(c_hi, target or c_hi)
    C = np.logspace(math.log10(c_lo) - 0.3, math.log10(top) + 0.3, 121)
    allocation = law.optimal(C)
    traces = _frontier_run_traces(frame, held, law)
    traces += _frontier_band_traces(C, allocation)
    traces += _frontier_line_traces(C, allocation, law, c_hi)
    if target is not None:
        traces.append(_frontier_target_trace(law, target))
    layout = base_layout(
        f"Loss frontier L*(C) of {law_title(law)}",
        xaxis=log_axis("Training compute C (FLOPs)", **ticks_125(C, sci)),
        yaxis=linear_axis(f"Final loss ({loss_unit_of(frame, law)})"),
        legend={**base_layout("")["legend"], "x": 0.99, "y": 0.99, "xanchor": "right", "yanchor": "top"},
    )
    return go.Figure(data=traces, layout=layout)


def _frontier_run_traces(frame, held: np.ndarray, law: Law) -> list[go.Scatter]:
    """The runs the law was fitted on, and the held-out ones with the law's prediction and its error."""
    fit_rows, held_rows = frame[~held], frame[held]
    traces = [
        go.Scatter(
            x=fit_rows["C"],
            y=fit_rows["loss"],
            mode="markers",
            name=f"Runs used ({len(fit_rows)})",
            marker={
                "symbol": "circle",
                "size": 6,
                "color": "#999999",
                "line": {"width": 0.5, "color": "#333333"},
            },
            hovertext=run_hover(fit_rows),
            hoverinfo="text",
            meta={"kind": "runs"},
        )
    ]
    if len(held_rows):
        predicted = np.asarray(law.predict(held_rows["N"].to_numpy(float), held_rows["D"].to_numpy(float)))
        traces.append(
            go.Scatter(
                x=held_rows["C"],
                y=held_rows["loss"],
                mode="markers",
                name=f"Held-out runs ({len(held_rows)})",
                marker={"symbol": "diamond-open", "size": 10, "color": "#CC79A7", "line": {"width": 2}},
                hovertext=[
                    h + f"<br>predicted = {p:.4f} ({(p - v) / v:+.2%})"
                    for h, p, v in zip(run_hover(held_rows), predicted, held_rows["loss"])
                ],
                hoverinfo="text",
                meta={"kind": "held-out"},
            )
        )
    return traces


def _frontier_band_traces(C: np.ndarray, allocation: Any) -> list[dict[str, Any]]:
    """The interval band of L*(C), when the law has one (a fitted law's bootstrap replicates)."""
    band = allocation.intervals.get("loss")
    if band is None:
        return []
    lo, hi = (np.asarray(v, dtype=float) for v in band)
    level = f"{allocation.interval_level:.0%}"
    return band_trace(
        C,
        lo,
        hi,
        line={"width": 0.5, "color": "#0072B2", "dash": "dot"},
        fill="rgba(0, 114, 178, 0.15)",
        group="band",
        lower_name="band lower",
        name=f"{level} interval of L*(C)",
        hovertext=[f"C = {compute_text(c)}<br>L* from {a:.4f} to {b:.4f}" for c, a, b in zip(C, lo, hi)],
        hoverinfo="text",
        meta={"kind": "loss-band"},
    )


def _frontier_line_traces(C: np.ndarray, allocation: Any, law: Law, c_hi: float) -> list[go.Scatter]:
    """L*(C): solid over the runs' compute, dashed beyond it (the extrapolation), joined where they meet."""
    loss = np.asarray(allocation.loss, dtype=float)
    name = law_label(law)
    inside = C <= c_hi * 1.0001
    traces = []
    for mask, dash, label in ((inside, "solid", f"L*(C): {name}"), (~inside, "dash", "extrapolation")):
        idx = np.nonzero(mask)[0]
        if mask is not inside and len(idx):
            idx = np.concatenate([[idx[0] - 1], idx]) if idx[0] > 0 else idx  # join the two pieces
        if not len(idx):
            continue
        traces.append(
            go.Scatter(
                x=C[idx],
                y=loss[idx],
                mode="lines",
                name=label,
                line={"color": "#0072B2", "width": 2.5, "dash": dash},
                hovertext=[
                    f"<b>L*(C)</b><br>C = {compute_text(c)}<br>loss = {v:.4f}<br>"
                    f"N_opt = {units.format_count(n)}, D_opt = {units.format_count(d)}"
                    for c, v, n, d in zip(
                        C[idx],
                        loss[idx],
                        np.asarray(allocation.params)[idx],
                        np.asarray(allocation.tokens)[idx],
                    )
                ],
                hoverinfo="text",
                meta={"kind": "frontier" if dash == "solid" else "extrapolation", "law": law.name},
            )
        )
    return traces


def _frontier_target_trace(law: Law, target: float) -> go.Scatter:
    """The law's L* at the target compute, with its interval as an error bar when the law has one."""
    at = law.optimal(target)
    value = float(np.asarray(at.loss))
    interval = at.intervals.get("loss")
    error = None
    text = f"L* = {value:.4f}"
    if interval is not None:
        a, b = (float(np.asarray(v)) for v in interval)
        error = {
            "type": "data",
            "symmetric": False,
            "array": [b - value],
            "arrayminus": [value - a],
            "color": "#000000",
            "thickness": 1.5,
            "width": 6,
        }
        text += f" ({at.interval_level:.0%}: {a:.4f} to {b:.4f})"
    return go.Scatter(
        x=[target],
        y=[value],
        mode="markers",
        error_y=error,
        name=f"Target {units.format_flops(target)}: {text}",
        marker={"symbol": "star", "size": 18, "color": "#E69F00", "line": {"width": 1.5, "color": "#000000"}},
        hovertext=[
            f"<b>target</b><br>C = {compute_text(target)}<br>{text}<br>"
            f"N_opt = {units.format_count(float(np.asarray(at.params)))}, "
            f"D_opt = {units.format_count(float(np.asarray(at.tokens)))}"
        ],
        hoverinfo="text",
        meta={"kind": "target"},
    )


def _holdout_mask(frame, holdout: Any) -> np.ndarray:
    """Which rows of ``frame`` are held out: from a `HoldoutResult`, a table of runs, or a boolean mask."""
    n = len(frame)
    if holdout is None:
        return np.zeros(n, dtype=bool)
    flops = getattr(holdout, "held_out_flops", None)
    if flops is not None:  # a HoldoutResult: the k largest budgets (grouped within 5%)
        C = frame["C"].to_numpy(float)
        return (
            np.any([np.abs(C / f - 1.0) <= 0.05 for f in flops], axis=0) if len(flops) else np.zeros(n, bool)
        )
    if hasattr(holdout, "columns"):  # a table of held-out runs
        keys = set(
            zip(
                np.round(np.log(holdout["N"].astype(float)), 9),
                np.round(np.log(holdout["D"].astype(float)), 9),
            )
        )
        return np.array(
            [
                (a, b) in keys
                for a, b in zip(
                    np.round(np.log(frame["N"].astype(float)), 9),
                    np.round(np.log(frame["D"].astype(float)), 9),
                )
            ]
        )
    mask = np.asarray(holdout, dtype=bool)
    if mask.shape != (n,):
        raise ScalingError(f"holdout mask has {mask.size} entries but the runs table has {n} rows")
    return mask
