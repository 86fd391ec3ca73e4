"""Learning-rate and batch grids of a sweep (``scaling sweep --lr-grid 5 --batch-grid 3``): each IsoFLOP run
trained again at neighbouring peak learning rates and batches, so that ``scaling fit RUNS --hyperparameters``
can fit eta_opt(C) and B_opt(C) (DeepSeek LLM's method, Bi et al. 2024 §3.1, whose grids step the learning
rate and batch by about 2x).

The grid is centred on the run's own value: k values GRID_FACTOR apart, the middle one the recipe's (for
an even k the extra value is on the high side). A batch never drops below one sequence. The runs keep their
budget, so a larger batch trains fewer steps on the same tokens.
"""

from __future__ import annotations

from dataclasses import replace

from scaling import checks
from scaling.train.run import RunConfig

GRID_FACTOR = 2.0
MAX_GRID = 9  # values per grid: beyond this a sweep multiplies its cost for little


def grid_size(value: int | None, what: str) -> int:
    """A grid of ``value`` points (1: no grid), at most `MAX_GRID`."""
    if value is None:
        return 1
    size = checks.positive_int(value, what)
    checks.at_most(size, MAX_GRID, what, f"{MAX_GRID} values")
    return size


def multipliers(size: int) -> list[float]:
    """``size`` factors GRID_FACTOR apart around 1 (1 included)."""
    low = -((size - 1) // 2)
    return [GRID_FACTOR ** (low + i) for i in range(size)]


def hyperparameter_grid(configs: list[RunConfig], lr_grid: int = 1, batch_grid: int = 1) -> list[RunConfig]:
    """Each run at ``lr_grid`` learning rates x ``batch_grid`` batches around its own (itself included)."""
    out: list[RunConfig] = []
    for config in configs:
        for lr in multipliers(lr_grid):
            for batch in multipliers(batch_grid):
                run = replace(config, lr=config.lr * lr, batch=max(1, round(config.batch * batch)))
                if run not in out:
                    out.append(run)
    return out


def with_repeats(configs: list[RunConfig], repeats: int = 1) -> list[RunConfig]:
    """Each run under ``repeats`` seeds, its own and the next ones (seed, seed + 1, ...): repeats of one
    (budget, size) average out the seed-to-seed spread of the short runs that set a fit's smallest budgets."""
    return [replace(c, seed=c.seed + i) for c in configs for i in range(repeats)]
