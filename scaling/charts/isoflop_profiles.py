"""IsoFLOP profiles (Chinchilla Approach 2): loss against model size per budget with the fitted parabolas, and
their minima against compute with the N_opt ∝ C^a power law."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from scaling import units
from scaling.charts.axes import base_layout, linear_axis, log_axis, sci, ticks_125, two_panels
from scaling.charts.inputs import loss_unit_of, runs_frame
from scaling.charts.style import SYMBOLS
from scaling.charts.text import budget_label, compute_text, pf_days


def isoflop_figure(runs: Any, fit: Any = None) -> go.Figure:
    """IsoFLOP profiles (Chinchilla Approach 2): loss against parameters per budget with the fitted parabolas
    and their minima (left), and the minima against compute with the N_opt ∝ C^a power law (right).

    ``fit``: an `IsoFlopFit` from ``scaling.fit.fit_isoflop(runs)``; fitted here when not given.
    """
    from scaling import fit as fitting

    frame = runs_frame(runs)
    result = fit if fit is not None else fitting.fit_isoflop(frame)
    budgets = sorted(result.budgets, key=lambda b: b.flops)
    shades = _sequential(len(budgets))
    traces = _isoflop_profile_traces(frame, budgets, shades)
    used = [b for b in budgets if b.used and math.isfinite(b.params)]
    traces += _isoflop_minima_traces(budgets, used, shades)
    lo, hi = min(b.flops for b in budgets), max(b.flops for b in budgets)
    C = np.logspace(math.log10(lo) - 0.5, math.log10(hi) + 0.5, 41)
    sizes = np.concatenate([frame["N"].to_numpy(float)] + [np.asarray(b.n_range, float) for b in budgets])
    traces.append(_isoflop_power_law_trace(result, C))
    layout = base_layout(
        f"IsoFLOP profiles (Chinchilla Approach 2): N_opt ∝ C^{result.a:.3f}, D_opt ∝ C^{result.b:.3f}",
        legend={"font": {"size": 11}},
        # explicit ticks on every log axis: a small sweep spans less than a decade, where plotly labels none
        **two_panels(
            (
                log_axis("Parameters N (count)", **ticks_125(sizes)),
                linear_axis(f"Final loss ({loss_unit_of(frame)})"),
            ),
            (
                log_axis("Training compute C (FLOPs)", **ticks_125(C, sci)),
                log_axis(
                    "Compute-optimal parameters N_opt (count)",
                    **ticks_125(np.asarray(result.n_opt(C), dtype=float)),
                ),
            ),
            ("Loss against model size, one curve per budget", "Profile minima against compute"),
            split=0.55,
        ),
    )
    return go.Figure(data=traces, layout=layout)


def _isoflop_profile_traces(frame: Any, budgets: list[Any], shades: list[str]) -> list[go.Scatter]:
    """Each budget's runs (loss against N) and its fitted parabola in log10 N, dotted where the budget is not
    used; runs go to the budget nearest their C (in log)."""
    traces: list[go.Scatter] = []
    logC = np.log(frame["C"].to_numpy(float))
    centres = np.log([b.flops for b in budgets])
    nearest = np.argmin(np.abs(logC[:, None] - centres[None, :]), axis=1)
    for i, b in enumerate(budgets):
        sub = frame[nearest == i]
        group, colour, symbol = f"budget-{i}", shades[i], SYMBOLS[i % len(SYMBOLS)]
        label = f"{budget_label(b.flops)} ({pf_days(b.flops)})"
        traces.append(
            go.Scatter(
                x=sub["N"],
                y=sub["loss"],
                mode="markers",
                name=label,
                legendgroup=group,
                marker={
                    "color": colour,
                    "symbol": symbol,
                    "size": 7,
                    "line": {"width": 0.5, "color": "#000000"},
                },
                hovertext=[
                    f"<b>run</b><br>{budget_label(c)}<br>N = {units.format_count(n)}<br>"
                    f"D = {units.format_count(d)}<br>loss = {v:.4f}"
                    for c, n, d, v in zip(sub["C"], sub["N"], sub["D"], sub["loss"])
                ],
                hoverinfo="text",
                meta={"kind": "runs", "flops": b.flops},
            )
        )
        c2, c1, c0 = b.coeffs
        x = np.linspace(math.log10(b.n_range[0]), math.log10(b.n_range[1]), 60)
        traces.append(
            go.Scatter(
                x=10**x,
                y=c2 * x * x + c1 * x + c0,
                mode="lines",
                legendgroup=group,
                showlegend=False,
                name=f"parabola {label}",
                line={"color": colour, "width": 1.8, "dash": "solid" if b.used else "dot"},
                hoverinfo="skip",
                meta={"kind": "parabola", "flops": b.flops, "flags": list(b.flags)},
            )
        )
    return traces


def _isoflop_minima_traces(budgets: list[Any], used: list[Any], shades: list[str]) -> list[go.Scatter]:
    """The used budgets' parabola minima: on the profiles (left) and against compute (right)."""
    traces = []
    traces.append(
        go.Scatter(
            x=[b.params for b in used],
            y=[b.loss for b in used],
            mode="markers",
            name="Parabola minima",
            legendgroup="minima",
            marker={"symbol": "x-thin", "size": 12, "line": {"width": 2.5, "color": "#000000"}},
            hovertext=[
                f"<b>minimum</b><br>{budget_label(b.flops)}<br>N_opt = {units.format_count(b.params)}<br>"
                f"D_opt = {units.format_count(b.tokens)}<br>loss = {b.loss:.4f}"
                + (f"<br>flags: {', '.join(b.flags)}" if b.flags else "")
                for b in used
            ],
            hoverinfo="text",
            meta={"kind": "minima"},
        )
    )
    traces.append(
        go.Scatter(
            x=[b.flops for b in used],
            y=[b.params for b in used],
            mode="markers",
            name="Minima (N_opt per budget)",
            legendgroup="minima",
            showlegend=False,
            marker={
                "symbol": "circle",
                "size": 10,
                "color": [shades[budgets.index(b)] for b in used],
                "line": {"width": 1.5, "color": "#000000"},
            },
            hovertext=[f"{budget_label(b.flops)}<br>N_opt = {units.format_count(b.params)}" for b in used],
            hoverinfo="text",
            meta={"kind": "minima-vs-compute"},
            xaxis="x2",
            yaxis="y2",
        )
    )
    return traces


def _isoflop_power_law_trace(result: Any, C: np.ndarray) -> go.Scatter:
    """Approach 2's N_opt = n_coef C^a over the compute grid (right panel)."""
    return go.Scatter(
        x=C,
        y=result.n_opt(C),
        mode="lines",
        name=f"Power law N_opt = {result.n_coef:.3g}·C^{result.a:.3f}",
        line={"color": "#0072B2", "width": 2.5, "dash": "dash"},
        hovertext=[
            f"C = {compute_text(c)}<br>N_opt = {units.format_count(n)}" for c, n in zip(C, result.n_opt(C))
        ],
        hoverinfo="text",
        meta={"kind": "power-law", "a": result.a, "n_coef": result.n_coef},
        xaxis="x2",
        yaxis="y2",
    )


def _sequential(n: int) -> list[str]:
    """n colours from dark to light (viridis), so budgets read in order in grey too."""
    from plotly.colors import sample_colorscale

    return sample_colorscale("Viridis", [0.0] if n == 1 else [0.9 * i / (n - 1) for i in range(n)])
