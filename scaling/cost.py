"""Time, cost and utilisation: FLOPs on a cluster of catalog accelerators, and back.

`compute_cost` turns FLOPs into wall-clock time, device-hours and dollars at an assumed MFU on ``devices``
accelerators of the catalog (their dense peak for a dtype, and their price per device-hour unless one is
given); `flops_from_time`, `flops_from_gpu_hours` and `flops_from_usd` go the other way, which is how a
budget of days, device-hours or dollars becomes FLOPs. `model_flops_utilization` is the one definition of
MFU, `mfu_warning` the one plausibility rule for it, and `mfu_from_throughput` /
`utilization_from_iteration_time` measure MFU and HFU from a training throughput.

The FLOPs themselves are counted in `scaling.flops`; this module only prices them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from scaling.catalog import Accelerator, get_accelerator
from scaling.checks import positive, positive_int, utilization
from scaling.errors import ScalingError
from scaling.flops import training_flops
from scaling.model import ModelSpec
from scaling.render import Displayable
from scaling.units import PF_DAY_FLOPS, SECONDS_PER_DAY, SECONDS_PER_HOUR, format_fraction

DEFAULT_MFU = 0.4  # end-to-end MFU assumed when none is given: PaLM 540B 46.2%, Llama 3 405B 38-43% (Table 4)
# FP8 training's end-to-end speed-up over BF16, same model and GPUs: torchtitan's Llama 3.1 8B on 8 H100s
# (benchmarks/llama3_h100_202412_torchtitan.md), 6,667 -> 8,532 tokens/s/GPU with Float8 (+28%), far from the
# peak's 2x; so the MFU against the FP8 peak is 1.28 / 2 = 0.64 of the BF16 run's. LLM Foundry's MPT-3B on
# H100 (scripts/train/benchmarking/README.md: 27.7% of the FP8 peak against 43.7% of BF16's, 0.63) agrees.
FP8_SPEEDUP = 8532 / 6667
MFU_PLAUSIBLE = 0.6  # above this is rarely seen: Korthikanti 2022 Table 5 tops out at 56.3 % MFU
MFU_LOW = 0.05  # below this, matmuls no longer dominate the step (judgement: check the setup)
# The longest run priced: the age of the universe, 13.8 billion years (Planck 2018 VI, Table 2). A time beyond
# it (or one that overflows) answers no question: it is refused, never printed as a 300-digit number or inf.
MAX_SECONDS = 13.8e9 * 365.25 * 86_400

Number = Any  # a float, or a numpy array of floats (broadcasting)


def default_mfu(dtype: str = "bf16") -> float:
    """The end-to-end MFU assumed when none is given, against ``dtype``'s dense peak: `DEFAULT_MFU`, and for
    fp8 the same run's speed-up over BF16 (`FP8_SPEEDUP`) over the peak's 2x."""
    return DEFAULT_MFU * FP8_SPEEDUP / 2.0 if str(dtype).lower() == "fp8" else DEFAULT_MFU


def default_mfu_source(dtype: str = "bf16") -> str:
    """Where `default_mfu` comes from, for the outputs that state their assumptions."""
    if str(dtype).lower() != "fp8":
        return "the default (PaLM 540B 46.2%, Llama 3 405B 38-43%)"
    return (
        f"the default for fp8: {DEFAULT_MFU:.0%} x {FP8_SPEEDUP:.2f} / 2 (torchtitan's measured FP8 speed-up "
        "over BF16, +28%, against the peak's 2x; LLM Foundry's 27.7% of FP8 peak vs 43.7% of BF16's agrees)"
    )


def check_hfu(mfu: float, hfu: float, what: str) -> None:
    """The one rule for numbers beyond the peak: an MFU whose hardware FLOPs (attention, recomputation) would
    need HFU above 100% is refused, naming ``what`` runs, the HFU it needs and the highest MFU it allows."""
    if hfu <= 1.0:
        return
    ratio = hfu / mfu
    raise ScalingError(
        f"MFU {format_fraction(mfu)} is impossible for {what}: it executes {ratio:.2f}x its model FLOPs "
        f"(attention, recomputation, dequantization), so it needs HFU {format_fraction(hfu)} of peak; "
        "give --mfu below "
        f"{format_fraction(1.0 / ratio)}, or a shorter --seq-len"
    )


def mfu_warning(mfu: float) -> str | None:
    """The one plausibility rule for an MFU (assumed or implied): a warning above `MFU_PLAUSIBLE` or below
    `MFU_LOW`, else None. Every command and the plan call this, so the bounds and wording live here."""
    if mfu > MFU_PLAUSIBLE:
        return (
            f"MFU {mfu:.0%} is above {MFU_PLAUSIBLE:.0%}, implausible for most hardware "
            "(Korthikanti et al. 2022 Table 5 reaches 56.3% on A100s; 35-50% is typical)"
        )
    if mfu < MFU_LOW:
        return (
            f"MFU {format_fraction(mfu)} is below {MFU_LOW:.0%}: the step is dominated by something other "
            "than matmuls (communication, pipeline bubbles, small batches or memory-bound kernels)"
        )
    return None


def model_flops_utilization(
    model_flops: Number, *, devices: int, peak_flops_per_device: float, seconds: Number
) -> Number:
    """MFU, defined once: model FLOPs (under the caller's stated convention, 6ND by default, never counting
    recomputation) over devices x dense peak x seconds (Chowdhery et al. 2022, App. B). HFU is the same
    ratio with hardware FLOPs (recomputation included) in the numerator."""
    return model_flops / (devices * peak_flops_per_device * seconds)


def _mfu_warnings(mfu: float) -> list[str]:
    warning = mfu_warning(mfu)
    return [warning] if warning else []


# --------------------------------------------------------------------------------- time and cost
def pf_days(flops: Number) -> Number:
    """FLOPs in PF-days: 1 PF-day = 1e15 FLOP/s x 86,400 s = 8.64e19 FLOPs (GPT-3 Table D.1 caption)."""
    return flops / PF_DAY_FLOPS


@dataclass(frozen=True)
class ComputeCost(Displayable):
    """Wall-clock time, device-hours and dollars to run ``flops`` on a cluster at a given MFU."""

    flops: Number
    pf_days: Number
    seconds: Number
    days: Number
    gpu_hours: Number
    cost_usd: Number | None
    devices: int
    accelerator: str
    peak_flops_per_device: float
    mfu: float
    dtype: str
    price_usd_per_hour: float | None
    price_source: str = "none"
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if hasattr(value, "tolist"):
                out[key] = value.tolist()
        return out


def device_hour_price(acc: Accelerator, price_usd_per_hour: float | None) -> tuple[float | None, str]:
    """The price per device-hour and where it came from: the one given, else the catalog's, else none."""
    if price_usd_per_hour is not None:
        return float(positive(price_usd_per_hour, "price per device-hour")), "given"
    if acc.price_usd_per_hour is not None:
        return acc.price_usd_per_hour, "catalog"
    return None, "none"


def _largest(value: Number) -> float:
    """The largest of ``value``, a float or an array (numpy only then: the CLI starts fast); NaN if any."""
    if isinstance(value, float):
        return value
    import numpy as np

    return float(np.max(value))


def _check_time(seconds: Number, flops: Number, devices: int, accelerator: str, mfu: float) -> None:
    """Refuse a run longer than `MAX_SECONDS` (or one whose time overflows), naming what was asked."""
    longest = _largest(seconds)
    if not longest <= MAX_SECONDS:
        raise ScalingError(
            f"{_largest(flops):.3g} FLOPs on {devices} x {accelerator} at {format_fraction(mfu)} MFU take "
            f"{longest / (SECONDS_PER_DAY * 365.25):.3g} years, longer than the age of the universe "
            "(13.8 billion years): give fewer FLOPs, more devices or a higher MFU"
        )


def compute_cost(
    flops: Number,
    *,
    accelerator: str | Accelerator,
    devices: int,
    mfu: float,
    dtype: str = "bf16",
    price_usd_per_hour: float | None = None,
) -> ComputeCost:
    """Time and cost of ``flops`` on ``devices`` accelerators achieving ``mfu`` of the dense ``dtype`` peak.

    The price is per device-hour: the one given, else the catalog's, else no cost (``cost_usd`` is None).
    """
    flops = positive(flops, "FLOPs")
    acc = get_accelerator(accelerator)
    devices = positive_int(devices, "device count")
    mfu = utilization(mfu, "MFU")
    peak = acc.peak(dtype)
    seconds = flops / (devices * peak * mfu)
    gpu_hours = seconds * devices / SECONDS_PER_HOUR
    price, source = device_hour_price(acc, price_usd_per_hour)
    _check_time(seconds, flops, devices, acc.name, mfu)
    cost_usd = None if price is None else gpu_hours * price
    if cost_usd is not None and not math.isfinite(_largest(cost_usd)):
        raise ScalingError(f"price ${price:.3g} per device-hour overflows the cost: give a realistic price")
    return ComputeCost(
        flops=flops,
        pf_days=flops / PF_DAY_FLOPS,
        seconds=seconds,
        days=seconds / SECONDS_PER_DAY,
        gpu_hours=gpu_hours,
        cost_usd=cost_usd,
        devices=devices,
        accelerator=acc.name,
        peak_flops_per_device=peak,
        mfu=mfu,
        dtype=dtype,
        price_usd_per_hour=price,
        price_source=source,
        warnings=_mfu_warnings(mfu),
    )


def flops_from_time(
    *, accelerator: str | Accelerator, devices: int, seconds: Number, mfu: float, dtype: str = "bf16"
) -> Number:
    """The FLOPs a cluster delivers in ``seconds`` at ``mfu``: devices x peak x MFU x seconds."""
    acc = get_accelerator(accelerator)
    return (
        positive_int(devices, "device count")
        * acc.peak(dtype)
        * utilization(mfu, "MFU")
        * positive(seconds, "duration")
    )


def flops_from_gpu_hours(
    gpu_hours: Number, *, accelerator: str | Accelerator, mfu: float, dtype: str = "bf16"
) -> Number:
    """The FLOPs in ``gpu_hours`` device-hours at ``mfu``."""
    acc = get_accelerator(accelerator)
    return positive(gpu_hours, "device-hours") * SECONDS_PER_HOUR * acc.peak(dtype) * utilization(mfu, "MFU")


def flops_from_usd(
    usd: Number,
    *,
    accelerator: str | Accelerator,
    mfu: float,
    price_usd_per_hour: float | None = None,
    dtype: str = "bf16",
) -> Number:
    """The FLOPs ``usd`` dollars buy at ``price_usd_per_hour`` per device-hour (default: the catalog's)."""
    acc = get_accelerator(accelerator)
    price, _ = device_hour_price(acc, price_usd_per_hour)
    if price is None:
        raise ScalingError(f"no price for {acc.name}: give a price per device-hour (--price)")
    return flops_from_gpu_hours(positive(usd, "amount") / price, accelerator=acc, mfu=mfu, dtype=dtype)


# ------------------------------------------------------------------------------------ utilisation
@dataclass(frozen=True)
class Utilization(Displayable):
    """Model and hardware FLOPs utilisation of a measured throughput."""

    mfu: float
    hfu: float
    model_flops_per_second_per_device: float
    hardware_flops_per_second_per_device: float
    tokens_per_second_per_device: float
    peak_flops_per_device: float
    accelerator: str
    dtype: str
    convention: str
    recompute: str
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mfu_from_throughput(
    spec: ModelSpec | float,
    tokens_per_second_per_device: float,
    accelerator: str | Accelerator,
    *,
    dtype: str = "bf16",
    convention: str = "6nd",
    seq_len: int | None = None,
    causal: str = "full",
    recompute: str = "none",
    include_embeddings: bool = True,
) -> Utilization:
    """MFU (and HFU) from a measured training throughput, e.g. LLaMA-65B at 380 tokens/s/GPU
    (Touvron 2023)."""
    rate = float(positive(tokens_per_second_per_device, "tokens per second per device"))
    acc = get_accelerator(accelerator)
    peak = acc.peak(dtype)
    counted = training_flops(
        spec,
        1.0,
        convention=convention,
        seq_len=seq_len,
        causal=causal,
        recompute=recompute,
        include_embeddings=include_embeddings,
    )
    model_rate = counted.flops_per_token * rate
    hardware_rate = counted.hardware_flops_per_token * rate
    mfu = model_flops_utilization(model_rate, devices=1, peak_flops_per_device=peak, seconds=1.0)
    warnings = (
        _mfu_warnings(mfu)
        if mfu <= 1.0
        else [f"MFU {mfu:.0%} exceeds 100%: check the throughput and the peak"]
    )
    return Utilization(
        mfu=mfu,
        hfu=model_flops_utilization(hardware_rate, devices=1, peak_flops_per_device=peak, seconds=1.0),
        model_flops_per_second_per_device=model_rate,
        hardware_flops_per_second_per_device=hardware_rate,
        tokens_per_second_per_device=rate,
        peak_flops_per_device=peak,
        accelerator=acc.name,
        dtype=dtype,
        convention=convention,
        recompute=recompute,
        warnings=warnings,
    )


def utilization_from_iteration_time(
    spec: ModelSpec,
    *,
    seconds_per_iteration: float,
    global_batch: int,
    devices: int,
    accelerator: str | Accelerator,
    seq_len: int | None = None,
    dtype: str = "bf16",
    convention: str = "exact",
    causal: str = "full",
    recompute: str = "selective",
    include_embeddings: bool = False,
) -> Utilization:
    """MFU/HFU from an iteration time (Korthikanti et al. 2022, Table 5 and App. A).

    The defaults follow App. A: per-layer terms plus logits, no embeddings, full attention, and selective
    recompute in the hardware FLOPs.
    """
    length = seq_len if seq_len is not None else spec.n_ctx
    tokens = positive(global_batch, "global batch") * positive(length, "sequence length")
    rate = tokens / positive(seconds_per_iteration, "iteration time") / positive_int(devices, "device count")
    return mfu_from_throughput(
        spec,
        rate,
        accelerator,
        dtype=dtype,
        convention=convention,
        seq_len=length,
        causal=causal,
        recompute=recompute,
        include_embeddings=include_embeddings,
    )
