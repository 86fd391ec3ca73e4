"""Hugging Face config.json -> ModelSpec, checked against the checkpoints' published parameter counts.

The fixtures under tests/fixtures/hf/ are the released config.json files (fields as published on the Hub).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaling.errors import ScalingError
from scaling.model import SUPPORTED_MODEL_TYPES, load_model, spec_from_hf_config

FIXTURES = Path(__file__).parent / "fixtures" / "hf"

# Published counts: the model cards / `model.num_parameters()` of the released checkpoints.
PUBLISHED = {
    "gpt2": 124_439_808,
    "llama-2-7b": 6_738_415_616,
    "meta-llama-3-8b": 8_030_261_248,
    "mistral-7b-v0.1": 7_241_732_096,
    "mixtral-8x7b-v0.1": 46_702_792_704,
    "qwen2-7b": 7_615_616_512,
    "gemma-7b": 8_537_680_896,
    "gemma-2b": 2_506_172_416,
    "falcon-7b": 6_921_720_704,
    "phi-2": 2_779_683_840,
    "gpt-neox-20b": 20_554_567_680,
    "pythia-160m": 162_322_944,
    "bert-base-uncased": 109_482_240,
    "t5-small": 60_506_624,
    "flan-t5-small": 76_961_152,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_hf_config_exact_published_param_count(name):
    spec = spec_from_hf_config(FIXTURES / f"{name}.json")
    assert spec.params == PUBLISHED[name]


def test_falcon_40b_new_decoder_architecture():
    """40B style: GQA with num_kv_heads 8 and two LayerNorms per layer (ln_attn, ln_mlp); our arithmetic
    gives 41,303,293,952 (the model card says 40B / 41.3B)."""
    spec = spec_from_hf_config(FIXTURES / "falcon-40b.json")
    assert spec.kv_heads == 8 and spec.norms_per_layer == 2 and spec.parallel_block
    assert spec.params == 41_303_293_952


def test_falcon_7b_is_multi_query_with_one_norm():
    spec = spec_from_hf_config(FIXTURES / "falcon-7b.json")
    assert spec.kv_heads == 1 and spec.norms_per_layer == 1 and spec.attention_kind == "MQA"


def test_mixtral_active_params_12_9b():
    spec = spec_from_hf_config(FIXTURES / "mixtral-8x7b-v0.1.json")
    assert spec.n_experts == 8 and spec.experts_per_token == 2
    assert spec.active_params == pytest.approx(12.9e9, rel=0.01)


def test_gemma_ties_embeddings_and_uses_head_dim():
    spec = spec_from_hf_config(FIXTURES / "gemma-7b.json")
    assert spec.tied_embeddings and spec.head_dim == 256 and spec.d_attn == 4096 != spec.d_model


def test_flan_t5_is_gated_and_untied_t5_is_not():
    flan = spec_from_hf_config(FIXTURES / "flan-t5-small.json")
    t5 = spec_from_hf_config(FIXTURES / "t5-small.json")
    assert flan.gated_ffn and not flan.tied_embeddings and flan.arch == "encoder-decoder"
    assert not t5.gated_ffn and t5.tied_embeddings and t5.n_encoder_layer == t5.n_layer == 6


def test_hf_config_matches_presets():
    for fixture, preset in [("gpt2", "gpt2"), ("llama-2-7b", "llama-2-7b"), ("bert-base-uncased", "bert-base-uncased"),
                            ("t5-small", "t5-small"), ("flan-t5-small", "flan-t5-small"), ("mistral-7b-v0.1", "mistral-7b")]:  # fmt: skip
        assert spec_from_hf_config(FIXTURES / f"{fixture}.json").params == load_model(preset).params


def test_hf_config_accepts_dict_folder_and_load_model(tmp_path):
    data = json.loads((FIXTURES / "llama-2-7b.json").read_text())
    assert spec_from_hf_config(data).params == PUBLISHED["llama-2-7b"]
    (tmp_path / "config.json").write_text(json.dumps(data))
    assert spec_from_hf_config(tmp_path).params == PUBLISHED["llama-2-7b"]
    assert load_model(tmp_path).params == PUBLISHED["llama-2-7b"]
    assert load_model(str(tmp_path / "config.json")).params == PUBLISHED["llama-2-7b"]


def test_model_type_missing_falls_back_to_architectures():
    data = json.loads((FIXTURES / "llama-2-7b.json").read_text())
    del data["model_type"]
    assert spec_from_hf_config(data).params == PUBLISHED["llama-2-7b"]


def test_unsupported_model_type_names_supported_types(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "mamba", "hidden_size": 768}))
    with pytest.raises(ScalingError) as info:
        spec_from_hf_config(path)
    message = str(info.value)
    assert str(path) in message and "mamba" in message and "llama" in message and "t5" in message
    assert "\n" not in message
    assert "gpt_neox" in SUPPORTED_MODEL_TYPES


def test_missing_key_names_file_and_key(tmp_path):
    data = json.loads((FIXTURES / "llama-2-7b.json").read_text())
    del data["intermediate_size"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ScalingError, match="intermediate_size") as info:
        spec_from_hf_config(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("bad", [{"hidden_size": -4096}, {"hidden_size": "big"}, {"num_attention_heads": 0},
                                 {"tie_word_embeddings": "no"}, {"num_hidden_layers": 2.5}])  # fmt: skip
def test_bad_values_raise_scaling_error(bad):
    data = json.loads((FIXTURES / "llama-2-7b.json").read_text()) | bad
    with pytest.raises(ScalingError, match=next(iter(bad))):
        spec_from_hf_config(data)


def test_malformed_json_and_missing_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ScalingError, match="JSON"):
        spec_from_hf_config(path)
    path.write_text("[1, 2]")
    with pytest.raises(ScalingError, match="object"):
        spec_from_hf_config(path)
    with pytest.raises(ScalingError, match="does not exist"):
        spec_from_hf_config(tmp_path / "nope.json")
