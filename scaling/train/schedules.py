"""The learning rate at every step of a sweep's runs, as the trainer set it: the run configs of the folder's
``sweep.json`` through the trainer's own rule (`scaling.train.run.lr_at`), so a fit from curves reads the
schedule each run used without a second copy of it. No torch.

`sweep_schedules(folder)` gives a `RunSchedules`: each run's rates by run id (its steps from runs.csv), and
`RunSchedules.rates(steps)`, the recipe's rates for a run of any length (the template is the folder's
largest run), which a fit uses to predict runs it did not train.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from scaling.errors import ScalingError


@dataclass(frozen=True)
class RunSchedules:
    """The rates of a sweep's runs (by run id) and of its recipe for any number of steps."""

    by_run: dict[str, np.ndarray]
    tokens_per_step: dict[str, float]
    template: Any  # a RunConfig
    source: str

    def rates(self, steps: int) -> np.ndarray:
        from scaling.train.run import lr_at

        steps = max(1, int(steps))
        return np.fromiter((lr_at(i, steps, self.template) for i in range(steps)), float, count=steps)

    @property
    def recipe_tokens_per_step(self) -> float:
        return float(self.template.batch * self.template.seq_len)


def sweep_schedules(folder: str | Path, runs: Any) -> RunSchedules:
    """The schedules of ``runs`` (a runs frame with run_id and steps) from ``folder``'s sweep.json; runs
    without a config there are left out of ``by_run`` (the caller counts them)."""
    from scaling.train.run import lr_at
    from scaling.train.sweep.sweep_json import read_sweep_json

    path = Path(folder) / "sweep.json"
    if not path.is_file():
        raise ScalingError(
            f"{str(folder)!r} has no sweep.json, so the learning rate each run used is unknown; a fit from "
            "curves needs a sweep folder written by 'scaling sweep'"
        )
    saved, problem = read_sweep_json(path)
    if problem:
        raise ScalingError(problem)
    configs = {c.run_id: c for c in saved["configs"]}
    by_run, per_step = {}, {}
    for _, run in runs.iterrows():
        config = configs.get(str(run["run_id"]))
        if config is None or "steps" not in run or not np.isfinite(float(run["steps"])):
            continue
        steps = int(run["steps"])
        by_run[config.run_id] = np.fromiter((lr_at(i, steps, config) for i in range(steps)), float, steps)
        per_step[config.run_id] = float(config.batch * config.seq_len)
    if not configs:
        raise ScalingError(f"{path} lists no run configs")
    largest = max(configs.values(), key=lambda c: (c.budget or 0.0, c.d_model))
    return RunSchedules(by_run, per_step, replace(largest), f"{path} run configs (scaling.train.run.lr_at)")


@dataclass(frozen=True)
class SweepCurves:
    """What a fit from curves reads of a sweep folder: its runs table, its curves (long table, damaged
    rows set aside and counted) and each run's schedule."""

    runs: Any  # scaling.runs_table.RunsTable
    curves: Any  # scaling.runs_table.RunsTable of points
    schedules: RunSchedules
    folder: Path

    def set_aside(self) -> dict[str, int]:
        return {f"curve row: {reason}": count for reason, count in self.curves.dropped}


def read_sweep_curves(source: str | Path) -> SweepCurves:
    """A sweep folder (or its runs.csv, with curves/ and sweep.json beside it) for a fit from curves."""
    from scaling.runs_table import read_curves, read_table

    table = read_table(source)
    if table.curves_path is None:
        raise ScalingError(
            f"{str(source)!r} has no curves/ folder beside it: a fit from curves needs a sweep's loss curves"
        )
    folder = Path(table.curves_path).parent
    return SweepCurves(table, read_curves(folder), sweep_schedules(folder, table.frame), folder)
