"""Training and fine-tuning memory per device over numpy arrays: the one formula behind `estimate_memory`
(scalars) and `scaling.layout.search_layouts` (every candidate layout at once)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scaling.memory.activations import (
    LOGITS_BYTES,
    MASK_BYTES,
    activation_bytes_per_layer,
    attention_ratios,
    moe_layer_ratios,
)
from scaling.memory.parallel import DEVICES_PER_NODE
from scaling.memory.param_counts import ModelShape
from scaling.memory.stages import (
    EVEN,
    LayerSpan,
    balanced_split,
    candidate_stages,
    micro_batches_in_flight,
    stage_extras,
    stage_kinds,
    stage_layers,
    stage_params,
)
from scaling.memory.states import CPU_BUFFER_FACTOR, model_state_bytes, overhead_bytes


def train_state_arrays(
    shape: ModelShape,
    *,
    tp: Any = 1,
    pp: Any = 1,
    dp: Any = 1,
    ep: Any = 1,
    etp: Any = None,
    stage: Any = 0,
    pp_layers: Any = None,
    zero: Any = 0,
    hybrid_shard: bool = False,
    devices_per_node: int = DEVICES_PER_NODE,
    offload_optimizer: Any = False,
    offload_params: Any = False,
    weight_bytes: float = 2.0,
    master_bytes: float = 4.0,
    grad_bytes: float = 2.0,
    optimizer_state_bytes: float = 8.0,
    lora_params_per_layer: float = 0.0,
    frozen_layer_weight_bytes: float | None = None,
    count_gather_buffer: bool = True,
) -> dict[str, Any]:
    """Model states per device of pipeline ``stage`` (ZeRO sharding, LoRA, CPU offload), as arrays: weights
    (incl. ZeRO-3's gathered layer ``live``), master, gradients, optimizer, and ``cpu`` per node.

    Non-expert states shard over DP, routed experts' over the expert data-parallel size
    EDP = DP x TP / (ETP x EP) (`scaling.memory.stages`); ``etp`` None is TP."""
    zero = np.asarray(zero)
    tp, pp, dp, ep = (np.asarray(x, dtype=float) for x in (tp, pp, dp, ep))
    etp = tp if etp is None else np.asarray(etp, dtype=float)
    dense, expert = stage_params(shape, stage, tp=tp, pp=pp, ep=ep, etp=etp, pp_layers=pp_layers)
    shard = np.minimum(dp, devices_per_node / np.minimum(tp * pp, devices_per_node)) if hybrid_shard else dp
    expert_shard = np.maximum(shard * tp / (etp * ep), 1.0)
    kw = dict(
        weight_bytes=weight_bytes,
        master_bytes=master_bytes,
        grad_bytes=grad_bytes,
        optimizer_state_bytes=optimizer_state_bytes,
    )
    if (
        lora_params_per_layer > 0
    ):  # frozen base (possibly quantized) + trainable adapters at the full convention
        per_stage, _ = stage_layers(shape.layers, pp.astype(int), stage, pp_layers)
        rest = stage_extras(shape, stage, tp=tp, pp=pp)  # embeddings/head stay at the training dtype
        layer_part = dense + expert - rest
        frozen_b = weight_bytes if frozen_layer_weight_bytes is None else frozen_layer_weight_bytes
        parts = [
            model_state_bytes(layer_part, shard, zero, weight_bytes=frozen_b, trainable=0.0),
            model_state_bytes(rest, shard, zero, weight_bytes=weight_bytes, trainable=0.0),
            model_state_bytes(
                per_stage * lora_params_per_layer / tp, shard, zero, **kw
            ),  # Hu et al. 2021 adapters
        ]
    else:
        parts = [
            model_state_bytes(dense, shard, zero, **kw),
            model_state_bytes(expert, expert_shard, zero, **kw),
        ]
    weights, master, grads, optim = (
        sum(getattr(p, k) for p in parts) for k in ("weights", "master", "gradients", "optimizer")
    )

    # ZeRO-3 gathers one layer's full parameters (and its gradients before the reduce-scatter) at a time.
    gathered_layer = (shape.layer_params / tp + shape.expert_layer_params / (etp * ep)) * (
        weight_bytes + grad_bytes
    )
    live = np.where(zero >= 3, gathered_layer, 0.0) * (1.0 if count_gather_buffer else 0.0)

    # Offload (DeepSpeed ZeRO-Offload, Ren et al. 2021): fp32 master, optimizer states and fp32 gradients live
    # on the host (16 B/param with Adam); with offloaded parameters (ZeRO-Infinity, stage 3) the weights too.
    off_opt = np.asarray(offload_optimizer, dtype=bool)
    off_par = np.asarray(offload_params, dtype=bool)
    host_grad_bytes = np.where(grad_bytes > 0, 4.0, 0.0) * (grads / max(grad_bytes, 1e-30))
    cpu_per_device = np.where(off_opt, master + optim + host_grad_bytes, 0.0) + np.where(
        off_par, weights, 0.0
    )
    return dict(
        weights=np.where(off_par, 0.0, weights) + live,
        master=np.where(off_opt, 0.0, master),
        gradients=np.where(off_opt, 0.0, grads),
        optimizer=np.where(off_opt, 0.0, optim),
        live=live,
        cpu=cpu_per_device * devices_per_node * CPU_BUFFER_FACTOR,
    )


def train_activation_arrays(
    shape: ModelShape,
    *,
    tp: Any = 1,
    pp: Any = 1,
    stage: Any = 0,
    pp_layers: Any = None,
    recompute: Any = 0,
    sp: Any = False,
    flash_attention: Any = False,
    micro_batch: Any = 1,
    seq_len: float = 2048,
    in_flight: Any = None,
    interleave: Any = 1,
    num_micro_batches: Any = None,
    schedule: str = "1f1b",
    activation_bytes: float = 2.0,
    dropout: bool = True,
    mask_bytes: float = MASK_BYTES,
) -> dict[str, Any]:
    """Activations of pipeline ``stage`` (Korthikanti et al. 2022 Table 2 per layer x its layers x the
    micro-batches in flight), the embedding's dropout mask on the first stage and the final norm/head
    inputs and fp32 logits on the last."""
    spec = shape.spec
    tp, pp = np.asarray(tp, dtype=float), np.asarray(pp, dtype=float)
    h = spec.d_model
    common = dict(
        **attention_ratios(spec),
        gated=spec.gated_ffn,
        bytes_per_value=activation_bytes,
        dropout=dropout,
        flash_attention=flash_attention,
        mask_bytes=mask_bytes,
    )
    args = (seq_len, micro_batch, h, spec.n_head, tp, sp, recompute)
    layer_act = activation_bytes_per_layer(*args, ffn_ratio=spec.ffn_dim / h, **common)
    dense_in_stage, moe_in_stage = stage_kinds(shape, pp.astype(int), stage, pp_layers)
    stage_act = layer_act * dense_in_stage
    if spec.is_moe:  # routed tokens at the experts' width (PR #6782's topk·s·b·moe_ffn/TP per rank)
        layer_act = activation_bytes_per_layer(*args, **moe_layer_ratios(spec), **common)
        stage_act = stage_act + layer_act * moe_in_stage
    if in_flight is None:
        m = np.asarray(num_micro_batches if num_micro_batches is not None else pp, dtype=float)
        in_flight = micro_batches_in_flight(pp, stage, m, schedule)
    interleave = np.asarray(interleave, dtype=float)
    penalty = np.where(interleave > 1, 1.0 + (pp - 1.0) / (pp * interleave), 1.0)  # Korthikanti §4.2.3
    sb = float(seq_len) * np.asarray(micro_batch, dtype=float)
    split = np.where(np.asarray(sp, dtype=bool), tp, 1.0)
    emb_dropout = (
        sb * h * (mask_bytes if dropout else 0.0) / split
    )  # Korthikanti §4.3: embedding dropout mask
    first, last = np.asarray(stage) == 0, np.asarray(stage) == pp - 1
    emb_dropout = np.where(first, emb_dropout, 0.0)
    final = np.where(last, 2.0 * activation_bytes * sb * h / split, 0.0)  # final LN input + LM-head input
    logits = np.where(last, LOGITS_BYTES * sb * spec.vocab_size / tp, 0.0)  # Korthikanti §4.3: 4sbv/t
    acts = (stage_act + emb_dropout) * in_flight * penalty + final + logits
    return dict(activations=acts, logits=logits, layer_activations=layer_act, in_flight=in_flight)


def train_memory_arrays(
    shape: ModelShape,
    *,
    overhead: float | None = None,
    overhead_default: bool = True,
    count_activations: bool = True,
    **kwargs: Any,
) -> dict[str, Any]:
    """Training / fine-tuning memory per device of the heaviest pipeline stage, every input a scalar or a
    broadcasting numpy array.

    ``kwargs`` are those of `train_state_arrays` and `train_activation_arrays` (``overhead_bytes`` is
    accepted for ``overhead``); without a ``stage`` the stages that can be heaviest are each evaluated
    (`scaling.memory.stages.candidate_stages`) and the heaviest kept; without ``pp_layers`` the layers are
    split by `pipeline_split`. Returns a dict of arrays: weights,
    master, gradients, optimizer, activations (incl. logits), logits, overhead, total, cpu (per node), live,
    layer_activations, in_flight, and ``stage`` (its index) and ``stage_layers`` (the layers it holds).
    """
    kwargs["pp_layers"] = pipeline_split(
        shape,
        overhead=overhead,
        overhead_default=overhead_default,
        count_activations=count_activations,
        **kwargs,
    )
    if kwargs.get("stage") is not None:
        return _stage_memory(shape, overhead, overhead_default, count_activations, **kwargs)
    kwargs.pop("stage", None)
    pp = np.asarray(kwargs.get("pp", 1))
    split = kwargs.pop("pp_layers")
    best, starts = None, None
    if split is not None and np.ndim(split) > 1:
        starts = np.cumsum(split, axis=-1) - split
    for i, stage in enumerate(candidate_stages(shape, pp, split)):
        layers = split
        if starts is not None:  # one split per layout: the columns of stage i
            layers = LayerSpan(split[..., i], starts[..., i])
        mem = _stage_memory(
            shape, overhead, overhead_default, count_activations, stage=stage, pp_layers=layers, **kwargs
        )
        if best is None:
            best = mem
            continue
        heavier = mem["total"] > best["total"]
        best = {k: np.where(heavier, mem[k], best[k]) for k in best}
    return best


def pipeline_split(
    shape: ModelShape,
    *,
    overhead: float | None = None,
    overhead_default: bool = True,
    count_activations: bool = True,
    **kwargs: Any,
) -> Any:
    """The layers per pipeline stage a run uses: ``pp_layers`` when given as counts (None for ``"even"``,
    which `stage_layers` splits evenly), else `balanced_split`'s (its ``"balanced"`` rule by default, or
    ``"memory"``), counts of shape (..., stages) for layouts of shape (...); ``kwargs`` as
    `train_memory_arrays`'.

    Every stage's memory is affine in its dense and MoE layers, so three probes per stage (no layer, one
    dense, one MoE) give the costs `balanced_split` minimises; the one home of the default split for
    `scaling memory`, the layout search and the plan."""
    given = kwargs.get("pp_layers")
    if given is not None and not isinstance(given, str):
        return given
    if given == EVEN:
        return None
    rule = given or "balanced"
    kwargs = {k: v for k, v in kwargs.items() if k not in ("stage", "pp_layers")}
    pp = np.asarray(kwargs.get("pp", 1)).astype(int)
    counts = np.zeros(pp.shape + (int(pp.max(initial=1)),), dtype=int)
    counts[..., 0] = shape.layers
    for size in sorted(set(pp[pp > 1].tolist())):  # one PP at a time: as many stages as it has
        size = int(size)
        mask = pp == size
        sub = {k: v[mask] if np.shape(v) == pp.shape and pp.ndim else v for k, v in kwargs.items()}
        costs = _stage_costs(shape, size, overhead, overhead_default, count_activations, sub)
        split = balanced_split(*costs, shape.layers, min(shape.leading_dense, shape.layers), size, rule)
        counts[mask, :size] = split
    return counts


def _stage_costs(
    shape: ModelShape,
    pp: int,
    overhead: float | None,
    overhead_default: bool,
    count_activations: bool,
    kwargs: dict[str, Any],
) -> tuple[Any, Any, Any]:
    """(fixed, per dense layer, per MoE layer) memory of each of ``pp`` stages, shape (..., pp): three
    probes of `_stage_memory` per stage (no layer, one dense, one MoE), exact as its memory is affine in the
    layers it holds."""
    layers, dense = shape.layers, min(shape.leading_dense, shape.layers)

    def total(stage: int, count: int, start: int) -> Any:
        span = LayerSpan(count=count, start=start)
        mem = _stage_memory(
            shape, overhead, overhead_default, count_activations, stage=stage, pp_layers=span, **kwargs
        )
        return mem["total"]

    fixed, per_dense, per_moe = [], [], []
    for i in range(pp):
        base = total(i, 0, 0)
        fixed.append(base)
        per_dense.append(total(i, 1, 0) - base if dense > 0 else 0.0 * base)
        per_moe.append(total(i, 1, dense) - base if dense < layers else per_dense[-1])
    shape_out = np.broadcast_shapes(*(np.shape(x) for x in fixed + per_dense + per_moe))
    return tuple(
        np.stack([np.broadcast_to(v, shape_out) for v in x], axis=-1) for x in (fixed, per_dense, per_moe)
    )


def _stage_memory(
    shape: ModelShape, overhead: float | None, overhead_default: bool, count_activations: bool, **kwargs: Any
) -> dict[str, Any]:
    overhead = kwargs.pop("overhead_bytes", overhead)
    state_keys = train_state_arrays.__kwdefaults__.keys()
    states = train_state_arrays(shape, **{k: v for k, v in kwargs.items() if k in state_keys})
    shared = ("tp", "pp", "stage", "pp_layers")
    act_kwargs = {k: v for k, v in kwargs.items() if k not in state_keys or k in shared}
    acts = train_activation_arrays(shape, **act_kwargs)
    if not count_activations:
        acts = {**acts, "activations": 0.0 * acts["activations"], "logits": 0.0 * acts["logits"]}
    allocated = (
        states["weights"] + states["master"] + states["gradients"] + states["optimizer"] + acts["activations"]
    )
    extra, _ = overhead_bytes(allocated, overhead, overhead_default)
    stage = kwargs["stage"]
    held, _ = stage_layers(
        shape.layers, np.asarray(kwargs.get("pp", 1)).astype(int), stage, kwargs.get("pp_layers")
    )
    return {
        **states,
        **acts,
        "overhead": extra,
        "total": allocated + extra,
        "stage": np.asarray(stage) + 0 * allocated,
        "stage_layers": held + 0 * allocated,
    }
