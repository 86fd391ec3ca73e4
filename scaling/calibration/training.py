"""Training calibration: the step model's efficiencies fitted to measured step times.

The step model (`scaling.layout.step_time`) explains a step as compute, a pipeline bubble and communication.
Calibrated, it predicts a step from named terms, each at its own efficiency:

    step_s = hardware FLOPs x (1 + bubble) / (devices x peak x compute_efficiency)   # kernels and bubble
           + communication at the catalog's links / link_efficiency                  # TP, DP, PP traffic
           + step_overhead_s                                               # optimizer, data, logging

The hardware FLOPs (exact count, with attention and recomputation), the bubble (p - 1) / (m v) (Narayanan et
al. 2021 §2.2) and the traffic come from the layout search (`step_terms`), for the run's layout where the log
gives it and for the layout the plan would choose where it does not. The step is linear in (1 /
compute_efficiency, 1 / link_efficiency, step_overhead_s), so `fit_training` solves non-negative least
squares on relative errors (every run counts alike, whatever its size) and bootstraps the runs for a 90%
interval. It fits only what the runs identify: the link efficiency needs runs whose communication share
differs, the overhead at least three runs; what is not identified keeps the uncalibrated value (the catalog's
bandwidth, no overhead) and the file says so. Memory: the measured peak per device less the memory model's
terms (`estimate_memory` without its overhead) is the overhead the memory model should add.

`calibrated_mfu` then gives any face the MFU the calibrated step implies for its run (6ND FLOPs per step over
devices x peak x predicted step), so the plan composes its time from the same one number as before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scaling.calibration.file import Calibration, Factor
from scaling.cluster import Cluster
from scaling.errors import ScalingError
from scaling.model import ModelSpec

# `scaling.calibration.runs.TrainingRun` (a training log's row), named in words: that module reads its models
# through `scaling.flops_report`, which applies calibrations through this one, so even a type-checking import
# would close a cycle.
TrainingRun = Any

INTERVAL_LEVEL = 0.9
BOOTSTRAP_SAMPLES = 300
SEARCH_MFU = 0.01  # the layout search's MFU when only its terms are read: low, so the compute never vanishes


@dataclass(frozen=True)
class StepTerms:
    """The named terms of one run's step at 100% efficiency, and its 6ND model FLOPs."""

    compute_s: float  # hardware FLOPs x (1 + bubble) / (devices x peak)
    communication_s: float  # TP + DP + PP traffic at the catalog's bandwidths
    model_flops: float  # 6ND per step
    rate: float  # devices x dense peak, FLOP/s
    memory_bytes: float  # per device, the memory model's terms without its overhead
    layout: dict[str, Any]

    def step_seconds(self, compute_efficiency: float, link_efficiency: float, overhead_s: float) -> float:
        return self.compute_s / compute_efficiency + self.communication_s / link_efficiency + overhead_s


def step_terms(
    spec: ModelSpec,
    cluster: Cluster,
    *,
    seq_len: int,
    global_batch: int | None = None,
    batch_tokens: float | None = None,
    dtype: str = "bf16",
    layout: dict[str, Any] | None = None,
) -> StepTerms:
    """The step terms of ``spec`` on ``cluster``: of ``layout`` where given (each key pins one axis), else of
    the layout the search ranks first (the plan's choice). ``global_batch`` in sequences, or
    ``batch_tokens`` as a target each layout rounds."""
    from scaling.layout import LayoutChoices, search_layouts
    from scaling.memory import Precision, Workload

    pinned = {k: (v,) for k, v in (layout or {}).items()}
    common = dict(
        cluster=cluster,
        workload=Workload.of(seq_len=seq_len, global_batch=global_batch),
        precision=Precision.of(dtype),
        choices=LayoutChoices(**pinned),
        mfu=SEARCH_MFU,
        batch_tokens=batch_tokens if global_batch is None else None,
        top=1,
        as_frame=False,
    )
    columns, _ = search_layouts(spec, **common)
    if len(columns["tp"]) == 0:  # the memory model says nothing fits: the run did, so take it anyway
        columns, _ = search_layouts(spec, include_unfit=True, **common)
    if len(columns["tp"]) == 0:
        raise ScalingError(
            f"no layout of {spec.name} on {cluster} matches {layout or 'the search'} (check tp x pp divides "
            "the devices and the global batch)"
        )
    row = {k: (v[0].item() if hasattr(v[0], "item") else v[0]) for k, v in columns.items()}
    rate = cluster.devices * cluster.accelerator.peak(dtype)
    hardware = row["hfu"] * rate * row["step_s"]  # explain_step: hfu = hardware FLOPs / (rate x step)
    bubble = row["bubble_s"] / row["compute_s"] if row["compute_s"] > 0 else 0.0
    return StepTerms(
        compute_s=hardware * (1.0 + bubble) / rate,
        communication_s=row["tp_comm_s"] + row["dp_comm_s"] + row["pp_comm_s"],
        model_flops=row["mfu"] * rate * row["step_s"],
        rate=rate,
        memory_bytes=row["total_bytes"] - row["overhead_bytes"],
        layout={
            k: row[k] for k in ("tp", "pp", "dp", "zero", "micro_batch", "recompute", "sp", "interleave")
        },
    )


def run_terms(run: TrainingRun) -> StepTerms:
    return step_terms(
        run.spec,
        run.cluster,
        seq_len=run.seq_len,
        global_batch=run.global_batch,
        dtype=run.dtype,
        layout=run.layout,
    )


# ------------------------------------------------------------------------------------------------ fit
def _solve(design: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Non-negative least squares of design @ x = measured on relative errors."""
    from scipy.optimize import nnls

    weights = 1.0 / measured
    x, _ = nnls(design * weights[:, None], np.ones_like(measured))
    return x


def _identified(design: np.ndarray) -> list[int]:
    """The columns (0 compute, 1 link, 2 overhead) the runs identify: compute always; the link when the
    communication share varies between runs; the overhead with three runs or more; never a rank-deficient
    set."""
    n = len(design)
    columns = [0]
    share = design[:, 1] / np.maximum(design[:, 0], 1e-300)
    if n >= 2 and np.ptp(share) > 0.02 * max(np.max(share), 1e-300) and np.max(share) > 1e-3:
        columns.append(1)
    if n >= 3:
        columns.append(2)
    while np.linalg.matrix_rank(design[:, columns] / design[:, columns].max(axis=0)) < len(columns):
        columns.pop()
    return columns


def fit_training(runs: list[TrainingRun], *, source: str | Path = "", seed: int = 0) -> Calibration:
    """The training calibration of ``runs`` (one accelerator): compute efficiency, link efficiency and
    per-step overhead of the step model, and the memory overhead where peak memory was logged."""
    if not runs:
        raise ScalingError("no runs to calibrate on")
    names = {r.cluster.accelerator.name for r in runs}
    if len(names) > 1:
        raise ScalingError(
            f"the runs are on {', '.join(sorted(names))}: a calibration is for one accelerator, so give "
            "one table per accelerator"
        )
    terms = [run_terms(r) for r in runs]
    design = np.array([[t.compute_s, t.communication_s, 1.0] for t in terms])
    measured = np.array([r.step_seconds for r in runs])
    columns = _identified(design)
    x = _fitted(design, measured, columns)
    if x[0] <= 0:
        raise ScalingError("the measured steps are shorter than the communication alone: check the table")
    boot = _bootstrap(design, measured, columns, seed)
    rows = tuple(r.row for r in runs)
    factors = {
        "compute_efficiency": Factor(
            1.0 / x[0],
            _interval(boot, 0, invert=True),
            "fraction of dense peak",
            "the kernels' hardware FLOPs (exact, with attention and recomputation) x (1 + pipeline bubble) "
            "over devices x dense peak x compute time",
            rows,
        )
    }
    if 1 in columns and x[1] > 0:
        factors["link_efficiency"] = Factor(
            min(1.0 / x[1], 1.0),
            _interval(boot, 1, invert=True, upper=1.0),
            "fraction of catalog link bandwidth",
            "the catalog's link and network bandwidth achieved by TP, DP and PP traffic (no overlap)",
            rows,
        )
    if 2 in columns:
        factors["step_overhead_s"] = Factor(
            float(x[2]),
            _interval(boot, 2),
            "seconds per step",
            "time per step outside compute and links",
            rows,
        )
    memory = _memory_overhead(runs, terms)
    if memory is not None:
        factors["memory_overhead_bytes"] = memory
    calibration = Calibration(
        kind="training",
        accelerator=next(iter(names)),
        factors=factors,
        source=_source(source, len(runs)),
        notes=tuple(_notes(columns)),
    )
    return _with_measurements(calibration, runs, terms)


def _fitted(design: np.ndarray, measured: np.ndarray, columns: list[int]) -> np.ndarray:
    x = np.array([0.0, 1.0, 0.0])  # unidentified: catalog links (efficiency 1), no overhead
    sub = design[:, columns]
    rest = (
        measured
        - design[:, [c for c in range(3) if c not in columns]] @ x[[c for c in range(3) if c not in columns]]
    )
    x[columns] = _solve(sub, np.maximum(rest, 1e-12))
    return x


def _bootstrap(design: np.ndarray, measured: np.ndarray, columns: list[int], seed: int) -> np.ndarray | None:
    n = len(measured)
    if n < 3:
        return None
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(BOOTSTRAP_SAMPLES):
        pick = rng.integers(0, n, n)
        if np.linalg.matrix_rank(design[pick][:, columns]) < len(columns):
            continue
        draws.append(_fitted(design[pick], measured[pick], columns))
    return np.array(draws) if draws else None


def _interval(
    boot: np.ndarray | None, column: int, *, invert: bool = False, upper: float | None = None
) -> tuple[float, float] | None:
    if boot is None:
        return None
    values = boot[:, column]
    if invert:
        values = 1.0 / np.maximum(values, 1e-12)
    tail = (1.0 - INTERVAL_LEVEL) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    if upper is not None:
        low, high = min(low, upper), min(high, upper)
    return float(low), float(high)


def _memory_overhead(runs: list[TrainingRun], terms: list[StepTerms]) -> Factor | None:
    pairs = [
        (r.row, r.peak_memory_bytes - t.memory_bytes)
        for r, t in zip(runs, terms, strict=True)
        if r.peak_memory_bytes is not None
    ]
    if not pairs:
        return None
    extra = np.array([max(v, 0.0) for _, v in pairs])
    interval = (float(extra.min()), float(extra.max())) if len(extra) >= 3 else None
    return Factor(
        float(np.median(extra)),
        interval,
        "bytes per device",
        "measured peak memory per device less the memory model's terms (weights, gradients, optimizer, "
        "activations, logits): the overhead term the memory model adds (median; interval: least and most)",
        tuple(row for row, _ in pairs),
    )


def _source(source: str | Path, rows: int) -> dict[str, Any]:
    out: dict[str, Any] = {"file": str(source), "rows": rows}
    path = Path(source) if source else None
    if path is not None and path.is_file():
        out["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _notes(columns: list[int]) -> list[str]:
    notes = []
    if 1 not in columns:
        notes.append(
            "link efficiency not identified (the runs' communication shares are alike): the catalog's "
            "bandwidths are used"
        )
    if 2 not in columns:
        notes.append("per-step overhead not identified (fewer than three runs): none assumed")
    notes.append("compute efficiency is one number for all GEMM sizes (the runs do not separate sizes)")
    return notes


def _with_measurements(cal: Calibration, runs: list[TrainingRun], terms: list[StepTerms]) -> Calibration:
    from dataclasses import replace

    rows = []
    for run, t in zip(runs, terms, strict=True):
        predicted = predict_step(cal, t)
        rows.append(
            {
                "row": run.row,
                "model": run.spec.name,
                "cluster": str(run.cluster),
                "global_batch": run.global_batch,
                "seq_len": run.seq_len,
                "layout": t.layout,
                "step_s": run.step_seconds,
                "predicted_step_s": predicted,
                "error": predicted / run.step_seconds - 1.0,
                "mfu": t.model_flops / (t.rate * run.step_seconds),
            }
        )
    return replace(cal, measurements=tuple(rows))


# ------------------------------------------------------------------------------------------- predict
def predict_step(cal: Calibration, terms: StepTerms) -> float:
    """The calibrated step time of ``terms``."""
    return terms.step_seconds(
        cal.value("compute_efficiency", 1.0),
        cal.value("link_efficiency", 1.0),
        cal.value("step_overhead_s", 0.0),
    )


def calibrated_mfu(
    cal: Calibration,
    spec: ModelSpec,
    cluster: Cluster,
    *,
    seq_len: int,
    batch_tokens: float | None = None,
    global_batch: int | None = None,
    dtype: str = "bf16",
) -> float:
    """The end-to-end MFU (6ND) the calibrated step model predicts for ``spec`` on ``cluster`` at this batch,
    on the layout the search ranks first."""
    if cal.kind != "training":
        raise ScalingError(f"{cal.label} is a {cal.kind} calibration: training needs one from training logs")
    cal.check_for(cluster.accelerator)
    terms = step_terms(
        spec, cluster, seq_len=seq_len, global_batch=global_batch, batch_tokens=batch_tokens, dtype=dtype
    )
    return float(min(terms.model_flops / (terms.rate * predict_step(cal, terms)), 1.0))
