"""The parameter counts the memory formulas read from a model (per layer, per pipeline stage, per adapter),
computed once: `ModelShape` and `resolve_model`. A standard architecture for a size is
`scaling.model.shapes`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scaling.errors import ScalingError
from scaling.memory.stages import stage_params
from scaling.model import ModelSpec, load_model, shape_for_params

MAX_PARAMS = 1e16  # far beyond any model trained; keeps every byte count finite in float64


@dataclass(frozen=True)
class ModelShape:
    """Parameter counts per layer, per stage and per adapter that the memory formulas read from a spec."""

    spec: ModelSpec
    params: float  # total (a bare count given by the user replaces the spec's)
    layers: int
    layer_params: float  # average dense (non-expert) params per layer
    expert_layer_params: float  # routed-expert params per layer, averaged over the layers (MoE), else 0
    first_stage_extra: float  # embeddings held by the first pipeline stage
    adafactor_ratio: float  # Adafactor state elements per parameter
    largest_layer_params: float
    lora_per_layer: dict[str, float] = field(default_factory=dict)
    # Megatron's buckets (theoretical_memory_usage.py, after its 2026 expert-parallel fix), per layer kind:
    # tensor-parallel (attention, dense FFN, shared experts), replicated (norms, router, shared-expert gate)
    # and routed experts (split over ETP x EP); the first ``leading_dense`` layers are dense (DeepSeek's k).
    leading_dense: int = 0
    dense_layer_sharded: float = 0.0
    dense_layer_replicated: float = 0.0
    moe_layer_sharded: float = 0.0
    moe_layer_replicated: float = 0.0
    moe_layer_experts: float = 0.0
    first_stage_sharded: float = 0.0  # embeddings (vocab-parallel over TP)
    last_stage_sharded: float = 0.0  # LM head (or, tied with PP > 1, the embedding's copy on the last stage)
    last_stage_replicated: float = 0.0  # final norms, pooler
    tied_head: float = 0.0  # the embedding a tied LM head shares: copied onto the last stage when PP > 1

    @classmethod
    def of(cls, spec: ModelSpec, params: float | None = None) -> ModelShape:
        layers = spec.total_layers
        expert = spec.routed_expert_params / layers  # averaged over the layers: the first k may be dense
        b = spec.param_breakdown()
        dense_layer = (b["layers"] - expert * layers) / layers
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
        ratio = (per_layer_factored * layers + spec.vocab_size + d) / max(
            per_layer_elems * layers + spec.vocab_size * d, 1
        )
        # attention blocks per layer, averaged: an encoder-decoder's decoder layers also hold cross-attention,
        # its encoder layers do not (T5: (24 + 2 x 24) / 48 = 1.5)
        attn_blocks = (
            spec.encoder_layers + spec.decoder_layers * (2 if spec.arch == "encoder-decoder" else 1)
        ) / (max(layers, 1))
        lora = {  # LoRA adapter params per layer per unit rank: r x (d_in + d_out) (Hu et al. 2021)
            "q": (d + q) * attn_blocks,
            "k": (d + kv) * attn_blocks,
            "v": (d + kv) * attn_blocks,
            "o": (q + d) * attn_blocks,
            "gate": (d + f) * spec.n_experts if spec.gated_ffn else 0.0,
            "up": (d + f) * spec.n_experts,
            "down": (f + d) * spec.n_experts,
        }
        buckets = _layer_buckets(
            spec, b, scale if params is not None and params != float(spec.params) else 1.0
        )
        return cls(
            **buckets,
            spec=spec,
            params=total,
            layers=layers,
            layer_params=dense_layer,
            expert_layer_params=expert,
            first_stage_extra=float(embed),
            adafactor_ratio=ratio,
            largest_layer_params=float(spec.largest_layer_params),
            lora_per_layer=lora,
        )

    def stage_params(self, tp: Any, pp: Any, ep: Any = 1, etp: Any = None) -> tuple[Any, Any]:
        """(non-expert, routed-expert) params on one device of the first pipeline stage
        (`scaling.memory.stages.stage_params`; ``etp`` None is TP)."""
        return stage_params(self, 0, tp=tp, pp=pp, ep=ep, etp=etp)


def _layer_buckets(spec: ModelSpec, b: dict[str, int], scale: float) -> dict[str, Any]:
    """`ModelShape`'s per-layer-kind buckets (a bare count's ``scale`` applied to the layers)."""
    norms = spec.norms_per_layer * spec.norm_params() if spec.arch != "encoder-decoder" else 0.0
    if spec.is_moe:
        cross = spec.arch == "encoder-decoder"
        dense_layer = spec._layer_params(spec.ffn_params(), cross=cross)
        router = spec.d_model * spec.n_experts + (spec.d_model if spec.shared_expert_gate else 0)
        experts = spec.n_experts * spec.expert_params()
        # what is left of a MoE layer is attention and the shared experts: split over TP
        moe_sharded = spec.decoder_layer_params() - experts - router - norms
        moe_replicated = router + norms
    else:
        dense_layer = b["layers"] / spec.total_layers
        moe_sharded = moe_replicated = experts = 0.0
    project = b["embedding_projection"] / 2.0  # OPT's project_in on the first stage, project_out on the last
    return dict(
        first_stage_sharded=float(b["token_embedding"] + b["position_embedding"] + b["token_type_embedding"])
        + project,
        leading_dense=spec.dense_layers if spec.is_moe else spec.total_layers,
        dense_layer_sharded=(dense_layer - norms) * scale,
        dense_layer_replicated=norms * scale,
        moe_layer_sharded=moe_sharded * scale,
        moe_layer_replicated=moe_replicated * scale,
        moe_layer_experts=experts * scale,
        last_stage_sharded=float(b["lm_head"] * scale + project),
        last_stage_replicated=float(b["final_norms"] + b["pooler"] + b["relative_attention_bias"]) * scale,
        tied_head=float(b["token_embedding"]) if spec.tied_embeddings else 0.0,
    )


def resolve_model(model: ModelSpec | str | float | int) -> tuple[ModelSpec, float | None, bool]:
    """(spec, params override, is_bare_count) for a spec, a preset name, a config.json or a bare count."""
    if isinstance(model, (int, float, np.integer, np.floating)) and not isinstance(model, bool):
        if not math.isfinite(float(model)) or model <= 0 or model > MAX_PARAMS:
            raise ScalingError(
                f"invalid parameter count {model!r}: must be a positive number of at most {MAX_PARAMS:.0e}"
            )
        return shape_for_params(float(model)), float(model), True
    return load_model(model), None, False
