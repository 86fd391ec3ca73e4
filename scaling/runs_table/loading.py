"""Reading a source into a raw frame: CSV, JSON, JSON lines, Parquet, a DataFrame, a list of records, or a
sweep folder (its runs.csv, and its curves/ when there is one). Nothing is checked here but the format."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError


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


def load_source(source: Any) -> tuple[Any, str, Path | None]:
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
