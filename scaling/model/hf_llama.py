"""Llama-style decoders read from a Hugging Face ``config.json``: one reader (`decoder`) with a few traits per
family (``DECODER_TRAITS``), and the generic rules (`generic`) for an unknown ``model_type`` with the standard
keys, which list every assumption they take.
"""

from __future__ import annotations

from typing import Any

from scaling.errors import ScalingError
from scaling.model.hf_keys import Config, common_fields, rotary_fraction
from scaling.model.spec import ModelSpec

# Llama-style decoders: RMSNorm, RoPE, gated FFN, no biases, untied, pre-norm, two norms per layer, unless a
# family's trait says otherwise (what transformers' modeling file for that family builds).
DECODER_TRAITS: dict[str, dict[str, Any]] = {
    "llama": {},
    "mistral": {},
    "mixtral": {},
    "yi": {},
    "internlm": {},
    "granite": {},
    "phi3": {},
    "deepseek_v2": {},
    "deepseek_v3": {},
    "qwen2": {"qkv_bias": True},
    "qwen2_moe": {"qkv_bias": True, "shared_expert_gate": True},
    "qwen3": {"qk_norm": "head"},
    "qwen3_moe": {"qk_norm": "head"},
    "gemma": {"tied": True},
    "gemma2": {"tied": True, "norms_per_layer": 4, "norm_placement": "sandwich", "global_every": 2},
    "gemma3_text": {
        "tied": True,
        "norms_per_layer": 4,
        "norm_placement": "sandwich",
        "qk_norm": "head",
        "global_every": 6,
    },
    "olmo": {"norm": "nonparametric"},  # OLMo 1: LayerNorm without any parameters
    "olmo2": {"qk_norm": "full", "norm_placement": "post"},
    "olmoe": {"qk_norm": "full"},
    "cohere": {"norm": "layernorm-nobias", "norms_per_layer": 1, "parallel_block": True, "tied": True},
    "stablelm": {"norm": "layernorm", "rotary_fraction": 0.25},
    "starcoder2": {"norm": "layernorm", "gated": False, "tied": True, "all_bias": True},
}
_STANDARD_KEYS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
)


def _attention_parts(cfg: Config, traits: dict[str, Any], d: int, n_head: int) -> dict[str, Any]:
    all_bias = cfg.bool("use_bias", default=True) if traits.get("all_bias") else False
    attention_bias = cfg.bool("attention_bias") or all_bias
    qk_norm = traits.get("qk_norm", "none")
    if cfg.bool("use_qk_norm", "qk_layernorm"):  # Cohere, StableLM: over all heads
        qk_norm = "full"
    parts: dict[str, Any] = {
        "n_kv_head": cfg.int("num_key_value_heads", default=n_head),
        "d_head": cfg.int("head_dim", default=None),
        "qkv_bias": attention_bias or traits.get("qkv_bias", False) or cfg.bool("use_qkv_bias"),
        "out_bias": attention_bias,
        "mlp_bias": cfg.bool("mlp_bias") or all_bias,
        "qk_norm": qk_norm,
    }
    if parts["d_head"] is None and d % n_head:
        raise ScalingError(f"{cfg.origin}: hidden_size {d} is not divisible by num_attention_heads {n_head}")
    kv_rank = cfg.int("kv_lora_rank", default=0, allow_zero=True)
    if kv_rank:  # multi-head latent attention (DeepSeek-V2/V3)
        rope = cfg.int("qk_rope_head_dim")
        parts.update(
            kv_lora_rank=kv_rank,
            qk_rope_head_dim=rope,
            v_head_dim=cfg.int("v_head_dim"),
            d_head=cfg.int("qk_nope_head_dim") + rope,
            q_lora_rank=cfg.int("q_lora_rank", default=0, allow_zero=True),
        )
    return parts


def _moe_parts(cfg: Config, traits: dict[str, Any], n_layer: int, d_ff: int) -> dict[str, Any]:
    experts = cfg.int("num_local_experts", "num_experts", "n_routed_experts", default=1, allow_zero=True)
    if experts <= 1:
        return {}
    width = cfg.int("moe_intermediate_size", default=d_ff)
    shared = cfg.int("shared_expert_intermediate_size", default=0, allow_zero=True)
    shared += cfg.int("n_shared_experts", default=0, allow_zero=True) * width  # DeepSeek: one MLP, n x wide
    dense = cfg.int("first_k_dense_replace", default=0, allow_zero=True)  # DeepSeek: the first k layers
    mlp_only = cfg.get("mlp_only_layers", default=[])
    step = cfg.int("decoder_sparse_step", default=1)
    if not isinstance(mlp_only, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in mlp_only
    ):
        raise ScalingError(
            f"{cfg.origin}: key 'mlp_only_layers' must be a list of layer numbers, got {mlp_only!r}"
        )
    dense += sum(1 for i in range(n_layer) if i in mlp_only or (i + 1) % step)  # Qwen-MoE's dense layers
    return {
        "n_experts": experts,
        "experts_per_token": cfg.int("num_experts_per_tok", default=None),  # null: `ModelSpec.top_k` says
        "d_ff_expert": width,
        "d_ff_shared": shared,
        "shared_expert_gate": bool(shared and traits.get("shared_expert_gate")),
        "dense_layers": min(dense, n_layer),
    }


def _window_parts(cfg: Config, traits: dict[str, Any], family: str, n_layer: int) -> dict[str, Any]:
    window = cfg.int("sliding_window", default=0, allow_zero=True)
    types = cfg.get("layer_types")
    if types is not None:
        if not isinstance(types, list) or len(types) != n_layer or not all(isinstance(t, str) for t in types):
            raise ScalingError(f"{cfg.origin}: key 'layer_types' must list one attention type per layer")
        sliding = sum(t == "sliding_attention" for t in types)
    elif family.startswith("qwen"):  # a window only with use_sliding_window, from layer max_window_layers on
        on = cfg.bool("use_sliding_window")
        sliding = (
            max(0, n_layer - cfg.int("max_window_layers", default=n_layer, allow_zero=True)) if on else 0
        )
    elif "global_every" in traits:  # Gemma 2/3: every k-th layer global, the others local
        every = cfg.int("sliding_window_pattern", "_sliding_window_pattern", default=traits["global_every"])
        sliding = n_layer - n_layer // every
    else:
        sliding = n_layer  # Mistral, StarCoder2, Phi-3: every layer slides
    return {"sliding_window": window, "sliding_layers": sliding} if window and sliding else {}


def decoder(cfg: Config, family: str, assumptions: tuple[str, ...] = ()) -> ModelSpec:
    """A llama-style decoder with the family's traits: the generic reader every standard config
    goes through."""
    traits = DECODER_TRAITS.get(family, {})
    d, n_head, n_layer = cfg.int("hidden_size"), cfg.int("num_attention_heads"), cfg.int("num_hidden_layers")
    d_ff = cfg.int("intermediate_size")
    parallel = traits.get("parallel_block", False) or cfg.bool("use_parallel_residual")
    return ModelSpec(
        **common_fields(cfg, family),
        n_layer=n_layer,
        d_model=d,
        n_head=n_head,
        d_ff=d_ff,
        gated_ffn=traits.get("gated", True),
        activation=cfg.text("hidden_activation", "hidden_act", default="silu"),
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("max_position_embeddings", default=4096),
        position="rope",
        rotary_fraction=rotary_fraction(cfg, traits.get("rotary_fraction", 1.0)),
        norm=traits.get("norm", "rmsnorm"),
        norms_per_layer=1 if parallel else traits.get("norms_per_layer", 2),
        norm_placement=traits.get("norm_placement", "pre"),
        parallel_block=parallel,
        tied_embeddings=cfg.bool("tie_word_embeddings", default=traits.get("tied", False)),
        **_attention_parts(cfg, traits, d, n_head),
        **_moe_parts(cfg, traits, n_layer, d_ff),
        **_window_parts(cfg, traits, family, n_layer),
        assumptions=assumptions,
    )


def generic(cfg: Config, model_type: str, supported: tuple[str, ...]) -> ModelSpec:
    """An unknown family with the standard keys: a llama-style decoder, every assumption listed. ``supported``
    names the model types with a reader of their own, for the error when a standard key is missing."""
    missing = [key for key in _STANDARD_KEYS if cfg.data.get(key) is None]
    if missing:
        raise ScalingError(
            f"{cfg.origin}: unsupported config (model_type {model_type!r}) and the generic decoder "
            f"rules need {', '.join(missing)}; supported model types: {', '.join(supported)}"
        )
    tied = cfg.bool("tie_word_embeddings")
    assumptions = (
        f"model_type {model_type!r} is not a known family: counted with the generic llama-style "
        "decoder rules",
        "pre-norm RMSNorm, two per layer, and a final norm",
        "gated feed-forward (gate, up and down projections) of intermediate_size",
        "rotary positions (no position parameters)",
        "biases only where attention_bias / mlp_bias say so; no QK-norm weights",
        "experts, shared experts and windows only where the Mixtral / Qwen-MoE / DeepSeek / Mistral keys "
        "say so",
        f"{'tied' if tied else 'untied'} input and output embeddings"
        + ("" if "tie_word_embeddings" in cfg.data else " (no tie_word_embeddings key)"),
    )
    return decoder(cfg, str(model_type), assumptions)
