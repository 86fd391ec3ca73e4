"""A runs table read for fitting (`read_table`): one row per usable run with N, D, C = 6ND and loss, and
what was set aside on the way (failed runs, damaged values, earlier points of loss curves, duplicates)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError
from scaling.render import Displayable
from scaling.runs_table.columns import FAILED_STATUS, LEGACY_6ND_COLUMN, canonical_columns, positive_number
from scaling.runs_table.loading import load_source
from scaling.runs_table.validation import FrameBeingRead, explode_curves, keep_positive_numbers


@dataclass(frozen=True, eq=False)
class RunsTable(Displayable):
    """A runs table read for fitting: one row per usable run with columns N, D, C (6ND), loss (+ the others),
    what was read, what was set aside and why, and the notes on how it was read (aliases, derived columns)."""

    frame: Any  # pandas DataFrame
    source: str
    rows_read: int
    dropped: tuple[tuple[str, int], ...] = ()  # (reason, rows)
    notes: tuple[str, ...] = ()
    curves_path: Path | None = None  # the curves/ folder beside the table (a sweep's), if there is one

    @property
    def rows_used(self) -> int:
        return int(len(self.frame))

    def summary(self) -> str:
        """``read 35 rows, used 33, set aside 2 (2: status diverged)``."""
        text = f"{self.source}: read {self.rows_read} row(s), used {self.rows_used}"
        if self.dropped:
            parts = "; ".join(f"{count}: {reason}" for reason, count in self.dropped)
            text += f", set aside {sum(c for _, c in self.dropped)} ({parts})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "set_aside": [{"reason": r, "rows": c} for r, c in self.dropped],
            "notes": list(self.notes),
        }


def _upgrade_legacy(frame: Any) -> tuple[Any, list[str]]:
    if LEGACY_6ND_COLUMN not in frame.columns:
        return frame, []
    frame = frame.copy()
    if "C" in frame.columns and "C_exact" not in frame.columns:
        frame["C_exact"] = frame["C"]
    frame["C"] = frame[LEGACY_6ND_COLUMN]
    frame = frame.drop(columns=[LEGACY_6ND_COLUMN])
    return frame, ["an older sweep's table: C_6N read as C (6ND), its C as C_exact"]


def _derive_missing(rows: FrameBeingRead) -> list[str]:
    """C = 6ND for the one missing of N, D, C; an error when two are missing."""
    from scaling.flops import FLOPS_PER_PARAM_TOKEN, six_nd

    frame = rows.frame
    missing = [c for c in ("N", "D", "C") if c not in frame.columns]
    if len(missing) > 1 or "loss" not in frame.columns:
        need = [c for c in ("N", "D", "C", "loss") if c not in frame.columns]
        raise ScalingError(
            f"the runs table needs a loss and two of N (params), D (tokens), C (FLOPs); missing "
            f"{', '.join(need)} (found: {', '.join(map(str, frame.columns)) or 'no columns'})"
        )
    if not missing:
        return []
    import pandas as pd

    numbers = {
        c: pd.to_numeric(frame[c], errors="coerce").astype(float)
        for c in ("N", "D", "C")
        if c in frame.columns
    }
    if missing == ["C"]:
        frame["C"] = six_nd(numbers["N"], numbers["D"])
        note = "C = 6ND (no compute column)"
    elif missing == ["N"]:
        frame["N"] = numbers["C"] / (FLOPS_PER_PARAM_TOKEN * numbers["D"])
        note = "N derived as C / (6D) (no parameter column)"
    else:
        frame["D"] = numbers["C"] / (FLOPS_PER_PARAM_TOKEN * numbers["N"])
        note = "D derived as C / (6N) (no token column)"
    return [note]


def _failed(rows: FrameBeingRead) -> None:
    if "status" in rows.frame.columns:
        status = rows.frame["status"].astype(str).str.strip().str.lower()
        for value in sorted(set(status[status.isin(FAILED_STATUS)])):
            rows.drop(rows.frame["status"].astype(str).str.strip().str.lower() == value, f"status {value}")
    if "failed" in rows.frame.columns:
        failed = rows.frame["failed"].astype(str).str.strip().str.lower().isin({"true", "1", "yes"})
        rows.drop(failed, "failed column true")


def _last_points(rows: FrameBeingRead) -> str | None:
    """The stated rule: a table with a ``step`` column whose ``run_id`` repeats is loss curves; keep each
    run's last point as its final loss."""
    frame = rows.frame
    if not {"step", "run_id"} <= set(frame.columns) or not frame["run_id"].duplicated().any():
        return None
    runs = frame["run_id"].nunique()
    steps = frame["step"].map(positive_number).fillna(0.0)
    last = frame.assign(_order=steps).sort_values(["run_id", "_order"]).groupby("run_id", sort=False).tail(1)
    keep = frame.index.isin(last.index)
    rows.drop(~keep, "earlier points of a loss curve (step column, repeated run_id)")
    return f"loss curves (step column): the last point of each of {runs} run(s) is its final loss"


def read_table(source: Any) -> RunsTable:
    """Read a runs table (CSV, JSON, JSON lines, Parquet, a DataFrame, a list of dicts, or a sweep folder).

    Returns one row per usable run with float columns N, D, C = 6ND, loss, and every other column as read.
    Damaged and failed rows, earlier points of loss curves and exact duplicates are set aside and counted
    by reason. Raises `ScalingError` when the source cannot be read or no row is usable.
    """
    import pandas as pd

    raw, label, curves, set_aside = load_source(source)
    rows_read = int(raw.shape[0]) + sum(set_aside.values())
    if raw.shape[0] == 0 and not set_aside:
        raise ScalingError(f"{label} has no rows (a header at most); a fit needs one row per run")
    frame, notes = _upgrade_legacy(raw)
    frame, aliases = canonical_columns(frame)
    notes += aliases
    rows = FrameBeingRead(frame, set_aside)
    if "curve" in rows.frame.columns:
        notes.append(explode_curves(rows))
        # one run per curve: its last point (the most tokens) is the run's D and final loss
        order = pd.to_numeric(rows.frame["D"], errors="coerce").fillna(0.0)
        last = rows.frame.assign(_order=order).sort_values(["run_id", "_order"]).groupby("run_id").tail(1)
        rows.frame = last.drop(columns="_order").reset_index(drop=True)
    notes += [n for n in [_last_points(rows)] if n]
    _failed(rows)
    notes += _derive_missing(rows)
    keep_positive_numbers(rows, ("N", "D", "C", "loss"))
    rows.drop(rows.frame.duplicated(subset=["N", "D", "loss"]), "duplicate of another row (same N, D, loss)")
    table = RunsTable(rows.frame, label, rows_read, tuple(rows.dropped.items()), tuple(notes), curves)
    if table.rows_used == 0:
        raise ScalingError(f"no usable run in {table.summary()}")
    return table
