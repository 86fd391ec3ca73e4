"""Read a Hugging Face ``config.json`` into a `ModelSpec`, as plain JSON (no transformers, no network).

The family is chosen from ``model_type`` (then ``architectures``). Each family is a mapping of its config keys
onto the spec's parts (attention, positions, norms, feed-forward, embeddings), following what transformers
builds from that config, so the parameter count is exact; ``tests/test_hf_config.py`` checks every family
against transformers itself on PyTorch's meta device.

* llama-style decoders (one reader, ``_decoder``, with a few family traits): llama, mistral, mixtral, qwen2,
  qwen2_moe, qwen3, qwen3_moe, gemma, gemma2, gemma3_text, phi3, olmo, olmo2, olmoe, granite, cohere, stablelm,
  starcoder2, deepseek_v2, deepseek_v3 (MLA, shared experts, first layers dense);
* gpt2, gpt_neox, gptj, falcon, phi, bloom, mpt, opt (learned positions with an offset of 2, projections when
  ``word_embed_proj_dim`` differs);
* encoders: bert, roberta; encoder-decoders: t5 / mt5 (v1.0 ReLU tied, v1.1 gated untied) and bart;
* a multimodal config (``text_config``, e.g. Gemma 3) is read for its language model, saying so;
* an unknown ``model_type`` with the standard keys is read as a llama-style decoder, and every assumption that
  took is listed in ``ModelSpec.assumptions``; a config missing what the count needs names the missing keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scaling.checks import fraction, positive_int
from scaling.errors import ScalingError
from scaling.model.spec import ModelSpec


class _Config:
    """A config dict that names the file and the key in every error."""

    def __init__(self, data: dict[str, Any], origin: str):
        self.data, self.origin = data, origin

    def get(self, *keys: str, default: Any = None) -> Any:
        for key in keys:
            if self.data.get(key) is not None:
                return self.data[key]
        return default

    def int(self, *keys: str, default: Any = ..., allow_zero: bool = False) -> int:
        value = self.get(*keys)
        if value is None:
            if default is ...:
                raise ScalingError(f"{self.origin}: missing key {' or '.join(repr(k) for k in keys)}")
            return default
        if isinstance(value, str):  # a number written as a string is a damaged config, not a size
            raise ScalingError(f"{self.origin}: key {keys[0]!r} must be a whole number, got {value!r}")
        return positive_int(value, f"key {keys[0]!r}", allow_zero=allow_zero)

    def bool(self, *keys: str, default: bool = False) -> bool:
        value = self.get(*keys)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ScalingError(f"{self.origin}: key {keys[0]!r} must be true or false, got {value!r}")
        return value

    def text(self, *keys: str, default: str) -> str:
        value = self.get(*keys, default=default)
        if not isinstance(value, str):
            raise ScalingError(f"{self.origin}: key {keys[0]!r} must be a string, got {value!r}")
        return value

    def require(self, *keys: str) -> None:
        """Raise one error naming every key the count needs that the config lacks."""
        missing = [key for key in keys if self.data.get(key) is None]
        if missing:
            raise ScalingError(
                f"{self.origin}: missing key{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            )


def _rotary_fraction(cfg: _Config, default: float = 1.0) -> float:
    """The share of d_head that rotary positions turn: ``partial_rotary_factor`` (also inside
    ``rope_parameters``) or GPT-NeoX's ``rotary_pct``."""
    rope = cfg.get("rope_parameters", default={})
    value = rope.get("partial_rotary_factor") if isinstance(rope, dict) else None
    value = cfg.get("partial_rotary_factor", "rotary_pct", default=default) if value is None else value
    return fraction(value, f"{cfg.origin}: partial rotary factor")


def _common(cfg: _Config, family: str) -> dict[str, Any]:
    return {
        "name": str(cfg.get("_name_or_path", default="") or cfg.origin),
        "family": family,
        "source": f"config.json ({cfg.origin})",
    }


# Llama-style decoders: RMSNorm, RoPE, gated FFN, no biases, untied, pre-norm, two norms per layer, unless a
# family's trait says otherwise (what transformers' modeling file for that family builds).
_DECODER_TRAITS: dict[str, dict[str, Any]] = {
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


def _attention_parts(cfg: _Config, traits: dict[str, Any], d: int, n_head: int) -> dict[str, Any]:
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


def _moe_parts(cfg: _Config, traits: dict[str, Any], n_layer: int, d_ff: int) -> dict[str, Any]:
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
        "experts_per_token": cfg.int("num_experts_per_tok"),
        "d_ff_expert": width,
        "d_ff_shared": shared,
        "shared_expert_gate": bool(shared and traits.get("shared_expert_gate")),
        "dense_layers": min(dense, n_layer),
    }


def _window_parts(cfg: _Config, traits: dict[str, Any], family: str, n_layer: int) -> dict[str, Any]:
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


def _decoder(cfg: _Config, family: str, assumptions: tuple[str, ...] = ()) -> ModelSpec:
    """A llama-style decoder with the family's traits: the generic reader every standard config goes through."""
    traits = _DECODER_TRAITS.get(family, {})
    d, n_head, n_layer = cfg.int("hidden_size"), cfg.int("num_attention_heads"), cfg.int("num_hidden_layers")
    d_ff = cfg.int("intermediate_size")
    parallel = traits.get("parallel_block", False) or cfg.bool("use_parallel_residual")
    return ModelSpec(
        **_common(cfg, family),
        n_layer=n_layer,
        d_model=d,
        n_head=n_head,
        d_ff=d_ff,
        gated_ffn=traits.get("gated", True),
        activation=cfg.text("hidden_activation", "hidden_act", default="silu"),
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("max_position_embeddings", default=4096),
        position="rope",
        rotary_fraction=_rotary_fraction(cfg, traits.get("rotary_fraction", 1.0)),
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


def _generic(cfg: _Config, model_type: str) -> ModelSpec:
    """An unknown family with the standard keys: a llama-style decoder, every assumption listed."""
    missing = [key for key in _STANDARD_KEYS if cfg.data.get(key) is None]
    if missing:
        raise ScalingError(
            f"{cfg.origin}: unsupported config (model_type {model_type!r}) and the generic decoder rules need "
            f"{', '.join(missing)}; supported model types: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    tied = cfg.bool("tie_word_embeddings")
    assumptions = (
        f"model_type {model_type!r} is not a known family: counted with the generic llama-style decoder rules",
        "pre-norm RMSNorm, two per layer, and a final norm",
        "gated feed-forward (gate, up and down projections) of intermediate_size",
        "rotary positions (no position parameters)",
        "biases only where attention_bias / mlp_bias say so; no QK-norm weights",
        "experts, shared experts and windows only where the Mixtral / Qwen-MoE / DeepSeek / Mistral keys say so",
        f"{'tied' if tied else 'untied'} input and output embeddings"
        + ("" if "tie_word_embeddings" in cfg.data else " (no tie_word_embeddings key)"),
    )
    return _decoder(cfg, str(model_type), assumptions)


def _gpt2(cfg: _Config) -> ModelSpec:
    d = cfg.int("n_embd", "hidden_size")
    return ModelSpec(
        **_common(cfg, "gpt2"),
        n_layer=cfg.int("n_layer", "num_hidden_layers"),
        d_model=d,
        n_head=cfg.int("n_head", "num_attention_heads"),
        d_ff=cfg.int("n_inner", default=4 * d),
        activation=cfg.text("activation_function", default="gelu_new"),
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("n_positions", "n_ctx", default=1024),
        position="learned",
        qkv_bias=True,
        out_bias=True,
        mlp_bias=True,
        tied_embeddings=cfg.bool("tie_word_embeddings", default=True),
    )


def _gptj(cfg: _Config) -> ModelSpec:
    # GPT-J: one LayerNorm shared by the parallel attention and MLP, bias-free attention, partial rotary
    # (no parameters), an untied lm_head with a bias
    d = cfg.int("n_embd")
    return ModelSpec(
        **_common(cfg, "gptj"),
        n_layer=cfg.int("n_layer"),
        d_model=d,
        n_head=cfg.int("n_head"),
        d_ff=cfg.int("n_inner", default=4 * d),
        activation=cfg.text("activation_function", default="gelu_new"),
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("n_positions", default=2048),
        position="rope",
        rotary_fraction=fraction(
            cfg.int("rotary_dim", default=64) / (d // cfg.int("n_head")), "rotary_dim / d_head"
        ),
        mlp_bias=True,
        norms_per_layer=1,
        parallel_block=True,
        lm_head_bias=True,
        tied_embeddings=cfg.bool("tie_word_embeddings", default=False),
    )


def _gpt_neox(cfg: _Config) -> ModelSpec:
    # GPT-NeoX keeps both LayerNorms even with the parallel residual; embed_out is untied and bias-free
    return ModelSpec(
        **_common(cfg, "gpt_neox"),
        n_layer=cfg.int("num_hidden_layers"),
        d_model=cfg.int("hidden_size"),
        n_head=cfg.int("num_attention_heads"),
        d_ff=cfg.int("intermediate_size"),
        activation=cfg.text("hidden_act", default="gelu"),
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("max_position_embeddings", default=2048),
        position="rope",
        rotary_fraction=_rotary_fraction(cfg, 0.25),
        qkv_bias=cfg.bool("attention_bias", default=True),
        out_bias=cfg.bool("attention_bias", default=True),
        mlp_bias=True,
        parallel_block=cfg.bool("use_parallel_residual", default=True),
        tied_embeddings=cfg.bool("tie_word_embeddings", default=False),
    )


def _falcon(cfg: _Config) -> ModelSpec:
    d = cfg.int("hidden_size")
    n_head = cfg.int("num_attention_heads", "n_head")
    new_arch = cfg.bool("new_decoder_architecture")
    if new_arch:
        kv = cfg.int("num_kv_heads", default=n_head)
    else:
        kv = 1 if cfg.bool("multi_query", default=True) else n_head
    parallel = cfg.bool("parallel_attn", default=True)
    bias = cfg.bool("bias")
    return ModelSpec(
        **_common(cfg, "falcon"),
        n_layer=cfg.int("num_hidden_layers", "n_layer"),
        d_model=d,
        n_head=n_head,
        n_kv_head=kv,
        d_ff=cfg.int("ffn_hidden_size", default=4 * d),
        activation="gelu",
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("max_position_embeddings", default=2048),
        position="alibi" if cfg.bool("alibi") else "rope",
        qkv_bias=bias,
        out_bias=bias,
        mlp_bias=bias,
        # 7B style: one LayerNorm shared by the parallel attention and MLP; 40B style: ln_attn and ln_mlp
        norms_per_layer=2 if (new_arch or not parallel) else 1,
        parallel_block=parallel,
        tied_embeddings=cfg.bool("tie_word_embeddings", default=True),
    )


def _phi(cfg: _Config) -> ModelSpec:
    # phi-2: Q, K, V and dense with biases, fc1/fc2 with biases, one input LayerNorm (parallel block),
    # final LayerNorm, untied lm_head with a bias; partial rotary has no parameters
    n_head = cfg.int("num_attention_heads")
    return ModelSpec(
        **_common(cfg, "phi"),
        n_layer=cfg.int("num_hidden_layers"),
        d_model=cfg.int("hidden_size"),
        n_head=n_head,
        n_kv_head=cfg.int("num_key_value_heads", default=n_head),
        d_ff=cfg.int("intermediate_size"),
        activation=cfg.text("hidden_act", default="gelu_new"),
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("max_position_embeddings", default=2048),
        position="rope",
        qkv_bias=True,
        out_bias=True,
        rotary_fraction=_rotary_fraction(cfg, 0.5),
        mlp_bias=True,
        norms_per_layer=1,
        parallel_block=True,
        tied_embeddings=cfg.bool("tie_word_embeddings", default=False),
        lm_head_bias=True,
    )


def _bloom(cfg: _Config) -> ModelSpec:
    # BLOOM: ALiBi (no position parameters), a LayerNorm after the embeddings, biases everywhere, tied
    d = cfg.int("hidden_size", "n_embed")
    return ModelSpec(
        **_common(cfg, "bloom"),
        n_layer=cfg.int("n_layer", "num_hidden_layers"),
        d_model=d,
        n_head=cfg.int("n_head", "num_attention_heads"),
        d_ff=4 * d,
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("seq_length", default=2048),
        position="alibi",
        qkv_bias=True,
        out_bias=True,
        mlp_bias=True,
        embedding_norm=True,
        tied_embeddings=cfg.bool("tie_word_embeddings", default=True),
    )


def _mpt(cfg: _Config) -> ModelSpec:
    # MPT as transformers builds it: ALiBi (no position table), multi-head attention with a fused Wqkv,
    # LayerNorm without bias and no linear biases when no_bias, d_ff = expansion_ratio x d_model, tied
    d = cfg.int("d_model")
    no_bias = cfg.bool("no_bias", default=True)
    return ModelSpec(
        **_common(cfg, "mpt"),
        n_layer=cfg.int("n_layers"),
        d_model=d,
        n_head=cfg.int("n_heads"),
        d_ff=cfg.int("expansion_ratio", default=4) * d,
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("max_seq_len", default=2048),
        position="alibi",
        qkv_bias=not no_bias,
        out_bias=not no_bias,
        mlp_bias=not no_bias,
        norm="layernorm-nobias" if no_bias else "layernorm",
        tied_embeddings=True,
    )


def _opt(cfg: _Config) -> ModelSpec:
    # OPT: learned positions with 2 extra rows (the offset), projections in and out when the embedding is
    # narrower (OPT-350m), post-norm without a final norm when do_layer_norm_before is false
    d = cfg.int("hidden_size")
    pre = cfg.bool("do_layer_norm_before", default=True)
    bias = cfg.bool("enable_bias", default=True)
    n_ctx = cfg.int("max_position_embeddings", default=2048)
    return ModelSpec(
        **_common(cfg, "opt"),
        n_layer=cfg.int("num_hidden_layers"),
        d_model=d,
        n_head=cfg.int("num_attention_heads"),
        d_ff=cfg.int("ffn_dim"),
        activation=cfg.text("activation_function", default="relu"),
        vocab_size=cfg.int("vocab_size"),
        n_ctx=n_ctx,
        n_positions=n_ctx + 2,
        position="learned",
        d_embed=cfg.int("word_embed_proj_dim", default=d),
        qkv_bias=bias,
        out_bias=bias,
        mlp_bias=bias,
        norm="layernorm" if cfg.bool("layer_norm_elementwise_affine", default=True) else "nonparametric",
        norm_placement="pre" if pre else "post",
        final_norm=pre and not cfg.bool("_remove_final_layer_norm"),
        tied_embeddings=cfg.bool("tie_word_embeddings", default=True),
    )


def _bert(cfg: _Config, family: str = "bert") -> ModelSpec:
    # BERT and RoBERTa (whose max_position_embeddings already holds its offset of 2): the base model with its pooler
    return ModelSpec(
        **_common(cfg, family),
        arch="encoder",
        n_layer=cfg.int("num_hidden_layers"),
        d_model=cfg.int("hidden_size"),
        n_head=cfg.int("num_attention_heads"),
        d_ff=cfg.int("intermediate_size"),
        activation=cfg.text("hidden_act", default="gelu"),
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("max_position_embeddings", default=512),
        position="learned",
        qkv_bias=True,
        out_bias=True,
        mlp_bias=True,
        norm_placement="post",
        final_norm=False,
        embedding_norm=True,
        token_types=cfg.int("type_vocab_size", default=2, allow_zero=True),
        pooler=True,
    )


def _t5(cfg: _Config) -> ModelSpec:
    proj = cfg.text("feed_forward_proj", default="relu")
    layers = cfg.int("num_layers")
    return ModelSpec(
        **_common(cfg, "t5"),
        arch="encoder-decoder",
        n_encoder_layer=layers,
        n_layer=cfg.int("num_decoder_layers", default=layers),
        d_model=cfg.int("d_model"),
        n_head=cfg.int("num_heads"),
        d_head=cfg.int("d_kv"),
        d_ff=cfg.int("d_ff"),
        gated_ffn=proj.startswith("gated-"),
        activation=proj.removeprefix("gated-"),
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("n_positions", default=512),
        position="relative",
        relative_buckets=cfg.int("relative_attention_num_buckets", default=32),
        norm="rmsnorm",
        tied_embeddings=cfg.bool("tie_word_embeddings", default=True),
    )


def _bart(cfg: _Config) -> ModelSpec:
    # BART: one shared embedding, learned positions per stack with 2 extra rows, a LayerNorm after each stack's
    # embeddings, post-norm layers with biases everywhere, no final norm unless add_final_layer_norm (mBART)
    width = cfg.int("encoder_ffn_dim")
    if cfg.int("decoder_ffn_dim", default=width) != width or cfg.int(
        "decoder_attention_heads", default=0, allow_zero=True
    ) not in (0, cfg.int("encoder_attention_heads")):
        raise ScalingError(
            f"{cfg.origin}: encoder and decoder of different widths or heads are not supported"
        )
    n_ctx = cfg.int("max_position_embeddings", default=1024)
    return ModelSpec(
        **_common(cfg, "bart"),
        arch="encoder-decoder",
        n_encoder_layer=cfg.int("encoder_layers"),
        n_layer=cfg.int("decoder_layers"),
        d_model=cfg.int("d_model"),
        n_head=cfg.int("encoder_attention_heads"),
        d_ff=width,
        activation=cfg.text("activation_function", default="gelu"),
        vocab_size=cfg.int("vocab_size"),
        n_ctx=n_ctx,
        n_positions=n_ctx + 2,
        position="learned",
        qkv_bias=True,
        out_bias=True,
        mlp_bias=True,
        norm_placement="pre" if cfg.bool("normalize_before") else "post",
        embedding_norm=True,
        final_norm=cfg.bool("add_final_layer_norm"),
        tied_embeddings=cfg.bool("tie_word_embeddings", default=True),
    )


_READERS: dict[str, Callable[[_Config], ModelSpec]] = {
    **{family: (lambda cfg, family=family: _decoder(cfg, family)) for family in _DECODER_TRAITS},
    "gpt2": _gpt2,
    "gptj": _gptj,
    "gpt_neox": _gpt_neox,
    "falcon": _falcon,
    "RefinedWeb": _falcon,
    "RefinedWebModel": _falcon,
    "phi": _phi,
    "bloom": _bloom,
    "mpt": _mpt,
    "opt": _opt,
    "bert": _bert,
    "roberta": lambda cfg: _bert(cfg, "roberta"),
    "t5": _t5,
    "mt5": _t5,
    "bart": _bart,
}
_ARCHITECTURES = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "mistral",
    "MixtralForCausalLM": "mixtral",
    "Qwen2ForCausalLM": "qwen2",
    "GemmaForCausalLM": "gemma",
    "GPT2LMHeadModel": "gpt2",
    "GPTNeoXForCausalLM": "gpt_neox",
    "FalconForCausalLM": "falcon",
    "RWForCausalLM": "falcon",
    "PhiForCausalLM": "phi",
    "BertForMaskedLM": "bert",
    "BertModel": "bert",
    "BertForPreTraining": "bert",
    "T5ForConditionalGeneration": "t5",
    "Qwen3ForCausalLM": "qwen3",
    "Qwen3MoeForCausalLM": "qwen3_moe",
    "DeepseekV3ForCausalLM": "deepseek_v3",
    "DeepseekV2ForCausalLM": "deepseek_v2",
    "GPTJForCausalLM": "gptj",
    "BloomForCausalLM": "bloom",
    "OPTForCausalLM": "opt",
    "MPTForCausalLM": "mpt",
    "RobertaForMaskedLM": "roberta",
    "BartForConditionalGeneration": "bart",
    "Gemma3ForCausalLM": "gemma3_text",
}
SUPPORTED_MODEL_TYPES = tuple(sorted(_READERS))


def _load(path_or_dict: str | Path | dict[str, Any]) -> tuple[Any, str]:
    if isinstance(path_or_dict, dict):
        return path_or_dict, "config"
    path = Path(path_or_dict)
    origin = str(path)
    try:
        path = path.expanduser()
        if path.is_dir():
            path = path / "config.json"
            origin = str(path)
        text = path.read_bytes().decode("utf-8-sig")
        # JSON has no NaN or Infinity: a config holding them is damaged, not a size to count with
        return json.loads(text, parse_constant=lambda name: _refuse_constant(origin, name)), origin
    except ScalingError:
        raise
    except FileNotFoundError:
        raise ScalingError(f"config file {origin!r} does not exist") from None
    except (OSError, RuntimeError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError too
        raise ScalingError(f"{origin}: not a readable JSON config ({type(exc).__name__}: {exc})") from None


def _refuse_constant(origin: str, name: str) -> Any:
    raise ScalingError(f"{origin}: {name} is not a number a config may hold (JSON has no NaN or Infinity)")


def _family(cfg: _Config) -> str | None:
    """The reader's key: ``model_type``, else the first known entry of ``architectures``."""
    model_type = cfg.data.get("model_type")
    if model_type is not None and not isinstance(model_type, str):
        raise ScalingError(f"{cfg.origin}: key 'model_type' must be a string, got {model_type!r}")
    if model_type in _READERS:
        return model_type
    architectures = cfg.data.get("architectures") or []
    if not isinstance(architectures, list) or not all(isinstance(a, str) for a in architectures):
        raise ScalingError(
            f"{cfg.origin}: key 'architectures' must be a list of class names, got {architectures!r}"
        )
    for arch in architectures:
        if arch in _ARCHITECTURES:
            return _ARCHITECTURES[arch]
    return model_type


def spec_from_hf_config(path_or_dict: str | Path | dict[str, Any], *, name: str | None = None) -> ModelSpec:
    """A `ModelSpec` from a Hugging Face ``config.json`` (a path, a folder holding one, or the parsed dict).

    A known family is counted exactly; an unknown one with the standard keys by the generic decoder rules,
    with what was assumed in ``spec.assumptions``; a multimodal config by its ``text_config``, saying so.
    """
    data, origin = _load(path_or_dict)
    if not isinstance(data, dict):
        raise ScalingError(f"{origin}: expected a JSON object, got {type(data).__name__}")
    cfg = _Config(data, origin)
    try:
        spec = _read(cfg)
    except ScalingError as exc:
        message = str(exc)
        raise ScalingError(message if message.startswith(origin) else f"{origin}: {message}") from None
    return spec.with_(name=name) if name else spec


def _read(cfg: _Config, *, outer: bool = True) -> ModelSpec:
    family = _family(cfg)
    if family in _READERS:
        return _READERS[family](cfg)
    text = cfg.data.get("text_config")
    if outer and isinstance(text, dict) and ("hidden_size" in text or "vocab_size" in text):
        if "model_type" not in text and f"{family}_text" in _READERS:  # Gemma 3's text_config may omit it
            text = {**text, "model_type": f"{family}_text"}
        inner = _read(_Config(text, f"{cfg.origin} text_config"), outer=False)
        note = f"a {family or 'multimodal'} config: its language model (text_config) only; other towers not counted"
        return inner.with_(name=_common(cfg, "")["name"], assumptions=(note, *inner.assumptions))
    return _generic(cfg, str(family) if family else "(none)")
