"""The KV cache of inference, per device."""

from __future__ import annotations

from typing import Any

import numpy as np

from scaling.memory.precision import dtype_bytes
from scaling.model import ModelSpec


def kv_cache_bytes(
    spec: ModelSpec,
    batch: Any = 1,
    context: Any = None,
    dtype: str | float = "bf16",
    *,
    tp: Any = 1,
    pp: Any = 1,
    source_len: Any = None,
) -> Any:
    """KV-cache bytes on one device: 2 (K and V) x layers x kv_heads x d_head x bytes x batch x context.

    GQA/MQA store only ``kv_heads``; with tensor parallelism each rank holds kv_heads/t heads, at least one
    (replicated when t > kv_heads); pipeline stages hold layers/pp. Encoder-decoder models add cross-attention
    K/V over the source (``source_len``, default the model's context); encoder-only models cache nothing.
    Broadcasts over numpy arrays.
    """
    e = dtype if isinstance(dtype, (int, float)) else dtype_bytes(dtype, "KV dtype")
    context = spec.n_ctx if context is None else context
    tp, pp = np.asarray(tp, dtype=float), np.asarray(pp, dtype=float)
    if spec.arch == "encoder":
        return np.zeros(np.broadcast(np.asarray(batch), np.asarray(context), tp, pp).shape) + 0.0
    heads = np.maximum(spec.kv_heads / tp, 1.0)
    layers = np.ceil(spec.decoder_layers / pp)
    per_token = 2.0 * layers * heads * spec.head_dim * e  # 2 = K and V
    tokens = np.asarray(batch, dtype=float) * np.asarray(context, dtype=float)
    cross = 0.0
    if spec.arch == "encoder-decoder":
        src = spec.n_ctx if source_len is None else source_len
        cross = (
            per_token * np.asarray(batch, dtype=float) * np.asarray(src, dtype=float)
        )  # cross-attention K/V
    return per_token * tokens + cross
