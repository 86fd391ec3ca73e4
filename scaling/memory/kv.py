"""The KV cache of inference, per device: the model's KV elements per token x bytes per element."""

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
    """KV-cache bytes on one device of the first pipeline stage for ``batch`` sequences of ``context`` tokens.

    Elements per token come from the model (`ModelSpec.kv_cache_elements_per_token`: 2 x kv_heads x d_head
    per layer for GQA/MQA, kv_heads/tp of them per tensor-parallel rank and at least one; MLA's latent;
    sliding windows), times bytes per element. A pipeline stage holds ceil(layers/pp) of the decoder layers.
    Encoder-decoder models add cross-attention K/V over the source (``source_len``, default the model's
    context); encoder-only models cache nothing. Broadcasts over numpy arrays.
    """
    e = dtype if isinstance(dtype, (int, float)) else dtype_bytes(dtype, "KV dtype")
    context = spec.n_ctx if context is None else context
    tp, pp = np.asarray(tp, dtype=float), np.asarray(pp, dtype=float)
    batch = np.asarray(batch, dtype=float)
    layers = max(spec.decoder_layers, 1)
    stage_share = np.ceil(layers / pp) / layers  # the first stage's share of the decoder layers
    self_attention = (
        spec.kv_cache_elements_per_token(context, tp=tp) * batch * np.asarray(context, dtype=float)
    )
    source = spec.n_ctx if source_len is None else source_len
    cross = spec.cross_kv_cache_elements_per_token(tp=tp) * batch * np.asarray(source, dtype=float)
    return (self_attention + cross) * stage_share * e
