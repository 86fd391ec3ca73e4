"""Trace builders shared by the figures: a scatter as a plain dict, and a shaded band between two edges (the
optimal zone, a fitted law's interval, the frontier's loss interval)."""

from __future__ import annotations

from typing import Any


def scatter_trace(**properties: Any) -> dict[str, Any]:
    """A scatter trace as a plain dict: plotly validates it once, when the figure is built (a `go.Scatter`
    would be validated twice), which keeps the optimal zone fast enough for a live page."""
    return {"type": "scatter", **properties}


def band_trace(
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
        scatter_trace(
            x=x,
            y=lower,
            mode="lines",
            line=line,
            hoverinfo="skip",
            showlegend=False,
            legendgroup=group,
            name=lower_name,
        ),
        scatter_trace(
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
