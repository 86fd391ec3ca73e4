"""The precisions a serving search may choose from, which accelerators run them, and the caution they carry.

A serving precision is three dtypes: the math and activations', the weights' storage and the KV cache's.
The search (`scaling.serving.search.cheapest_serving` with ``search_precision``) considers:

* the 16-bit baseline (bf16, or fp16 where the accelerator lists no bf16 peak);
* fp8 weights, math and KV cache, where the catalog lists an fp8 peak (Hopper, Ada, Blackwell, MI300: the
  configuration of TensorRT-LLM's published FP8 tables);
* int8 and int4 weight-only quantization with 16-bit math and KV cache, where the catalog lists an int8
  peak (the integer tensor-core generations that weight-only kernels target: TensorRT-LLM's weight-only GEMMs,
  and Marlin's FP16xINT4 kernel, which needs compute capability 8.0; Frantar et al. 2024, IST-DASLab/marlin).
  Decode reads 1 or 0.5 bytes per weight and the math runs at the 16-bit peak
  (the efficiency rows in ``data/serving_efficiency.csv`` say where each number comes from).

Lower precision changes the model's outputs; the search says so in one line (`quality_caveat`) and leaves the
size of the change to the user's own evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

from scaling.catalog import Accelerator
from scaling.memory import dtype_bytes


@dataclass(frozen=True)
class ServingPrecision:
    """The dtypes of one way to serve: ``precision`` (math, activations), ``quant`` (weight storage; None:
    the precision) and ``kv_dtype`` (None: the precision)."""

    precision: str = "bf16"
    quant: str | None = None
    kv_dtype: str | None = None

    @property
    def weight_dtype(self) -> str:
        return self.quant or self.precision

    @property
    def label(self) -> str:
        """``bf16``, ``fp8`` (all three dtypes), or ``int4 weights, bf16 math`` (weight-only)."""
        kv = self.kv_dtype or self.precision
        if self.weight_dtype == self.precision == kv:
            return self.precision
        text = f"{self.weight_dtype} weights, {self.precision} math"
        return text if kv == self.precision else f"{text}, {kv} KV cache"

    @property
    def is_reduced(self) -> bool:
        """Whether the weights or the KV cache are stored below 16 bits."""
        return min(dtype_bytes(self.weight_dtype), dtype_bytes(self.kv_dtype or self.precision)) < 2


def sixteen_bit(acc: Accelerator) -> str:
    """bf16 where the accelerator lists a bf16 peak, else fp16 (V100)."""
    return "bf16" if "bf16" in acc.peak_flops else "fp16"


def supported_precisions(acc: Accelerator) -> tuple[ServingPrecision, ...]:
    """The precisions ``acc`` runs (see the module doc), widest first."""
    base = sixteen_bit(acc)
    found = [ServingPrecision(base)]
    if "fp8" in acc.peak_flops:
        found.append(ServingPrecision("fp8", None, "fp8"))
    if "int8" in acc.peak_flops:
        found += [ServingPrecision(base, "int8"), ServingPrecision(base, "int4")]
    return tuple(found)


def quality_caveat(p: ServingPrecision) -> str | None:
    """One line for a precision below 16 bits: it changes the outputs, by an amount to measure, not assume."""
    if not p.is_reduced:
        return None
    return (
        f"{p.label} changes the model's outputs: check its quality on your own evaluation before serving "
        "(the estimate prices speed only)"
    )
