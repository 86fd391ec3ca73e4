"""Model states (weights, fp32 master, gradients, optimizer) per device under ZeRO, and framework overhead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scaling.units import GIB

CUDA_CONTEXT_BYTES = 1.0 * GIB  # CUDA context + kernels: 0.5-2 GiB measured across frameworks; 1 GiB here
FRAGMENTATION = (
    0.05  # allocator reserved-but-unused share of the allocated terms (judgement; tune per framework)
)
CPU_BUFFER_FACTOR = 1.5  # DeepSpeed memory.rst: additional_buffer_factor for host memory


@dataclass(frozen=True)
class ModelStates:
    """Model-state bytes per device (arrays broadcast from the inputs)."""

    weights: Any
    master: Any
    gradients: Any
    optimizer: Any

    @property
    def total(self) -> Any:
        return self.weights + self.master + self.gradients + self.optimizer


def model_state_bytes(
    params: Any,
    dp: Any = 1,
    stage: Any = 0,
    *,
    weight_bytes: float = 2.0,
    master_bytes: float = 4.0,
    grad_bytes: float = 2.0,
    optimizer_state_bytes: float = 8.0,
    trainable: Any = None,
) -> ModelStates:
    """ZeRO model states per device (Rajbhandari et al. 2019, §5 and Figure 1).

    Stage 1 (P_os) shards master + optimizer over ``dp``, stage 2 (P_os+g) also the gradients, stage 3
    (P_os+g+p) also the weights: with K = master + optimizer = 12, Figure 1's (2 + 2 + K)Ψ,
    2Ψ + 2Ψ + KΨ/N_d, 2Ψ + (2 + K)Ψ/N_d and (2 + 2 + K)Ψ/N_d. ``trainable`` (default all of ``params``)
    carries gradients and optimizer states; the rest is frozen (LoRA's base). Broadcasts over numpy arrays.
    """
    params = np.asarray(params, dtype=float)
    trainable = params if trainable is None else np.asarray(trainable, dtype=float)
    dp, stage = np.asarray(dp, dtype=float), np.asarray(stage)
    w_shard = np.where(stage >= 3, dp, 1.0)
    g_shard = np.where(stage >= 2, dp, 1.0)
    o_shard = np.where(stage >= 1, dp, 1.0)
    return ModelStates(
        weights=params * weight_bytes / w_shard,  # ZeRO: 2Ψ fp16 parameters
        master=trainable * master_bytes / o_shard,  # ZeRO: fp32 parameter copy, part of K
        gradients=trainable * grad_bytes / g_shard,  # ZeRO: 2Ψ fp16 gradients
        optimizer=trainable * optimizer_state_bytes / o_shard,  # ZeRO: Adam momentum + variance, part of K
    )


def overhead_bytes(allocated: Any, given: float | None, default_on: bool) -> tuple[Any, str]:
    """Framework overhead (CUDA context + allocator fragmentation) and its rule text.

    ``given`` replaces the default; named published conventions (``default_on=False``) count none.
    """
    if given is not None:
        return np.asarray(float(given)) + 0.0 * allocated, "given"
    if not default_on:
        return 0.0 * allocated, "none (a named convention counts no overhead)"
    value = CUDA_CONTEXT_BYTES + FRAGMENTATION * allocated
    return (
        value,
        f"CUDA context {CUDA_CONTEXT_BYTES / GIB:g} GiB + {FRAGMENTATION:.0%} allocator fragmentation",
    )
