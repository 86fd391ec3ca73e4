"""What every command shares: click options generated from the declarations of `scaling.options`, click types
for the unit parsers, `--json`, and the renderers of `scaling.render`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import click
from click.core import ParameterSource

from scaling import options, units
from scaling.cluster import parse_cluster
from scaling.errors import ScalingError, one_line
from scaling.options import JSON, Declaration, Option, Parsed
from scaling.render import json_safe, key_values, table

__all__ = [
    "UnitType",
    "declared",
    "echo_json",
    "given",
    "json_option",
    "key_values",
    "parse_given",
    "table",
    "warn",
]


# How the help names a value, by the parser that reads it.
METAVARS = {
    units.parse_count: "COUNT",
    units.parse_int: "INTEGER",
    units.parse_flops: "FLOPS",
    units.parse_bytes: "BYTES",
    units.parse_duration: "DURATION",
    units.parse_money: "USD",
    units.parse_fraction: "FRACTION",
    units.parse_utilization: "FRACTION",
    parse_cluster: "CLUSTER",
    options.whole: "INTEGER",
    options.count_or_zero: "COUNT",
    options.number: "FLOAT",
    options.integer: "INTEGER",
    options.real: "FLOAT",
    options.serving_cluster: "CLUSTER",
}


class DeclaredOption(click.Option):
    """A click option generated from an `Option`; ``declared`` is that option."""

    def __init__(self, *args: Any, declared: Option, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.declared = declared


class DeclaredArgument(click.Argument):
    """The MODEL argument, generated from its `Option`."""

    def __init__(self, *args: Any, declared: Option, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.declared = declared


def _click_parameter(option: Option, required: bool) -> Callable[[Any], Any]:
    """One click parameter for ``option``. Click collects the text; `Declaration.parse` parses it (so the
    command line, the app and the library parse alike), and click shows the declared default in the help."""
    if option.is_argument:
        return click.argument(option.name, required=required, cls=DeclaredArgument, declared=option)
    decls = (
        [f"{option.flags[0]}/{option.off_flag}", *option.flags[1:]] if option.off_flag else list(option.flags)
    )
    kwargs: dict[str, Any] = dict(help=option.help, required=required)
    if option.default is not None:
        kwargs["default"] = option.default
    if option.is_flag:
        kwargs.update(is_flag=True, show_default=bool(option.off_flag))
    else:
        kwargs.update(show_default=option.default is not None, multiple=option.multiple)
        if option.choices:
            kwargs["type"] = click.Choice(option.choices)
        elif option.file:
            kwargs["type"] = click.Path(dir_okay=False, exists=option.file == "in")
        else:
            kwargs.update(type=click.STRING, metavar=METAVARS.get(option.parse, "TEXT"))
    return click.option(*decls, option.name, cls=DeclaredOption, declared=option, **kwargs)


def declared(*declared_options: Option, required: Iterable[str] = ()) -> Callable[[Any], Any]:
    """Decorate a command with the click parameters of these options, in their order (a declaration's
    ``required`` ones required)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(declared_options):
            function = _click_parameter(option, option.name in required)(function)
        return function

    return decorate


def given(values: dict[str, Any]) -> dict[str, Any]:
    """The command's values that the user gave: click fills in the declared defaults for the help, and the
    declaration fills them in again when parsing, so a value at its default counts as not given."""
    ctx = click.get_current_context()
    return {k: v for k, v in values.items() if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT}


def parse_given(declaration: Declaration, values: dict[str, Any]) -> Parsed:
    """``declaration.parse`` of the given values among a command's (its output options left out)."""
    return declaration.parse({k: v for k, v in given(values).items() if k in declaration})


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
CLUSTER = UnitType("cluster", parse_cluster)


def json_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return declared(JSON)(function)


def echo_json(payload: Any) -> None:
    """Print JSON with NaN/inf turned into null, so `jq` and strict parsers accept it."""
    click.echo(json.dumps(json_safe(payload), indent=2, allow_nan=False))


def warn(message: str) -> None:
    click.echo(one_line(f"warning: {message}"), err=True)
