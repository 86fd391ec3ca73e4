"""How long does ``scaling calibrate --probe`` take? The issue's bar: under a minute on 2 CPU cores.

    python bench/bench_probe.py            # three probes, as the user starts them
    python bench/bench_probe.py --repeat 1

Each probe runs as a user would start it (``python -m scaling calibrate --probe --json``, a fresh process, so
the PyTorch import counts). The table prints the wall time, the probe's own kernel seconds (the sum of its
timed repeats), the measured peak and bandwidth, and the 1-minute load average (on a shared machine the wall
time is what the other processes leave).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'probe':>5} {'wall s':>8} {'kernels s':>10} {'peak GFLOP/s':>13} {'copy GB/s':>10} "
        f"{'load':>6} {'< 60 s':>7}"
    )
    for i in range(args.repeat):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "scaling", "calibrate", "--probe", "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - start
        cal = json.loads(out.stdout)
        row = cal["source"]["accelerator_row"]
        peak = next(v for k, v in row.items() if k.endswith("_tflops")) * 1e3
        kernels = sum(m["seconds"] for m in cal["measurements"])
        load = os.getloadavg()[0]
        ok = "yes" if wall < LIMIT_S else "NO"
        print(
            f"{i + 1:>5} {wall:>8.1f} {kernels:>10.2f} {peak:>13.3g} {row['bandwidth_gbps']:>10.3g} "
            f"{load:>6.2f} {ok:>7}"
        )


if __name__ == "__main__":
    main()
