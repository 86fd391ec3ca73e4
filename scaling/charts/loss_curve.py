"""The loss curve through training: the schedule-aware law's prediction (`scaling.laws.curve`), its learning
rate as a fraction of the peak on a second axis, and the run's measured points when given."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from scaling import units
from scaling.charts.axes import base_layout, linear_axis
from scaling.charts.style import COLOURS
from scaling.charts.traces import scatter_trace
from scaling.laws.curve import CurvePrediction


def curve_figure(predicted: CurvePrediction, measured: Any = None, *, title: str = "") -> go.Figure:
    """Loss against tokens seen: the predicted curve (exactly ``predicted.tokens`` and ``predicted.loss``,
    the curve ``scaling loss --schedule --json`` gives), the learning rate as a fraction of the peak (right
    axis, after the warmup: the form describes the loss after it), and ``measured`` points (a frame with D = tokens seen and loss) when given."""
    unit = predicted.loss_unit
    hover = "%{x:.3s} tokens<br>loss %{y:.4f} " + unit + "<extra>%{fullData.name}</extra>"
    traces = [
        scatter_trace(
            x=predicted.tokens,
            y=predicted.loss,
            mode="lines",
            name=f"predicted ({predicted.schedule.get('kind', 'schedule')})",
            line={"color": COLOURS[0], "width": 2.5},
            hovertemplate=hover,
            meta="predicted",
        ),
        scatter_trace(
            x=predicted.tokens,
            y=predicted.lr_fraction,
            mode="lines",
            name="learning rate / peak (right axis)",
            line={"color": "#999999", "width": 1.2, "dash": "dot"},
            yaxis="y2",
            hovertemplate="%{x:.3s} tokens<br>learning rate %{y:.0%} of the peak<extra></extra>",
            meta="learning rate",
        ),
    ]
    values = [predicted.loss]
    if measured is not None and len(measured):
        traces.append(
            scatter_trace(
                x=measured["D"].to_numpy(float),
                y=measured["loss"].to_numpy(float),
                mode="markers",
                name="measured",
                marker={"color": COLOURS[1], "symbol": "circle", "size": 8 if len(measured) <= 100 else 4},
                hovertemplate=hover,
                meta="measured",
            )
        )
        values.append(measured["loss"].to_numpy(float))
    end = (
        f"final {predicted.final_loss:.4f} {unit} at {units.format_count(predicted.tokens[-1])} tokens, "
        f"{units.format_count(predicted.params)} params"
    )
    low, high = float(np.min(np.concatenate(values))), float(np.max(np.concatenate(values)))
    pad = 0.05 * (high - low or 1.0)
    layout = base_layout(
        f"{title or 'Predicted loss through training'}: {end}",
        xaxis=linear_axis("Tokens seen (tokens)", exponentformat="B", rangemode="tozero"),
        yaxis=linear_axis(f"Loss ({unit})", range=[low - pad, high + pad]),
        yaxis2=linear_axis(
            "Learning rate (fraction of the peak)",
            overlaying="y",
            side="right",
            range=[0, 1.05],
            tickmode="array",
            tickvals=[step / 5 for step in range(6)],
            ticktext=[f"{step / 5:.0%}" for step in range(6)],
            showgrid=False,
        ),
        legend={**base_layout("")["legend"], "x": 0.01, "y": 0.01, "xanchor": "left", "yanchor": "bottom"},
        margin={"l": 80, "r": 80, "t": 90, "b": 70},
    )
    return go.Figure(data=traces, layout=layout)
