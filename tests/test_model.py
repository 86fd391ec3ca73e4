"""ModelSpec: every preset against its published parameter count, shape_for_params, validation errors."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaling.catalog import read_csv
from scaling.errors import ScalingError
from scaling.model import ModelSpec, get_preset, load_model, presets, shape_for_params

PUBLISHED = {row["name"]: float(row["params_published"]) for row in read_csv("models.csv")}


def _is_exact(published: float) -> bool:
    """A count published to the parameter (124,439,808), not rounded to millions (175e9, 540.35e9)."""
    return published % 1_000_000 != 0


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_preset_matches_params_published(name):
    spec = get_preset(name)
    published = PUBLISHED[name]
    if _is_exact(published):
        assert spec.params == int(published)
    else:
        assert spec.params == pytest.approx(published, rel=0.005)


def test_presets_with_exact_counts_are_most_of_the_catalog():
    exact = [n for n, p in PUBLISHED.items() if _is_exact(p)]
    assert len(exact) >= 25
    assert {"llama-2-7b", "t5-small", "bert-base-uncased", "flan-t5-xxl", "llama-3.1-405b"} <= set(exact)


def test_every_preset_loads_by_name_and_alias():
    for spec in presets():
        assert load_model(spec.name) is spec
        for alias in spec.aliases:
            assert get_preset(alias.upper()) is spec


def test_unknown_preset_suggests_close_match():
    with pytest.raises(ScalingError, match="did you mean llama-2-7b"):
        get_preset("llama-2-7")


_SIZES = [10e6, 30e6, 125e6, 350e6, 1e9, 3e9, 7e9, 13e9, 34e9, 70e9, 175e9, 405e9, 1e12]


@pytest.mark.parametrize(
    "params,style",
    [(p, "gpt") for p in _SIZES] + [(p, "llama") for p in _SIZES],
)
def test_shape_for_params_within_2_percent(params, style):
    spec = shape_for_params(params, style=style)
    assert spec.params == pytest.approx(params, rel=0.02)
    assert spec.d_model % spec.n_head == 0 and spec.d_attn == spec.d_model
    assert spec.n_head % spec.kv_heads == 0
    assert spec.d_model % 64 == 0
    if style == "llama":
        assert spec.gated_ffn and spec.ffn_dim % 256 == 0
    assert 16 <= spec.d_model / spec.n_layer <= 512


@pytest.mark.parametrize("params,style", [(p, s) for p in _SIZES[2:] for s in ("gpt", "llama")])
def test_shape_for_params_depth_is_the_nearest_count_at_its_width(params, style):
    """The search scores every depth of a width from one layer's count: the count is linear in depth."""
    spec = shape_for_params(params, style=style)
    counts = [replace(spec, n_layer=n).params for n in (spec.n_layer - 1, spec.n_layer, spec.n_layer + 1)]
    assert counts[1] - counts[0] == counts[2] - counts[1] == spec.decoder_layer_params()
    assert abs(counts[1] - params) <= min(abs(counts[0] - params), abs(counts[2] - params))


@pytest.mark.parametrize("bad", [0, -1e9, float("nan"), float("inf")])
def test_shape_for_params_rejects_bad_counts(bad):
    with pytest.raises(ScalingError):
        shape_for_params(bad)


def test_shape_for_params_rejects_unknown_style():
    with pytest.raises(ScalingError, match="style"):
        shape_for_params(7e9, style="mamba")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"n_layer": 0}, "n_layer"),
        ({"d_model": -1}, "d_model"),
        ({"n_head": 2.5}, "n_head"),
        ({"d_model": 100, "n_head": 3}, "divisible"),
        ({"n_kv_head": 5}, "n_kv_head"),
        ({"arch": "rnn"}, "arch"),
        ({"norm": "batchnorm"}, "norm"),
        ({"position": "magic"}, "position"),
        ({"arch": "encoder-decoder"}, "n_encoder_layer"),
        ({"n_experts": 8, "experts_per_token": 9}, "experts_per_token"),
        ({"vocab_size": 0}, "vocab_size"),
    ],
)
def test_model_spec_validation_errors(kwargs, match):
    args = {"n_layer": 2, "d_model": 64, "n_head": 4} | kwargs
    with pytest.raises(ScalingError, match=match):
        ModelSpec(**args)


def test_non_embedding_is_kaplan_n():
    spec = get_preset("gpt3-175b")
    assert spec.params_non_embedding == spec.params - (50257 + 2048) * 12288
    assert math.isclose(spec.params_non_embedding, 12 * 96 * 12288**2, rel_tol=0.001)


def test_kv_cache_elements_per_token_gqa_and_cross_attention():
    # Llama 2 70B: 80 layers x 8 KV heads x 128 = 2 x 81,920 elements per token (K and V)
    llama = get_preset("llama-2-70b")
    assert llama.kv_cache_elements_per_token() == 2 * 80 * 8 * 128
    assert llama.kv_cache_elements_per_token(tp=16) == 2 * 80 * 1 * 128  # a KV head replicated per rank
    assert llama.cross_kv_cache_elements_per_token() == 0
    t5 = get_preset("t5-small")  # 6 decoder layers x 8 heads x d_kv 64, per source token
    assert t5.cross_kv_cache_elements_per_token() == 2 * 6 * 8 * 64
    assert t5.kv_cache_elements_per_token() == 2 * 6 * 8 * 64
    bert = ModelSpec(n_layer=12, d_model=768, n_head=12, arch="encoder")
    assert bert.kv_cache_elements_per_token() == 0


def test_kv_cache_sliding_window_holds_at_most_the_window():
    # Mistral 7B v0.1: every layer slides over 4,096 tokens; Gemma 2: every other layer
    spec = ModelSpec(n_layer=32, d_model=4096, n_head=32, n_kv_head=8, sliding_window=4096)
    full = 2 * 32 * 8 * 128
    assert spec.kv_cache_elements_per_token(4096) == full
    assert spec.kv_cache_elements_per_token(32768) == full / 8
    half = spec.with_(sliding_layers=16)
    assert half.kv_cache_elements_per_token(32768) == full / 2 + full / 16
    assert list(half.kv_cache_elements_per_token(np.array([1024, 8192]))) == [full, full / 2 + full / 4]


def test_mistral_7b_rolling_buffer_cache_is_8x_smaller_at_32k():
    # Jiang et al. 2023 (Mistral 7B), §2: a 4096-token window makes the cache 8x smaller at 32k tokens
    spec = get_preset("mistral-7b")
    full = spec.with_(sliding_window=0)
    assert full.kv_cache_elements_per_token(32768) == 8 * spec.kv_cache_elements_per_token(32768)
    assert spec.kv_cache_elements_per_token(4096) == full.kv_cache_elements_per_token(4096)


def test_deepseek_v2_mla_caches_4_5_head_widths_per_layer():
    # Bi et al. 2024 (DeepSeek-V2), Table 1: MLA caches (d_c + d_h^R) l = 4.5 d_h l elements per token, with
    # d_c = 4 d_h = 512 and d_h^R = d_h / 2 = 64; MHA would cache 2 n_h d_h l
    spec = get_preset("deepseek-v2")
    assert spec.attention_kind == "MLA" and spec.n_layer == 60
    assert spec.kv_cache_elements_per_token() == 4.5 * 128 * 60
    assert spec.kv_cache_elements_per_token(tp=8) == 4.5 * 128 * 60  # the latent is not split by heads
    assert spec.kv_cache_elements_per_token(4096) == spec.kv_cache_elements_per_token(131072)


def test_gemma_3_five_local_layers_per_global_layer():
    # Gemma Team 2025 (Gemma 3), §2.1: 5 local sliding-window layers for every global layer
    spec = get_preset("gemma-3-1b")
    assert spec.n_layer == 26 and spec.windowed_layers == 22 and spec.sliding_window == 512
    context = 32768
    per_layer = 2 * spec.kv_heads * spec.head_dim
    assert spec.kv_cache_elements_per_token(context) == per_layer * (4 * context + 22 * 512) / context
    assert "22 layers" in spec.kv_cache_rule


def test_moe_parts_deepseek_v3():
    # DeepSeek-AI 2024 (DeepSeek-V3), §4.2: 61 layers, the first 3 dense; 1 shared + 256 routed experts of
    # width 2048, 8 active; MLA with d_c 512, d_h^R 64, query rank 1536
    spec = get_preset("deepseek-v3")
    assert (
        spec.dense_layers,
        spec.n_experts,
        spec.experts_per_token,
        spec.d_ff_expert,
        spec.d_ff_shared,
    ) == (3, 256, 8, 2048, 2048)
    assert (spec.q_lora_rank, spec.kv_lora_rank, spec.qk_rope_head_dim) == (1536, 512, 64)
    assert spec.routed_expert_params == 58 * 256 * 3 * 7168 * 2048
    assert spec.params == spec.active_params + 58 * (256 - 8) * 3 * 7168 * 2048
    per_layer = spec.ffn_weights_per_layer() + spec.attention_weights()
    routers = 58 * 256 * 7168
    assert spec.active_params_non_embedding == pytest.approx(61 * per_layer + routers, rel=1e-4)  # + norms


@given(
    layers=st.integers(1, 64),
    heads=st.sampled_from([1, 2, 4, 8, 16]),
    kv_div=st.sampled_from([1, 2, 4]),
    head_dim=st.sampled_from([16, 64, 128]),
    experts=st.integers(1, 16),
    top=st.integers(1, 4),
    shared=st.integers(0, 512),
    dense=st.integers(0, 3),
    window=st.integers(0, 4096),
    context=st.integers(1, 65536),
    mla=st.booleans(),
)
def test_spec_invariants(layers, heads, kv_div, head_dim, experts, top, shared, dense, window, context, mla):
    """Any valid combination of parts: the breakdown sums to the total, active never exceeds total (equal for
    dense models), and the KV cache per token never grows with the context."""
    top = min(top, experts)
    moe = experts > 1
    try:
        spec = ModelSpec(
            n_layer=layers,
            d_model=heads * head_dim,
            n_head=heads,
            n_kv_head=max(1, heads // kv_div),
            n_experts=experts,
            experts_per_token=top,
            d_ff_shared=shared if moe else 0,
            dense_layers=dense if moe and dense < layers else 0,
            sliding_window=window,
            gated_ffn=True,
            kv_lora_rank=64 if mla and head_dim > 16 else 0,
            qk_rope_head_dim=16 if mla and head_dim > 16 else 0,
            vocab_size=1000,
        )
    except ScalingError:
        return
    assert spec.params == sum(spec.param_breakdown().values())
    assert spec.active_params <= spec.params
    assert (spec.active_params == spec.params) == (not spec.is_moe or top == experts)
    assert spec.kv_cache_elements_per_token(context) >= spec.kv_cache_elements_per_token(context + 1)


@given(
    key=st.sampled_from(
        ["n_layer", "d_model", "n_head", "vocab_size", "d_ff", "n_kv_head", "sliding_window"]
    ),
    value=st.one_of(
        st.integers(-(10**30), 10**30),
        st.floats(allow_nan=True),
        st.booleans(),
        st.text(max_size=5),
        st.none(),
    ),
)
def test_spec_fields_refuse_bad_values_with_scaling_error(key, value):
    """Whatever lands in a size field: a spec, or one ScalingError naming the field,
    never another exception."""
    try:
        spec = ModelSpec(n_layer=2, d_model=64, n_head=4).with_(**{key: value})
    except ScalingError as exc:
        assert key in str(exc) or "n_kv_head" in str(exc) or "d_model" in str(exc)
        return
    assert spec.params > 0


def test_models_command_lists_the_new_families_with_active_params():
    from click.testing import CliRunner

    from scaling.cli import main

    result = CliRunner().invoke(main, ["models", "deepseek-v3"])
    assert result.exit_code == 0, result.output
    assert "671,026,404,352" in result.output and "37.6B" in result.output and "active" in result.output
    listed = CliRunner().invoke(main, ["models"]).output
    for name in (
        "qwen3-8b",
        "qwen3-30b-a3b",
        "gemma-3-1b",
        "olmo-2-7b",
        "olmoe-1b-7b",
        "starcoder2-3b",
        "gpt-j-6b",
        "opt-350m",
        "command-r",
        "stablelm-3b-4e1t",
        "mpt-7b",
        "bart-large",
        "roberta-base",
    ):
        assert name in listed
