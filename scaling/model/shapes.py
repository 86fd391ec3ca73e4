"""Shape rules: a standard decoder architecture for a parameter count (the plan's model for a budget)."""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

from scaling.errors import ScalingError
from scaling.model.spec import SIZE_LIMITS, ModelSpec

COUNT_TOLERANCE = 0.02  # relative error of a shape's count against its target that the rule keeps to


def shape_for_params(
    params: float,
    *,
    vocab_size: int = 32000,
    n_ctx: int = 4096,
    style: str = "llama",
    name: str | None = None,
) -> ModelSpec:
    """A standard decoder shape whose exact total parameter count is close to ``params``.

    Shape rules (documented, deterministic):

    * ``llama`` (default): pre-norm RMSNorm, RoPE, SwiGLU with d_ff = 8/3 d_model rounded up to a multiple of
      256, no biases, untied embeddings; grouped-query attention with 8 KV heads once there are 32 heads or
      more (Llama 2 70B / Llama 3);
    * ``gpt``: GPT-2/GPT-3 style, LayerNorm, learned positions, GELU FFN 4x, biases, tied embeddings.

    Heads (`_heads`, both styles): a multiple of 8, so the attention and KV heads split over tensor-parallel
    sizes 1, 2, 4 and 8 (one node) when the model is served; d_head = 128 from d_model 4096 (Llama 2/3), 64
    below it (Llama 3.2 1B: 32 heads of 64), and 8 heads of d_model / 8 below d_model 1024. Depth and width
    are chosen together: d_model is a multiple of 64 below 512, then 512, 768, a multiple of 512 below 4096
    and of 1024 above, and the aspect ratio d_model / n_layer is kept near 128 (Llama 2 7B/13B: 128, Llama 3
    405B: 130; Kaplan et al. 2020 found the loss flat over a wide band of aspect ratios), trading off the
    aspect ratio against the count's error (within `COUNT_TOLERANCE`, 2%, of ``params`` whenever a shape
    can be).
    """
    if not params or not math.isfinite(params) or params <= 0:
        raise ScalingError(f"invalid parameter count {params!r}: must be a positive number")
    if style not in ("llama", "gpt"):
        raise ScalingError(f"unknown shape style {style!r}: expected llama or gpt")
    best: tuple[tuple[bool, float], int, int] | None = None
    target_ratio = 128.0 if params >= 1e9 else 64.0
    for d, per_layer, fixed in _widths(vocab_size, n_ctx, style):
        layers = round((params - fixed) / per_layer)
        if layers > SIZE_LIMITS["layers"]:
            continue
        if layers < 1:
            if fixed > params * 1.5:
                break  # the embeddings alone outgrow the count, and they grow with the width
            continue
        error = abs(math.log((fixed + layers * per_layer) / params))
        aspect = abs(math.log((d / layers) / target_ratio))
        score = (error > COUNT_TOLERANCE, error * 20.0 + aspect)  # within the tolerance first
        if best is None or score < best[0]:
            best = (score, d, layers)
    if best is None:
        smaller = ", e.g. --vocab 256" if vocab_size > 256 else ""
        raise ScalingError(
            f"no standard shape has about {params:.3g} parameters with vocabulary {vocab_size}: the "
            f"smallest has {smallest_shape(vocab_size, n_ctx, style).params:,} (give a smaller vocabulary"
            f"{smaller}, or a larger budget)"
        )
    return _shape(best[1], best[2], vocab_size, n_ctx, style, name)


def smallest_shape(vocab_size: int = 32000, n_ctx: int = 4096, style: str = "llama") -> ModelSpec:
    """The smallest standard shape: one layer of the narrowest width (64)."""
    return _shape(64, 1, vocab_size, n_ctx, style, None)


@lru_cache(maxsize=32)
def _widths(vocab: int, n_ctx: int, style: str) -> tuple[tuple[int, int, int], ...]:
    """(d_model, parameters per layer, parameters outside the layers) for every width the shape rule allows,
    in search order. A decoder's count is linear in its depth, so these two numbers score every depth; they
    do not depend on the target count, so a plan that asks for several counts builds them once."""
    out = []
    for d in (*range(64, 512, 64), 512, 768, *range(1024, 4096, 512), *range(4096, 65536 + 1, 1024)):
        one_layer = _shape(d, 1, vocab, n_ctx, style, None)
        per_layer = one_layer.decoder_layer_params()
        out.append((d, per_layer, one_layer.params - per_layer))
    return tuple(out)


def _heads(d: int) -> tuple[int, int]:
    """(heads, d_head) of the shape rule's width ``d``: a multiple of 8 heads, so tensor-parallel sizes
    1, 2, 4 and 8 divide them (serving engines require TP to divide the heads); d_head 128 from d_model 4096
    (Llama 2/3), 64 below it (Llama 3.2 1B: 2048 = 32 x 64), 8 heads of d / 8 below 1024."""
    if d < 1024:
        return 8, d // 8
    d_head = 64 if d < 4096 else 128
    return d // d_head, d_head


def _shape(d: int, layers: int, vocab: int, n_ctx: int, style: str, name: str | None) -> ModelSpec:
    n_head, d_head = _heads(d)
    if style == "gpt":
        return ModelSpec(
            n_layer=layers,
            d_model=d,
            n_head=n_head,
            d_head=d_head,
            d_ff=4 * d,
            vocab_size=vocab,
            n_ctx=n_ctx,
            qkv_bias=True,
            out_bias=True,
            mlp_bias=True,
            name=name or "gpt-shape",
            source="shape rule: GPT-2/GPT-3 style (scaling.model.shape_for_params)",
        )
    kv = 8 if n_head >= 32 else n_head
    d_ff = 256 * math.ceil(8 * d / 3 / 256)
    return ModelSpec(
        n_layer=layers,
        d_model=d,
        n_head=n_head,
        n_kv_head=kv,
        d_head=d_head,
        d_ff=d_ff,
        gated_ffn=True,
        activation="silu",
        vocab_size=vocab,
        n_ctx=n_ctx,
        position="rope",
        norm="rmsnorm",
        tied_embeddings=False,
        name=name or "llama-shape",
        source="shape rule: Llama style (scaling.model.shape_for_params)",
    )


def moe_shape_for_params(
    active_params: float,
    *,
    expansion: float,
    granularity: int = 1,
    vocab_size: int = 32000,
    n_ctx: int = 4096,
    style: str = "llama",
    name: str | None = None,
) -> ModelSpec:
    """The mixture-of-experts counterpart of `shape_for_params`: the dense shape whose count is close to
    ``active_params``, every FFN replaced by ``expansion`` x ``granularity`` routed experts of width
    d_ff / ``granularity`` (rounded to a multiple of 64), ``granularity`` of them per token (Krajewski et al.
    2024's fine-grained experts: the active FFN stays the dense one, the total grows ``expansion``-fold)."""
    dense = shape_for_params(active_params, vocab_size=vocab_size, n_ctx=n_ctx, style=style)
    granularity = int(granularity)
    experts = round(float(expansion) * granularity)
    if granularity < 1 or experts < max(2, granularity):
        raise ScalingError(
            f"invalid MoE shape: expansion {expansion:g} x granularity {granularity} must give 2 or more "
            "experts, at least the granularity"
        )
    width = max(64, 64 * round(dense.ffn_dim / granularity / 64))

    return replace(
        dense,
        n_experts=experts,
        experts_per_token=granularity,
        d_ff_expert=width,
        name=name or f"moe-shape-E{expansion:g}-G{granularity}",
        source=f"{dense.source}; MoE: {experts} experts of width {width}, top-{granularity} "
        "(scaling.model.moe_shape_for_params)",
    )
