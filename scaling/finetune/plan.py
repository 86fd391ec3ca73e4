"""`plan_finetune`: the FLOPs, memory, layout, time and cost of a full, LoRA or QLoRA fine-tune."""

from __future__ import annotations

import math
from typing import Any

from scaling import checks
from scaling.catalog import Accelerator, get_accelerator
from scaling.cluster import Cluster
from scaling.cost import DEFAULT_MFU, check_hfu, compute_cost
from scaling.errors import ScalingError
from scaling.finetune.flops import finetune_flops_per_token, model_flops_per_token
from scaling.finetune.layouts import (
    FinetuneRun,
    active_adapter_params,
    choose_layout,
    largest_batch_and_length,
    layout_memory,
)
from scaling.finetune.result import FinetunePlan
from scaling.flops import RECOMPUTE, training_flops
from scaling.memory import MemoryBreakdown, Precision, Workload
from scaling.model import ModelSpec, load_model

# Step-time factor of a quantized base (dequantized before each matmul). Google Cloud, Vertex AI Model Garden,
# "LoRA and QLoRA recommendations for LLMs": "LoRA is about 66% faster than QLoRA in terms of tuning speed".
# It depends on the kernels: the torchtune README measures 1.28x (Llama 3.1 8B, RTX 4090: LoRA 3083 vs QLoRA
# 2413 tokens/s) and 1.02x (Llama 3.2 3B, A100: 8210 vs 8035) with torchao's NF4; give yours when you know it.
QUANT_TIME_FACTOR = 1.66
# sequence length when none is given: the model's context, at most this (fine-tuning examples rarely fill the
# 32K-128K contexts of recent models, and their attention would dominate the estimate)
DEFAULT_MAX_SEQ_LEN = 4096
DEFAULT_GLOBAL_BATCH = 16  # sequences per step when none is given (a small fine-tuning batch; --global-batch)


def plan_finetune(
    model: ModelSpec | str,
    *,
    tokens: float,
    accelerator: str | Accelerator,
    devices: int = 1,
    lora_rank: int | None = None,
    lora_targets: tuple[str, ...] | str = ("q", "k", "v", "o"),
    quant: str | None = None,
    epochs: float = 1.0,
    seq_len: int | None = None,
    global_batch: int | None = None,
    mfu: float | None = None,
    price_usd_per_hour: float | None = None,
    precision: str = "bf16",
    optimizer: str = "adamw",
    convention: str = "6nd",
    recompute: str | None = None,
    quant_time_factor: float = QUANT_TIME_FACTOR,
) -> FinetunePlan:
    """Plan fine-tuning ``model`` on ``tokens`` tokens for ``epochs`` epochs on ``devices`` accelerators.

    No ``lora_rank``: full fine-tuning. ``lora_rank``: LoRA on ``lora_targets``; with ``quant`` (nf4, int4,
    int8) QLoRA. ``global_batch`` is in sequences of ``seq_len`` tokens (default: the model's context up to
    ``DEFAULT_MAX_SEQ_LEN``, and ``DEFAULT_GLOBAL_BATCH`` sequences rounded up to a multiple of the devices).
    ``recompute`` fixes the activation checkpointing (none, selective, full); by default the fastest level
    that fits is chosen.
    """
    spec = load_model(model)
    acc = get_accelerator(accelerator)
    devices = checks.positive_int(devices, "device count")
    epochs = float(checks.positive(epochs, "epochs"))
    tokens = float(checks.positive(tokens, "token count"))
    factor = float(checks.positive(quant_time_factor, "quantized-base time factor"))
    seq, batch = _sequence_and_batch(spec, devices, seq_len, global_batch)
    if lora_rank is not None:
        lora_rank = checks.positive_int(lora_rank, "LoRA rank")
    run = FinetuneRun(
        cluster=Cluster.of(acc, devices),
        precision=Precision.of(precision, optimizer, quant=quant),
        workload=Workload.of(seq_len=seq, lora_rank=lora_rank, lora_targets=lora_targets),
    )
    # the memory planner's count of what is trained, and its refusal of a quantization it cannot train
    states = layout_memory(spec, run, micro_batch=0)
    method = "full" if lora_rank is None else ("qlora" if run.precision.quant else "lora")
    factor = factor if run.precision.quant is not None else 1.0
    mfu = default_mfu(factor) if mfu is None else checks.utilization(mfu, "MFU")
    layout, memory, flops_terms = _layout_and_terms(
        spec,
        run,
        states,
        method=method,
        recompute=recompute,
        convention=convention,
        mfu=mfu,
        global_batch=batch,
        quant_factor=factor,
    )
    return _finetune_result(
        spec,
        run,
        layout,
        memory,
        flops_terms,
        method=method,
        trainable=states.trainable_params,
        tokens=tokens,
        epochs=epochs,
        batch=batch,
        convention=convention,
        mfu=mfu,
        factor=factor,
        lora_rank=lora_rank,
        price_usd_per_hour=price_usd_per_hour,
    )


def default_mfu(quant_time_factor: float = 1.0) -> float:
    """The MFU a fine-tuning run is assumed to reach when none is given: `DEFAULT_MFU`, divided by the extra
    kernel work of a quantized base (``QUANT_TIME_FACTOR`` for QLoRA)."""
    return DEFAULT_MFU / quant_time_factor


def _sequence_and_batch(
    spec: ModelSpec, devices: int, seq_len: int | None, global_batch: int | None
) -> tuple[int, int]:
    """The sequence length (given, else the model's context up to ``DEFAULT_MAX_SEQ_LEN``) and the global
    batch in sequences (given, else ``DEFAULT_GLOBAL_BATCH`` rounded up to a multiple of the devices)."""
    seq = checks.positive_int(
        seq_len if seq_len is not None else min(spec.n_ctx, DEFAULT_MAX_SEQ_LEN), "sequence length"
    )
    batch = (
        checks.positive_int(global_batch, "global batch") if global_batch else _default_global_batch(devices)
    )
    if batch % devices:
        raise ScalingError(f"global batch {batch} is not divisible by the {devices} devices: give a multiple")
    return seq, batch


def _default_global_batch(devices: int) -> int:
    return devices * math.ceil(DEFAULT_GLOBAL_BATCH / devices)


def _layout_and_terms(
    spec: ModelSpec,
    run: FinetuneRun,
    states: MemoryBreakdown,
    *,
    method: str,
    recompute: str | None,
    convention: str,
    mfu: float,
    global_batch: int,
    quant_factor: float,
) -> tuple[dict[str, Any], MemoryBreakdown, dict[str, float]]:
    """The run's layout, its memory, and its FLOPs per token by term at the layout's recompute level."""
    adapters = 0.0 if method == "full" else active_adapter_params(spec, run, states)

    def terms(conv: str, recompute: str = "none") -> dict[str, float]:
        return finetune_flops_per_token(
            spec,
            adapter_params=adapters,
            full=method == "full",
            convention=conv,
            seq_len=run.seq_len,
            recompute=recompute,
        )

    levels = RECOMPUTE if recompute is None else (checks.choice(recompute, RECOMPUTE, "recompute"),)
    # model FLOPs (the convention) fix the step at the MFU; the kernels execute the exact ones per level
    layout, memory = choose_layout(
        spec,
        run,
        method=method,
        levels=levels,
        mfu=mfu,
        global_batch=global_batch,
        model_fpt=model_flops_per_token(terms(convention)),
        hardware_fpt={r: sum(terms("exact", r).values()) for r in levels},
        quant_factor=quant_factor,
        convention=convention,
    )
    return layout, memory, terms(convention, layout["recompute"])


def _throughput(tokens_per_s: float, tokens: float, epochs: float, mfu: float) -> float:
    """The run's tokens per second, refused in one line when it gives no finite, positive time."""
    seconds = tokens * epochs / tokens_per_s if tokens_per_s > 0 else math.inf
    if not (math.isfinite(seconds) and seconds > 0):
        raise ScalingError(
            f"no finite time for {tokens:.3g} tokens x {epochs:.3g} epochs at MFU {mfu!r}: give at least one "
            "token and an MFU such as 0.4"
        )
    return tokens_per_s


def _finetune_result(
    spec: ModelSpec,
    run: FinetuneRun,
    layout: dict[str, Any],
    memory: MemoryBreakdown,
    flops_terms: dict[str, float],
    *,
    method: str,
    trainable: float,
    tokens: float,
    epochs: float,
    batch: int,
    convention: str,
    mfu: float,
    factor: float,
    lora_rank: int | None,
    price_usd_per_hour: float | None,
) -> FinetunePlan:
    """The plan of a chosen layout: throughput, time, cost, the limits that fit, notes and warnings."""
    acc, devices, precision = run.cluster.accelerator, run.cluster.devices, run.precision.dtype
    seq = run.seq_len
    per_token = model_flops_per_token(flops_terms)
    trained = tokens * epochs
    tokens_per_s = _throughput(batch * seq / layout["step_s"], tokens, epochs, mfu)
    check_hfu(mfu, float(layout["hfu"]), f"{spec.name} ({method}) at sequence length {seq:,}")
    cost = compute_cost(
        trained * per_token,
        accelerator=acc,
        devices=devices,
        mfu=mfu,
        dtype=precision,
        price_usd_per_hour=price_usd_per_hour,
    )
    layout.update(steps=math.ceil(trained / (batch * seq)), global_batch=batch)
    max_micro, max_seq = largest_batch_and_length(spec, run, layout)
    notes, warnings = _notes(method, memory, factor, layout, max_micro, max_seq, seq)
    warnings += training_flops(spec, 1.0, convention=convention).warnings  # e.g. 6ND on an encoder-decoder
    return FinetunePlan(
        model=spec.name,
        method=method,
        params=float(spec.params),
        trainable_params=float(trainable),
        tokens=tokens,
        epochs=epochs,
        trained_tokens=trained,
        seq_len=seq,
        global_batch=batch,
        convention=convention,
        flops=trained * per_token,
        hardware_flops=trained * sum(flops_terms.values()),
        flops_per_token=per_token,
        flops_terms=flops_terms,
        seconds=float(cost.seconds),
        days=float(cost.days),
        gpu_hours=float(cost.gpu_hours),
        cost_usd=None if cost.cost_usd is None else float(cost.cost_usd),
        price_usd_per_hour=cost.price_usd_per_hour,
        price_source=cost.price_source,
        tokens_per_s=tokens_per_s,
        tokens_per_s_per_device=tokens_per_s / devices,
        accelerator=acc.name,
        devices=devices,
        precision=precision,
        mfu=mfu,
        quant_time_factor=factor,
        memory=memory,
        layout=layout,
        max_micro_batch=max_micro,
        max_seq_len=max_seq,
        lora_rank=lora_rank,
        lora_targets=tuple(memory.inputs.get("lora_targets", ())),
        quant=memory.inputs["quant"],
        notes=notes,
        warnings=warnings + list(cost.warnings),
    )


def _notes(
    method: str,
    memory: MemoryBreakdown,
    factor: float,
    layout: dict[str, Any],
    max_micro: int,
    max_seq: int,
    seq: int,
) -> tuple[list[str], list[str]]:
    """The assumptions a plan states, and what the user should change when it does not fit."""
    notes = []
    if method == "full":
        notes.append(
            "step time: model FLOPs / (devices x peak x MFU), explained by the best layout's compute, "
            "pipeline bubble and TP/DP/PP communication"
        )
    else:
        notes.append(
            "frozen base replicated (DDP) or sharded (FSDP/ZeRO-3); step time: model FLOPs / (devices x "
            "peak x MFU), explained by compute, the all-gathers of a sharded base and the adapters' gradient "
            "all-reduce"
        )
    if factor != 1.0:
        source = (
            "Google Cloud Vertex AI, for 4-bit QLoRA: 'LoRA is about 66% faster than QLoRA'; torchtune "
            "measures 1.02-1.28x with torchao's NF4"
            if factor == QUANT_TIME_FACTOR
            else "given"
        )
        notes.append(
            f"quantized base: its kernels do {factor:g}x the work for dequantization ({source}); the default "
            f"MFU is {DEFAULT_MFU:g} / {factor:g}"
        )
    warnings = []
    if not memory.fits:
        hint = "more devices, a smaller --seq-len or micro-batch"
        hint += (
            ", LoRA (--lora-rank)"
            if method == "full"
            else (", --quant nf4 (QLoRA)" if method == "lora" else "")
        )
        warnings.append(
            f"no layout fits: {memory.total_bytes / 2**30:,.1f} GiB per device needed at best, "
            f"{(memory.capacity_bytes or 0) / 2**30:,.1f} GiB available; try {hint}"
        )
    elif max_seq < seq:
        warnings.append(f"sequence length {seq} fits only with micro-batch {layout['micro_batch']}")
    return notes, warnings
