"""The parameter counts the memory formulas read from a model (per layer, per pipeline stage, per adapter),
computed once: `ModelShape` and `resolve_model`. A standard architecture for a size is
`scaling.model.shapes`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scaling.errors import ScalingError
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
        return cls(
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

    def stage_params(self, tp: Any, pp: Any, ep: Any = 1) -> tuple[Any, Any]:
        """(dense, expert) params on one device of the first pipeline stage;
        norms are counted as split by t."""
        tp, pp, ep = (np.asarray(x, dtype=float) for x in (tp, pp, ep))
        per_stage = np.ceil(self.layers / pp)
        dense_total = self.params - self.expert_layer_params * self.layers
        dense = np.where(pp == 1, dense_total, per_stage * self.layer_params + self.first_stage_extra) / tp
        expert = per_stage * self.expert_layer_params / (tp * ep)
        return dense, expert


def resolve_model(model: ModelSpec | str | float | int) -> tuple[ModelSpec, float | None, bool]:
    """(spec, params override, is_bare_count) for a spec, a preset name, a config.json or a bare count."""
    if isinstance(model, (int, float, np.integer, np.floating)) and not isinstance(model, bool):
        if not math.isfinite(float(model)) or model <= 0 or model > MAX_PARAMS:
            raise ScalingError(
                f"invalid parameter count {model!r}: must be a positive number of at most {MAX_PARAMS:.0e}"
            )
        return shape_for_params(float(model)), float(model), True
    return load_model(model), None, False
