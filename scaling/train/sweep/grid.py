"""The IsoFLOP grid of a sweep (Chinchilla Approach 2, Hoffmann et al. 2022 §3.2): which runs it plans.

* the size ladder (`recipe.SHAPES`) spaces models ~2x apart in non-embedding parameters;
* for each budget the ladder is centred on the expected optimum: the prior law N_opt = n0 * (C / 1e12)^a of
  the preset, or, when the output folder already holds finished budgets, a law re-fitted to their minima;
* once a budget's runs are in, if its lowest loss is at the smallest or largest size tried, one more size
  beyond that edge is added (up to `MAX_EXTENSIONS` per budget), so each budget ends with an interior minimum.

`plan_sweep` merges the grid with what the folder already holds (its ``sweep.json``), or plans exactly the
runs `scaling next` designed (``designed``) under the folder's own recipe.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from scaling.checks import positive_int
from scaling.errors import ScalingError
from scaling.runs_table.columns import MIN_CONVERGED_STEPS
from scaling.train.folder import folder_error, read_table
from scaling.train.run import RunConfig, plan_steps, resolve_precision, torch_device
from scaling.train.sweep.recipe import PRESETS, RECIPES, SHAPES, Preset, Sweep, recipe_config
from scaling.train.sweep.sweep_json import matching_sweep_json, saved_recipe_name

MAX_EXTENSIONS = 2  # extra sizes per budget when the minimum sits on an edge


def non_embedding_params(shape: tuple[int, int]) -> int:
    from scaling.train.model import gpt_spec

    return gpt_spec(*shape).params_non_embedding


def ladder_for(budget: float, sizes: int, n_opt: float, shapes=tuple(SHAPES)) -> list[tuple[int, int]]:
    """``sizes`` consecutive ladder shapes centred (in log N) on ``n_opt``, shifted inside the ladder's
    ends."""
    shapes = list(shapes)
    logs = [math.log(non_embedding_params(s)) for s in shapes]
    centre = min(range(len(shapes)), key=lambda i: abs(logs[i] - math.log(n_opt)))
    start = min(max(0, centre - (sizes - 1) // 2), max(0, len(shapes) - sizes))
    return shapes[start : start + sizes]


def prior_optimum(budget: float, preset: Preset, rows: list[dict[str, Any]]) -> float:
    """N_opt for a budget: the preset's prior, re-fitted to budgets already finished in this folder."""
    minima = budget_minima(rows)
    points = [(math.log(c), math.log(n)) for c, (n, interior) in minima.items() if interior]
    if len(points) >= 2:  # fit log N = log n0 + a log(C/1e12) by least squares
        import numpy as np

        x, y = np.array(points).T
        a, b = np.polyfit(x - math.log(1e12), y, 1)
        a = float(min(max(a, 0.3), 1.0))  # keep a sane slope from few, noisy minima
        return math.exp(b) * (budget / 1e12) ** a
    if len(points) == 1:  # keep the prior's slope, move its level through the one measured optimum
        (lc, ln_n) = points[0]
        return math.exp(ln_n) * math.exp(preset.prior_a * (math.log(budget) - lc))
    return preset.prior_n0 * (budget / 1e12) ** preset.prior_a


def budget_minima(rows: list[dict[str, Any]]) -> dict[float, tuple[float, bool]]:
    """Per budget: (N_nonemb at its minimum, whether the minimum is interior to the sizes tried).

    The minimum is the vertex of the parabola in log N through the budget's losses (what Approach 2 and the
    IsoFLOP chart use) when the lowest loss is interior and the vertex lies inside the sizes; else the size
    with the lowest loss. Sizes are ~2x apart, so the vertex places the optimum between them rather than on
    one."""
    by_budget: dict[float, list[tuple[float, float]]] = {}
    for row in rows:
        if row.get("status") == "ok" and finite_cell(row.get("loss")):
            by_budget.setdefault(float(row["budget"]), []).append(
                (float(row["N_nonemb"]), float(row["loss"]))
            )
    out = {}
    for budget, points in by_budget.items():
        points.sort()
        best = min(range(len(points)), key=lambda i: points[i][1])
        interior = 0 < best < len(points) - 1
        n = points[best][0]
        if interior and _outside(points) == 0:
            import numpy as np

            x = np.log([p[0] for p in points])
            a, b, _ = np.polyfit(x, [p[1] for p in points], 2)
            n = math.exp(-b / (2 * a)) if a > 0 else n
        out[budget] = (n, interior)
    return out


def edge_extensions(sweep: Sweep, rows: list[dict[str, Any]]) -> list[RunConfig]:
    """One more size beyond an edge for each finished budget whose minimum is not inside the sizes tried.

    "Inside" is judged twice: the lowest loss must not be the smallest or largest size, and the vertex of the
    parabola in log N through the budget's losses (what the fitter's Approach 2 and the IsoFLOP chart use)
    must lie within the sizes tried. Below the preset's ladder, `Preset.below` holds sizes only an extension
    may add."""
    done = {r["run_id"]: r for r in rows}
    ladder = list(sweep.preset.below) + list(sweep.preset.shapes)
    new = []
    for budget in sweep.budgets:
        planned = [c for c in sweep.configs if c.budget == budget]
        if any(c.run_id not in done or done[c.run_id]["status"] == "failed" for c in planned):
            continue  # wait for the whole budget
        if len({(c.d_model, c.n_layer) for c in planned}) - sweep.preset.sizes >= MAX_EXTENSIONS:
            continue
        ok = sorted(
            (total_params((c.d_model, c.n_layer), c.seq_len), float(done[c.run_id]["loss"]), c)
            for c in planned
            if done[c.run_id]["status"] == "ok" and finite_cell(done[c.run_id]["loss"])
        )
        if len(ok) < 2:
            continue
        shapes = [(c.d_model, c.n_layer) for _, _, c in ok]
        side = _outside(ok)
        if side == 0:
            continue
        edge = shapes[0] if side < 0 else shapes[-1]
        i = ladder.index(edge) + side if edge in ladder else -1
        if 0 <= i < len(ladder) and ladder[i] not in shapes:
            new.append(recipe_config(sweep.recipe, ladder[i], budget))
        else:
            sweep.warnings.append(
                f"budget {budget:.3g}: the minimum is beyond the ladder's end ({edge}); no size beyond it"
            )
    return new


def _outside(points: list[tuple[float, float, Any]]) -> int:
    """-1 / +1 if a budget's minimum lies below / above its sizes (argmin or parabola vertex), else 0."""
    best = min(range(len(points)), key=lambda i: points[i][1])
    if best == 0:
        return -1
    if best == len(points) - 1:
        return 1
    if len(points) < 3:
        return 0
    import numpy as np

    x = np.log([p[0] for p in points])
    a, b, _ = np.polyfit(x, [p[1] for p in points], 2)
    if a <= 0:  # no upward parabola: trust the argmin, which is interior
        return 0
    vertex = -b / (2 * a)
    return -1 if vertex < x[0] else (1 if vertex > x[-1] else 0)


def total_params(shape: tuple[int, int], seq_len: int = 128) -> int:
    from scaling.train.model import gpt_spec

    return gpt_spec(*shape, seq_len=seq_len).params


def _recipe(base, seed, lr, data, device, precision, identity, recipe_name, grids) -> dict[str, Any]:
    """The sweep's recipe as sweep.json records it: the preset's run settings, the data's identity, the
    training recipe's name and the grids and repeats used (recorded only when used)."""
    return {
        "seq_len": base.seq_len,
        "batch": base.batch,
        "seed": int(seed),
        "lr": lr,
        "evals": base.evals,
        "eval_windows": base.eval_windows,
        "data": data,
        "device": device,
        "precision": resolve_precision(precision, device),
        "corpus_sha256": identity["corpus_sha256"],
        "tokenizer": identity["tokenizer"],
        "extend": base.extend,
        "sizes": base.sizes,
        "name": recipe_name,
        **grids,
    }


def plan_sweep(
    out: str | Path,
    *,
    preset: str = "small",
    budgets: list[float] | None = None,
    sizes: int | None = None,
    data: str = "stdlib",
    seed: int = 0,
    lr: float | None = None,
    device: str = "cpu",
    precision: str = "fp32",
    force_new: bool = False,
    designed: list[tuple[tuple[int, int], float, int | None]] | None = None,
    lr_grid: int | None = None,
    batch_grid: int | None = None,
    recipe_name: str | None = None,
    repeats: int = 1,
) -> Sweep:
    """The sweep for these arguments, merged with what ``out`` already holds (see the module docstring).

    With ``designed`` runs, ((d_model, n_layer), budget, seed or None) each (from `read_designed_runs`),
    exactly those runs are planned instead of the preset's budgets (a seed of None is the recipe's), and no
    edge extension is added. ``lr_grid`` / ``batch_grid`` train each run at that many learning rates /
    batches around its own (`hp_grid`); edge extensions are then off (a budget's minimum is over both).
    ``recipe_name`` names the training recipe (`recipe.RECIPES`: ``fixed``, or ``tuned`` per size); None: the
    folder's own, else ``fixed``. ``repeats`` trains each planned run under that many seeds
    (`with_repeats`)."""
    from scaling.train.data import load_corpus
    from scaling.train.sweep.hp_grid import grid_size, with_repeats

    if device != "cpu":
        torch_device(device)  # a GPU asked for and not there: refused before the folder is touched
    if preset not in PRESETS:
        raise ScalingError(f"unknown preset {preset!r}: expected {', '.join(PRESETS)}")
    if recipe_name is not None and recipe_name not in RECIPES:
        raise ScalingError(f"unknown --recipe {recipe_name!r}: expected {', '.join(RECIPES)}")
    base = PRESETS[preset]
    if budgets:
        base = replace(base, budgets=tuple(sorted(float(b) for b in budgets)))
    if sizes is not None:
        if sizes < 2:
            raise ScalingError(
                f"--sizes {sizes}: an IsoFLOP parabola needs at least 3 sizes (2 at the very least)"
            )
        base = replace(base, sizes=int(sizes))
    out = Path(out)
    try:
        out.exists()  # a name the OS refuses (over 255 bytes, a file in the path) fails here, not mid-sweep
    except OSError as exc:
        raise folder_error(out, exc) from None
    if recipe_name is None:
        recipe_name = saved_recipe_name(out)
    corpus = load_corpus(data)
    identity = corpus.identity()
    grids = {"lr_grid": grid_size(lr_grid, "--lr-grid"), "batch_grid": grid_size(batch_grid, "--batch-grid")}
    grids["repeats"] = positive_int(repeats, "--repeats")
    grids = {k: v for k, v in grids.items() if v > 1}  # recorded only when used: older folders keep theirs
    if grids:
        base = replace(base, extend=False)
    recipe = _recipe(base, seed, lr, data, device, precision, identity, recipe_name, grids)
    sweep = Sweep(out=out, preset=base, recipe=recipe, corpus=identity)
    previous, sweep.set_aside = matching_sweep_json(out, recipe, force_new)
    rows = [] if sweep.set_aside else read_table(out / "runs.csv").rows
    known = list(previous.get("configs", []))
    known_budgets = {c.budget for c in known}
    sweep.configs = list(known)
    if designed is not None:
        sweep.preset = replace(base, extend=False)
        for shape, budget, seed in designed:
            config = recipe_config(recipe, shape, budget)
            config = config if seed is None else replace(config, seed=seed)
            sweep.configs += [] if config in sweep.configs else [config]
    for budget in base.budgets if designed is None else ():
        if budget not in known_budgets:
            sweep.configs += _budget_runs(recipe, base, budget, rows, grids)
    if sweep.preset.extend:
        extensions = with_repeats(edge_extensions(sweep, rows), grids.get("repeats", 1))
        sweep.configs += [c for c in extensions if c not in sweep.configs]
    _check_lengths(sweep, corpus)
    return sweep


def _budget_runs(recipe: dict, base: Preset, budget: float, rows: list, grids: dict) -> list[RunConfig]:
    """One new budget's runs: the preset's sizes around the optimum expected there (`prior_optimum`), each
    at the grids' learning rates and batches and under the repeats' seeds."""
    from scaling.train.sweep.hp_grid import hyperparameter_grid, with_repeats

    n_opt = prior_optimum(budget, base, rows)
    shapes = ladder_for(budget, base.sizes, n_opt, base.shapes)
    planned = [recipe_config(recipe, shape, budget) for shape in shapes]
    planned = hyperparameter_grid(planned, grids.get("lr_grid", 1), grids.get("batch_grid", 1))
    return with_repeats(planned, grids.get("repeats", 1))


def _check_lengths(sweep: Sweep, corpus) -> None:
    from scaling.laws import epochs_warning

    for c in sweep.configs:
        spec = c.spec(corpus.vocab_size)
        steps = plan_steps(c, spec)
        if steps < MIN_CONVERGED_STEPS and sweep.preset.name != "smoke":
            sweep.warnings.append(
                f"{c.run_id}: only {steps} optimizer steps; the loss will not have converged"
            )
        repeated = epochs_warning(steps * c.batch * c.seq_len, max(1, corpus.train_tokens))
        if repeated:
            sweep.warnings.append(f"{c.run_id} on {corpus.name}: {repeated}, so the fit will be biased")


def cell_float(value: Any) -> float:
    """A runs.csv cell as a number (NaN when it is not one)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def finite_cell(value: Any) -> bool:
    return math.isfinite(cell_float(value))
