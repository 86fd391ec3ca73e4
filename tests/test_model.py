"""ModelSpec: every preset against its published parameter count, shape_for_params, validation errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
