"""Our estimate of memory per device, as a `MemoryBreakdown` of named terms with their rules and sources.

`estimate_memory` takes the value objects: how numbers are stored (`Precision`), how the run is split
(`Parallelism`), what each device computes on (`Workload`) and where it runs (`scaling.cluster.Cluster`).
`memory_across` gives the breakdowns of one setting varied over its values (ZeRO stages, recompute levels,
TP sizes, precisions) with everything else as given, for charts and tables.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from scaling import checks
from scaling.catalog import Accelerator
from scaling.cluster import Cluster
from scaling.errors import ScalingError
from scaling.memory.breakdown import MemoryBreakdown
from scaling.memory.conventions import (
    CONVENTIONS,
    PUBLISHED,
    ConventionResult,
    Term,
    accelerate,
    course,
    deepspeed,
)
from scaling.memory.parallel import Parallelism
from scaling.memory.param_counts import ModelShape, resolve_model
from scaling.memory.precision import Precision, check_quant_mode
from scaling.memory.stages import EVEN
from scaling.memory.states import CPU_BUFFER_FACTOR
from scaling.memory.states import overhead_bytes as framework_overhead
from scaling.memory.training import train_memory_arrays
from scaling.memory.workload import Workload, parse_lora_targets
from scaling.model import ModelSpec
from scaling.options import MEMORY_MODES as MODES
from scaling.units import GIB

SPLIT_TEXT = {
    "balanced": "at most ceil(layers/PP) per stage, then least heaviest-stage memory",
    "memory": "least heaviest-stage memory",
    EVEN: "even",
}
# What fp8 training stores for the backward pass, against DeepSeek-V3's report (arXiv 2412.19437).
FP8_ACTIVATIONS_NOTE = (
    "fp8 activations: every value saved for the backward pass at 1 B, nothing recomputed; DeepSeek-V3 "
    "§3.3.3 caches the Linear inputs in FP8 (the post-attention Linear's in E5M6, the SwiGLU inputs with the "
    "output recomputed) and §3.2.3 recomputes RMSNorm and the MLA up-projections, which this count keeps: "
    "an upper bound of its activations"
)
STATE_KEYS = ("weights", "master", "gradients", "optimizer", "activations", "logits", "overhead", "cpu")


def convention_name(convention: str | None) -> str | None:
    """A checked published convention name, or None for ours (``""``, ``"ours"`` and ``"default"`` too)."""
    return (
        None
        if convention in (None, "", "ours", "default")
        else checks.choice(convention, CONVENTIONS, "convention")
    )


def _expect(value: Any, kind: type, name: str, example: str) -> Any:
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {kind.__name__} (e.g. {example}), got {value!r}")
    return value


def estimate_memory(
    model: ModelSpec | str | float,
    *,
    mode: str = "train",
    precision: Precision = Precision(),
    parallel: Parallelism = Parallelism(),
    workload: Workload = Workload(),
    cluster: Cluster = Cluster(),
    convention: str | None = None,
    overhead_bytes: float | None = None,
    largest_layer_params: float | None = None,
) -> MemoryBreakdown:
    """Memory per device, as a `MemoryBreakdown` of named terms (see `scaling.memory` for the conventions).

    ``model`` is a `ModelSpec`, a preset name, a ``config.json`` path, or a bare parameter count (its shape
    for activations then comes from `scaling.model.shape_for_params`; the model states use the count exactly).
    ``cluster`` gives the devices the ``parallel`` split shares out (and, when it names an accelerator, the
    capacity to fit). ``workload.micro_batch=0`` counts model states only. ``mode="finetune"`` is full
    fine-tuning, LoRA with ``workload.lora_rank``, or QLoRA with a ``precision.quant`` of nf4 (or int4/int8).
    ``mode="infer"`` counts weights (at ``quant`` or the dtype), the KV cache of ``workload.batch`` sequences
    of ``workload.context`` tokens at the KV dtype, and the forward pass's transient peak.
    """
    _expect(precision, Precision, "precision", "Precision.of('bf16')")
    _expect(parallel, Parallelism, "parallel", "Parallelism.of(tp=8, zero=1)")
    _expect(workload, Workload, "workload", "Workload.of(micro_batch=2)")
    _expect(cluster, Cluster, "cluster", "parse_cluster('8xH100')")
    mode = checks.choice(mode, MODES, "mode")
    conv = convention_name(convention)
    acc = cluster.accelerator
    spec, override, bare = resolve_model(model)
    parallel.validate(spec, cluster.devices)
    shape = ModelShape.of(spec, override)
    if overhead_bytes is not None:
        overhead_bytes = float(checks.positive(overhead_bytes, "overhead bytes", allow_zero=True))
    if conv == "megatron" and precision.grad_dtype is None:
        precision = dataclasses.replace(
            precision, grad_dtype="fp32"
        )  # Megatron accumulates gradients in fp32
    if conv == "course":
        res = course(mode, precision, shape.params, overhead_bytes)
    elif conv == "accelerate":
        res = accelerate(mode, precision, shape.params, overhead_bytes)
    elif conv == "deepspeed":
        res = deepspeed(shape, parallel, cluster, largest_layer_params, overhead_bytes)
    elif mode == "infer":
        res = _inference(shape, precision, parallel, workload, conv, overhead_bytes)
    else:
        res = _training(shape, mode, precision, parallel, cluster, workload, conv, overhead_bytes)
    res.overhead_rule = framework_overhead(0.0, overhead_bytes, conv is None)[1]
    notes = _notes(spec, bare, mode, parallel, cluster, workload, conv, res, precision)
    inputs = _inputs(spec, mode, precision, parallel, cluster, workload, conv, res)
    name = f"{spec.name} ({shape.params:.4g} params)" if bare else spec.name
    return _result(res, acc, name, mode, conv, shape.params, inputs, notes)


def _inference(
    shape: ModelShape,
    precision: Precision,
    parallel: Parallelism,
    workload: Workload,
    conv: str | None,
    overhead: float | None,
) -> ConventionResult:
    from scaling.memory.inference import infer_memory_arrays  # not needed by training plans: kept off startup

    spec, tp, pp = shape.spec, parallel.tp, parallel.pp
    ctx = workload.ctx(spec)
    arr = infer_memory_arrays(
        shape,
        tp=tp,
        pp=pp,
        batch=workload.batch,
        context=ctx,
        weight_bytes=precision.stored_weight_bytes,
        kv_bytes=precision.kv_bytes,
        activation_bytes=precision.activation_bytes,
        flash_attention=workload.flash_attention,
        source_len=workload.source_len,
        overhead_bytes=overhead,
        overhead_default=conv is None,
    )
    if conv == "zero":  # model states only
        arr["kv"] = arr["activations"] = 0.0
    out = {**dict.fromkeys(STATE_KEYS, 0.0), "kv": 0.0}
    out.update({k: float(arr[k]) for k in ("weights", "kv", "activations", "overhead")})
    cross = " + cross-attention K/V over the source" if spec.arch == "encoder-decoder" else ""
    terms = [
        (
            "weights",
            out["weights"],
            f"{precision.stored_weight_bytes:g} B/param ({precision.quant or precision.dtype}) / (TP {tp} x "
            f"PP {pp}) [first stage]",
        ),
        (
            "kv_cache",
            out["kv"],
            f"{spec.kv_cache_rule} x {precision.kv_bytes:g} B x batch {workload.batch} x "
            f"context {ctx}{cross}",
        ),
        (
            "activations",
            out["activations"],
            "forward transient peak: 2·e·sbh + max(scores e·a·s²·b, FFN (2|3)·e·s·b·d_ff)/t + fp32 "
            "last-token logits",
        ),
    ]
    return ConventionResult(out, terms, "sum", 0.0)


def micro_batches_per_step(workload: Workload, dp: int) -> int | None:
    """Micro-batches per step and pipeline (global batch / (DP x micro-batch)),
    None without a global batch."""
    gb, mb = workload.global_batch, workload.micro_batch
    if gb is None:
        return None
    if mb and gb % (dp * mb):
        raise ScalingError(f"global batch {gb} is not divisible by DP x micro-batch = {dp} x {mb}")
    return gb // (dp * mb) if mb else None


def _training(
    shape: ModelShape,
    mode: str,
    precision: Precision,
    parallel: Parallelism,
    cluster: Cluster,
    workload: Workload,
    conv: str | None,
    overhead: float | None,
) -> ConventionResult:
    spec, lora_pp, trainable = shape.spec, 0.0, shape.params
    if mode == "finetune" and workload.lora_rank:
        targets = parse_lora_targets(workload.lora_targets, spec)
        lora_pp = workload.lora_rank * sum(shape.lora_per_layer[t] for t in targets)
        trainable = lora_pp * shape.layers
    check_quant_mode(precision, mode, workload.lora_rank)
    p, dp = parallel, parallel.dp(cluster.devices)
    stages = np.arange(p.pp)
    arr = train_memory_arrays(
        shape,
        stage=stages,
        tp=p.tp,
        pp=p.pp,
        dp=dp,
        ep=p.ep,
        etp=p.etp,
        pp_layers=p.pp_layers,
        zero=p.zero,
        hybrid_shard=p.hybrid_shard,
        devices_per_node=cluster.node,
        offload_optimizer=p.offload_optimizer,
        offload_params=p.offload_params,
        recompute=workload.recompute,
        sp=p.sp,
        flash_attention=workload.flash_attention,
        micro_batch=workload.micro_batch,
        seq_len=workload.seq(spec),
        interleave=p.interleave,
        num_micro_batches=micro_batches_per_step(workload, dp),
        schedule=p.schedule,
        weight_bytes=precision.weight_bytes,
        master_bytes=precision.master_bytes,
        grad_bytes=precision.grad_bytes,
        optimizer_state_bytes=precision.optimizer_state_bytes(shape.adafactor_ratio),
        activation_bytes=precision.activation_bytes,
        dropout=workload.dropout,
        mask_bytes=workload.mask_bytes,
        lora_params_per_layer=lora_pp,
        frozen_layer_weight_bytes=precision.stored_weight_bytes if lora_pp else None,
        overhead_bytes=overhead,
        overhead_default=conv is None,
        count_activations=conv != "zero" and workload.micro_batch > 0,
        count_gather_buffer=conv != "zero",
    )
    arr = {k: np.broadcast_to(v, stages.shape) for k, v in arr.items()}
    heaviest = int(np.argmax(arr["total"]))
    out = {**{k: float(arr[k][heaviest]) for k in STATE_KEYS}, "kv": 0.0}
    out.update(stage=heaviest, stage_layers=float(arr["stage_layers"][heaviest]))
    per_stage = [
        dict(stage=int(i), layers=int(arr["stage_layers"][i]), total_bytes=float(arr["total"][i]))
        for i in stages
    ]
    in_flight = float(arr["in_flight"][heaviest])
    terms = _training_terms(
        shape, precision, parallel, dp, workload, conv, out, in_flight, bool(lora_pp), per_stage
    )
    return ConventionResult(out, terms, "sum", float(trainable), stages=per_stage, heaviest=heaviest)


def _training_terms(
    shape: ModelShape,
    precision: Precision,
    p: Parallelism,
    dp: int,
    workload: Workload,
    conv: str | None,
    out: dict[str, float],
    in_flight: float,
    lora: bool,
    stages: list[dict[str, Any]],
) -> list[Term]:
    """The rows of a training breakdown, each with its bytes/param rule and source."""
    stage, w = p.zero, precision.weight_bytes
    shard_txt = {
        0: "unsharded",
        1: f"master+optimizer / DP {dp}",
        2: f"grads+master+optimizer / DP {dp}",
        3: f"all states / DP {dp}",
    }[stage]
    if shape.spec.is_moe and stage:
        shard_txt += f" (routed experts' / EDP {dp * p.tp // (p.expert_tp * p.ep)})"
    src = {
        None: "ZeRO §3.1 mixed precision",
        "zero": "ZeRO paper Fig. 1 (K = 12)",
        "megatron": "Megatron theoretical_memory_usage.py (18 B/param)",
    }[conv]
    stored = f"{precision.stored_weight_bytes:g} B/param ({precision.quant or precision.dtype})"
    wdesc = (
        f"frozen base layers {stored}, embeddings {w:g}, adapters {w:g}"
        if lora
        else f"{w:g} B/param ({precision.dtype})"
    )
    wdesc += f" / TP {p.tp}, {_stage_name(p, out, stages)}"
    if shape.spec.is_moe:
        wdesc += f"; routed experts / (ETP {p.expert_tp} x EP {p.ep})"
    if stage == 3:
        wdesc += " / DP (ZeRO-3)" + ("" if conv == "zero" else " + one gathered layer (ZeRO-3 all-gather)")
    if p.offload_params:
        wdesc += " (offloaded to CPU)"
    moved = " (offloaded to CPU)" if p.offload_optimizer else ""
    optimizer_b = precision.optimizer_state_bytes(shape.adafactor_ratio)
    flags = ", ".join(
        [f"{workload.recompute} recompute"] + ["SP"] * p.sp + ["FlashAttention"] * workload.flash_attention
    )
    layers = f"{out['stage_layers']:g} layers x {in_flight:g} micro-batch(es) in flight"
    if p.interleave > 1:
        layers += f" x interleave penalty (v={p.interleave})"
    terms = [
        ("weights", out["weights"], f"{wdesc} [{src}]"),
        (
            "master_weights",
            out["master"],
            f"{precision.master_bytes:g} B/trainable param (fp32 copy){moved}; {shard_txt}",
        ),
        (
            "gradients",
            out["gradients"],
            f"{precision.grad_bytes:g} B/trainable param{moved}; " + ("/ DP" if stage >= 2 else "unsharded"),
        ),
        (
            "optimizer",
            out["optimizer"],
            f"{optimizer_b:.4g} B/trainable param ({precision.optimizer}){moved}; "
            + ("/ DP" if stage >= 1 else "unsharded"),
        ),
        (
            "activations",
            out["activations"] - out["logits"],
            f"Korthikanti et al. 2022 Table 2 per layer ({flags}, {precision.activation_bytes:g} B values) "
            f"x {layers}",
        ),
        (
            "logits",
            out["logits"],
            "fp32 logits 4·s·b·V/t (Korthikanti §4.3); on the last stage when PP > 1",
        ),
    ]
    if conv == "zero" or workload.micro_batch == 0:
        terms = [t for t in terms if t[0] not in ("activations", "logits")]
    return terms


def _stage_name(p: Parallelism, out: dict[str, float], stages: list[dict[str, Any]]) -> str:
    """The pipeline stage a training breakdown is for, with the split."""
    if p.pp == 1:
        return "one stage"
    split = ",".join(str(s["layers"]) for s in stages)
    how = "given" if isinstance(p.pp_layers, tuple) else SPLIT_TEXT[p.pp_layers or "balanced"]
    return (
        f"heaviest stage {int(out['stage'])} of PP {p.pp} ({out['stage_layers']:g} layers; split {split}, "
        f"{how})"
    )


def _notes(
    spec: ModelSpec,
    bare: bool,
    mode: str,
    p: Parallelism,
    cluster: Cluster,
    workload: Workload,
    conv: str | None,
    res: ConventionResult,
    precision: Precision,
) -> list[str]:
    notes = []
    if bare:
        notes.append(
            f"model given as a parameter count: activations and KV cache use the shape rule "
            f"{spec.n_layer} layers x d_model {spec.d_model} ({spec.source})"
        )
    trains = mode != "infer" and conv not in PUBLISHED
    if trains and conv == "zero":
        notes.append("model states only (ZeRO's accounting)")
    elif trains and workload.micro_batch == 0:
        notes.append("micro_batch=0: model states only")
    if trains and p.offload:
        notes.append(
            f"CPU: offloaded states x {cluster.node} devices per node x {CPU_BUFFER_FACTOR} "
            "buffer (DeepSpeed)"
        )
    if trains and precision.dtype == "fp8" and workload.micro_batch > 0:
        notes.append(FP8_ACTIVATIONS_NOTE)
    if res.total_rule == "max":
        notes.append("accelerate reports the largest of these terms, not their sum")
    if len(res.stages) > 1:
        per = ", ".join(f"{s['stage']}: {s['total_bytes'] / GIB:.1f}" for s in res.stages)
        notes.append(
            f"per pipeline stage (GiB, layers {','.join(str(s['layers']) for s in res.stages)}): {per}; the "
            f"terms are the heaviest, stage {res.heaviest} (first: embedding and PP micro-batches in flight; "
            "last: LM head, final norm and fp32 logits)"
        )
    return notes


def _inputs(
    spec: ModelSpec,
    mode: str,
    precision: Precision,
    p: Parallelism,
    cluster: Cluster,
    workload: Workload,
    conv: str | None,
    res: ConventionResult,
) -> dict[str, Any]:
    acc = cluster.accelerator
    inputs: dict[str, Any] = dict(
        mode=mode,
        precision=precision.dtype,
        optimizer=precision.optimizer,
        convention=conv or "ours",
        devices=cluster.devices,
        accelerator=acc.name if acc else None,
        tp=p.tp,
        pp=p.pp,
        dp=p.dp(cluster.devices),
        ep=p.ep,
        etp=p.expert_tp,
        edp=p.edp(cluster.devices),
        pp_layers=[s["layers"] for s in res.stages] if res.stages else None,
        pp_split="given" if isinstance(p.pp_layers, tuple) else p.pp_layers or "balanced",
        sp=p.sp,
        zero=p.zero,
        offload=p.offload,
        recompute=workload.recompute,
        flash_attention=workload.flash_attention,
        micro_batch=workload.micro_batch,
        seq_len=workload.seq(spec),
        global_batch=workload.global_batch,
        interleave=p.interleave,
        schedule=p.schedule,
        quant=precision.quant,
        lora_rank=workload.lora_rank,
        batch=workload.batch,
        context=workload.ctx(spec),
        devices_per_node=cluster.node,
    )
    if mode == "finetune" and workload.lora_rank and conv not in PUBLISHED:
        inputs["lora_targets"] = list(parse_lora_targets(workload.lora_targets, spec))
    return inputs


def _result(
    res: ConventionResult,
    acc: Accelerator | None,
    name: str,
    mode: str,
    conv: str | None,
    params: float,
    inputs: dict[str, Any],
    notes: list[str],
) -> MemoryBreakdown:
    out, terms = res.out, list(res.terms)
    if res.total_rule == "sum":
        terms.append(("overhead", out["overhead"], res.overhead_rule))
        total = sum(
            out[k] for k in ("weights", "master", "gradients", "optimizer", "activations", "kv", "overhead")
        )
    else:
        total = max(v for _, v, _ in terms)
    capacity = acc.memory_bytes if acc else None
    return MemoryBreakdown(
        weights_bytes=out["weights"],
        master_weights_bytes=out["master"],
        gradients_bytes=out["gradients"],
        optimizer_bytes=out["optimizer"],
        activations_bytes=out["activations"],
        logits_bytes=out["logits"],
        kv_cache_bytes=out["kv"],
        overhead_bytes=out["overhead"],
        total_bytes=float(total),
        cpu_bytes=out["cpu"],
        fits=None if capacity is None else bool(total <= capacity),
        capacity_bytes=capacity,
        headroom_bytes=None if capacity is None else float(capacity - total),
        terms=terms,
        model=name,
        mode=mode,
        convention=conv or "ours",
        params=params,
        trainable_params=float(res.trainable),
        inputs=inputs,
        notes=notes,
        stages=res.stages,
        heaviest_stage=res.heaviest,
    )


ACROSS = ("zero", "recompute", "tp", "precision")


def memory_across(
    model: ModelSpec | str | float,
    across: str = "zero",
    *,
    mode: str = "train",
    precision: Precision = Precision(),
    parallel: Parallelism = Parallelism(),
    workload: Workload = Workload(),
    cluster: Cluster = Cluster(),
    convention: str | None = None,
    overhead_bytes: float | None = None,
) -> dict[str, MemoryBreakdown]:
    """Breakdowns with one setting varied over its values, everything else as given to `estimate_memory`.

    ``across``: ``"zero"`` (ZeRO stages 0-3), ``"recompute"`` (none/selective/full), ``"tp"`` (1, 2, 4, 8
    within a node, those the model's heads and the devices allow) or ``"precision"`` (fp32, bf16, fp8).
    Keys are labels such as ``"ZeRO-3"``; each value equals `estimate_memory` with that setting.
    """
    across = checks.choice(across, ACROSS, "setting to vary")
    p, prec = parallel, precision
    if across == "zero":
        variants = {f"ZeRO-{z}": {"parallel": _split(p, zero=z)} for z in (0, 1, 2, 3)}
    elif across == "recompute":
        variants = {
            f"recompute {r}": {"workload": dataclasses.replace(workload, recompute=r)}
            for r in ("none", "selective", "full")
        }
    elif across == "precision":
        variants = {
            d: {"precision": Precision.of(d, prec.optimizer, quant=prec.quant, kv_dtype=prec.kv_dtype)}
            for d in ("fp32", "bf16", "fp8")
        }
    else:
        spec, _, _ = resolve_model(model)
        variants = {
            f"TP {t}": {"parallel": _split(p, tp=t)}
            for t in (1, 2, 4, 8)
            if t <= cluster.node
            and cluster.devices % t == 0
            and spec.n_head % t == 0
            and (spec.kv_heads % t == 0 or t % spec.kv_heads == 0)
        }
    given = dict(
        mode=mode,
        precision=prec,
        parallel=p,
        workload=workload,
        cluster=cluster,
        convention=convention,
        overhead_bytes=overhead_bytes,
    )
    return {label: estimate_memory(model, **{**given, **change}) for label, change in variants.items()}


def _split(parallel: Parallelism, **change: Any) -> Parallelism:
    """``parallel`` with ``change``, checked again (an offload needs its ZeRO stage)."""
    fields = {
        f.name: getattr(parallel, f.name) for f in dataclasses.fields(parallel) if f.name != "hybrid_shard"
    }
    if parallel.hybrid_shard:
        fields["zero"] = "hybrid_shard"
    return Parallelism.of(**{**fields, **change})
