"""An IsoFLOP sweep: log-spaced budgets x ~5 model sizes each, run on all cores, resumable, into runs.csv.

Design (Chinchilla Approach 2, Hoffmann et al. 2022 §3.2):

* the size ladder `SHAPES` spaces models ~2x apart in non-embedding parameters (d_model 16..256, 2-4 layers);
* for each budget the ladder is centred on the expected optimum: the prior law N_opt = n0 * (C / 1e12)^a of the
  preset, or, when the output folder already holds finished budgets, a law re-fitted to their minima;
* once a budget's runs are in, if its lowest loss is at the smallest or largest size tried, one more size beyond
  that edge is added (up to `MAX_EXTENSIONS` per budget), so each budget ends with an interior minimum;
* every run is a pure function of its `RunConfig` (run.py); executing them is a thin back-end: a local process
  pool (one single-threaded worker per core: faster here than threads, as measured) or Ray.

Output folder (everything written atomically: temp file + os.replace):

* ``sweep.json``: the recipe (everything shared by the runs, the corpus identity) and the planned run configs;
* ``runs.csv``: one row per finished run (columns `RUN_COLUMNS`), rewritten whole after each run. It is the commit
  point: a run is done when its row is there. A sweep killed at any moment and started again with the same command
  skips those run_ids and redoes only unfinished ones. Diverged runs stay in with ``status=diverged`` (the fitter
  skips them); failed runs (an exception, a dead worker) are recorded as ``failed`` and retried on the next start;
* ``curves/<run_id>.csv`` (written before the row) and ``checkpoints/<run_id>.pt`` (for `scaling sample`).

A folder whose runs came from a different recipe or corpus is never mixed into or overwritten: the sweep refuses,
unless ``force_new`` moves the old results aside into ``previous-<timestamp>/`` (when the sweep runs: planning and
dry runs change nothing). One process at a time writes a folder (folder.py's lock, held from planning to the last
row); rows of runs.csv that are not runs are reported and kept in ``runs.damaged.csv``, never dropped.

`scaling next FOLDER -o next.csv` proposes runs (`design_candidates`: the ladder's shapes on exact-FLOP budgets);
``plan_sweep(design=read_design("next.csv"))`` plans exactly those under the folder's own recipe.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError
from scaling.train.folder import (
    add_row,
    atomic_write,
    damaged_report,
    folder_error,
    locked,
    read_rows,
    read_table,
    write_rows,
)
from scaling.train.run import RunConfig, on_gpu

__all__ = [
    "PRESETS",
    "Preset",
    "Sweep",
    "add_row",
    "plan_sweep",
    "read_rows",
    "run_sweep",
    "summarize",
    "write_rows",
]

# (d_model, n_layer), ~2x apart in non-embedding parameters: 6k, 14k, 25k, 56k, 99k, 231k, 332k, 590k, 1.2M,
# 1.8M, 3.1M. Below d_model 16 there is no scaling to see (Minchilla); above 256 a CPU run is hours.
SHAPES = [
    (16, 2),
    (24, 2),
    (32, 2),
    (48, 2),
    (64, 2),
    (80, 3),
    (96, 3),
    (128, 3),
    (160, 4),
    (192, 4),
    (256, 4),
]
MAX_EXTENSIONS = 2  # extra sizes per budget when the minimum sits on an edge
MIN_STEPS_WARNING = 500  # fewer optimizer steps than this and a run has not converged (our measurement: shorter runs had not reached their final loss)


def default_lr(d_model: int) -> float:
    """Peak LR by width: 1e-2 up to d=128 (2e-2 diverges), 6e-3 at 160-192, 4e-3 beyond (measured on this recipe)."""
    return 1e-2 if d_model <= 128 else (6e-3 if d_model <= 192 else 4e-3)


@dataclass(frozen=True)
class Preset:
    """A sweep design: budgets (exact training FLOPs), sizes per budget, the prior law, and run settings."""

    name: str
    budgets: tuple[float, ...]
    sizes: int = 5
    prior_n0: float = 23e3  # N_opt (non-embedding) at C = 1e12 FLOPs
    prior_a: float = 0.72  # N_opt ~ C^a (non-embedding N at this scale, as measured on this recipe)
    seq_len: int = 128
    batch: int = 8
    evals: int = 10
    eval_windows: int = 320
    minutes: float = 5.0  # the target wall time on 2 cores
    extend: bool = True
    shapes: tuple[tuple[int, int], ...] = tuple(SHAPES)
    # Sizes below the ladder that only an edge extension adds: d12 trains at ~4 GFLOP/s per core (its attention is
    # most of its FLOPs), too slow to plan for, but a budget whose optimum falls below d16 needs it.
    below: tuple[tuple[int, int], ...] = ((12, 2),)


PRESETS = {
    # CI: seconds per run. One-layer models of 0.8k-7k non-embedding parameters still give a (shallow) parabola
    # at these budgets: measured on the stdlib corpus, d12l1 beats d8l1 and d16l1 at both 3e9 and 1e10 FLOPs.
    # Extension off, so it always finishes in under a minute.
    "smoke": Preset(
        "smoke",
        (3e9, 1e10),
        sizes=3,
        prior_n0=3.2e3,
        prior_a=0.1,
        seq_len=64,
        evals=2,
        eval_windows=64,
        minutes=0.5,
        extend=False,
        shapes=((8, 1), (12, 1), (16, 1), (24, 1), (32, 1)),
        below=(),
    ),
    # Measured on the stdlib corpus (Python 3.11.7), 2 workers on a shared 2-core box, the prior ladder:
    #   3e11   d16 2.123  d24 2.073  d32 2.123  d48 2.502  d64 2.425   -> min d24 (interior)
    #   6e11   d16 2.013  d24 1.896  d32 1.887  d48 2.048  d64 2.147   -> min d32 (interior)
    #   1.2e12 d16 1.964  d24 1.781  d32 1.722  d48 1.762  d64 1.890   -> min d32 (interior)
    #   2.5e12 d24 1.696  d32 1.652  d48 1.561  d64 1.629  d80l3 1.871 -> min d48 (interior)
    # The minima sit where a KJV + Shakespeare sweep of the same recipe found them, so the prior needed no re-centring. The
    # 6e11..2.5e12 grid took 13.9 min here (4.5 min on a faster, quiet machine): d16 trains at ~5 GFLOP/s per core (its
    # attention, 44% of its FLOPs, runs on 8-dim heads), and one d16 run at 1.2e12 alone takes over 4 minutes.
    # So `small` is the grid one budget lower: probe ETA 8 min, 13 min measured while other jobs shared the cores.
    # At 3e11 the parabola's vertex fell just below d16 (the undertrained d48/d64 runs tilt it), so the edge
    # extension adds d12l2 (2.205); then all three vertices lie inside the sizes and N_opt ~ C^0.66 (total N).
    # `medium` is `small` plus the next budget: four budgets over the same 8x span of compute as the earlier
    # 6e11..5e12 grid at half its FLOPs, with its smallest, slowest models (d16-d24 run at a third of d64's
    # FLOP/s) at the small budgets only. A `small` folder becomes `medium` by running the 2.5e12 budget alone.
    "small": Preset(
        "small", (3e11, 6e11, 1.2e12), minutes=5.0
    ),  # 4m50s measured (load ~1.5), 9m22s under load
    "medium": Preset(
        "medium", (3e11, 6e11, 1.2e12, 2.5e12), minutes=15.0
    ),  # 15m09s quiet (bench_eta), d16 at 4-6 GFLOP/s
}


@dataclass
class Sweep:
    """A planned sweep: where it writes, the shared recipe, and the run configs (grown by edge extensions)."""

    out: Path
    preset: Preset
    recipe: dict[str, Any]
    configs: list[RunConfig] = field(default_factory=list)
    corpus: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # why the folder's previous results move aside when the sweep runs (--force-new); planning moves nothing
    set_aside: str | None = None

    @property
    def budgets(self) -> list[float]:
        return sorted({c.budget for c in self.configs})


# ---------------------------------------------------------------------------------------------- design
def non_embedding_params(shape: tuple[int, int]) -> int:
    from scaling.train.model import gpt_spec

    return gpt_spec(*shape).params_non_embedding


def ladder_for(budget: float, sizes: int, n_opt: float, shapes=tuple(SHAPES)) -> list[tuple[int, int]]:
    """``sizes`` consecutive ladder shapes centred (in log N) on ``n_opt``, shifted inside the ladder's ends."""
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
    IsoFLOP chart use) when the lowest loss is interior and the vertex lies inside the sizes; else the size with
    the lowest loss. Sizes are ~2x apart, so the vertex places the optimum between them rather than on one."""
    by_budget: dict[float, list[tuple[float, float]]] = {}
    for row in rows:
        if row.get("status") == "ok" and _finite(row.get("loss")):
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
    parabola in log N through the budget's losses (what the fitter's Approach 2 and the IsoFLOP chart use) must lie
    within the sizes tried. Below the design ladder, `Preset.below` holds sizes only an extension may add."""
    done = {r["run_id"]: r for r in rows}
    ladder = list(sweep.preset.below) + list(sweep.preset.shapes)
    new = []
    for budget in sweep.budgets:
        planned = [c for c in sweep.configs if c.budget == budget]
        if any(c.run_id not in done or done[c.run_id]["status"] == "failed" for c in planned):
            continue  # wait for the whole budget
        if len(planned) - sweep.preset.sizes >= MAX_EXTENSIONS:
            continue
        ok = sorted(
            (total_params((c.d_model, c.n_layer), c.seq_len), float(done[c.run_id]["loss"]), c)
            for c in planned
            if done[c.run_id]["status"] == "ok" and _finite(done[c.run_id]["loss"])
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
            new.append(_config(sweep, budget, ladder[i]))
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


def _config(sweep: Sweep, budget: float, shape: tuple[int, int]) -> RunConfig:
    return recipe_config(sweep.recipe, shape, budget)


def recipe_config(recipe: dict[str, Any], shape: tuple[int, int], budget: float) -> RunConfig:
    """The run of a sweep's recipe (its ``sweep.json``) for a (d_model, n_layer) shape at a budget of exact
    FLOPs: the recipe's peak LR, else the width's default (`default_lr`)."""
    r = recipe
    lr = r.get("lr") if r.get("lr") is not None else default_lr(shape[0])
    return RunConfig(
        d_model=shape[0],
        n_layer=shape[1],
        budget=float(budget),
        seq_len=r["seq_len"],
        batch=r["batch"],
        lr=lr,
        seed=r["seed"],
        evals=r["evals"],
        eval_windows=r["eval_windows"],
        data=r["data"],
        device=r.get("device", "cpu"),
        precision=r.get("precision", RECIPE_DEFAULTS["precision"]),
    )


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
    design: list[tuple[tuple[int, int], float, int | None]] | None = None,
) -> Sweep:
    """The sweep for these arguments, merged with what ``out`` already holds (see the module docstring).

    With ``design`` ((d_model, n_layer), budget, seed or None) runs (from `read_design`), exactly those runs are
    planned instead of the preset's budgets (a seed of None is the recipe's), and no edge extension is added."""
    from scaling.train.data import load_corpus
    from scaling.train.run import resolve_precision, torch_device

    if device != "cpu":
        torch_device(device)  # a GPU asked for and not there: refused before the folder is touched
    if preset not in PRESETS:
        raise ScalingError(f"unknown preset {preset!r}: expected {', '.join(PRESETS)}")
    base = PRESETS[preset]
    if budgets:
        base = replace(base, budgets=tuple(sorted(float(b) for b in budgets)))
    if sizes is not None:
        if sizes < 2:
            raise ScalingError(
                f"--sizes {sizes}: an IsoFLOP parabola needs at least 3 sizes (2 at the very least)"
            )
        base = replace(base, sizes=int(sizes))
    corpus = load_corpus(data)
    identity = corpus.identity()
    recipe = {
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
    }
    out = Path(out)
    try:
        out.exists()  # a name the OS refuses (over 255 bytes, a file in the path) fails here, not mid-sweep
    except OSError as exc:
        raise folder_error(out, exc) from None
    sweep = Sweep(out=out, preset=base, recipe=recipe, corpus=identity)
    previous, sweep.set_aside = _read_design(out, recipe, force_new)
    rows = [] if sweep.set_aside else read_table(out / "runs.csv").rows
    known = list(previous.get("configs", []))
    known_budgets = {c.budget for c in known}
    sweep.configs = list(known)
    if design is not None:
        sweep.preset = replace(base, extend=False)
        for shape, budget, seed in design:
            config = _config(sweep, budget, shape)
            config = config if seed is None else replace(config, seed=seed)
            sweep.configs += [] if config in sweep.configs else [config]
    for budget in base.budgets if design is None else ():
        if budget in known_budgets:
            continue
        n_opt = prior_optimum(budget, base, rows)
        shapes = ladder_for(budget, base.sizes, n_opt, base.shapes)
        sweep.configs += [_config(sweep, budget, shape) for shape in shapes]
    if sweep.preset.extend:
        sweep.configs += [c for c in edge_extensions(sweep, rows) if c not in sweep.configs]
    _check_lengths(sweep, corpus)
    return sweep


def _check_lengths(sweep: Sweep, corpus) -> None:
    from scaling.laws import epochs_warning
    from scaling.train.run import plan_steps

    for c in sweep.configs:
        spec = c.spec(corpus.vocab_size)
        steps = plan_steps(c, spec)
        if steps < MIN_STEPS_WARNING and sweep.preset.name != "smoke":
            sweep.warnings.append(
                f"{c.run_id}: only {steps} optimizer steps; the loss will not have converged"
            )
        repeated = epochs_warning(steps * c.batch * c.seq_len, max(1, corpus.train_tokens))
        if repeated:
            sweep.warnings.append(f"{c.run_id} on {corpus.name}: {repeated}, so the fit will be biased")


# --------------------------------------------------------------------------------------- the folder
# Recipe keys added after the first sweeps, with the value a sweep.json without them meant.
RECIPE_DEFAULTS = {"precision": "fp32"}


def _read_design(out: Path, recipe: dict[str, Any], force_new: bool) -> tuple[dict[str, Any], str | None]:
    """The folder's sweep.json if it matches this recipe, else ({}, why not) with ``force_new`` (the old results
    are moved aside later, by `run_sweep`, so planning and dry runs change nothing); a refusal without it."""
    design_path, runs_path = out / "sweep.json", out / "runs.csv"
    problem = None
    design: dict[str, Any] = {}
    if design_path.exists():
        design, problem = _load_design(design_path)
        old = {**RECIPE_DEFAULTS, **design.get("recipe", {})}
        differing = sorted(k for k in set(recipe) | set(old) if old.get(k) != recipe.get(k))
        if differing and problem is None:
            problem = (
                f"{out} holds a sweep with a different recipe ("
                + ", ".join(f"{k}: {old.get(k)!r} there, {recipe.get(k)!r} now" for k in differing)
                + ")"
            )
    elif runs_path.exists():
        problem = f"{runs_path} exists but was not written by scaling sweep (no sweep.json beside it)"
    if problem is None:
        return design, None
    if not force_new:
        raise ScalingError(f"{problem}; use another --out, or --force-new to move the old results aside")
    return {}, problem


def _load_design(path: Path) -> tuple[dict[str, Any], str | None]:
    """(design, None) for a readable sweep.json, ({}, what is wrong) for a damaged one."""
    try:
        design = json.loads(path.read_text())
    except OSError as exc:
        raise folder_error(path, exc) from None
    except (UnicodeDecodeError, ValueError) as exc:
        return {}, f"{path} is damaged (not JSON: {exc})"
    if not (
        isinstance(design, dict)
        and isinstance(design.get("recipe"), dict)
        and isinstance(design.get("configs"), list)
    ):
        return {}, f"{path} is damaged (no recipe and configs)"
    try:
        design["configs"] = [RunConfig.from_dict(c) for c in design["configs"]]
    except (ScalingError, TypeError, ValueError, AttributeError) as exc:
        return {}, f"{path} is damaged (a run config: {exc})"
    return design, None


def _move_aside(out: Path) -> Path:
    """Move a previous sweep's files into ``out/previous-<timestamp>/`` (``--force-new``)."""
    aside = out / time.strftime("previous-%Y%m%d-%H%M%S")
    try:
        aside.mkdir(parents=True)
        for name in ("sweep.json", "runs.csv", "runs.damaged.csv", "curves", "checkpoints"):
            if (out / name).exists():
                shutil.move(str(out / name), str(aside / name))
    except OSError as exc:
        raise folder_error(out, exc) from None
    return aside


def design_text(sweep: Sweep) -> str:
    payload = {
        "recipe": sweep.recipe,
        "corpus": sweep.corpus,
        "preset": sweep.preset.name,
        "configs": [c.to_dict() for c in sweep.configs],
    }
    return json.dumps(payload, indent=1)


def write_design(sweep: Sweep) -> None:
    """sweep.json, rewritten only when the design changed (a finished sweep writes nothing)."""
    path = sweep.out / "sweep.json"
    text = design_text(sweep)
    try:
        if path.exists() and path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, text)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _finite(value: Any) -> bool:
    return math.isfinite(_float(value))


# ------------------------------------------------------------------------------------------ execution
_SHARED: Any = None  # in a worker process: the pool's shared per-run progress (fraction of steps done)


def _init_worker(progress: Any = None, counter: Any = None, gpus: int = 0) -> None:
    # Before torch is imported in this fresh (spawned) process: one thread, so N workers use N cores without
    # oversubscription. Processes beat threads for models this small (as measured). With GPUs, each worker sees
    # one of them (in turn), so that a run's cuda:0 is that worker's own GPU.
    global _SHARED
    _SHARED = progress
    if counter is not None and gpus > 0:
        with counter.get_lock():
            index, counter.value = counter.value, counter.value + 1
        visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
        os.environ["CUDA_VISIBLE_DEVICES"] = (visible or [str(i) for i in range(gpus)])[index % gpus]
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def _run_one(config: dict[str, Any], out: str, slot: int = -1) -> dict[str, Any]:
    """Worker entry: one run -> its record as a dict (a failure becomes a ``failed`` record, never a crash)."""
    from scaling.train.run import train_run

    def on_step(done: int, steps: int) -> None:
        _SHARED[slot] = done / steps

    try:
        tell = on_step if _SHARED is not None and slot >= 0 else None
        return train_run(config, out_dir=out, on_step=tell).to_dict()
    except Exception as exc:  # recorded, retried on the next start
        return {
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "config": config,
        }


def execute_local(
    configs: list[RunConfig],
    out: Path,
    workers: int,
    tick: Callable[[dict[str, float]], None] | None = None,
    more: list[RunConfig] | None = None,
) -> Iterator[tuple[RunConfig, dict]]:
    """Run configs on a pool of single-threaded worker processes; yield each (config, record) as it finishes.
    ``tick`` gets every run's fraction of steps done about once a second (progress within runs). Configs the
    caller appends to ``more`` while it handles a result are run too, on the same pool."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # spawn: a clean interpreter per worker (fork after torch is imported can deadlock its thread pools).
    context = multiprocessing.get_context("spawn")
    shared = context.Array("d", len(configs) + 64, lock=False)  # progress slots, with room for added runs
    started: list[RunConfig] = []  # by progress slot
    gpus = 0
    if any(on_gpu(c.device) for c in configs):
        import torch

        gpus = torch.cuda.device_count()
    initargs = (shared, context.Value("i", 0), gpus)
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=initargs
    ) as pool:

        def submit(config: RunConfig) -> None:
            slot = len(started) if len(started) < len(shared) else -1
            started.append(config)
            pending[pool.submit(_run_one, config.to_dict(), str(out), slot)] = config

        # At most one run per worker in the pool at a time, so that a run added to ``more`` starts next rather
        # than behind every queued one.
        queue, pending = list(configs), {}
        try:
            while queue or pending:
                while queue and len(pending) < workers:
                    config = queue.pop(0)
                    try:
                        submit(config)
                    except (
                        Exception
                    ) as exc:  # a broken pool (a worker died): each run left is recorded failed
                        yield config, {"error": f"{type(exc).__name__}: {exc}", "config": config.to_dict()}
                done, _ = wait(pending, timeout=1.0 if tick else None, return_when=FIRST_COMPLETED)
                if tick is not None:
                    tick({c.run_id: shared[i] for i, c in enumerate(started[: len(shared)])})
                for future in done:
                    config = pending.pop(future)
                    try:
                        yield config, future.result()
                    except Exception as exc:  # a dead worker (killed, out of memory)
                        yield config, {"error": f"{type(exc).__name__}: {exc}", "config": config.to_dict()}
                    if more:
                        queue[:0] = more
                        more.clear()
        finally:
            for future in pending:
                future.cancel()


def execute_ray(
    configs: list[RunConfig],
    out: Path,
    workers: int,
    tick: Callable[[dict[str, float]], None] | None = None,
    more: list[RunConfig] | None = None,
) -> Iterator[tuple[RunConfig, dict]]:
    """Run configs as Ray tasks of 1 CPU each, on the cluster at $RAY_ADDRESS or a local one (progress is
    reported per finished run; ``tick`` is not called).

    On a real cluster ``out`` must be on a filesystem every node sees (checkpoints are written by the workers);
    runs.csv and the curves are written here, by the driver."""
    try:
        import ray
    except ImportError:
        raise ScalingError("--backend ray needs Ray: pip install 'ray[default]'") from None
    if not ray.is_initialized():
        ray.init(
            address=os.environ.get("RAY_ADDRESS"),
            num_cpus=None if os.environ.get("RAY_ADDRESS") else workers,
            runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}},
            include_dashboard=False,
            log_to_driver=False,
        )
    task = ray.remote(num_cpus=1)(_ray_task)
    pending = {task.remote(c.to_dict(), str(out)): c for c in configs}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            config = pending.pop(ref)
            try:
                yield config, ray.get(ref)
            except Exception as exc:
                yield config, {"error": f"{type(exc).__name__}: {exc}", "config": config.to_dict()}
            while more:
                added = more.pop(0)
                pending[task.remote(added.to_dict(), str(out))] = added


def _ray_task(config: dict[str, Any], out: str) -> dict[str, Any]:
    _init_worker()
    return _run_one(config, out)


BACKENDS: dict[str, Callable[..., Iterator[tuple[RunConfig, dict]]]] = {
    "local": execute_local,
    "ray": execute_ray,
}


# ----------------------------------------------------------------------------------------- throughput
def probe_throughput(
    shapes: list[tuple[int, int]],
    seq_len: int,
    batch: int,
    seconds: float = 0.25,
    device: str = "cpu",
    precision: str = "fp32",
) -> dict:
    """Measured training FLOP/s (exact convention) of each shape per worker: a few of the run's own steps
    (forward in the run's precision, backward, gradient clipping, fused AdamW) on random tokens. On the CPU they
    are timed in CPU time of one thread, so that a busy machine does not distort a short probe (`cpu_share` says
    how much of a core each worker will get); on a GPU by the wall clock, synchronised. At the smallest sizes a
    step is bound by per-op overhead, the optimizer's included: a stand-in step would overstate their speed."""
    import torch

    from scaling.train.model import GPT, gpt_spec
    from scaling.train.run import autocast, exact_flops_per_token, torch_device

    where = torch_device(device)
    gpu = where.type == "cuda"
    clock = time.perf_counter if gpu else time.thread_time
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rates = {}
    try:
        for shape in sorted(set(shapes)):
            spec = gpt_spec(*shape, seq_len=seq_len)
            model = GPT(spec).to(where)
            optimizer = torch.optim.AdamW(model.param_groups(0.1), lr=1e-4, betas=(0.9, 0.95), fused=True)
            x = torch.randint(0, 256, (batch, seq_len), device=where)
            n, elapsed = 0, 0.0
            for i in range(1000):
                tick = clock()
                with autocast(where, precision):
                    _, loss = model(x, x)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                loss.item()  # a host sync on a GPU, as in the run
                if i >= 2:  # skip the first steps (allocation, kernel selection)
                    n, elapsed = n + 1, elapsed + clock() - tick
                    if elapsed > seconds and n >= 3:
                        break
            rates[shape] = exact_flops_per_token(spec) * batch * seq_len * n / elapsed
    finally:
        torch.set_num_threads(threads)
    return rates


def _probe(recipe: dict[str, Any], shapes: list[tuple[int, int]]) -> dict:
    """`probe_throughput` of these shapes under the sweep's recipe (sequence, batch, device, precision)."""
    return probe_throughput(
        shapes,
        recipe["seq_len"],
        recipe["batch"],
        device=recipe.get("device", "cpu"),
        precision=recipe.get("precision", RECIPE_DEFAULTS["precision"]),
    )


RUN_OVERHEAD_S = 1.0  # per run in a warm worker: read the (cached) corpus, build the model, save a checkpoint
# per worker on a quiet machine: import torch (3 s), torch._dynamo (3 s), the corpus (1 s), two starting at once
WORKER_START_S = 10.0


def run_seconds(config: RunConfig, rates: dict) -> float:
    """A run's predicted wall time: its training FLOPs and its evaluations' forward FLOPs (a third of a training
    step's per token) at the probed FLOP/s of its shape, plus a fixed per-run overhead."""
    from scaling.train.run import evaluation_tokens, exact_flops_per_token

    spec = config.spec()
    evaluation = evaluation_tokens(config) * exact_flops_per_token(spec) / 3.0
    return (config.budget + evaluation) / rates[(config.d_model, config.n_layer)] + RUN_OVERHEAD_S


def default_workers(device: str) -> int:
    """Worker processes when the user names none: one per core on the CPU, one per GPU on GPUs."""
    if on_gpu(device):
        import torch

        return max(1, torch.cuda.device_count())
    return max(1, os.cpu_count() or 1)


def cpu_share(workers: int) -> float:
    """The fraction of a core each of ``workers`` single-threaded workers can expect: 1 on a quiet machine, less
    when the 1-minute load average (less this process) says other work holds the cores."""
    cores = os.cpu_count() or 1
    try:
        others = max(0.0, os.getloadavg()[0] - 1.0)
    except OSError:
        others = 0.0
    return min(1.0, cores / (others + max(1, workers)))


def estimate_seconds(
    configs: list[RunConfig], rates: dict, workers: int, startup_s: float = WORKER_START_S
) -> float:
    """Wall time on ``workers`` processes: longest runs first, each on the first free worker (LPT)."""
    durations = sorted((run_seconds(c, rates) for c in configs), reverse=True)
    free = [startup_s] * max(1, workers)
    for d in durations:
        i = free.index(min(free))
        free[i] += d
    return max(free) if durations else 0.0


class Progress:
    """Progress of a sweep on stderr: a tqdm bar that moves within runs, and an ETA calibrated as runs finish.

    Work is counted in predicted seconds (`run_seconds`), not runs or FLOPs: the smallest models run at a fraction
    of the larger ones' FLOP/s, so a FLOP-weighted bar would lag and jump. Each finished run's measured wall time
    against its prediction rescales what is left (the probe runs alone on an idle core; the workers share the
    machine, with each other and with whatever else runs). Without a terminal, one line per finished run."""

    def __init__(
        self, estimates: dict[str, float], workers: int, startup_s: float = WORKER_START_S, stream=None
    ):
        from tqdm import tqdm

        self.estimates, self.workers = estimates, max(1, workers)
        self.startup_s = startup_s
        self.finished: dict[str, float] = {}  # run_id -> measured seconds
        self.fractions: dict[str, float] = {}
        self.last = ""
        self.start = time.perf_counter()
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = tqdm(
            total=1000,
            file=self.stream,
            disable=not self.tty,
            leave=True,
            mininterval=0.5,
            bar_format="{percentage:3.0f}%|{bar:24}| {postfix}",
        )

    def factor(self) -> float:
        """Measured / predicted wall time of the finished runs (1 before any finishes)."""
        predicted = sum(self.estimates[k] for k in self.finished)
        return sum(self.finished.values()) / predicted if predicted > 0 else 1.0

    def left_s(self) -> float:
        """Calibrated seconds left: the unfinished work shared by the workers, at least the longest run left."""
        remaining = [
            pred * (1.0 - self.fractions.get(k, 0.0))
            for k, pred in self.estimates.items()
            if k not in self.finished
        ]
        if not remaining:
            return 0.0
        elapsed = time.perf_counter() - self.start
        startup = max(0.0, self.startup_s - elapsed) if not self.finished else 0.0
        return startup + self.factor() * max(max(remaining), sum(remaining) / self.workers)

    def tick(self, fractions: dict[str, float]) -> None:
        """Progress within runs (fraction of steps done per run_id)."""
        self.fractions.update(fractions)
        self._draw()

    def add(self, run_id: str, seconds: float) -> None:
        """A run joined the sweep while it runs (an edge extension), predicted to take ``seconds``."""
        self.estimates[run_id] = seconds
        if self.tty:
            self._draw()

    def note(self, message: str) -> None:
        """A line of its own, above the bar on a terminal."""
        if self.tty:
            self.bar.write(message, file=self.stream)
        else:
            self.stream.write(message + "\n")
            self.stream.flush()

    def update(self, run_id: str, label: str, seconds: float | None = None) -> None:
        """A run finished (``seconds``: its measured wall time, when it has one)."""
        self.finished[run_id] = seconds if seconds and seconds > 0 else self.estimates.get(run_id, 0.0)
        self.fractions[run_id] = 1.0
        self.last = f"{run_id} {label}"
        if self.tty:
            self._draw()
        else:
            self.stream.write(self._status() + "\n")
            self.stream.flush()

    def _status(self) -> str:
        elapsed = time.perf_counter() - self.start
        return (
            f"{len(self.finished)}/{len(self.estimates)} runs  {_clock(elapsed)} elapsed  "
            f"~{_clock(self.left_s())} left  {self.last}"
        )

    def _draw(self) -> None:
        total = sum(self.estimates.values()) or 1.0
        done = sum(pred * self.fractions.get(k, 0.0) for k, pred in self.estimates.items())
        self.bar.n = round(1000 * min(1.0, done / total))
        self.bar.set_postfix_str(self._status(), refresh=True)

    def close(self) -> None:
        self.bar.close()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


# ---------------------------------------------------------------------------------------------- driver
def run_sweep(
    sweep: Sweep,
    *,
    workers: int | None = None,
    backend: str = "local",
    say: Callable[[str], None] = print,
    probe: bool = True,
) -> list[dict[str, Any]]:
    """Run every planned config not yet in runs.csv (then edge extensions), keeping runs.csv current.

    Holds the folder's lock throughout (a second sweep on the folder is refused). Returns all rows of the folder's
    runs.csv at the end."""
    if backend not in BACKENDS:
        raise ScalingError(f"unknown backend {backend!r}: expected {', '.join(BACKENDS)}")
    workers = max(1, workers or default_workers(sweep.recipe["device"]))
    with locked(sweep.out):
        rows, damaged = _open_folder(sweep, say)
        _execute(sweep, rows, damaged, workers, backend, say, probe)
    for message in sweep.warnings:
        say(f"warning: {message}")
    return list(rows.values())


def _open_folder(sweep: Sweep, say: Callable[[str], None]) -> tuple[dict[str, dict], list[tuple[int, str]]]:
    """Under the lock: move old results aside (--force-new), re-check the recipe (another process may have
    written the folder since planning), read runs.csv (damaged lines reported), write sweep.json if it changed."""
    out = sweep.out
    if sweep.set_aside:
        aside = _move_aside(out)
        say(f"sweep: {sweep.set_aside}; previous results moved to {aside}")
        sweep.set_aside = None
    else:
        design, _ = _read_design(out, sweep.recipe, force_new=False)
        sweep.configs += [c for c in design.get("configs", []) if c not in sweep.configs]
    table = read_table(out / "runs.csv")
    report = damaged_report(out / "runs.csv", table)
    if report:
        say(f"warning: {report}")
    write_design(sweep)
    return {r["run_id"]: r for r in table.rows}, table.damaged


def _execute(sweep, rows, damaged, workers, backend, say, probe) -> None:
    """Train what runs.csv lacks, committing each finished run's row as it arrives; then edge extensions."""
    from scaling.train.run import RunRecord, write_curve

    out = sweep.out
    runs_path = out / "runs.csv"
    rates: dict | None = None
    first = True
    while True:
        todo = [c for c in sweep.configs if c.run_id not in rows or rows[c.run_id]["status"] == "failed"]
        if not todo:
            break
        if rates is None or any((c.d_model, c.n_layer) not in rates for c in todo):
            shapes = [(c.d_model, c.n_layer) for c in todo]
            share = cpu_share(workers) if probe and not on_gpu(sweep.recipe["device"]) else 1.0
            measured = _probe(sweep.recipe, shapes) if probe else {}
            rates = {**(rates or {}), **{s: measured.get(s, 1e10) * share for s in shapes}}
        eta = estimate_seconds(todo, rates, workers, WORKER_START_S / share)
        if first:
            skipped = len(sweep.configs) - len(todo)
            say(
                f"sweep: {len(todo)} runs to do"
                + (f" ({skipped} already in {runs_path})" if skipped else "")
                + f" over {len(sweep.budgets)} budgets, {workers} {backend} worker(s); ETA ~{_clock(eta)}"
                + (
                    f" (probe: {min(rates.values()) / 1e9:.1f}-{max(rates.values()) / 1e9:.1f} GFLOP/s per worker"
                    + (f" at ~{share:.0%} of a core on this busy machine)" if share < 1 else ")")
                    if probe
                    else ""
                )
            )
            first = False
        else:
            say(
                f"sweep: {len(todo)} edge-extension run(s) beyond a budget's smallest or largest size; ETA ~{_clock(eta)}"
            )
        todo = run_order(todo, rates)
        progress = Progress({c.run_id: run_seconds(c, rates) for c in todo}, workers, WORKER_START_S / share)
        more: list[RunConfig] = []  # edge extensions found while the pool runs, started on it at once
        try:
            for config, result in BACKENDS[backend](todo, out, workers, tick=progress.tick, more=more):
                if "error" in result:
                    row = _failed_row(config, result["error"])
                    with open(out / "errors.log", "a") as fh:
                        fh.write(f"{config.run_id}: {result.get('traceback') or result['error']}\n")
                else:
                    record = RunRecord(**result)
                    write_curve(record, out)  # the curve first: a row in runs.csv always has its curve
                    row = record.row
                rows[config.run_id] = row
                write_rows(runs_path, list(rows.values()), damaged)  # the commit point
                status = row["status"] if row["status"] != "ok" else f"loss {float(row['loss']):.3f}"
                progress.update(config.run_id, status, _float(row.get("wall_s")))
                if sweep.preset.extend:
                    rates = _extend_now(sweep, rows, rates, share, more, progress)
        finally:
            progress.close()
        if not sweep.preset.extend:
            break
        extra = [c for c in edge_extensions(sweep, list(rows.values())) if c not in sweep.configs]
        if not extra:
            break
        sweep.configs += extra
        write_design(sweep)


def run_order(todo: list[RunConfig], rates: dict) -> list[RunConfig]:
    """The order runs start in: the smallest budget's runs first, then the longest runs first (LPT).

    Longest first keeps the last run to finish short (no long tail on one core). The smallest budget goes
    before that because its runs are the shortest and its minimum is the likeliest to fall below the ladder
    (as measured at 3e11 FLOPs): finished early, its edge extension trains beside the long runs instead of
    alone at the end, with a core idle."""
    first = min((c.budget for c in todo), default=None)
    return sorted(todo, key=lambda c: (c.budget != first, -run_seconds(c, rates)))


def _extend_now(sweep: Sweep, rows: dict, rates: dict, share: float, more: list, progress: Progress) -> dict:
    """Edge extensions of budgets that have just finished: planned (sweep.json), queued on the running pool,
    and counted by the progress bar. Returns the rates with the new shapes probed."""
    extra = [c for c in edge_extensions(sweep, list(rows.values())) if c not in sweep.configs]
    if not extra:
        return rates
    new_shapes = [(c.d_model, c.n_layer) for c in extra if (c.d_model, c.n_layer) not in rates]
    if new_shapes:
        measured = _probe(sweep.recipe, new_shapes)
        rates = {**rates, **{s: measured[s] * share for s in new_shapes}}
    sweep.configs += extra
    write_design(sweep)
    more += extra
    for c in extra:
        progress.add(c.run_id, run_seconds(c, rates))
        progress.note(
            f"sweep: budget {c.budget:.3g}: its minimum is at an edge of its sizes; adding "
            f"d{c.d_model}l{c.n_layer} ({c.run_id})"
        )
    return rates


def _failed_row(config: RunConfig, error: str) -> dict[str, Any]:
    """A run that raised or whose worker died: recorded (retried on the next start) with its planned N, D, C."""
    from scaling.flops import six_nd
    from scaling.train.run import plan_steps

    spec = config.spec()
    D = plan_steps(config, spec) * config.batch * config.seq_len
    return {
        "run_id": config.run_id,
        "status": "failed",
        "budget": config.budget,
        "N": spec.params,
        "N_nonemb": spec.params_non_embedding,
        "D": D,
        "C": six_nd(spec.params, D),
        "loss": float("nan"),
        "d_model": config.d_model,
        "n_layer": config.n_layer,
        "n_head": spec.n_head,
        "seq_len": config.seq_len,
        "batch": config.batch,
        "lr": config.lr,
        "seed": config.seed,
    }


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per budget: the sizes tried, their losses, and where the minimum landed (for the report and the CLI)."""
    out = []
    for budget in sorted({float(r["budget"]) for r in rows}):
        runs = sorted((r for r in rows if float(r["budget"]) == budget), key=lambda r: float(r["N_nonemb"]))
        ok = [r for r in runs if r["status"] == "ok" and _finite(r["loss"])]
        best = min(range(len(ok)), key=lambda i: float(ok[i]["loss"])) if ok else None
        out.append(
            {
                "budget": budget,
                "runs": [
                    (
                        f"d{r['d_model']}l{r['n_layer']}",
                        int(float(r["N_nonemb"])),
                        r["status"],
                        _float(r["loss"]),
                    )
                    for r in runs
                ],
                "best": None if best is None else f"d{ok[best]['d_model']}l{ok[best]['n_layer']}",
                "interior": best is not None and 0 < best < len(ok) - 1,
            }
        )
    return out


def throughput(rows: list[dict[str, Any]], recipe: dict[str, Any]) -> dict[str, Any]:
    """The finished runs' training FLOP/s per worker (exact convention) in the recipe's precision, and on a GPU
    the fraction of the device's dense peak for that precision from the accelerator catalog."""
    import statistics

    from scaling.catalog import accelerator_for_device

    rates = sorted(
        _float(r.get("flops_per_s"))
        for r in rows
        if r.get("status") == "ok" and _finite(r.get("flops_per_s"))
    )
    precision = recipe.get("precision", RECIPE_DEFAULTS["precision"])
    out: dict[str, Any] = {
        "precision": precision,
        "device": "cpu",
        "peak_flops_per_s": None,
        "runs": len(rates),
    }
    if rates:
        out.update(
            flops_per_s_min=rates[0], flops_per_s_median=statistics.median(rates), flops_per_s_max=rates[-1]
        )
    if on_gpu(recipe.get("device", "cpu")):
        import torch

        out["device"] = torch.cuda.get_device_name()
        accelerator = accelerator_for_device(out["device"])
        if accelerator is not None and precision in accelerator.peak_flops:
            out["peak_flops_per_s"] = accelerator.peak(precision)
            out["accelerator"] = accelerator.name
    return out


# ------------------------------------------------------------------------------------ designed runs
def design_candidates(out: str | Path, law, budget_flops: float):
    """Runs `scaling next` may propose for this sweep folder: the ladder's shapes (and the sizes below it) on
    budgets of exact training FLOPs, the folder's own budgets and 2x steps from its smallest up to the spend; D
    in whole optimizer steps of the folder's recipe. Cost = the exact FLOPs (what the run will spend)."""
    import numpy as np

    from scaling.design import SIZE_SPAN, Candidates
    from scaling.train.model import gpt_spec
    from scaling.train.run import exact_flops_per_token

    design, problem = _load_design(Path(out) / "sweep.json")
    if problem:
        raise ScalingError(problem)
    recipe = design["recipe"]
    done = sorted({c.budget for c in design["configs"] if c.budget})
    steps = int(math.floor(math.log2(max(budget_flops, done[0]) / done[0]))) + 1
    budgets = sorted({*done, *(done[0] * 2.0**k for k in range(steps))})
    budgets = [b for b in budgets if b <= budget_flops * (1 + 1e-9)]
    preset = PRESETS.get(design.get("preset", ""), PRESETS["small"])
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
    N, D, cost, budget, extra = zip(*rows)
    return Candidates(
        N=np.array(N, float),
        D=np.array(D, float),
        cost=np.array(cost),
        budget=np.array(budget),
        extra=tuple(extra),
        cost_convention="exact training FLOPs (the sweep's budgets)",
    )


def read_design(path: str | Path) -> list[tuple[tuple[int, int], float, int | None]]:
    """((d_model, n_layer), budget, seed or None) of each run in a design CSV from `scaling next FOLDER -o`."""
    import csv

    from scaling.checks import positive, positive_int

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScalingError(f"cannot read design {path}: {exc}") from None
    if not rows or not {"d_model", "n_layer", "budget"} <= set(rows[0]):
        raise ScalingError(
            f"{path} is not a run design for a sweep (it needs d_model, n_layer and budget "
            "columns, as `scaling next SWEEP_FOLDER -o next.csv` writes)"
        )
    design = []
    for number, row in enumerate(rows, start=2):
        where = f"{path} line {number}"
        shape = (
            positive_int(row["d_model"], f"{where} d_model"),
            positive_int(row["n_layer"], f"{where} n_layer"),
        )
        seed = row.get("seed")
        seed = positive_int(seed, f"{where} seed", allow_zero=True) if seed not in (None, "") else None
        design.append((shape, float(positive(row["budget"], f"{where} budget")), seed))
    return design


def assign_seeds(runs: tuple, rows: Any, seed: int) -> tuple:
    """Proposed runs (`scaling.design.ProposedRun`) with the seed each must train with: a run the folder already
    holds (same shape and budget), or one proposed twice, is a repeat under the next unused seed, so that training
    it adds a run (a seed repeat lowers the noise there) instead of finding it done."""
    from collections import Counter

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


def design_recipe(out: str | Path) -> dict[str, Any]:
    """The planning arguments of the sweep already in ``out`` (preset, sizes, data, seed, lr, device, precision), so
    designed runs join it under its own recipe; empty when the folder holds no sweep yet."""
    path = Path(out) / "sweep.json"
    try:
        if not path.is_file():
            return {}
    except OSError as exc:
        raise folder_error(out, exc) from None
    design, problem = _load_design(path)
    if problem:
        raise ScalingError(f"{problem}; designed runs join an existing sweep folder")
    r = design["recipe"]
    return {
        "preset": design.get("preset", "small"),
        "sizes": r.get("sizes"),
        "data": r.get("data", "stdlib"),
        "seed": r.get("seed", 0),
        "lr": r.get("lr"),
        "device": r.get("device", "cpu"),
        "precision": r.get("precision", RECIPE_DEFAULTS["precision"]),
    }
