"""Model architectures and their exact parameter counts.

* ``spec.py``: `ModelSpec`, a transformer described by its parts, and every count derived from it;
* ``presets.py``: the presets of ``data/models.csv`` and `load_model` (a name, a ``config.json`` or a spec);
* ``shapes.py``: `shape_for_params`, a standard architecture for a parameter count;
* ``hf_config.py``: a Hugging Face ``config.json`` read as plain JSON into a `ModelSpec` (imported on first
  use of its names, so commands that never read a config do not load it), through ``hf_keys.py`` (typed keys),
  ``hf_llama.py`` (llama-style decoders and the generic rules) and ``hf_families.py`` (every other family).
"""

from typing import Any

from scaling.model.presets import get_preset, load_model, presets, spec_from_row
from scaling.model.shapes import shape_for_params
from scaling.model.spec import ARCHS, NORMS, POSITIONS, ModelSpec

__all__ = [
    "ARCHS",
    "NORMS",
    "POSITIONS",
    "SUPPORTED_MODEL_TYPES",
    "ModelSpec",
    "get_preset",
    "load_model",
    "presets",
    "shape_for_params",
    "spec_from_hf_config",
    "spec_from_row",
]


def __getattr__(name: str) -> Any:
    """The names of ``hf_config``, imported when first asked for."""
    if name in ("SUPPORTED_MODEL_TYPES", "spec_from_hf_config"):
        from scaling.model import hf_config

        value = getattr(hf_config, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
