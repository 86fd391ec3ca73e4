"""Bhagia et al. 2024's two-step ladder (arXiv 2412.04403, §3): the accuracy a model of N parameters trained
on D tokens should reach on one task, from small "ladder" runs on the same data.

* Step 1, the task loss: L_task(N, D) = E + A/N^alpha + B/D^beta (their Eq. 1, Chinchilla's form), the task
  loss being the loss of the correct answer (bits per byte in their ranked-classification setup);
* Step 2, the accuracy: Acc(L) = a / (1 + exp(-k (L - L0))) + b (their Eq. 2), k < 0 when accuracy rises as
  the task loss falls, k > 0 for an error rate;
* the interval chains the steps' bootstrap replicates: replicate i's step 1 gives the task loss at (N, D) and
  replicate i's step 2 its accuracy, and the `level` percentile interval of those is reported.

A law file carries the maps under the key ``downstream`` (written by ``scaling fit RUNS --downstream
evals.csv``), with ``eval_data``, the data of the runs they were fitted on; `check_ladder` is the one
validator of that key and `ladder_maps` reads it. A map answers only for a law whose loss is on the same data
(`scaling.recipe.downstream.check_same_data`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scaling import checks
from scaling.errors import ScalingError, quoted
from scaling.recipe.prediction import DownstreamPrediction, quantile

KEY = "downstream"
STEP1 = ("E", "A", "B", "alpha", "beta")
STEP2 = ("a", "k", "L0", "b")
STEP1_FORM = "L_task(N, D) = E + A/N^alpha + B/D^beta"
STEP2_FORM = "Acc(L) = a / (1 + exp(-k (L - L0))) + b"
SOURCE = "Bhagia et al. 2024 (arXiv 2412.04403) two-step ladder, §3"


def task_loss(step1: Any, N: Any, D: Any) -> np.ndarray:
    """Step 1 at (N, D) for one row of constants (E, A, B, alpha, beta) or an (R, 5) array of them (one
    value per row)."""
    E, A, B, alpha, beta = np.asarray(step1, dtype=float).T
    with np.errstate(over="ignore"):  # an exponent read from a hand-edited file may overflow: the term is 0
        return E + A / np.asarray(N, dtype=float) ** alpha + B / np.asarray(D, dtype=float) ** beta


def sigmoid(step2: Any, L: Any) -> np.ndarray:
    """Step 2 at task loss L for one row of constants (a, k, L0, b), or an (R, 4) array of rows with L of
    length R (broadcasts)."""
    a, k, L0, b = np.asarray(step2, dtype=float).T
    with np.errstate(over="ignore"):
        return a / (1.0 + np.exp(-k * (np.asarray(L, dtype=float) - L0))) + b


@dataclass(frozen=True, eq=False)
class LadderMap:
    """One task's two steps, with their bootstrap replicates (rows of E, A, B, alpha, beta, a, k, L0, b)."""

    task: str
    metric: str  # the accuracy metric of the evals (acc, acc_norm, error, ...)
    loss_metric: str  # the task loss metric (bpb, ...)
    step1: tuple[float, ...]  # E, A, B, alpha, beta
    step2: tuple[float, ...]  # a, k, L0, b
    replicates: np.ndarray
    level: float
    eval_data: str
    law: str
    n_runs: int
    flops_range: tuple[float, float]
    loss_range: tuple[float, float] | None = None  # the task losses step 2 was fitted on

    @property
    def name(self) -> str:
        return f"ladder {self.task}"

    @property
    def laws(self) -> tuple[str, ...]:
        """The law fitted on the same runs (what a refusal suggests)."""
        return (f"the law saved with these maps ({self.law!r})",)

    @property
    def source(self) -> str:
        low, high = self.flops_range
        return (
            f"{SOURCE}, fitted on {self.n_runs} runs of {low:.2g}-{high:.2g} FLOPs (6ND), "
            f"{self.level:.0%} bootstrap interval"
        )

    def extrapolation(self, loss: float) -> str | None:
        """Where step 2 is read outside the task losses it was fitted on (its interval then holds only the
        fit's uncertainty, not the sigmoid's shape beyond the data)."""
        if self.loss_range is None or self.loss_range[0] <= loss <= self.loss_range[1]:
            return None
        low, high = self.loss_range
        return f"step 2 extrapolated beyond the ladder's task losses {low:.4g}-{high:.4g}"

    def task_loss(self, N: float, D: float) -> float:
        return float(task_loss(self.step1, N, D))

    def accuracy(self, L: Any) -> Any:
        return sigmoid(self.step2, L)

    def predict(self, N: float, D: float) -> Any:
        """The task loss and accuracy at N parameters and D tokens, with their bootstrap intervals."""
        N = float(checks.positive(N, "parameters"))
        D = float(checks.positive(D, "tokens"))
        loss = self.task_loss(N, D)
        value = float(self.accuracy(loss))
        interval, loss_interval = (value, value), (loss, loss)
        if len(self.replicates):
            losses = task_loss(self.replicates[:, :5], N, D)
            values = sigmoid(self.replicates[:, 5:], losses)
            tail = (1 - self.level) / 2
            values, losses = [float(v) for v in values], [float(v) for v in losses]
            interval = (quantile(values, tail), quantile(values, 1 - tail))
            loss_interval = (quantile(losses, tail), quantile(losses, 1 - tail))
        return DownstreamPrediction(
            self.name,
            f"{self.task} {self.metric}",
            loss,
            value,
            interval,
            self.level,
            self.source,
            task=self.task,
            loss_metric=self.loss_metric,
            loss_interval=loss_interval,
            note=self.extrapolation(loss),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "loss_metric": self.loss_metric,
            "step1": dict(zip(STEP1, self.step1)),
            "step2": dict(zip(STEP2, self.step2)),
            "n_runs": self.n_runs,
            "flops_range": list(self.flops_range),
            "loss_range": list(self.loss_range) if self.loss_range else None,
            "bootstrap": {"level": self.level, "replicates": np.asarray(self.replicates).tolist()},
        }


def ladder_payload(maps: list[LadderMap], eval_data: str, set_aside: list[str]) -> dict[str, Any]:
    """The law file's ``downstream`` key."""
    return {
        "kind": "ladder",
        "form": [STEP1_FORM, STEP2_FORM],
        "source": SOURCE,
        "eval_data": eval_data,
        "tasks": [m.to_dict() for m in maps],
        "set_aside": list(set_aside),
    }


def _constants(value: Any, names: tuple[str, ...], what: str) -> tuple[float, ...]:
    if not isinstance(value, dict) or any(k not in value for k in names):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected an object with {', '.join(names)}")
    for k in names:
        if isinstance(value[k], (list, tuple, dict, str)):
            raise ScalingError(f"invalid {what}.{k} {quoted(value[k])}: expected a number")
    return tuple(float(checks.finite(value[k], f"{what}.{k}")) for k in names)


def _text(entry: dict[str, Any], key: str, default: str, where: str) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ScalingError(f"invalid {where} {key} {quoted(value)}: expected a name")
    return value


def _range(value: Any, what: str, positive: bool) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2 or any(isinstance(v, (list, dict, str)) for v in value):
        raise ScalingError(f"invalid {what} {quoted(value)}: expected [min, max]")
    low, high = (float(checks.positive(v, what) if positive else checks.finite(v, what)) for v in value)
    if low > high:
        raise ScalingError(f"invalid {what} {quoted(value)}: min above max")
    return low, high


def _task(entry: Any, eval_data: str, law_name: str, where: str) -> LadderMap:
    if not isinstance(entry, dict) or not isinstance(entry.get("task"), str):
        raise ScalingError(f"invalid {where} task {quoted(entry)}: expected an object with a task name")
    where = f"{where} task {quoted(entry['task'])}"
    step1 = _constants(entry.get("step1"), STEP1, f"{where} step1")
    if any(v <= 0 for v in step1):
        raise ScalingError(
            f"invalid {where} step1 {quoted(entry['step1'])}: E, A, B, alpha, beta must be > 0"
        )
    step2 = _constants(entry.get("step2"), STEP2, f"{where} step2")
    if not step2[0] > 0:
        raise ScalingError(
            f"invalid {where} step2.a {quoted(step2[0])}: expected a number above 0 (k's sign orients it)"
        )
    boot = entry.get("bootstrap") or {}
    rows = boot.get("replicates", []) if isinstance(boot, dict) else None
    width = len(STEP1) + len(STEP2)
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == width for r in rows):
        raise ScalingError(
            f"invalid {where} bootstrap: expected replicates as rows of {width} numbers "
            f"[{', '.join(STEP1 + STEP2)}]"
        )
    replicates = np.asarray(checks.finite(rows, f"{where} bootstrap.replicates"), dtype=float).reshape(
        -1, width
    )
    if np.any(replicates[:, :6] <= 0):
        raise ScalingError(f"invalid {where} bootstrap.replicates: E, A, B, alpha, beta and a must be > 0")
    level = checks.fraction(boot.get("level", 0.8), f"{where} bootstrap.level")
    if level >= 1:
        raise ScalingError(f"invalid {where} bootstrap.level {quoted(level)}: expected a fraction below 1")
    loss_range = entry.get("loss_range")
    return LadderMap(
        loss_range=None if loss_range is None else _range(loss_range, f"{where} loss_range", positive=False),
        task=entry["task"],
        metric=_text(entry, "metric", "accuracy", where),
        loss_metric=_text(entry, "loss_metric", "task loss", where),
        step1=step1,
        step2=step2,
        replicates=replicates,
        level=level,
        eval_data=eval_data,
        law=law_name,
        n_runs=checks.positive_int(entry.get("n_runs", 0), f"{where} n_runs", allow_zero=True),
        flops_range=_range(entry.get("flops_range"), f"{where} flops_range", positive=True),
    )


def check_ladder(payload: Any, law_name: str = "law") -> dict[str, Any]:
    """The ``downstream`` key of a law file, validated (one `ScalingError` naming the field)."""
    ladder_maps_of(payload, law_name)
    return dict(payload)


def ladder_maps_of(payload: Any, law_name: str = "law") -> list[LadderMap]:
    """The maps of a ``downstream`` key."""
    where = f"law {law_name!r} {KEY}"
    if not isinstance(payload, dict) or payload.get("kind") != "ladder":
        raise ScalingError(f"invalid {where} {quoted(payload)}: expected an object with kind 'ladder'")
    eval_data = payload.get("eval_data")
    if not isinstance(eval_data, str) or not eval_data.strip():
        raise ScalingError(f"invalid {where}.eval_data {quoted(eval_data)}: expected the data the runs used")
    tasks = payload.get("tasks")
    if not isinstance(tasks, list):
        raise ScalingError(f"invalid {where}.tasks {quoted(tasks)}: expected a list of fitted tasks")
    return [_task(t, eval_data, law_name, where) for t in tasks]


def ladder_maps(law: Any) -> list[LadderMap]:
    """The ladder maps a law file carries (none for a law without them)."""
    payload = getattr(law, KEY, None)
    return ladder_maps_of(payload, getattr(law, "name", "law")) if payload else []
