"""Loss curves (for Approach 1) as a long table of points: run_id, N, D = tokens seen, loss; from a long
table, JSON lines with ``curve`` fields, or a sweep folder's ``curves/<run_id>.csv``."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from scaling import inputs
from scaling.errors import ScalingError
from scaling.runs_table.columns import canonical_columns
from scaling.runs_table.loading import load_source
from scaling.runs_table.table import RunsTable, read_table
from scaling.runs_table.validation import FrameBeingRead, explode_curves, keep_positive_numbers

CURVE_LOSS_RULE = "val_loss where a curve has at least three evaluations, else train_loss"


def _sweep_curve(path: Path, run: Any) -> Any:
    """One ``curves/<run_id>.csv`` as points (run_id, N, D, loss) by `CURVE_LOSS_RULE`; None if unreadable."""
    import pandas as pd

    try:
        curve = pd.read_csv(io.BytesIO(inputs.read_bytes(path, "loss curve")))
    except (ValueError, pd.errors.ParserError):  # ScalingError too: a curve that cannot be read is counted
        return None
    evaluated = pd.to_numeric(curve.get("val_loss", pd.Series(dtype=float)), errors="coerce").notna().sum()
    column = "val_loss" if evaluated >= 3 else "train_loss"
    if column not in curve.columns or "tokens" not in curve.columns:
        return None
    if column == "val_loss":  # a step between evaluations has no validation loss: not a point, and not damage
        curve = curve[curve["val_loss"].notna()]
    return pd.DataFrame({"run_id": run["run_id"], "N": run["N"], "D": curve["tokens"], "loss": curve[column]})


def read_sweep_curves(curves_dir: str | os.PathLike, runs: Any) -> RunsTable:
    """The loss curves of a sweep's runs (``curves/<run_id>.csv``, loss by `CURVE_LOSS_RULE`) as a long
    table; runs without a readable curve and points that are not finite positive numbers are counted."""
    import pandas as pd

    if "run_id" not in runs.columns:
        raise ScalingError(
            "the runs table has no run_id column, so its curves/ files cannot be matched to runs"
        )
    parts, missing = [], 0
    for _, run in runs.iterrows():
        part = _sweep_curve(Path(curves_dir) / f"{run['run_id']}.csv", run)
        missing += part is None
        if part is not None:
            parts.append(part)
    frame = (
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["run_id", "N", "D", "loss"])
    )
    rows = FrameBeingRead(frame)
    if missing:
        rows.dropped["run without a readable curve file"] = missing
    keep_positive_numbers(rows, ("N", "D", "loss"))
    rows.frame = rows.frame.sort_values(["run_id", "D"]).reset_index(drop=True)
    read = int(len(rows.frame)) + sum(rows.dropped.values())
    notes = (f"curves from {str(curves_dir)!r} ({CURVE_LOSS_RULE})",)
    table = RunsTable(rows.frame, str(curves_dir), read, tuple(rows.dropped.items()), notes)
    if table.rows_used == 0:
        raise ScalingError(f"no usable curve point in {table.summary()}")
    return table


def read_curves(source: Any) -> RunsTable:
    """Loss curves as a long table (run_id, N, D = tokens seen, loss), points sorted by D within each run.

    ``source`` is a long table, a JSON-lines file with ``curve`` fields, or a sweep folder (its ``curves/``).
    Points that are not finite positive numbers are set aside and counted.
    """
    path = None if not isinstance(source, (str, os.PathLike)) else Path(source)
    if path is not None and path.is_dir():
        runs = read_table(path)
        if runs.curves_path is None:
            raise ScalingError(
                f"{str(path)!r} holds no curves/ folder of loss curves (Approach 1 needs them)"
            )
        return read_sweep_curves(runs.curves_path, runs.frame)
    frame, label, _, set_aside = load_source(source)
    frame, notes = canonical_columns(frame)
    read = int(frame.shape[0]) + sum(set_aside.values())
    rows = FrameBeingRead(frame, set_aside)
    if "curve" in rows.frame.columns:
        notes.append(explode_curves(rows))
    missing = [c for c in ("run_id", "N", "D", "loss") if c not in rows.frame.columns]
    if missing:
        raise ScalingError(
            f"loss curves need columns run_id, N, D (tokens seen) and loss; missing {', '.join(missing)} "
            f"(found: {', '.join(map(str, rows.frame.columns))})"
        )
    keep_positive_numbers(rows, ("N", "D", "loss"))
    rows.frame = rows.frame.sort_values(["run_id", "D"]).reset_index(drop=True)
    table = RunsTable(rows.frame, label, read, tuple(rows.dropped.items()), tuple(notes))
    if table.rows_used == 0:
        raise ScalingError(f"no usable curve point in {table.summary()}")
    return table
