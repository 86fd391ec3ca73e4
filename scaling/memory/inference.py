"""Inference memory per device (weights + KV cache + the forward pass's transient peak), and the largest
batch and context that fit one device."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from scaling import checks
from scaling.catalog import Accelerator, get_accelerator
from scaling.memory.activations import LOGITS_BYTES
from scaling.memory.kv import kv_cache_bytes
from scaling.memory.parallel import validate_layout
from scaling.memory.param_counts import ModelShape, resolve_model
from scaling.memory.precision import Precision
from scaling.memory.states import overhead_bytes as framework_overhead
from scaling.model import ModelSpec


def infer_memory_arrays(
    shape: ModelShape,
    *,
    tp: Any = 1,
    pp: Any = 1,
    ep: Any = 1,
    etp: Any = None,
    batch: Any = 1,
    context: Any = 2048,
    weight_bytes: float = 2.0,
    kv_bytes: float = 2.0,
    activation_bytes: float = 2.0,
    flash_attention: bool = False,
    source_len: Any = None,
    overhead_bytes: float | None = None,
    overhead_default: bool = True,
    active_tokens: Any = None,
) -> dict[str, Any]:
    """Inference memory per device (arrays broadcast): weights + KV cache + the forward's transient peak.

    The transient peak of a forward pass over ``context`` tokens (prefill) is one layer's largest working set:
    the residual stream and its normalised copy (2·e·sbh), plus the larger of the attention scores
    (e·a·s²·b/t; none with FlashAttention) and the FFN intermediate ((2 or 3)·e·s·b·d_ff/t), plus the
    last position's fp32 logits (4·b·V). Routed experts are split over ``etp`` x ``ep`` devices (``etp``
    None: TP; a serving engine's expert parallelism is EP = TP with ETP 1). Nothing is saved for a backward
    pass. ``active_tokens`` (default b·s, every sequence prefilled at once) is the tokens of the largest
    forward pass: a serving engine that prefills prompts in chunks holds one chunk's activations, not the
    whole batch's.
    """
    spec = shape.spec
    tp, pp = np.asarray(tp, dtype=float), np.asarray(pp, dtype=float)
    dense, expert = shape.stage_params(tp, pp, ep, etp)
    weights = (dense + expert) * weight_bytes
    kv = kv_cache_bytes(spec, batch, context, kv_bytes, tp=tp, pp=pp, source_len=source_len)
    s, b = np.asarray(context, dtype=float), np.asarray(batch, dtype=float)
    e = activation_bytes
    tokens = s * b if active_tokens is None else np.minimum(np.asarray(active_tokens, dtype=float), s * b)
    scores = 0.0 if flash_attention else e * spec.n_head * s * tokens / tp
    ffn = (3.0 if spec.gated_ffn else 2.0) * e * tokens * spec.ffn_dim / tp
    acts = 2.0 * e * tokens * spec.d_model + np.maximum(scores, ffn) + LOGITS_BYTES * b * spec.vocab_size
    allocated = weights + kv + acts
    overhead, _ = framework_overhead(allocated, overhead_bytes, overhead_default)
    return dict(weights=weights, kv=kv, activations=acts, overhead=overhead, total=allocated + overhead)


@dataclass(frozen=True)
class InferenceLimits:
    """The largest batch at ``context`` and the largest context at ``batch`` that fit one device."""

    max_batch: int
    at_context: int
    max_context: int
    at_batch: int
    capacity_bytes: float
    model: str
    accelerator: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def largest_fitting(fits: Any, limit: int) -> int:
    """The largest n in [0, limit] with fits(n), for a monotone ``fits`` (doubling, then bisection); 0 when
    even 1 does not fit."""
    lo, hi = 0, 1
    while hi <= limit and fits(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, limit + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def max_batch_and_context(
    model: ModelSpec | str | float,
    accelerator: str | Accelerator,
    *,
    context: int | None = None,
    batch: int = 1,
    tp: int = 1,
    pp: int = 1,
    ep: int = 1,
    etp: int | None = None,
    precision: str | Precision = "bf16",
    quant: str | None = None,
    kv_dtype: str | None = None,
    flash_attention: bool = True,
    overhead_bytes: float | None = None,
    limit: int = 2**24,
    prefill_tokens: int | None = None,
) -> InferenceLimits:
    """Largest batch (at ``context``, default the model's) and largest context (at ``batch``) that fit.

    Both are found by bisection on the same inference formula as `estimate_memory(mode="infer")`; 0 means
    not even one sequence (or one token) fits. FlashAttention is on by default (serving engines use it).
    ``prefill_tokens`` caps the tokens of one forward pass (a chunked prefill; default: the whole batch).
    ``ep`` and ``etp`` split a MoE's routed experts (`infer_memory_arrays`).
    """
    acc = get_accelerator(accelerator)
    spec, override, _ = resolve_model(model)
    validate_layout(spec, tp * pp, tp, pp, ep, etp)
    shape = ModelShape.of(spec, override)
    prec = Precision.of(precision, quant=quant, kv_dtype=kv_dtype)
    ctx = checks.positive_int(context if context is not None else spec.n_ctx, "context")
    batch = checks.positive_int(batch, "batch")

    def total(b: Any, c: Any) -> Any:
        return infer_memory_arrays(
            shape,
            tp=tp,
            pp=pp,
            ep=ep,
            etp=etp,
            batch=b,
            context=c,
            weight_bytes=prec.stored_weight_bytes,
            kv_bytes=prec.kv_bytes,
            activation_bytes=prec.activation_bytes,
            flash_attention=flash_attention,
            overhead_bytes=overhead_bytes,
            active_tokens=prefill_tokens,
        )["total"]

    return InferenceLimits(
        max_batch=largest_fitting(lambda b: total(b, ctx) <= acc.memory_bytes, limit),
        at_context=ctx,
        max_context=largest_fitting(lambda c: total(batch, c) <= acc.memory_bytes, limit),
        at_batch=batch,
        capacity_bytes=acc.memory_bytes,
        model=spec.name,
        accelerator=acc.name,
    )
