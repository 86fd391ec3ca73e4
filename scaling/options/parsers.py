"""The parsers an option may name that `scaling.units` and `scaling.checks` do not already provide: a whole
number whose range its value object checks, a number, an on/off word, a deployment that names its
accelerator."""

from __future__ import annotations

from typing import Any

from scaling import checks, units
from scaling.cluster import Cluster, parse_cluster
from scaling.errors import ScalingError, quoted

TRUE_WORDS = ("1", "true", "yes", "on", "y")
FALSE_WORDS = ("", "0", "false", "no", "off", "n")


def whole(value: Any, what: str) -> int:
    """A whole number, at least 1 (``8``, ``"8"``, ``"128k"``: the count suffixes of `scaling.units`)."""
    if isinstance(value, str) and checks.digits(value, what, "a whole number") is None:
        try:
            value = units.parse_int(value, what)
        except ScalingError:
            pass  # the check below names the value and what is accepted
    return checks.positive_int(value, what)


def size_or_zero(value: Any, what: str) -> float:
    """A byte size that may be zero (``0``, ``2GiB``)."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool) and str(value).strip() == "0":
        return 0.0
    return units.parse_bytes(value, what)


def seconds_or_zero(value: Any, what: str) -> float:
    """A duration in seconds that may be zero: a bare number is seconds (``0``, ``0.004``), or with a unit
    (``4ms``)."""
    if isinstance(value, bool):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected seconds such as 0.004 or 4ms")
    try:
        number = float(value)
    except (TypeError, ValueError):
        return units.parse_duration(value, what)
    if not number >= 0 or number == float("inf"):
        raise ScalingError(
            f"invalid {what} {quoted(value)}: expected seconds, 0 or more, such as 0.004 or 4ms"
        )
    return number


def integer(value: Any, what: str) -> int:
    """A whole number (``8``, ``"-1"``, ``"4K"``): its range is checked by the value it becomes part of
    (`scaling.memory.Workload`, `scaling.memory.Parallelism`, the estimators), whose messages name it."""
    if isinstance(value, bool):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected a whole number")
    if isinstance(value, int):
        return value
    number = checks.digits(str(value), what, "a whole number such as 8")
    if number is not None:
        return number
    try:
        return units.parse_int(value, what)  # 4K, 1_000
    except ScalingError:
        raise ScalingError(f"invalid {what} {quoted(value)}: expected a whole number such as 8") from None


def real(value: Any, what: str) -> float:
    """A number (``1.5``); its range is checked by the estimator that takes it."""
    if isinstance(value, bool):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected a number") from None


def number(value: Any, what: str) -> float:
    """A finite number greater than zero."""
    return float(checks.positive(value, what))


def count_or_zero(value: Any, what: str) -> float:
    """A decimal count (``2T``) that may be zero."""
    return units.parse_count(value, what, allow_zero=True)


def flag(value: Any, what: str) -> bool:
    """On or off: a bool, or a word a form may send (``yes``, ``on``, ``1``; ``no``, ``off``,
    ``0``, empty)."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ScalingError(f"invalid {what} {quoted(value)}: expected on or off (yes/no, true/false, 1/0)")


def serving_cluster(value: Any, what: str) -> Cluster:
    """A deployment that names its accelerator (``8xH100``)."""
    cluster = parse_cluster(value, what)
    if cluster.accelerator is None:
        raise ScalingError(f"invalid {what} {quoted(value)}: name the accelerator, e.g. 8xH100")
    return cluster
