"""The light commands must not import scipy, pandas, plotly or torch (checked in sys.modules, not
by timing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("scipy", "pandas", "plotly", "torch")

_PROBE = """
import sys
from click.testing import CliRunner
import scaling.cli
result = CliRunner().invoke(scaling.cli.main, sys.argv[1:])
assert result.exit_code == 0, result.output
print(",".join(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["flops", "llama-2-7b", "--tokens", "2T", "--gpus", "64xA100-80GB", "--mfu", "0.4"],
        ["flops", "gpt3-175b", "--convention", "all", "--json"],
        ["models"],
        ["gpus"],
        ["plan", "--gpus", "256xH100", "--days", "30", "--mfu", "0.4"],
        ["plan", "llama-2-7b", "--gpus", "64xA100-80GB", "--json"],
    ],
    ids=["help", "flops", "flops-all-json", "models", "gpus", "plan", "plan-model-json"],
)
def test_light_commands_import_no_heavy_modules(args):
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"'scaling {' '.join(args)}' imported {out.stdout.strip()}"


def test_plan_imports_no_numpy_random_or_masked_arrays():
    """The plan's comparison rows need no interval draws: numpy.random and numpy.ma (about 20 ms) stay out."""
    args = ["plan", "--gpus", "256xH100", "--days", "30", "--mfu", "0.4"]
    probe = _PROBE.format(heavy=("numpy.random", "numpy.ma"))
    out = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"'scaling {' '.join(args)}' imported {out.stdout.strip()}"


def test_every_command_module_is_its_commands_home():
    """`scaling NAME` imports the one module `HOMES` names: each entry must hold its command, and each command
    must have an entry (a missing one still works, by importing every module, but slowly)."""
    import importlib
    import pkgutil

    import scaling.commands as package
    from scaling.commands import HOMES

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"scaling.commands.{info.name}")
            found.update({command.name: info.name for command in module.COMMANDS})
    assert HOMES == found


def test_a_command_imports_only_its_own_command_module():
    probe = (
        _PROBE.format(heavy=()) + "print(sorted(m for m in sys.modules if m.startswith('scaling.commands.')))"
    )
    out = subprocess.run([sys.executable, "-c", probe, "gpus"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[1] == "['scaling.commands._common', 'scaling.commands.flops_and_catalogs']"
