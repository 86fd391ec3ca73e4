"""Startup time of the light CLI commands, next to a bare `python -c "import click"`.

    python bench/bench_startup.py [--repeats 7] [--baseline DIR] [--bytecode]

Each command runs in a fresh interpreter (subprocess) several times; the table shows the median wall time
and its ratio to the bare click import. With `--baseline DIR` (a checkout of an older commit, e.g. made with
`git worktree add --detach /tmp/old v0.3.0`) every command also runs from that tree, alternating run by run
with this one so that machine load hits both alike, and the table shows both medians side by side.
Python compiles every module it imports unless bytecode is cached; with ``PYTHONDONTWRITEBYTECODE`` set (as in
some containers) that compilation is part of every start. ``--bytecode`` times with cached bytecode instead
(a fresh cache folder per tree, filled by one untimed run), as an installed package starts. A second table
lists which heavy modules (scipy, pandas, plotly, torch) each command imported,
read from `sys.modules` in a child that runs the command in-process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("scipy", "pandas", "plotly", "torch", "numpy")

COMMANDS = {
    'python -c "import click"': [sys.executable, "-c", "import click"],
    "scaling --help": [sys.executable, "-m", "scaling", "--help"],
    "scaling flops llama-2-7b --tokens 2T --gpus 64xA100-80GB --mfu 0.4": [
        sys.executable,
        "-m",
        "scaling",
        "flops",
        "llama-2-7b",
        "--tokens",
        "2T",
        "--gpus",
        "64xA100-80GB",
        "--mfu",
        "0.4",
    ],
    "scaling gpus": [sys.executable, "-m", "scaling", "gpus"],
    "scaling plan --gpus 256xH100 --days 30 --mfu 0.4": [
        sys.executable,
        "-m",
        "scaling",
        "plan",
        "--gpus",
        "256xH100",
        "--days",
        "30",
        "--mfu",
        "0.4",
    ],
}

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


def seconds(argv: list[str], cwd: Path, env: dict[str, str] | None) -> float:
    """Wall time of one run of `argv` in a fresh interpreter; `python -m scaling` imports the tree
    at `cwd`."""
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=True)
    return time.perf_counter() - start


def bytecode_env(cache: Path) -> dict[str, str]:
    """The environment with bytecode written to and read from ``cache``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def median_seconds(argv: list[str], repeats: int, trees: list[Path], envs: list[dict | None]) -> list[float]:
    """Median wall time of `argv` in each tree, the trees taking turns run by run."""
    if envs[0] is not None:  # fill the bytecode caches first
        for tree, env in zip(trees, envs, strict=True):
            seconds(argv, tree, env)
    times: list[list[float]] = [[] for _ in trees]
    for _ in range(repeats):
        for i, tree in enumerate(trees):
            times[i].append(seconds(argv, tree, envs[i]))
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="checkout of an older commit to time side by side")
    parser.add_argument("--bytecode", action="store_true", help="time with cached bytecode (see above)")
    args = parser.parse_args()

    trees = [ROOT] if args.baseline is None else [ROOT, args.baseline.resolve()]
    with tempfile.TemporaryDirectory() as cache:
        envs = [bytecode_env(Path(cache) / str(i)) if args.bytecode else None for i in range(len(trees))]
        timings = {label: median_seconds(argv, args.repeats, trees, envs) for label, argv in COMMANDS.items()}
    bytecode = (
        "cached" if args.bytecode else ("not written" if sys.dont_write_bytecode else "as Python finds it")
    )
    print(f"bytecode: {bytecode}")
    base = timings['python -c "import click"'][0]
    width = max(len(k) for k in timings)
    if args.baseline is None:
        print(f"{'command'.ljust(width)}  median ms  x click")
        print(f"{'-' * width}  ---------  -------")
        for label, (now,) in timings.items():
            print(f"{label.ljust(width)}  {now * 1e3:9.1f}  {now / base:7.2f}")
    else:
        print(f"baseline: {args.baseline}; median of {args.repeats}, runs alternating")
        print(f"{'command'.ljust(width)}  baseline ms  this tree ms  change")
        print(f"{'-' * width}  -----------  ------------  ------")
        for label, (now, old) in timings.items():
            print(f"{label.ljust(width)}  {old * 1e3:11.1f}  {now * 1e3:12.1f}  {now / old - 1:+6.0%}")

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
