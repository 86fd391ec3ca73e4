"""The layouts a fine-tune may run in, each with its memory and its step, and the choice among them.

Full fine-tuning takes the layout search's best (`scaling.layout.search_layouts`); LoRA and QLoRA try a frozen
base replicated (DDP) or sharded (ZeRO-3) at every recompute level and micro-batch, each step explained by the
one step-time model (`scaling.layout.explain_step`). Memory is `scaling.memory.estimate_memory`'s (mode
``finetune``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from scaling.cluster import Cluster
from scaling.errors import ScalingError
from scaling.layout import LayoutChoices, bandwidths, explain_step, search_layouts
from scaling.memory import (
    DEVICES_PER_NODE,
    MemoryBreakdown,
    Parallelism,
    Precision,
    Workload,
    estimate_memory,
    largest_fitting,
)
from scaling.model import ModelSpec

MAX_SEARCH = 1 << 22  # upper end of the largest micro-batch / sequence-length searches


@dataclass(frozen=True)
class FinetuneRun:
    """What every layout of one fine-tune shares: where it runs, its precision, and its sequences with the
    LoRA adapters (each layout adds its split, micro-batch and recomputation)."""

    cluster: Cluster
    precision: Precision
    workload: Workload

    @property
    def seq_len(self) -> int:
        return int(self.workload.seq_len)


def _split(layout: dict[str, Any]) -> Parallelism:
    """The `Parallelism` of a layout row."""
    return Parallelism.of(tp=layout["tp"], pp=layout["pp"], zero=layout["zero"], sp=bool(layout["sp"]))


def layout_memory(
    spec: ModelSpec, run: FinetuneRun, parallel: Parallelism = Parallelism(), **workload: Any
) -> MemoryBreakdown:
    """`estimate_memory` of one layout: ``parallel`` on the run's cluster, the run's workload with changes."""
    return estimate_memory(
        spec,
        mode="finetune",
        precision=run.precision,
        parallel=parallel,
        workload=replace(run.workload, **workload),
        cluster=run.cluster,
    )


def _full_layout(
    spec: ModelSpec,
    run: FinetuneRun,
    *,
    mfu: float,
    global_batch: int,
    recompute: tuple[str, ...],
    convention: str,
) -> dict[str, Any]:
    """The fastest full-fine-tuning layout that fits (or the smallest one when none fits)."""
    kwargs = dict(
        cluster=run.cluster,
        workload=replace(run.workload, global_batch=global_batch),
        precision=run.precision,
        choices=LayoutChoices(recompute=recompute),
        mfu=mfu,
        convention=convention,
        as_frame=False,
    )
    columns, _ = search_layouts(spec, top=1, **kwargs)
    if not len(columns["tp"]):
        columns, _ = search_layouts(spec, top=None, include_unfit=True, **kwargs)
        if not len(columns["tp"]):
            raise ScalingError(
                f"no valid layout of {spec.name} on {run.cluster.devices} devices with a global batch of "
                f"{global_batch} sequences: try another device count or --global-batch"
            )
    # the search ranks what fits by reachable MFU; with nothing fitting, the smallest is the nearest to
    # fitting
    best = 0 if columns["fits"][0] else int(columns["total_bytes"].argmin())
    names = (
        "tp",
        "pp",
        "dp",
        "zero",
        "micro_batch",
        "recompute",
        "sp",
        "step_s",
        "compute_s",
        "bubble_s",
        "tp_comm_s",
        "dp_comm_s",
        "pp_comm_s",
        "kernel_efficiency",
        "min_step_s",
        "max_mfu",
        "hfu",
    )
    layout = {
        n: columns[n][best].item() if hasattr(columns[n][best], "item") else columns[n][best] for n in names
    }
    layout["recompute"] = str(layout["recompute"])
    return layout


def _adapter_layouts(
    spec: ModelSpec,
    run: FinetuneRun,
    *,
    mfu: float,
    global_batch: int,
    model_fpt: float,
    hardware_fpt: dict[str, float],
    quant_factor: float,
    recompute: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Every (ZeRO 0 or 3, recompute, micro-batch) layout of a LoRA/QLoRA run with its memory and its step,
    explained by the one step-time model (`scaling.layout.explain_step`): the base all-gathers of a sharded
    base and the adapters' gradient all-reduce are the communication; the kernels execute the exact FLOPs at
    the recompute level, a quantized base's ``quant_factor`` times (dequantized before each matmul)."""
    devices, acc = run.cluster.devices, run.cluster.accelerator
    per_device = global_batch // devices
    intra, inter = bandwidths(acc)
    link = intra if devices <= DEVICES_PER_NODE else inter  # within a node, else across the network
    tokens = float(global_batch) * run.seq_len
    rate = devices * acc.peak(run.precision.dtype)
    replica = layout_memory(spec, run, micro_batch=0)  # a whole frozen base on one device
    out = []
    for zero in (0, 3) if devices > 1 else (0,):
        for level in recompute:
            for micro in [b for b in range(1, min(per_device, 64) + 1) if per_device % b == 0]:
                mem = layout_memory(
                    spec,
                    run,
                    Parallelism.of(zero=zero),
                    recompute=level,
                    micro_batch=micro,
                    global_batch=global_batch,
                )
                share = (devices - 1.0) / devices  # ring collectives move (d-1)/d of the bytes per pass
                # FSDP all-gathers the frozen base for every micro-batch's forward and backward
                gather_s = (per_device / micro) * 2.0 * share * replica.weights_bytes / link if zero else 0.0
                # the adapters' bf16 gradient all-reduce
                grads_s = 2.0 * share * mem.trainable_params * 2.0 / link
                step = explain_step(
                    tokens * model_fpt,
                    tokens * hardware_fpt[level] * quant_factor,
                    gather_s + grads_s,
                    rate=rate,
                    mfu=mfu,
                )
                out.append(
                    dict(
                        tp=1,
                        pp=1,
                        dp=devices,
                        zero=zero,
                        micro_batch=micro,
                        recompute=level,
                        sp=False,
                        **{k: float(v) for k, v in step.items()},
                        dp_comm_s=gather_s + grads_s,
                        memory=mem,
                    )
                )
    return out


def active_adapter_params(spec: ModelSpec, run: FinetuneRun, states: MemoryBreakdown) -> float:
    """Adapter parameters one token passes through: all of them, except that a mixture-of-experts layer runs
    the FFN adapters of its ``experts_per_token`` active experts only (memory holds every expert's)."""
    if not spec.is_moe:
        return states.trainable_params
    attention = [t for t in states.inputs["lora_targets"] if t in ("q", "k", "v", "o")]
    attn = (
        layout_memory(spec, run, lora_targets=tuple(attention), micro_batch=0).trainable_params
        if attention
        else 0.0
    )
    return attn + (states.trainable_params - attn) * spec.top_k / spec.n_experts


def _fastest_that_fits(options: list[dict[str, Any]]) -> dict[str, Any]:
    """The layout that fits and reaches the highest MFU (then the largest micro-batch, the least sharding);
    else the smallest."""
    if any(o["memory"].fits for o in options):
        return min(
            options, key=lambda o: (not o["memory"].fits, o["min_step_s"], -o["micro_batch"], o["zero"])
        )
    return min(options, key=lambda o: o["memory"].total_bytes)


def choose_layout(
    spec: ModelSpec,
    run: FinetuneRun,
    *,
    method: str,
    levels: tuple[str, ...],
    mfu: float,
    global_batch: int,
    model_fpt: float,
    hardware_fpt: dict[str, float],
    quant_factor: float,
    convention: str,
) -> tuple[dict[str, Any], MemoryBreakdown]:
    """The layout of the run and its memory: the layout search's for full fine-tuning, else the adapters'."""
    if method == "full":
        layout = _full_layout(
            spec, run, mfu=mfu, global_batch=global_batch, recompute=levels, convention=convention
        )
        return layout, layout_memory(
            spec,
            run,
            _split(layout),
            global_batch=global_batch,
            micro_batch=layout["micro_batch"],
            recompute=layout["recompute"],
        )
    options = _adapter_layouts(
        spec,
        run,
        mfu=mfu,
        global_batch=global_batch,
        model_fpt=model_fpt,
        hardware_fpt=hardware_fpt,
        quant_factor=quant_factor,
        recompute=levels,
    )
    layout = _fastest_that_fits(options)
    return layout, layout.pop("memory")


def largest_batch_and_length(spec: ModelSpec, run: FinetuneRun, layout: dict[str, Any]) -> tuple[int, int]:
    """The largest micro-batch (at the planned sequence length) and sequence length (micro-batch 1) that
    fit."""
    split, recompute = _split(layout), layout["recompute"]

    def batch_fits(b: int) -> bool:
        return bool(layout_memory(spec, run, split, micro_batch=b, recompute=recompute).fits)

    def length_fits(s: int) -> bool:
        return bool(layout_memory(spec, run, split, seq_len=s, micro_batch=1, recompute=recompute).fits)

    return largest_fitting(batch_fits, MAX_SEARCH), largest_fitting(length_fits, MAX_SEARCH)
