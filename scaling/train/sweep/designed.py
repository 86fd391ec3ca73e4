"""Designed runs in a sweep folder: what `scaling next FOLDER -o next.csv` proposes for it, and
`scaling sweep --design next.csv --out FOLDER` reads back and runs.

`scaling.design` scores candidate runs against a fitted law. For a sweep folder the candidates are the
sweep's own ladder shapes on budgets of exact training FLOPs (`sweep_candidates`), so that the sweep can train
exactly them; a proposed run the folder already holds gets the next unused seed (`assign_seeds`), so that
training it adds a run. The design CSV is read back as runs (`read_designed_runs`) that `plan_sweep` plans
under the folder's own recipe (`sweep_arguments`). The runner imports the design, never the other way.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from scaling import inputs
from scaling.checks import positive, positive_int
from scaling.design import SIZE_SPAN, Candidates, Design, design_runs, fit_for_design
from scaling.errors import ScalingError
from scaling.train.folder import folder_error
from scaling.train.run import exact_flops_per_token
from scaling.train.sweep.recipe import PRESETS, RECIPE_DEFAULTS
from scaling.train.sweep.sweep_json import read_sweep_json


def sweep_folder(source: Any) -> Path | None:
    """The sweep folder a runs argument names (the folder itself, or its runs.csv), else None: a runs table
    from anywhere else, or a frame."""
    if hasattr(source, "columns"):
        return None
    folder = Path(str(source))
    if folder.is_file():
        folder = folder.parent
    return folder if (folder / "sweep.json").is_file() else None


def next_sweep_runs(
    folder: str | Path,
    *,
    budget_flops: float,
    max_runs: int = 6,
    target_flops: float | None = None,
    quantity: str = "n_opt",
    bootstrap: int = 400,
    seed: int = 0,
) -> Design:
    """`scaling.design.next_runs` for a sweep folder: the candidates are the sweep's own shapes on exact-FLOP
    budgets (`sweep_candidates`), and each proposed run carries the seed it must train with."""
    saved = _saved_sweep(Path(folder))  # a damaged sweep.json is refused before the fit
    frame, law = fit_for_design(
        folder,
        budget_flops=budget_flops,
        max_runs=max_runs,
        quantity=quantity,
        bootstrap=bootstrap,
        seed=seed,
    )
    design = design_runs(
        law,
        frame,
        budget_flops=budget_flops,
        max_runs=max_runs,
        target_flops=target_flops,
        quantity=quantity,
        candidates=sweep_candidates(saved, law, budget_flops),
    )
    recipe_seed = int(saved["recipe"].get("seed", 0))
    return replace(design, runs=assign_seeds(design.runs, frame, recipe_seed))


def sweep_candidates(saved: dict[str, Any], law: Any, budget_flops: float) -> Candidates:
    """Runs `scaling next` may propose for a sweep (its ``sweep.json``, as `read_sweep_json` gives it): the
    ladder's shapes (and the sizes below it) on budgets of exact training FLOPs, the sweep's own budgets and
    2x steps from its smallest up to the spend; D in whole optimizer steps of the sweep's recipe. Cost = the
    exact FLOPs (what the run will spend)."""
    from scaling.train.model import gpt_spec

    recipe = saved["recipe"]
    done = sorted({c.budget for c in saved["configs"] if c.budget})
    steps = int(math.floor(math.log2(max(budget_flops, done[0]) / done[0]))) + 1
    budgets = sorted({*done, *(done[0] * 2.0**k for k in range(steps))})
    budgets = [b for b in budgets if b <= budget_flops * (1 + 1e-9)]
    preset = PRESETS.get(saved.get("preset", ""), PRESETS["small"])
    tokens_per_step = recipe["batch"] * recipe["seq_len"]
    rows: list[tuple[float, float, float, float, dict]] = []
    for shape in [*preset.below, *preset.shapes]:
        spec = gpt_spec(*shape, seq_len=recipe["seq_len"])
        fpt = exact_flops_per_token(spec)
        for b in budgets:
            D = max(1, round(b / fpt / tokens_per_step)) * tokens_per_step
            n_opt = float(law.n_opt(b))
            if n_opt / (2 * SIZE_SPAN) <= spec.params <= n_opt * 2 * SIZE_SPAN:
                rows.append((spec.params, D, b, b, {"d_model": shape[0], "n_layer": shape[1]}))
    if not rows:
        raise ScalingError(
            f"no shape of the sweep's ladder lies within {2 * SIZE_SPAN:g}x of the fitted N_opt at the "
            f"budgets up to --budget-flops {budget_flops:.3g}"
        )
    N, D, cost, budget, extra = zip(*rows)
    return Candidates(
        N=np.array(N, float),
        D=np.array(D, float),
        cost=np.array(cost),
        budget=np.array(budget),
        extra=tuple(extra),
        cost_convention="exact training FLOPs (the sweep's budgets)",
    )


def assign_seeds(runs: tuple, rows: Any, seed: int) -> tuple:
    """Proposed runs (`scaling.design.ProposedRun`) with the seed each must train with: a run the folder
    already holds (same shape and budget), or one proposed twice, is a repeat under the next unused seed, so
    that training it adds a run (a seed repeat lowers the noise there) instead of finding it done."""

    def key(d_model: Any, n_layer: Any, budget: Any) -> tuple[int, int, float]:
        return int(float(d_model)), int(float(n_layer)), round(float(budget), -3)

    columns = {"d_model", "n_layer", "budget"}
    taken = (
        Counter(key(r["d_model"], r["n_layer"], r["budget"]) for _, r in rows.iterrows())
        if columns <= set(rows.columns)
        else Counter()
    )
    out = []
    for run in runs:
        k = key(run.extra["d_model"], run.extra["n_layer"], run.budget)
        out.append(replace(run, extra={**run.extra, "seed": seed + taken[k]}))
        taken[k] += 1
    return tuple(out)


def read_designed_runs(path: str | Path) -> list[tuple[tuple[int, int], float, int | None]]:
    """((d_model, n_layer), budget, seed or None) of each run in a design CSV from
    `scaling next FOLDER -o`."""
    text = inputs.read_text(path, "design")
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ScalingError(f"cannot read design {path}: {exc}") from None
    if not rows or not {"d_model", "n_layer", "budget"} <= set(rows[0]):
        raise ScalingError(
            f"{path} is not a run design for a sweep (it needs d_model, n_layer and budget "
            "columns, as `scaling next SWEEP_FOLDER -o next.csv` writes)"
        )
    designed = []
    for number, row in enumerate(rows, start=2):
        where = f"{path} line {number}"
        shape = (
            positive_int(row["d_model"], f"{where} d_model"),
            positive_int(row["n_layer"], f"{where} n_layer"),
        )
        seed = row.get("seed")
        seed = positive_int(seed, f"{where} seed", allow_zero=True) if seed not in (None, "") else None
        designed.append((shape, float(positive(row["budget"], f"{where} budget")), seed))
    return designed


def sweep_arguments(out: str | Path) -> dict[str, Any]:
    """The planning arguments of the sweep already in ``out`` (preset, sizes, data, seed, lr, device,
    precision, recipe), so designed runs join it under its own recipe; empty when the folder holds no sweep
    yet."""
    path = Path(out) / "sweep.json"
    try:
        if not path.is_file():
            return {}
    except OSError as exc:
        raise folder_error(out, exc) from None
    saved, problem = read_sweep_json(path)
    if problem:
        raise ScalingError(f"{problem}; designed runs join an existing sweep folder")
    r = saved["recipe"]
    return {
        "preset": saved.get("preset", "small"),
        "sizes": r.get("sizes"),
        "data": r.get("data", "stdlib"),
        "seed": r.get("seed", 0),
        "lr": r.get("lr"),
        "device": r.get("device", "cpu"),
        "precision": r.get("precision", RECIPE_DEFAULTS["precision"]),
        "recipe_name": r.get("name", RECIPE_DEFAULTS["name"]),
    }


def _saved_sweep(folder: Path) -> dict[str, Any]:
    """The folder's sweep.json (`read_sweep_json`), a damaged one refused."""
    saved, problem = read_sweep_json(folder / "sweep.json")
    if problem:
        raise ScalingError(problem)
    return saved
