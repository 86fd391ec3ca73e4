"""The optimal zone: each law's N_opt(C) or D_opt(C) against training compute, the band of the
Chinchilla-family estimates, a fitted law with its interval band, well-known models and a plan, each label
placed where it overlaps nothing."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from scaling import units
from scaling.charts.axes import base_layout, log_axis
from scaling.charts.inputs import as_law, flops_grid, known_models_list, plan_point
from scaling.charts.label_placement import (
    MODEL_MARKER,
    PLAN_MARKER,
    PlotArea,
    free_of,
    label_covers,
    label_layout,
    line_hits,
)
from scaling.charts.style import BAND_FILL, LAW_TITLES, ZONE_FILL, law_label, law_styles, law_title
from scaling.charts.text import compute_text, model_hover
from scaling.charts.traces import band_trace, scatter_trace
from scaling.errors import ScalingError
from scaling.flops import six_nd
from scaling.laws import CHINCHILLA_FAMILY, Law

DEFAULT_LAWS = ("chinchilla-a1", "chinchilla-a2", "chinchilla", "kaplan", "epoch")


# The optimal zone is the band of the Chinchilla-family estimates: Hoffmann et al. 2022 Approaches 1-3 and
# Epoch AI's replication of Approach 3 (Besiroglu et al. 2024). Kaplan et al. 2020 (N_opt ∝ C^0.73, a
# different learning-rate schedule and N without embeddings) is drawn as its own labelled line, outside the
# zone.
ZONE_LAWS = CHINCHILLA_FAMILY


# pixels: the figure is this high and fills its container's width; labels are placed for this width and wider
# ones (wider, markers only move apart), and a second set for narrower ones down to _NARROW_AT[0] of it. A
# container narrower than that scrolls.
ZONE_SIZE = (1000, 700)


# widths, as multiples of ZONE_SIZE's, at which every label is checked to be free: the wide set, and the set the
# page swaps in below ZONE_SIZE's width
_PLACED_AT = (1.0, 1.5, 2.2)
_NARROW_AT = (0.6, 0.8, 1.0)
# pixels: the narrowest the zone is drawn at (a page or box narrower than this scrolls)
ZONE_MIN_WIDTH = round(ZONE_SIZE[0] * _NARROW_AT[0])


# the legend sits under the plot in two columns, one row per two entries
_LEGEND_ROW_PX, _AXIS_BELOW_PX = 29, 75


DEFAULT_FLOPS_RANGE = (1e18, 1e27)


def zone_figure(
    laws: Iterable[Law | str] = DEFAULT_LAWS,
    *,
    flops_range: Sequence[float] = DEFAULT_FLOPS_RANGE,
    known_models: bool | str | Path | list[Mapping[str, Any]] = True,
    plan: Any = None,
    fitted: Law | str | None = None,
    axis: str = "params",
    zone: Iterable[str] = ZONE_LAWS,
    size: tuple[int, int] = ZONE_SIZE,
) -> go.Figure:
    """The optimal zone: each law's N_opt(C) (or D_opt(C) with ``axis="tokens"``) against training compute,
    the band between the lowest and highest of the ``zone`` laws at each C (by default the Chinchilla family,
    `ZONE_LAWS`; other laws such as Kaplan are drawn as lines labelled at their end), well-known models, and
    your plan.

    ``known_models``: True for ``data/known_models.csv``, a path to a CSV with the same columns, a list of
    dicts with params/tokens/flops/name, or False. ``plan``: a dict or object with two of params, tokens,
    flops. ``fitted``: a fitted law (e.g. ``fit_parametric(runs, bootstrap=1000)``) or any law with
    intervals, drawn with its interval band (80% by default, Epoch AI's choice); a law also in ``laws`` gets
    only its band. ``size``: the (width, height) in pixels labels are placed for so that none overlaps a
    marker, a law's line or another label; the figure is that high and fills the width of its container
    (the width is the narrowest it is meant for).
    """
    if axis not in ("params", "tokens"):
        raise ScalingError(f"invalid axis {axis!r}: expected 'params' or 'tokens'")
    law_list = [as_law(law) for law in laws]
    zone_names = {as_law(name).name for name in zone}
    fitted_law = as_law(fitted) if fitted is not None else None
    if not law_list and fitted_law is None:
        raise ScalingError("the optimal zone needs at least one law (e.g. chinchilla, epoch, kaplan)")
    # 5 points a decade: the laws are power laws (straight here) or close to one, and each point carries hover
    # text that plotly validates, so fewer points keep a live update fast
    C = flops_grid(flops_range, points_per_decade=5)
    key = "params" if axis == "params" else "tokens"
    curves = [np.asarray(law.n_opt(C) if axis == "params" else law.d_opt(C), dtype=float) for law in law_list]
    in_zone = [i for i, law in enumerate(law_list) if law.name in zone_names]
    traces = _zone_band(C, [law_list[i] for i in in_zone], [curves[i] for i in in_zone], axis)
    traces += _law_lines(C, law_list, curves, axis)
    if fitted_law is not None:  # a law among ``laws`` already has its line: only its band is added
        traces += _fitted_traces(
            fitted_law, C, axis, line=fitted_law.name not in {law.name for law in law_list}
        )
    point = plan_point(plan) if plan is not None else None
    models = known_models_list(known_models) if known_models not in (False, None) else []
    y_values = np.concatenate(
        [np.ravel(t["y"]) for t in traces]
        + [[_plotted(m, key) for m in models]]
        + [[point[key]] if point else []]
    )
    y_values = y_values[np.isfinite(y_values) & (y_values > 0)]
    lo, hi = math.log10(C[0]), math.log10(C[-1])
    pad = 0.04 * (math.log10(y_values.max()) - math.log10(y_values.min()))
    y_range = (math.log10(y_values.min()) - pad, math.log10(y_values.max()) + pad)
    legend = [t["name"] for t in traces if t.get("showlegend") is not False]
    entries = (
        len(legend) + len({bool(m.get("active_params")) for m in models}) + bool(point)
    )  # + model traces
    margin = {"l": 80, "r": 30, "t": 130, "b": _AXIS_BELOW_PX + _LEGEND_ROW_PX * math.ceil(entries / 2) + 10}
    # the figure fills its container's width: labels are placed where they are free at the narrowest width and
    # at wider ones (markers and lines spread apart sideways, the labels keep their pixel offsets); below that
    # width a second set, placed for the narrow range, replaces them (`export.RESPONSIVE_JS`)
    colours = [c for c, _ in law_styles([law.name for law in law_list])]
    outside = [
        (law, colour, y) for law, colour, y in zip(law_list, colours, curves) if law.name not in zone_names
    ]

    def placed(widths: Sequence[float]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        areas = [
            PlotArea((lo, hi), y_range, (w - margin["l"] - margin["r"], size[1] - margin["t"] - margin["b"]))
            for w in widths
        ]
        law_lines = [
            [(t["meta"]["law"], _pixels(area, C, t["y"])) for t in traces if t.get("meta", {}).get("law")]
            for area in areas
        ]
        markers = [_marker_boxes(area, models, point, key) for area in areas]
        end_labels, end_boxes = _law_end_labels(outside, C, areas, law_lines, markers)
        lines = [[pixels for _, pixels in per_area] for per_area in law_lines]
        points, labels = _point_traces(models, point, key, areas, known_models is True, lines, end_boxes)
        return points, labels + end_labels

    points, annotations = placed([size[0] * f for f in _PLACED_AT])
    narrow = placed([size[0] * f for f in _NARROW_AT])[1]
    traces += points
    layout = _zone_layout(axis, (lo, hi), y_range, margin, size, annotations, narrow, entries)
    traces.append(_pf_days_axis_trace(C, y_range))
    return go.Figure(data=traces, layout=layout)


def _pixels(area: PlotArea, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A line's points in the plot area's pixels (y up), every 3 px along it: what a label must not cover."""
    px = np.array([area.position(float(a), float(b)) for a, b in zip(x, y) if a > 0 and b > 0])
    if len(px) < 2:
        return px.reshape(-1, 2)
    steps = np.maximum((np.hypot(*np.diff(px, axis=0).T) / 3).astype(int), 1)
    return np.vstack(
        [p + np.linspace(0, 1, n, endpoint=False)[:, None] * (q - p) for p, q, n in zip(px, px[1:], steps)]
        + [px[-1:]]
    )


# pixels between a law's name and its line's point, and kept clear around the name (the plot's edges, markers)
_END_GAP = 3.0
# pixels between a law's name set beside its line and the other laws' lines: its own line is the nearest
_END_CLEAR = 8.0
# pixels above or below its line's point of a name at the end of a leader line (a line inside a bundle)
_END_LEADERS = (18.0, 30.0, 45.0, 65.0)
# grid points (5 a decade) tried beside the line, then with a leader, before moving a stretch further back
_END_STRETCH = 6


def _law_end_labels(
    outside: list[tuple[Law, str, np.ndarray]],
    C: np.ndarray,
    areas: Sequence[PlotArea],
    law_lines: list[list[tuple[str, np.ndarray]]],
    markers: list[list[tuple[float, float, float, float]]],
) -> tuple[list[dict[str, Any]], list[list[tuple[float, float, float, float]]]]:
    """Each line's name in its colour (the laws outside the zone's band), at the point nearest the line's end
    where the name fits at every width in ``areas``: inside the plot area, a few pixels from its edges, clear
    of the ``markers`` and of the names placed before it, and either beside the point (above-left of it: a
    rising line passes below and right of that corner; else below-right), well clear of the other laws'
    lines (``law_lines``: (law, pixels) per area), or, for a line inside a bundle of others, above or below
    the bundle at the end of a leader line in the line's colour. A name with no such spot sits above-left of
    the line's last point under the plot's top. Returns the annotations and their pixel boxes per area."""
    labels: list[dict[str, Any]] = []
    boxes: list[list[tuple[float, float, float, float]]] = [[] for _ in areas]
    for law, colour, y in outside:
        text = law_title(law)
        size = (0.6 * 12 * len(text) + 6, 16.0)
        w, h = size
        every = [np.vstack([p.reshape(-1, 2) for _, p in per_area]) for per_area in law_lines]
        others = [
            np.vstack([p.reshape(-1, 2) for name, p in per_area if name != law.name] or [np.empty((0, 2))])
            for per_area in law_lines
        ]
        points = [i for i in range(len(C) - 1, -1, -1) if C[i] > 0 and y[i] > 0]
        beside = [(-w / 2 - _END_GAP, h / 2 + _END_GAP), (w / 2 + _END_GAP, -h / 2 - _END_GAP)]
        leaders = [(-w / 2 - _END_GAP, sy * (d + h / 2)) for d in _END_LEADERS for sy in (1, -1)]
        # beside a point near the end, then with a leader there, then the same a stretch further back
        spots = [
            (i, offset, leader)
            for start in range(0, len(points), _END_STRETCH)
            for offsets, leader in ((beside, False), (leaders, True))
            for i in points[start : start + _END_STRETCH]
            for offset in offsets
        ]
        choice = next(
            (
                (i, offset, leader, found)
                for i, offset, leader in spots
                if _name_spot_is_free(
                    found := _name_boxes(_centres(areas, C[i], y[i]), offset, size),
                    areas,
                    boxes,
                    markers,
                    lines=every if leader else others,
                    leader=(_centres(areas, C[i], y[i]), offset) if leader else None,
                )
            ),
            None,
        )
        if choice is None:  # the line's last point whose name fits under the plot's top
            fits = [
                i for i in points if _centres(areas, C[i], y[i])[0][1] + h + _END_GAP <= areas[0].pixels[1]
            ]
            i = fits[0] if fits else points[0]
            choice = (i, beside[0], False, _name_boxes(_centres(areas, C[i], y[i]), beside[0], size))
        i, (cx, cy), leader, found = choice
        label = {
            "x": math.log10(C[i]),
            "y": math.log10(y[i]),
            "xref": "x",
            "yref": "y",
            "text": text,
            "bgcolor": "rgba(255,255,255,0.8)",
            "font": {"size": 12, "color": colour},
            "name": f"law-label-{law.name}",
        }
        if leader:  # plotly: the text is centred at (ax, ay) pixels from the point, y down
            label.update(showarrow=True, ax=cx, ay=-cy, arrowhead=0, arrowwidth=1, arrowcolor=colour)
        else:
            label.update(showarrow=False, xshift=cx, yshift=cy)
        labels.append(label)
        for k, box in enumerate(found):
            boxes[k].append(box)
    return labels, boxes


def _centres(areas: Sequence[PlotArea], x: float, y: float) -> list[tuple[float, float]]:
    """The point (x, y) in each area's pixels."""
    return [area.position(x, y) for area in areas]


def _name_boxes(
    points: list[tuple[float, float]], offset: tuple[float, float], size: tuple[float, float]
) -> list[tuple[float, float, float, float]]:
    """A name's box in each area: its centre ``offset`` pixels from the point, its width and height ``size``."""
    (cx, cy), (w, h) = offset, size
    return [(px + cx - w / 2, py + cy - h / 2, px + cx + w / 2, py + cy + h / 2) for px, py in points]


def _name_spot_is_free(
    found: list[tuple[float, float, float, float]],
    areas: Sequence[PlotArea],
    taken: list[list[tuple[float, float, float, float]]],
    markers: list[list[tuple[float, float, float, float]]],
    *,
    lines: list[np.ndarray],
    leader: tuple[list[tuple[float, float]], tuple[float, float]] | None,
) -> bool:
    """In every area: inside the plot `_END_GAP` pixels from its edges and that far from the markers and the
    boxes ``taken``; beside its point, `_END_CLEAR` pixels from the ``lines``, or at the end of a ``leader``
    (its points and the box's offset) `_END_GAP` from them, the leader crossing no marker and pointing
    `_END_CLEAR` pixels from any."""
    g = _END_GAP
    clear = g if leader else _END_CLEAR
    for k, ((x0, y0, x1, y1), area) in enumerate(zip(found, areas)):
        if not free_of((x0 - g, y0 - g, x1 + g, y1 + g), area, taken[k] + markers[k]):
            return False
        if label_covers((x0 - clear, y0 - clear, x1 + clear, y1 + clear), lines[k]):
            return False
        if leader:
            (px, py), (cx, cy) = leader[0][k], leader[1]
            near = (px - _END_CLEAR, py - _END_CLEAR, px + _END_CLEAR, py + _END_CLEAR)
            if line_hits((px, py), (px + cx, py + cy), markers[k]) or not free_of(near, area, markers[k]):
                return False
    return True


def _marker_boxes(
    area: PlotArea, models: list[dict[str, Any]], point: dict[str, Any] | None, key: str
) -> list[tuple[float, float, float, float]]:
    """The drawn extent of each model's marker and the plan's, in the area's pixels."""
    items = [(m["flops"], _plotted(m, key), MODEL_MARKER) for m in models]
    items += [(point["flops"], point[key], PLAN_MARKER)] if point else []
    boxes = []
    for x, y, style in items:
        px, py = area.position(x, y)
        boxes.append((px - style.reach, py - style.reach, px + style.reach, py + style.reach))
    return boxes


def _zone_layout(
    axis: str,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    margin: dict[str, int],
    size: tuple[int, int],
    annotations: list[dict[str, Any]],
    narrow: list[dict[str, Any]],
    entries: int,
) -> dict[str, Any]:
    """The zone's axes (log10 ranges): compute in FLOPs below and in PF-days on top, N or D up the side;
    ``narrow``: the labels placed for widths below ``size[0]`` and ``entries``, the legend's entries."""
    lo, hi = x_range
    y_title = "Parameters N (count)" if axis == "params" else "Training tokens D (count)"
    quantity = "model size" if axis == "params" else "training tokens"
    title = f"Compute-optimal {quantity} against training compute: the optimal zone"
    short_title = "The optimal zone"
    extra = _LEGEND_ROW_PX * (entries - math.ceil(entries / 2))  # one column instead of two
    return base_layout(
        title,
        xaxis=log_axis("Training compute C (FLOPs, C = 6ND)", power=True, range=[lo, hi]),
        # PF-days on top: the same positions, relabelled (1 PF-day = 8.64e19 FLOPs)
        xaxis2=log_axis(
            "Training compute (PF-days)",
            power=True,
            overlaying="x",
            side="top",
            range=[lo - math.log10(units.PF_DAY_FLOPS), hi - math.log10(units.PF_DAY_FLOPS)],
            showgrid=False,
            minor={"showgrid": False},
        ),
        yaxis=log_axis(y_title, range=list(y_range)),
        # under the plot, two entries a row: the legend covers no data and its height is known in advance
        legend={
            **base_layout("")["legend"],
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 0,
            "yref": "container",
            "yanchor": "bottom",
            "entrywidth": 0.45,  # of the plot width: two entries fit a row with their padding
            "entrywidthmode": "fraction",
            "borderwidth": 0,
        },
        margin={**margin, "autoexpand": False},
        height=size[1],
        autosize=True,
        # the labels are placed for widths from size[0] up; below it the page swaps in the ``narrow`` layout
        # (`export.NARROW_LABELS_JS`): labels placed for widths down to _NARROW_AT[0] x size[0], the narrowest
        # the page is drawn at (`export.save`), a shorter title, and the legend in one column under a plot
        # area of the same height
        meta={
            "min_width": round(size[0] * _NARROW_AT[0]),  # ZONE_MIN_WIDTH at the default size
            "responsive": {
                "below": size[0],
                "wide": {
                    "annotations": annotations,
                    "title.text": title,
                    "height": size[1],
                    "margin.b": margin["b"],
                    "legend.entrywidth": 0.45,
                },
                "narrow": {
                    "annotations": narrow,
                    "title.text": short_title,
                    "height": size[1] + extra,
                    "margin.b": margin["b"] + extra,
                    "legend.entrywidth": 1.0,
                },
            },
        },
        annotations=annotations,
    )


def _pf_days_axis_trace(C: np.ndarray, y_range: tuple[float, float]) -> dict[str, Any]:
    """Plotly draws an axis only with a trace on it: an invisible one spanning the top (PF-days) axis."""
    y_mid = 10 ** ((y_range[0] + y_range[1]) / 2)
    pf = C / units.PF_DAY_FLOPS
    return scatter_trace(
        x=[pf[0], pf[-1]],
        y=[y_mid, y_mid],
        xaxis="x2",
        mode="lines",
        opacity=0,
        line={"width": 0},
        showlegend=False,
        hoverinfo="skip",
        name="PF-days axis",
        meta={"kind": "axis"},
    )


def _zone_band(C: np.ndarray, laws: list[Law], curves: list[np.ndarray], axis: str) -> list[dict[str, Any]]:
    """The shaded band between the lowest and highest of ``curves`` at each C (nothing for fewer than two)."""
    if len(curves) < 2:
        return []
    noun = "parameters" if axis == "params" else "tokens"
    stack = np.vstack(curves)
    lower, upper = stack.min(axis=0), stack.max(axis=0)
    names = ", ".join(LAW_TITLES.get(law.name, law.name) for law in laws)
    band_hover = [
        f"<b>optimal zone</b><br>C = {compute_text(c)}<br>{noun}: {units.format_count(a)} to "
        f"{units.format_count(b)}<br>between {names}"
        for c, a, b in zip(C, lower, upper)
    ]
    return band_trace(
        C,
        lower,
        upper,
        line={"width": 0, "color": ZONE_FILL},
        fill=ZONE_FILL,
        group="zone",
        lower_name="zone (lower edge)",
        name=f"Optimal zone (Chinchilla family: {len(laws)} estimates)",
        hovertext=band_hover,
        hoverinfo="text",
        meta={"kind": "zone", "laws": [law.name for law in laws]},
    )


def _law_lines(C: np.ndarray, laws: list[Law], curves: list[np.ndarray], axis: str) -> list[dict[str, Any]]:
    """One line per law, each with its own colour and dash, and hover text with N, D and tokens per
    parameter."""
    what = "N_opt" if axis == "params" else "D_opt"
    pf = C / units.PF_DAY_FLOPS
    traces = []
    for law, (colour, dash), y in zip(laws, law_styles([law.name for law in laws]), curves):
        other = C / six_nd(y, 1.0)  # tokens for an N curve, parameters for a D curve (C = 6ND)
        ratio = other / y if axis == "params" else y / other
        hover = [
            f"<b>{LAW_TITLES.get(law.name, law.name)}</b><br>C = {compute_text(c)}<br>"
            f"{what} = {units.format_count(v)}<br>{'tokens' if axis == 'params' else 'parameters'} = "
            f"{units.format_count(o)}<br>tokens per parameter = {r:.3g}"
            for c, v, o, r in zip(C, y, other, ratio)
        ]
        traces.append(
            scatter_trace(
                x=C,
                y=y,
                mode="lines",
                name=law_label(law),
                line={"color": colour, "dash": dash, "width": 2.5},
                hovertext=hover,
                hoverinfo="text",
                customdata=pf,
                meta={"law": law.name},
            )
        )
    return traces


def _fitted_traces(law: Law, C: np.ndarray, axis: str, *, line: bool = True) -> list[dict[str, Any]]:
    """A fitted law's line and its interval band (bootstrap percentiles, Epoch AI's 80% by default); the band
    alone with ``line=False`` (for a law already drawn among the others)."""
    allocation = law.optimal(C)
    y = np.asarray(allocation.params if axis == "params" else allocation.tokens, dtype=float)
    interval = allocation.intervals.get("params" if axis == "params" else "tokens")
    traces = []
    name = law_label(law)
    if interval is not None:
        lo, hi = (np.asarray(v, dtype=float) for v in interval)
        level = f"{allocation.interval_level:.0%}"
        traces += band_trace(
            C,
            lo,
            hi,
            line={"width": 0.5, "color": "#D55E00", "dash": "dot"},
            fill=BAND_FILL,
            group="fitted",
            lower_name=f"{name} lower",
            name=f"{level} interval of " + ("your fit" if getattr(law, "n_runs", 0) else law_title(law)),
            hovertext=[
                f"<b>{level} interval</b><br>C = {compute_text(c)}<br>{units.format_count(a)} to "
                f"{units.format_count(b)}"
                for c, a, b in zip(C, lo, hi)
            ],
            hoverinfo="text",
            meta={"kind": "fitted-band", "level": allocation.interval_level},
        )
    if not line:
        return traces
    traces.append(
        scatter_trace(
            x=C,
            y=y,
            mode="lines",
            name=name,
            legendgroup="fitted",
            line={"color": "#D55E00", "width": 3.5, "dash": "solid"},
            hovertext=[
                f"<b>{law.name}</b><br>C = {compute_text(c)}<br>"
                f"{'N_opt' if axis == 'params' else 'D_opt'} = {units.format_count(v)}"
                for c, v in zip(C, y)
            ],
            hoverinfo="text",
            meta={"law": law.name, "kind": "fitted"},
        )
    )
    return traces


def _point_traces(
    models: list[dict[str, Any]],
    point: dict[str, Any] | None,
    key: str,
    areas: list[PlotArea],
    from_catalog: bool,
    lines: list[list[np.ndarray]],
    keep_out: list[list[tuple[float, float, float, float]]],
) -> tuple[list[dict], list[dict]]:
    """The well-known models (diamonds) and the plan (a star), and their labels as annotations placed where
    they overlap no marker, no other label, no law's line (``lines``, pixels per area) and nothing in ``keep_out``
    (the laws' end labels)."""
    traces = []
    dense = [m for m in models if not m.get("active_params")]
    experts = [m for m in models if m.get("active_params")]
    where = " (data/known_models.csv)" if from_catalog else ""
    for group, name, symbol, kind in (
        (dense, f"Trained models{where}", "diamond", "known-models"),
        (experts, "Mixtures of experts, at their active parameters", "triangle-up", "known-moe-models"),
    ):
        if group:
            traces.append(
                scatter_trace(
                    x=[m["flops"] for m in group],
                    y=[_plotted(m, key) for m in group],
                    mode="markers",
                    name=name,
                    marker={
                        "symbol": symbol,
                        "size": MODEL_MARKER.size,
                        "color": "#555555",
                        "line": {"width": 1, "color": "#000000"},
                    },
                    hovertext=[model_hover(m) for m in group],
                    hoverinfo="text",
                    meta={"kind": kind},
                )
            )
    if point:
        traces.append(
            scatter_trace(
                x=[point["flops"]],
                y=[point[key]],
                mode="markers",
                name=f"{point['name']}: "
                f"{units.format_count(point['params'])} params, {units.format_count(point['tokens'])} tokens",
                marker={
                    "symbol": "star",
                    "size": PLAN_MARKER.size,
                    "color": "#E69F00",
                    "line": {"width": 2, "color": "#000000"},
                },
                hovertext=[model_hover(point)],
                hoverinfo="text",
                meta={"kind": "plan"},
            )
        )
    items = ([(point["flops"], point[key], point["name"], PLAN_MARKER)] if point else []) + [
        (m["flops"], _plotted(m, key), _short_model_name(m["name"]), MODEL_MARKER) for m in dense + experts
    ]
    labels = label_layout(items, areas, keep_out=keep_out, lines=lines)
    kinds = (["plan-label"] if point else []) + ["model-label"] * len(models)
    annotations = [{**a, "name": kind} for a, kind in zip(labels, kinds) if a is not None]
    return traces, annotations


def _plotted(m: Mapping[str, Any], key: str) -> float:
    """Where a model sits: its tokens, or its parameters (a mixture of experts' active parameters, which its
    compute counts)."""
    return m.get("active_params") or m[key] if key == "params" else m[key]


def _short_model_name(name: str) -> str:
    return name.replace("DeepSeek LLM", "DeepSeek").replace("BloombergGPT 50.6B", "BloombergGPT")
