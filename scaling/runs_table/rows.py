"""A sweep's runs.csv read as text rows (rewriting keeps them byte for byte): older sweeps' rows upgraded,
damaged rows apart with their line and reason, and the side file that keeps them."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaling import inputs
from scaling.errors import ScalingError
from scaling.runs_table.columns import LEGACY_6ND_COLUMN, is_failed, positive_number

SIDE_SUFFIX = ".damaged.csv"


@dataclass(frozen=True)
class DamagedRow:
    """A row set aside: its line in the file (1 = header), its text and why."""

    line: int
    text: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "text": self.text, "reason": self.reason}


@dataclass(frozen=True)
class RunRows:
    """The rows of a runs.csv as text cells (rewriting keeps them byte for byte), and the damaged ones."""

    rows: list[dict[str, str]] = field(default_factory=list)
    damaged: tuple[DamagedRow, ...] = ()

    def report(self) -> str | None:
        """One line naming the damaged rows, or None when there are none."""
        if not self.damaged:
            return None
        shown = "; ".join(f"line {d.line}: {d.reason}" for d in self.damaged[:3])
        more = f" and {len(self.damaged) - 3} more" if len(self.damaged) > 3 else ""
        return f"{len(self.damaged)} damaged row(s) set aside ({shown}{more})"


def upgrade_row(row: dict[str, str]) -> dict[str, str]:
    """A row of an older sweep (``C`` exact, ``C_6N`` = 6ND) in today's meaning: C = 6ND, C_exact = exact."""
    if LEGACY_6ND_COLUMN not in row:
        return row
    new = {k: v for k, v in row.items() if k != LEGACY_6ND_COLUMN}
    if not new.get("C_exact"):
        new["C_exact"] = row.get("C", "")
    new["C"] = row[LEGACY_6ND_COLUMN]
    return new


def row_problem(row: dict[str, Any]) -> str | None:
    """Why a sweep row cannot be used (no run_id, a non-number in N, D, budget, or in loss for an ok run)."""
    if None in row:
        return "more fields than the header"
    if any(v is None for v in row.values()):
        return "fewer fields than the header"
    if not str(row.get("run_id", "")).strip():
        return "no run_id"
    checks = ["N", "D"] + (["budget"] if "budget" in row else [])
    if not is_failed(row.get("status", "ok")):
        checks.append("loss")
    for column in checks:
        if positive_number(row.get(column)) is None:
            return f"{column}={row.get(column)!r} is not a finite positive number"
    return None


def read_rows(path: str | os.PathLike) -> RunRows:
    """The rows of a runs.csv (none when the file does not exist), older sweeps' rows upgraded, damaged apart.

    Raises `ScalingError` only when the file cannot be read as text CSV at all.
    """
    path = Path(path)
    if not path.exists():
        return RunRows()
    text = inputs.read_text(path, "runs table")
    lines = text.splitlines()
    reader = csv.DictReader(io.StringIO(text))
    rows, damaged = [], []
    try:
        for row in reader:
            problem = row_problem(row)
            if problem is None:
                rows.append(upgrade_row(row))
            else:
                number = reader.line_num
                damaged.append(DamagedRow(number, lines[number - 1] if number <= len(lines) else "", problem))
    except csv.Error as exc:
        raise ScalingError(f"cannot read runs table {str(path)!r}: {exc}") from None
    return RunRows(rows, tuple(damaged))


def side_path(path: str | os.PathLike) -> Path:
    """Where damaged rows of ``path`` are kept: ``runs.csv`` -> ``runs.damaged.csv``."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".csv") + SIDE_SUFFIX)
