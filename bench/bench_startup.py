"""Startup time of the light CLI commands, next to a bare `python -c "import click"`.

    python bench/bench_startup.py [--repeats 7]

Each command runs in a fresh interpreter (subprocess) several times; the table shows the median wall time
and its ratio to the bare click import. A second table lists which heavy modules (scipy, pandas, plotly,
torch) each command imported, read from `sys.modules` in a child that runs the command in-process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("scipy", "pandas", "plotly", "torch", "numpy")

COMMANDS = {
    'python -c "import click"': [sys.executable, "-c", "import click"],
    "scaling --help": [sys.executable, "-m", "scaling", "--help"],
    "scaling flops llama-2-7b --tokens 2T --gpus 64xA100-80GB --mfu 0.4": [
        sys.executable, "-m", "scaling", "flops", "llama-2-7b", "--tokens", "2T", "--gpus", "64xA100-80GB", "--mfu", "0.4",
    ],
    "scaling gpus": [sys.executable, "-m", "scaling", "gpus"],
    "scaling plan --gpus 256xH100 --days 30 --mfu 0.4": [
        sys.executable, "-m", "scaling", "plan", "--gpus", "256xH100", "--days", "30", "--mfu", "0.4",
    ],
}  # fmt: skip

_PROBE = """
import sys
from click.testing import CliRunner
import scaling.cli
result = CliRunner().invoke(scaling.cli.main, sys.argv[1:])
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(result.exit_code, ",".join(heavy))
"""


def heavy_modules(args: list[str]) -> tuple[int, list[str]]:
    """Run a `scaling` command in a child and report which heavy modules it left in sys.modules."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), (out[1].split(",") if len(out) > 1 else [])


def median_seconds(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    timings = {label: median_seconds(argv, args.repeats) for label, argv in COMMANDS.items()}
    base = timings['python -c "import click"']
    width = max(len(k) for k in timings)
    print(f"{'command'.ljust(width)}  median ms  x click")
    print(f"{'-' * width}  ---------  -------")
    for label, seconds in timings.items():
        print(f"{label.ljust(width)}  {seconds * 1e3:9.1f}  {seconds / base:7.2f}")

    print()
    print(f"{'command'.ljust(width)}  heavy modules imported")
    print(f"{'-' * width}  ----------------------")
    for label, argv in COMMANDS.items():
        if argv[1:3] != ["-m", "scaling"]:
            continue
        code, heavy = heavy_modules(argv[3:])
        print(
            f"{label.ljust(width)}  {', '.join(heavy) or 'none'}" + ("" if code == 0 else f"  (exit {code})")
        )


if __name__ == "__main__":
    main()
