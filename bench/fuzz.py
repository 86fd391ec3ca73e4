"""Fuzz the command line: N seeded calls (default 40,000) of every non-training command with hostile input.

    python bench/fuzz.py [--calls 40000] [--seed 0]

Prints a table of calls per command with unhandled exceptions, error exits that are not one line, and the
slowest call, then every distinct failure (by place in the code) with one argv that reproduces it. Exit
status 1 when anything unhandled, any multi-line error or any call over 5 s was seen; a call still running
after 60 s is stopped and reported as a hang. One in ten calls runs with ``$SCALING_ACCELERATORS`` pointing
at a damaged accelerator file. Unix only (the hang guard is a SIGALRM timer).
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.cli import main  # noqa: E402
from scaling.render import Table  # noqa: E402
from tests.fuzzing import damaged_files, draw_call, run_call  # noqa: E402

SLOW_SECONDS = 5.0
HANG_SECONDS = 60.0  # a call still running after this is stopped and reported as a hang


class Hang(BaseException):
    """Raised by the alarm inside a call that runs past `HANG_SECONDS` (a BaseException, so no handler in the
    code under test swallows it)."""


def _alarm(signum, frame):  # noqa: ARG001
    raise Hang()


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main_() -> int:
    options = _parse()
    home = os.getcwd()
    folder = Path(tempfile.mkdtemp(prefix="scaling-fuzz-"))
    try:
        return _fuzz(options, folder)
    finally:
        os.chdir(home)
        shutil.rmtree(folder, ignore_errors=True)


def _fuzz(options: argparse.Namespace, folder: Path) -> int:
    """Run the calls inside ``folder`` (inputs and anything the commands write stay there),
    print the tables."""
    rng = random.Random(options.seed)
    files = damaged_files(folder / "inputs")
    damaged_accelerators = [f for f in files if Path(f).name.startswith("accel_")]
    per_command: dict[str, Counter] = defaultdict(Counter)
    slowest: dict[str, float] = defaultdict(float)
    failures: dict[str, tuple[str, tuple[str, ...]]] = {}
    start = time.perf_counter()
    os.chdir(folder)
    signal.signal(signal.SIGALRM, _alarm)
    for _ in range(options.calls):
        args = draw_call(rng, main, files)
        env = {"SCALING_ACCELERATORS": rng.choice(damaged_accelerators)} if rng.random() < 0.1 else None
        name = " ".join(args[:2]) if args[0] == "chart" and len(args) > 1 else args[0]
        signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
        try:
            outcome = run_call(main, args, env)
        except Hang:
            per_command[name]["calls"] += 1
            per_command[name]["slow"] += 1
            failures.setdefault(f"hang: {name} over {HANG_SECONDS:g} s", ("slow", tuple(args)))
            continue
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        counts = per_command[name]
        counts["calls"] += 1
        counts["exit 0"] += outcome.exit_code == 0
        slowest[name] = max(slowest[name], outcome.seconds)
        for kind, detail in (
            ("unhandled", outcome.unhandled),
            ("bad error", outcome.bad_error),
            ("nonsense", outcome.nonsense),
        ):
            if detail:
                counts[kind] += 1
                key = f"{kind}: {detail if kind == 'unhandled' else name + ': ' + detail[:80]}"
                failures.setdefault(key, (kind, outcome.args))
        if outcome.seconds > SLOW_SECONDS:
            counts["slow"] += 1
            failures.setdefault(f"slow: {name} {outcome.seconds:.1f} s", ("slow", outcome.args))
    wall = time.perf_counter() - start
    rows = [
        (
            name,
            c["calls"],
            c["exit 0"],
            c["unhandled"],
            c["bad error"],
            c["nonsense"],
            c["slow"],
            f"{slowest[name]:.2f}",
        )
        for name, c in sorted(per_command.items())
    ]
    total = Counter()
    for c in per_command.values():
        total.update(c)
    rows.append(
        (
            "all",
            total["calls"],
            total["exit 0"],
            total["unhandled"],
            total["bad error"],
            total["nonsense"],
            total["slow"],
            f"{max(slowest.values()):.2f}",
        )
    )
    headers = (
        "command",
        "calls",
        "exit 0",
        "unhandled",
        "bad error",
        "nonsense",
        f"> {SLOW_SECONDS:g} s",
        "max s",
    )
    print(
        Table.of(rows, headers, title=f"{total['calls']:,} calls in {wall:.0f} s, seed {options.seed}").text()
    )
    for key, (_kind, args) in sorted(failures.items()):
        print(f"\n{key}\n  scaling {shlex.join(args)}")
    return 1 if total["unhandled"] or total["bad error"] or total["slow"] else 0


if __name__ == "__main__":
    sys.exit(main_())
