"""What a plan returns: `Plan` (every number the estimator's own) and its `Comparison` rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scaling.render import Displayable, Table

if TYPE_CHECKING:
    from scaling.budget import Budget
    from scaling.catalog import Accelerator
    from scaling.cost import ComputeCost
    from scaling.energy import Footprint
    from scaling.flops import TrainingFlops
    from scaling.laws import Allocation, Law
    from scaling.laws.curve import CurvePrediction
    from scaling.memory import MemoryBreakdown
    from scaling.model import ModelSpec
    from scaling.recipe import Recipe
    from scaling.recipe.downstream import DownstreamPrediction
    from scaling.serving import ServingAwareOptimum

LayoutRow = dict[
    str, Any
]  # one row of `scaling.layout.search_layouts`: numbers, bools and the recompute name


@dataclass(frozen=True)
class Comparison:
    """One row of the comparison table: another rule, law or a well-known model at a similar budget."""

    label: str
    params: float
    tokens: float
    flops: float
    loss: float | None
    source: str
    kind: str  # "rule" | "law" | "model"

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.params

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "kind": self.kind,
            "params": self.params,
            "tokens": self.tokens,
            "flops": self.flops,
            "tokens_per_param": self.tokens_per_param,
            "loss": self.loss,
            "source": self.source,
        }


@dataclass(frozen=True)
class PlanTime:
    """The time of the plan, 6ND / (devices x peak x MFU): ``steps`` steps of ``step_seconds`` each, and how
    the chosen layout's step-time model explains a step (`scaling.layout.step_times`).

    ``compute_seconds`` + ``bubble_seconds`` + ``communication_seconds`` = ``step_seconds``; the compute
    part needs kernels at ``kernel_efficiency`` of peak (hardware FLOPs over peak x compute time); with
    kernels at the step model's ceiling the layout reaches at most ``max_mfu``. ``hfu`` is the hardware
    FLOPs (exact, with attention and recomputation) over devices x peak x time. The breakdown is None when
    no layout fits.
    """

    steps: float
    step_seconds: float
    seconds: float
    hfu: float
    compute_seconds: float | None = None
    bubble_seconds: float | None = None
    communication_seconds: float | None = None
    kernel_efficiency: float | None = None
    max_mfu: float | None = None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "step_seconds": self.step_seconds,
            "seconds": self.seconds,
            "compute_seconds": self.compute_seconds,
            "bubble_seconds": self.bubble_seconds,
            "communication_seconds": self.communication_seconds,
            "kernel_efficiency": self.kernel_efficiency,
            "max_mfu": self.max_mfu,
            "hfu": self.hfu,
            "source": self.source,
        }


@dataclass(frozen=True)
class Plan(Displayable):
    """A complete training plan; every number is the one the underlying estimator returns. In a notebook it
    shows the tables ``scaling plan`` prints (`scaling.render.Displayable`)."""

    question: str
    budget: Budget
    law: Law
    allocation: Allocation
    spec: ModelSpec
    tokens: float
    training: TrainingFlops  # under 6ND, the laws' convention
    training_exact: TrainingFlops  # per-component count with attention
    cost: ComputeCost  # at ``mfu``: its time is ``step.seconds``
    step: PlanTime
    loss: float | None
    layout: LayoutRow | None
    memory: MemoryBreakdown | None
    accelerator: Accelerator
    devices: int
    mfu: float  # end-to-end model FLOPs utilization (6ND), the one MFU of the plan
    dtype: str
    seq_len: int
    global_batch_tokens: float
    batch_reason: str
    comparisons: tuple[Comparison, ...]
    compute_optimal_overhead: float | None = None
    unique_tokens: float | None = None
    serving: ServingAwareOptimum | None = None  # training + serving cost of the sizes reaching this loss
    warnings: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)
    recipe: Recipe | None = None  # learning rate, batch, schedule, AdamW (scaling.recipe)
    downstream: tuple[DownstreamPrediction, ...] = ()  # benchmark error at the plan's loss
    footprint: Footprint | None = None  # energy, emissions and goodput of ``cost`` (scaling.energy)
    quantized: tuple = ()  # (label, QuantizedLoss) after --quant (scaling.plan.quantized)
    loss_curve: CurvePrediction | None = None  # the loss through training (scaling.recipe.curve)

    # ------------------------------------------------------------------------------ derived numbers
    @property
    def budget_flops(self) -> float:
        return self.budget.flops

    @property
    def budget_source(self) -> str:
        return self.budget.source

    @property
    def params(self) -> int:
        return self.spec.params

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.spec.params

    @property
    def fits(self) -> bool | None:
        return None if self.memory is None else self.memory.fits

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, base units (FLOPs, bytes, seconds, USD), stable keys."""
        from scaling.plan.recipe_section import recipe_keys

        return {
            **recipe_keys(self),
            "question": self.question,
            "flops": self.budget_flops,
            "pf_days": self.cost.pf_days,
            "gpu_hours": self.cost.gpu_hours,
            "cost_usd": self.cost.cost_usd,
            "energy_kwh": None if self.footprint is None else self.footprint.energy_kwh,
            "co2_kg": None if self.footprint is None else self.footprint.co2_kg,
            "goodput": None if self.footprint is None else self.footprint.goodput,
            "wall_clock_seconds": None if self.footprint is None else self.footprint.wall_seconds,
            "days": self.cost.days,
            "seconds": self.cost.seconds,
            "step": self.step.to_dict(),
            "params": self.spec.params,
            "params_non_embedding": self.spec.params_non_embedding,
            "tokens": self.tokens,
            "tokens_per_param": self.tokens_per_param,
            "loss": self.loss,
            "loss_unit": self.law.loss_unit,
            "flops_exact": self.training_exact.flops,
            "law": {"name": self.law.name, "source": self.law.source, "convention": self.law.convention},
            "optimal": self.allocation.to_dict(),
            "compute_optimal_overhead": self.compute_optimal_overhead,
            "architecture": self._architecture(),
            "cluster": {
                "accelerator": self.accelerator.name,
                "devices": self.devices,
                "mfu": self.mfu,
                "hfu": self.step.hfu,
                "max_mfu": self.step.max_mfu,
                "dtype": self.dtype,
                "peak_flops_per_device": self.accelerator.peak(self.dtype),
                "price_usd_per_hour": self.cost.price_usd_per_hour,
            },
            "global_batch_tokens": self.global_batch_tokens,
            "global_batch_sequences": round(self.global_batch_tokens / self.seq_len),
            "seq_len": self.seq_len,
            "layout": self.layout,
            "memory": None if self.memory is None else self.memory.to_dict(),
            "comparisons": [c.to_dict() for c in self.comparisons],
            "serving": None if self.serving is None else self.serving.to_dict(),
            **({"post_training_quantization": _quantized_dicts(self.quantized)} if self.quantized else {}),
            "warnings": list(self.warnings),
            "assumptions": list(self.assumptions),
            "budget_source": self.budget_source,
            "budget": self.budget.to_dict(),
            "inputs": self.inputs,
        }

    def display_tables(self) -> list[Table]:
        from scaling.plan.tables import plan_tables

        return plan_tables(self)

    def _display_title(self) -> str:
        return f"Plan: {self.spec.name}"

    def _architecture(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "n_layer": spec.n_layer,
            "d_model": spec.d_model,
            "n_head": spec.n_head,
            "n_kv_head": spec.kv_heads,
            "d_head": spec.head_dim,
            "d_ff": spec.ffn_dim,
            "vocab_size": spec.vocab_size,
            "n_ctx": spec.n_ctx,
            "gated_ffn": spec.gated_ffn,
            "params": spec.params,
            "description": spec.describe(),
        }


def _quantized_dicts(quantized: tuple) -> list[dict[str, Any]]:
    from scaling.plan.quantized import quantized_dicts

    return quantized_dicts(quantized)
