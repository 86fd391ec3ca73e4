"""Memory per device as stacked bars by component, one bar per configuration, against the accelerator's
capacity, with the assumptions the bars share as the subtitle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from scaling import units
from scaling.charts.axes import base_layout, linear_axis
from scaling.charts.inputs import attr_or_key
from scaling.charts.style import COLOURS, PATTERNS
from scaling.errors import ScalingError

MEMORY_COMPONENTS = (
    ("weights_bytes", "Weights"),
    ("master_weights_bytes", "Master weights (fp32)"),
    ("gradients_bytes", "Gradients"),
    ("optimizer_bytes", "Optimizer states"),
    ("activations_bytes", "Activations"),
    ("kv_cache_bytes", "KV cache"),
    ("overhead_bytes", "Framework overhead"),
)


# what varies from bar to bar, by the bars' label prefix, in words for the title ("across ZeRO stages")
ACROSS_TITLES = (
    ("ZeRO-", "ZeRO stages"),
    ("recompute ", "recomputation settings"),
    ("TP ", "tensor-parallel sizes"),
    ("fp", "precisions"),
    ("bf", "precisions"),
)


def memory_figure(
    breakdowns: Sequence[Any] | Mapping[str, Any],
    capacity_bytes: float | None = None,
    *,
    title: str | None = None,
) -> go.Figure:
    """Stacked bars of memory per device by component, one bar per breakdown (ZeRO stage, layout, ...),
    against the accelerator's capacity. Labels come from the dict keys, or from each breakdown's ``label``
    or ``zero`` attribute. Bars are in GiB (2^30 bytes); whatever the named components leave out of
    ``total_bytes`` is drawn as "Other", so each bar's height is the breakdown's total. The title names what
    varies ("across ZeRO stages") unless ``title`` is given; the subtitle states the assumptions the bars
    share (attention kernel, sequence length, micro-batch, precision, devices), from each breakdown's
    inputs."""
    items = (
        list(breakdowns.items())
        if isinstance(breakdowns, Mapping)
        else [(_breakdown_label(b, i), b) for i, b in enumerate(breakdowns)]
    )
    if not items:
        raise ScalingError("memory_figure needs at least one memory breakdown")
    labels = [str(label) for label, _ in items]
    rows = {key: [float(attr_or_key(b, key, 0.0) or 0.0) for _, b in items] for key, _ in MEMORY_COMPONENTS}
    totals = [
        float(attr_or_key(b, "total_bytes", sum(rows[k][i] for k, _ in MEMORY_COMPONENTS)))
        for i, (_, b) in enumerate(items)
    ]
    other = [t - sum(rows[k][i] for k, _ in MEMORY_COMPONENTS) for i, t in enumerate(totals)]
    components = list(MEMORY_COMPONENTS)
    if any(abs(o) > 1e-6 * max(t, 1.0) for o, t in zip(other, totals)):
        rows["other_bytes"] = other
        components.append(("other_bytes", "Other"))
    capacities = (
        [capacity_bytes] * len(items)
        if capacity_bytes is not None
        else [attr_or_key(b, "capacity_bytes") for _, b in items]
    )
    capacities = [float(c) if c else None for c in capacities]
    traces = _memory_bars(labels, rows, components, totals)
    traces.append(_memory_totals_trace(labels, totals, capacities))
    shapes, annotations = _capacity_marks(traces, labels, capacities)
    top = max(totals + [c for c in capacities if c]) / units.GIB
    heading = title or _memory_title(labels, [b for _, b in items])
    assumptions = _memory_assumptions([b for _, b in items])
    layout = base_layout(
        heading
        + "".join(f"<br><span style='font-size:12px'>{line}</span>" for line in _wrap_list(assumptions, 75)),
        barmode="stack",
        xaxis=linear_axis("", type="category", showgrid=False),  # each bar's label says what it is
        yaxis=linear_axis("Memory per device (GiB)", range=[0, top * 1.15]),
        # the legend below the plot, top of the stack first, so the right margin holds the capacity label
        legend={
            **base_layout("")["legend"],
            "traceorder": "reversed",
            "orientation": "h",
            "x": 0.0,
            "y": -0.08,
            "yanchor": "top",
        },
        margin={"l": 80, "r": 110, "t": 110, "b": 110},
        shapes=shapes,
        annotations=annotations,
        meta={"assumptions": assumptions},
    )
    layout["title"]["y"] = 0.97  # the title, then its assumptions (two lines at most in practice)
    return go.Figure(data=traces, layout=layout)


def _memory_totals_trace(
    labels: list[str], totals: list[float], capacities: list[float | None]
) -> go.Scatter:
    """Each bar's total above it, and whether it fits its capacity (where one is known)."""
    fits = [t <= c if c else None for t, c in zip(totals, capacities)]
    return go.Scatter(
        x=labels,
        y=[t / units.GIB for t in totals],
        mode="text",
        name="Total per device",
        showlegend=False,
        text=[
            f"{units.format_bytes(t)}" + ("" if f is None else (" fits" if f else " too big"))
            for t, f in zip(totals, fits)
        ],
        textposition="top center",
        textfont={"size": 12, "color": "#000000"},
        hoverinfo="skip",
        meta={"kind": "totals"},
    )


def _memory_bars(
    labels: list[str], rows: dict[str, list[float]], components: list[tuple[str, str]], totals: list[float]
) -> list[go.Bar]:
    """One stacked bar trace per component with bytes, each with its own colour and fill pattern."""
    traces = []
    for i, (key, title) in enumerate(components):
        values = rows[key]
        if not any(values):
            continue
        traces.append(
            go.Bar(
                x=labels,
                y=[v / units.GIB for v in values],
                name=title,
                marker={
                    "color": COLOURS[(i + 1) % len(COLOURS)],
                    "line": {"width": 0.8, "color": "#000000"},
                    "pattern": {
                        "shape": PATTERNS[i % len(PATTERNS)],
                        "fgcolor": "#ffffff",
                        "size": 7,
                        "fillmode": "overlay",
                    },
                },  # the pattern over the colour, in every plotly.js
                hovertext=[
                    f"<b>{lab}</b><br>{title}: {units.format_bytes(v)} "
                    f"({units.format_bytes(v, binary=False)})"
                    f"<br>{v / t:.1%} of {units.format_bytes(t)}"
                    if t
                    else f"{title}: 0"
                    for lab, v, t in zip(labels, values, totals)
                ],
                hoverinfo="text",
                meta={"component": key},
            )
        )
    return traces


def _capacity_marks(traces: list, labels: list[str], capacities: list[float | None]) -> tuple[list, list]:
    """The capacity as a dashed line across the bars with its label in the right margin, at its height (layout
    shapes and annotations); or, when the devices differ, one tick per bar (a trace added to ``traces``)."""
    known = [c for c in capacities if c]
    if known and len(set(known)) == 1:
        y = known[0] / units.GIB
        line = {
            "type": "line",
            "xref": "x domain",
            "x0": 0,
            "x1": 1,
            "yref": "y",
            "y0": y,
            "y1": y,
            "line": {"color": "#D55E00", "width": 2.5, "dash": "dash"},
        }
        label = {
            "x": 1.0,
            "xref": "paper",
            "xanchor": "left",
            "xshift": 6,
            "y": y,
            "yref": "y",
            "yanchor": "middle",
            "align": "left",
            "showarrow": False,
            "name": "capacity-label",
            "text": f"capacity<br>{units.format_bytes(known[0])}"
            f"<br>({units.format_bytes(known[0], binary=False)})",
            "font": {"color": "#D55E00", "size": 12},
            "bgcolor": "rgba(255,255,255,0.85)",
        }
        return [line], [label]
    if known:
        traces.append(
            go.Scatter(
                x=labels,
                y=[c / units.GIB if c else None for c in capacities],
                mode="markers",
                name="Capacity",
                marker={"symbol": "line-ew-open", "size": 40, "line": {"width": 3, "color": "#D55E00"}},
                hovertext=[f"capacity {units.format_bytes(c)}" if c else "" for c in capacities],
                hoverinfo="text",
            )
        )
    return [], []


def _memory_title(labels: list[str], breakdowns: list[Any]) -> str:
    across = {words for lab in labels for prefix, words in ACROSS_TITLES if lab.startswith(prefix)}
    matched = all(any(lab.startswith(prefix) for prefix, _ in ACROSS_TITLES) for lab in labels)
    model = {attr_or_key(b, "model") for b in breakdowns} - {None}
    title = "Memory per device" + (
        f" across {across.pop()}" if matched and len(across) == 1 else " by configuration"
    )
    return title + (f": {model.pop()}" if len(model) == 1 else "")


def _wrap_list(text: str, width: int) -> list[str]:
    """A comma-separated list as lines of at most ``width`` characters where its items allow (a chart's
    subtitle, which must fit a narrow chart too)."""
    lines: list[str] = []
    for item in [t for t in text.split(", ") if t]:
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += ", " + item
        else:
            lines.append(item)
    return lines


def _memory_assumptions(breakdowns: list[Any]) -> str:
    """The inputs every bar shares, in words: attention kernel, sequence length, micro-batch, precision, mode,
    devices. Inputs that differ between bars are what the chart compares, so they are left out."""
    inputs = [attr_or_key(b, "inputs") or {} for b in breakdowns]

    def shared(key: str) -> Any:
        values = {repr(i.get(key)) for i in inputs}
        return inputs[0].get(key) if len(values) == 1 else None

    parts = []
    if shared("mode"):
        parts.append(str(shared("mode")))
    flash = shared("flash_attention")
    if flash is not None:
        parts.append(
            "FlashAttention (no s² attention scores kept)"
            if flash
            else "standard attention (s² attention scores kept)"
        )
    for key, text in (
        ("seq_len", "sequence {} tokens"),
        ("micro_batch", "micro-batch {}"),
        ("precision", "{}"),
        ("optimizer", "{}"),
        ("recompute", "recompute {}"),
        ("zero", "ZeRO-{}"),
        ("tp", "TP {}"),
        ("pp", "PP {}"),
    ):
        value = shared(key)
        if value is not None and not (key in ("tp", "pp") and value == 1):
            parts.append(text.format(f"{value:,}" if isinstance(value, int) and value >= 1000 else value))
    devices, accelerator = shared("devices"), shared("accelerator")
    if devices and accelerator:
        parts.append(f"{devices}x{accelerator}")
    return ", ".join(parts)


def _breakdown_label(b: Any, i: int) -> str:
    for key in ("label", "name", "layout"):
        value = attr_or_key(b, key)
        if value:
            return str(value)
    zero = attr_or_key(b, "zero")
    if zero is not None:
        return f"ZeRO-{zero}"
    inputs = attr_or_key(b, "inputs") or {}
    if "zero" in inputs:  # a scaling.memory.MemoryBreakdown
        return f"ZeRO-{inputs['zero']}, TP {inputs.get('tp', 1)}, PP {inputs.get('pp', 1)}"
    return f"#{i + 1}"
