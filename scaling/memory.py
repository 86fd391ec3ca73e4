"""Memory per device for training, fine-tuning and inference, as a sum of named terms.

"Will this fit on my GPUs, and if not, what layout makes it fit?" Every term is one line with its source:

* model states (Rajbhandari et al. 2019, "ZeRO", §3): weights, an fp32 master copy, gradients and optimizer
  states, in bytes per parameter, sharded over the data-parallel degree by ZeRO stage 1/2/3 (FSDP's
  SHARD_GRAD_OP is stage 2, FULL_SHARD stage 3, HYBRID_SHARD stage 3 within a node);
* activations per layer after Korthikanti et al. 2022, Table 2, generalised to any d_ff, GQA width, dtype,
  gated FFN and FlashAttention; the pipeline's first stage holds ``pp`` micro-batches in flight (1F1B), times
  (1 + (pp-1)/(pp*v)) when interleaved (their §4.2.3); the fp32 logits buffer 4·s·b·V/t (their §4.3);
* the KV cache for inference: 2 (K and V) x layers x kv_heads x d_head x bytes per token, plus encoder-decoder
  cross-attention K/V over the source;
* a framework overhead (CUDA context + allocator fragmentation), shown as its own term;
* CPU memory when the optimizer and/or the parameters are offloaded (DeepSpeed ZeRO-Offload / ZeRO-Infinity).

What is reported:

* per device, for the **first pipeline stage** (Korthikanti et al. 2022 §4.2.3 and Megatron's
  ``theoretical_memory_usage.py`` report it: it holds the embedding and the most micro-batches in flight).
  The logits buffer lives on the last stage, which holds one micro-batch, so it is counted only when pp = 1;
* ``master_weights_bytes`` is the fp32 copy that mixed-precision optimizers keep; ZeRO's K = 12 is
  master (4) + Adam's two moments (8), so ZeRO's "optimizer states" = ``master_weights_bytes + optimizer_bytes``;
* ``logits_bytes`` is its own field and is included in ``activations_bytes`` (the issue's key list has no
  logits key, so ``activations_bytes`` is everything saved for the backward pass);
* ``cpu_bytes`` is host memory **per node** (devices on a node share it), with DeepSpeed's 1.5 buffer factor.

Conventions (``CONVENTIONS``): ``None`` (ours: everything above), or a published accounting that reproduces that
source's number and leaves out what it leaves out (named conventions add no framework overhead unless
``overhead_bytes`` is given):

* ``"zero"``: ZeRO paper Figure 1 / Table 1, model states only, 2 + 2 + 12 = 16 B/param;
* ``"megatron"``: 2 + 4 + 4 (fp32 gradients) + 8 = 18 B/param (Megatron ``theoretical_memory_usage.py``;
  HF "Model memory anatomy": 6 weights + 4 grads + 8 AdamW), plus activations;
* ``"course"``: deeplearning.ai "Generative AI with LLMs": weights at their dtype (4 GB per 1B params at fp32),
  training adds 20 B/param (Adam 8 + gradients 4 + activations and temporaries 8) = 24 GB per 1B at fp32;
* ``"accelerate"``: ``accelerate estimate-memory``: inference = weights; training = the **max** (not the sum)
  of model, gradients, optimizer and step sizes (16 B/param at fp32, 8 B/param of the fp32 size at 16-bit);
* ``"deepspeed"``: DeepSpeed's ``estimate_zero2/zero3_model_states_mem_needs`` (``memory.rst``): model states
  only, with its offload, ``zero_init`` and 1.5 CPU-buffer conventions; ``cpu_bytes`` per node.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scaling.catalog import Accelerator, get_accelerator
from scaling.errors import ScalingError
from scaling.model import ModelSpec, load_model, shape_for_params
from scaling.units import GIB

# ------------------------------------------------------------------------------------------ constants
DTYPE_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,  # stored as fp32
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,  # accelerate's convention: fp32 size / 8
    "nf4": 4.127 / 8.0,  # Dettmers et al. 2023 (QLoRA) §3: 4-bit NF4 + double-quantized constants, 4.127 bits
}
_DTYPE_ALIASES = {
    "float32": "fp32", "float": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16",
    "float8": "fp8", "e4m3": "fp8", "e5m2": "fp8", "4bit": "int4", "8bit": "int8",
}  # fmt: skip
PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8")
QUANTS = ("int8", "int4", "nf4", "fp8")

# Optimizer states per trainable parameter, excluding the fp32 master copy (which is master_weights_bytes).
OPTIMIZER_STATE_BYTES: dict[str, float] = {
    "adamw": 8.0,  # ZeRO §3.1 / HF "Model memory anatomy": fp32 momentum + variance, 4 + 4
    "adam": 8.0,
    "adamw8bit": 2.0,  # Dettmers et al. 2022 (8-bit optimizers); HF anatomy: 2 B/param
    "adam8bit": 2.0,
    "paged-adamw8bit": 2.0,  # QLoRA's paged optimizer: same bytes, pages to CPU under pressure
    "paged-adamw": 8.0,
    "sgd": 4.0,  # SGD with momentum: one fp32 buffer (HF anatomy; Transformer Math 101)
    "lion": 4.0,  # one fp32 momentum (Chen et al. 2023)
    "adafactor": float("nan"),  # factored second moment: 4 x (rows + cols) per matrix (Shazeer & Stern 2018)
}
_OPTIMIZER_ALIASES = {
    "adam-8bit": "adam8bit", "adamw-8bit": "adamw8bit", "8bit-adam": "adam8bit", "adamw_8bit": "adamw8bit",
    "paged_adamw_8bit": "paged-adamw8bit", "paged-adamw-8bit": "paged-adamw8bit", "paged-adamw8bit": "paged-adamw8bit",
    "sgd-momentum": "sgd", "sgd_momentum": "sgd", "momentum": "sgd",
}  # fmt: skip
MODES = ("train", "infer", "finetune")
RECOMPUTE = ("none", "selective", "full")
OFFLOAD = ("optimizer", "params", "both")
SCHEDULES = ("1f1b", "gpipe")
CONVENTIONS = ("zero", "megatron", "course", "accelerate", "deepspeed")
ZERO_NAMES = {  # PyTorch FSDP ShardingStrategy -> ZeRO stage
    "no_shard": 0, "ddp": 0, "shard_grad_op": 2, "full_shard": 3, "hybrid_shard": 3,
    "os": 1, "os+g": 2, "os+g+p": 3, "p_os": 1, "p_os+g": 2, "p_os+g+p": 3,
}  # fmt: skip
LORA_TARGETS = ("q", "k", "v", "o", "gate", "up", "down")

CUDA_CONTEXT_BYTES = 1.0 * GIB  # CUDA context + kernels; estimators.md §1.3 item 7 (0.5-2 GiB); vram calculator uses 1000 MiB
FRAGMENTATION = 0.05  # allocator reserved-but-unused share of the allocated terms (judgement; tune per framework)
CPU_BUFFER_FACTOR = 1.5  # DeepSpeed memory.rst: additional_buffer_factor for host memory
DEVICES_PER_NODE = 8  # DGX/HGX nodes
MASK_BYTES = 1.0  # dropout masks are 1 byte per element (Korthikanti et al. 2022 §4.1)
LOGITS_BYTES = 4.0  # the loss reads fp32 logits (Korthikanti et al. 2022 §4.3: 4sbv/t)


# ------------------------------------------------------------------------------------------ parsing
def _choice(value: Any, choices: tuple[str, ...], what: str, aliases: dict[str, str] | None = None) -> str:
    key = str(value).strip().lower()
    key = (aliases or {}).get(key, key)
    if key not in choices:
        raise ScalingError(f"unknown {what} {value!r}: expected one of {', '.join(choices)}")
    return key


def dtype_bytes(dtype: str, what: str = "dtype") -> float:
    """Bytes per element of a dtype name (``bf16`` -> 2, ``int4`` -> 0.5, ``nf4`` -> 4.127/8)."""
    key = _choice(dtype, tuple(DTYPE_BYTES), what, _DTYPE_ALIASES)
    return DTYPE_BYTES[key]


def zero_stage(value: Any) -> int:
    """A ZeRO stage from 0-3 or an FSDP sharding-strategy name (NO_SHARD, SHARD_GRAD_OP, FULL_SHARD, HYBRID_SHARD)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= int(value) <= 3:
        return int(value)
    key = str(value).strip().lower().replace("-", "_")
    if key.isdigit() and 0 <= int(key) <= 3:
        return int(key)
    if key in ZERO_NAMES:
        return ZERO_NAMES[key]
    raise ScalingError(
        f"unknown ZeRO stage {value!r}: expected 0, 1, 2, 3 or an FSDP name (NO_SHARD, SHARD_GRAD_OP, FULL_SHARD, HYBRID_SHARD)"
    )


def _positive_int(value: Any, what: str, *, allow_zero: bool = False) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ScalingError(f"invalid {what} {value!r}: expected a whole number") from None
    if number != value and not (isinstance(value, str) and str(number) == value.strip()):
        if not (isinstance(value, float) and value.is_integer()):
            raise ScalingError(f"invalid {what} {value!r}: expected a whole number")
    if number < 0 or (number == 0 and not allow_zero):
        raise ScalingError(f"invalid {what} {value!r}: must be {'0 or more' if allow_zero else 'at least 1'}")
    return number


# ------------------------------------------------------------------------------ pure array helpers
RECOMPUTE_CODE = {"none": 0, "selective": 1, "full": 2}


def _recompute_code(recompute: Any) -> Any:
    if isinstance(recompute, str):
        return RECOMPUTE_CODE[_choice(recompute, RECOMPUTE, "recompute")]
    return np.asarray(recompute)


def activation_bytes_per_layer(
    s: Any,
    b: Any,
    h: Any,
    a: Any,
    t: Any = 1,
    sp: Any = False,
    recompute: Any = "none",
    *,
    ffn_ratio: Any = 4.0,
    kv_ratio: Any = 1.0,
    attn_ratio: Any = 1.0,
    gated: bool = False,
    bytes_per_value: float = 2.0,
    dropout: bool = True,
    flash_attention: Any = False,
    experts_per_token: int = 1,
    mask_bytes: float = MASK_BYTES,
) -> Any:
    """Bytes saved for the backward pass by one transformer layer on one tensor-parallel rank.

    Korthikanti et al. 2022, Table 2 at ``bytes_per_value=2``, d_ff = 4h, MHA, dropout: sbh(34 + 5as/h) with no
    parallelism, sbh(10 + 24/t + 5as/(ht)) with TP, sbh(34/t + 5as/(ht)) with TP + SP, the s^2 term dropped by
    selective recompute, and 2sbh (/t with SP) with full recompute. Generalised term by term (their §4.1):
    ``ffn_ratio`` = d_ff/h, ``kv_ratio`` = d_kv/h (GQA/MQA), ``attn_ratio`` = d_attn/h, a ``gated`` FFN (3
    d_ff-wide tensors: gate|up and the product, as fused SwiGLU saves), ``experts_per_token`` (MoE: a token's
    FFN activations once per routed expert) and FlashAttention (no s^2 tensors: an fp32 log-sum-exp per row).
    ``mask_bytes``: CUDA's fused dropout saves a 1-byte mask (the paper's count); PyTorch's CPU dropout saves
    the mask at the activation dtype.
    Every argument broadcasts (numpy arrays); ``recompute`` is a name or an array of codes 0/1/2
    (none/selective/full); ``sp`` and ``flash_attention`` may be boolean arrays.
    """
    e = bytes_per_value
    s, b, h, a, t = (np.asarray(x, dtype=float) for x in (s, b, h, a, t))
    sp = np.asarray(sp, dtype=bool)
    flash = np.asarray(flash_attention, dtype=bool)
    code = _recompute_code(recompute)
    mask = mask_bytes if dropout else 0.0
    sbh = s * b * h
    # Outside the tensor-parallel region (split by t only with sequence parallelism), per sbh:
    outside = (
        2 * e  # two LayerNorm inputs (Korthikanti §4.1: 4sbh)
        + e  # QKV projection input (LN output)
        + e  # MLP first-linear input
        + 2 * mask  # attention-output and MLP-output dropout masks
    )
    # Inside the tensor-parallel region (split by t), per sbh:
    mlp_width = (3.0 if gated else 2.0) * ffn_ratio * experts_per_token
    inside = (
        e * attn_ratio  # Q
        + 2 * e * kv_ratio  # K and V
        + e * attn_ratio  # attention-output projection input
        + e * mlp_width  # activation input and output (GeLU: 8sbh at d_ff = 4h)
    )
    # The s^2 core (per a*s^2*b): softmax output + dropout mask + dropout output (Korthikanti: 5as^2b)
    core = np.where(flash, 4.0 * a * s * b, (e + (mask + e if dropout else 0.0)) * a * s * s * b)  # flash: fp32 LSE per row
    divide_outside = np.where(sp, t, 1.0)
    per_layer = sbh * outside / divide_outside + sbh * inside / t
    per_layer = per_layer + np.where(code >= 1, 0.0, core / t)  # selective recompute drops the s^2 core
    full = e * sbh / divide_outside  # full recompute keeps the layer input (Korthikanti: 2sbh)
    return np.where(code == 2, full, per_layer)


def kv_cache_bytes(
    spec: ModelSpec, batch: Any = 1, context: Any = None, dtype: str | float = "bf16", *, tp: Any = 1, pp: Any = 1,
    source_len: Any = None,
) -> Any:
    """KV-cache bytes on one device: 2 (K and V) x layers x kv_heads x d_head x bytes x batch x context.

    GQA/MQA store only ``kv_heads``; with tensor parallelism each rank holds kv_heads/t heads, at least one
    (replicated when t > kv_heads); pipeline stages hold layers/pp. Encoder-decoder models add cross-attention
    K/V over the source (``source_len``, default the model's context); encoder-only models cache nothing.
    Broadcasts over numpy arrays.
    """
    e = dtype if isinstance(dtype, (int, float)) else dtype_bytes(dtype, "KV dtype")
    context = spec.n_ctx if context is None else context
    tp, pp = np.asarray(tp, dtype=float), np.asarray(pp, dtype=float)
    if spec.arch == "encoder":
        return np.zeros(np.broadcast(np.asarray(batch), np.asarray(context), tp, pp).shape) + 0.0
    heads = np.maximum(spec.kv_heads / tp, 1.0)
    layers = np.ceil(spec.decoder_layers / pp)
    per_token = 2.0 * layers * heads * spec.head_dim * e  # 2 = K and V
    tokens = np.asarray(batch, dtype=float) * np.asarray(context, dtype=float)
    cross = 0.0
    if spec.arch == "encoder-decoder":
        src = spec.n_ctx if source_len is None else source_len
        cross = per_token * np.asarray(batch, dtype=float) * np.asarray(src, dtype=float)  # cross-attention K/V
    return per_token * tokens + cross


@dataclass(frozen=True)
class ModelStates:
    """Model-state bytes per device (arrays broadcast from the inputs)."""

    weights: Any
    master: Any
    gradients: Any
    optimizer: Any

    @property
    def total(self) -> Any:
        return self.weights + self.master + self.gradients + self.optimizer


def model_state_bytes(
    params: Any,
    dp: Any = 1,
    stage: Any = 0,
    *,
    weight_bytes: float = 2.0,
    master_bytes: float = 4.0,
    grad_bytes: float = 2.0,
    optimizer_state_bytes: float = 8.0,
    trainable: Any = None,
) -> ModelStates:
    """ZeRO model states per device (Rajbhandari et al. 2019, §5 and Figure 1).

    Stage 1 (P_os) shards master + optimizer over ``dp``, stage 2 (P_os+g) also the gradients, stage 3
    (P_os+g+p) also the weights: with K = master + optimizer = 12, Figure 1's (2 + 2 + K)Ψ, 2Ψ + 2Ψ + KΨ/N_d,
    2Ψ + (2 + K)Ψ/N_d and (2 + 2 + K)Ψ/N_d. ``trainable`` (default all of ``params``) carries gradients and
    optimizer states; the rest is frozen (LoRA's base). Broadcasts over numpy arrays.
    """
    params = np.asarray(params, dtype=float)
    trainable = params if trainable is None else np.asarray(trainable, dtype=float)
    dp, stage = np.asarray(dp, dtype=float), np.asarray(stage)
    w_shard = np.where(stage >= 3, dp, 1.0)
    g_shard = np.where(stage >= 2, dp, 1.0)
    o_shard = np.where(stage >= 1, dp, 1.0)
    return ModelStates(
        weights=params * weight_bytes / w_shard,  # ZeRO: 2Ψ fp16 parameters
        master=trainable * master_bytes / o_shard,  # ZeRO: fp32 parameter copy, part of K
        gradients=trainable * grad_bytes / g_shard,  # ZeRO: 2Ψ fp16 gradients
        optimizer=trainable * optimizer_state_bytes / o_shard,  # ZeRO: Adam momentum + variance, part of K
    )


# ----------------------------------------------------------------------------------- model shape
@dataclass(frozen=True)
class _Shape:
    """What the memory formulas read from a spec, computed once."""

    spec: ModelSpec
    params: float  # total (a bare count given by the user replaces the spec's)
    layers: int
    layer_params: float  # average dense (non-expert) params per layer
    expert_layer_params: float  # routed-expert params per layer (MoE), else 0
    first_stage_extra: float  # embeddings held by the first pipeline stage
    adafactor_ratio: float  # Adafactor state elements per parameter
    largest_layer_params: float
    lora_per_layer: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: ModelSpec, params: float | None = None) -> _Shape:
        layers = spec.total_layers
        expert = (spec.n_experts * spec.expert_params()) if spec.is_moe else 0.0
        layer_total = spec.param_breakdown()["layers"]
        expert_total = expert * layers
        dense_layer = (layer_total - expert_total) / layers
        b = spec.param_breakdown()
        embed = b["token_embedding"] + b["position_embedding"] + b["token_type_embedding"]
        total = float(spec.params)
        if params is not None and params != total:  # a bare count: scale the layers to match it
            scale = max(params - embed, 1.0) / max(total - embed, 1.0)
            dense_layer, expert, total = dense_layer * scale, expert * scale, float(params)
        d, f, q, kv = spec.d_model, spec.ffn_dim, spec.d_attn, spec.d_kv
        # Adafactor: factored second moment (rows + cols) per matrix (Shazeer & Stern 2018, §3)
        mats = [(d, q), (d, kv), (d, kv), (q, d)] + [(d, f)] * (3 if spec.gated_ffn else 2) * spec.n_experts
        per_layer_factored = sum(r + c for r, c in mats)
        per_layer_elems = sum(r * c for r, c in mats)
        ratio = (per_layer_factored * layers + spec.vocab_size + d) / max(per_layer_elems * layers + spec.vocab_size * d, 1)
        attn_blocks = 2 if spec.arch == "encoder-decoder" else 1  # decoder layers also hold cross-attention
        lora = {  # LoRA adapter params per layer per unit rank: r x (d_in + d_out) (Hu et al. 2021)
            "q": (d + q) * attn_blocks, "k": (d + kv) * attn_blocks, "v": (d + kv) * attn_blocks,
            "o": (q + d) * attn_blocks, "gate": (d + f) * spec.n_experts if spec.gated_ffn else 0.0,
            "up": (d + f) * spec.n_experts, "down": (f + d) * spec.n_experts,
        }  # fmt: skip
        return cls(
            spec=spec, params=total, layers=layers, layer_params=dense_layer, expert_layer_params=expert,
            first_stage_extra=float(embed), adafactor_ratio=ratio, largest_layer_params=float(spec.largest_layer_params),
            lora_per_layer=lora,
        )  # fmt: skip

    def stage_params(self, tp: Any, pp: Any, ep: Any = 1) -> tuple[Any, Any]:
        """(dense, expert) params on one device of the first pipeline stage; norms are counted as split by t."""
        tp, pp, ep = (np.asarray(x, dtype=float) for x in (tp, pp, ep))
        per_stage = np.ceil(self.layers / pp)
        dense_total = self.params - self.expert_layer_params * self.layers
        dense = np.where(pp == 1, dense_total, per_stage * self.layer_params + self.first_stage_extra) / tp
        expert = per_stage * self.expert_layer_params / (tp * ep)
        return dense, expert


def _resolve_model(model: ModelSpec | str | float | int) -> tuple[ModelSpec, float | None, bool]:
    """(spec, params override, is_bare_count)."""
    if isinstance(model, (int, float, np.integer, np.floating)) and not isinstance(model, bool):
        if not math.isfinite(float(model)) or model <= 0:
            raise ScalingError(f"invalid parameter count {model!r}: must be a positive number")
        return shape_for_params(float(model)), float(model), True
    spec = load_model(model)
    return spec, None, False


# ------------------------------------------------------------------------------------ the result
@dataclass(frozen=True)
class MemoryBreakdown:
    """Per-device memory in bytes, by named term, with the inputs it was computed under.

    ``terms`` is a list of (name, bytes, rule) rows, one per named term, whose rule text gives the bytes/param
    convention or formula and its source. ``total_bytes`` is their sum (the ``accelerate`` convention: their
    max). ``activations_bytes`` includes ``logits_bytes``; ``optimizer_bytes`` excludes the fp32 master copy
    (``master_weights_bytes``). ``cpu_bytes`` is host memory per node. ``fits``, ``capacity_bytes`` and
    ``headroom_bytes`` are None without an accelerator.
    """

    weights_bytes: float
    master_weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float
    logits_bytes: float
    kv_cache_bytes: float
    overhead_bytes: float
    total_bytes: float
    cpu_bytes: float
    fits: bool | None
    capacity_bytes: float | None
    headroom_bytes: float | None
    terms: list[tuple[str, float, str]]
    model: str
    mode: str
    convention: str
    params: float
    trainable_params: float
    inputs: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    KEYS = (
        "weights_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes", "kv_cache_bytes",
        "overhead_bytes", "total_bytes", "cpu_bytes",
    )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Base-unit keys (bytes): the issue's keys, then the extra terms, ``fits``, the terms and inputs."""
        out: dict[str, Any] = {k: float(getattr(self, k)) for k in self.KEYS}
        out.update(
            master_weights_bytes=float(self.master_weights_bytes),
            logits_bytes=float(self.logits_bytes),
            capacity_bytes=self.capacity_bytes,
            headroom_bytes=self.headroom_bytes,
            fits=self.fits,
            model=self.model,
            mode=self.mode,
            convention=self.convention,
            params=self.params,
            trainable_params=self.trainable_params,
            terms=[{"name": n, "bytes": float(v), "rule": r} for n, v, r in self.terms],
            inputs=dict(self.inputs),
            notes=list(self.notes),
        )
        return out

    def to_row(self) -> dict[str, Any]:
        """A flat dict (no nested terms) for a pandas row."""
        row = {k: v for k, v in self.to_dict().items() if k not in ("terms", "inputs", "notes")}
        row.update({f"input_{k}": v for k, v in self.inputs.items() if not isinstance(v, (list, tuple, dict))})
        return row

    def to_series(self):
        import pandas as pd

        return pd.Series(self.to_row(), name=self.model)


# ------------------------------------------------------------------------------------ main entry
def _overhead(allocated: Any, overhead_bytes: float | None, default_on: bool) -> tuple[Any, str]:
    if overhead_bytes is not None:
        return np.asarray(float(overhead_bytes)) + 0.0 * allocated, "given"
    if not default_on:
        return 0.0 * allocated, "none (a named convention counts no overhead)"
    value = CUDA_CONTEXT_BYTES + FRAGMENTATION * allocated
    return value, f"CUDA context {CUDA_CONTEXT_BYTES / GIB:g} GiB + {FRAGMENTATION:.0%} allocator fragmentation"


def train_memory_arrays(
    shape: _Shape,
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
    recompute: Any = 0,
    sp: Any = False,
    flash_attention: Any = False,
    micro_batch: Any = 1,
    seq_len: float = 2048,
    in_flight: Any = None,
    interleave: Any = 1,
    num_micro_batches: Any = None,
    schedule: str = "1f1b",
    weight_bytes: float = 2.0,
    master_bytes: float = 4.0,
    grad_bytes: float = 2.0,
    optimizer_state_bytes: float = 8.0,
    activation_bytes: float = 2.0,
    dropout: bool = True,
    mask_bytes: float = MASK_BYTES,
    lora_params_per_layer: float = 0.0,
    frozen_layer_weight_bytes: float | None = None,
    overhead_bytes: float | None = None,
    overhead_default: bool = True,
    count_activations: bool = True,
    count_gather_buffer: bool = True,
) -> dict[str, Any]:
    """Training / fine-tuning memory per device, every input a scalar or a broadcasting numpy array.

    The one formula behind `estimate_memory` (scalars) and `scaling.layout.search_layouts` (arrays). Returns a
    dict of arrays: weights, master, gradients, optimizer, activations (incl. logits), logits, overhead, total,
    cpu (per node).
    """
    spec = shape.spec
    tp, pp, dp, ep = (np.asarray(x, dtype=float) for x in (tp, pp, dp, ep))
    zero = np.asarray(zero)
    dense, expert = shape.stage_params(tp, pp, ep)
    shard = np.minimum(dp, devices_per_node / np.minimum(tp * pp, devices_per_node)) if hybrid_shard else dp
    expert_shard = np.maximum(shard / ep, 1.0)
    lora = lora_params_per_layer > 0
    if lora:  # frozen base (possibly quantized) + trainable adapters with the full training convention
        per_stage = np.ceil(shape.layers / pp)
        layer_part = per_stage * (shape.layer_params + shape.expert_layer_params) / tp
        rest = dense + expert - layer_part  # embeddings/head stay at the training dtype
        frozen_b = weight_bytes if frozen_layer_weight_bytes is None else frozen_layer_weight_bytes
        base = model_state_bytes(layer_part, shard, zero, weight_bytes=frozen_b, trainable=0.0)
        base_rest = model_state_bytes(rest, shard, zero, weight_bytes=weight_bytes, trainable=0.0)
        adapters = per_stage * lora_params_per_layer / tp
        ad = model_state_bytes(
            adapters, shard, zero, weight_bytes=weight_bytes, master_bytes=master_bytes, grad_bytes=grad_bytes,
            optimizer_state_bytes=optimizer_state_bytes,
        )  # fmt: skip
        parts = [base, base_rest, ad]
    else:
        kw = dict(weight_bytes=weight_bytes, master_bytes=master_bytes, grad_bytes=grad_bytes,
                  optimizer_state_bytes=optimizer_state_bytes)  # fmt: skip
        parts = [model_state_bytes(dense, shard, zero, **kw), model_state_bytes(expert, expert_shard, zero, **kw)]
    weights = sum(p.weights for p in parts)
    master = sum(p.master for p in parts)
    grads = sum(p.gradients for p in parts)
    optim = sum(p.optimizer for p in parts)

    # ZeRO-3 gathers one layer's full parameters (and its gradients before the reduce-scatter) at a time.
    gathered_layer = (shape.layer_params + shape.expert_layer_params / ep) / tp * (weight_bytes + grad_bytes)
    live = np.where(zero >= 3, gathered_layer, 0.0) * (1.0 if count_gather_buffer else 0.0)

    # Offload (DeepSpeed ZeRO-Offload, Ren et al. 2021): fp32 master, optimizer states and fp32 gradients live
    # on the host (16 B/param with Adam); with offloaded parameters (ZeRO-Infinity, stage 3) the weights too.
    off_opt = np.asarray(offload_optimizer, dtype=bool)
    off_par = np.asarray(offload_params, dtype=bool)
    host_grad_bytes = np.where(grad_bytes > 0, 4.0, 0.0) * (grads / max(grad_bytes, 1e-30))
    cpu_per_device = np.where(off_opt, master + optim + host_grad_bytes, 0.0) + np.where(off_par, weights, 0.0)
    cpu = cpu_per_device * min(devices_per_node, 1e30) * CPU_BUFFER_FACTOR
    master = np.where(off_opt, 0.0, master)
    optim = np.where(off_opt, 0.0, optim)
    grads = np.where(off_opt, 0.0, grads)
    weights = np.where(off_par, 0.0, weights) + live

    # Activations: Korthikanti et al. 2022 Table 2 per layer x layers held by the first pipeline stage.
    h = spec.d_model
    layer_act = activation_bytes_per_layer(
        seq_len, micro_batch, h, spec.n_head, tp, sp, recompute,
        ffn_ratio=spec.ffn_dim / h, kv_ratio=spec.d_kv / h, attn_ratio=spec.d_attn / h, gated=spec.gated_ffn,
        bytes_per_value=activation_bytes, dropout=dropout, flash_attention=flash_attention,
        experts_per_token=spec.experts_per_token, mask_bytes=mask_bytes,
    )  # fmt: skip
    per_stage = np.ceil(shape.layers / pp)
    if in_flight is None:
        # 1F1B: the first stage holds pp micro-batches (fewer if there are fewer); GPipe holds all of them.
        m = np.asarray(num_micro_batches if num_micro_batches is not None else pp, dtype=float)
        in_flight = np.minimum(pp, m) if schedule == "1f1b" else m
    interleave = np.asarray(interleave, dtype=float)
    penalty = np.where(interleave > 1, 1.0 + (pp - 1.0) / (pp * interleave), 1.0)  # Korthikanti §4.2.3
    sbh = float(seq_len) * np.asarray(micro_batch, dtype=float) * h
    split = np.where(np.asarray(sp, dtype=bool), tp, 1.0)
    emb_dropout = sbh * (mask_bytes if dropout else 0.0) / split  # Korthikanti §4.3: embedding dropout mask
    final = np.where(pp == 1, 2.0 * activation_bytes * sbh / split, 0.0)  # final LN input + LM-head input
    logits = np.where(pp == 1, LOGITS_BYTES * float(seq_len) * np.asarray(micro_batch, dtype=float) * spec.vocab_size / tp, 0.0)
    acts = (layer_act * per_stage + emb_dropout) * in_flight * penalty + final + logits
    if not count_activations:
        acts, logits = 0.0 * acts, 0.0 * logits

    allocated = weights + master + grads + optim + acts
    overhead, _ = _overhead(allocated, overhead_bytes, overhead_default)
    total = allocated + overhead
    return dict(weights=weights, master=master, gradients=grads, optimizer=optim, activations=acts, logits=logits,
                live=live, overhead=overhead, total=total, cpu=cpu, layer_activations=layer_act, in_flight=in_flight)  # fmt: skip


def infer_memory_arrays(
    shape: _Shape,
    *,
    tp: Any = 1,
    pp: Any = 1,
    batch: Any = 1,
    context: Any = 2048,
    weight_bytes: float = 2.0,
    kv_bytes: float = 2.0,
    activation_bytes: float = 2.0,
    flash_attention: bool = False,
    source_len: Any = None,
    overhead_bytes: float | None = None,
    overhead_default: bool = True,
) -> dict[str, Any]:
    """Inference memory per device (arrays broadcast): weights + KV cache + the forward's transient peak.

    The transient peak of a forward pass over ``context`` tokens (prefill) is one layer's largest working set:
    the residual stream and its normalised copy (2·e·sbh), plus the larger of the attention scores (e·a·s²·b/t;
    none with FlashAttention) and the FFN intermediate ((2 or 3)·e·s·b·d_ff/t), plus the last position's fp32
    logits (4·b·V). Nothing is saved for a backward pass.
    """
    spec = shape.spec
    tp, pp = np.asarray(tp, dtype=float), np.asarray(pp, dtype=float)
    dense, expert = shape.stage_params(tp, pp)
    weights = (dense + expert) * weight_bytes
    kv = kv_cache_bytes(spec, batch, context, kv_bytes, tp=tp, pp=pp, source_len=source_len)
    s, b = np.asarray(context, dtype=float), np.asarray(batch, dtype=float)
    e = activation_bytes
    scores = 0.0 if flash_attention else e * spec.n_head * s * s * b / tp
    ffn = (3.0 if spec.gated_ffn else 2.0) * e * s * b * spec.ffn_dim / tp
    acts = 2.0 * e * s * b * spec.d_model + np.maximum(scores, ffn) + LOGITS_BYTES * b * spec.vocab_size
    allocated = weights + kv + acts
    overhead, _ = _overhead(allocated, overhead_bytes, overhead_default)
    return dict(weights=weights, kv=kv, activations=acts, overhead=overhead, total=allocated + overhead)


def _accelerator(accelerator: str | Accelerator | None) -> Accelerator | None:
    return None if accelerator is None else get_accelerator(accelerator)


def _validate_layout(spec: ModelSpec, devices: int, tp: int, pp: int, ep: int) -> int:
    if spec.n_head % tp:
        raise ScalingError(f"tensor parallel size {tp} does not divide the {spec.n_head} attention heads of {spec.name}")
    if spec.kv_heads % tp and tp % spec.kv_heads:
        raise ScalingError(
            f"tensor parallel size {tp} and the {spec.kv_heads} KV heads of {spec.name} must divide one another"
        )
    if pp > spec.total_layers:
        raise ScalingError(f"pipeline parallel size {pp} is more than the {spec.total_layers} layers of {spec.name}")
    if devices % (tp * pp):
        raise ScalingError(f"device count {devices} is not divisible by TP x PP = {tp} x {pp} = {tp * pp}")
    dp = devices // (tp * pp)
    if ep > 1:
        if spec.n_experts % ep:
            raise ScalingError(f"expert parallel size {ep} does not divide the {spec.n_experts} experts of {spec.name}")
        if dp % ep:
            raise ScalingError(f"expert parallel size {ep} does not divide the data-parallel degree {dp}")
    return dp


def _optimizer_bytes(optimizer: str, shape: _Shape) -> tuple[str, float]:
    name = _choice(optimizer, tuple(OPTIMIZER_STATE_BYTES), "optimizer", _OPTIMIZER_ALIASES)
    value = OPTIMIZER_STATE_BYTES[name]
    if name == "adafactor":
        value = 4.0 * shape.adafactor_ratio  # fp32 row + column statistics, no momentum (the default beta1=None)
    return name, value


def estimate_memory(
    model: ModelSpec | str | float,
    *,
    mode: str = "train",
    precision: str = "bf16",
    optimizer: str = "adamw",
    convention: str | None = None,
    devices: int = 1,
    accelerator: str | Accelerator | None = None,
    devices_per_node: int | None = None,
    tp: int = 1,
    pp: int = 1,
    ep: int = 1,
    sp: bool = False,
    zero: int | str = 0,
    offload: str | None = None,
    recompute: str = "none",
    flash_attention: bool = True,
    micro_batch: int = 1,
    seq_len: int | None = None,
    global_batch: int | None = None,
    interleave: int = 1,
    schedule: str = "1f1b",
    grad_dtype: str | None = None,
    dropout: bool = True,
    mask_bytes: float = MASK_BYTES,
    lora_rank: int | None = None,
    lora_targets: tuple[str, ...] | str = ("q", "k", "v", "o"),
    quant: str | None = None,
    batch: int = 1,
    context: int | None = None,
    source_len: int | None = None,
    kv_dtype: str | None = None,
    overhead_bytes: float | None = None,
    largest_layer_params: float | None = None,
    zero_init: bool = True,
) -> MemoryBreakdown:
    """Memory per device, as a `MemoryBreakdown` of named terms (see the module docstring for conventions).

    ``model`` is a `ModelSpec`, a preset name, a ``config.json`` path, or a bare parameter count (its shape
    for activations then comes from `scaling.model.shape_for_params`; the model states use the count exactly).
    ``micro_batch=0`` counts model states only. ``mode="finetune"`` is full fine-tuning, LoRA with
    ``lora_rank``, or QLoRA with ``lora_rank`` and ``quant="nf4"`` (or int4/int8). ``mode="infer"`` counts
    weights (at ``quant`` or ``precision``), the KV cache of ``batch`` sequences of ``context`` tokens at
    ``kv_dtype`` (default ``precision``), and the forward pass's transient peak. ``flash_attention`` is on by
    default (fused attention kernels, PyTorch SDPA's default): no s x s scores are stored; ``False`` gives
    Korthikanti et al. 2022's standard-attention baseline.
    """
    mode = _choice(mode, MODES, "mode")
    precision = _choice(precision, PRECISIONS, "precision", _DTYPE_ALIASES)
    conv = None if convention in (None, "", "ours", "default") else _choice(convention, CONVENTIONS, "convention")
    recompute = _choice(recompute, RECOMPUTE, "recompute")
    schedule = _choice(schedule, SCHEDULES, "pipeline schedule")
    devices = _positive_int(devices, "device count")
    tp, pp, ep = _positive_int(tp, "tensor parallel size"), _positive_int(pp, "pipeline parallel size"), _positive_int(ep, "expert parallel size")
    interleave = _positive_int(interleave, "interleave (virtual stages)")
    micro_batch = _positive_int(micro_batch, "micro-batch size", allow_zero=True)
    batch = _positive_int(batch, "batch", allow_zero=True)
    hybrid = isinstance(zero, str) and zero.strip().lower().replace("-", "_") == "hybrid_shard"
    stage = zero_stage(zero)
    offload_key = None if offload in (None, "", "none") else _choice(offload, OFFLOAD, "offload")
    if quant is not None and str(quant).lower() in ("", "none"):
        quant = None
    quant = None if quant is None else _choice(quant, QUANTS, "quantization", _DTYPE_ALIASES)
    acc = _accelerator(accelerator)
    spec, params_override, bare = _resolve_model(model)
    if spec.is_moe is False and ep > 1:
        raise ScalingError(f"expert parallel size {ep} needs a mixture-of-experts model; {spec.name} is dense")
    dp = _validate_layout(spec, devices, tp, pp, ep)
    per_node = devices_per_node or min(devices, DEVICES_PER_NODE)
    shape = _Shape.of(spec, params_override)
    name = f"{spec.name} ({shape.params:.4g} params)" if bare else spec.name
    opt_name, opt_bytes = _optimizer_bytes(optimizer, shape)
    seq = int(seq_len if seq_len is not None else spec.n_ctx)
    ctx = int(context if context is not None else spec.n_ctx)
    w_bytes = DTYPE_BYTES[precision]
    # Mixed precision keeps an fp32 master copy of the trainable weights (ZeRO §3.1; Micikevicius et al. 2018).
    master_b = 4.0 if w_bytes < 4.0 else 0.0
    g_bytes = dtype_bytes(grad_dtype, "gradient dtype") if grad_dtype else max(w_bytes, 2.0)
    if conv == "megatron" and grad_dtype is None:
        g_bytes = 4.0  # Megatron accumulates gradients in fp32 (accumulate_allreduce_grads_in_fp32)
    act_b = max(w_bytes, 1.0)
    notes: list[str] = []
    if bare:
        notes.append(
            f"model given as a parameter count: activations and KV cache use the shape rule "
            f"{spec.n_layer} layers x d_model {spec.d_model} ({spec.source})"
        )
    if offload_key in ("optimizer", "both") and stage < 1:
        raise ScalingError(f"offload {offload_key!r} needs ZeRO stage 1 or more (DeepSpeed ZeRO-Offload); got stage {stage}")
    if offload_key in ("params", "both") and stage < 3:
        raise ScalingError(f"offload {offload_key!r} needs ZeRO stage 3 (ZeRO-Infinity offloads parameters); got stage {stage}")
    inputs: dict[str, Any] = dict(
        mode=mode, precision=precision, optimizer=opt_name, convention=conv or "ours", devices=devices,
        accelerator=acc.name if acc else None, tp=tp, pp=pp, dp=dp, ep=ep, sp=bool(sp), zero=stage,
        offload=offload_key, recompute=recompute, flash_attention=bool(flash_attention), micro_batch=micro_batch,
        seq_len=seq, global_batch=global_batch, interleave=interleave, schedule=schedule, quant=quant,
        lora_rank=lora_rank, batch=batch, context=ctx, devices_per_node=per_node,
    )  # fmt: skip
    P = shape.params
    terms: list[tuple[str, float, str]] = []
    out: dict[str, float] = dict(weights=0.0, master=0.0, gradients=0.0, optimizer=0.0, activations=0.0,
                                 logits=0.0, kv=0.0, overhead=0.0, cpu=0.0)  # fmt: skip
    total_rule = "sum"
    trainable = P if mode != "infer" else 0.0

    if conv in ("course", "accelerate", "deepspeed"):
        out, terms, total_rule, trainable = _published_convention(
            conv, mode, precision, quant, shape, devices, per_node, stage, offload_key, zero_init,
            largest_layer_params, spec, overhead_bytes,
        )  # fmt: skip
    elif mode == "infer":
        wq = DTYPE_BYTES[quant] if quant else w_bytes
        kv_b = dtype_bytes(kv_dtype, "KV dtype") if kv_dtype else w_bytes
        arr = infer_memory_arrays(
            shape, tp=tp, pp=pp, batch=batch, context=ctx, weight_bytes=wq, kv_bytes=kv_b, activation_bytes=act_b,
            flash_attention=flash_attention, source_len=source_len, overhead_bytes=overhead_bytes,
            overhead_default=conv is None,
        )  # fmt: skip
        if conv == "zero":
            arr["kv"] = arr["activations"] = 0.0
        out.update(weights=float(arr["weights"]), kv=float(arr["kv"]), activations=float(arr["activations"]))
        terms += [
            ("weights", out["weights"], f"{wq:g} B/param ({quant or precision}) / (TP {tp} x PP {pp}) [first stage]"),
            ("kv_cache", out["kv"], f"2 x layers x {spec.kv_heads} KV heads ({spec.attention_kind}) x d_head {spec.head_dim} x {kv_b:g} B x batch {batch} x context {ctx}"
             + (" + cross-attention K/V over the source" if spec.arch == "encoder-decoder" else "")),
            ("activations", out["activations"], "forward transient peak: 2·e·sbh + max(scores e·a·s²·b, FFN (2|3)·e·s·b·d_ff)/t + fp32 last-token logits"),
        ]  # fmt: skip
        out["overhead"] = float(arr["overhead"])
    else:
        lora_pp = 0.0
        frozen_b = None
        if mode == "finetune" and lora_rank:
            rank = _positive_int(lora_rank, "LoRA rank")
            targets = _lora_targets(lora_targets, spec)
            lora_pp = rank * sum(shape.lora_per_layer[t] for t in targets)
            frozen_b = DTYPE_BYTES[quant] if quant else w_bytes
            trainable = lora_pp * shape.layers
            inputs["lora_targets"] = list(targets)
        elif quant:
            raise ScalingError(f"quantization {quant!r} in {mode} mode needs LoRA (QLoRA: --lora-rank with --quant nf4)")
        m = None
        if global_batch is not None:
            gb = _positive_int(global_batch, "global batch")
            if micro_batch and gb % (dp * micro_batch):
                raise ScalingError(f"global batch {gb} is not divisible by DP x micro-batch = {dp} x {micro_batch}")
            m = gb // (dp * micro_batch) if micro_batch else None
        arr = train_memory_arrays(
            shape, tp=tp, pp=pp, dp=dp, ep=ep, zero=stage, hybrid_shard=hybrid, devices_per_node=per_node,
            offload_optimizer=offload_key in ("optimizer", "both"), offload_params=offload_key in ("params", "both"),
            recompute=RECOMPUTE_CODE[recompute], sp=sp, flash_attention=flash_attention, micro_batch=micro_batch,
            seq_len=seq, interleave=interleave, num_micro_batches=m, schedule=schedule, weight_bytes=w_bytes,
            master_bytes=master_b, grad_bytes=g_bytes, optimizer_state_bytes=opt_bytes, activation_bytes=act_b,
            dropout=dropout, mask_bytes=mask_bytes, lora_params_per_layer=lora_pp, frozen_layer_weight_bytes=frozen_b,
            overhead_bytes=overhead_bytes, overhead_default=conv is None,
            count_activations=conv != "zero" and micro_batch > 0, count_gather_buffer=conv != "zero",
        )  # fmt: skip
        for key in ("weights", "master", "gradients", "optimizer", "activations", "logits", "overhead", "cpu"):
            out[key] = float(arr[key])
        shard_txt = {0: "unsharded", 1: f"master+optimizer / DP {dp}", 2: f"grads+master+optimizer / DP {dp}",
                     3: f"all states / DP {dp}"}[stage]  # fmt: skip
        src = {None: "ZeRO §3.1 mixed precision", "zero": "ZeRO paper Fig. 1 (K = 12)", "megatron": "Megatron theoretical_memory_usage.py (18 B/param)"}[conv]
        wdesc = f"{w_bytes:g} B/param ({precision})"
        if lora_pp:
            wdesc = f"frozen base layers {frozen_b:g} B/param ({quant or precision}), embeddings {w_bytes:g}, adapters {w_bytes:g}"
        live_txt = " + one gathered layer (ZeRO-3 all-gather)" if stage == 3 and conv != "zero" else ""
        moved = " (offloaded to CPU)" if offload_key in ("optimizer", "both") else ""
        terms += [
            ("weights", out["weights"], f"{wdesc} / (TP {tp} x PP {pp}){' / DP (ZeRO-3)' if stage == 3 else ''}{live_txt}"
             + (" (offloaded to CPU)" if offload_key in ("params", "both") else "") + f" [{src}]"),
            ("master_weights", out["master"], f"{master_b:g} B/trainable param (fp32 copy){moved}; {shard_txt}"),
            ("gradients", out["gradients"], f"{g_bytes:g} B/trainable param{moved}; {'/ DP' if stage >= 2 else 'unsharded'}"),
            ("optimizer", out["optimizer"], f"{opt_bytes:.4g} B/trainable param ({opt_name}){moved}; {'/ DP' if stage >= 1 else 'unsharded'}"),
            ("activations", out["activations"] - out["logits"],
             f"Korthikanti et al. 2022 Table 2 per layer ({recompute} recompute{', SP' if sp else ''}{', FlashAttention' if flash_attention else ''}, "
             f"{act_b:g} B values) x {math.ceil(shape.layers / pp)} layers x {float(arr['in_flight']):g} micro-batch(es) in flight"
             + (f" x interleave penalty (v={interleave})" if interleave > 1 else "")),
            ("logits", out["logits"], "fp32 logits 4·s·b·V/t (Korthikanti §4.3); on the last stage when PP > 1"),
        ]  # fmt: skip
        if conv == "zero" or micro_batch == 0:
            terms = [t for t in terms if t[0] not in ("activations", "logits")]
            notes.append("model states only (ZeRO's accounting)" if conv == "zero" else "micro_batch=0: model states only")
        if offload_key:
            notes.append(f"CPU: offloaded states x {per_node} devices per node x {CPU_BUFFER_FACTOR} buffer (DeepSpeed)")
        out["overhead"] = float(arr["overhead"])
    if total_rule == "sum":
        _, overhead_txt = _overhead(0.0, overhead_bytes, conv is None)
        terms.append(("overhead", out["overhead"], overhead_txt))
    total = (
        max(v for _, v, _ in terms) if total_rule == "max"
        else out["weights"] + out["master"] + out["gradients"] + out["optimizer"] + out["activations"] + out["kv"] + out["overhead"]
    )  # fmt: skip
    if total_rule == "max":
        notes.append("accelerate reports the largest of these terms, not their sum")
    capacity = acc.memory_bytes if acc else None
    return MemoryBreakdown(
        weights_bytes=out["weights"], master_weights_bytes=out["master"], gradients_bytes=out["gradients"],
        optimizer_bytes=out["optimizer"], activations_bytes=out["activations"], logits_bytes=out["logits"],
        kv_cache_bytes=out["kv"], overhead_bytes=out["overhead"], total_bytes=float(total), cpu_bytes=out["cpu"],
        fits=None if capacity is None else bool(total <= capacity), capacity_bytes=capacity,
        headroom_bytes=None if capacity is None else float(capacity - total), terms=terms, model=name, mode=mode,
        convention=conv or "ours", params=P, trainable_params=float(trainable), inputs=inputs, notes=notes,
    )  # fmt: skip


def _lora_targets(targets: tuple[str, ...] | str, spec: ModelSpec) -> tuple[str, ...]:
    if isinstance(targets, str):
        targets = tuple(t for t in targets.replace(";", ",").split(",") if t.strip())
    names = []
    for t in targets:
        key = t.strip().lower().removesuffix("_proj")
        if key in ("all", "all-linear", "all_linear"):
            names.extend(LORA_TARGETS)
            continue
        names.append(_choice(key, LORA_TARGETS, "LoRA target", {"query": "q", "key": "k", "value": "v", "out": "o"}))
    return tuple(dict.fromkeys(n for n in names if n != "gate" or spec.gated_ffn))


def _published_convention(
    conv: str, mode: str, precision: str, quant: str | None, shape: _Shape, devices: int, per_node: int, stage: int,
    offload: str | None, zero_init: bool, largest_layer: float | None, spec: ModelSpec, overhead_bytes: float | None,
) -> tuple[dict[str, float], list[tuple[str, float, str]], str, float]:
    P = shape.params
    out = dict(weights=0.0, master=0.0, gradients=0.0, optimizer=0.0, activations=0.0, logits=0.0, kv=0.0,
               overhead=float(overhead_bytes or 0.0), cpu=0.0)  # fmt: skip
    terms: list[tuple[str, float, str]] = []
    if conv == "course":
        store = DTYPE_BYTES[quant or precision]
        out["weights"] = P * store  # deeplearning.ai: 1B params x 4 B = 4 GB at fp32 (2 GB fp16, 1 GB int8)
        terms.append(("weights", out["weights"], f"{store:g} B/param ({quant or precision}) [deeplearning.ai course]"))
        if mode != "infer":
            out["optimizer"] = 8.0 * P  # course: Adam optimizer, 2 states, +8 B/param
            out["gradients"] = 4.0 * P  # course: gradients +4 B/param
            out["activations"] = 8.0 * P  # course: activations and temporary memory, +8 B/param (high-end)
            terms += [
                ("optimizer", out["optimizer"], "8 B/param (Adam, two fp32 states) [course]"),
                ("gradients", out["gradients"], "4 B/param [course]"),
                ("activations", out["activations"], "8 B/param activations and temporaries [course: +20 B/param in all]"),
            ]
        return out, terms, "sum", (P if mode != "infer" else 0.0)
    if conv == "accelerate":
        fp32 = 4.0 * P
        out["weights"] = P * DTYPE_BYTES[quant or precision]  # accelerate: fp32 size / 2 (fp16), / 4 (int8), / 8 (int4)
        if mode == "infer":
            terms.append(("weights", out["weights"], f"{quant or precision}: parameter bytes [accelerate estimate-memory]"))
            return out, terms, "sum", 0.0
        if precision in ("fp32", "tf32"):
            model_b, grads_b, optim_b, step_b = fp32, fp32, 2 * fp32, 4 * fp32  # accelerate estimate_training_usage
        else:
            model_b, grads_b, optim_b = fp32, fp32 + fp32 / 2, 2 * fp32  # mixed precision: fp32 + 16-bit copies
            step_b = optim_b
        out.update(weights=model_b, gradients=grads_b, optimizer=optim_b)
        terms += [
            ("weights", model_b, "model: fp32 size [accelerate estimate_training_usage]"),
            ("gradients", grads_b, "gradients: fp32 size" + ("" if precision in ("fp32", "tf32") else " x 1.5")),
            ("optimizer", optim_b, "optimizer: 2 x fp32 size (Adam)"),
            ("step", step_b, "step: 4 x fp32 size" if precision in ("fp32", "tf32") else "step: = optimizer"),
        ]
        return out, terms, "max", P
    # DeepSpeed (docs/code-docs/source/memory.rst; stage_1_and_2.py / stage3.py estimators), model states only
    if stage not in (2, 3):
        raise ScalingError(f"the deepspeed convention has estimators for ZeRO stages 2 and 3 only; got stage {stage}")
    ll = float(largest_layer) if largest_layer is not None else shape.largest_layer_params
    nodes = max(devices // per_node, 1)
    gpus_factor = 1.0 / nodes
    buf = CPU_BUFFER_FACTOR
    off_opt, off_par = offload in ("optimizer", "both"), offload in ("params", "both")
    if stage == 2:
        if off_opt:
            gpu = 2.0 * P  # estimate_zero2: fp16 params only
            cpu = P * max(4 * devices, 16) * buf
        else:
            gpu = 4.0 * P + int(16.0 * P / devices)
            cpu = P * 4 * per_node * buf
        out["weights"] = gpu
        terms.append(("model_states", gpu, "ZeRO-2: 2P with offload_optimizer, else 4P + 16P/total_gpus [DeepSpeed memory.rst]"))
    else:
        llm = 4.0 * ll  # largest_layer_memory = 4 x largest_layer_params
        if off_par and off_opt:
            gpu = llm
            cpu = P * (18 * gpus_factor if zero_init else max(4 * per_node, 18 * gpus_factor)) * buf
        elif off_opt:
            gpu = llm + int(2.0 * P / devices)
            cpu = P * (16 * gpus_factor if zero_init else max(4 * per_node, 16 * gpus_factor)) * buf
        elif off_par:
            raise ScalingError("the deepspeed convention offloads parameters only together with the optimizer (--offload both)")
        else:
            gpu = llm + int(18.0 * P / devices)
            cpu = (ll if zero_init else P) * 4 * per_node * buf
        out["weights"] = gpu
        terms.append(("model_states", gpu, "ZeRO-3: 4·largest_layer + (18P | 2P | 0)/total_gpus by offload [DeepSpeed memory.rst]"))
    out["cpu"] = float(int(cpu))
    terms.append(("cpu_per_node", out["cpu"], f"host memory per node, x{buf} buffer factor [DeepSpeed]"))
    # model states are not split into weights/gradients/optimizer by DeepSpeed's estimator; reported as weights
    return out, [t for t in terms if t[0] != "cpu_per_node"], "sum", P


# ---------------------------------------------------------------------------------------- inference
@dataclass(frozen=True)
class InferenceLimits:
    """The largest batch at ``context`` and the largest context at ``batch`` that fit one device."""

    max_batch: int
    at_context: int
    max_context: int
    at_batch: int
    capacity_bytes: float
    model: str
    accelerator: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def max_batch_and_context(
    model: ModelSpec | str | float,
    accelerator: str | Accelerator,
    *,
    context: int | None = None,
    batch: int = 1,
    tp: int = 1,
    pp: int = 1,
    precision: str = "bf16",
    quant: str | None = None,
    kv_dtype: str | None = None,
    flash_attention: bool = True,
    overhead_bytes: float | None = None,
    limit: int = 2**24,
) -> InferenceLimits:
    """Largest batch (at ``context``, default the model's) and largest context (at ``batch``) that fit.

    Both are found by bisection on the same inference formula as `estimate_memory(mode="infer")`; 0 means
    not even one sequence (or one token) fits. FlashAttention is on by default (serving engines use it).
    """
    acc = get_accelerator(accelerator)
    spec, override, _ = _resolve_model(model)
    _validate_layout(spec, tp * pp, tp, pp, 1)
    shape = _Shape.of(spec, override)
    precision = _choice(precision, PRECISIONS, "precision", _DTYPE_ALIASES)
    wq = dtype_bytes(quant, "quantization") if quant else DTYPE_BYTES[precision]
    kv_b = dtype_bytes(kv_dtype, "KV dtype") if kv_dtype else DTYPE_BYTES[precision]
    ctx = int(context if context is not None else spec.n_ctx)

    def total(b: Any, c: Any) -> Any:
        return infer_memory_arrays(
            shape, tp=tp, pp=pp, batch=b, context=c, weight_bytes=wq, kv_bytes=kv_b,
            activation_bytes=DTYPE_BYTES[precision], flash_attention=flash_attention, overhead_bytes=overhead_bytes,
        )["total"]  # fmt: skip

    def largest(f) -> int:
        lo, hi = 0, 1
        while hi <= limit and f(hi) <= acc.memory_bytes:
            lo, hi = hi, hi * 2
        hi = min(hi, limit + 1)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if f(mid) <= acc.memory_bytes else (lo, mid)
        return lo

    return InferenceLimits(
        max_batch=largest(lambda b: total(b, ctx)), at_context=ctx, max_context=largest(lambda c: total(batch, c)),
        at_batch=batch, capacity_bytes=acc.memory_bytes, model=spec.name, accelerator=acc.name,
    )  # fmt: skip
