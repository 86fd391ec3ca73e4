"""A sweep's output folder: one writer at a time, and a runs.csv whose damaged rows are set aside, never lost.

* ``locked(out)``: an exclusive lock (``filelock``, an OS-level lock the kernel drops when the process dies,
  so a killed sweep never leaves the folder locked) held for the whole sweep. A second process on the same
  folder is refused with who holds it (pid, host, start time, command), so two sweeps never train the same
  runs twice or replace each other's rows.
* ``read_table(path)``: the rows of a sweep's runs.csv through `scaling.runs_table` (the table's one
  contract). A row that cannot be a run (a note typed into the file, a truncated line) comes back apart as
  damaged; a file that is not a runs table at all (no header, binary) is one clear error.
* ``write_rows`` / ``add_row``: the whole runs.csv replaced atomically, after any damaged rows were kept in
  its side file (``runs.damaged.csv``), so the rewrite drops nothing a user wrote.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scaling import inputs, runs_table
from scaling.checks import SWEEP_LOCK, SWEEP_LOCK_HOLDER
from scaling.errors import ScalingError
from scaling.runs_table import DamagedRow, RunRows

LOCK_NAME = SWEEP_LOCK  # a sweep folder's names live with the rule that no other command writes them
HOLDER_NAME = SWEEP_LOCK_HOLDER
HEADER = ("run_id", "status", "budget", "N", "D", "loss")  # what a sweep's runs.csv header must name

_held: dict[Path, int] = {}  # folders this process holds, with a nesting count (the lock is re-entrant)


def folder_error(path: Path | str, exc: OSError) -> ScalingError:
    """One line for a folder or file that cannot be created, read or written (read-only, name too long...)."""
    reason = exc.strerror or type(exc).__name__
    return ScalingError(f"cannot use {path}: {reason}")


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``out``'s sweep lock (creating the folder); refuse at once if another process holds it."""
    from filelock import FileLock, Timeout

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        key = out.resolve()
    except OSError as exc:
        raise folder_error(out, exc) from None
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    lock = FileLock(str(out / LOCK_NAME), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ScalingError(
            f"{out} is in use by another sweep ({_holder(out)}); wait for it to finish, or use another --out"
        ) from None
    except OSError as exc:
        raise folder_error(out, exc) from None
    _held[key] = 1
    try:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join(sys.argv),
        }
        atomic_write(out / HOLDER_NAME, json.dumps(holder))
        yield
    finally:
        del _held[key]
        lock.release()


def _holder(out: Path) -> str:
    try:
        info = json.loads((out / HOLDER_NAME).read_text())
        return f"pid {info['pid']} on {info['host']} since {info['since']}: {info['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def read_table(path: Path) -> RunRows:
    """A sweep's runs.csv as valid rows and damaged lines (`scaling.runs_table.read_rows`); a file that is not
    a runs table at all (binary, or no header naming run_id, status, budget, N, D, loss) is a ScalingError."""
    path = Path(path)
    if not path.exists():
        return RunRows()
    first = inputs.read_bytes(path, "runs table")[:65536].split(b"\n", 1)[0]
    if not first.strip():
        return RunRows()
    if b"\0" in first:
        raise ScalingError(f"{path} is not a runs table (binary content); move it away or use another --out")
    header = next(csv.reader([first.decode("utf-8", errors="replace")]), [])
    missing = [c for c in HEADER if c not in header]
    if missing:
        raise ScalingError(
            f"{path} has no runs-table header (its first line lacks {', '.join(missing)}); it was "
            "not written by scaling sweep: move it away or use another --out"
        )
    return runs_table.read_rows(path)


def damaged_report(path: Path, table: RunRows) -> str | None:
    """A warning naming the damaged rows of ``path`` and where they are kept (None when there are none)."""
    report = table.report()
    return None if report is None else f"{path}: {report}, kept in {runs_table.side_path(path)}"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The valid rows of a runs.csv (cells stay text, so rewriting the file keeps them byte for byte)."""
    return read_table(path).rows


def write_rows(path: Path, rows: list[dict[str, Any]], damaged: tuple[DamagedRow, ...] = ()) -> None:
    """The whole runs.csv replaced atomically, after ``damaged`` rows were kept in its side file."""
    try:
        runs_table.set_aside(path, damaged)
        runs_table.write_rows(path, rows)
    except OSError as exc:
        raise folder_error(path, exc) from None


def add_row(path: Path, row: dict[str, Any]) -> None:
    """Add (or replace, by run_id) one row of a runs.csv, keeping the others (damaged rows kept aside)."""
    table = read_table(path)
    rows = {r["run_id"]: r for r in table.rows}
    rows[row["run_id"]] = row
    write_rows(path, list(rows.values()), table.damaged)


def atomic_write(path: Path, text: str) -> None:
    """`scaling.runs_table.atomic_write`, with a folder that cannot be created as one ScalingError too."""
    try:
        runs_table.atomic_write(Path(path), text)
    except OSError as exc:
        raise folder_error(path, exc) from None
