"""Memory per device for training, fine-tuning and inference, as a sum of named terms.

"Will this fit on my GPUs, and if not, what layout makes it fit?" Every term is one line with its source:

* model states (Rajbhandari et al. 2019, "ZeRO", §3): weights, an fp32 master copy, gradients and optimizer
  states, in bytes per parameter, sharded over the data-parallel degree by ZeRO stage 1/2/3 (FSDP's
  SHARD_GRAD_OP is stage 2, FULL_SHARD stage 3, HYBRID_SHARD stage 3 within a node);
* activations per layer after Korthikanti et al. 2022, Table 2, generalised to any d_ff, GQA width, dtype,
  gated FFN and FlashAttention; the pipeline's first stage holds ``pp`` micro-batches in flight (1F1B), times
  (1 + (pp-1)/(pp*v)) when interleaved (their §4.2.3); the fp32 logits buffer 4·s·b·V/t (their §4.3);
* the KV cache for inference: the model's KV elements per token (`ModelSpec.kv_cache_elements_per_token`:
  2 x layers x kv_heads x d_head, MLA latents, sliding windows) x bytes per element, plus encoder-decoder
  cross-attention K/V over the source;
* a framework overhead (CUDA context + allocator fragmentation), shown as its own term;
* CPU memory when the optimizer and/or the parameters are offloaded (DeepSpeed ZeRO-Offload / ZeRO-Infinity).

What is reported:

* per device, for the **first pipeline stage** (Korthikanti et al. 2022 §4.2.3 and Megatron's
  ``theoretical_memory_usage.py`` report it: it holds the embedding and the most micro-batches in flight).
  The logits buffer lives on the last stage, which holds one micro-batch, so it is counted only when pp = 1;
* ``master_weights_bytes`` is the fp32 copy that mixed-precision optimizers keep; ZeRO's K = 12 is
  master (4) + Adam's two moments (8), so ZeRO's "optimizer states" =
  ``master_weights_bytes + optimizer_bytes``;
* ``logits_bytes`` is its own field and is included in ``activations_bytes`` (so ``activations_bytes`` is
  everything saved for the backward pass);
* ``cpu_bytes`` is host memory **per node** (devices on a node share it), with DeepSpeed's 1.5 buffer factor.

Conventions (``CONVENTIONS``): ``None`` (ours: everything above), or a published accounting that reproduces
that source's number and leaves out what it leaves out (named conventions add no framework overhead unless
``overhead_bytes`` is given):

* ``"zero"``: ZeRO paper Figure 1 / Table 1, model states only, 2 + 2 + 12 = 16 B/param;
* ``"megatron"``: 2 + 4 + 4 (fp32 gradients) + 8 = 18 B/param (Megatron ``theoretical_memory_usage.py``;
  HF "Model memory anatomy": 6 weights + 4 grads + 8 AdamW), plus activations;
* ``"course"``: deeplearning.ai "Generative AI with LLMs": weights at their dtype (4 GB per 1B params at
  fp32), training adds 20 B/param (Adam 8 + gradients 4 + activations and temporaries 8) = 24 GB
  per 1B at fp32;
* ``"accelerate"``: ``accelerate estimate-memory``: inference = weights; training = the **max** (not the sum)
  of model, gradients, optimizer and step sizes (16 B/param at fp32, 8 B/param of the fp32 size at 16-bit);
* ``"deepspeed"``: DeepSpeed's ``estimate_zero2/zero3_model_states_mem_needs`` (``memory.rst``): model states
  only, with its offload, ``zero_init`` and 1.5 CPU-buffer conventions; ``cpu_bytes`` per node.

Where each rule lives:

* ``precision.py``: bytes per element and per parameter (`Precision`, `dtype_bytes`, optimizer states);
* ``parallel.py``: the split over devices (`Parallelism`, `zero_stage`) and the one layout-validity rule set
  (`layout_rules`, `validate_layout`; `scaling.layout.valid_mask` reads the same rules);
* ``workload.py``: micro-batch, sequence, recompute, attention kernel, inference batch and context, LoRA;
* ``param_counts.py``: the parameter counts the formulas read from a model, per layer, stage and adapter
  (`ModelShape`, `resolve_model`; not to be confused with `scaling.model.shapes`, architectures for a size);
* ``states.py``, ``activations.py``, ``kv.py``: the terms; ``training.py`` and ``inference.py``: their sums
  over numpy arrays (the layout search evaluates every candidate through ``training.py``);
* ``conventions.py``: the published accountings; ``estimate.py``: `estimate_memory` (from `Precision`,
  `Parallelism`, `Workload` and a `scaling.cluster.Cluster`) and `memory_across` (the memory chart's bars);
  ``request.py``: `MemoryRequest`, the options of ``scaling memory`` as those objects;
  ``breakdown.py``: the `MemoryBreakdown` result.
"""

from typing import Any

from scaling.memory.activations import (
    LOGITS_BYTES,
    MASK_BYTES,
    RECOMPUTE,
    RECOMPUTE_CODE,
    activation_bytes_per_layer,
    attention_ratios,
    moe_layer_ratios,
    recompute_code,
    recompute_name,
)
from scaling.memory.breakdown import MemoryBreakdown
from scaling.memory.conventions import CONVENTIONS
from scaling.memory.estimate import (
    ACROSS,
    MODES,
    convention_name,
    estimate_memory,
    memory_across,
    micro_batches_per_step,
)
from scaling.memory.parallel import (
    DEVICES_PER_NODE,
    OFFLOAD,
    SCHEDULES,
    ZERO_NAMES,
    Parallelism,
    device_count,
    expert_rules,
    layout_rules,
    validate_layout,
    zero_stage,
)
from scaling.memory.param_counts import ModelShape, resolve_model
from scaling.memory.precision import (
    DTYPE_ALIASES,
    DTYPE_BYTES,
    OPTIMIZER_ALIASES,
    OPTIMIZER_STATE_BYTES,
    PRECISIONS,
    QUANTS,
    Precision,
    dtype_bytes,
)
from scaling.memory.request import MemoryRequest, memory_request
from scaling.memory.stages import expert_data_parallel, parse_pp_layers, stage_params
from scaling.memory.states import (
    CPU_BUFFER_FACTOR,
    CUDA_CONTEXT_BYTES,
    FRAGMENTATION,
    ModelStates,
    model_state_bytes,
)
from scaling.memory.training import train_activation_arrays, train_memory_arrays, train_state_arrays
from scaling.memory.workload import LORA_TARGETS, Workload, parse_lora_targets

__all__ = [
    "ACROSS",
    "CONVENTIONS",
    "CPU_BUFFER_FACTOR",
    "CUDA_CONTEXT_BYTES",
    "DEVICES_PER_NODE",
    "DTYPE_ALIASES",
    "DTYPE_BYTES",
    "FRAGMENTATION",
    "LOGITS_BYTES",
    "LORA_TARGETS",
    "MASK_BYTES",
    "MODES",
    "OFFLOAD",
    "OPTIMIZER_ALIASES",
    "OPTIMIZER_STATE_BYTES",
    "PRECISIONS",
    "QUANTS",
    "RECOMPUTE",
    "RECOMPUTE_CODE",
    "SCHEDULES",
    "ZERO_NAMES",
    "InferenceLimits",
    "MemoryBreakdown",
    "MemoryRequest",
    "ModelShape",
    "ModelStates",
    "Parallelism",
    "Precision",
    "Workload",
    "activation_bytes_per_layer",
    "attention_ratios",
    "convention_name",
    "device_count",
    "dtype_bytes",
    "estimate_memory",
    "infer_memory_arrays",
    "kv_cache_bytes",
    "largest_fitting",
    "expert_data_parallel",
    "expert_rules",
    "layout_rules",
    "parse_pp_layers",
    "stage_params",
    "max_batch_and_context",
    "memory_across",
    "memory_request",
    "micro_batches_per_step",
    "model_state_bytes",
    "moe_layer_ratios",
    "parse_lora_targets",
    "recompute_code",
    "recompute_name",
    "resolve_model",
    "train_activation_arrays",
    "train_memory_arrays",
    "train_state_arrays",
    "validate_layout",
    "zero_stage",
]

_INFERENCE = {
    "InferenceLimits": "inference",
    "infer_memory_arrays": "inference",
    "max_batch_and_context": "inference",
    "largest_fitting": "inference",
    "kv_cache_bytes": "kv",
}


def __getattr__(name: str) -> Any:
    """The inference-memory names (``inference.py``, ``kv.py``), imported when first asked for: a training
    plan never loads them."""
    if name not in _INFERENCE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"scaling.memory.{_INFERENCE[name]}"), name)
    globals()[name] = value
    return value
