"""Hugging Face ``config.json`` reading lives in `scaling.model.hf_config`; this name keeps old imports working."""

from scaling.model.hf_config import SUPPORTED_MODEL_TYPES, spec_from_hf_config

__all__ = ["SUPPORTED_MODEL_TYPES", "spec_from_hf_config"]
