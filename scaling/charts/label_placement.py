"""Labels beside markers on a log-log plot, overlapping nothing: the plot area's pixel model, the markers'
sizes, and the greedy placement rule (beside the marker, else at the end of a short leader line)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PlotArea:
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
        """Half the drawn extent of the marker, outline included (plotly draws a size-9 diamond 11.7 px
        wide)."""
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


def label_layout(
    items: list[tuple[float, float, str, _MarkerStyle]],
    areas: Sequence[PlotArea],
    keep_out: Sequence[Sequence[tuple[float, float, float, float]]] = (),
    lines: Sequence[Sequence[np.ndarray]] = (),
) -> list[dict[str, Any] | None]:
    """Greedy label placement in list order, in pixels (y up): each label goes right of, left of, above or
    below its marker, else at the end of a short leader line, wherever its box overlaps no marker, no label
    placed so far, nothing in ``keep_out`` (e.g. other labels) and no line in ``lines`` (arrays of pixel
    points, a few px apart), in every one of ``areas`` (the same plot at several widths: a label keeps its
    pixel offset from its marker at any width, so a spot free at each of them stays free on a figure that
    fills its container). ``keep_out`` and ``lines`` hold one list per area. Returns one plotly annotation
    per item, or None for an item with no free spot (it keeps its marker and hover text)."""
    scenes = []
    for k, area in enumerate(areas):
        points = [area.position(x, y) for x, y, _, _ in items]
        per_area_lines = lines[k] if k < len(lines) else ()
        scenes.append(
            {
                "area": area,
                "points": points,
                "markers": [
                    (px - s.reach, py - s.reach, px + s.reach, py + s.reach)
                    for (px, py), (*_, s) in zip(points, items)
                ],
                "taken": list(keep_out[k]) if k < len(keep_out) else [],
                "lines": np.vstack(
                    [np.asarray(p, dtype=float).reshape(-1, 2) for p in per_area_lines] or [np.empty((0, 2))]
                ),
            }
        )

    def boxes(i: int, cx: float, cy: float, w: float, h: float) -> list[tuple[float, float, float, float]]:
        """The label's box in each area, its centre at (cx, cy) pixels from its marker."""
        return [
            (x + cx - w / 2, y + cy - h / 2, x + cx + w / 2, y + cy + h / 2)
            for x, y in (scene["points"][i] for scene in scenes)
        ]

    def free(found: list[tuple[float, float, float, float]]) -> bool:
        return all(
            free_of(box, scene["area"], scene["taken"] + scene["markers"])
            and not label_covers(box, scene["lines"])
            for box, scene in zip(found, scenes)
        )

    out: list[dict[str, Any] | None] = []
    for i, (data_x, data_y, text, style) in enumerate(items):
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
            found = boxes(i, dx * (d + w / 2), dy * (d + h / 2), w, h)
            if free(found):
                choice = (
                    found,
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
        for radius in () if choice else (30, 45, 65, 90, 120):
            for angle in range(0, 360, 30):
                ax, ay = radius * math.cos(math.radians(angle)), radius * math.sin(math.radians(angle))
                cx = ax + math.copysign(w / 2, ax) * (abs(ax) > 1)
                found = boxes(i, cx, ay, w, h)
                # a leader line may cross markers that touch this one (GPT-3 and Jurassic-1 sit on one spot)
                if free(found) and not any(
                    line_hits(
                        scene["points"][i],
                        (scene["points"][i][0] + ax, scene["points"][i][1] + ay),
                        [m for m in scene["markers"] if not _overlap(m, scene["markers"][i])],
                    )
                    for scene in scenes
                ):
                    choice = (
                        found,
                        {
                            **base,
                            "showarrow": True,
                            "ax": cx,
                            "ay": -ay,
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
            for box, scene in zip(choice[0], scenes):
                scene["taken"].append(box)
        out.append(choice[1] if choice else None)
    return out


def free_of(
    box: tuple[float, float, float, float],
    area: PlotArea,
    others: Sequence[tuple[float, float, float, float]],
) -> bool:
    """Inside the plot area and clear of every box in ``others``."""
    inside = box[0] >= 0 and box[1] >= 0 and box[2] <= area.pixels[0] and box[3] <= area.pixels[1]
    return inside and not any(_overlap(box, other) for other in others)


def label_covers(box: tuple[float, float, float, float], points: np.ndarray) -> bool:
    """Whether any of ``points`` (pixels) lies in ``box`` grown by 1 px."""
    x, y = points[:, 0], points[:, 1]
    return bool(np.any((x >= box[0] - 1) & (x <= box[2] + 1) & (y >= box[1] - 1) & (y <= box[3] + 1)))


def line_hits(
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
