"""What every command shares: click types for the unit parsers, `--json`, and the renderers of `scaling.render`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from scaling import units
from scaling.errors import ScalingError
from scaling.render import json_safe, key_values, table

__all__ = ["UnitType", "echo_json", "json_option", "key_values", "table", "warn"]


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
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON in base units (bytes, FLOPs, seconds, USD)."
    )(function)


def echo_json(payload: Any) -> None:
    """Print JSON with NaN/inf turned into null, so `jq` and strict parsers accept it."""
    click.echo(json.dumps(json_safe(payload), indent=2, allow_nan=False))


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)
