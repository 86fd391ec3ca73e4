"""Reading a source into a raw frame: CSV, JSON, JSON lines, Parquet, a DataFrame, a list of records, or a
sweep folder (its runs.csv, and its curves/ when there is one). Nothing is checked here but the format."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from scaling import inputs
from scaling.errors import ScalingError


def _parquet(path: Path) -> Any:
    import pandas as pd

    data = inputs.read_bytes(path, "runs file")
    try:
        return pd.read_parquet(io.BytesIO(data))
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
    except RecursionError:
        raise ScalingError(f"cannot read {str(path)!r} as JSON: it is nested too deeply") from None
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
            records.append(inputs.parse_json(line, f"{str(path)!r} (JSON lines) line {number}"))
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


def _without_ragged_rows(text: str, label: str) -> tuple[str, list[int]]:
    """The CSV ``text`` without its rows that have more fields than the header, and the line numbers of
    those rows (1 is the header; a row's number is the line it ends on)."""
    import csv

    reader = csv.reader(io.StringIO(text))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    fields, ragged = None, []
    try:
        for row in reader:
            if not row:
                continue
            if fields is None:
                fields = len(row)
            elif len(row) > fields:
                ragged.append(reader.line_num)
                continue
            writer.writerow(row)
    except csv.Error as exc:
        raise ScalingError(f"cannot read runs file {label!r}: line {reader.line_num}: {exc}") from None
    return out.getvalue(), ragged


def _read_csv(text: str) -> Any:
    import warnings

    import pandas as pd

    with warnings.catch_warnings():  # index_col=False warns of a first row longer than the header
        warnings.simplefilter("error", pd.errors.ParserWarning)
        return pd.read_csv(io.StringIO(text), index_col=False)


def _csv_frame(text: str, label: str) -> tuple[Any, dict[str, int]]:
    """A CSV's frame and its rows set aside (reason: count). No character starts a comment: a field such as
    the colour ``#faebdd`` is data. A row with more fields than the header is set aside and named by line."""
    import pandas as pd

    try:
        try:
            return _read_csv(text), {}
        except (pd.errors.ParserError, pd.errors.ParserWarning):  # a row longer than the header, most likely
            text, ragged = _without_ragged_rows(text, label)
            frame = _read_csv(text)
    except (ValueError, pd.errors.ParserWarning) as exc:  # ParserError and EmptyDataError are ValueErrors
        raise ScalingError(f"cannot read runs file {label!r}: {str(exc).splitlines()[0]}") from None
    if not ragged:
        return frame, {}
    shown = ", ".join(map(str, ragged[:5])) + (f" and {len(ragged) - 5} more" if len(ragged) > 5 else "")
    reason = f"more fields than the header's {len(frame.columns)} (line{'s' * (len(ragged) > 1)} {shown})"
    return frame, {reason: len(ragged)}


def load_source(source: Any) -> tuple[Any, str, Path | None, dict[str, int]]:
    """(raw frame, a label for messages, the sweep folder's curves/ when ``source`` is a sweep folder, the
    rows set aside while reading: reason -> count)."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source.copy(), "the runs table", None, {}
    if isinstance(source, (list, tuple)):
        return _frame_from_records(list(source), "the runs table"), "the runs table", None, {}
    path = inputs.checked_path(str(source), "runs file")
    if path.is_dir():
        path = path / "runs.csv"
    curves = path.parent / "curves" if (path.parent / "curves").is_dir() else None  # a sweep's curves/
    if not path.exists():
        raise ScalingError(
            f"runs file {str(path)!r} does not exist (expected a CSV, JSON, JSON lines or Parquet file, "
            "or a sweep folder holding runs.csv)"
        )
    label = str(path)
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        return _parquet(path), label, curves, {}
    text = inputs.read_text(path, "runs file")
    if "\x00" in text:
        raise ScalingError(f"cannot read {label!r}: it is binary, not a CSV, JSON or JSON lines table")
    if suffix.endswith((".jsonl", ".ndjson", ".json")):
        return _frame_from_records(_json_records(path, text), label), label, curves, {}
    frame, set_aside = _csv_frame(text, label)
    return frame, label, curves, set_aside
