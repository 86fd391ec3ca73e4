"""`FinetunePlan`, the result of `scaling.finetune.plan.plan_finetune`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from scaling.energy import Footprint
from scaling.finetune.tables import finetune_tables
from scaling.memory import MemoryBreakdown
from scaling.render import Displayable, Table


@dataclass(frozen=True)
class FinetunePlan(Displayable):
    """A fine-tuning job: FLOPs by term, memory per device, the layout that fits, time, device-hours, cost.

    ``flops`` are model FLOPs under ``convention`` (MFU); ``hardware_flops`` add recomputation. ``tokens`` is
    the dataset, ``trained_tokens`` = tokens x epochs. ``mfu`` is end-to-end model FLOPs utilization (model
    FLOPs / (devices x peak x seconds), Chowdhery et al. 2022 App. B); the layout's step-time model explains
    the step (``layout``: compute, bubble, communication, the kernel efficiency the compute needs and the
    highest MFU the layout reaches, after recomputation and a quantized base's dequantization).
    """

    model: str
    method: str
    params: float
    trainable_params: float
    tokens: float
    epochs: float
    trained_tokens: float
    seq_len: int
    global_batch: int
    convention: str
    flops: float
    hardware_flops: float
    flops_per_token: float
    flops_terms: dict[str, float]
    seconds: float
    days: float
    gpu_hours: float
    cost_usd: float | None
    price_usd_per_hour: float | None
    price_source: str
    tokens_per_s: float
    tokens_per_s_per_device: float
    accelerator: str
    devices: int
    precision: str
    mfu: float
    quant_time_factor: float
    memory: MemoryBreakdown
    layout: dict[str, Any]
    max_micro_batch: int
    max_seq_len: int
    lora_rank: int | None = None
    lora_targets: tuple[str, ...] = ()
    quant: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    footprint: Footprint | None = None  # energy, emissions and goodput of the device-hours (scaling.energy)

    @property
    def fits(self) -> bool:
        return bool(self.memory.fits)

    def display_tables(self) -> list[Table]:
        return finetune_tables(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON in base units (FLOPs, seconds, bytes, USD); ``memory`` is the planner's own breakdown."""
        out = asdict(self)
        out["memory"] = self.memory.to_dict()
        out["lora_targets"] = list(self.lora_targets)
        out["fits"] = self.fits
        fp = self.footprint
        out.update(
            energy_kwh=fp.energy_kwh if fp else None,
            co2_kg=fp.co2_kg if fp else None,
            goodput=fp.goodput if fp else None,
            wall_clock_seconds=fp.wall_seconds if fp else None,
        )
        return out
