"""The checks a frame being read goes through, shared by tables and curves: rows that fail one are set
aside with the reason and counted, never dropped silently."""

from __future__ import annotations

from typing import Any

from scaling.errors import quoted
from scaling.runs_table.columns import positive_number


class FrameBeingRead:
    """The frame being read and the reasons rows were set aside."""

    def __init__(self, frame: Any, set_aside: dict[str, int] | None = None) -> None:
        self.frame = frame.reset_index(drop=True)
        self.dropped: dict[str, int] = dict(set_aside or {})  # rows set aside before the frame was made

    def drop(self, mask: Any, reason: str) -> None:
        count = int(mask.sum())
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + count
            self.frame = self.frame[~mask].reset_index(drop=True)


def _curve_points(value: Any) -> list[tuple[float, float]] | None:
    """A ``curve`` cell as [(tokens, loss), ...], or None when it is not a list of positive pairs."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    points = []
    for point in value:
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            return None
        tokens, loss = positive_number(point[0]), positive_number(point[1])
        if tokens is None or loss is None:
            return None
        points.append((tokens, loss))
    return points


def explode_curves(rows: FrameBeingRead) -> str:
    """Per-run ``curve`` fields of [tokens, loss] pairs -> a long table of points (damaged ones aside)."""
    import pandas as pd

    frame = rows.frame
    parsed = [_curve_points(v) for v in frame["curve"]]
    rows.drop(pd.Series([p is None for p in parsed]), "curve is not a list of [tokens, loss] pairs")
    parsed = [p for p in parsed if p is not None]
    frame = rows.frame
    if "run_id" not in frame.columns:
        frame = frame.assign(run_id=range(len(frame)))
    out = []
    for (_, row), points in zip(frame.iterrows(), parsed):
        out += [{"run_id": row["run_id"], "N": row.get("N"), "D": d, "loss": loss} for d, loss in points]
    rows.frame = pd.DataFrame(out, columns=["run_id", "N", "D", "loss"])
    return f"{len(parsed)} run(s) with a curve field read as {len(out)} curve points"


def keep_positive_numbers(rows: FrameBeingRead, columns: tuple[str, ...]) -> None:
    import numpy as np
    import pandas as pd

    for column in columns:
        values = pd.to_numeric(rows.frame[column], errors="coerce").astype(float)
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            example = rows.frame.loc[bad, column].iloc[0]
            shown = quoted(example) if isinstance(example, str) else str(example)
            rows.drop(bad, f"{column} not a finite positive number (e.g. {shown})")
            values = values[~bad].reset_index(drop=True)
        rows.frame[column] = values
    if {"N", "D"} <= set(columns):  # C = 6ND must be a number too (N = D = 1e300 overflows it)
        from scaling.flops import six_nd

        with np.errstate(over="ignore"):
            rows.drop(~np.isfinite(six_nd(rows.frame["N"], rows.frame["D"])), "6·N·D overflows a float")
