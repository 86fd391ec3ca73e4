"""The Hugging Face families with a reader of their own (llama-style decoders are `scaling.model.hf_llama`):
gpt2, gptj, gpt_neox, falcon, phi, bloom, mpt, opt (learned positions with an offset of 2, projections when
``word_embed_proj_dim`` differs), the encoders bert and roberta, and the encoder-decoders t5 / mt5 and bart.

Each maps its config keys onto the spec's parts as transformers' modeling file for that family builds them.
"""

from __future__ import annotations

from scaling.checks import fraction
from scaling.errors import ScalingError
from scaling.model.hf_keys import Config, common_fields, rotary_fraction
from scaling.model.spec import ModelSpec


def gpt2(cfg: Config) -> ModelSpec:
    d = cfg.int("n_embd", "hidden_size")
    return ModelSpec(
        **common_fields(cfg, "gpt2"),
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


def gptj(cfg: Config) -> ModelSpec:
    # GPT-J: one LayerNorm shared by the parallel attention and MLP, bias-free attention, partial rotary
    # (no parameters), an untied lm_head with a bias
    d = cfg.int("n_embd")
    return ModelSpec(
        **common_fields(cfg, "gptj"),
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


def gpt_neox(cfg: Config) -> ModelSpec:
    # GPT-NeoX keeps both LayerNorms even with the parallel residual; embed_out is untied and bias-free
    return ModelSpec(
        **common_fields(cfg, "gpt_neox"),
        n_layer=cfg.int("num_hidden_layers"),
        d_model=cfg.int("hidden_size"),
        n_head=cfg.int("num_attention_heads"),
        d_ff=cfg.int("intermediate_size"),
        activation=cfg.text("hidden_act", default="gelu"),
        vocab_size=cfg.int("vocab_size"),
        n_ctx=cfg.int("max_position_embeddings", default=2048),
        position="rope",
        rotary_fraction=rotary_fraction(cfg, 0.25),
        qkv_bias=cfg.bool("attention_bias", default=True),
        out_bias=cfg.bool("attention_bias", default=True),
        mlp_bias=True,
        parallel_block=cfg.bool("use_parallel_residual", default=True),
        tied_embeddings=cfg.bool("tie_word_embeddings", default=False),
    )


def falcon(cfg: Config) -> ModelSpec:
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
        **common_fields(cfg, "falcon"),
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


def phi(cfg: Config) -> ModelSpec:
    # phi-2: Q, K, V and dense with biases, fc1/fc2 with biases, one input LayerNorm (parallel block),
    # final LayerNorm, untied lm_head with a bias; partial rotary has no parameters
    n_head = cfg.int("num_attention_heads")
    return ModelSpec(
        **common_fields(cfg, "phi"),
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
        rotary_fraction=rotary_fraction(cfg, 0.5),
        mlp_bias=True,
        norms_per_layer=1,
        parallel_block=True,
        tied_embeddings=cfg.bool("tie_word_embeddings", default=False),
        lm_head_bias=True,
    )


def bloom(cfg: Config) -> ModelSpec:
    # BLOOM: ALiBi (no position parameters), a LayerNorm after the embeddings, biases everywhere, tied
    d = cfg.int("hidden_size", "n_embed")
    return ModelSpec(
        **common_fields(cfg, "bloom"),
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


def mpt(cfg: Config) -> ModelSpec:
    # MPT as transformers builds it: ALiBi (no position table), multi-head attention with a fused Wqkv,
    # LayerNorm without bias and no linear biases when no_bias, d_ff = expansion_ratio x d_model, tied
    d = cfg.int("d_model")
    no_bias = cfg.bool("no_bias", default=True)
    return ModelSpec(
        **common_fields(cfg, "mpt"),
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


def opt(cfg: Config) -> ModelSpec:
    # OPT: learned positions with 2 extra rows (the offset), projections in and out when the embedding is
    # narrower (OPT-350m), post-norm without a final norm when do_layer_norm_before is false
    d = cfg.int("hidden_size")
    pre = cfg.bool("do_layer_norm_before", default=True)
    bias = cfg.bool("enable_bias", default=True)
    n_ctx = cfg.int("max_position_embeddings", default=2048)
    return ModelSpec(
        **common_fields(cfg, "opt"),
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


def bert(cfg: Config, family: str = "bert") -> ModelSpec:
    # BERT and RoBERTa (whose max_position_embeddings already holds its offset of 2):
    # the base model with its pooler
    return ModelSpec(
        **common_fields(cfg, family),
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


def t5(cfg: Config) -> ModelSpec:
    proj = cfg.text("feed_forward_proj", default="relu")
    layers = cfg.int("num_layers")
    return ModelSpec(
        **common_fields(cfg, "t5"),
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


def bart(cfg: Config) -> ModelSpec:
    # BART: one shared embedding, learned positions per stack with 2 extra rows, a LayerNorm after each
    # stack's embeddings, post-norm layers with biases everywhere, no final norm unless
    # add_final_layer_norm (mBART)
    width = cfg.int("encoder_ffn_dim")
    if cfg.int("decoder_ffn_dim", default=width) != width or cfg.int(
        "decoder_attention_heads", default=0, allow_zero=True
    ) not in (0, cfg.int("encoder_attention_heads")):
        raise ScalingError(
            f"{cfg.origin}: encoder and decoder of different widths or heads are not supported"
        )
    n_ctx = cfg.int("max_position_embeddings", default=1024)
    return ModelSpec(
        **common_fields(cfg, "bart"),
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
