"""What a sweep is made of: the size ladder, the presets, the recipe every run of a sweep shares, and the
planned `Sweep` itself.

A run of a sweep is a (d_model, n_layer) shape of the ladder at a budget of exact training FLOPs, trained
under the sweep's recipe (`recipe_config`); the recipe is what ``sweep.json`` records (sweep_json.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError
from scaling.train.run import RunConfig

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


def default_lr(d_model: int) -> float:
    """Peak LR by width: 1e-2 up to d=128 (2e-2 diverges), 6e-3 at 160-192, 4e-3 beyond (measured on this
    recipe)."""
    return 1e-2 if d_model <= 128 else (6e-3 if d_model <= 192 else 4e-3)


@dataclass(frozen=True)
class Preset:
    """A sweep's grid and settings: budgets (exact training FLOPs), sizes per budget, the prior law, and run
    settings."""

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
    # Sizes below the ladder that only an edge extension adds: d12 trains at ~4 GFLOP/s per core (its
    # attention is most of its FLOPs), too slow to plan for, but a budget whose optimum falls below d16
    # needs it.
    below: tuple[tuple[int, int], ...] = ((12, 2),)


PRESETS = {
    # CI: seconds per run. One-layer models of 0.8k-7k non-embedding parameters still give a (shallow)
    # parabola at these budgets: measured on the stdlib corpus, d12l1 beats d8l1 and d16l1 at 1e9, 3e9 and
    # 1e10 FLOPs. Three budgets, so that `scaling next` can design from a smoke folder (a design needs three).
    # The 1e9 budget costs ~2 s of CPU time (20.7 -> 23.1 s over the whole sweep, 2 workers on a busy 2-core
    # box) and no measurable wall time (~12 s quiet, ~36 s busy, with or without it); 3e10 instead would add
    # ~7 s, and its minimum fell on an edge. Extension off, so it always finishes in under a minute.
    "smoke": Preset(
        "smoke",
        (1e9, 3e9, 1e10),
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
    # The minima sit where a KJV + Shakespeare sweep of the same recipe found them, so the prior needed no
    # re-centring. The 6e11..2.5e12 grid took 13.9 min here (4.5 min on a faster, quiet machine): d16 trains
    # at ~5 GFLOP/s per core (its attention, 44% of its FLOPs, runs on 8-dim heads), and one d16 run at 1.2e12
    # alone takes over 4 minutes.
    # So `small` is the grid one budget lower: probe ETA 8 min, 13 min measured while other jobs shared the
    # cores. At 3e11 the parabola's vertex fell just below d16 (the undertrained d48/d64 runs tilt it), so the
    # edge extension adds d12l2 (2.205); then all three vertices lie inside the sizes and N_opt ~ C^0.66
    # (total N).
    # `medium` is `small` plus the next budget: four budgets over the same 8x span of compute as the earlier
    # 6e11..5e12 grid at half its FLOPs, with its smallest, slowest models (d16-d24 run at a third of d64's
    # FLOP/s) at the small budgets only. A `small` folder becomes `medium` by running the 2.5e12 budget alone.
    # 4m50s measured (load ~1.5), 9m22s under load
    "small": Preset("small", (3e11, 6e11, 1.2e12), minutes=5.0),
    # 15m09s quiet (bench_eta), d16 at 4-6 GFLOP/s
    "medium": Preset("medium", (3e11, 6e11, 1.2e12, 2.5e12), minutes=15.0),
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


# Recipe keys added after the first sweeps, with the value a sweep.json without them meant.
RECIPE_DEFAULTS = {"precision": "fp32", "name": "fixed"}

# The training recipes a sweep can use (`scaling sweep --recipe`; sweep.json's ``recipe.name``):
# * ``fixed``: warmup min(100, steps/10) (`RunConfig`'s), so the shortest runs -- the largest models at the
#   smallest budgets, which set how the law extrapolates -- warm up for only 30-50 steps;
# * ``tuned``: the warmup scaled with the model, as Porian et al. 2024 (arXiv 2406.19146, Fig. 1 and their
#   code) corrected it: N tokens (N the parameter count), but never under `TUNED_MIN_WARMUP` steps, and at
#   most a third of the run. Measured at 3e11 FLOPs (a fitted budget of `small`, never the held-out one):
#   d64l2 2.430 -> 2.357 with 100 warmup steps instead of 32, d48l2 2.434 -> 2.325; N tokens alone (23-37
#   steps at d24-d32) made d24l2 2.075 -> 2.184 and d32l2 2.120 -> 2.336. AdamW beta2 stays 0.95: 0.99 (Porian
#   et al. tune beta2 up at small batches) made d24l2 2.129, d32l2 2.134, d64l2 2.389 at this peak LR.
#   The peak learning rate stays the width's measured one (`default_lr`).
RECIPES = ("fixed", "tuned")
TUNED_MIN_WARMUP = 100
TUNED_MAX_WARMUP_FRACTION = 1 / 3

RECIPE_NOTES = {
    "fixed": "every size: warmup min(100, steps/10), AdamW beta2 0.95, the width's peak LR",
    "tuned": (
        f"by size (after Porian et al. 2024): warmup of N tokens, at least {TUNED_MIN_WARMUP} steps and at "
        "most a third of the run; AdamW beta2 0.95, the width's peak LR"
    ),
}


def recipe_settings(name: str, shape: tuple[int, int], budget: float, seq_len: int, batch: int) -> dict:
    """The RunConfig fields a named recipe sets for a (d_model, n_layer) shape at a budget (none for
    ``fixed``, `RunConfig`'s defaults, nor where ``tuned`` trains exactly as ``fixed`` does)."""
    if name not in RECIPES:
        raise ScalingError(f"unknown sweep recipe {name!r}: expected {', '.join(RECIPES)}")
    if name == "fixed":
        return {}
    from scaling.train.model import gpt_spec
    from scaling.train.run import default_warmup, exact_flops_per_token

    spec = gpt_spec(*shape, seq_len=seq_len)
    tokens_per_step = batch * seq_len
    steps = max(1, round(budget / exact_flops_per_token(spec) / tokens_per_step))
    warmup = max(math.ceil(spec.params / tokens_per_step), TUNED_MIN_WARMUP)
    warmup = max(1, min(warmup, int(steps * TUNED_MAX_WARMUP_FRACTION)))
    # where it equals the fixed rule's, the run is the fixed recipe's run, under the same id
    return {} if warmup == default_warmup(steps) else {"warmup": warmup}


def recipe_config(recipe: dict[str, Any], shape: tuple[int, int], budget: float) -> RunConfig:
    """The run of a sweep's recipe (its ``sweep.json``) for a (d_model, n_layer) shape at a budget of exact
    FLOPs: the recipe's peak LR, else the width's default (`default_lr`); warmup and AdamW beta2 by the
    recipe's name (`recipe_settings`)."""
    r = recipe
    lr = r.get("lr") if r.get("lr") is not None else default_lr(shape[0])
    name = r.get("name", RECIPE_DEFAULTS["name"])
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
        **recipe_settings(name, shape, float(budget), r["seq_len"], r["batch"]),
    )
