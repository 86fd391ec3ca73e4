"""Writing a runs.csv: cells as text that reads back exactly, rows in order, damaged rows kept in the side
file, and every write atomic (a temporary file and a rename: a reader never sees half a file)."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError
from scaling.inputs import checked_path
from scaling.runs_table.columns import RUN_COLUMNS, positive_number
from scaling.runs_table.rows import DamagedRow, RunRows, read_rows, side_path


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader never sees half a file."""
    path = checked_path(path, "output")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ScalingError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None


def format_cell(value: Any) -> str:
    """A cell as text: None -> empty, floats by repr (round-trips exactly), NaN as ``nan``."""
    if value is None:
        return ""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars: their repr is not a number ("np.float64(...)")
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def write_rows(path: str | os.PathLike, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """Replace ``path`` with ``rows`` (sorted by budget, N, run_id) atomically, in `RUN_COLUMNS` order."""
    columns = columns or RUN_COLUMNS

    def order(row: dict[str, Any]) -> tuple[float, float, str]:
        return (
            positive_number(row.get("budget")) or 0.0,
            positive_number(row.get("N")) or 0.0,
            str(row.get("run_id", "")),
        )

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=order):
        writer.writerow({k: format_cell(row.get(k)) for k in columns})
    atomic_write(Path(path), buf.getvalue())


def set_aside(path: str | os.PathLike, damaged: tuple[DamagedRow, ...] | list[DamagedRow]) -> Path | None:
    """Keep damaged rows of ``path`` in its side file (each text once), so a rewrite loses nothing."""
    if not damaged:
        return None
    side = side_path(path)
    known = set(side.read_text(encoding="utf-8").splitlines()) if side.exists() else set()
    new = [d.text for d in damaged if d.text not in known]
    if new:
        atomic_write(side, "".join(line + "\n" for line in sorted(known) + new))
    return side


def add_row(path: str | os.PathLike, row: dict[str, Any]) -> RunRows:
    """Add (or replace, by run_id) one row of a runs.csv, keeping the others; damaged rows go to the side
    file (`side_path`) first. Returns what was read before the write."""
    existing = read_rows(path)
    set_aside(path, existing.damaged)
    rows = {r["run_id"]: r for r in existing.rows}
    rows[str(row["run_id"])] = row
    write_rows(path, list(rows.values()))
    return existing
