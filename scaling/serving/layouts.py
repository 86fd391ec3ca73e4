"""The tensor-parallel sizes a replica may use and the smallest that holds a batch, from the memory
package's layout rules and inference memory (`scaling.memory.layout_rules`, `max_batch_and_context`)."""

from __future__ import annotations

from scaling.catalog import Accelerator, get_accelerator
from scaling.errors import ScalingError
from scaling.memory import device_count, dtype_bytes, layout_rules, max_batch_and_context
from scaling.model import ModelSpec, load_model
from scaling.serving.experts import expert_parallel


def tp_sizes(spec: ModelSpec, devices: int, up_to: int | None = None) -> list[int]:
    """Power-of-two tensor-parallel sizes (at most ``up_to``) that divide ``devices`` and pass the memory
    package's layout rules (`scaling.memory.layout_rules`: TP divides the heads, TP and KV heads divide; a
    MoE's experts spread or split over TP, `expert_parallel`)."""
    devices, sizes, tp = device_count(devices), [], 1
    while tp <= min(devices, up_to or devices):
        if all(bool(ok) for ok, _ in layout_rules(spec, devices, tp, 1, *expert_parallel(spec, tp))):
            sizes.append(tp)
        tp *= 2
    return sizes


def smallest_tp(
    model: ModelSpec | str,
    accelerator: str | Accelerator,
    devices: int,
    *,
    batch: int = 1,
    context: int = 2048,
    precision: str = "bf16",
    quant: str | None = None,
    kv_dtype: str | None = None,
) -> int:
    """The smallest power-of-two tensor-parallel size (dividing ``devices``) whose devices hold ``batch``
    sequences of ``context`` tokens; the error names the largest batch the largest size holds."""
    spec, acc = load_model(model), get_accelerator(accelerator)
    for dtype, what in ((precision, "precision"), (quant, "weight dtype"), (kv_dtype, "KV dtype")):
        if dtype is not None:
            dtype_bytes(dtype, what)
    last = None
    for tp in tp_sizes(spec, devices):
        ep, etp = expert_parallel(spec, tp)
        fit = max_batch_and_context(
            spec,
            acc,
            context=context,
            tp=tp,
            ep=ep,
            etp=etp,
            precision=precision,
            quant=quant,
            kv_dtype=kv_dtype,
        ).max_batch
        if fit >= batch:
            return tp
        last = (tp, fit)
    held = f"at most {last[1]} on TP {last[0]}" if last else "no tensor-parallel size suits its heads"
    raise ScalingError(
        f"{spec.name} with a batch of {batch} x {context} tokens does not fit on {devices} "
        f"{acc.name} ({held}); use more devices, a smaller batch, --quant or --kv-dtype"
    )
