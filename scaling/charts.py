"""Interactive charts: the optimal zone, IsoFLOP profiles, the loss frontier, memory breakdowns, fit diagnostics.

Every ``*_figure`` function returns a `plotly.graph_objects.Figure` and does no I/O; `save` writes one to
HTML (self-contained, plotly.js inlined, works offline) or, through kaleido and a system Chromium, to
PNG/SVG/PDF. Charts read results (laws, fits, runs tables, memory breakdowns); nothing imports this module
except the CLI and users.

How the charts stay readable, in colour and printed in grey:

* log axes label whole decades only (FLOPs as powers of ten, counts as 1B, 100B, 1T);
* every axis title carries its unit; compute is shown in FLOPs with PF-days (8.64e19 FLOPs) on the top axis
  and in every hover;
* each law has its own dash pattern as well as its own colour, and markers differ by symbol;
* hover text shows formatted numbers (7B, 1.4T, 5.76e23 FLOP, 6.67e3 PF-days, 20 tokens/param).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from scaling import catalog, units
from scaling.errors import ScalingError
from scaling.flops import six_nd
from scaling.laws import CHINCHILLA_FAMILY, Law, get_law

DEFAULT_LAWS = ("chinchilla-a1", "chinchilla-a2", "chinchilla", "kaplan", "epoch")
# The optimal zone is the band of the Chinchilla-family estimates: Hoffmann et al. 2022 Approaches 1-3 and Epoch
# AI's replication of Approach 3 (Besiroglu et al. 2024). Kaplan et al. 2020 (N_opt ∝ C^0.73, a different
# learning-rate schedule and N without embeddings) is drawn as its own labelled line, outside the zone.
ZONE_LAWS = CHINCHILLA_FAMILY
ZONE_SIZE = (1100, 650)  # pixels; the zone's labels are placed for this size
DEFAULT_FLOPS_RANGE = (1e18, 1e27)
KNOWN_MODELS_FILE = "known_models.csv"
EXPORT_HINT = (
    "image export needs kaleido and a Chromium browser: pip install 'scaling[export]' and "
    "apt-get install chromium (or set BROWSER_PATH to a Chrome/Chromium binary); "
    "or write .html instead, which needs neither"
)
IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".webp")
HTML_SUFFIXES = (".html", ".htm")
HTML_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "svg"}, "responsive": True}

# Colours differ in lightness as well as hue (Okabe-Ito, reordered dark to light), and each series also gets
# its own dash pattern and marker symbol, so a grey printout still tells them apart.
COLOURS = ("#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999999")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "solid", "dash")
SYMBOLS = (
    "circle",
    "square",
    "diamond",
    "triangle-up",
    "cross",
    "x",
    "triangle-down",
    "star",
    "pentagon",
    "hexagon",
    "circle-open",
    "square-open",
)
PATTERNS = ("", "/", "\\", "x", ".", "+", "-", "|")
ZONE_FILL = "rgba(90, 110, 140, 0.20)"
BAND_FILL = "rgba(213, 94, 0, 0.18)"
FONT = {"family": "Helvetica, Arial, sans-serif", "size": 13}
# Names for the shipped presets; any other law is labelled with its own name.
LAW_TITLES = {
    "chinchilla": "Chinchilla Approach 3",
    "chinchilla-printed": "Chinchilla Approach 3, printed constants",
    "chinchilla-a1": "Chinchilla Approach 1",
    "chinchilla-a2": "Chinchilla Approach 2",
    "epoch": "Epoch AI replication",
    "kaplan": "Kaplan",
    "muennighoff": "Muennighoff (data-constrained)",
    "llama3": "Llama 3 IsoFLOP",
    "llama3-text": "Llama 3 IsoFLOP, text values",
    "deepseek": "DeepSeek LLM",
}


# ============================================================================================ helpers
def _pf_days(flops: float) -> str:
    days = flops / units.PF_DAY_FLOPS
    return (
        f"{days:.3g} PF-days" if days < 1e5 else f"{days:.3e} PF-days".replace("e+0", "e").replace("e+", "e")
    )


def _compute_text(flops: float) -> str:
    return f"{units.format_flops(flops)} ({_pf_days(flops)})"


def _short_source(source: str) -> str:
    """'Besiroglu, Erdil, Barnett & You 2024, ...' -> 'Besiroglu et al. 2024'; 'Kaplan et al. 2020 (...)' kept."""
    match = re.match(r"^\s*([A-Z][\w'\-]*(?: Team| AI|-AI)?)(.*?)\b((?:19|20)\d\d)\b", source or "")
    if match and len(match.group(2)) < 40 and "(" not in match.group(2):
        rest = match.group(2).strip(" ,")
        first = match.group(1)
        return f"{first} {match.group(3)}" if not rest else f"{first} et al. {match.group(3)}"
    text = (source or "").strip()
    return text if len(text) <= 60 else text[:57].rstrip() + "..."


def law_label(law: Law) -> str:
    """The legend entry: what the law is, who published it, and its exponent, e.g.
    'Chinchilla Approach 3 (Hoffmann et al. 2022), N ∝ C^0.457'."""
    n_runs = getattr(law, "n_runs", 0)
    if n_runs:
        who = f"your fit to {n_runs} runs"
    else:
        who = _short_source(law.source)
    title = LAW_TITLES.get(law.name, law.name)
    return f"{title} ({who}), N ∝ C^{law.a:.3g}" if who else f"{title}, N ∝ C^{law.a:.3g}"


def _law_title(law: Law) -> str:
    n_runs = getattr(law, "n_runs", 0)
    if n_runs:
        return f"your Approach 3 fit ({n_runs} runs)"
    return LAW_TITLES.get(law.name, law.name)


def _log_axis(title: str, *, power: bool = False, **extra: Any) -> dict[str, Any]:
    """A log axis with one labelled tick per decade: 10^23-style for FLOPs, 1B/1T-style for counts."""
    axis = {
        "type": "log",
        "title": {"text": title},
        "dtick": 1,
        "showgrid": True,
        "gridcolor": "#dddddd",
        "minor": {"showgrid": True, "gridcolor": "#f2f2f2", "ticks": ""},
        "zeroline": False,
        "showline": True,
        "linecolor": "#444444",
        "mirror": False,
        "ticks": "outside",
    }
    axis["exponentformat"] = "power" if power else "B"
    axis.update(extra)
    return axis


def _ticks_125(values: np.ndarray, label: Callable[[float], str] | None = None) -> dict[str, Any]:
    """Explicit log-axis ticks with labels, at least three inside the span of ``values``: whole decades when
    the span is two decades or more, 1-2-5 (or 1-2-3-5, 1-1.5-2-3-5-7) steps when it is narrow, as a small sweep's is.
    Labels are counts (20K, 500M) unless ``label`` formats them."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return {}
    low, high = float(values.min()), float(values.max())
    lo, hi = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for steps in ((1,), (1, 2, 5), (1, 2, 3, 5), (1, 1.5, 2, 3, 5, 7)):
        ticks = [m * 10.0**e for e in range(lo - 1, hi + 1) for m in steps]
        inside = [t for t in ticks if low <= t <= high]
        if len(inside) >= 3:
            break
    return {
        "tickvals": ticks,
        "ticktext": [(label or units.format_count)(t) for t in ticks],
        "dtick": None,
        "tickmode": "array",
        "minor": {"showgrid": False},
    }


def _sci(value: float) -> str:
    """2e11, 1.5e21: a FLOP count as a short tick label."""
    exponent = math.floor(math.log10(value) + 1e-9)
    return f"{value / 10.0**exponent:.2g}e{exponent}"


def _linear_axis(title: str, **extra: Any) -> dict[str, Any]:
    axis = {
        "title": {"text": title},
        "showgrid": True,
        "gridcolor": "#dddddd",
        "zeroline": False,
        "showline": True,
        "linecolor": "#444444",
        "ticks": "outside",
    }
    axis.update(extra)
    return axis


# A small explicit template: white paper, our colours. (Naming a built-in template such as "plotly_white" costs
# a JSON load and a deep copy per figure, a third of a second on first use.)
TEMPLATE = {
    "layout": {"paper_bgcolor": "white", "plot_bgcolor": "white", "colorway": list(COLOURS), "font": FONT}
}


def _base_layout(title: str, **extra: Any) -> dict[str, Any]:
    layout = {
        "template": TEMPLATE,
        "title": {
            "text": title,
            "x": 0.01,
            "xanchor": "left",
            "y": 0.98,
            "yanchor": "top",
            "yref": "container",
        },
        "font": FONT,
        "hovermode": "closest",
        "hoverlabel": {"align": "left"},
        "margin": {"l": 80, "r": 30, "t": 90, "b": 70},
        "legend": {
            "bgcolor": "rgba(255,255,255,0.85)",
            "bordercolor": "#cccccc",
            "borderwidth": 1,
            "font": {"size": 11},
        },
    }
    layout.update(extra)
    return layout


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _flops_grid(flops_range: Sequence[float], points_per_decade: int = 20) -> np.ndarray:
    lo, hi = (units.parse_flops(v, "FLOPs range") for v in flops_range)
    if not hi > lo:
        raise ScalingError(f"invalid FLOPs range {flops_range!r}: the upper end must exceed the lower end")
    decades = math.log10(hi) - math.log10(lo)
    return np.logspace(math.log10(lo), math.log10(hi), max(int(round(decades * points_per_decade)) + 1, 2))


def _runs_frame(runs: Any):
    """A runs table as the fitter reads it (aliases resolved, failed/diverged runs dropped)."""
    from scaling import fit

    return fit.read_runs(runs)


def _loss_unit(frame: Any, law: Law | None = None) -> str:
    """The loss's unit: the runs table's ``loss_unit`` column (``nats/byte`` for byte-level runs), else the
    law's own, else nats/token. A law in another unit than its runs is drawn with a warning."""
    runs_unit = None
    if "loss_unit" in getattr(frame, "columns", ()):
        seen = {str(u) for u in frame["loss_unit"].dropna().unique() if str(u).strip()}
        if len(seen) > 1:
            raise ScalingError(f"the runs table mixes loss units {sorted(seen)}: one chart needs one unit")
        runs_unit = seen.pop() if seen else None
    law_unit = getattr(law, "loss_unit", None)
    if runs_unit and law_unit and runs_unit != law_unit:
        from scaling.fit import ScalingWarning

        warnings.warn(
            f"law {law.name!r} predicts loss in {law_unit} but the runs are in {runs_unit}: "
            "the chart compares numbers in different units",
            ScalingWarning,
            stacklevel=3,
        )
    return runs_unit or law_unit or "nats/token"


def _scatter(**properties: Any) -> dict[str, Any]:
    """A scatter trace as a plain dict: plotly validates it once, when the figure is built (a `go.Scatter`
    would be validated twice), which keeps the optimal zone fast enough for a live page."""
    return {"type": "scatter", **properties}


def _band(
    x: Any,
    lower: Any,
    upper: Any,
    *,
    line: dict[str, Any],
    fill: str,
    group: str,
    lower_name: str,
    **upper_properties: Any,
) -> list[dict[str, Any]]:
    """A shaded band: its lower edge (no legend entry, no hover), then its upper edge filled down to it, which
    carries the band's name, hover text and meta (``upper_properties``)."""
    return [
        _scatter(
            x=x,
            y=lower,
            mode="lines",
            line=line,
            hoverinfo="skip",
            showlegend=False,
            legendgroup=group,
            name=lower_name,
        ),
        _scatter(
            x=x,
            y=upper,
            mode="lines",
            line=line,
            fill="tonexty",
            fillcolor=fill,
            legendgroup=group,
            **upper_properties,
        ),
    ]


def _as_law(law: Law | str) -> Law:
    return law if isinstance(law, Law) else get_law(law)


def _budget_label(flops: float) -> str:
    return f"C = {units.format_flops(flops)}"


# ============================================================================ known models and plans
def read_known_models(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The well-known models of ``data/known_models.csv`` (or your own file with the same columns)."""
    return catalog.known_models(path)


def _model_hover(m: Mapping[str, Any]) -> str:
    lines = [
        f"<b>{m.get('name', '')}</b>",
        f"parameters: {units.format_count(m['params'])}",
        f"tokens: {units.format_count(m['tokens'])}",
        f"compute: {_compute_text(m['flops'])}" + (f", {m['flops_method']}" if m.get("flops_method") else ""),
        f"tokens per parameter: {m['tokens'] / m['params']:.3g}",
    ]
    extra = ", ".join(str(m[k]) for k in ("organisation", "year") if m.get(k))
    if extra:
        lines.append(extra)
    if m.get("source"):
        lines.append(f"source: {_wrap(str(m['source']))}")
    return "<br>".join(lines)


def _wrap(text: str, width: int = 70) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>  ".join(lines)


def _plan_point(plan: Any) -> dict[str, float]:
    """params/tokens/flops from a dict or object (an `Allocation`, a plan); any two give the third (C = 6ND)."""
    values = {}
    for key in ("params", "tokens", "flops"):
        value = _get(plan, key)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            values[key] = float(np.asarray(value, dtype=float).reshape(-1)[0])
    N, D, C = values.get("params"), values.get("tokens"), values.get("flops")
    if N and D and not C:
        C = six_nd(N, D)
    elif N and C and not D:
        D = C / six_nd(N, 1.0)
    elif D and C and not N:
        N = C / six_nd(D, 1.0)
    if not (N and D and C):
        raise ScalingError(
            f"a plan needs two of params, tokens and flops (C = 6ND gives the third); got {values}"
        )
    return {"params": N, "tokens": D, "flops": C, "name": _get(plan, "name") or "your plan"}


# =============================================================================================== zone
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
    only its band. ``size``: the figure's (width, height) in pixels; labels are
    placed for it so that none overlaps a marker or another label.
    """
    if axis not in ("params", "tokens"):
        raise ScalingError(f"invalid axis {axis!r}: expected 'params' or 'tokens'")
    law_list = [_as_law(law) for law in laws]
    zone_names = {_as_law(name).name for name in zone}
    fitted_law = _as_law(fitted) if fitted is not None else None
    if not law_list and fitted_law is None:
        raise ScalingError("the optimal zone needs at least one law (e.g. chinchilla, epoch, kaplan)")
    # 5 points a decade: the laws are power laws (straight here) or close to one, and each point carries hover
    # text that plotly validates, so fewer points keep a live update fast
    C = _flops_grid(flops_range, points_per_decade=5)
    key = "params" if axis == "params" else "tokens"
    curves = [np.asarray(law.n_opt(C) if axis == "params" else law.d_opt(C), dtype=float) for law in law_list]
    in_zone = [i for i, law in enumerate(law_list) if law.name in zone_names]
    traces = _zone_band(C, [law_list[i] for i in in_zone], [curves[i] for i in in_zone], axis)
    traces += _law_lines(C, law_list, curves, axis)
    if fitted_law is not None:  # a law among ``laws`` already has its line: only its band is added
        traces += _fitted_traces(
            fitted_law, C, axis, line=fitted_law.name not in {law.name for law in law_list}
        )
    point = _plan_point(plan) if plan is not None else None
    models = known_models_list(known_models) if known_models not in (False, None) else []
    y_values = np.concatenate(
        [np.ravel(t["y"]) for t in traces] + [[m[key] for m in models]] + [[point[key]] if point else []]
    )
    y_values = y_values[np.isfinite(y_values) & (y_values > 0)]
    lo, hi = math.log10(C[0]), math.log10(C[-1])
    pad = 0.04 * (math.log10(y_values.max()) - math.log10(y_values.min()))
    y_range = (math.log10(y_values.min()) - pad, math.log10(y_values.max()) + pad)
    margin = {"l": 80, "r": 30, "t": 130, "b": 70}
    area = _PlotArea(
        (lo, hi), y_range, (size[0] - margin["l"] - margin["r"], size[1] - margin["t"] - margin["b"])
    )
    legend = [t["name"] for t in traces if t.get("showlegend") is not False]
    points, labels = _point_traces(models, point, key, area, known_models is True, legend)
    traces += points
    annotations = labels + [
        _law_end_label(law, i, hi, float(y[-1]))
        for i, (law, y) in enumerate(zip(law_list, curves))
        if law.name not in zone_names
    ]
    layout = _zone_layout(axis, (lo, hi), y_range, margin, size, annotations)
    traces.append(_pf_days_axis_trace(C, y_range))
    return go.Figure(data=traces, layout=layout)


def _law_end_label(law: Law, i: int, x: float, y: float) -> dict[str, Any]:
    """A line's name at its right end (log10 x, value y), in its colour: laws outside the zone's band."""
    return {
        "x": x,
        "y": math.log10(y),
        "xref": "x",
        "yref": "y",
        "text": _law_title(law),
        "showarrow": False,
        "xanchor": "right",
        "yanchor": "bottom",
        "bgcolor": "rgba(255,255,255,0.8)",
        "font": {"size": 12, "color": COLOURS[i % len(COLOURS)]},
        "name": f"law-label-{law.name}",
    }


def _zone_layout(
    axis: str,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    margin: dict[str, int],
    size: tuple[int, int],
    annotations: list[dict[str, Any]],
) -> dict[str, Any]:
    """The zone's axes (log10 ranges): compute in FLOPs below and in PF-days on top, N or D up the side."""
    lo, hi = x_range
    y_title = "Parameters N (count)" if axis == "params" else "Training tokens D (count)"
    return _base_layout(
        "Compute-optimal "
        + ("model size" if axis == "params" else "training tokens")
        + " against training compute: the optimal zone",
        xaxis=_log_axis("Training compute C (FLOPs, C = 6ND)", power=True, range=[lo, hi]),
        # PF-days on top: the same positions, relabelled (1 PF-day = 8.64e19 FLOPs)
        xaxis2=_log_axis(
            "Training compute (PF-days)",
            power=True,
            overlaying="x",
            side="top",
            range=[lo - math.log10(units.PF_DAY_FLOPS), hi - math.log10(units.PF_DAY_FLOPS)],
            showgrid=False,
            minor={"showgrid": False},
        ),
        yaxis=_log_axis(y_title, range=list(y_range)),
        legend={**_base_layout("")["legend"], "x": 0.01, "y": 0.99, "xanchor": "left", "yanchor": "top"},
        margin=margin,
        width=size[0],
        height=size[1],
        autosize=False,
        annotations=annotations,
    )


def _pf_days_axis_trace(C: np.ndarray, y_range: tuple[float, float]) -> dict[str, Any]:
    """Plotly draws an axis only with a trace on it: an invisible one spanning the top (PF-days) axis."""
    y_mid = 10 ** ((y_range[0] + y_range[1]) / 2)
    pf = C / units.PF_DAY_FLOPS
    return _scatter(
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
        f"<b>optimal zone</b><br>C = {_compute_text(c)}<br>{noun}: {units.format_count(a)} to "
        f"{units.format_count(b)}<br>between {names}"
        for c, a, b in zip(C, lower, upper)
    ]
    return _band(
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
    """One line per law, each with its own colour and dash, and hover text with N, D and tokens per parameter."""
    what = "N_opt" if axis == "params" else "D_opt"
    pf = C / units.PF_DAY_FLOPS
    traces = []
    for i, (law, y) in enumerate(zip(laws, curves)):
        other = C / six_nd(y, 1.0)  # tokens for an N curve, parameters for a D curve (C = 6ND)
        ratio = other / y if axis == "params" else y / other
        hover = [
            f"<b>{LAW_TITLES.get(law.name, law.name)}</b><br>C = {_compute_text(c)}<br>"
            f"{what} = {units.format_count(v)}<br>{'tokens' if axis == 'params' else 'parameters'} = "
            f"{units.format_count(o)}<br>tokens per parameter = {r:.3g}"
            for c, v, o, r in zip(C, y, other, ratio)
        ]
        traces.append(
            _scatter(
                x=C,
                y=y,
                mode="lines",
                name=law_label(law),
                line={"color": COLOURS[i % len(COLOURS)], "dash": DASHES[i % len(DASHES)], "width": 2.5},
                hovertext=hover,
                hoverinfo="text",
                customdata=pf,
                meta={"law": law.name},
            )
        )
    return traces


def _point_traces(
    models: list[dict[str, Any]],
    point: dict[str, Any] | None,
    key: str,
    area: _PlotArea,
    from_catalog: bool,
    legend: list[str],
) -> tuple[list[dict], list[dict]]:
    """The well-known models (diamonds) and the plan (a star), and their labels as annotations placed where
    they overlap no marker, no other label and not the legend (whose entries are ``legend``)."""
    traces = []
    if models:
        traces.append(
            _scatter(
                x=[m["flops"] for m in models],
                y=[m[key] for m in models],
                mode="markers",
                name="Trained models (data/known_models.csv)" if from_catalog else "Trained models",
                marker={
                    "symbol": "diamond",
                    "size": MODEL_MARKER.size,
                    "color": "#555555",
                    "line": {"width": 1, "color": "#000000"},
                },
                hovertext=[_model_hover(m) for m in models],
                hoverinfo="text",
                meta={"kind": "known-models"},
            )
        )
    if point:
        traces.append(
            _scatter(
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
                hovertext=[_model_hover(point)],
                hoverinfo="text",
                meta={"kind": "plan"},
            )
        )
    names = legend + [t["name"] for t in traces]
    # the legend sits in the top-left corner: one 29 px row per entry, about 6 px per character
    legend_box = (0.0, area.pixels[1] - 29 * len(names) - 16, 6.2 * max(map(len, names)) + 60, area.pixels[1])
    items = ([(point["flops"], point[key], point["name"], PLAN_MARKER)] if point else []) + [
        (m["flops"], m[key], _short_model_name(m["name"]), MODEL_MARKER) for m in models
    ]
    labels = _label_layout(items, area, keep_out=[legend_box])
    kinds = (["plan-label"] if point else []) + ["model-label"] * len(models)
    annotations = [{**a, "name": kind} for a, kind in zip(labels, kinds) if a is not None]
    return traces, annotations


def known_models_list(source: bool | str | Path | list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if source is True:
        return read_known_models()
    if isinstance(source, (str, Path)):
        return read_known_models(source)
    return [
        _plan_point(m) | {k: v for k, v in dict(m).items() if k not in ("params", "tokens", "flops")}
        for m in source
    ]


def _short_model_name(name: str) -> str:
    return name.replace("DeepSeek LLM", "DeepSeek").replace("BloombergGPT 50.6B", "BloombergGPT")


@dataclass(frozen=True)
class _PlotArea:
    """Log-log data ranges and the plot area's size in pixels: where a point lands on the screen."""

    x_range: tuple[float, float]  # log10
    y_range: tuple[float, float]  # log10
    pixels: tuple[float, float]

    def position(self, x: float, y: float) -> tuple[float, float]:
        (x0, x1), (y0, y1), (w, h) = self.x_range, self.y_range, self.pixels
        return (math.log10(x) - x0) / (x1 - x0) * w, (math.log10(y) - y0) / (y1 - y0) * h


@dataclass(frozen=True)
class _MarkerStyle:
    size: float  # plotly marker size, px
    font: float  # label font size, px

    @property
    def reach(self) -> float:
        """Half the drawn extent of the marker, outline included (plotly draws a size-9 diamond 11.7 px wide)."""
        return 0.7 * self.size


MODEL_MARKER = _MarkerStyle(size=9, font=10)
PLAN_MARKER = _MarkerStyle(size=20, font=12)
# a label's box: glyphs average at most this share of the font size in width; the line is this share high
_CHAR_WIDTH, _LINE_HEIGHT, _LABEL_GAP = 0.6, 1.25, 2.0
_BESIDE = {  # (anchor, direction) of a label next to its marker
    "right": ("left", "middle", 1, 0),
    "left": ("right", "middle", -1, 0),
    "above": ("center", "bottom", 0, 1),
    "below": ("center", "top", 0, -1),
}


def _label_layout(
    items: list[tuple[float, float, str, _MarkerStyle]],
    area: _PlotArea,
    keep_out: Sequence[tuple[float, float, float, float]] = (),
) -> list[dict[str, Any] | None]:
    """Greedy label placement in list order, in the pixels of ``area`` (y up): each label goes right of, left
    of, above or below its marker, else at the end of a short leader line, wherever its box overlaps no
    marker, no label placed so far and nothing in ``keep_out`` (e.g. the legend). Returns one plotly annotation
    per item, or None for an item with no free spot (it keeps its marker and hover text)."""
    points = [area.position(x, y) for x, y, _, _ in items]
    markers = [
        (px - s.reach, py - s.reach, px + s.reach, py + s.reach) for (px, py), (*_, s) in zip(points, items)
    ]
    taken: list[tuple[float, float, float, float]] = list(keep_out)
    out: list[dict[str, Any] | None] = []
    for i, ((x, y), (data_x, data_y, text, style)) in enumerate(zip(points, items)):
        # a leader line may cross markers that touch this one (GPT-3 and Jurassic-1 sit on the same spot)
        others = [m for m in markers if not _overlap(m, markers[i])]
        w, h = _CHAR_WIDTH * style.font * len(text) + 2, _LINE_HEIGHT * style.font
        base = {
            "x": math.log10(data_x),
            "y": math.log10(data_y),
            "xref": "x",
            "yref": "y",
            "text": text,
            "font": {"size": style.font, "color": "#222222"},
            "borderpad": 0,
        }
        choice = None
        for xanchor, yanchor, dx, dy in _BESIDE.values():
            d = style.reach + _LABEL_GAP
            cx, cy = x + dx * (d + w / 2), y + dy * (d + h / 2)
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            if _free(box, area, taken + markers):
                choice = (
                    box,
                    {
                        **base,
                        "showarrow": False,
                        "xanchor": xanchor,
                        "yanchor": yanchor,
                        "xshift": dx * d,
                        "yshift": dy * d,
                    },
                )
                break
        for radius in () if choice else (30, 45, 65, 90):
            for angle in range(0, 360, 30):
                ax, ay = radius * math.cos(math.radians(angle)), radius * math.sin(math.radians(angle))
                cx, cy = x + ax + math.copysign(w / 2, ax) * (abs(ax) > 1), y + ay
                box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                if _free(box, area, taken + markers) and not _line_hits((x, y), (x + ax, y + ay), others):
                    choice = (
                        box,
                        {
                            **base,
                            "showarrow": True,
                            "ax": cx - x,
                            "ay": -(cy - y),
                            "arrowhead": 0,
                            "arrowwidth": 1,
                            "arrowcolor": "#777777",
                            "standoff": style.reach,
                        },
                    )
                    break
            if choice:
                break
        if choice:
            taken.append(choice[0])
        out.append(choice[1] if choice else None)
    return out


def _free(
    box: tuple[float, float, float, float],
    area: _PlotArea,
    others: Sequence[tuple[float, float, float, float]],
) -> bool:
    """Inside the plot area and clear of every box in ``others``."""
    inside = box[0] >= 0 and box[1] >= 0 and box[2] <= area.pixels[0] and box[3] <= area.pixels[1]
    return inside and not any(_overlap(box, other) for other in others)


def _line_hits(
    start: tuple[float, float], end: tuple[float, float], boxes: Sequence[tuple[float, float, float, float]]
) -> bool:
    """Whether the segment from ``start`` to ``end`` crosses any box (sampled every 2 px)."""
    steps = max(int(math.dist(start, end) / 2), 1)
    for i in range(steps + 1):
        t = i / steps
        px, py = start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])
        if any(b[0] <= px <= b[2] and b[1] <= py <= b[3] for b in boxes):
            return True
    return False


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


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
        traces += _band(
            C,
            lo,
            hi,
            line={"width": 0.5, "color": "#D55E00", "dash": "dot"},
            fill=BAND_FILL,
            group="fitted",
            lower_name=f"{name} lower",
            name=f"{level} interval of " + ("your fit" if getattr(law, "n_runs", 0) else _law_title(law)),
            hovertext=[
                f"<b>{level} interval</b><br>C = {_compute_text(c)}<br>{units.format_count(a)} to "
                f"{units.format_count(b)}"
                for c, a, b in zip(C, lo, hi)
            ],
            hoverinfo="text",
            meta={"kind": "fitted-band", "level": allocation.interval_level},
        )
    if not line:
        return traces
    traces.append(
        _scatter(
            x=C,
            y=y,
            mode="lines",
            name=name,
            legendgroup="fitted",
            line={"color": "#D55E00", "width": 3.5, "dash": "solid"},
            hovertext=[
                f"<b>{law.name}</b><br>C = {_compute_text(c)}<br>"
                f"{'N_opt' if axis == 'params' else 'D_opt'} = {units.format_count(v)}"
                for c, v in zip(C, y)
            ],
            hoverinfo="text",
            meta={"law": law.name, "kind": "fitted"},
        )
    )
    return traces


def _two_panels(
    left: tuple[dict, dict],
    right: tuple[dict, dict],
    titles: tuple[str, str],
    split: float = 0.55,
    gap: float = 0.1,
) -> dict[str, Any]:
    """Layout entries for two side-by-side plots (x/y on the left, x2/y2 on the right) with their titles.
    Built directly rather than with make_subplots, which costs several hundred milliseconds per figure."""
    (lx, ly), (rx, ry) = left, right
    return {
        "xaxis": {**lx, "domain": [0.0, split], "anchor": "y"},
        "yaxis": {**ly, "anchor": "x"},
        "xaxis2": {**rx, "domain": [split + gap, 1.0], "anchor": "y2"},
        "yaxis2": {**ry, "anchor": "x2"},
        "annotations": [
            {
                "text": titles[0],
                "x": split / 2,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "xanchor": "center",
                "yanchor": "bottom",
                "font": {"size": 14},
            },
            {
                "text": titles[1],
                "x": (split + gap + 1.0) / 2,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "xanchor": "center",
                "yanchor": "bottom",
                "font": {"size": 14},
            },
        ],
    }


# ============================================================================================ isoflop
def isoflop_figure(runs: Any, fit: Any = None) -> go.Figure:
    """IsoFLOP profiles (Chinchilla Approach 2): loss against parameters per budget with the fitted parabolas
    and their minima (left), and the minima against compute with the N_opt ∝ C^a power law (right).

    ``fit``: an `IsoFlopFit` from ``scaling.fit.fit_isoflop(runs)``; fitted here when not given.
    """
    from scaling import fit as fitting

    frame = _runs_frame(runs)
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
    layout = _base_layout(
        f"IsoFLOP profiles (Chinchilla Approach 2): N_opt ∝ C^{result.a:.3f}, D_opt ∝ C^{result.b:.3f}",
        legend={"font": {"size": 11}},
        # explicit ticks on every log axis: a small sweep spans less than a decade, where plotly labels none
        **_two_panels(
            (
                _log_axis("Parameters N (count)", **_ticks_125(sizes)),
                _linear_axis(f"Final loss ({_loss_unit(frame)})"),
            ),
            (
                _log_axis("Training compute C (FLOPs)", **_ticks_125(C, _sci)),
                _log_axis(
                    "Compute-optimal parameters N_opt (count)",
                    **_ticks_125(np.asarray(result.n_opt(C), dtype=float)),
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
        label = f"{_budget_label(b.flops)} ({_pf_days(b.flops)})"
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
                    f"<b>run</b><br>{_budget_label(c)}<br>N = {units.format_count(n)}<br>"
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
                f"<b>minimum</b><br>{_budget_label(b.flops)}<br>N_opt = {units.format_count(b.params)}<br>"
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
            hovertext=[f"{_budget_label(b.flops)}<br>N_opt = {units.format_count(b.params)}" for b in used],
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
            f"C = {_compute_text(c)}<br>N_opt = {units.format_count(n)}" for c, n in zip(C, result.n_opt(C))
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


# =========================================================================================== frontier
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
    frame = _runs_frame(runs)
    law = _as_law(law)
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
    layout = _base_layout(
        f"Loss frontier L*(C) of {_law_title(law)}",
        xaxis=_log_axis("Training compute C (FLOPs)", **_ticks_125(C, _sci)),
        yaxis=_linear_axis(f"Final loss ({_loss_unit(frame, law)})"),
        legend={**_base_layout("")["legend"], "x": 0.99, "y": 0.99, "xanchor": "right", "yanchor": "top"},
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
            hovertext=_run_hover(fit_rows),
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
                    for h, p, v in zip(_run_hover(held_rows), predicted, held_rows["loss"])
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
    return _band(
        C,
        lo,
        hi,
        line={"width": 0.5, "color": "#0072B2", "dash": "dot"},
        fill="rgba(0, 114, 178, 0.15)",
        group="band",
        lower_name="band lower",
        name=f"{level} interval of L*(C)",
        hovertext=[f"C = {_compute_text(c)}<br>L* from {a:.4f} to {b:.4f}" for c, a, b in zip(C, lo, hi)],
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
                    f"<b>L*(C)</b><br>C = {_compute_text(c)}<br>loss = {v:.4f}<br>"
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
            f"<b>target</b><br>C = {_compute_text(target)}<br>{text}<br>"
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


def _run_hover(rows) -> list[str]:
    return [
        f"<b>run</b><br>C = {_compute_text(c)}<br>N = {units.format_count(n)}<br>D = {units.format_count(d)}"
        f"<br>tokens per parameter = {d / n:.3g}<br>loss = {v:.4f}"
        for c, n, d, v in zip(rows["C"], rows["N"], rows["D"], rows["loss"])
    ]


# ============================================================================================ memory
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
    share (attention kernel, sequence length, micro-batch, precision, devices), from each breakdown's inputs."""
    items = (
        list(breakdowns.items())
        if isinstance(breakdowns, Mapping)
        else [(_breakdown_label(b, i), b) for i, b in enumerate(breakdowns)]
    )
    if not items:
        raise ScalingError("memory_figure needs at least one memory breakdown")
    labels = [str(label) for label, _ in items]
    rows = {key: [float(_get(b, key, 0.0) or 0.0) for _, b in items] for key, _ in MEMORY_COMPONENTS}
    totals = [
        float(_get(b, "total_bytes", sum(rows[k][i] for k, _ in MEMORY_COMPONENTS)))
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
        else [_get(b, "capacity_bytes") for _, b in items]
    )
    capacities = [float(c) if c else None for c in capacities]
    traces = _memory_bars(labels, rows, components, totals)
    traces.append(_memory_totals_trace(labels, totals, capacities))
    shapes, annotations = _capacity_marks(traces, labels, capacities)
    top = max(totals + [c for c in capacities if c]) / units.GIB
    heading = title or _memory_title(labels, [b for _, b in items])
    assumptions = _memory_assumptions([b for _, b in items])
    layout = _base_layout(
        heading
        + "".join(f"<br><span style='font-size:12px'>{line}</span>" for line in _wrap_list(assumptions, 75)),
        barmode="stack",
        xaxis=_linear_axis("", type="category", showgrid=False),  # each bar's label says what it is
        yaxis=_linear_axis("Memory per device (GiB)", range=[0, top * 1.15]),
        # the legend below the plot, top of the stack first, so the right margin holds the capacity label
        legend={
            **_base_layout("")["legend"],
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
                    f"<b>{lab}</b><br>{title}: {units.format_bytes(v)} ({units.format_bytes(v, binary=False)})"
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
            "text": f"capacity<br>{units.format_bytes(known[0])}<br>({units.format_bytes(known[0], binary=False)})",
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
    model = {_get(b, "model") for b in breakdowns} - {None}
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
    inputs = [_get(b, "inputs") or {} for b in breakdowns]

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
        value = _get(b, key)
        if value:
            return str(value)
    zero = _get(b, "zero")
    if zero is not None:
        return f"ZeRO-{zero}"
    inputs = _get(b, "inputs") or {}
    if "zero" in inputs:  # a scaling.memory.MemoryBreakdown
        return f"ZeRO-{inputs['zero']}, TP {inputs.get('tp', 1)}, PP {inputs.get('pp', 1)}"
    return f"#{i + 1}"


# ======================================================================================= diagnostics
def diagnostics_figure(runs: Any, law: Law | str) -> go.Figure:
    """Fit diagnostics: predicted against observed loss with the y = x line (left) and the relative residual
    (observed - predicted) / predicted against compute (right)."""
    frame = _runs_frame(runs)
    law = _as_law(law)
    if not law.has_loss:
        raise ScalingError(f"law {law.name!r} has no loss model to compare with the runs")
    observed = frame["loss"].to_numpy(float)
    predicted = np.asarray(law.predict(frame["N"].to_numpy(float), frame["D"].to_numpy(float)), dtype=float)
    residual = (observed - predicted) / predicted
    unit = _loss_unit(frame, law)
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
    layout = _base_layout(
        f"Fit diagnostics for {_law_title(law)}: RMS log-residual {rmse:.4f} over {len(frame)} runs",
        legend={**_base_layout("")["legend"], "x": 0.01, "y": 0.99, "xanchor": "left", "yanchor": "top"},
        shapes=[zero_line],
        **_two_panels(
            (_linear_axis(f"Observed loss ({unit})"), _linear_axis(f"Predicted loss ({unit})")),
            (
                _log_axis("Training compute C (FLOPs)", **_ticks_125(frame["C"].to_numpy(float), _sci)),
                _linear_axis("Residual (observed − predicted) / predicted (%)"),
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
        for h, p, r in zip(_run_hover(frame), predicted, residual)
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


# ============================================================================================== save
def save(
    fig: go.Figure,
    path: str | Path,
    *,
    plotlyjs: str = "inline",
    div_id: str | None = None,
    width: int | None = None,
    height: int | None = None,
    scale: float | None = None,
) -> Path:
    """Write a figure; the suffix picks the format.

    ``.html``: interactive. ``plotlyjs="inline"`` (default) inlines plotly.js (~4.8 MB, works with no
    network); ``"directory"`` writes ``plotly.min.js`` beside the HTML and references it (several charts,
    one script; keep them together). ``div_id`` fixes the plot's id so the HTML is reproducible.
    ``.png``/``.svg``/``.pdf``/``.jpg``/``.webp``: a static image through kaleido (the ``export`` extra) and
    a system Chromium.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if plotlyjs not in ("inline", "directory"):
        raise ScalingError(
            f"invalid plotlyjs {plotlyjs!r}: expected 'inline' (one self-contained file) or "
            "'directory' (plotly.min.js written beside the HTML)"
        )
    if suffix in HTML_SUFFIXES:
        import plotly.io as pio

        path.parent.mkdir(parents=True, exist_ok=True)
        html = pio.to_html(
            fig,
            include_plotlyjs=True if plotlyjs == "inline" else "directory",
            full_html=True,
            div_id=div_id,
            config=HTML_CONFIG,
            default_width="100%",
            default_height="100%",
        )
        # let the plot fill the window: the div's 100% height needs a sized body to resolve against
        html = html.replace(
            "<head>",
            "<head><title>"
            + _html_title(fig)
            + "</title><style>html, body {height: 100%; margin: 0;}</style>",
            1,
        )
        path.write_text(html, encoding="utf-8")
        if plotlyjs == "directory":
            _write_plotlyjs(path.parent)
        return path
    if suffix not in IMAGE_SUFFIXES:
        raise ScalingError(
            f"cannot write {str(path)!r}: the file name must end in one of "
            + ", ".join(HTML_SUFFIXES + IMAGE_SUFFIXES)
        )
    import importlib.util

    if importlib.util.find_spec("kaleido") is None:
        raise ScalingError(f"cannot write {str(path)!r}: kaleido is not installed; {EXPORT_HINT}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.write_image(path, width=width or 1200, height=height or 700, scale=scale or 1)
    except Exception as exc:  # kaleido/choreographer raise several types when no browser can start
        text = f"{type(exc).__name__}:\n{exc}"
        if re.search(r"chrom|browser|kaleido", text, re.IGNORECASE):
            raise ScalingError(
                f"cannot write {str(path)!r}: no usable Chromium was found ({_first_line(text)}); "
                f"{EXPORT_HINT}"
            ) from None
        raise
    return path


def _html_title(fig: go.Figure) -> str:
    import html

    text = fig.layout.title.text or "scaling chart"
    return html.escape(re.sub(r"<[^>]+>", "", text))


def _write_plotlyjs(folder: Path) -> None:
    """plotly.min.js beside the HTML files (what include_plotlyjs="directory" references)."""
    target = folder / "plotly.min.js"
    if not target.exists():
        from plotly.offline import get_plotlyjs

        target.write_text(get_plotlyjs(), encoding="utf-8")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().endswith(":")]
    line = lines[0] if lines else text.strip()
    return line if len(line) <= 160 else line[:157] + "..."
