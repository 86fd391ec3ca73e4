"""The `scaling` command line.

Commands are thin: each parses its options, calls one library function and renders the result. Command
modules import only click and the light parts of the package at module level, so `scaling --help` and the
estimator commands answer instantly; scipy, pandas, plotly and torch are imported inside the commands that
need them. ``scaling NAME`` imports only the module that holds NAME (`scaling.commands.HOMES`); the command
list (``--help``) and a name not found there import every module under `scaling.commands`.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any

import click

from scaling.errors import ScalingError, one_line, quoted


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001
    """Python warnings (numpy, scipy, plotly, our own) as one ``warning:`` line each, without a source
    line."""
    click.echo(one_line(f"warning: {message}"), err=True)


def _refuse_nul_bytes(args: Any) -> None:
    """No argument may hold a NUL byte: no path, name or number does, and Python's file calls raise on one.
    (A shell cannot pass one; a program calling `main` with a list can.)"""
    for arg in args or ():
        if "\x00" in str(arg):
            raise ScalingError(f"invalid argument {str(arg)[:60]!r}: an argument cannot hold a NUL byte")


class ScalingGroup(click.Group):
    """A click group whose errors are one line on stderr with exit status 2, never a traceback, and whose
    Python warnings print as ``warning: ...`` lines, for every command. Its commands are the ``COMMANDS`` of
    the modules under `scaling.commands`, each module imported when one of its commands is first needed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loaded: set[str] = set()  # modules of scaling.commands whose commands are registered

    def load(self, module_name: str) -> None:
        """Register the commands of ``scaling.commands.<module_name>`` (once)."""
        if module_name in self.loaded:
            return
        self.loaded.add(module_name)
        module = importlib.import_module(f"scaling.commands.{module_name}")
        for command in getattr(module, "COMMANDS", []):
            self.add_command(command)

    def load_all(self) -> None:
        import pkgutil

        import scaling.commands as package

        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                self.load(info.name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_all()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from scaling.commands import HOMES

        if cmd_name not in self.commands and cmd_name in HOMES:
            self.load(HOMES[cmd_name])
        if cmd_name not in self.commands:
            self.load_all()
        return super().get_command(ctx, cmd_name)

    def main(  # type: ignore[override]
        self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra
    ):
        with warnings.catch_warnings():  # Python's filters stay: library deprecation notices remain hidden
            warnings.showwarning = _show_warning
            return self._main(args, prog_name, complete_var, standalone_mode, **extra)

    def _main(self, args, prog_name, complete_var, standalone_mode, **extra):
        try:
            _refuse_nul_bytes(args)
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except ScalingError as exc:
            click.echo(one_line(f"error: {exc}"), err=True)
            sys.exit(2)
        except click.UsageError as exc:
            hint = ""
            if exc.ctx is not None and exc.ctx.command is not None and exc.ctx.command_path:
                hint = f" (see '{exc.ctx.command_path} --help')"
            click.echo(one_line(f"error: {exc.format_message()}{hint}"), err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(one_line(f"error: {exc.format_message()}"), err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:  # a path the user gave cannot be read or written
            where = f": {quoted(exc.filename)}" if exc.filename else ""
            click.echo(one_line(f"error: {exc.strerror or exc}{where}"), err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


@click.group(
    cls=ScalingGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.version_option(package_name="scaling", prog_name="scaling")
def main() -> None:
    """Scaling-law and compute-budget calculator for planning language-model training.

    \b
    Start with:   scaling plan --gpus 512xH100 --days 30 --mfu 0.4
    Estimators:   scaling flops llama-2-7b --tokens 2T --gpus 64xA100-80GB
                  scaling memory llama-2-7b --mode train --gpus 8xH100 --zero 3
                  scaling inference llama-2-70b --gpus 8xH100 --tp 8 --batch 64 --price 2.5
                  scaling finetune llama-2-7b --tokens 100M --lora-rank 16 --gpus 1xA100-80GB
    Laws:         scaling optimal --budget 5.76e23 --law chinchilla
    Your runs:    scaling sweep --preset smoke --out runs/ && scaling fit runs/
                  scaling next runs/ --budget-flops 5e13 -o next.csv
    In a browser: scaling app
    Catalogs:     scaling models, scaling gpus, scaling laws
    """
