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
from scaling.memory.states import CPU_BUFFER_FACTOR, model_state_bytes, overhead_bytes


def train_state_arrays(
    shape: ModelShape,
    *,
    tp: Any = 1,
    pp: Any = 1,
    dp: Any = 1,
    ep: Any = 1,
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
    """Model states per device of the first pipeline stage (ZeRO sharding, LoRA, CPU offload), as arrays:
    weights (incl. ZeRO-3's gathered layer ``live``), master, gradients, optimizer, and ``cpu`` per node."""
    zero = np.asarray(zero)
    tp, pp, dp, ep = (np.asarray(x, dtype=float) for x in (tp, pp, dp, ep))
    dense, expert = shape.stage_params(tp, pp, ep)
    shard = np.minimum(dp, devices_per_node / np.minimum(tp * pp, devices_per_node)) if hybrid_shard else dp
    kw = dict(
        weight_bytes=weight_bytes,
        master_bytes=master_bytes,
        grad_bytes=grad_bytes,
        optimizer_state_bytes=optimizer_state_bytes,
    )
    if (
        lora_params_per_layer > 0
    ):  # frozen base (possibly quantized) + trainable adapters at the full convention
        per_stage = np.ceil(shape.layers / pp)
        layer_part = per_stage * (shape.layer_params + shape.expert_layer_params) / tp
        rest = dense + expert - layer_part  # embeddings/head stay at the training dtype
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
            model_state_bytes(expert, np.maximum(shard / ep, 1.0), zero, **kw),
        ]
    weights, master, grads, optim = (
        sum(getattr(p, k) for p in parts) for k in ("weights", "master", "gradients", "optimizer")
    )

    # ZeRO-3 gathers one layer's full parameters (and its gradients before the reduce-scatter) at a time.
    gathered_layer = (shape.layer_params + shape.expert_layer_params / ep) / tp * (weight_bytes + grad_bytes)
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
    """Activations of the first pipeline stage (Korthikanti et al. 2022 Table 2 per layer x its layers x the
    micro-batches in flight) plus, without pipelining, the final norm/head inputs and the fp32 logits."""
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
    stage_layers = np.ceil(shape.layers / pp)
    stage_act = layer_act * stage_layers
    if spec.is_moe:  # the first stage holds the dense layers (DeepSeek's first k) and then MoE layers
        dense = layer_act
        layer_act = activation_bytes_per_layer(*args, **moe_layer_ratios(spec), **common)
        dense_in_stage = np.minimum(spec.dense_layers, stage_layers)
        stage_act = dense * dense_in_stage + layer_act * (stage_layers - dense_in_stage)
    if in_flight is None:
        # 1F1B: the first stage holds pp micro-batches (fewer if there are fewer); GPipe holds all of them.
        m = np.asarray(num_micro_batches if num_micro_batches is not None else pp, dtype=float)
        in_flight = np.minimum(pp, m) if schedule == "1f1b" else m
    interleave = np.asarray(interleave, dtype=float)
    penalty = np.where(interleave > 1, 1.0 + (pp - 1.0) / (pp * interleave), 1.0)  # Korthikanti §4.2.3
    sb = float(seq_len) * np.asarray(micro_batch, dtype=float)
    split = np.where(np.asarray(sp, dtype=bool), tp, 1.0)
    emb_dropout = (
        sb * h * (mask_bytes if dropout else 0.0) / split
    )  # Korthikanti §4.3: embedding dropout mask
    final = np.where(pp == 1, 2.0 * activation_bytes * sb * h / split, 0.0)  # final LN input + LM-head input
    logits = np.where(pp == 1, LOGITS_BYTES * sb * spec.vocab_size / tp, 0.0)  # Korthikanti §4.3: 4sbv/t
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
    """Training / fine-tuning memory per device, every input a scalar or a broadcasting numpy array.

    ``kwargs`` are those of `train_state_arrays` and `train_activation_arrays` (``overhead_bytes`` is
    accepted for ``overhead``). Returns a dict of arrays: weights, master, gradients, optimizer, activations
    (incl. logits), logits, overhead, total, cpu (per node), live, layer_activations, in_flight.
    """
    overhead = kwargs.pop("overhead_bytes", overhead)
    state_keys = train_state_arrays.__kwdefaults__.keys()
    states = train_state_arrays(shape, **{k: v for k, v in kwargs.items() if k in state_keys})
    act_kwargs = {k: v for k, v in kwargs.items() if k not in state_keys or k in ("tp", "pp")}
    acts = train_activation_arrays(shape, **act_kwargs)
    if not count_activations:
        acts = {**acts, "activations": 0.0 * acts["activations"], "logits": 0.0 * acts["logits"]}
    allocated = (
        states["weights"] + states["master"] + states["gradients"] + states["optimizer"] + acts["activations"]
    )
    extra, _ = overhead_bytes(allocated, overhead, overhead_default)
    return {**states, **acts, "overhead": extra, "total": allocated + extra}
