"""The runs table: where training runs and the fitters meet.

One row per training run; each column has one meaning, written down here and nowhere else:

================  ===========================================================================================
column            meaning
================  ===========================================================================================
``run_id``        unique name of the run
``status``        ``ok``, or why the run has no usable loss (``diverged``, ``failed``, ...)
``budget``        the IsoFLOP budget the run was planned on (FLOPs, the planner's convention); runs of one
                  IsoFLOP profile share it exactly
``N``             total parameters (embeddings included; active parameters for MoE)
``N_nonemb``      optional: non-embedding parameters (Kaplan et al. 2020)
``D``             training tokens
``C``             training compute 6·N·D with N the total parameters (Kaplan et al. 2020 §2.1), the
                  convention every fitter uses: Approach 2 computes D_opt = C / (6 N_opt)
``C_exact``       optional: exact training FLOPs, attention included (Hoffmann et al. 2022, App. F)
``C_6N_nonemb``   optional: 6·N_nonemb·D
``loss``          final loss (validation when the run was evaluated), in ``loss_unit``
``loss_unit``     optional: ``nats/token`` (default) or ``nats/byte`` (byte-level tokenizer)
``tokenizer``     optional: the tokenizer's name (``bytes`` for byte-level runs)
``vocab_size``    optional: the vocabulary size
================  ===========================================================================================

The other columns (`RUN_COLUMNS`) describe how the run was made (shape, optimizer, wall time, software).

A table written by an older sweep has a ``C_6N`` column and ``C`` = exact FLOPs; it is read by taking
``C_6N`` as ``C`` and the old ``C`` as ``C_exact``. Tables from elsewhere may name the columns as the public
data sets do (``Model Size``, ``Training FLOP``, ``compute_budget``, ``training_tokens``,
``validation_loss``...): `ALIASES`, matched regardless of case, spaces, underscores and hyphens. When one of
N, D and C is missing it is derived from the other two as C = 6ND, and the read says so.

Loss curves (for Approach 1) are a long table with one row per logged point: ``run_id``, ``N``, ``D`` =
tokens seen so far, ``loss``. A table is read as curves only by rule: it has a ``step`` column and its
``run_id`` repeats, or (JSON lines) each run carries a ``curve`` field of ``[tokens, loss]`` pairs. A sweep
folder holds ``runs.csv`` and one curve per run under ``curves/<run_id>.csv`` (columns ``step``,
``tokens``, ``flops``, ``train_loss``, ``val_loss``).

Damaged rows (a value that is not a finite positive number, a field too many, a bad ``curve``) are set
aside with the reason and reported; they never stop a read that has good rows, and are never dropped
silently. Writes are atomic (a reader never sees half a file).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError
from scaling.render import Displayable
from scaling.units import LOSS_UNITS

# The columns a sweep writes, in order.
RUN_COLUMNS = [
    "run_id",
    "status",
    "budget",
    "N",
    "N_nonemb",
    "D",
    "C",
    "C_exact",
    "C_6N_nonemb",
    "loss",
    "loss_unit",
    "train_loss",
    "d_model",
    "n_layer",
    "n_head",
    "seq_len",
    "batch",
    "lr",
    "steps",
    "seed",
    "precision",
    "wall_s",
    "tokens_per_s",
    "flops_per_s",
    "corpus",
    "corpus_sha256",
    "tokenizer",
    "vocab_size",
    "torch_version",
    "python_version",
]
FAILED_STATUS = frozenset(
    {"failed", "fail", "error", "errored", "crashed", "diverged", "nan", "killed", "oom"}
)
# Older sweeps: C was exact FLOPs and C_6N held 6ND.
LEGACY_6ND_COLUMN = "C_6N"
# Accepted names per column, compared after `normalise_name` (lower case, letters and digits only).
ALIASES: dict[str, tuple[str, ...]] = {
    "N": (
        "n",
        "params",
        "nparams",
        "numparams",
        "parameters",
        "nparameters",
        "numparameters",
        "modelsize",
        "modelparams",
        "paramcount",
        "parametercount",
        "totalparams",
        "totalparameters",
        "size",
    ),
    "D": (
        "d",
        "tokens",
        "ntokens",
        "numtokens",
        "traintokens",
        "trainingtokens",
        "datasize",
        "data",
        "datasetsize",
        "tokensseen",
        "trainedtokens",
        "totaltokens",
    ),
    "C": (
        "c",
        "flops",
        "flop",
        "compute",
        "computebudget",
        "trainingflop",
        "trainingflops",
        "trainflops",
        "trainingcompute",
        "totalflops",
        "budget",
    ),
    "loss": (
        "loss",
        "finalloss",
        "valloss",
        "evalloss",
        "validloss",
        "validationloss",
        "testloss",
        "trainloss",
        "l",
    ),
    "run_id": ("runid", "run", "runname", "name", "id"),
    "step": ("step", "iteration", "iter"),
}
SIDE_SUFFIX = ".damaged.csv"


def normalise_name(name: Any) -> str:
    """A column name compared without case, spaces, underscores or punctuation ("Model Size" ->
    "modelsize")."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def positive_number(value: Any) -> float | None:
    """``value`` as a finite positive float, or None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def is_failed(status: Any) -> bool:
    """A ``status`` cell that marks a run without a usable loss."""
    return str(status).strip().lower() in FAILED_STATUS


# ============================================================================ rows (the sweep's side)
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
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScalingError(f"cannot read runs table {str(path)!r} as UTF-8 CSV: {exc}") from None
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


def add_row(path: str | os.PathLike, row: dict[str, Any]) -> RunRows:
    """Add (or replace, by run_id) one row of a runs.csv, keeping the others; damaged rows go to the side
    file (`side_path`) first. Returns what was read before the write."""
    existing = read_rows(path)
    set_aside(path, existing.damaged)
    rows = {r["run_id"]: r for r in existing.rows}
    rows[str(row["run_id"])] = row
    write_rows(path, list(rows.values()))
    return existing


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader never sees half a file."""
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


# ========================================================================= tables (the fitters' side)
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


def _parquet(path: Path) -> Any:
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except ImportError:
        raise ScalingError(
            f"cannot read {str(path)!r}: Parquet needs pyarrow (pip install pyarrow), "
            "or save the table as CSV"
        ) from None
    except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError, ArrowIOError an OSError
        raise ScalingError(f"cannot read {str(path)!r} as Parquet: {str(exc).splitlines()[0]}") from None


def _json_records(path: Path, text: str) -> list[Any]:
    """A JSON array of objects, an object of columns, or JSON lines (one object per line)."""
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, list):
        return whole
    if isinstance(whole, dict):
        columns = {k: v for k, v in whole.items() if isinstance(v, (list, dict))}
        if columns and len(columns) == len(whole):  # pandas to_json(orient="columns")
            import pandas as pd

            return pd.DataFrame(whole).to_dict(orient="records")
        return [whole]
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise ScalingError(f"cannot read {str(path)!r} as JSON lines: line {number}: {exc}") from None
    return records


def _frame_from_records(records: list[Any], label: str) -> Any:
    import pandas as pd

    bad = [i for i, r in enumerate(records) if not isinstance(r, dict)]
    if bad:
        raise ScalingError(
            f"{label}: every JSON record must be an object of column: value; record {bad[0] + 1} is "
            f"{type(records[bad[0]]).__name__}"
        )
    return pd.DataFrame(records)


def _load(source: Any) -> tuple[Any, str, Path | None]:
    """(raw frame, a label for messages, the sweep folder's curves/ when ``source`` is a sweep folder)."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source.copy(), "the runs table", None
    if isinstance(source, (list, tuple)):
        return _frame_from_records(list(source), "the runs table"), "the runs table", None
    path = Path(str(source))
    if path.is_dir():
        path = path / "runs.csv"
    curves = path.parent / "curves" if (path.parent / "curves").is_dir() else None  # a sweep's curves/
    if not path.is_file():
        problem = "is not a regular file" if path.exists() else "does not exist"
        raise ScalingError(
            f"runs file {str(path)!r} {problem} (expected a CSV, JSON, JSON lines or Parquet file, "
            "or a sweep folder holding runs.csv)"
        )
    label = str(path)
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        return _parquet(path), label, curves
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScalingError(f"cannot read {label!r} as UTF-8 text: {exc}") from None
    if "\x00" in text:
        raise ScalingError(f"cannot read {label!r}: it is binary, not a CSV, JSON or JSON lines table")
    if suffix.endswith((".jsonl", ".ndjson", ".json")):
        return _frame_from_records(_json_records(path, text), label), label, curves
    try:
        return pd.read_csv(io.StringIO(text), comment="#", on_bad_lines="skip"), label, curves
    except (ValueError, pd.errors.ParserError) as exc:
        raise ScalingError(f"cannot read runs file {label!r}: {str(exc).splitlines()[0]}") from None


def canonical_columns(frame: Any) -> tuple[Any, list[str]]:
    """Rename aliased columns to N, D, C, loss, run_id, step (`ALIASES`); returns the frame and notes."""
    names = {normalise_name(c): c for c in reversed(list(frame.columns))}
    rename, notes = {}, []
    for canon, aliases in ALIASES.items():
        if canon in frame.columns:
            continue
        for alias in (normalise_name(canon), *aliases):
            column = names.get(alias)
            if column is not None and column not in rename and column not in ALIASES:
                rename[column] = canon
                if str(column) != canon:
                    notes.append(f"column {str(column)!r} read as {canon}")
                break
    return frame.rename(columns=rename), notes


def _upgrade_legacy(frame: Any) -> tuple[Any, list[str]]:
    if LEGACY_6ND_COLUMN not in frame.columns:
        return frame, []
    frame = frame.copy()
    if "C" in frame.columns and "C_exact" not in frame.columns:
        frame["C_exact"] = frame["C"]
    frame["C"] = frame[LEGACY_6ND_COLUMN]
    frame = frame.drop(columns=[LEGACY_6ND_COLUMN])
    return frame, ["an older sweep's table: C_6N read as C (6ND), its C as C_exact"]


class _Rows:
    """The frame being read and the reasons rows were set aside."""

    def __init__(self, frame: Any) -> None:
        self.frame = frame.reset_index(drop=True)
        self.dropped: dict[str, int] = {}

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


def _explode_curves(rows: _Rows) -> str:
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


def _derive_missing(rows: _Rows) -> list[str]:
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


def _numbers(rows: _Rows, columns: tuple[str, ...]) -> None:
    import numpy as np
    import pandas as pd

    for column in columns:
        values = pd.to_numeric(rows.frame[column], errors="coerce").astype(float)
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            example = rows.frame.loc[bad, column].iloc[0]
            shown = repr(example) if isinstance(example, str) else str(example)
            rows.drop(bad, f"{column} not a finite positive number (e.g. {shown})")
            values = values[~bad].reset_index(drop=True)
        rows.frame[column] = values
    if {"N", "D"} <= set(columns):  # C = 6ND must be a number too (N = D = 1e300 overflows it)
        from scaling.flops import six_nd

        with np.errstate(over="ignore"):
            rows.drop(~np.isfinite(six_nd(rows.frame["N"], rows.frame["D"])), "6·N·D overflows a float")


def _failed(rows: _Rows) -> None:
    if "status" in rows.frame.columns:
        status = rows.frame["status"].astype(str).str.strip().str.lower()
        for value in sorted(set(status[status.isin(FAILED_STATUS)])):
            rows.drop(rows.frame["status"].astype(str).str.strip().str.lower() == value, f"status {value}")
    if "failed" in rows.frame.columns:
        failed = rows.frame["failed"].astype(str).str.strip().str.lower().isin({"true", "1", "yes"})
        rows.drop(failed, "failed column true")


def _last_points(rows: _Rows) -> str | None:
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


BYTE_TOKENIZERS = ("bytes", "byte", "utf-8 bytes")


def loss_metadata(frame: Any) -> dict[str, Any]:
    """The loss unit, tokenizer, vocabulary and context the runs state (``loss_unit``, ``tokenizer``,
    ``vocab_size``, ``seq_len`` columns; a byte-level tokenizer means nats/byte and 256 symbols). Raises `ScalingError` when the runs mix
    them: one law has one unit."""
    found: dict[str, Any] = {}
    for column in ("loss_unit", "tokenizer", "vocab_size"):
        if column in getattr(frame, "columns", ()):
            values = {str(v).strip() for v in frame[column].dropna() if str(v).strip() and str(v) != "nan"}
            if len(values) > 1:
                raise ScalingError(f"the runs mix {column} values {sorted(values)}: fit each kind apart")
            if values:
                found[column] = values.pop()
    byte_level = found.get("tokenizer", "").lower() in BYTE_TOKENIZERS
    unit = found.get("loss_unit") or ("nats/byte" if byte_level else "nats/token")
    if unit not in LOSS_UNITS:
        raise ScalingError(f"unknown loss_unit {unit!r} in the runs: expected one of {', '.join(LOSS_UNITS)}")
    vocab = found.get("vocab_size") or (256 if byte_level else None)
    vocab = int(float(vocab)) if vocab is not None and positive_number(vocab) else None
    return {
        "loss_unit": unit,
        "tokenizer": found.get("tokenizer"),
        "vocab_size": vocab,
        "seq_len": _context(frame),
    }


def _context(frame: Any) -> int | None:
    """The runs' training context (``seq_len`` column) when they share one: a plan from their law trains at it."""
    if "seq_len" not in getattr(frame, "columns", ()):
        return None
    values = {int(float(v)) for v in frame["seq_len"].dropna() if positive_number(v)}
    return values.pop() if len(values) == 1 else None


def read_table(source: Any) -> RunsTable:
    """Read a runs table (CSV, JSON, JSON lines, Parquet, a DataFrame, a list of dicts, or a sweep folder).

    Returns one row per usable run with float columns N, D, C = 6ND, loss, and every other column as read.
    Damaged and failed rows, earlier points of loss curves and exact duplicates are set aside and counted
    by reason. Raises `ScalingError` when the source cannot be read or no row is usable.
    """
    import pandas as pd

    raw, label, curves = _load(source)
    if raw.shape[0] == 0:
        raise ScalingError(f"{label} has no rows (a header at most); a fit needs one row per run")
    frame, notes = _upgrade_legacy(raw)
    frame, aliases = canonical_columns(frame)
    notes += aliases
    rows = _Rows(frame)
    if "curve" in rows.frame.columns:
        notes.append(_explode_curves(rows))
        # one run per curve: its last point (the most tokens) is the run's D and final loss
        order = pd.to_numeric(rows.frame["D"], errors="coerce").fillna(0.0)
        last = rows.frame.assign(_order=order).sort_values(["run_id", "_order"]).groupby("run_id").tail(1)
        rows.frame = last.drop(columns="_order").reset_index(drop=True)
    notes += [n for n in [_last_points(rows)] if n]
    _failed(rows)
    notes += _derive_missing(rows)
    _numbers(rows, ("N", "D", "C", "loss"))
    rows.drop(rows.frame.duplicated(subset=["N", "D", "loss"]), "duplicate of another row (same N, D, loss)")
    table = RunsTable(rows.frame, label, int(raw.shape[0]), tuple(rows.dropped.items()), tuple(notes), curves)
    if table.rows_used == 0:
        raise ScalingError(f"no usable run in {table.summary()}")
    return table


CURVE_LOSS_RULE = "val_loss where a curve has at least three evaluations, else train_loss"


def _sweep_curve(path: Path, run: Any) -> Any:
    """One ``curves/<run_id>.csv`` as points (run_id, N, D, loss) by `CURVE_LOSS_RULE`; None if unreadable."""
    import pandas as pd

    try:
        curve = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError):
        return None
    evaluated = pd.to_numeric(curve.get("val_loss", pd.Series(dtype=float)), errors="coerce").notna().sum()
    column = "val_loss" if evaluated >= 3 else "train_loss"
    if column not in curve.columns or "tokens" not in curve.columns:
        return None
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
    rows = _Rows(frame)
    if missing:
        rows.dropped["run without a readable curve file"] = missing
    _numbers(rows, ("N", "D", "loss"))
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
    frame, label, _ = _load(source)
    frame, notes = canonical_columns(frame)
    read = int(frame.shape[0])
    rows = _Rows(frame)
    if "curve" in rows.frame.columns:
        notes.append(_explode_curves(rows))
    missing = [c for c in ("run_id", "N", "D", "loss") if c not in rows.frame.columns]
    if missing:
        raise ScalingError(
            f"loss curves need columns run_id, N, D (tokens seen) and loss; missing {', '.join(missing)} "
            f"(found: {', '.join(map(str, rows.frame.columns))})"
        )
    _numbers(rows, ("N", "D", "loss"))
    rows.frame = rows.frame.sort_values(["run_id", "D"]).reset_index(drop=True)
    table = RunsTable(rows.frame, label, read, tuple(rows.dropped.items()), tuple(notes))
    if table.rows_used == 0:
        raise ScalingError(f"no usable curve point in {table.summary()}")
    return table
