"""Read a Hugging Face ``config.json`` into a `ModelSpec`, as plain JSON (no transformers, no network).

The family is chosen from ``model_type`` (then ``architectures``). Each reader maps the family's field names
onto ModelSpec, following what the released checkpoints hold, so the parameter count is exact:

* llama-likes (llama, mistral, mixtral, qwen2, gemma, gemma2, phi3, yi, ...): RMSNorm, RoPE, gated FFN,
  GQA, untied unless ``tie_word_embeddings``; qwen2 has Q/K/V biases, llama's ``attention_bias`` covers O
  too; gemma ties embeddings, has ``head_dim`` and GeGLU; gemma2 has 4 norms per layer; mixtral adds experts.
* gpt2: ``n_embd``/``n_layer``/``n_head``/``n_positions``/``n_inner``, biases, learned positions, tied.
* gpt_neox (Pythia, GPT-NeoX-20B): biases, parallel residual with two norms, rotary, untied ``embed_out``.
* falcon: 7B style (``multi_query``, ``parallel_attn``, one shared norm) and 40B style
  (``new_decoder_architecture``, ``num_kv_heads``, two norms); biases per ``bias``.
* phi (phi-2): biases, partial rotary, one shared norm with parallel blocks, untied ``lm_head`` with a bias.
* bert: learned positions, token types, embedding LayerNorm, pooler.
* t5 / mt5: v1.0 (ReLU, tied) and v1.1 / FLAN-T5 (``feed_forward_proj: gated-gelu``, untied).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scaling.errors import ScalingError
from scaling.model.spec import ModelSpec

_LLAMA_LIKE = ("llama", "mistral", "mixtral", "qwen2", "gemma", "gemma2", "phi3", "yi", "internlm", "olmo2")


class _Config:
    """A config dict that names the file and the key in every error."""

    def __init__(self, data: dict[str, Any], origin: str):
        self.data, self.origin = data, origin

    def get(self, *keys: str, default: Any = None) -> Any:
        for key in keys:
            if self.data.get(key) is not None:
                return self.data[key]
        return default

    def int(self, *keys: str, default: Any = ...) -> int:
        value = self.get(*keys)
        if value is None:
            if default is ...:
                raise ScalingError(f"{self.origin}: missing key {' or '.join(repr(k) for k in keys)}")
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value != int(value)
            or value <= 0
        ):
            raise ScalingError(
                f"{self.origin}: key {keys[0]!r} must be a positive whole number, got {value!r}"
            )
        return int(value)

    def bool(self, *keys: str, default: bool = False) -> bool:
        value = self.get(*keys)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ScalingError(f"{self.origin}: key {keys[0]!r} must be true or false, got {value!r}")
        return value


def _name(cfg: _Config) -> str:
    return str(cfg.get("_name_or_path", default="") or cfg.origin)


def _llama(cfg: _Config) -> ModelSpec:
    model_type = cfg.get("model_type", default="llama")
    d = cfg.int("hidden_size")
    n_head = cfg.int("num_attention_heads")
    gemma = str(model_type).startswith("gemma")
    attention_bias = cfg.bool("attention_bias")
    experts = cfg.int("num_local_experts", default=1)  # mixtral
    return ModelSpec(
        name=_name(cfg), family=str(model_type), n_layer=cfg.int("num_hidden_layers"), d_model=d, n_head=n_head,
        n_kv_head=cfg.int("num_key_value_heads", default=n_head), d_head=cfg.int("head_dim", default=d // n_head),
        d_ff=cfg.int("intermediate_size"), gated_ffn=True,
        activation=str(cfg.get("hidden_activation", "hidden_act", default="silu")),
        vocab_size=cfg.int("vocab_size"), n_ctx=cfg.int("max_position_embeddings", default=4096), position="rope",
        qkv_bias=attention_bias or model_type == "qwen2", out_bias=attention_bias, mlp_bias=cfg.bool("mlp_bias"),
        norm="rmsnorm", norms_per_layer=4 if model_type == "gemma2" else 2,
        tied_embeddings=cfg.bool("tie_word_embeddings", default=gemma),
        n_experts=experts, experts_per_token=cfg.int("num_experts_per_tok", default=1) if experts > 1 else 1,
        source=f"config.json ({cfg.origin})",
    )  # fmt: skip


def _gpt2(cfg: _Config) -> ModelSpec:
    d = cfg.int("n_embd", "hidden_size")
    n_ctx = cfg.int("n_positions", "n_ctx", default=1024)
    return ModelSpec(
        name=_name(cfg), family="gpt2", n_layer=cfg.int("n_layer", "num_hidden_layers"), d_model=d,
        n_head=cfg.int("n_head", "num_attention_heads"), d_ff=cfg.int("n_inner", default=4 * d),
        activation=str(cfg.get("activation_function", default="gelu_new")), vocab_size=cfg.int("vocab_size"),
        n_ctx=n_ctx, position="learned", qkv_bias=True, out_bias=True, mlp_bias=True,
        tied_embeddings=cfg.bool("tie_word_embeddings", default=True), source=f"config.json ({cfg.origin})",
    )  # fmt: skip


def _gpt_neox(cfg: _Config) -> ModelSpec:
    # GPT-NeoX keeps both LayerNorms even with the parallel residual; embed_out is untied and bias-free
    return ModelSpec(
        name=_name(cfg), family="gpt_neox", n_layer=cfg.int("num_hidden_layers"), d_model=cfg.int("hidden_size"),
        n_head=cfg.int("num_attention_heads"), d_ff=cfg.int("intermediate_size"),
        activation=str(cfg.get("hidden_act", default="gelu")), vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("max_position_embeddings", default=2048), position="rope",
        qkv_bias=cfg.bool("attention_bias", default=True), out_bias=cfg.bool("attention_bias", default=True),
        mlp_bias=True, parallel_block=cfg.bool("use_parallel_residual", default=True),
        tied_embeddings=cfg.bool("tie_word_embeddings", default=False), source=f"config.json ({cfg.origin})",
    )  # fmt: skip


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
        name=_name(cfg), family="falcon", n_layer=cfg.int("num_hidden_layers", "n_layer"), d_model=d, n_head=n_head,
        n_kv_head=kv, d_ff=cfg.int("ffn_hidden_size", default=4 * d), activation="gelu",
        vocab_size=cfg.int("vocab_size"), n_ctx=cfg.int("max_position_embeddings", default=2048),
        position="alibi" if cfg.bool("alibi") else "rope", qkv_bias=bias, out_bias=bias, mlp_bias=bias,
        # 7B style: one LayerNorm shared by the parallel attention and MLP; 40B style: ln_attn and ln_mlp
        norms_per_layer=2 if (new_arch or not parallel) else 1, parallel_block=parallel,
        tied_embeddings=cfg.bool("tie_word_embeddings", default=True), source=f"config.json ({cfg.origin})",
    )  # fmt: skip


def _phi(cfg: _Config) -> ModelSpec:
    # phi-2: Q, K, V and dense with biases, fc1/fc2 with biases, one input LayerNorm (parallel block),
    # final LayerNorm, untied lm_head with a bias; partial rotary has no parameters
    n_head = cfg.int("num_attention_heads")
    return ModelSpec(
        name=_name(cfg), family="phi", n_layer=cfg.int("num_hidden_layers"), d_model=cfg.int("hidden_size"),
        n_head=n_head, n_kv_head=cfg.int("num_key_value_heads", default=n_head), d_ff=cfg.int("intermediate_size"),
        activation=str(cfg.get("hidden_act", default="gelu_new")), vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("max_position_embeddings", default=2048), position="rope", qkv_bias=True, out_bias=True,
        mlp_bias=True, norms_per_layer=1, parallel_block=True,
        tied_embeddings=cfg.bool("tie_word_embeddings", default=False), lm_head_bias=True,
        source=f"config.json ({cfg.origin})",
    )  # fmt: skip


def _bert(cfg: _Config) -> ModelSpec:
    return ModelSpec(
        name=_name(cfg), family="bert", arch="encoder", n_layer=cfg.int("num_hidden_layers"),
        d_model=cfg.int("hidden_size"), n_head=cfg.int("num_attention_heads"), d_ff=cfg.int("intermediate_size"),
        activation=str(cfg.get("hidden_act", default="gelu")), vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("max_position_embeddings", default=512), position="learned", qkv_bias=True, out_bias=True,
        mlp_bias=True, final_norm=False, embedding_norm=True, token_types=cfg.int("type_vocab_size", default=2),
        pooler=True, source=f"config.json ({cfg.origin})",
    )  # fmt: skip


def _t5(cfg: _Config) -> ModelSpec:
    proj = str(cfg.get("feed_forward_proj", default="relu"))
    gated = proj.startswith("gated-")
    layers = cfg.int("num_layers")
    return ModelSpec(
        name=_name(cfg), family="t5", arch="encoder-decoder", n_encoder_layer=layers,
        n_layer=cfg.int("num_decoder_layers", default=layers), d_model=cfg.int("d_model"),
        n_head=cfg.int("num_heads"), d_head=cfg.int("d_kv"), d_ff=cfg.int("d_ff"), gated_ffn=gated,
        activation=proj.removeprefix("gated-"), vocab_size=cfg.int("vocab_size"), n_ctx=cfg.int("n_positions", default=512),
        position="relative", relative_buckets=cfg.int("relative_attention_num_buckets", default=32), norm="rmsnorm",
        tied_embeddings=cfg.bool("tie_word_embeddings", default=True), source=f"config.json ({cfg.origin})",
    )  # fmt: skip


_READERS: dict[str, Callable[[_Config], ModelSpec]] = {
    **{name: _llama for name in _LLAMA_LIKE},
    "gpt2": _gpt2,
    "gpt_neox": _gpt_neox,
    "falcon": _falcon,
    "RefinedWeb": _falcon,
    "RefinedWebModel": _falcon,
    "phi": _phi,
    "bert": _bert,
    "t5": _t5,
    "mt5": _t5,
}
_ARCHITECTURES = {
    "LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "MixtralForCausalLM": "mixtral",
    "Qwen2ForCausalLM": "qwen2", "GemmaForCausalLM": "gemma", "GPT2LMHeadModel": "gpt2",
    "GPTNeoXForCausalLM": "gpt_neox", "FalconForCausalLM": "falcon", "RWForCausalLM": "falcon",
    "PhiForCausalLM": "phi", "BertForMaskedLM": "bert", "BertModel": "bert", "BertForPreTraining": "bert",
    "T5ForConditionalGeneration": "t5",
}  # fmt: skip
SUPPORTED_MODEL_TYPES = tuple(sorted(_READERS))


def spec_from_hf_config(path_or_dict: str | Path | dict[str, Any], *, name: str | None = None) -> ModelSpec:
    """A `ModelSpec` from a Hugging Face ``config.json`` (a path, a folder holding one, or the parsed dict)."""
    if isinstance(path_or_dict, dict):
        data, origin = path_or_dict, "config"
    else:
        path = Path(path_or_dict).expanduser()
        if path.is_dir():
            path = path / "config.json"
        origin = str(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ScalingError(f"config file {origin!r} does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ScalingError(f"{origin}: not a readable JSON config ({exc})") from None
    if not isinstance(data, dict):
        raise ScalingError(f"{origin}: expected a JSON object, got {type(data).__name__}")
    cfg = _Config(data, origin)
    model_type = data.get("model_type")
    if model_type not in _READERS:
        for arch in data.get("architectures") or []:
            if arch in _ARCHITECTURES:
                model_type = _ARCHITECTURES[arch]
                break
    if model_type not in _READERS:
        seen = f"model_type {model_type!r}" if model_type else "no 'model_type' key"
        raise ScalingError(
            f"{origin}: unsupported config ({seen}); supported model types: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    try:
        spec = _READERS[model_type](cfg)
    except ScalingError as exc:
        message = str(exc)
        raise ScalingError(message if message.startswith(origin) else f"{origin}: {message}") from None
    return spec.with_(name=name) if name else spec
