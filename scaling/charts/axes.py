"""Axes and page layout: log axes labelled by decade (or in 1-2-5 steps over a narrow span), linear axes, the
base layout every figure starts from, and two side-by-side panels."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from scaling import units
from scaling.charts.style import FONT, TEMPLATE


def log_axis(title: str, *, power: bool = False, **extra: Any) -> dict[str, Any]:
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


def ticks_125(values: np.ndarray, label: Callable[[float], str] | None = None) -> dict[str, Any]:
    """Explicit log-axis ticks with labels, at least three inside the span of ``values``: whole decades when
    the span is two decades or more, 1-2-5 (or 1-2-3-5, 1-1.5-2-3-5-7) steps when it is narrow, as a small
    sweep's is. Labels are counts (20K, 500M) unless ``label`` formats them."""
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


def sci(value: float) -> str:
    """2e11, 1.5e21: a FLOP count as a short tick label."""
    exponent = math.floor(math.log10(value) + 1e-9)
    return f"{value / 10.0**exponent:.2g}e{exponent}"


def linear_axis(title: str, **extra: Any) -> dict[str, Any]:
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


def base_layout(title: str, **extra: Any) -> dict[str, Any]:
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


def two_panels(
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
