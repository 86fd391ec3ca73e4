"""Model presets: the rows of ``data/models.csv`` as `ModelSpec` objects, and `load_model` for any model
argument."""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from scaling.catalog import normalize_name, read_csv, unknown
from scaling.errors import ScalingError
from scaling.model.spec import ModelSpec

_BOOL = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False, "": False}
_INT_FIELDS = {
    "n_layer",
    "d_model",
    "n_head",
    "n_kv_head",
    "d_head",
    "d_ff",
    "vocab_size",
    "n_ctx",
    "n_encoder_layer",
    "n_positions",
    "relative_buckets",
    "norms_per_layer",
    "token_types",
    "n_experts",
    "experts_per_token",
    "sliding_window",
    "sliding_layers",
    "q_lora_rank",
    "kv_lora_rank",
    "qk_rope_head_dim",
    "v_head_dim",
    "d_ff_expert",
    "d_ff_shared",
    "dense_layers",
    "d_embed",
}
_BOOL_FIELDS = {
    "gated_ffn",
    "qkv_bias",
    "out_bias",
    "mlp_bias",
    "final_norm",
    "embedding_norm",
    "tied_embeddings",
    "lm_head_bias",
    "pooler",
    "parallel_block",
    "shared_expert_gate",
}


def spec_from_row(row: dict[str, str]) -> ModelSpec:
    """A `ModelSpec` from one row of ``data/models.csv`` (empty cells take the dataclass default)."""
    kwargs: dict[str, Any] = {}
    for key, text in row.items():
        text = (text or "").strip()
        if key in ("params_published", "notes") or text == "":
            continue
        if key in _INT_FIELDS:
            kwargs[key] = int(float(text))
        elif key in _BOOL_FIELDS:
            kwargs[key] = _BOOL[text.lower()]
        elif key in ("training_tokens", "rotary_fraction"):
            kwargs[key] = float(text)
        elif key == "aliases":
            kwargs[key] = _aliases(text)
        else:
            kwargs[key] = text
    return ModelSpec(**kwargs)


def _aliases(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in (text or "").split(";") if a.strip())


@lru_cache(maxsize=1)
def _preset_index() -> dict[str, int]:
    """Row number in ``data/models.csv`` by normalised name and alias (a name wins over an earlier alias)."""
    index: dict[str, int] = {}
    for number, row in enumerate(_preset_rows()):
        index[normalize_name(row["name"])] = number
        for alias in _aliases(row.get("aliases", "")):
            index.setdefault(normalize_name(alias), number)
    return index


@lru_cache(maxsize=1)
def _preset_rows() -> list[dict[str, str]]:
    return read_csv("models.csv")


@cache
def _preset(number: int) -> ModelSpec:
    """The spec of one row, built on first use: a command that names one model validates one, not all."""
    return spec_from_row(_preset_rows()[number])


def presets() -> list[ModelSpec]:
    """Every model preset, in catalog order."""
    return [_preset(number) for number in sorted(set(_preset_index().values()))]


def get_preset(name: str) -> ModelSpec:
    """A preset by name, case-insensitively (``llama-2-7b``, ``GPT3-175B``), with close-match suggestions."""
    index = _preset_index()
    key = normalize_name(name)
    if key in index:
        return _preset(index[key])
    raise unknown("model", name, list(index), "scaling models")


def load_model(model: str | Path | ModelSpec) -> ModelSpec:
    """A model from a preset name, a path to a Hugging Face ``config.json`` (or its folder), or a spec."""
    if isinstance(model, ModelSpec):
        return model
    text = str(model).strip()
    path = _config_path(text)
    if path is not None:
        from scaling.model.hf_config import spec_from_hf_config  # only for a config.json: kept off startup

        return spec_from_hf_config(path)
    if text.endswith(".json"):
        raise ScalingError(f"config file {text[:200]!r} does not exist")
    return get_preset(text)


def _config_path(text: str) -> Path | None:
    """The ``config.json`` that ``text`` names (a file, or a folder holding one), else None: a preset name, or
    no such file (names too long for the file system, unknown users' ``~`` and NUL bytes included)."""
    try:
        path = Path(text).expanduser()
        if path.is_dir() and (path / "config.json").is_file():
            path = path / "config.json"
        return path if path.is_file() else None
    except (OSError, RuntimeError, ValueError):
        return None
