"""The latency-throughput chart of serving: one curve per tensor-parallel size across batch sizes.

`inference_curves` computes the numbers (the roofline of `scaling.serving.roofline`, the same function
`scaling inference` calls); `inference_figure` draws them with the style of `scaling.charts`: time per output
token against output tokens per second per device, memory-bound points hollow and compute-bound points
filled, and dollars per million output tokens as a second axis on top (at a price per device-hour it is a
fixed transform of the throughput per device: price / 3600 / tokens-per-second x 1e6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from scaling.catalog import Accelerator, get_accelerator
from scaling.memory import DEVICES_PER_NODE
from scaling.model import ModelSpec, load_model
from scaling.serving.efficiency import ServingAssumptions
from scaling.serving.roofline import fitting_batch, tp_sizes
from scaling.serving.search import ServingWorkload

BATCHES_PER_DOUBLING = 4  # points per factor of two in batch along each curve


@dataclass(frozen=True)
class InferenceCurve:
    """One tensor-parallel size across batch sizes: arrays of the same length (base units)."""

    tp: int
    batch: np.ndarray
    decode_s_per_token: np.ndarray
    tokens_per_s_per_device: np.ndarray
    compute_bound: np.ndarray
    max_batch: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "batch": self.batch.tolist(),
            "decode_s_per_token": self.decode_s_per_token.tolist(),
            "tokens_per_s_per_device": self.tokens_per_s_per_device.tolist(),
            "bound": ["compute" if c else "memory" for c in self.compute_bound],
            "max_batch": self.max_batch,
        }


def batch_grid(largest: int) -> np.ndarray:
    """Whole batches from 1 to ``largest``, about `BATCHES_PER_DOUBLING` per doubling,
    ``largest`` included."""
    if largest < 1:
        return np.zeros(0, dtype=int)
    points = int(math.log2(largest) * BATCHES_PER_DOUBLING) + 2
    return np.unique(np.round(np.geomspace(1, largest, points)).astype(int))


def inference_curves(
    model: ModelSpec | str,
    accelerator: str | Accelerator,
    *,
    devices: int = 8,
    workload: ServingWorkload | None = None,
    assumptions: ServingAssumptions | None = None,
) -> list[InferenceCurve]:
    """Decode time per output token and throughput per device for every batch that fits, per TP size."""
    spec, acc, w = load_model(model), get_accelerator(accelerator), workload or ServingWorkload()
    curves = []
    for tp in tp_sizes(spec, devices, DEVICES_PER_NODE):
        dep = w.deployment(spec, acc, tp, assumptions)
        fits = fitting_batch(dep)
        batch = batch_grid(fits)
        if not len(batch):
            continue
        t = dep.decode_seconds(batch)
        tpot = np.asarray(t["total"], dtype=float)
        curves.append(
            InferenceCurve(tp, batch, tpot, batch / tpot / tp, np.asarray(t["compute"] > t["memory"]), fits)
        )
    return curves


def _price_axis(rates: np.ndarray, price: float) -> dict[str, Any]:
    """A top axis over the throughput axis, labelled in dollars per million output tokens."""
    usd = price / 3600.0 / rates * 1e6
    lo, hi = float(np.min(usd)), float(np.max(usd))
    steps = [
        m * 10.0**e
        for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
        for m in (1, 2, 5)
    ]
    shown = [s for s in steps if lo <= s <= hi] or [lo, hi]
    return {
        "overlaying": "x",
        "side": "top",
        "type": "log",
        "matches": "x",
        "showgrid": False,
        "tickvals": [price / 3600.0 / s * 1e6 for s in shown],
        "ticktext": [f"${s:g}" for s in shown],
        "title": {"text": f"$ per million output tokens at ${price:g} per device-hour"},
    }


def inference_figure(
    curves: list[InferenceCurve], *, title: str, price: float | None = None, latency_s: float | None = None
):
    """The chart (plotly Figure) of `inference_curves`' output; ``latency_s`` draws a target line."""
    import plotly.graph_objects as go

    from scaling.charts import COLOURS, FONT, SYMBOLS, TEMPLATE

    fig = go.Figure()
    for i, c in enumerate(curves):
        colour = COLOURS[(i + 1) % len(COLOURS)]
        hover = [
            f"TP {c.tp}, batch {b}<br>{t * 1e3:.3g} ms per token<br>{r:,.0f} tokens/s per device<br>"
            f"{'compute' if cb else 'memory'}-bound"
            for b, t, r, cb in zip(c.batch, c.decode_s_per_token, c.tokens_per_s_per_device, c.compute_bound)
        ]
        symbols = [SYMBOLS[0] if cb else SYMBOLS[0] + "-open" for cb in c.compute_bound]
        fig.add_trace(
            go.Scatter(
                x=c.tokens_per_s_per_device,
                y=c.decode_s_per_token * 1e3,
                mode="lines+markers",
                name=f"TP {c.tp}",
                line={"color": colour},
                marker={"symbol": symbols, "size": 8, "color": colour},
                text=hover,
                hoverinfo="text",
            )
        )
    for name, symbol in (
        ("memory-bound (hollow)", SYMBOLS[0] + "-open"),
        ("compute-bound (filled)", SYMBOLS[0]),
    ):
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=name,
                marker={"symbol": symbol, "size": 8, "color": COLOURS[0]},
            )
        )
    axis = {"type": "log", "showgrid": True, "gridcolor": "#dddddd", "showline": True, "linecolor": "#444444"}
    layout = {
        "template": TEMPLATE,
        "font": FONT,
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "xaxis": {
            **axis,
            "title": {"text": "output tokens per second per device (batch grows along each line)"},
        },
        "yaxis": {**axis, "title": {"text": "time per output token (ms)"}},
        "margin": {"l": 80, "r": 30, "t": 120, "b": 70},
        "hovermode": "closest",
    }
    if latency_s is not None and curves:
        rates = np.concatenate([c.tokens_per_s_per_device for c in curves])
        fig.add_trace(
            go.Scatter(
                x=[float(np.min(rates)), float(np.max(rates))],
                y=[latency_s * 1e3] * 2,
                mode="lines",
                name=f"target: {latency_s * 1e3:g} ms per token",
                line={"dash": "dash", "color": COLOURS[0]},
            )
        )
    if price is not None and curves:
        layout["xaxis2"] = _price_axis(np.concatenate([c.tokens_per_s_per_device for c in curves]), price)
        fig.add_trace(go.Scatter(x=[None], y=[None], xaxis="x2", showlegend=False))
    fig.update_layout(**layout)
    return fig
