"""Activations saved for the backward pass, per transformer layer (Korthikanti et al. 2022, Table 2)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scaling import checks

RECOMPUTE = ("none", "selective", "full")
RECOMPUTE_CODE = {"none": 0, "selective": 1, "full": 2}
MASK_BYTES = 1.0  # dropout masks are 1 byte per element (Korthikanti et al. 2022 §4.1)
LOGITS_BYTES = 4.0  # the loss reads fp32 logits (Korthikanti et al. 2022 §4.3: 4sbv/t)


def recompute_name(value: Any) -> str:
    """A checked recompute level: none, selective or full."""
    return checks.choice(value, RECOMPUTE, "recompute")


def recompute_code(recompute: Any) -> Any:
    """A recompute level as its code 0/1/2 (none/selective/full); arrays of codes pass through."""
    if isinstance(recompute, str):
        return RECOMPUTE_CODE[recompute_name(recompute)]
    return np.asarray(recompute)


def attention_ratios(spec: Any) -> dict[str, float]:
    """`activation_bytes_per_layer`'s attention widths for ``spec``, over d_model: Q (n_head x d_head), K
    (kv heads x d_head), V (kv heads x the value head width), the output projection's input (n_head x the
    value head width) and, for multi-head latent attention (DeepSeek-V2 §2.1), the latents: the Q
    down-projection's output and its RMSNorm's output (2 x q_lora_rank, when Q has a bottleneck), and the KV
    down-projection's output with the shared rotary key and its RMSNorm's output
    (2 x kv_lora_rank + qk_rope_head_dim)."""
    h = spec.d_model
    latent = 0.0
    if spec.is_mla:
        latent = 2.0 * spec.q_lora_rank + 2.0 * spec.kv_lora_rank + spec.qk_rope_head_dim
    return dict(
        attn_ratio=spec.d_attn / h,
        kv_ratio=spec.d_kv / h,
        v_ratio=spec.kv_heads * spec.value_head_dim / h,
        o_ratio=spec.n_head * spec.value_head_dim / h,
        latent=latent / h,
    )


def moe_layer_ratios(spec: Any) -> dict[str, float]:
    """`activation_bytes_per_layer`'s FFN arguments for one MoE layer of ``spec``: its routed experts' width
    (``d_ff_expert``, not the dense ``d_ff``) once per routed expert, the shared experts' width once, and the
    routing's saved tensors."""
    k, h = spec.top_k, spec.d_model
    return dict(
        ffn_ratio=(k * spec.expert_ffn_dim + spec.d_ff_shared) / h,
        dispatch=2.0 * k,
        router=spec.n_experts / h,
    )


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
    dispatch: Any = 0.0,
    router: Any = 0.0,
    v_ratio: Any = None,
    o_ratio: Any = None,
    latent: Any = 0.0,
) -> Any:
    """Bytes saved for the backward pass by one transformer layer on one tensor-parallel rank.

    Korthikanti et al. 2022, Table 2 at ``bytes_per_value=2``, d_ff = 4h, MHA, dropout: sbh(34 + 5as/h) with
    no parallelism, sbh(10 + 24/t + 5as/(ht)) with TP, sbh(34/t + 5as/(ht)) with TP + SP, the s^2 term dropped
    by selective recompute, and 2sbh (/t with SP) with full recompute. Generalised term by term (their §4.1):
    ``ffn_ratio`` = d_ff/h, ``kv_ratio`` = d_kv/h (GQA/MQA), ``attn_ratio`` = d_attn/h, a ``gated`` FFN (3
    d_ff-wide tensors: gate|up and the product, as fused SwiGLU saves), ``experts_per_token`` (MoE: a token's
    FFN activations once per routed expert) and FlashAttention (no s^2 tensors: an fp32 log-sum-exp per row).
    ``mask_bytes``: CUDA's fused dropout saves a 1-byte mask (the paper's count); PyTorch's CPU dropout saves
    the mask at the activation dtype. A MoE layer (`moe_layer_ratios`) also saves, per token, ``dispatch`` x h
    values (each routed expert's gathered input and its output before the gate weight: 2 per routed
    expert) and ``router`` x h router probabilities (n_experts / h). ``v_ratio`` and ``o_ratio`` are
    V's and the output projection's input widths over h where they differ from K's and Q's (MLA: value heads
    narrower than query heads; default ``kv_ratio`` and ``attn_ratio``), and ``latent`` x h the values MLA
    saves around its low-rank latents (`attention_ratios`).
    Every argument broadcasts (numpy arrays); ``recompute`` is a name or an array of codes 0/1/2
    (none/selective/full); ``sp`` and ``flash_attention`` may be boolean arrays.
    """
    e = bytes_per_value
    s, b, h, a, t = (np.asarray(x, dtype=float) for x in (s, b, h, a, t))
    sp = np.asarray(sp, dtype=bool)
    flash = np.asarray(flash_attention, dtype=bool)
    code = recompute_code(recompute)
    mask = mask_bytes if dropout else 0.0
    sbh = s * b * h
    # Outside the tensor-parallel region (split by t only with sequence parallelism), per sbh:
    outside = (
        2 * e  # two LayerNorm inputs (Korthikanti §4.1: 4sbh)
        + e  # QKV projection input (LN output)
        + e  # MLP first-linear input
        + 2 * mask  # attention-output and MLP-output dropout masks
        + e * (np.asarray(dispatch, dtype=float) + np.asarray(router, dtype=float))  # MoE routing (else 0)
        + e * np.asarray(latent, dtype=float)  # MLA's latents (else 0)
    )
    # Inside the tensor-parallel region (split by t), per sbh:
    mlp_width = (3.0 if gated else 2.0) * ffn_ratio * experts_per_token
    inside = (
        e * attn_ratio  # Q
        + e * kv_ratio  # K
        + e * (kv_ratio if v_ratio is None else np.asarray(v_ratio, dtype=float))  # V
        + e
        * (
            attn_ratio if o_ratio is None else np.asarray(o_ratio, dtype=float)
        )  # attention-output projection input
        + e * mlp_width  # activation input and output (GeLU: 8sbh at d_ff = 4h)
    )
    # The s^2 core (per a*s^2*b): softmax output + dropout mask + dropout output (Korthikanti: 5as^2b)
    core = np.where(
        flash, 4.0 * a * s * b, (e + (mask + e if dropout else 0.0)) * a * s * s * b
    )  # flash: fp32 LSE per row
    divide_outside = np.where(sp, t, 1.0)
    per_layer = sbh * outside / divide_outside + sbh * inside / t
    per_layer = per_layer + np.where(code >= 1, 0.0, core / t)  # selective recompute drops the s^2 core
    full = e * sbh / divide_outside  # full recompute keeps the layer input (Korthikanti: 2sbh)
    return np.where(code == 2, full, per_layer)
