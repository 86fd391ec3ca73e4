"""Read a Hugging Face ``config.json`` into a `ModelSpec`, as plain JSON (no transformers, no network).

The family is chosen from ``model_type`` (then ``architectures``). Each family is a mapping of its config keys
onto the spec's parts (attention, positions, norms, feed-forward, embeddings), following what transformers
builds from that config, so the parameter count is exact; ``tests/test_hf_config.py`` checks every family
against transformers itself on PyTorch's meta device.

* llama-style decoders (one reader with a few family traits, ``hf_llama.py``): llama, mistral, mixtral, qwen2,
  qwen2_moe, qwen3, qwen3_moe, gemma, gemma2, gemma3_text, phi3, olmo, olmo2, olmoe, granite, cohere,
  stablelm, starcoder2, deepseek_v2, deepseek_v3 (MLA, shared experts, first layers dense);
* a reader each (``hf_families.py``): gpt2, gpt_neox, gptj, falcon, phi, bloom, mpt, opt (learned positions
  with an offset of 2, projections when ``word_embed_proj_dim`` differs); the encoders bert and roberta; the
  encoder-decoders t5 / mt5 (v1.0 ReLU tied, v1.1 gated untied) and bart;
* a multimodal config (``text_config``, e.g. Gemma 3) is read for its language model, saying so;
* an unknown ``model_type`` with the standard keys is read as a llama-style decoder, and every assumption that
  took is listed in ``ModelSpec.assumptions``; a config missing what the count needs names the missing keys.

This module loads the file and picks the reader; every reader reads the config through `hf_keys.Config`, which
names the file and the key in every error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from scaling import inputs
from scaling.errors import ScalingError
from scaling.model import hf_families as families
from scaling.model.hf_keys import Config, common_fields
from scaling.model.hf_llama import DECODER_TRAITS, decoder, generic
from scaling.model.spec import ModelSpec

_READERS: dict[str, Callable[[Config], ModelSpec]] = {
    **{family: (lambda cfg, family=family: decoder(cfg, family)) for family in DECODER_TRAITS},
    "gpt2": families.gpt2,
    "gptj": families.gptj,
    "gpt_neox": families.gpt_neox,
    "falcon": families.falcon,
    "RefinedWeb": families.falcon,
    "RefinedWebModel": families.falcon,
    "phi": families.phi,
    "bloom": families.bloom,
    "mpt": families.mpt,
    "opt": families.opt,
    "bert": families.bert,
    "roberta": lambda cfg: families.bert(cfg, "roberta"),
    "t5": families.t5,
    "mt5": families.t5,
    "bart": families.bart,
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
    path = inputs.checked_path(path_or_dict, "config")
    origin = str(path)
    try:
        path = path.expanduser()
        if path.is_dir():
            path = path / "config.json"
            origin = str(path)
    except (OSError, RuntimeError) as exc:  # a name too long for the file system, ~no-such-user
        raise ScalingError(f"{origin[:80]}: not a readable config path ({type(exc).__name__})") from None
    text = inputs.read_text(path, "config file")
    # JSON has no NaN or Infinity: a config holding them is damaged, not a size to count with
    parse = {"parse_constant": lambda name: _refuse_constant(origin, name)}
    return inputs.parse_json(text, f"{origin}: the config", **parse), origin


def _refuse_constant(origin: str, name: str) -> Any:
    raise ScalingError(f"{origin}: {name} is not a number a config may hold (JSON has no NaN or Infinity)")


def _family(cfg: Config) -> str | None:
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
    cfg = Config(data, origin)
    try:
        spec = _read(cfg)
    except ScalingError as exc:
        message = str(exc)
        raise ScalingError(message if message.startswith(origin) else f"{origin}: {message}") from None
    return spec.with_(name=name) if name else spec


def _read(cfg: Config, *, outer: bool = True) -> ModelSpec:
    family = _family(cfg)
    if family in _READERS:
        spec = _READERS[family](cfg)
        model_type = cfg.data.get("model_type")
        if model_type and model_type != family:  # a family known only from its architectures entry
            note = (
                f"model_type {model_type!r} is not a known family: counted with the {family} rules its "
                f"architectures entry names"
            )
            spec = spec.with_(assumptions=(note, *spec.assumptions))
        return spec
    text = cfg.data.get("text_config")
    if outer and isinstance(text, dict) and ("hidden_size" in text or "vocab_size" in text):
        if "model_type" not in text and f"{family}_text" in _READERS:  # Gemma 3's text_config may omit it
            text = {**text, "model_type": f"{family}_text"}
        inner = _read(Config(text, f"{cfg.origin} text_config"), outer=False)
        note = (
            f"a {family or 'multimodal'} config: its language model (text_config) only; other towers "
            "not counted"
        )
        return inner.with_(name=common_fields(cfg, "")["name"], assumptions=(note, *inner.assumptions))
    return generic(cfg, str(family) if family else "(none)", SUPPORTED_MODEL_TYPES)
