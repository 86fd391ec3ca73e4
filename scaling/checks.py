"""Validators for values a user can get wrong, and the one rule for where output may be written.

Each validator returns the value in its clean form (a float, an int, the canonical choice) or raises
`ScalingError` naming ``what``, the bad value and what is accepted. Scalars only, except `positive` and
`finite`, which also take numpy arrays (numpy is imported only when an array is passed, so the CLI starts
fast). Call these instead of writing a local ``_positive``: one check, one message, everywhere.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError, quoted
from scaling.inputs import checked_path

Number = Any  # a float, or a numpy array of floats
MAX_NAME_BYTES = 255  # the longest file name ext4, APFS and NTFS accept
# The least share of a device's peak (MFU, MBU) a model takes: below 0.01% no kernel runs that slowly, and a
# time computed from it runs to thousands of years or overflows (judgement: real runs reach 20-60%).
MIN_UTILIZATION = 1e-4
MAX_DIGITS = 30  # no count a user means has more; Python refuses to read a whole number of over 4,300 digits

# A sweep folder's own files (`scaling sweep --out`): its recipe, its runs table and the side file of its
# damaged rows, the folders of per-run curves and checkpoints, its lock and the note naming the lock's holder.
# Only the sweep writes them: `output_path` refuses them to every other command, even with --force.
SWEEP_RECIPE = "sweep.json"
SWEEP_LOCK = ".sweep.lock"
SWEEP_LOCK_HOLDER = ".sweep.lock.json"
SWEEP_RESULTS = ("sweep.json", "runs.csv", "runs.damaged.csv", "curves", "checkpoints")  # moved aside as one
SWEEP_FILES = (*SWEEP_RESULTS, SWEEP_LOCK, SWEEP_LOCK_HOLDER)


def _is_array(value: Any) -> bool:
    return not isinstance(value, (str, bytes)) and (
        isinstance(value, (list, tuple)) or getattr(value, "shape", ()) != ()
    )


def _float(value: Any, what: str, accepted: str) -> float:
    if isinstance(value, bool):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected {accepted}")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected {accepted}") from None


def _array(value: Any, what: str, accepted: str) -> Any:
    import numpy as np

    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise ScalingError(f"invalid {what}: expected {accepted}") from None


def finite(value: Any, what: str) -> Number:
    """A finite number (or array of them): NaN and infinity are refused."""
    accepted = "a finite number"
    if _is_array(value):
        import numpy as np

        array = _array(value, what, accepted)
        if not np.all(np.isfinite(array)):
            raise ScalingError(f"invalid {what}: every value must be {accepted}")
        return array
    number = _float(value, what, accepted)
    if not math.isfinite(number):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected {accepted}")
    return number


def positive(value: Any, what: str, *, allow_zero: bool = False) -> Number:
    """A finite number greater than zero (or at least zero with ``allow_zero``); arrays are checked whole."""
    accepted = "a finite number of zero or more" if allow_zero else "a finite number greater than zero"
    if _is_array(value):
        import numpy as np

        array = _array(value, what, accepted)
        low = array >= 0 if allow_zero else array > 0
        if array.size == 0 or not np.all(np.isfinite(array)) or not np.all(low):
            raise ScalingError(f"invalid {what}: every value must be {accepted}")
        return array
    number = _float(value, what, accepted)
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected {accepted}")
    return number


def digits(text: str, what: str, accepted: str) -> int | None:
    """The whole number ``text`` spells in ASCII digits (a sign allowed), None for any other text; more than
    `MAX_DIGITS` digits is a `ScalingError` (Python itself stops at 4,300 with a traceback)."""
    text = text.strip()
    body = text[1:] if text[:1] in ("+", "-") else text
    if not (body.isascii() and body.isdecimal()):
        return None
    if len(body.lstrip("0")) > MAX_DIGITS:
        raise ScalingError(
            f"invalid {what} {text[:20]!r}... ({len(body)} digits): a whole number here has at most "
            f"{MAX_DIGITS} digits (expected {accepted})"
        )
    return int(text)


def positive_int(value: Any, what: str, *, allow_zero: bool = False) -> int:
    """A whole number at least 1 (or at least 0 with ``allow_zero``); 8.0 and "8" are accepted, 8.5 is not."""
    accepted = "a whole number, 0 or more" if allow_zero else "a whole number, at least 1"
    if isinstance(value, bool):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected {accepted}")
    if isinstance(value, str):
        number = digits(value, what, accepted)
        if number is None:
            raise ScalingError(f"invalid {what} {quoted(value)}: expected {accepted}")
    else:
        try:
            as_float = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ScalingError(f"invalid {what} {quoted(value)}: expected {accepted}") from None
        if not math.isfinite(as_float) or as_float != int(as_float):
            raise ScalingError(f"invalid {what} {quoted(value)}: expected {accepted}")
        number = int(value) if isinstance(value, int) else int(as_float)
    if number < 0 or (number == 0 and not allow_zero):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected {accepted}")
    return number


def fraction(value: Any, what: str, *, allow_zero: bool = False) -> float:
    """A fraction in (0, 1] (or [0, 1] with ``allow_zero``), such as an MFU of 0.4."""
    accepted = f"a fraction in {'[0' if allow_zero else '(0'}, 1] such as 0.4"
    number = _float(value, what, accepted)
    if not math.isfinite(number) or number > 1 or number < 0 or (number == 0 and not allow_zero):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected {accepted}")
    return number


def utilization(value: Any, what: str, *, shown: Any = None) -> float:
    """A share of a device's peak achieved (MFU, MBU, link efficiency): a fraction in [`MIN_UTILIZATION`, 1].
    The one bound every parser of an MFU calls; ``shown`` is the value as the user wrote it (``0.001%``)."""
    accepted = f"a fraction from {MIN_UTILIZATION:g} (0.01%) to 1 such as 0.4 or 40%"
    number = _float(value, what, accepted)
    if not math.isfinite(number) or not MIN_UTILIZATION <= number <= 1:
        raise ScalingError(f"invalid {what} {quoted(value if shown is None else shown)}: expected {accepted}")
    return number


def at_most(value: float, limit: float, what: str, limit_text: str | None = None) -> float:
    """``value`` itself when it does not exceed ``limit``; ``limit_text`` says where the limit comes from."""
    if not value <= limit:
        why = f" ({limit_text})" if limit_text else ""
        raise ScalingError(f"invalid {what} {quoted(value)}: must be at most {limit:.6g}{why}")
    return value


def at_least(value: float, limit: float, what: str, limit_text: str | None = None) -> float:
    """``value`` itself when it is not below ``limit``; ``limit_text`` says where the limit comes from."""
    if not value >= limit:
        why = f" ({limit_text})" if limit_text else ""
        raise ScalingError(f"invalid {what} {quoted(value)}: must be at least {limit:.6g}{why}")
    return value


def choice(value: Any, choices: Sequence[str], what: str, *, aliases: dict[str, str] | None = None) -> str:
    """One of ``choices``, matched after stripping and lower-casing (``aliases`` map other names
    onto them)."""
    key = str(value).strip().lower()
    key = (aliases or {}).get(key, key)
    if key not in choices:
        raise ScalingError(f"unknown {what} {quoted(value)}: expected one of {', '.join(choices)}")
    return key


def output_path(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    suffixes: Sequence[str] = (),
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Check that ``path`` may be written, before any work is done, and return it as a `Path`.

    Refused: a suffix not in ``suffixes`` (when given), any of the ``inputs`` (never write over what was read,
    even with ``force``), a file a sweep folder owns (`SWEEP_FILES`, also with ``force``: it may replace a
    previous output of the same command, never another command's work), an existing file unless ``force``, a
    directory, and a parent folder that cannot be created or written. The parent folder is not created here;
    the writer creates it.
    """
    target = checked_path(path, "output")
    text = str(path)
    if not text.strip():
        raise ScalingError("invalid output path '': expected a file name")
    if suffixes and target.suffix.lower() not in {s.lower() for s in suffixes}:
        raise ScalingError(
            f"invalid output path {quoted(text)}: expected a file ending in {' or '.join(suffixes)}"
        )
    resolved = target.expanduser().resolve()
    for item in inputs:
        read = Path(item).expanduser().resolve()
        # a folder is read through the files a sweep keeps in it (runs.csv, curves/...), its own or not
        inside = read in resolved.parents and resolved.relative_to(read).parts[0] in SWEEP_RESULTS
        if read == resolved or (inside and read.is_dir()):
            raise ScalingError(f"refusing to write over the input {quoted(text)}: choose another output path")
    owner = _sweep_owner(resolved)
    if owner is not None:
        raise ScalingError(
            f"refusing to write {quoted(text)}: it belongs to the sweep in {quoted(str(owner))} (only "
            "scaling sweep writes it; --force replaces this command's own output, never a sweep's): "
            "choose another path"
        )
    if len(target.name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise ScalingError(
            f"invalid output path {quoted(text)}: a file name is at most {MAX_NAME_BYTES} bytes"
        )
    if target.is_dir():
        raise ScalingError(f"invalid output path {quoted(text)}: it is a folder, expected a file name")
    if target.exists() and not force:
        raise ScalingError(f"refusing to overwrite {quoted(text)}: pass --force to replace it")
    parent = resolved.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ScalingError(f"cannot write {quoted(text)}: {quoted(str(parent))} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ScalingError(f"cannot write {quoted(text)}: the folder {quoted(str(parent))} is not writable")
    return target


def _sweep_owner(resolved: Path) -> Path | None:
    """The sweep folder that owns ``resolved`` (one of its `SWEEP_FILES`, or a file under its curves/ or
    checkpoints/), or None. A sweep folder is one holding a recipe (sweep.json) or a lock."""
    for folder in resolved.parents:
        name = resolved.relative_to(folder).parts[0]
        if name in SWEEP_FILES and any((folder / n).is_file() for n in (SWEEP_RECIPE, SWEEP_LOCK)):
            return folder
    return None


def positive_constants(
    entry: Any, names: Sequence[str], where: str, exponents: Sequence[str] = (), exponent_range=(1e-3, 10.0)
) -> dict[str, float]:
    """A law file's object of named positive numbers, each checked (``exponents`` within ``exponent_range``);
    one line naming the object and the accepted names otherwise."""
    if not isinstance(entry, dict):
        raise ScalingError(f"{where} is missing or not an object; expected {', '.join(names)}")
    missing = [n for n in names if n not in entry]
    if missing:
        raise ScalingError(f"{where} lacks {', '.join(missing)}; expected {', '.join(names)}")
    out = {}
    for n in names:
        value = entry[n]
        if isinstance(value, (bool, str, list, dict)) or value is None:
            raise ScalingError(f"invalid {where} {n} {quoted(value)}: expected a number")
        out[n] = positive(value, f"{where} {n}")
        lo, hi = exponent_range
        if n in exponents and not lo <= out[n] <= hi:
            raise ScalingError(f"invalid {where} {n} {out[n]:g}: expected an exponent from {lo:g} to {hi:g}")
    return out
