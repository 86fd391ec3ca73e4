"""A Hugging Face ``config.json`` as typed keys: every error names the file and the key.

`Config` is what each family's reader (`scaling.model.hf_llama`, `scaling.model.hf_families`) reads the config
through; `rotary_fraction` and `common_fields` are the readings they share.
"""

from __future__ import annotations

from typing import Any

from scaling.checks import fraction, positive_int
from scaling.errors import ScalingError


class Config:
    """A config dict that names the file and the key in every error."""

    def __init__(self, data: dict[str, Any], origin: str):
        self.data, self.origin = data, origin

    def get(self, *keys: str, default: Any = None) -> Any:
        for key in keys:
            if self.data.get(key) is not None:
                return self.data[key]
        return default

    def int(self, *keys: str, default: Any = ..., allow_zero: bool = False) -> int:
        value = self.get(*keys)
        if value is None:
            if default is ...:
                raise ScalingError(f"{self.origin}: missing key {' or '.join(repr(k) for k in keys)}")
            return default
        if isinstance(value, str):  # a number written as a string is a damaged config, not a size
            raise ScalingError(f"{self.origin}: key {keys[0]!r} must be a whole number, got {value!r}")
        return positive_int(value, f"key {keys[0]!r}", allow_zero=allow_zero)

    def bool(self, *keys: str, default: bool = False) -> bool:
        value = self.get(*keys)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ScalingError(f"{self.origin}: key {keys[0]!r} must be true or false, got {value!r}")
        return value

    def text(self, *keys: str, default: str) -> str:
        value = self.get(*keys, default=default)
        if not isinstance(value, str):
            raise ScalingError(f"{self.origin}: key {keys[0]!r} must be a string, got {value!r}")
        return value

    def require(self, *keys: str) -> None:
        """Raise one error naming every key the count needs that the config lacks."""
        missing = [key for key in keys if self.data.get(key) is None]
        if missing:
            raise ScalingError(
                f"{self.origin}: missing key{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            )


def rotary_fraction(cfg: Config, default: float = 1.0) -> float:
    """The share of d_head that rotary positions turn: ``partial_rotary_factor`` (also inside
    ``rope_parameters``) or GPT-NeoX's ``rotary_pct``."""
    rope = cfg.get("rope_parameters", default={})
    value = rope.get("partial_rotary_factor") if isinstance(rope, dict) else None
    value = cfg.get("partial_rotary_factor", "rotary_pct", default=default) if value is None else value
    return fraction(value, f"{cfg.origin}: partial rotary factor")


def common_fields(cfg: Config, family: str) -> dict[str, Any]:
    return {
        "name": str(cfg.get("_name_or_path", default="") or cfg.origin),
        "family": family,
        "source": f"config.json ({cfg.origin})",
    }
