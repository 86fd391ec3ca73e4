"""How long an update of the plan view of `scaling app` takes, beside the CLI's own time for the same plan.

Run: python bench/bench_app.py [--repeat 40]

The update is measured the way the browser asks for it: an HTTP POST to Dash's ``/_dash-update-component``
(through Flask's test client, so no network), which runs the plan callback (the plan, the optimal-zone and
memory charts, the layout search, the tables) and serialises everything to JSON. Each repeat changes the
device count, so no result is reused. Beside it: ``make_plan`` alone in the same process, and the
CLI (``scaling plan ... --json``) as a new process, which is what a user of the command waits for.
The target is an update within 300 ms at the 95th percentile.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIELDS = {"gpus": "256xH100", "days": "30", "mfu": "0.4", "law": "chinchilla", "price": "2.5"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def update_payload(app, values: list[str]) -> dict:
    """The body Dash's renderer posts when a plan field changes."""
    from scaling.app.views import PLAN_FIELDS

    key = next(k for k in app.callback_map if "plan-summary.children" in k)
    spec = app.callback_map[key]
    outputs = [{"id": o.component_id, "property": o.component_property} for o in spec["output"]]
    inputs = [
        {"id": f"plan-{name}", "property": "value", "value": value}
        for name, value in zip(PLAN_FIELDS, values)
    ]
    return {
        "output": key,
        "outputs": outputs,
        "inputs": inputs,
        "changedPropIds": ["plan-gpus.value"],
        "state": [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()

    from scaling.app import create_app
    from scaling.app.views import PLAN_FIELDS
    from scaling.plan import make_plan

    app = create_app()
    client = app.server.test_client()
    client.get("/")
    sizes = [128, 192, 256, 320, 384, 448, 512, 640]
    updates, library = [], []
    for i in range(args.repeat + 2):  # the first two warm the caches (imports, catalogs) and are not counted
        fields = {**FIELDS, "gpus": f"{sizes[i % len(sizes)]}xH100"}
        values = [fields.get(name, "") for name in PLAN_FIELDS]
        start = time.perf_counter()
        response = client.post("/_dash-update-component", json=update_payload(app, values))
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        assert json.loads(response.get_data())["response"]["plan-summary"]
        start = time.perf_counter()
        make_plan(**{k.replace("-", "_"): v for k, v in fields.items()})
        library_s = time.perf_counter() - start
        if i >= 2:
            updates.append(elapsed)
            library.append(library_s)
    cli = []
    command = [
        sys.executable,
        "-m",
        "scaling",
        "plan",
        *[a for k, v in FIELDS.items() for a in (f"--{k}", v)],
        "--json",
    ]
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        cli.append(time.perf_counter() - start)

    print(
        f"plan view update: {' '.join(f'--{k} {v}' for k, v in FIELDS.items())} (device count varied), "
        f"{len(updates)} updates"
    )
    print(f"{'what':<44}{'median':>10}{'p95':>10}{'max':>10}")
    rows = [
        ("app: POST /_dash-update-component (plan view)", updates),
        ("library: make_plan alone, same process", library),
        ("CLI: scaling plan ... --json (new process)", cli),
    ]
    for name, values in rows:
        print(
            f"{name:<44}{statistics.median(values) * 1000:>8.0f}ms{percentile(values, 0.95) * 1000:>8.0f}ms"
            f"{max(values) * 1000:>8.0f}ms"
        )
    verdict = "within" if percentile(updates, 0.95) <= 0.3 else "OVER"
    print(
        f"target: p95 of an update <= 300 ms: {verdict} "
        f"({percentile(updates, 0.95) * 1000:.0f} ms; the CLI takes {statistics.median(cli) * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
