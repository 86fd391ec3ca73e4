"""What every command shares: click types for the unit parsers, `--json`, and table rendering."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from scaling import units
from scaling.errors import ScalingError


class UnitType(click.ParamType):
    """A click type backed by one of the parsers in `scaling.units` (errors stay one line, exit 2)."""

    def __init__(self, name: str, parser: Callable[..., Any]):
        self.name = name
        self._parser = parser

    def convert(self, value, param, ctx):  # noqa: D102
        if not isinstance(value, str):
            return value
        what = f"--{param.name.replace('_', '-')}" if param is not None and param.name else self.name
        try:
            return self._parser(value, what)
        except ScalingError:
            raise
        except ValueError as exc:  # pragma: no cover - parsers raise ScalingError
            raise ScalingError(f"invalid {what} {value!r}: {exc}") from None


COUNT = UnitType("count", units.parse_count)
INT = UnitType("integer", units.parse_int)
FLOPS = UnitType("flops", units.parse_flops)
BYTES = UnitType("bytes", units.parse_bytes)
DURATION = UnitType("duration", units.parse_duration)
MONEY = UnitType("usd", units.parse_money)
FRACTION = UnitType("fraction", units.parse_fraction)
CLUSTER = UnitType("cluster", units.parse_cluster)


def json_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON in base units (bytes, FLOPs, seconds, USD).")(
        function
    )


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


def echo_json(payload: Any) -> None:
    """Print JSON with NaN/inf turned into null, so `jq` and strict parsers accept it."""
    click.echo(json.dumps(_clean(payload), indent=2, allow_nan=False))


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str] | None = None, indent: int = 0) -> str:
    """A plain aligned text table."""
    rows = [[str(c) for c in row] for row in rows]
    if headers:
        rows = [list(map(str, headers))] + rows
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(len(r) for r in rows))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)]
        lines.append(" " * indent + "  ".join(cells).rstrip())
        if headers and n == 0:
            lines.append(" " * indent + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def key_values(pairs: Iterable[tuple[str, Any]], indent: int = 2) -> str:
    """`label  value` lines, aligned."""
    pairs = [(str(k), str(v)) for k, v in pairs]
    if not pairs:
        return ""
    width = max(len(k) for k, _ in pairs)
    return "\n".join(" " * indent + f"{k.ljust(width)}  {v}" for k, v in pairs)


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)
