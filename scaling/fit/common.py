"""What every approach shares: the warning type of data problems, and reading runs through
`scaling.runs_table`."""

from __future__ import annotations

import warnings as _warnings
from typing import Any

import pandas as pd

from scaling import runs_table
from scaling.errors import ScalingError
from scaling.runs_table import RunsTable


class ScalingWarning(UserWarning):
    """Data problems that do not stop a fit (duplicated rows, dropped failed runs, weak IsoFLOP profiles)."""


def warn(message: str) -> None:
    _warnings.warn(message, ScalingWarning, stacklevel=3)


# =========================================================================================== reading runs
def report_table(table: RunsTable) -> None:
    """Say what a read set aside and how it read the table (derived columns, curves), as warnings."""
    for reason, count in table.dropped:
        warn(f"set aside {count} row(s) of {table.source}: {reason}")
    for note in table.notes:
        if "derived" in note or "C_6N" in note or "loss curves" in note or "curve field" in note:
            warn(note)


def read_curves(source: Any) -> pd.DataFrame:
    """Loss curves as a long table with columns run_id, N, D (tokens seen),
    loss (`scaling.runs_table.read_curves`)."""
    table = runs_table.read_curves(source)
    report_table(table)
    return table.frame


def check_runs(frame: pd.DataFrame, min_runs: int = 5) -> pd.DataFrame:
    """Refuse a runs table a parametric fit cannot use: a single model size, or fewer than
    ``min_runs`` runs."""
    if frame["N"].nunique() < 2:
        raise ScalingError(
            f"all runs have the same model size N = {frame['N'].iloc[0]:.4g}; a scaling law needs at "
            "least two model sizes (and, for Approach 3, several sizes and token counts)"
        )
    if len(frame) < min_runs:
        raise ScalingError(
            f"only {len(frame)} run(s) after validation; fitting needs at least {min_runs} "
            "(Approach 3 has 5 parameters: E, A, B, alpha, beta)"
        )
    return frame


def read_runs(source: Any, *, min_runs: int = 5) -> pd.DataFrame:
    """Read and validate a runs table (`scaling.runs_table.read_table`): columns N, D, loss, C = 6ND (and any
    others), one row per run. Rows set aside (damaged, failed, duplicated) are reported as warnings.

    Raises `ScalingError` when nothing usable is left, for a single model size, or for fewer runs than
    ``min_runs`` (5, the parameters of Approach 3).
    """
    table = runs_table.read_table(source)
    report_table(table)
    return check_runs(table.frame, min_runs)


def percentile_intervals(
    replicates: Any, names: tuple[str, ...], level: float
) -> dict[str, tuple[float, float]]:
    """Bootstrap percentile intervals at ``level`` of each column of ``replicates`` (rows of constants in
    the order of ``names``); none without replicates."""
    import numpy as np

    rows = np.asarray(replicates, dtype=float)
    if rows.size == 0:
        return {}
    q = (0.5 - level / 2.0, 0.5 + level / 2.0)
    return {k: tuple(float(x) for x in np.quantile(v, q)) for k, v in zip(names, rows.T)}


def save_law_file(payload: dict[str, Any], path: Any, check: Any) -> Any:
    """Write a law file's JSON atomically after ``check(payload, where)`` has read it back (so a written
    file always loads); returns the path."""
    import json
    from pathlib import Path

    from scaling.runs_table import atomic_write

    check(payload, f"law to save as {str(path)!r}")
    atomic_write(Path(path), json.dumps(payload, indent=2, allow_nan=False) + "\n")
    return Path(path)
