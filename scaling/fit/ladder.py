"""``scaling fit RUNS --downstream evals.csv``: Bhagia et al. 2024's two-step ladder (arXiv 2412.04403, §3)
fitted per task on the user's runs and evaluations (`scaling.fit.evals`), joined by run id.

* Step 1: L_task(N, D) = E + A/N^alpha + B/D^beta is Chinchilla's form, so it is fitted by Approach 3's own
  fitter (`fit_parametric`: Huber on log-loss from Hoffmann's starts, as Bhagia et al. fit it in log form with
  a Huber loss), with its bootstrap replicates;
* Step 2: Acc(L) = a / (1 + exp(-k (L - L0))) + b by least squares on the runs' measured task loss and
  accuracy, from a small grid of starts (a in (0, 1], b in [0, 1]), and the same number of bootstrap
  resamples of the runs, each started from the full fit;
* replicate i of step 1 is chained with replicate i of step 2 (`scaling.recipe.ladder.LadderMap.predict`).

A task needs `MIN_RUNS` runs with both a task loss and an accuracy; tasks that cannot be fitted are set aside
with what the ladder needs, and the rows that cannot be used are reported in one line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from scaling.errors import ScalingError
from scaling.fit.evals import ACCURACY_METRICS, Evals, metric_kind, read_evals
from scaling.recipe.ladder import (
    SOURCE,
    STEP1,
    STEP1_FORM,
    STEP2,
    STEP2_FORM,
    LadderMap,
    ladder_payload,
    sigmoid,
)
from scaling.render import Displayable, Table
from scaling.units import six_nd

MIN_RUNS = 6  # one more than step 1's five constants
DEFAULT_BOOTSTRAP = 1000
TASK_LOSS_HELP = (
    "a task loss per run, e.g. bpb (bits per byte of the correct answer, Bhagia et al. 2024 §3.1)"
)


@dataclass(frozen=True, eq=False)
class LadderFit(Displayable):
    """The fitted maps, the tasks set aside (with why), the rows set aside (one line), the fits' cautions."""

    maps: tuple[LadderMap, ...]
    eval_data: str
    tasks_set_aside: tuple[str, ...] = ()
    rows_set_aside: str | None = None
    warnings: tuple[str, ...] = ()

    def to_law_key(self) -> dict[str, Any]:
        """The law file's ``downstream`` key (`scaling.recipe.ladder`)."""
        return ladder_payload(list(self.maps), self.eval_data, list(self.tasks_set_aside))

    def intervals(self, m: LadderMap) -> dict[str, list[float]]:
        """The `level` percentile interval of every constant of both steps."""
        if not len(m.replicates):
            return {}
        tail = (1 - m.level) / 2 * 100
        low, high = np.percentile(m.replicates, [tail, 100 - tail], axis=0)
        return {k: [float(lo), float(hi)] for k, lo, hi in zip(STEP1 + STEP2, low, high)}

    def to_dict(self) -> dict[str, Any]:
        tasks = []
        for m in self.maps:
            entry = {k: v for k, v in m.to_dict().items() if k != "bootstrap"}
            entry.update(intervals=self.intervals(m), interval_level=m.level, replicates=len(m.replicates))
            tasks.append(entry)
        return {
            "kind": "ladder",
            "form": [STEP1_FORM, STEP2_FORM],
            "source": SOURCE,
            "eval_data": self.eval_data,
            "tasks": tasks,
            "tasks_set_aside": list(self.tasks_set_aside),
            "rows_set_aside": self.rows_set_aside,
            "warnings": list(self.warnings),
        }

    def display_tables(self) -> list[Table]:
        rows = []
        for m in self.maps:
            E, A, B, alpha, beta = m.step1
            a, k, L0, b = m.step2
            rows.append(
                (
                    f"{m.task} {m.metric}",
                    str(m.n_runs),
                    f"{m.loss_metric} = {E:.4g} + {A:.4g}/N^{alpha:.3f} + {B:.4g}/D^{beta:.3f}",
                    f"{a:.3f} / (1 + exp({-k:.3g} (L - {L0:.4g}))) + {b:.3f}",
                )
            )
        notes = [w for w in (*self.tasks_set_aside, *self.warnings, self.rows_set_aside) if w]
        title = f"Downstream ladder ({SOURCE}: {STEP1_FORM}; {STEP2_FORM})"
        headers = ["task metric", "runs", "step 1: task loss", "step 2: accuracy"]
        return [Table.of(rows, headers=headers, title=title, notes=notes, align="lrll")]


# ------------------------------------------------------------------------------------------ step 2
def sigmoid_starts(L: np.ndarray, acc: np.ndarray) -> list[np.ndarray]:
    """Starts (a, k, L0, b) around the data: k of the sign the data show (accuracy falling as the task loss
    rises: k < 0) at 2, 6 and 20 over the losses' range, L0 below, within and above it."""
    span = max(float(np.ptp(L)), 1e-9)
    sign = -1.0 if np.ptp(acc) == 0 or np.corrcoef(L, acc)[0, 1] < 0 else 1.0
    a0 = float(np.clip(2 * np.ptp(acc), 0.05, 1.0))
    b0 = float(np.clip(acc.min() - 0.1 * np.ptp(acc), 0.0, 1.0 - a0))
    centres = (L.min() - span, *np.quantile(L, [0, 0.5, 1]), L.max() + span)
    return [np.array([a0, sign * k / span, L0, b0]) for k in (2.0, 6.0, 20.0) for L0 in centres]


def fit_sigmoid(L: np.ndarray, acc: np.ndarray, starts: list[np.ndarray] | None = None) -> np.ndarray | None:
    """(a, k, L0, b) of Acc(L) = a / (1 + exp(-k (L - L0))) + b by least squares (a in (0, 1], b in [0, 1],
    |k| at most 200 over the losses' range, L0 within 10 ranges of them), the best of ``starts`` (by default
    `sigmoid_starts`); None when no start converges."""
    from scipy.optimize import least_squares

    span = max(float(np.ptp(L)), 1e-3 * float(np.mean(np.abs(L))), 1e-9)
    low = [1e-6, -200.0 / span, float(L.min()) - 10 * span, 0.0]
    high = [1.0, 200.0 / span, float(L.max()) + 10 * span, 1.0]
    starts = sigmoid_starts(L, acc) if starts is None else starts
    best, best_cost = None, np.inf
    for x0 in starts:
        x0 = np.clip(x0, np.add(low, 1e-9), np.subtract(high, 1e-9))
        try:
            result = least_squares(lambda p: sigmoid(p, L) - acc, x0, bounds=(low, high), method="trf")
        except (ValueError, FloatingPointError):
            continue
        if np.all(np.isfinite(result.x)) and result.cost < best_cost:
            best, best_cost = result.x, float(result.cost)
    return best


def bootstrap_sigmoid(
    L: np.ndarray, acc: np.ndarray, fitted: np.ndarray, bootstrap: int, seed: int
) -> np.ndarray:
    """(R, 4) step 2 constants of ``bootstrap`` resamples of the runs, each started from the full fit
    ``fitted`` (resamples without a spread of task loss, or that do not converge, are left out)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(bootstrap):
        pick = rng.integers(0, len(L), len(L))
        if np.ptp(L[pick]) > 0:
            refit = fit_sigmoid(L[pick], acc[pick], starts=[fitted])
            if refit is not None:
                rows.append(refit)
    return np.asarray(rows, dtype=float).reshape(-1, 4)


# ------------------------------------------------------------------------------------------ the tasks
def runs_fingerprint(frame: Any, name: str) -> str:
    """What the maps were fitted on: the runs table's name and a digest of its runs (N, D, loss), the data
    identity a plan's law must share (`scaling.recipe.downstream.check_same_data`)."""
    rows = sorted(f"{n:.6g},{d:.6g},{x:.6g}" for n, d, x in frame[["N", "D", "loss"]].to_numpy(float))
    digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:12]
    return f"the runs in {name} (digest {digest})"


def task_tables(frame: Any, evals: Evals) -> tuple[dict[tuple[str, str, str], Any], list[str]]:
    """Per (task, accuracy metric, loss metric): the runs (N, D, loss = task loss, accuracy); and why the
    other tasks cannot be fitted."""
    import pandas as pd

    table = pd.DataFrame(list(evals.rows), columns=["run_id", "task", "metric", "value"])
    table["kind"] = [metric_kind(m) for m in table["metric"]]
    runs = frame.assign(run_id=frame["run_id"].astype(str).str.strip())
    out, set_aside = {}, []
    for task, rows in table.groupby("task", sort=True):
        losses = sorted(rows.loc[rows["kind"] == "loss", "metric"].unique())
        accuracies = sorted(rows.loc[rows["kind"] == "accuracy", "metric"].unique())
        if not losses:
            set_aside.append(
                f"task {task}: only {', '.join(accuracies)} rows; the ladder needs {TASK_LOSS_HELP} as well"
            )
            continue
        if not accuracies:
            set_aside.append(
                f"task {task}: only a task loss ({', '.join(losses)}); step 2 needs an accuracy per run "
                f"({', '.join(ACCURACY_METRICS)})"
            )
            continue
        if len(losses) > 1:
            set_aside.append(f"task {task}: {len(losses)} task-loss metrics ({', '.join(losses)}); keep one")
            continue
        wide = rows.pivot(index="run_id", columns="metric", values="value").reset_index()
        joined = runs[["run_id", "N", "D"]].merge(wide, on="run_id")
        for metric in accuracies:
            both = joined[["run_id", "N", "D", losses[0], metric]].dropna()
            if len(both) < MIN_RUNS:
                set_aside.append(
                    f"task {task} {metric}: {len(both)} runs with both {losses[0]} and {metric}; the ladder "
                    f"needs at least {MIN_RUNS} (step 1 has five constants)"
                )
                continue
            out[(task, metric, losses[0])] = pd.DataFrame(
                {
                    "N": both["N"].to_numpy(float),
                    "D": both["D"].to_numpy(float),
                    "loss": both[losses[0]].to_numpy(float),
                    "C": six_nd(both["N"].to_numpy(float), both["D"].to_numpy(float)),
                    "accuracy": both[metric].to_numpy(float),
                }
            )
    return out, set_aside


def fit_task(
    key: tuple[str, str, str], data: Any, eval_data: str, law: str, bootstrap: int, seed: int, level: float
) -> tuple[LadderMap, list[str]]:
    """Both steps of one task, with ``bootstrap`` resamples each; returns the map and its cautions."""
    from scaling.fit.parametric import fit_parametric
    from scaling.fit.report import collect

    task, metric, loss_metric = key
    step1, messages = collect(fit_parametric, data, bootstrap=bootstrap, seed=seed, level=level, name=task)
    L, acc = data["loss"].to_numpy(float), data["accuracy"].to_numpy(float)
    step2 = fit_sigmoid(L, acc)
    if step2 is None:
        raise ScalingError(f"task {task} {metric}: the sigmoid of step 2 found no fit")
    rows2 = bootstrap_sigmoid(L, acc, step2, bootstrap, seed)
    rows1 = step1.replicates if step1.replicates is not None else np.empty((0, 5))
    n = min(len(rows1), len(rows2))
    replicates = np.hstack([rows1[:n], rows2[:n]])
    lm = LadderMap(
        task=task,
        metric=metric,
        loss_metric=loss_metric,
        step1=tuple(float(getattr(step1, k)) for k in STEP1),
        step2=tuple(float(v) for v in step2),
        replicates=replicates,
        level=level,
        eval_data=eval_data,
        law=law,
        n_runs=len(data),
        flops_range=(float(data["C"].min()), float(data["C"].max())),
        loss_range=(float(L.min()), float(L.max())),
    )
    return lm, [f"task {task} {metric} step 1: {m}" for m in messages]


def fit_ladder(
    frame: Any,
    evals: Evals,
    *,
    name: str = "runs",
    law: str = "law",
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    level: float = 0.8,
) -> LadderFit:
    """The two-step ladder of every task of ``evals`` on the runs of ``frame`` (a runs table with run_id, N,
    D, loss), joined by run id."""
    if "run_id" not in frame.columns:
        raise ScalingError(
            "--downstream joins the evals to the runs by run id: the runs table has no run_id column"
        )
    known = set(frame["run_id"].astype(str).str.strip())
    evals = evals.without(lambda row: row[0] in known, "unknown run id")
    if not evals.rows:
        raise ScalingError(f"no eval row names a run of {name}: {evals.set_aside_line()}")
    eval_data = runs_fingerprint(frame, name)
    tables, set_aside = task_tables(frame, evals)
    maps, warnings = [], []
    for key, data in tables.items():
        try:
            fitted, cautions = fit_task(key, data, eval_data, law, bootstrap, seed, level)
        except ScalingError as error:
            set_aside.append(f"task {key[0]} {key[1]}: {error}")
            continue
        maps.append(fitted)
        warnings += cautions
    if not maps:
        raise ScalingError(f"--downstream fitted no task: {'; '.join(set_aside) or 'no task has runs'}")
    return LadderFit(tuple(maps), eval_data, tuple(set_aside), evals.set_aside_line(), tuple(warnings))


def fit_runs_ladder(runs: Any, evals_path: Any, *, bootstrap: int = 0, seed: int = 0) -> LadderFit:
    """``scaling fit RUNS --downstream evals.csv``: the evals read first (bad ones are refused before any
    fit), then the ladder of every task on the runs they name."""
    from scaling.runs_table import read_table

    evals = read_evals(evals_path)
    frame = read_table(runs).frame
    path = Path(str(runs)) if isinstance(runs, (str, Path)) else Path("runs")
    return fit_ladder(
        frame, evals, name=path.name, law=path.stem, bootstrap=bootstrap or DEFAULT_BOOTSTRAP, seed=seed
    )


def carry_ladder(report: Any, ladder: LadderFit) -> Any:
    """The `FitReport` with its Approach 3 law carrying the maps, and the runs' data as its ``eval_data`` (so
    that the maps answer for it)."""
    if report.approach3 is None:
        return report
    law = replace(report.approach3, downstream=ladder.to_law_key(), eval_data=ladder.eval_data)
    return replace(report, approach3=law)
