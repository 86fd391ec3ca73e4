"""Units: one parser per kind of quantity, and human formatting the other way.

Conventions (used everywhere in the package):

* counts (parameters, tokens) are decimal: K = 1e3, M = 1e6, B = G = 1e9, T = 1e12, P = 1e15;
* bytes: ``GB`` = 1e9 and ``GiB`` = 2**30 (a lowercase ``b`` means bits, as in accelerate's parser);
* FLOPs are plain operation counts; 1 PF-day = 1e15 FLOP/s x 86,400 s = 8.64e19 FLOPs
  (GPT-3 paper, Table D.1 caption; Kaplan et al. 2020, section 1.3), and training a model of N parameters
  on D tokens costs C = 6ND of them (`six_nd`);
* durations are seconds, money is US dollars, fractions are in (0, 1].

Every parser accepts a number as well as a string, raises `ScalingError` naming the bad value and the
accepted forms, and never returns NaN, infinity, zero or a negative value unless asked to.
"""

from __future__ import annotations

import math
import re
from typing import Any

from scaling import checks
from scaling.errors import ScalingError, quoted

PF_DAY_FLOPS = 1e15 * 86_400  # 8.64e19 FLOPs (GPT-3 Table D.1 caption)
BACKWARD_MULTIPLIER = 2.0  # backward = 2 x forward (Kaplan et al. 2020 §2.1; Hoffmann et al. 2022, App. F)
# Training FLOPs per parameter per token: forward 2 (one multiply-accumulate) + backward 2 x 2 = 6
# (Kaplan et al. 2020 §2.1). The one home of "6" in C = 6ND: flops, laws, fits,
# runs tables and the plan use it.
FLOPS_PER_PARAM_TOKEN = 2.0 * (1.0 + BACKWARD_MULTIPLIER)
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86_400.0
GB = 1e9
GIB = 2.0**30
LOSS_UNITS = ("nats/token", "nats/byte")  # a loss per token, or per byte for byte-level runs

_SI = {
    "": 1.0,
    "k": 1e3,
    "m": 1e6,
    "b": 1e9,
    "g": 1e9,
    "t": 1e12,
    "p": 1e15,
    "e": 1e18,
    "z": 1e21,
    "y": 1e24,
}
_NUMBER = r"[-+]?(?:\d[\d_,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _as_text(value: object) -> str:
    return str(value).strip()


class _Pattern:
    """A regular expression compiled on its first match (then from `re`'s cache): a command compiles only the
    patterns of the quantities it parses."""

    def __init__(self, pattern: str, flags: int = 0):
        self.pattern, self.flags = pattern, flags

    def match(self, text: str) -> re.Match[str] | None:
        return re.match(self.pattern, text, self.flags)


_GROUPED = _Pattern(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[eE][-+]?\d+)?$")


def _number(text: str, what: str, accepted: str) -> float:
    """A number; commas only as thousands separators (``1,000,000``), since ``1,5`` means 1.5 in much of the
    world and 15 here would be a silent error."""
    if "," in text and not _GROUPED.match(text.replace("_", "")):
        raise ScalingError(
            f"invalid {what} {quoted(text)}: commas separate thousands only (1,000); write decimals as 1.5"
        )
    try:
        return float(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise ScalingError(f"invalid {what} {quoted(text)}: expected {accepted}") from None


def _check(value: float, raw: object, what: str, accepted: str, *, allow_zero: bool = False) -> float:
    if math.isnan(value) or math.isinf(value):
        raise ScalingError(f"invalid {what} {quoted(raw)}: must be a finite number ({accepted})")
    if value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "greater than zero"
        raise ScalingError(f"invalid {what} {quoted(raw)}: must be {bound} ({accepted})")
    return value


# --------------------------------------------------------------------------------------------- counts
_COUNT_ACCEPTED = "a count such as 7B, 1.4T, 350M, 70e9 or 1_000_000 (K/M/B/T are 1e3/1e6/1e9/1e12)"
_COUNT_RE = _Pattern(rf"^({_NUMBER})\s*([kmbgtpezy]?)$", re.IGNORECASE)


def parse_count(value: object, what: str = "count", *, allow_zero: bool = False) -> float:
    """Parse a decimal count: ``7B`` -> 7e9, ``1.4T`` -> 1.4e12, ``70e9``, ``350M``, ``1_000``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        checked = _check(float(value), value, what, _COUNT_ACCEPTED, allow_zero=allow_zero)
        return _at_least_one(checked, value, what)
    text = _as_text(value)
    match = _COUNT_RE.match(text)
    if not match:
        raise ScalingError(f"invalid {what} {quoted(text)}: expected {_COUNT_ACCEPTED}")
    number = _number(match.group(1), what, _COUNT_ACCEPTED)
    result = number * _SI[match.group(2).lower()]
    return _at_least_one(_check(result, value, what, _COUNT_ACCEPTED, allow_zero=allow_zero), value, what)


def parse_int(value: object, what: str = "integer", *, allow_zero: bool = False) -> int:
    """Parse a count that must be a whole number (layers, heads, devices)."""
    result = parse_count(value, what, allow_zero=allow_zero)
    if result != int(result):
        raise ScalingError(f"invalid {what} {quoted(value)}: must be a whole number")
    return int(result)


# ---------------------------------------------------------------------------------------------- FLOPs
_FLOPS_ACCEPTED = "FLOPs such as 3.14e23, 5.76e23 FLOP, 100 ZFLOP or 3640 PF-days"
_FLOPS_RE = _Pattern(
    rf"^({_NUMBER})\s*(?:(pf[-_ ]?s?[-_ ]?days?|pfs[-_]?days?|petaflop/?s?[-_ ]?days?)"
    r"|([kmgtpezy]?)\s*(?:flops?|flop)?)$",
    re.IGNORECASE,
)


def _at_least_one(result: float, raw: object, what: str) -> float:
    """A count (parameters, tokens, FLOPs) is zero where allowed, or at least one: 5e-324 parameters or
    1e-300 FLOPs are nobody's input."""
    if 0 < result < 1:
        raise ScalingError(
            f"invalid {what} {quoted(raw)}: must be at least 1 (a count; 0 where zero is allowed)"
        )
    return result


def parse_flops(value: object, what: str = "FLOPs") -> float:
    """Parse a FLOP count: ``3.14e23``, ``3640 PF-days``, ``100ZFLOP``, ``1e21 FLOPs``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _at_least_one(_check(float(value), value, what, _FLOPS_ACCEPTED), value, what)
    text = _as_text(value)
    match = _FLOPS_RE.match(text)
    if not match:
        raise ScalingError(f"invalid {what} {quoted(text)}: expected {_FLOPS_ACCEPTED}")
    number = _number(match.group(1), what, _FLOPS_ACCEPTED)
    if match.group(2):
        result = number * PF_DAY_FLOPS
    else:
        result = number * _SI[(match.group(3) or "").lower()]
    return _at_least_one(_check(result, value, what, _FLOPS_ACCEPTED), value, what)


def six_nd(params: Any, tokens: Any) -> Any:
    """Training FLOPs by the 6ND rule, ``FLOPS_PER_PARAM_TOKEN x params x tokens`` (Kaplan et al. 2020 §2.1).

    Broadcasts over numpy arrays; ``params`` is the parameter count under the caller's convention (total
    parameters for the fitters and the runs table, active parameters for MoE)."""
    return FLOPS_PER_PARAM_TOKEN * params * tokens


# ---------------------------------------------------------------------------------------------- bytes
_BYTES_ACCEPTED = "a size such as 80GB (80e9 bytes), 80GiB (80 x 2^30 bytes), 512MiB or 1.5TB"
# prefixes in either case (kB, KiB, GB); only the final b/B is case-sensitive (b = bits, B = bytes)
_BYTES_RE = _Pattern(rf"^({_NUMBER})\s*(?:([kmgtpeKMGTPE])(i?)([bB])|([bB])|)$")
_BIN = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def parse_bytes(value: object, what: str = "size") -> float:
    """Parse a byte size. ``GB``/``MB`` are decimal, ``GiB``/``MiB`` binary, a lowercase ``b`` means bits."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _check(float(value), value, what, _BYTES_ACCEPTED)
    text = _as_text(value)
    match = _BYTES_RE.match(text.replace(" ", ""))
    if not match:
        raise ScalingError(f"invalid {what} {quoted(text)}: expected {_BYTES_ACCEPTED}")
    number = _number(match.group(1), what, _BYTES_ACCEPTED)
    prefix, binary, unit = match.group(2), match.group(3), match.group(4) or match.group(5) or "B"
    scale = 1.0
    if prefix:
        power = _BIN[prefix.lower()]
        scale = 1024.0**power if binary else 1000.0**power
    if unit == "b":
        scale /= 8.0
    return _check(number * scale, value, what, _BYTES_ACCEPTED)


# ------------------------------------------------------------------------------------------ durations
_DURATION_ACCEPTED = "a duration such as 30d, 720h, 3w, 90min, 45s or 50ms (a bare number is days)"
_DURATION_UNITS = {
    "ms": 1e-3,
    "msec": 1e-3,
    "millisecond": 1e-3,
    "milliseconds": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86_400.0,
    "day": 86_400.0,
    "days": 86_400.0,
    "w": 7 * 86_400.0,
    "wk": 7 * 86_400.0,
    "week": 7 * 86_400.0,
    "weeks": 7 * 86_400.0,
    "mo": 30 * 86_400.0,
    "month": 30 * 86_400.0,
    "months": 30 * 86_400.0,
    "y": 365 * 86_400.0,
    "yr": 365 * 86_400.0,
    "year": 365 * 86_400.0,
    "years": 365 * 86_400.0,
}
_DURATION_RE = _Pattern(rf"^({_NUMBER})\s*([a-z]*)$", re.IGNORECASE)


def parse_duration(value: object, what: str = "duration") -> float:
    """Parse a duration to seconds: ``30d``, ``720h``, ``3w``, ``90min``. A bare number means days."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _check(float(value) * SECONDS_PER_DAY, value, what, _DURATION_ACCEPTED)
    text = _as_text(value)
    match = _DURATION_RE.match(text)
    unit = match.group(2).lower() if match else None
    if not match or (unit and unit not in _DURATION_UNITS):
        raise ScalingError(f"invalid {what} {quoted(text)}: expected {_DURATION_ACCEPTED}")
    number = _number(match.group(1), what, _DURATION_ACCEPTED)
    return _check(number * _DURATION_UNITS[unit or "d"], value, what, _DURATION_ACCEPTED)


# -------------------------------------------------------------------------------------------- money
_MONEY_ACCEPTED = "an amount in US dollars such as 2.49, $2.49/h, $2M or 1.5k"
_MONEY_RE = _Pattern(
    rf"^(?:usd\s*)?\$?\s*({_NUMBER})\s*([kmbt]?)\s*(?:usd)?\s*(?:/\s*(?:gpu[-_ ]?)?(?:h|hr|hour))?$",
    re.IGNORECASE,
)


def parse_money(value: object, what: str = "amount", *, allow_zero: bool = False) -> float:
    """Parse US dollars: ``2.49``, ``$2.49/h`` (a price per device-hour), ``$2M``, ``1.5k``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _check(float(value), value, what, _MONEY_ACCEPTED, allow_zero=allow_zero)
    text = _as_text(value)
    match = _MONEY_RE.match(text)
    if not match:
        raise ScalingError(f"invalid {what} {quoted(text)}: expected {_MONEY_ACCEPTED}")
    number = _number(match.group(1), what, _MONEY_ACCEPTED)
    return _check(number * _SI[match.group(2).lower()], value, what, _MONEY_ACCEPTED, allow_zero=allow_zero)


# ---------------------------------------------------------------------------------------- fractions
_FRACTION_ACCEPTED = "a fraction in (0, 1] such as 0.4 or 40%"


def parse_fraction(value: object, what: str = "fraction") -> float:
    """Parse a fraction: ``0.4`` or ``40%``. Must lie in (0, 1]."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    else:
        text = _as_text(value)
        percent = text.endswith("%")
        result = _number(text.rstrip("%").strip(), what, _FRACTION_ACCEPTED)
        if percent:
            result /= 100.0
    if math.isnan(result) or not 0.0 < result <= 1.0:
        raise ScalingError(f"invalid {what} {quoted(value)}: expected {_FRACTION_ACCEPTED}")
    return result


def parse_utilization(value: object, what: str = "MFU") -> float:
    """Parse a share of a device's peak (an MFU, an MBU): ``0.4`` or ``40%``, within the bounds of
    `scaling.checks.utilization`."""
    return checks.utilization(parse_fraction(value, what), what, shown=value)


# ------------------------------------------------------------------------------------------ formatting
_COUNT_SUFFIXES = [(1e15, "P"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")]


def _sig(value: float, digits: int) -> str:
    text = f"{value:.{digits}g}"
    if (
        "e+" in text
    ):  # plain, rounded notation for large values (13,192 not 1.32e+04); small ones stay exponents
        text = f"{value:,.0f}"
    return text


def format_count(value: float, digits: int = 3) -> str:
    """``7e9`` -> ``7B``, ``1.4e12`` -> ``1.4T``, ``6738415616`` -> ``6.74B`` (decimal, never 1024-based)."""
    if value is None or math.isnan(value):
        return "n/a"
    magnitude = abs(value)
    for scale, suffix in _COUNT_SUFFIXES:
        if magnitude >= scale * 0.9995:
            return f"{_sig(value / scale, digits)}{suffix}"
    return _sig(value, digits)


def format_flops(value: float, digits: int = 3) -> str:
    """``3.14e23`` -> ``3.14e23 FLOP``."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.{digits - 1}e}".replace("e+", "e") + " FLOP"


def format_pf_days(flops: float, digits: int = 3) -> str:
    return f"{_sig(flops / PF_DAY_FLOPS, digits)} PF-days"


def format_bytes(value: float, binary: bool = True, digits: int = 3) -> str:
    """``2**31`` -> ``2 GiB`` (binary, the default for device memory) or ``2.15 GB`` (decimal)."""
    if value is None or math.isnan(value):
        return "n/a"
    base, units = (
        (1024.0, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"])
        if binary
        else (
            1000.0,
            ["B", "KB", "MB", "GB", "TB", "PB"],
        )
    )
    magnitude, index = abs(value), 0
    while magnitude >= base * 0.9995 and index < len(units) - 1:
        magnitude /= base
        index += 1
    sign = "-" if value < 0 else ""
    return f"{sign}{_sig(magnitude, digits)} {units[index]}"


def format_duration(seconds: float, digits: int = 3) -> str:
    """Seconds to the largest sensible unit: ``1.8e6`` -> ``20.8 days``."""
    if seconds is None or math.isnan(seconds):
        return "n/a"
    for scale, unit in [(365 * 86_400.0, "years"), (86_400.0, "days"), (3600.0, "hours"), (60.0, "min")]:
        if abs(seconds) >= scale * (1.0 if unit != "years" else 2.0):
            return f"{_sig(seconds / scale, digits)} {unit}"
    return f"{_sig(seconds, digits)} s"


def format_usd(value: float, digits: int = 3) -> str:
    """``1.23e6`` -> ``$1.23M``."""
    if value is None or math.isnan(value):
        return "n/a"
    for scale, suffix in [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")]:
        if abs(value) >= scale * 0.9995:
            return f"${_sig(value / scale, digits)}{suffix}"
    return f"${value:,.2f}"


def format_epochs(value: float) -> str:
    """Epochs over the unique data to two decimals (``3.72``): the one way they are printed."""
    return f"{value:.2f}"


def format_loss(value: float | None) -> str:
    """A loss to four decimals (``1.9265``): the one way every command and table prints a loss."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.4f}"


def format_fraction(value: float, digits: int = 3) -> str:
    """``0.4`` -> ``40%``."""
    return f"{_sig(value * 100.0, digits)}%"
