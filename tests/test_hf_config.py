"""Hugging Face config.json -> ModelSpec, checked against the checkpoints' published parameter counts.

The fixtures under tests/fixtures/hf/ are the released config.json files (fields as published on the Hub).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    for fixture, preset in [
        ("gpt2", "gpt2"),
        ("llama-2-7b", "llama-2-7b"),
        ("bert-base-uncased", "bert-base-uncased"),
        ("t5-small", "t5-small"),
        ("flan-t5-small", "flan-t5-small"),
        ("mistral-7b-v0.1", "mistral-7b"),
    ]:
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


@pytest.mark.parametrize(
    "bad",
    [
        {"hidden_size": -4096},
        {"hidden_size": "big"},
        {"num_attention_heads": 0},
        {"tie_word_embeddings": "no"},
        {"num_hidden_layers": 2.5},
    ],
)
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


# ------------------------------------------------------------------ every family against transformers itself
TRANSFORMERS_FIXTURES = sorted((FIXTURES / "transformers").glob("*.json"))


def _fixture(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("path", TRANSFORMERS_FIXTURES, ids=lambda p: p.stem)
def test_count_equals_transformers_meta_device_count(path):
    """Our count from the config equals sum(p.numel()) of the model transformers builds from the same config
    (stored with its transformers version by tests/fixtures/hf/make_transformers_fixtures.py)."""
    record = _fixture(path)
    assert spec_from_hf_config(record["config"]).params == record["params"]


@pytest.mark.parametrize("path", TRANSFORMERS_FIXTURES, ids=lambda p: p.stem)
def test_count_equals_installed_transformers(path):
    """The same check against the installed transformers, built on PyTorch's meta device (no memory)."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tests.fixtures.hf.make_transformers_fixtures import build_count

    transformers.logging.set_verbosity_error()
    record = _fixture(path)
    config = dict(record["config"])
    model_type = config.pop("model_type")
    _, params = build_count(model_type, transformers.AutoConfig.for_model(model_type, **config))
    assert spec_from_hf_config(record["config"]).params == params


def test_every_family_has_a_transformers_fixture():
    families = {_fixture(p)["config"]["model_type"] for p in TRANSFORMERS_FIXTURES}
    wanted = {
        "qwen3",
        "qwen3_moe",
        "qwen2_moe",
        "deepseek_v2",
        "deepseek_v3",
        "gemma3_text",
        "olmo",
        "olmo2",
        "olmoe",
        "starcoder2",
        "gptj",
        "bloom",
        "opt",
        "granite",
        "cohere",
        "stablelm",
        "mpt",
        "bart",
        "roberta",
        "llama",
        "mistral",
        "mixtral",
        "gemma2",
        "phi3",
        "phi",
        "gpt_neox",
        "falcon",
        "t5",
    }
    assert wanted <= families
    assert wanted <= set(SUPPORTED_MODEL_TYPES)


# ---------------------------------------------------------------- active parameters of MoE models (published)
def _spec(name: str):
    return spec_from_hf_config(_fixture(FIXTURES / "transformers" / f"{name}.json")["config"])


def test_mixtral_8x7b_active_12_9b_of_46_7b():
    # Jiang et al. 2024 (Mixtral of Experts), §2: 47B parameters, 13B active (the model card: 46.7B / 12.9B)
    spec = _spec("mixtral-8x7b")
    assert spec.params == pytest.approx(46.7e9, rel=0.005)
    assert spec.active_params == pytest.approx(12.9e9, rel=0.005)


def test_deepseek_v3_active_37b_of_671b():
    # DeepSeek-AI 2024 (DeepSeek-V3 Technical Report), abstract: 671B total, 37B activated per token
    spec = _spec("deepseek-v3")
    assert spec.params == pytest.approx(671e9, rel=0.001)
    assert spec.active_params == pytest.approx(37e9, rel=0.02)
    assert spec.attention_kind == "MLA" and spec.dense_layers == 3 and spec.d_ff_shared == 2048


def test_deepseek_v2_without_top_k_counts_its_total_and_says_the_active_count_needs_it(tmp_path):
    # transformers' own DeepseekV2Config() leaves num_experts_per_tok null: it was refused as "missing key"
    from click.testing import CliRunner

    from scaling.cli import main

    config = dict(_fixture(FIXTURES / "transformers" / "deepseek-v2.json")["config"])
    config["num_experts_per_tok"] = None
    spec = spec_from_hf_config(config)
    assert spec.params == _spec("deepseek-v2").params  # the fixture's count is the installed transformers'
    assert "top-k not given/160 experts" in spec.describe()
    with pytest.raises(ScalingError, match="no top-k .*num_experts_per_tok.*active count"):
        _ = spec.active_params
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = CliRunner().invoke(main, ["flops", str(path), "--tokens", "1T"])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert f"{spec.params:,} parameters, is exact" in result.output and "need top-k" in result.output


def test_olmoe_1b_7b_active_1_3b_of_6_9b():
    # Muennighoff et al. 2024 (OLMoE), Table 1: 6.9B total, 1.3B active
    spec = _spec("olmoe-1b-7b")
    assert spec.params == pytest.approx(6.9e9, rel=0.005)
    assert spec.active_params == pytest.approx(1.3e9, rel=0.02)


def test_qwen3_30b_a3b_active_3_3b_of_30_5b():
    # Qwen Team 2025 (Qwen3 Technical Report), Table 2 and the model card: 30.5B total, 3.3B activated
    spec = _spec("qwen3-30b-a3b")
    assert spec.params == pytest.approx(30.5e9, rel=0.005)
    assert spec.active_params == pytest.approx(3.3e9, rel=0.02)


def test_moe_flops_per_token_use_active_params():
    from scaling.flops import training_flops

    spec = _spec("deepseek-v3")
    result = training_flops(spec, tokens=1e12)
    assert result.flops == pytest.approx(6 * spec.active_params * 1e12)


# ------------------------------------------------------------------ unknown families and damaged configs
STANDARD = {
    "model_type": "brand_new",
    "hidden_size": 1024,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "intermediate_size": 2816,
    "vocab_size": 32000,
}


def test_unknown_model_type_with_standard_keys_uses_generic_rules_and_lists_assumptions():
    spec = spec_from_hf_config(STANDARD)
    llama_like = spec_from_hf_config(STANDARD | {"model_type": "llama"})
    assert spec.params == llama_like.params
    assert spec.assumptions and "brand_new" in spec.assumptions[0]
    assert any("untied" in a for a in spec.assumptions) and not llama_like.assumptions
    assert spec.to_dict()["assumptions"] == list(spec.assumptions)


def test_unknown_model_type_missing_keys_names_every_missing_key():
    data = {k: v for k, v in STANDARD.items() if k not in ("intermediate_size", "vocab_size")}
    with pytest.raises(ScalingError, match="intermediate_size, vocab_size") as info:
        spec_from_hf_config(data)
    assert "brand_new" in str(info.value)


def test_multimodal_config_reads_its_text_config_and_says_so():
    text = _fixture(FIXTURES / "transformers" / "gemma-3-1b.json")["config"]
    data = {
        "model_type": "gemma3",
        "architectures": ["Gemma3ForConditionalGeneration"],
        "text_config": {k: v for k, v in text.items() if k != "model_type"},
        "vision_config": {"hidden_size": 1152},
    }
    spec = spec_from_hf_config(data)
    assert spec.params == _spec("gemma-3-1b").params
    assert "text_config" in spec.assumptions[0]


@pytest.mark.parametrize(
    "text, key",
    [
        ('"hidden_size": NaN', "NaN"),
        ('"hidden_size": Infinity', "Infinity"),
        ('"hidden_size": -Infinity', "Infinity"),
        ('"num_hidden_layers": 1e308', "n_layer"),
        ('"num_hidden_layers": 1e12', "n_layer"),
        ('"hidden_size": ' + "9" * 400, "hidden_size"),
        ('"vocab_size": 1e400', "vocab_size"),
        ('"model_type": ["llama"]', "model_type"),
        ('"model_type": {"a": 1}', "model_type"),
        ('"model_type": "x", "architectures": 7', "architectures"),
        ('"num_hidden_layers": "32"', "num_hidden_layers"),
        ('"num_hidden_layers": true', "num_hidden_layers"),
        ('"hidden_size": 4096.5', "hidden_size"),
    ],
)
def test_damaged_config_values_give_one_clear_error(tmp_path, text, key):
    """NaN/Infinity, absurd sizes, 400-digit integers and wrongly typed keys:
    one ScalingError naming the key."""
    base = json.loads((FIXTURES / "llama-2-7b.json").read_text())
    name = text.split('"')[1]
    base.pop(name, None)
    if name == "model_type":
        base.pop("architectures", None)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(base)[:-1] + ", " + text + "}")
    with pytest.raises(ScalingError, match=key) as info:
        spec_from_hf_config(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_flops_command_prints_the_generic_assumptions(tmp_path):
    from click.testing import CliRunner

    from scaling.cli import main

    path = tmp_path / "config.json"
    path.write_text(json.dumps(STANDARD))
    result = CliRunner().invoke(main, ["flops", str(path), "--tokens", "1T"])
    assert result.exit_code == 0, result.output
    assert "brand_new" in result.output and "untied" in result.output


# ------------------------------------------------------------------ KV cache against transformers' caches
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "vocab_size": 100}
KV_CASES = {
    "gqa": ("llama", TINY | {"num_hidden_layers": 2, "num_key_value_heads": 2}),
    "mla": (
        "deepseek_v3",
        TINY
        | {
            "num_hidden_layers": 2,
            "num_key_value_heads": 4,
            "moe_intermediate_size": 32,
            "n_routed_experts": 4,
            "num_experts_per_tok": 2,
            "n_group": 1,
            "topk_group": 1,
            "first_k_dense_replace": 1,
            "q_lora_rank": 16,
            "kv_lora_rank": 8,
            "qk_nope_head_dim": 8,
            "qk_rope_head_dim": 4,
            "v_head_dim": 8,
        },
    ),
    "sliding": ("mistral", TINY | {"num_hidden_layers": 2, "num_key_value_heads": 2, "sliding_window": 8}),
    "local-global": (
        "gemma3_text",
        TINY
        | {
            "num_hidden_layers": 3,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "sliding_window": 8,
            "sliding_window_pattern": 3,
        },
    ),
}


@pytest.mark.parametrize("case", sorted(KV_CASES))
def test_kv_cache_per_token_matches_transformers_cache(case):
    """Elements transformers' cache holds after a 24-token prompt, per token, equal ours at context 24.

    GQA caches kv_heads x d_head for K and for V; MLA caches the latent (kv_lora_rank) and the shared rotary
    key (qk_rope_head_dim); a sliding-window layer keeps window - 1 past tokens, and with the token being
    decoded it attends over the window (Jiang et al. 2023, Mistral 7B §2), which is what we count.
    """
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    model_type, fields = KV_CASES[case]
    config = transformers.AutoConfig.for_model(model_type, **fields)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    tokens = 24
    with torch.no_grad():
        cache = model(torch.zeros(1, tokens, dtype=torch.long), use_cache=True).past_key_values
    held = 0
    for layer in cache.layers:
        per_token = (layer.keys.numel() + layer.values.numel()) // layer.keys.shape[-2]
        cached = layer.keys.shape[-2]
        held += per_token * (cached + 1 if cached < tokens else cached)  # + the decoded token in a window
    spec = spec_from_hf_config(json.loads(config.to_json_string(use_diff=True)))
    assert spec.kv_cache_elements_per_token(tokens) * tokens == held
    assert (case in ("sliding", "local-global")) == (spec.windowed_layers > 0)


@pytest.mark.parametrize(
    "name", ["deepseek-v3", "deepseek-v2-lite", "qwen3-30b-a3b", "qwen1.5-moe-a2.7b", "olmoe-1b-7b"]
)
def test_exact_matmul_flops_follow_the_active_parameters(name):
    """Hoffmann et al. 2022, App. F: a layer's matmuls cost 2 FLOPs per weight a token meets, so the forward
    projection and FFN terms are 2 x the active non-embedding parameters (less norms and biases), for MoE with
    shared experts and dense first layers and for MLA alike."""
    from scaling.flops import forward_flops_per_token

    spec = _spec(name)
    terms = forward_flops_per_token(spec, seq_len=1024)
    matmuls = (
        terms["attention_qkv"] + terms["attention_output"] + terms.get("ffn", 0) + terms.get("router", 0)
    )
    assert matmuls == pytest.approx(2 * spec.active_params_non_embedding, rel=2e-4)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**400), 10**400) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(fixture=st.sampled_from(TRANSFORMERS_FIXTURES), data=st.data())
def test_any_damaged_key_gives_a_spec_or_one_scaling_error(fixture, data):
    """Replace one key of a real config by any JSON value (NaN, 400-digit integers, lists, objects...): the
    reader returns a spec or raises ScalingError, never another exception."""
    config = dict(_fixture(fixture)["config"])
    key = data.draw(st.sampled_from(sorted(config)))
    config[key] = data.draw(JSON_VALUES)
    try:
        spec = spec_from_hf_config(config)
    except ScalingError as exc:
        assert "\n" not in str(exc)
        return
    assert spec.params > 0


def test_partial_rotary_is_read_and_has_no_parameters():
    # phi-2: partial_rotary_factor 0.4; GPT-NeoX-20B: rotary_pct 0.25 (Black et al. 2022, §2.1);
    # GPT-J: 64 of 256
    assert spec_from_hf_config(FIXTURES / "phi-2.json").rotary_fraction == 0.4
    neox = spec_from_hf_config(FIXTURES / "gpt-neox-20b.json")
    assert neox.rotary_fraction == 0.25 and "rotary on 25%" in neox.describe()
    assert _spec("gpt-j-6b").rotary_fraction == 0.25
    assert neox.with_(rotary_fraction=1.0).params == neox.params
    data = json.loads((FIXTURES / "phi-2.json").read_text()) | {"partial_rotary_factor": 1.5}
    with pytest.raises(ScalingError, match="rotary"):
        spec_from_hf_config(data)


@pytest.mark.parametrize(
    "name", ["a" * 5000, "x/" * 3000 + "config.json", "~no-such-user-xyz/config.json", "a\x00b"]
)
def test_model_arguments_the_file_system_refuses_are_one_error(name):
    with pytest.raises(ScalingError):
        load_model(name)
    with pytest.raises(ScalingError):
        spec_from_hf_config(name)


def test_nan_in_a_config_file_is_named_once(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"model_type": "llama", "hidden_size": NaN}')
    with pytest.raises(ScalingError) as info:
        spec_from_hf_config(path)
    assert str(info.value) == f"{path}: NaN is not a number a config may hold (JSON has no NaN or Infinity)"
