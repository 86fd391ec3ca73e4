"""How good is the sweep's ETA? Runs a sweep and compares the times it announced with the wall clock.

    python bench/bench_eta.py                                   # the small preset (~10 min on 2 cores)
    python bench/bench_eta.py --preset medium
    python bench/bench_eta.py --preset small --budgets 1e11,3e11 --sizes 3   # a shorter check

The sweep runs as the user would start it (`python -m scaling sweep ... --out TMP`), in a fresh folder. Its
first line states the ETA from the throughput probe; each finished run prints a recalibrated time left. For
each, the table prints what was announced (elapsed + left), the measured total, and the error. The target is
the first ETA within +-25% of the wall time. The machine's load average is printed too: on a shared machine
the probe, which runs before the sweep, cannot know how much CPU the sweep will get.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK = r"(\d+)m(\d\d)s"


def seconds(match: tuple[str, str]) -> int:
    return int(match[0]) * 60 + int(match[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--budgets")
    parser.add_argument("--sizes", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument(
        "--keep", type=Path, help="run the sweep into this new folder and keep it [a temporary one]"
    )
    args = parser.parse_args()
    if args.keep is not None and args.keep.exists():
        raise SystemExit(f"{args.keep} exists: --keep takes a new folder")
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "scaling",
            "sweep",
            "--preset",
            args.preset,
            "--out",
            str(args.keep or Path(tmp) / "s"),
        ]
        command += ["--budgets", args.budgets] if args.budgets else []
        command += ["--sizes", str(args.sizes)] if args.sizes else []
        command += ["--workers", str(args.workers)] if args.workers else []
        load_before = os.getloadavg()[0]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        started = time.perf_counter()
        summary = Path(tmp) / "summary.txt"
        proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=summary.open("w"), text=True, env=env)
        events = []  # (label, seconds since the ETA line, announced seconds left)
        eta_at = None
        for line in proc.stderr:
            now = time.perf_counter()
            first = re.search(r"ETA ~" + CLOCK, line)
            if first and eta_at is None:
                eta_at = now
                events.append(("first ETA (probe)", 0.0, seconds(first.groups())))
                continue
            left = re.search(r"~" + CLOCK + r" left", line)
            runs = re.match(r"\s*(\d+/\d+) runs", line)
            if left and runs and eta_at is not None:
                events.append((f"after {runs.group(1)} runs", now - eta_at, seconds(left.groups())))
        proc.wait()
        end = time.perf_counter()
        result = summary.read_text()
    if proc.returncode != 0 or eta_at is None:
        raise SystemExit(f"the sweep failed (exit {proc.returncode})")
    wall = end - eta_at
    print(
        f"sweep: {' '.join(command[3:-2])}; {wall:.0f} s from the ETA line to the end "
        f"({end - started:.0f} s with planning and the probe); load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores"
    )
    print(f"{'when':<22} {'elapsed s':>9} {'announced total s':>17} {'measured s':>10} {'error':>7}")
    for label, elapsed, left in events:
        announced = elapsed + left
        print(f"{label:<22} {elapsed:>9.0f} {announced:>17.0f} {wall:>10.0f} {announced / wall - 1:>+7.0%}")
    print(
        result, end=""
    )  # the sweep's own summary: each budget's minimum, inside its sizes or not; throughput


if __name__ == "__main__":
    main()
