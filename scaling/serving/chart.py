"""The throughput-latency chart of serving: every candidate the target search weighs, and the one it chose.

`inference_chart` computes the numbers: the search grid of `scaling.serving.search` (`search_grid`: per
precision and tensor-parallel size, the batches from 1 to the largest that fits) and the search's answer
(`cheapest_serving`, the same call `scaling inference --latency/--ttft` makes). `inference_figure` draws them
with the style of `scaling.charts`: output tokens per second per device against the time per output token, one
line per precision x TP (colour: precision, marker: TP), filled where a point meets the targets and hollow
where it misses, the chosen deployment starred, the --latency target as a vertical line, and with a price a
right axis in dollars per million output tokens (at a price per device-hour it is a fixed transform of the
throughput per device: price / 3600 / tokens-per-second x 1e6).

The batches are static (every request in a batch decodes in lock-step), so each point's time per output token
is every request's: its p50 and its p99 alike. `scaling inference --concurrency` gives the percentiles of
continuous batching under random arrivals for one deployment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from scaling.catalog import Accelerator, get_accelerator
from scaling.errors import ScalingError
from scaling.model import ModelSpec, load_model
from scaling.serving.efficiency import ServingAssumptions
from scaling.serving.precisions import ServingPrecision
from scaling.serving.roofline import ServingEstimate
from scaling.serving.search import ServingWorkload, cheapest_serving, search_grid

MAX_DRAWN = 12  # layouts the legend lists beside the two panels (with its four other entries)


@dataclass(frozen=True)
class InferenceCurve:
    """One precision and tensor-parallel size across the search's batches: arrays of one length (base
    units)."""

    tp: int
    precision: ServingPrecision
    batch: np.ndarray
    decode_s_per_token: np.ndarray
    prefill_s: np.ndarray
    tokens_per_s_per_device: np.ndarray
    compute_bound: np.ndarray
    meets: np.ndarray  # the workload's targets
    max_batch: int
    ep: int = 1  # above ``tp``: a wide expert-parallel replica (`scaling.serving.wide_ep`)

    @property
    def layout(self) -> str:
        return f"TP {self.tp}" + (f", EP {self.ep}" if self.ep > self.tp else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "ep": self.ep,
            "precision": self.precision.label,
            "math_dtype": self.precision.precision,
            "weight_dtype": self.precision.weight_dtype,
            "kv_dtype": self.precision.kv_dtype or self.precision.precision,
            "batch": self.batch.tolist(),
            "decode_s_per_token": self.decode_s_per_token.tolist(),
            "prefill_s": self.prefill_s.tolist(),
            "tokens_per_s_per_device": self.tokens_per_s_per_device.tolist(),
            "bound": ["compute" if c else "memory" for c in self.compute_bound],
            "meets_target": self.meets.tolist(),
            "max_batch": self.max_batch,
        }


@dataclass(frozen=True)
class InferenceChart:
    """The chart's data: every candidate (``curves``) and the search's choice (None: none meets it)."""

    curves: tuple[InferenceCurve, ...]
    chosen: ServingEstimate | None
    target: str

    def to_dict(self) -> dict[str, Any]:
        c = self.chosen
        return {
            "curves": [curve.to_dict() for curve in self.curves],
            "chosen": None
            if c is None
            else {
                "tp": c.tp,
                "ep": c.ep,
                "batch": c.batch,
                "precision": c.precision,
                "weight_dtype": c.weight_dtype,
                "kv_dtype": c.kv_dtype,
                "decode_s_per_token": c.decode_s_per_token,
                "tokens_per_s_per_device": c.tokens_per_s_per_device,
            },
            "target": self.target,
        }


def inference_chart(
    model: ModelSpec | str,
    accelerator: str | Accelerator,
    *,
    devices: int = 8,
    workload: ServingWorkload | None = None,
    assumptions: ServingAssumptions | None = None,
    search_precision: bool = False,
) -> InferenceChart:
    """Every candidate of the target search (with ``search_precision``, across precisions too) and its
    answer: the workload's targets, or with none the most output tokens per device-second."""
    spec, acc, w = load_model(model), get_accelerator(accelerator), workload or ServingWorkload()
    kw = dict(devices=devices, workload=w, assumptions=assumptions, search_precision=search_precision)
    curves = []
    for part in search_grid(spec, acc, **kw):
        t = part.dep.decode_seconds(part.batch)
        curves.append(
            InferenceCurve(
                tp=part.dep.tp,
                precision=part.precision,
                batch=part.batch,
                decode_s_per_token=part.decode_s_per_token,
                prefill_s=part.prefill_s,
                tokens_per_s_per_device=part.tokens_per_s_per_device,
                compute_bound=np.asarray(t["compute"] > t["memory"]),
                meets=part.meets,
                max_batch=part.fits,
                ep=part.dep.ep,
            )
        )
    try:
        chosen = cheapest_serving(spec, acc, keep=1, **kw).best if curves else None
    except ScalingError:
        chosen = None  # nothing meets the target: the chart shows how far each candidate is
    return InferenceChart(tuple(curves), chosen, w.describe())


def drawn_curves(chart: InferenceChart) -> list[InferenceCurve]:
    """The curves the legend can list: every one up to `MAX_DRAWN`; beyond it (a MoE's TP x EP x precision
    layouts) the chosen deployment's and then those with the most points no other layout's point beats on both
    panels (as many tokens per device-second or more, at no more time per output token and to the first
    token), up to `MAX_DRAWN`, in the search's order."""
    curves = list(chart.curves)
    if len(curves) <= MAX_DRAWN:
        return curves
    points = np.array(
        [
            (i, rate, tpot, ttft)
            for i, c in enumerate(curves)
            for rate, tpot, ttft in zip(c.tokens_per_s_per_device, c.decode_s_per_token, c.prefill_s)
        ]
    )
    unbeaten = np.zeros(len(curves))
    for i, rate, tpot, ttft in points:
        others = points[points[:, 0] != i]
        if not ((others[:, 1] >= rate) & (others[:, 2] <= tpot) & (others[:, 3] <= ttft)).any():
            unbeaten[int(i)] += 1
    c = chart.chosen
    for i, curve in enumerate(curves):
        p = curve.precision
        if c is not None and (curve.tp, curve.ep, p.precision, p.weight_dtype) == (
            c.tp,
            c.ep,
            c.precision,
            c.weight_dtype,
        ):
            unbeaten[i] = np.inf
    order = sorted(range(len(curves)), key=lambda i: -unbeaten[i])
    keep = {i for i in order[:MAX_DRAWN] if unbeaten[i] > 0}
    return [curve for i, curve in enumerate(curves) if i in keep]


def _price_axis(rates: np.ndarray, price: float) -> dict[str, Any]:
    """A right axis beside the right panel's throughput axis, labelled in dollars per million output
    tokens."""
    usd = price / 3600.0 / rates * 1e6
    lo, hi = float(np.min(usd)), float(np.max(usd))
    steps = [
        m * 10.0**e
        for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
        for m in (1, 2, 5)
    ]
    shown = [s for s in steps if lo <= s <= hi] or [lo, hi]
    return {
        "overlaying": "y2",
        "side": "right",
        "type": "log",
        "matches": "y2",
        "anchor": "x2",
        "showgrid": False,
        "tickvals": [price / 3600.0 / s * 1e6 for s in shown],
        "ticktext": [f"${s:g}" for s in shown],
        "title": {"text": f"$ per million output tokens at ${price:g} per device-hour"},
    }


def _hover(c: InferenceCurve) -> list[str]:
    return [
        f"{c.precision.label}, {c.layout}, batch {b}<br>{t * 1e3:.3g} ms per output token<br>"
        f"{ttft:.3g} s to the first token<br>{r:,.0f} output tokens/s per device<br>"
        f"{'compute' if cb else 'memory'}-bound; {'meets' if ok else 'misses'} the target"
        for b, t, ttft, r, cb, ok in zip(
            c.batch, c.decode_s_per_token, c.prefill_s, c.tokens_per_s_per_device, c.compute_bound, c.meets
        )
    ]


PANELS = (  # (x axis, y axis, latency in the panel's unit, its name)
    ("x", "y", lambda c: c.decode_s_per_token * 1e3, "tpot"),
    ("x2", "y2", lambda c: c.prefill_s, "ttft"),
)


def inference_figure(
    chart: InferenceChart,
    *,
    title: str,
    price: float | None = None,
    latency_s: float | None = None,
    ttft_s: float | None = None,
):
    """The chart (plotly Figure) of `inference_chart`'s output: throughput per device against the time per
    output token (left, ms) and against the time to first token (right, s); ``latency_s`` and ``ttft_s`` draw
    the targets."""
    import plotly.graph_objects as go

    fig = go.Figure()
    drawn = drawn_curves(chart)
    for trace in _curve_traces(chart, drawn):
        fig.add_trace(trace)
    for trace in _chosen_traces(chart.chosen):
        fig.add_trace(trace)
    layout = _figure_layout(chart, drawn, title)
    rates = np.concatenate([c.tokens_per_s_per_device for c in chart.curves]) if chart.curves else None
    if rates is not None:
        for trace in _target_traces(rates, latency_s, ttft_s):
            fig.add_trace(trace)
    if price is not None and rates is not None:
        layout["yaxis3"] = _price_axis(rates, price)
        fig.add_trace(go.Scatter(x=[None], y=[None], xaxis="x2", yaxis="y3", showlegend=False))
        layout["legend"] = {**layout["legend"], "x": 1.1}
    fig.update_layout(**layout)
    return fig


def _curve_traces(chart: InferenceChart, drawn: list[InferenceCurve]) -> list[Any]:
    """One line per drawn layout in each panel (colour by precision, symbol by TP, hollow where a point
    misses the targets), and the legend's key to the hollow markers."""
    import plotly.graph_objects as go

    from scaling.charts import COLOURS, SYMBOLS

    precisions = list(dict.fromkeys(c.precision for c in chart.curves))
    sizes = sorted({c.tp for c in chart.curves})
    traces = []
    for c in drawn:
        colour = COLOURS[(precisions.index(c.precision) + 1) % len(COLOURS)]
        symbol = SYMBOLS[sizes.index(c.tp) % len(SYMBOLS)]
        name = f"{c.precision.label}, {c.layout}"
        for xaxis, yaxis, latency, panel in PANELS:
            traces.append(
                go.Scatter(
                    x=latency(c),
                    y=c.tokens_per_s_per_device,
                    xaxis=xaxis,
                    yaxis=yaxis,
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=panel == "tpot",
                    meta={
                        "panel": panel,
                        "tp": c.tp,
                        "ep": c.ep,
                        "precision": c.precision.precision,
                        "quant": c.precision.quant,
                        "kv_dtype": c.precision.kv_dtype,
                        "batch": c.batch.tolist(),
                    },
                    line={"color": colour, "width": 1.5},
                    marker={
                        "symbol": [symbol if ok else symbol + "-open" for ok in c.meets],
                        "size": 8,
                        "color": colour,
                    },
                    text=_hover(c),
                    hoverinfo="text",
                )
            )
    traces.append(
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            name="hollow: misses the targets",
            marker={"symbol": SYMBOLS[0] + "-open", "size": 8, "color": COLOURS[0]},
        )
    )
    return traces


def _chosen_traces(best: Any) -> list[Any]:
    """The chosen deployment's star in each panel (none without one)."""
    import plotly.graph_objects as go

    from scaling.charts import COLOURS

    traces = []
    if best is not None:
        for (xaxis, yaxis, _, panel), x in zip(PANELS, (best.decode_s_per_token * 1e3, best.prefill_s)):
            traces.append(
                go.Scatter(
                    x=[x],
                    y=[best.tokens_per_s_per_device],
                    xaxis=xaxis,
                    yaxis=yaxis,
                    mode="markers",
                    name=f"chosen: {_label(best)}",
                    legendgroup="chosen",
                    showlegend=panel == "tpot",
                    meta={"panel": panel},
                    marker={"symbol": "star", "size": 20, "color": COLOURS[5], "line": {"width": 1}},
                    hoverinfo="name",
                )
            )
    return traces


def _figure_layout(chart: InferenceChart, drawn: list[InferenceCurve], title: str) -> dict[str, Any]:
    """The two panels' axes (log, 1-2-5 ticks), titles and the note under the plot (how many layouts were
    left out)."""
    from scaling.charts.axes import base_layout, ticks_125, two_panels

    axis = {"type": "log", "showgrid": True, "gridcolor": "#dddddd", "showline": True, "linecolor": "#444444"}
    rates = np.concatenate([c.tokens_per_s_per_device for c in chart.curves]) if chart.curves else None
    rate_axis = {**axis, **(ticks_125(rates) if rates is not None else {})}
    x_axes = []
    for _, _, latency, _ in PANELS:
        spread = np.concatenate([latency(c) for c in chart.curves]) if chart.curves else np.zeros(0)
        x_axes.append({**axis, **ticks_125(spread, lambda v: f"{v:g}")})
    static = "p50 = p99: every request of a static batch; batch grows along each line"
    if len(drawn) < len(chart.curves):
        static += (
            f"; {len(chart.curves) - len(drawn)} of {len(chart.curves)} layouts not drawn, those with the "
            "fewest points no other beats on both panels (--json lists them all)"
        )
    layout = base_layout(
        title,
        margin={"l": 80, "r": 90, "t": 120, "b": 100},
        **two_panels(
            (
                {**x_axes[0], "title": {"text": "time per output token (ms)"}},
                {**rate_axis, "title": {"text": "output tokens per second per device"}},
            ),
            ({**x_axes[1], "title": {"text": "time to first token (s)"}}, {**rate_axis, "matches": "y"}),
            ("per output token", "to the first token"),
            split=0.46,
            gap=0.08,
        ),
    )
    layout["title"] = {**layout["title"], "y": 0.95}  # room for a second line (the target)
    layout["annotations"].append(
        {
            "text": static,
            "x": 0.5,
            "y": 0,
            "yshift": -66,  # pixels under the plot, below the axis titles, at any height
            "yanchor": "top",
            "xref": "paper",
            "yref": "paper",
            "showarrow": False,
            "font": {"size": 11, "color": "#555555"},
        }
    )
    return layout


def _target_traces(rates: np.ndarray, latency_s: float | None, ttft_s: float | None) -> list[Any]:
    """The targets as dashed vertical lines across the throughputs drawn."""
    import plotly.graph_objects as go

    from scaling.charts import COLOURS

    traces = []
    span = [float(np.min(rates)), float(np.max(rates))]
    for (xaxis, yaxis, _, _), target, shown in zip(
        PANELS,
        (latency_s, ttft_s),
        (lambda t: f"{t * 1e3:g} ms per token", lambda t: f"{t:g} s to the first token"),
    ):
        if target is None:
            continue
        at = target * 1e3 if xaxis == "x" else target
        traces.append(
            go.Scatter(
                x=[at, at],
                y=span,
                xaxis=xaxis,
                yaxis=yaxis,
                mode="lines",
                name=f"target: {shown(target)}",
                line={"dash": "dash", "color": COLOURS[0]},
            )
        )
    return traces


def _label(e: ServingEstimate) -> str:
    quant = None if e.weight_dtype == e.precision else e.weight_dtype
    p = ServingPrecision(e.precision, quant, e.kv_dtype)
    wide = f", EP {e.ep}" if e.attention_dp > 1 else ""
    return f"{p.label}, TP {e.tp}{wide}, batch {e.batch}"
