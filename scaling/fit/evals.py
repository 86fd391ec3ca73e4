"""The evaluations table of ``scaling fit RUNS --downstream evals.csv``: one row per run, task and metric.

================  ===========================================================================================
column            meaning
================  ===========================================================================================
``run_id``        the run, as the runs table names it (``run id``, ``run`` are read too)
``task``          the benchmark task (``hellaswag``, ``arc_easy``, ...)
``metric``        a task loss (`LOSS_METRICS`: ``bpb``, the bits per byte of the correct answer, as Bhagia et
                  al. 2024 use, or ``nll``, ``task_loss``, ...) or an accuracy or error rate
                  (`ACCURACY_METRICS`: ``acc``, ``acc_norm``, ``error``, ..., as a fraction from 0 to 1)
``value``         the number
================  ===========================================================================================

Damaged rows (a field missing or too many, a value that is not a finite number, an unknown metric, an
accuracy outside 0-1, a task loss that is not positive, a run, task and metric given twice) are set aside with
their reason, counted and reported in one line; they never stop a read that has good rows.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

from scaling import inputs
from scaling.errors import ScalingError, quoted, set_aside_summary

LOSS_METRICS = ("bpb", "rc_bpb", "bits_per_byte", "task_loss", "nll", "loss")
ACCURACY_METRICS = ("acc", "accuracy", "acc_norm", "rc_acc", "mc_acc", "exact_match", "error")
COLUMNS = {
    "run_id": ("run_id", "run", "runid"),
    "task": ("task",),
    "metric": ("metric",),
    "value": ("value",),
}


def metric_name(text: str) -> str:
    """A metric as compared: lower case, spaces and hyphens read as underscores."""
    return str(text).strip().lower().replace(" ", "_").replace("-", "_")


def metric_kind(metric: str) -> str | None:
    """``loss`` or ``accuracy`` for a known metric, else None."""
    name = metric_name(metric)
    return "loss" if name in LOSS_METRICS else "accuracy" if name in ACCURACY_METRICS else None


@dataclass(frozen=True)
class Evals:
    """The good rows (run_id, task, metric, value) and the rows set aside: (line, reason, value shown)."""

    rows: tuple[tuple[str, str, str, float], ...]
    set_aside: tuple[tuple[int, str, str], ...] = ()
    source: str = "evals"
    total: int = 0
    lines: tuple[int, ...] = ()  # the file's line of each row

    def set_aside_line(self) -> str | None:
        """One line: how many rows were set aside, per reason with its first example."""
        return set_aside_summary(self.set_aside, self.total, self.source)

    def without(self, keep: Any, reason: str) -> Evals:
        """These evals with the rows ``keep(row)`` refuses set aside for ``reason`` (shown by run id)."""
        kept = [(r, n) for r, n in zip(self.rows, self.lines) if keep(r)]
        dropped = tuple((n, reason, r[0]) for r, n in zip(self.rows, self.lines) if not keep(r))
        rows, lines = tuple(r for r, _ in kept), tuple(n for _, n in kept)
        return Evals(rows, self.set_aside + dropped, self.source, self.total, lines)


def _columns(header: list[str], source: str) -> dict[str, int]:
    return inputs.column_positions(
        [metric_name(h) for h in header],
        COLUMNS,
        lambda column: ScalingError(
            f"evals file {quoted(source)} has no {column} column (header {quoted(','.join(header))}): "
            "expected columns run_id, task, metric, value"
        ),
    )


Row = tuple[str, str, str, float]


def _row(fields: list[str], where: dict[str, int], width: int) -> tuple[Row | None, str, str]:
    """(row, reason it is set aside or '', the value shown)."""
    if len(fields) != width:
        return (None, "wrong number of fields", ",".join(fields))
    run, task, metric, text = (fields[where[k]].strip() for k in ("run_id", "task", "metric", "value"))
    if not run or not task or not metric:
        return (None, "no run id, task or metric", ",".join(fields))
    kind = metric_kind(metric)
    if kind is None:
        return (None, "unknown metric", metric)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        return (None, "non-numeric value", text)
    if kind == "accuracy" and not 0.0 <= value <= 1.0:
        return (None, "accuracy outside 0-1 (give fractions)", text)
    if kind == "loss" and not value > 0:
        return (None, "task loss not positive", text)
    return (run, task, metric_name(metric), value), "", ""


def parse_evals(text: str, source: str = "evals") -> Evals:
    """The rows of an evals CSV text (see the module docstring); refuses only a table without the four
    columns or without a good row."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    lines = [row for row in reader]
    header_at = next((i for i, r in enumerate(lines) if any(c.strip() for c in r)), None)
    if header_at is None:
        raise ScalingError(
            f"evals file {quoted(source)} is empty: expected columns run_id, task, metric, value"
        )
    header = lines[header_at]
    where = _columns(header, source)
    rows, numbers, set_aside, seen, total = [], [], [], set(), 0
    for number, fields in enumerate(lines[header_at + 1 :], start=header_at + 2):
        if not any(c.strip() for c in fields):
            continue
        total += 1
        row, reason, shown = _row(fields, where, len(header))
        if row is not None and row[:3] in seen:
            reason, shown = "duplicate run, task and metric", ",".join(row[:3])
        if row is None or reason:
            set_aside.append((number, reason, shown))
            continue
        seen.add(row[:3])
        rows.append(row)
        numbers.append(number)
    evals = Evals(tuple(rows), tuple(set_aside), source, total, tuple(numbers))
    if not rows:
        raise ScalingError(
            f"evals file {quoted(source)} has no usable row: {evals.set_aside_line() or 'no rows'}; expected "
            f"metrics {', '.join(LOSS_METRICS)} (task loss) or {', '.join(ACCURACY_METRICS)} (from 0 to 1)"
        )
    return evals


def read_evals(path: Any) -> Evals:
    """An evals CSV file, read and parsed."""
    name = str(path)
    return parse_evals(inputs.read_text(inputs.checked_path(path, "evals file"), "evals file"), name)
