"""Does a fit from small runs predict a bigger run? Fit a sweep, predict a held-out run 4x beyond
it, train it.

    # the fitted sweep (or any sweep folder, >= 3 budgets)
    scaling sweep --preset small --out runs/small
    # + one held-out run at 4x the largest budget
    python bench/bench_extrapolation.py runs/small
    # + a held-out IsoFLOP set of 5 sizes
    python bench/bench_extrapolation.py runs/small --factor 8 --isoflop 5
    # the same with each law form (scaling fit --form), or the form auto chooses
    python bench/bench_extrapolation.py runs/small --isoflop 5 --form farseer
    # the recipe that met both targets on seeds never seen before: two seeds a run, the form auto chooses
    scaling sweep --preset small --repeats 2 --out runs/small2
    python bench/bench_extrapolation.py runs/small2 --isoflop 5 --form auto

Approach 3 (Hoffmann et al. 2022, Eq. 2, or the law form given by ``--form``, with bootstrap replicates) is
fitted to every finished run of the folder. The held-out budget is ``--factor`` x the largest budget (exact
training FLOPs, the sweep's own convention). The held-out model is the sweep ladder's shape whose predicted
loss at that budget is lowest (the fit's optimal size among the sizes the sweep can train), trained with the
folder's recipe (sweep.json's, `scaling sweep --recipe`) into ``FOLDER/holdout/``; held-out runs already
there (same run id: the same config) are read back, not retrained. The table prints the predicted loss with
its 80% interval against the measured one, and the relative error (target: inside the interval and within
1.5%). With ``--isoflop K``, K sizes around it are trained at the same budget too, and the measured IsoFLOP
minimum (parabola in log N) is set against Approach 2's N_opt extrapolated from the folder.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def held_out_shapes(law, folder: Path, budget: float, count: int):
    """Ladder shapes by predicted loss at ``budget`` (the best first, then its neighbours on the ladder)."""
    from scaling.train.model import gpt_spec
    from scaling.train.run import exact_flops_per_token
    from scaling.train.sweep import PRESETS

    design = json.loads((folder / "sweep.json").read_text())
    recipe = design["recipe"]
    preset = PRESETS.get(design.get("preset"), PRESETS["small"])
    ladder = [*preset.below, *preset.shapes]
    scored = []
    for shape in ladder:
        spec = gpt_spec(*shape, seq_len=recipe["seq_len"])
        D = budget / exact_flops_per_token(spec)
        scored.append((float(law.predict(spec.params, D)), shape, spec.params, D))
    best = min(range(len(scored)), key=lambda i: scored[i][0])
    lo = max(0, min(best - count // 2, len(ladder) - count))
    return recipe, scored[best], [s[1] for s in scored[lo : lo + count]]


def train(configs: list, out: Path, workers: int) -> dict[str, dict]:
    """The held-out runs' rows by run_id: those already in ``out/runs.csv`` are read back, the others trained
    on the sweep's worker pool (one thread each) and added to it as they finish."""
    from scaling.runs_table import read_rows
    from scaling.train.folder import add_row, locked
    from scaling.train.run import RunRecord, write_curve
    from scaling.train.sweep import execute_local

    out.mkdir(parents=True, exist_ok=True)
    with locked(out):
        rows = {r["run_id"]: r for r in read_rows(out / "runs.csv").rows if r.get("status") == "ok"}
        todo = [c for c in configs if c.run_id not in rows]
        for config, result in execute_local(todo, out, workers) if todo else ():
            if "error" in result:
                raise SystemExit(f"held-out run {config.run_id} failed: {result['error']}")
            record = RunRecord(**result)
            write_curve(record, out)
            add_row(out / "runs.csv", record.row)
            rows[config.run_id] = record.row
    return {c.run_id: rows[c.run_id] for c in configs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a sweep folder with >= 3 finished budgets")
    parser.add_argument("--factor", type=float, default=4.0, help="held-out budget / largest fitted budget")
    parser.add_argument("--bootstrap", type=int, default=400)
    parser.add_argument(
        "--isoflop", type=int, default=0, help="also train this many sizes at the held-out budget"
    )
    parser.add_argument("--workers", type=int, help="worker processes for the held-out runs [all cores]")
    parser.add_argument(
        "--form", default="chinchilla", help="law form: chinchilla, farseer, kaplan, muennighoff or auto"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import os

    from scaling.fit import fit_isoflop, fit_runs, read_runs
    from scaling.train.sweep import recipe_config
    from scaling.train.sweep.recipe import RECIPE_DEFAULTS

    runs = read_runs(args.folder)
    report = fit_runs(runs, form=args.form, bootstrap=args.bootstrap)
    law = report.approach3
    if report.selection is not None:
        print(report.selection.table().text())
    budgets = runs["budget"].astype(float)
    budget = args.factor * float(budgets.max())
    recipe, (predicted, shape, N, D), shapes = held_out_shapes(law, args.folder, budget, max(1, args.isoflop))
    R = np.asarray(law.replicates)
    spread = law.predict_replicates(N, D)
    lo, hi = np.quantile(spread[np.isfinite(spread)], [0.1, 0.9])
    started = time.perf_counter()
    configs = {s: recipe_config(recipe, s, budget) for s in dict.fromkeys([shape, *shapes])}
    if args.isoflop <= 1:
        configs = {shape: configs[shape]}
    rows = train(list(configs.values()), args.folder / "holdout", args.workers or os.cpu_count() or 1)
    row = rows[configs[shape].run_id]
    measured = float(row["loss"])
    print(
        f"fit: Approach 3 ({law.to_dict()['fit']['form']} form) on {len(runs)} runs, budgets "
        f"{budgets.min():.3g}..{budgets.max():.3g} FLOPs (exact); {law.constants()}; {len(R)} replicates"
    )
    print(
        f"held out: d{shape[0]}l{shape[1]} (N {N:,.0f}, D {D:,.0f}) at {budget:.3g} FLOPs = "
        f"{args.factor:g}x, {len(configs)} run(s) in {time.perf_counter() - started:.0f} s, under the "
        f"folder's recipe ({recipe.get('name', RECIPE_DEFAULTS['name'])})"
    )
    print(f"{'':<22} {'predicted':>10} {'80% interval':>17} {'measured':>9} {'rel. error':>10} {'inside':>6}")
    inside = lo <= measured <= hi
    print(
        f"{'loss (nats/token)':<22} {predicted:>10.4f} {lo:>8.4f}-{hi:<8.4f} {measured:>9.4f} "
        f"{predicted / measured - 1:>+10.2%} {'yes' if inside else 'no':>6}"
    )
    if args.isoflop > 1:
        held = [rows[configs[s].run_id] for s in shapes]
        sizes = [(float(r["N"]), float(r["loss"])) for r in held]
        for (n, loss), s in zip(sizes, shapes):
            print(f"  held-out IsoFLOP d{s[0]}l{s[1]}: N {n:,.0f}, loss {loss:.4f}")
        x, y = np.log([n for n, _ in sizes]), np.array([v for _, v in sizes])
        a, b, _ = np.polyfit(x, y, 2)
        n_measured = math.exp(-b / (2 * a)) if a > 0 else float("nan")
        inside_sizes = sizes[0][0] <= n_measured <= sizes[-1][0]
        # Approach 2 groups a profile's runs at the geometric mean of their C = 6ND (scaling.fit.isoflop), so
        # the held-out profile is asked at the same statistic of its own runs.
        c_held = math.exp(np.mean([math.log(float(r["C"])) for r in held]))
        iso = fit_isoflop(runs)
        n_predicted = float(iso.n_opt(c_held))
        print(
            f"{'N_opt (Approach 2)':<22} {n_predicted:>10.4g} {'':>17} {n_measured:>9.4g} "
            f"{n_predicted / n_measured - 1:>+10.1%}   (a = {iso.a:.3f}; measured vertex "
            f"{'inside' if inside_sizes else 'OUTSIDE'} the held-out sizes)"
        )
        n_law = float(law.n_opt(c_held))  # the fitted form's own optimum at the same C
        print(
            f"{'N_opt (Approach 3)':<22} {n_law:>10.4g} {'':>17} {n_measured:>9.4g} "
            f"{n_law / n_measured - 1:>+10.1%}   ({law.to_dict()['fit']['form']} form)"
        )


if __name__ == "__main__":
    main()
