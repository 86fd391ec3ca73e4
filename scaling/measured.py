"""MFU and HFU from a measurement: what ``scaling mfu`` prints.

A training run's throughput (tokens/s over the whole cluster, or a step time and the tokens per step) over
the devices' dense peak, under the two conventions published figures use:

* ``6nd``: 6·N model FLOPs per token (Kaplan et al. 2020 §2.1; PaLM App. B's "45.7% without attention");
* ``6nd+attention``: 6·N + 12·L·H·Q·T (Chowdhery et al. 2022, App. B; nanoGPT ``estimate_mfu``, torchtitan),
  the attention scores counted in full, or halved with ``causal="half"`` as Megatron-LM's TFLOP/s log line
  has counted them since 2025.

MFU is `scaling.cost.model_flops_utilization`; HFU adds the FLOPs recomputation executes again (the exact
per-component count's hardware minus model FLOPs, Korthikanti et al. 2022 App. A) to each convention's
model FLOPs, so the two rows differ only in the attention term.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from scaling.checks import positive
from scaling.cluster import Cluster
from scaling.cost import mfu_warning, model_flops_utilization
from scaling.errors import ScalingError
from scaling.flops import palm_attention_flops_per_token, training_flops
from scaling.model import ModelSpec
from scaling.render import Displayable, Table
from scaling.units import format_count, format_flops, format_fraction

MEASURED_CONVENTIONS = {
    "6nd": "6·N (Kaplan et al. 2020 §2.1)",
    "6nd+attention": "6·N + 12·L·H·Q·T (Chowdhery et al. 2022, App. B; nanoGPT, torchtitan)",
}


@dataclass(frozen=True)
class ConventionUtilization:
    """MFU and HFU of one measurement under one FLOP convention."""

    convention: str
    formula: str
    model_flops_per_token: float
    hardware_flops_per_token: float
    mfu: float
    hfu: float
    model_flops_per_second_per_device: float


@dataclass(frozen=True)
class MeasuredUtilization(Displayable):
    """What a measured throughput means on a cluster: MFU and HFU under each convention."""

    model: str
    params: float
    accelerator: str
    devices: int
    dtype: str
    peak_flops_per_device: float
    seq_len: int
    causal: str
    recompute: str
    tokens_per_second: float
    tokens_per_second_per_device: float
    measured_from: str  # "--tokens-per-s" or "--step-time and --global-batch"
    conventions: tuple[ConventionUtilization, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def by_convention(self, name: str) -> ConventionUtilization:
        return next(c for c in self.conventions if c.convention == name)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["conventions"] = {c.convention: asdict(c) for c in self.conventions}
        out["mfu"] = self.by_convention("6nd").mfu
        out["hfu"] = self.by_convention("6nd").hfu
        out["warnings"] = list(self.warnings)
        return out

    def display_tables(self) -> list[Table]:
        rows = [
            (
                c.convention,
                format_flops(c.model_flops_per_token),
                f"{c.model_flops_per_second_per_device / 1e12:.1f}",
                format_fraction(c.mfu),
                format_fraction(c.hfu),
            )
            for c in self.conventions
        ]
        notes = [f"{c.convention}: {c.formula}" for c in self.conventions]
        notes.append(
            f"peak {self.peak_flops_per_device / 1e12:g} TFLOP/s per {self.accelerator} "
            f"({self.dtype}, dense); "
            f"attention counted {'in full' if self.causal == 'full' else 'halved (causal)'}; "
            f"HFU with {self.recompute} recomputation"
        )
        head = Table.of(
            [
                (
                    "model",
                    f"{self.model} ({format_count(self.params)} params), sequence length {self.seq_len}",
                ),
                ("cluster", f"{self.devices} x {self.accelerator}"),
                (
                    "throughput",
                    f"{format_count(self.tokens_per_second)} tokens/s "
                    f"({self.tokens_per_second_per_device:,.1f} per device; from {self.measured_from})",
                ),
            ],
            align="ll",
        )
        return [
            head,
            Table.of(rows, ["convention", "FLOPs/token", "TFLOP/s/device", "MFU", "HFU"], notes=notes),
        ]


def measured_throughput(
    *,
    tokens_per_second: float | None = None,
    step_seconds: float | None = None,
    batch_tokens: float | None = None,
) -> tuple[float, str]:
    """Tokens per second of the whole cluster, from a rate or from a step time and the tokens per step."""
    if tokens_per_second is not None:
        if step_seconds is not None or batch_tokens is not None:
            raise ScalingError("give --tokens-per-s, or --step-time with --global-batch, not both")
        return float(positive(tokens_per_second, "--tokens-per-s")), "--tokens-per-s"
    if step_seconds is None or batch_tokens is None:
        raise ScalingError(
            "give the measured throughput: --tokens-per-s 238.3k, or --step-time 12.3s with "
            "--global-batch 4M (tokens per step)"
        )
    rate = positive(batch_tokens, "--global-batch") / positive(step_seconds, "--step-time")
    return float(rate), "--step-time and --global-batch"


def measure_utilization(
    spec: ModelSpec,
    cluster: Cluster,
    *,
    tokens_per_second: float,
    measured_from: str = "--tokens-per-s",
    seq_len: int | None = None,
    causal: str = "full",
    recompute: str = "none",
    dtype: str = "bf16",
) -> MeasuredUtilization:
    """MFU and HFU of ``tokens_per_second`` (the whole cluster) for ``spec`` on ``cluster``, under `6nd` and
    `6nd+attention` (PaLM App. B)."""
    if cluster.accelerator is None:
        raise ScalingError(f"--gpus {cluster} names no accelerator: write it as e.g. {cluster.devices}xH100")
    length = int(seq_len or spec.n_ctx)
    peak = cluster.accelerator.peak(dtype)
    per_device = float(positive(tokens_per_second, "tokens per second")) / cluster.devices
    exact = training_flops(spec, 1.0, convention="exact", seq_len=length, causal=causal, recompute=recompute)
    recomputed = float(exact.hardware_flops_per_token - exact.flops_per_token)
    six = float(training_flops(spec, 1.0, convention="6nd").flops_per_token)
    per_token = {"6nd": six, "6nd+attention": six + palm_attention_flops_per_token(spec, length, causal)}
    rows = []
    for name, model_flops in per_token.items():
        rate = model_flops * per_device
        rows.append(
            ConventionUtilization(
                convention=name,
                formula=MEASURED_CONVENTIONS[name],
                model_flops_per_token=model_flops,
                hardware_flops_per_token=model_flops + recomputed,
                mfu=model_flops_utilization(rate, devices=1, peak_flops_per_device=peak, seconds=1.0),
                hfu=model_flops_utilization(
                    (model_flops + recomputed) * per_device,
                    devices=1,
                    peak_flops_per_device=peak,
                    seconds=1.0,
                ),
                model_flops_per_second_per_device=rate,
            )
        )
    warnings = []
    for row in rows:
        if row.hfu > 1.0:
            warnings.append(
                f"HFU {format_fraction(row.hfu)} ({row.convention}) exceeds 100% of the {dtype} peak: "
                "check the throughput, the device count and the dtype"
            )
        elif (warning := mfu_warning(row.mfu)) is not None:
            warnings.append(warning)
    return MeasuredUtilization(
        model=spec.name,
        params=float(spec.params),
        accelerator=cluster.accelerator.name,
        devices=cluster.devices,
        dtype=dtype,
        peak_flops_per_device=peak,
        seq_len=length,
        causal=causal,
        recompute=recompute,
        tokens_per_second=float(tokens_per_second),
        tokens_per_second_per_device=per_device,
        measured_from=measured_from,
        conventions=tuple(rows),
        warnings=tuple(dict.fromkeys(warnings)),
    )
