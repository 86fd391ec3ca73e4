"""Bytes per element and per parameter: the one home of every dtype and optimizer-state rule.

Mixed-precision training (Micikevicius et al. 2018; Rajbhandari et al. 2019, "ZeRO", §3.1) keeps the weights
at the training dtype, an fp32 master copy of the trainable weights, gradients at the training dtype (at least
16-bit) and the optimizer's states. Serving and fine-tuning read the same numbers through `Precision` and
`dtype_bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaling import checks
from scaling.errors import ScalingError

DTYPE_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,  # stored as fp32
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,  # accelerate's convention: fp32 size / 8
    # Dettmers et al. 2023 (QLoRA) §3: 4-bit NF4 + double-quantized constants, 4.127 bits
    "nf4": 4.127 / 8.0,
}
DTYPE_ALIASES = {
    "float32": "fp32",
    "float": "fp32",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "float8": "fp8",
    "e4m3": "fp8",
    "e5m2": "fp8",
    "4bit": "int4",
    "8bit": "int8",
}
PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8")
QUANTS = ("int8", "int4", "nf4", "fp8")

# Optimizer states per trainable parameter, excluding the fp32 master copy (which is master_weights_bytes).
OPTIMIZER_STATE_BYTES: dict[str, float] = {
    "adamw": 8.0,  # ZeRO §3.1 / HF "Model memory anatomy": fp32 momentum + variance, 4 + 4
    "adam": 8.0,
    # DeepSeek-V3 §3.3.3 (arXiv 2412.19437): "BF16 ... to track the first and second moments in the AdamW
    # optimizer", master weights and gradients kept in FP32
    "adamw-bf16": 4.0,
    "adamw8bit": 2.0,  # Dettmers et al. 2022 (8-bit optimizers); HF anatomy: 2 B/param
    "adam8bit": 2.0,
    "paged-adamw8bit": 2.0,  # QLoRA's paged optimizer: same bytes, pages to CPU under pressure
    "paged-adamw": 8.0,
    "sgd": 4.0,  # SGD with momentum: one fp32 buffer (HF anatomy; Transformer Math 101)
    "lion": 4.0,  # one fp32 momentum (Chen et al. 2023)
    "adafactor": float("nan"),  # factored second moment: 4 x (rows + cols) per matrix (Shazeer & Stern 2018)
}
OPTIMIZER_ALIASES = {
    "adam-8bit": "adam8bit",
    "adamw-8bit": "adamw8bit",
    "8bit-adam": "adam8bit",
    "adamw_8bit": "adamw8bit",
    "paged_adamw_8bit": "paged-adamw8bit",
    "paged-adamw-8bit": "paged-adamw8bit",
    "paged-adamw8bit": "paged-adamw8bit",
    "adamw_bf16": "adamw-bf16",
    "sgd-momentum": "sgd",
    "sgd_momentum": "sgd",
    "momentum": "sgd",
}
MASTER_BYTES = 4.0  # the fp32 master copy of mixed precision (ZeRO §3.1)


def dtype_bytes(dtype: str, what: str = "dtype") -> float:
    """Bytes per element of a dtype name (``bf16`` -> 2, ``int4`` -> 0.5, ``nf4`` -> 4.127/8)."""
    return DTYPE_BYTES[checks.choice(dtype, tuple(DTYPE_BYTES), what, aliases=DTYPE_ALIASES)]


def _optional(value: Any) -> Any:
    return None if value is None or str(value).strip().lower() in ("", "none") else value


@dataclass(frozen=True)
class Precision:
    """The dtypes of a run and the bytes per parameter and per element they imply.

    ``dtype`` is the training (or serving) dtype of weights and activations; ``quant`` stores frozen weights
    quantized (QLoRA's NF4, int8/int4 serving); ``kv_dtype`` is the KV cache's dtype; ``grad_dtype`` overrides
    the gradients' dtype (Megatron accumulates in fp32). Build one with `Precision.of`,
    which checks the names.
    """

    dtype: str = "bf16"
    optimizer: str = "adamw"
    quant: str | None = None
    kv_dtype: str | None = None
    grad_dtype: str | None = None

    @classmethod
    def of(
        cls,
        dtype: str | Precision = "bf16",
        optimizer: str = "adamw",
        *,
        quant: str | None = None,
        kv_dtype: str | None = None,
        grad_dtype: str | None = None,
    ) -> Precision:
        """A checked `Precision` from user-facing names (aliases such as ``bfloat16`` and ``adamw_8bit``)."""
        if isinstance(dtype, Precision):
            return dtype
        quant, kv_dtype, grad_dtype = _optional(quant), _optional(kv_dtype), _optional(grad_dtype)
        return cls(
            dtype=checks.choice(dtype, PRECISIONS, "precision", aliases=DTYPE_ALIASES),
            optimizer=checks.choice(
                optimizer, tuple(OPTIMIZER_STATE_BYTES), "optimizer", aliases=OPTIMIZER_ALIASES
            ),
            quant=None
            if quant is None
            else checks.choice(quant, QUANTS, "quantization", aliases=DTYPE_ALIASES),
            kv_dtype=None
            if kv_dtype is None
            else checks.choice(kv_dtype, tuple(DTYPE_BYTES), "KV dtype", aliases=DTYPE_ALIASES),
            grad_dtype=None
            if grad_dtype is None
            else checks.choice(grad_dtype, tuple(DTYPE_BYTES), "gradient dtype", aliases=DTYPE_ALIASES),
        )

    @property
    def weight_bytes(self) -> float:
        """Bytes per trainable weight at the training dtype."""
        return DTYPE_BYTES[self.dtype]

    @property
    def stored_weight_bytes(self) -> float:
        """Bytes per frozen weight: the quantized size when quantized, else the training dtype."""
        return DTYPE_BYTES[self.quant] if self.quant else self.weight_bytes

    @property
    def master_bytes(self) -> float:
        """The fp32 master copy mixed precision keeps of each trainable weight (none when training
        in fp32)."""
        return MASTER_BYTES if self.weight_bytes < MASTER_BYTES else 0.0

    @property
    def grad_bytes(self) -> float:
        """Gradient bytes per trainable parameter: the training dtype, at least 16-bit (fp8 trains with
        bf16 grads)."""
        return DTYPE_BYTES[self.grad_dtype] if self.grad_dtype else max(self.weight_bytes, 2.0)

    @property
    def activation_bytes(self) -> float:
        """Bytes per saved activation value: the training dtype, at least one byte."""
        return max(self.weight_bytes, 1.0)

    @property
    def kv_bytes(self) -> float:
        """Bytes per KV-cache element: ``kv_dtype``, else the serving dtype."""
        return DTYPE_BYTES[self.kv_dtype] if self.kv_dtype else self.weight_bytes

    def optimizer_state_bytes(self, adafactor_ratio: float = 1.0) -> float:
        """Optimizer-state bytes per trainable parameter (Adafactor: fp32 row + column statistics, no
        momentum; ``adafactor_ratio`` is its state elements per parameter, `ModelShape.adafactor_ratio`)."""
        if self.optimizer == "adafactor":
            return 4.0 * adafactor_ratio
        return OPTIMIZER_STATE_BYTES[self.optimizer]

    def bytes_per_param(self, adafactor_ratio: float = 1.0) -> float:
        """Model-state bytes per trainable parameter: weights + master + gradients + optimizer (ZeRO's
        2 + 2 + K)."""
        return (
            self.weight_bytes
            + self.master_bytes
            + self.grad_bytes
            + self.optimizer_state_bytes(adafactor_ratio)
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(
            dtype=self.dtype,
            optimizer=self.optimizer,
            quant=self.quant,
            kv_dtype=self.kv_dtype,
            grad_dtype=self.grad_dtype,
            weight_bytes=self.weight_bytes,
            master_bytes=self.master_bytes,
            grad_bytes=self.grad_bytes,
            activation_bytes=self.activation_bytes,
            kv_bytes=self.kv_bytes,
        )


def check_quant_mode(precision: Precision, mode: str, lora_rank: int | None) -> None:
    """Quantized weights train only as frozen LoRA bases (QLoRA); inference may quantize freely."""
    if precision.quant and mode != "infer" and not (mode == "finetune" and lora_rank):
        raise ScalingError(
            f"quantization {precision.quant!r} in {mode} mode needs LoRA (QLoRA: --lora-rank with "
            "--quant nf4)"
        )
