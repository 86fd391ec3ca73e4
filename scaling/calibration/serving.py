"""Serving calibration: the roofline's prefill compute fraction, decode bandwidth fraction and per-step
overhead fitted to benchmark runs (`scaling.calibration.benchmarks`).

Each run is predicted from the estimator's own continuous-batching step (`Deployment.step_seconds`: one
forward pass of ``b`` decoding sequences and ``t`` prompt tokens, ``max(compute, memory) + all-reduces +
overhead``). A run keeps ``c`` sequences in flight (its mean concurrency, capped at the batch that fits
memory, `fitting_batch`); a request prefills its P-token prompt in k = ceil(P / chunk) passes alongside the
other c - 1 decoding sequences, then makes its other O - 1 tokens one pass each. Over one cycle of
L = max(O - 1 + k, c k) passes, c k are mixed and the rest pure decode, so::

    t_mix = step_seconds(c - 1, P / k)            t_dec = step_seconds(c, 0)
    cycle = c k t_mix + (L - c k) t_dec
    output tokens/s = c O / cycle                 # the benchmark's output throughput
    TPOT = (cycle - k t_mix) / (L - k)            # a request's passes after its own prefill
    TTFT = k t_mix                                # its own prefill

When the c k prefills outnumber a generation's passes (offline runs of short outputs), q prompts share a
pass (up to a chunk's tokens), so c k / q passes are mixed, each ``step_seconds(c - q, q P / k)``.

`fit_serving` minimises the squared log errors of every measured number over the three factors (bounded
least squares), starting from the efficiency table's values. A factor is fitted only where the runs identify
it: some measured time must depend on it (`IDENTIFIED`) and not move with it as with another factor
(the columns of the sensitivity matrix, scaled to unit length, keep a singular value ratio above 0.05; at most
one factor per measured number). What is not identified keeps the table's value and the file says which and
why. A TTFT is fitted only where one request is in flight: with more, a prompt also waits behind the others'
prefills (a queue this cycle leaves out; vLLM's and NIM's TTFT grow with concurrency well before the batch
is full). With three runs or more, resampling the runs gives a 90% interval.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from scaling.calibration.benchmarks import ServingMeasurement
from scaling.calibration.file import FACTORS, SERVING_FACTORS, Calibration, Factor
from scaling.errors import ScalingError

INTERVAL_LEVEL = 0.9
BOOTSTRAP_SAMPLES = 100
# A factor is identified when some measured time depends on it: a fraction's share of that time (the
# elasticity) is 5% or more, or a millisecond of overhead moves it by 1% or more.
IDENTIFIED = {
    "prefill_compute_fraction": 0.05,
    "decode_bandwidth_fraction": 0.05,
    "serving_step_overhead_s": 0.01,
}
SEPARATED = 0.05  # smallest over largest singular value of the scaled sensitivities
NAMES = tuple(SERVING_FACTORS)  # prefill compute, decode bandwidth, overhead
MEANING = {
    "prefill_compute_fraction": "share of the dense peak in prefill and compute-bound decode (replaces the "
    "table's prefill_mfu and decode_mfu, as --mfu does)",
    "decode_bandwidth_fraction": "share of memory bandwidth reading weights and KV cache (replaces "
    "weights_mbu and kv_mbu, as --mbu does)",
    "serving_step_overhead_s": "seconds each forward pass adds: launches, scheduling, sampling (replaces "
    "step_overhead_s, as --overhead does)",
}


@dataclass(frozen=True)
class Case:
    """One measurement and its deployment at the efficiency table's values."""

    measurement: ServingMeasurement
    deployment: Any  # scaling.serving.Deployment
    concurrency: float  # sequences in flight, capped at the batch that fits
    capped: bool


def make_case(m: ServingMeasurement) -> Case:
    from scaling.serving import fitting_batch, make_deployment

    s = m.setup
    dep = make_deployment(
        s.spec,
        s.accelerator,
        tp=s.tp,
        prompt_tokens=max(1, round(m.prompt_tokens)),
        output_tokens=max(1, round(m.output_tokens)),
        precision=s.precision,
        quant=s.quant,
        kv_dtype=s.kv_dtype,
    )
    fits = fitting_batch(dep)
    if fits < 1:
        raise ScalingError(f"{s.spec.name} does not fit {s.tp}x{s.accelerator} (result {m.row}): check --tp")
    return Case(m, dep, min(m.concurrency, float(fits)), m.concurrency > fits)


def with_factors(dep: Any, values: dict[str, float]) -> Any:
    """``dep`` with the efficiencies ``values`` (factor name -> value) replace."""
    changes = {
        q: values[name] for name, quantities in SERVING_FACTORS.items() if name in values for q in quantities
    }
    return replace(dep, eff=replace(dep.eff, **changes))


def benchmark_prediction(dep: Any, concurrency: float) -> dict[str, float | None]:
    """Output tokens/s, TPOT and TTFT (seconds) of a run keeping ``concurrency`` sequences in flight on
    ``dep`` (the cycle of the module doc)."""
    c = max(1.0, float(concurrency))
    prompt, output = dep.prompt_tokens, dep.output_tokens
    chunk = dep.assumptions.prefill_chunk_tokens
    k = math.ceil(prompt / chunk)
    # prompts per mixed pass: one while the passes of a generation leave room for every prefill, more (up to
    # a chunk's worth) when they do not
    q = min(max(1.0, c * k / (output - 1 + k)), max(1.0, float(chunk // prompt)), c)
    mixed = c * k / q
    t_mix = float(dep.step_seconds(c - q, q * prompt / k))
    t_dec = float(dep.step_seconds(c, 0.0))
    passes = max(output - 1 + k, mixed)
    cycle = mixed * t_mix + (passes - mixed) * t_dec
    tpot = None
    if passes > k:
        tpot = (cycle - k * t_mix) / (passes - k)
    return {"tokens_per_s": c * output / cycle, "tpot_s": tpot, "ttft_s": k * t_mix}


def _observed(case: Case) -> list[tuple[str, float]]:
    m = case.measurement
    out = [("tokens_per_s", m.output_tokens_per_s)]
    if m.tpot_s is not None and m.output_tokens > 1.5:
        out.append(("tpot_s", m.tpot_s))
    if m.ttft_s is not None and case.concurrency < 1.5:
        out.append(("ttft_s", m.ttft_s))
    return out


# ------------------------------------------------------------------------------------------------ fit
def _values(x: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    """Factor values from the solver's variables: log fractions, milliseconds of overhead."""
    return {
        n: (v / 1e3 if n == "serving_step_overhead_s" else math.exp(v)) for n, v in zip(names, x, strict=True)
    }


def _variables(values: dict[str, float], names: tuple[str, ...]) -> np.ndarray:
    return np.array(
        [values[n] * 1e3 if n == "serving_step_overhead_s" else math.log(values[n]) for n in names]
    )


def _residuals(x: np.ndarray, names: tuple[str, ...], cases: list[Case]) -> np.ndarray:
    values = _values(x, names)
    out = []
    for case in cases:
        predicted = benchmark_prediction(with_factors(case.deployment, values), case.concurrency)
        out += [math.log(predicted[key] / measured) for key, measured in _observed(case)]
    return np.array(out)


def _table_values(cases: list[Case]) -> dict[str, float]:
    """The efficiency table's value of each factor, the median over the runs (the solver's start)."""
    quantity = {name: quantities[0] for name, quantities in SERVING_FACTORS.items()}
    return {n: float(np.median([getattr(c.deployment.eff, quantity[n]) for c in cases])) for n in NAMES}


def _bounds(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    low = [
        FACTORS[n][0][0] * 1e3 if n == "serving_step_overhead_s" else math.log(FACTORS[n][0][0])
        for n in names
    ]
    high = [200.0 if n == "serving_step_overhead_s" else 0.0 for n in names]
    return np.array(low), np.array(high)


def identified(cases: list[Case], start: dict[str, float]) -> tuple[tuple[str, ...], dict[str, str]]:
    """The factors the runs identify, and why each other one is held at the table's value."""
    x0 = _variables(start, NAMES)
    base = _residuals(x0, NAMES, cases)
    columns = []
    for i in range(len(NAMES)):
        step = np.zeros_like(x0)
        step[i] = 0.01  # 1% of a fraction (its log), or 10 us of overhead (in ms)
        columns.append((_residuals(x0 + step, NAMES, cases) - base) / step[i])
    jac = np.array(columns).T  # rows: measured numbers; columns: per unit log fraction, or per ms
    held = {}
    kept = []
    for i, name in enumerate(NAMES):
        if np.max(np.abs(jac[:, i])) < IDENTIFIED[name]:
            held[name] = "no measured number depends on it (the runs are bound elsewhere)"
        else:
            kept.append(i)
    while kept:
        sub = jac[:, kept] / np.linalg.norm(jac[:, kept], axis=0)
        sv = np.linalg.svd(sub, compute_uv=False)
        if len(kept) <= len(base) and sv[-1] >= SEPARATED * sv[0]:
            break
        _, _, vt = np.linalg.svd(sub)
        drop = kept[int(np.argmax(np.abs(vt[-1])))]
        held[NAMES[drop]] = (
            f"the {len(cases)} run(s) cannot separate it from "
            f"{' and '.join(NAMES[k] for k in kept if k != drop)} (give runs at other concurrencies and "
            "prompt lengths, with TTFT)"
        )
        kept.remove(drop)
    return tuple(NAMES[i] for i in kept), held


def _solve(cases: list[Case], names: tuple[str, ...], start: dict[str, float]) -> dict[str, float]:
    from scipy.optimize import least_squares

    low, high = _bounds(names)
    x0 = np.clip(_variables(start, names), low + 1e-9, high - 1e-9)
    result = least_squares(_residuals, x0, bounds=(low, high), args=(names, cases), x_scale=1.0)
    return _values(result.x, names)


def _intervals(cases: list[Case], names: tuple[str, ...], start: dict[str, float], seed: int) -> dict:
    if len(cases) < 3:
        return {}
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(BOOTSTRAP_SAMPLES):
        pick = [cases[i] for i in rng.integers(0, len(cases), len(cases))]
        if sum(len(_observed(c)) for c in pick) < len(names):
            continue
        draws.append(_solve(pick, names, start))
    if not draws:
        return {}
    tail = (1.0 - INTERVAL_LEVEL) / 2.0 * 100.0
    return {
        n: tuple(float(v) for v in np.percentile([d[n] for d in draws], [tail, 100 - tail])) for n in names
    }


def fit_serving(
    measurements: list[ServingMeasurement], *, source: str | Path = "", seed: int = 0
) -> Calibration:
    """The serving calibration of ``measurements`` (one accelerator): the factors the runs identify, each
    with its interval, and each run measured against its calibrated prediction."""
    if not measurements:
        raise ScalingError("no benchmark results to calibrate on")
    names = sorted({m.setup.accelerator for m in measurements})
    if len(names) > 1:
        raise ScalingError(
            f"the benchmarks ran on {', '.join(names)}: a calibration is for one accelerator, so calibrate "
            "each on its own"
        )
    cases = [make_case(m) for m in measurements]
    start = _table_values(cases)
    fitted, held = identified(cases, start)
    if not fitted:
        raise ScalingError(
            "the benchmark results identify no serving efficiency: "
            + "; ".join(f"{n}: {w}" for n, w in held.items())
        )
    values = _solve(cases, fitted, start)
    intervals = _intervals(cases, fitted, start, seed)
    rows = tuple(m.row for m in measurements)
    factors = {
        n: Factor(values[n], intervals.get(n), FACTORS[n][1], MEANING[n], rows) for n in NAMES if n in fitted
    }
    notes = [f"{n} held at the efficiency table's value ({start[n]:.4g}): {why}" for n, why in held.items()]
    if not intervals:
        notes.append("no intervals: fewer than three benchmark runs")
    notes += [
        f"{n} = {values[n]:.4g} is at the end of its range: the runs ask for more than the roofline allows "
        "(a term it leaves out, or another deployment than the one given)"
        for n in fitted
        if n != "serving_step_overhead_s" and values[n] >= 0.999
    ]
    notes += [
        f"result {c.measurement.row}: {c.measurement.concurrency:.4g} requests in flight, "
        f"{c.concurrency:.0f} fit memory: predicted at the batch that fits"
        for c in cases
        if c.capped
    ]
    if any(c.measurement.ttft_s is not None and c.concurrency >= 1.5 for c in cases):
        notes.append(
            "TTFT fitted only at one request in flight: at more it includes waiting for other prefills"
        )
    calibration = Calibration(
        kind="serving",
        accelerator=names[0],
        factors=factors,
        source=_source(measurements, source),
        notes=tuple(notes),
    )
    return replace(calibration, measurements=tuple(_measured(c, values) for c in cases))


def _measured(case: Case, values: dict[str, float]) -> dict[str, Any]:
    m = case.measurement
    predicted = benchmark_prediction(with_factors(case.deployment, values), case.concurrency)
    out: dict[str, Any] = {
        "row": m.row,
        "file": m.file,
        "format": m.format,
        **m.setup.to_dict(),
        "prompt_tokens": m.prompt_tokens,
        "output_tokens": m.output_tokens,
        "concurrency": case.concurrency,
        "fitted_on": [key for key, _ in _observed(case)],
    }
    for key, measured in (
        ("tokens_per_s", m.output_tokens_per_s),
        ("tpot_s", m.tpot_s),
        ("ttft_s", m.ttft_s),
    ):
        out[f"measured_{key}"] = measured
        out[f"predicted_{key}"] = predicted[key]
    return out


def _source(measurements: list[ServingMeasurement], source: str | Path) -> dict[str, Any]:
    files = sorted({m.file for m in measurements})
    return {
        "file": str(source),
        "format": sorted({m.format for m in measurements}),
        "results": len(measurements),
        "sha256": {f: hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files if Path(f).is_file()},
        "deployments": sorted({str(m.setup.to_dict()) for m in measurements}),
    }
