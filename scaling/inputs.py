"""Reading a file a user names: only a regular file, at most `MAX_INPUT_BYTES`, as bytes, text or JSON.

Every input file (a runs table, a sweep's runs.csv and curves, a catalog CSV such as ``--known-models`` or an
accelerator file, a law JSON, a ``config.json``) is read through `read_bytes`, so a device (``/dev/zero``), a
FIFO, a folder or a path holding a NUL byte is refused in one line instead of hanging or raising, and a file
over the limit is refused without reading it whole. JSON is parsed through `parse_json`, which refuses
nesting too deep for Python's parser and integers too long for it in the same way.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError, quoted

MAX_INPUT_BYTES = 200_000_000  # 200 MB: a runs table of about 2 million rows; a law or config is far smaller


def checked_path(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a `Path`, refused when it holds a NUL byte (no file system accepts one)."""
    text = os.fspath(path)
    if "\x00" in str(text):
        raise ScalingError(f"invalid {what} path {quoted(str(text))}: a path cannot hold a NUL byte")
    return Path(text)


def read_bytes(path: str | os.PathLike[str], what: str = "input file") -> bytes:
    """The bytes of a regular file of at most `MAX_INPUT_BYTES`; anything else is a `ScalingError`."""
    path = checked_path(path, what)
    try:  # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ScalingError(f"{what} {quoted(str(path))} does not exist") from None
    except OSError as exc:
        raise ScalingError(f"cannot read {what} {quoted(str(path))}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "a device, pipe or socket"
        raise ScalingError(f"cannot read {what} {quoted(str(path))}: it is {kind}, not a regular file")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise ScalingError(f"cannot read {what} {quoted(str(path))}: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise ScalingError(
            f"{what} {quoted(str(path))} is over {MAX_INPUT_BYTES // 1_000_000} MB, the limit on an input "
            "file"
        )
    return data


def read_text(path: str | os.PathLike[str], what: str = "input file") -> str:
    """A regular file's UTF-8 text (a byte-order mark dropped), by `read_bytes`."""
    raw = read_bytes(path, what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = "; it looks like UTF-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ScalingError(
            f"cannot read {what} {quoted(os.fspath(path))}: not UTF-8 text (byte {exc.start}{hint}); "
            "save it as UTF-8"
        ) from None


def parse_json(text: str | bytes, what: str, **options: Any) -> Any:
    """``json.loads(text, **options)``; invalid JSON, nesting deeper than Python's parser goes and integers
    longer than Python reads are a `ScalingError` naming ``what``."""
    try:
        return json.loads(text, **options)
    except RecursionError:
        raise ScalingError(f"{what} is not JSON this program reads (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, and the int-string limit of a 5,000-digit number
        if isinstance(exc, ScalingError):
            raise
        raise ScalingError(f"{what} is not JSON ({str(exc).splitlines()[0][:200]})") from None


def column_positions(names: list[str], columns: dict[str, Any], missing: Any) -> dict[str, int]:
    """Each column's position in a header of (already normalised) ``names``: the first name among the
    column's accepted ones; a column with none raises ``missing(column)``, an error naming the file."""
    out = {}
    for column, accepted in columns.items():
        found = [i for i, n in enumerate(names) if n in accepted]
        if not found:
            raise missing(column)
        out[column] = found[0]
    return out
