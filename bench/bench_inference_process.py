"""Whole-process wall time of `scaling inference` (a fresh interpreter each run): the static roofline, the
--latency/--ttft search (across the accelerator's precisions, and at one), and the --concurrency
simulation. The target is under 0.5 s for the plain command.

    python bench/bench_inference_process.py [--repeats 7]

Prints a table of the median and best wall time per command line (seconds), run from this checkout, and the
median CPU time (user + system) of the process: on a shared machine the wall time includes waiting for a core,
the CPU time does not.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = {
    "static": ["llama-2-70b", "--gpus", "2xH100", "--tp", "2", "--batch", "64", "--precision", "fp8"],
    "search": ["llama-3-70b", "--gpus", "8xH100", "--latency", "50ms", "--ttft", "2s"],
    "search bf16": [
        "llama-3-70b",
        "--gpus",
        "8xH100",
        "--latency",
        "50ms",
        "--ttft",
        "2s",
        "--precision",
        "bf16",
    ],
    "concurrency": ["llama-2-70b", "--gpus", "8xH100", "--tp", "4", "--concurrency", "64"],
}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def seconds(args: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole process."""
    cpu, start = _cpu_seconds(), time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "scaling", "inference", *args], cwd=ROOT, check=True, capture_output=True
    )
    return time.perf_counter() - start, _cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    print(f"{'command':<12} {'median s':>9} {'best s':>8} {'CPU s':>7}")
    for name, args in COMMANDS.items():
        wall, cpu = zip(*(seconds(args) for _ in range(repeats)))
        print(f"{name:<12} {statistics.median(wall):>9.3f} {min(wall):>8.3f} {statistics.median(cpu):>7.3f}")


if __name__ == "__main__":
    main()
