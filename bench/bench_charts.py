"""How long building each chart takes with default settings, after import (the issue asks for well under 1 s).

Run: python bench/bench_charts.py [--repeat 5]

Inputs (synthetic runs, fits, memory breakdowns) are prepared before timing; each chart is timed once cold
(its first build in this process, which includes plotly's lazy loading of the figure classes it uses) and then
as the median of ``--repeat`` warm builds. Writing the self-contained HTML is timed separately.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    t0 = time.perf_counter()
    from scaling import charts

    import_s = time.perf_counter() - t0

    from scaling.cluster import Cluster
    from scaling.fit import fit_isoflop, synthetic_runs
    from scaling.laws import get_law
    from scaling.memory import Parallelism, estimate_memory

    runs = synthetic_runs("chinchilla", noise=0.005)
    iso = fit_isoflop(runs)
    law = get_law("chinchilla")
    breakdowns = {
        f"ZeRO-{z}": estimate_memory(
            "llama-2-7b", parallel=Parallelism.of(zero=z), cluster=Cluster.of("H100", 8)
        )
        for z in range(4)
    }

    cases = {
        "zone (defaults)": lambda: charts.zone_figure(),
        "zone --axis tokens": lambda: charts.zone_figure(axis="tokens"),
        "isoflop (fit given)": lambda: charts.isoflop_figure(runs, iso),
        "isoflop (fits Approach 2)": lambda: charts.isoflop_figure(runs),
        "frontier (chinchilla, 1e22)": lambda: charts.frontier_figure(runs, law, target_flops=1e22),
        "memory (4 ZeRO stages)": lambda: charts.memory_figure(breakdowns),
        "diagnostics (chinchilla)": lambda: charts.diagnostics_figure(runs, law),
    }
    rows = []
    for name, build in cases.items():
        t = time.perf_counter()
        fig = build()
        cold = time.perf_counter() - t
        warm = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            build()
            warm.append(time.perf_counter() - t)
        rows.append((name, len(fig.data), cold, statistics.median(warm)))

    with tempfile.TemporaryDirectory() as folder:
        fig = charts.zone_figure()
        t = time.perf_counter()
        charts.save(fig, Path(folder) / "zone.html", div_id="zone")
        html_s = time.perf_counter() - t
        size = (Path(folder) / "zone.html").stat().st_size

    print(f"import scaling.charts: {import_s * 1000:.0f} ms (plotly.graph_objects, numpy, scaling.laws)")
    width = max(len(r[0]) for r in rows)
    print(f"{'chart'.ljust(width)}  traces  first build  warm (median of {args.repeat})")
    for name, traces, cold, warm in rows:
        print(f"{name.ljust(width)}  {traces:6d}  {cold * 1000:8.0f} ms  {warm * 1000:8.0f} ms")
    print(f"save zone.html (plotly.js inlined, {size / 1e6:.1f} MB): {html_s * 1000:.0f} ms")


if __name__ == "__main__":
    main()
