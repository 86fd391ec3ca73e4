"""Fit diagnostics: predicted against observed loss, and the relative residual against compute."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from scaling.charts.axes import base_layout, linear_axis, log_axis, sci, ticks_125, two_panels
from scaling.charts.inputs import as_law, loss_unit_of, runs_frame
from scaling.charts.style import law_title
from scaling.charts.text import run_hover
from scaling.errors import ScalingError
from scaling.laws import Law


def diagnostics_figure(runs: Any, law: Law | str) -> go.Figure:
    """Fit diagnostics: predicted against observed loss with the y = x line (left) and the relative residual
    (observed - predicted) / predicted against compute (right)."""
    frame = runs_frame(runs)
    law = as_law(law)
    if not law.has_loss:
        raise ScalingError(f"law {law.name!r} has no loss model to compare with the runs")
    observed = frame["loss"].to_numpy(float)
    predicted = np.asarray(law.predict(frame["N"].to_numpy(float), frame["D"].to_numpy(float)), dtype=float)
    residual = (observed - predicted) / predicted
    unit = loss_unit_of(frame, law)
    rmse = float(np.sqrt(np.mean(np.log(observed / predicted) ** 2)))
    traces = _diagnostics_traces(frame, observed, predicted, residual)
    zero_line = {
        "type": "line",
        "xref": "x2 domain",
        "x0": 0,
        "x1": 1,
        "yref": "y2",
        "y0": 0,
        "y1": 0,
        "line": {"color": "#000000", "dash": "dash", "width": 1.5},
    }
    layout = base_layout(
        f"Fit diagnostics for {law_title(law)}: RMS log-residual {rmse:.4f} over {len(frame)} runs",
        legend={**base_layout("")["legend"], "x": 0.01, "y": 0.99, "xanchor": "left", "yanchor": "top"},
        shapes=[zero_line],
        **two_panels(
            (linear_axis(f"Observed loss ({unit})"), linear_axis(f"Predicted loss ({unit})")),
            (
                log_axis("Training compute C (FLOPs)", **ticks_125(frame["C"].to_numpy(float), sci)),
                linear_axis("Residual (observed − predicted) / predicted (%)"),
            ),
            ("Predicted against observed loss", "Relative residual against compute"),
            split=0.44,
            gap=0.12,
        ),
    )
    return go.Figure(data=traces, layout=layout)


def _diagnostics_traces(
    frame: Any, observed: np.ndarray, predicted: np.ndarray, residual: np.ndarray
) -> list[go.Scatter]:
    """The runs as predicted against observed loss with the y = x line (left), and their relative residuals
    against compute (right), coloured by log10 C."""
    hover = [
        h + f"<br>predicted = {p:.4f}<br>residual = {r:+.2%}"
        for h, p, r in zip(run_hover(frame), predicted, residual)
    ]
    colour = np.log10(frame["C"].to_numpy(float))
    marker = {
        "color": colour,
        "colorscale": "Viridis",
        "size": 7,
        "line": {"width": 0.5, "color": "#000000"},
        "colorbar": {"title": {"text": "log10 C<br>(FLOPs)"}, "x": 1.02},
    }
    traces = [
        go.Scatter(
            x=observed,
            y=predicted,
            mode="markers",
            name="Runs",
            marker=marker,
            hovertext=hover,
            hoverinfo="text",
            meta={"kind": "predicted-vs-observed"},
        )
    ]
    span = [float(min(observed.min(), predicted.min())), float(max(observed.max(), predicted.max()))]
    traces.append(
        go.Scatter(
            x=span,
            y=span,
            mode="lines",
            name="y = x (perfect fit)",
            line={"color": "#000000", "dash": "dash", "width": 1.5},
            hoverinfo="skip",
        )
    )
    traces.append(
        go.Scatter(
            x=frame["C"],
            y=residual * 100.0,
            mode="markers",
            name="Residuals",
            showlegend=False,
            marker={**marker, "showscale": False, "symbol": "diamond"},
            hovertext=hover,
            hoverinfo="text",
            meta={"kind": "residuals"},
            xaxis="x2",
            yaxis="y2",
        )
    )
    return traces
