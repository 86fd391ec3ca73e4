"""The default global batch: the recipe's B_opt (`scaling.recipe.batch_target`, DeepSeek LLM's by default)
as a target, and the one rule that rounds it to a layout."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from scaling import checks, units
from scaling.errors import ScalingError
from scaling.model import ModelSpec

MAX_GLOBAL_BATCH = 10**9  # sequences per step: far beyond any run, keeps divisibility exact in int64
MAX_STEP_TOKENS = 1e13  # tokens per step
BATCH_TOLERANCE = 0.10  # a layout's rounded batch may differ this much from the target B_opt
MICRO_BATCHES = (1, 2, 4, 8, 16, 32, 64)  # micro-batch sizes searched when the batch is a target


def batch_for_layout(target_sequences: Any, granularity: Any) -> Any:
    """The global batch (sequences) of a layout: the multiple of its DP x micro-batch nearest to
    ``target_sequences``, at least one of each (the one rounding rule; arrays broadcast)."""
    granularity = np.asarray(granularity)
    whole = np.maximum(1, np.rint(np.asarray(target_sequences, dtype=float) / granularity))
    return (whole * granularity).astype(np.int64)


def near_target(batch: np.ndarray, target: float) -> np.ndarray:
    """The layouts whose rounded batch is within `BATCH_TOLERANCE` of the target, or, when none is, those
    as near to it as any layout gets."""
    distance = np.abs(np.log(batch / target))
    if distance.size == 0:
        return np.ones(0, dtype=bool)
    return distance <= max(math.log1p(BATCH_TOLERANCE), float(distance.min()) * (1 + 1e-12))


def batch_request(
    global_batch: int | None, batch_tokens: float | None, seq: int
) -> tuple[int | None, float | None]:
    """(exact global batch in sequences, target in sequences): exactly one of them is given."""
    if (global_batch is None) == (batch_tokens is None):
        raise ScalingError(
            "the layout search needs one global batch: sequences per step (global_batch) or a target in "
            "tokens that each layout rounds to its DP x micro-batch (batch_tokens)"
        )
    if global_batch is not None:
        checks.at_most(global_batch, MAX_GLOBAL_BATCH, "global batch", "sequences per step")
        checks.at_most(
            float(global_batch) * seq, MAX_STEP_TOKENS, "tokens per step (global batch x sequence length)"
        )
        return int(global_batch), None
    tokens = float(checks.positive(batch_tokens, "global batch tokens"))
    checks.at_most(tokens, MAX_STEP_TOKENS, "global batch tokens")
    return None, max(1.0, tokens / seq)


@dataclass(frozen=True)
class DefaultBatch:
    """The default global batch: a target in tokens (the recipe's B_opt), the 6ND FLOPs of the run it was
    sized for, and why. The layout search rounds it to each layout's DP x micro-batch (`batch_for_layout`)."""

    tokens: float
    flops: float
    reason: str

    def sequences(self, seq_len: int) -> float:
        """The target in sequences of ``seq_len`` tokens (before a layout rounds it)."""
        return self.tokens / seq_len


def default_global_batch(
    spec: ModelSpec,
    tokens: float,
    seq_len: int | None = None,
    *,
    why: str = "",
    hp_law: str | None = None,
    law: Any = None,
) -> DefaultBatch:
    """The one default global batch for training ``spec`` on ``tokens`` at ``seq_len``: the chosen
    learning-rate/batch law's B_opt (`scaling.recipe.batch_target`; DeepSeek LLM's B_opt(C) with C = M·D
    unless ``hp_law`` or the ``law`` file says otherwise), as a target that the layout search rounds to a
    multiple of DP x micro-batch. The plan, ``memory --search``, ``finetune`` and the app all take their
    default from here."""
    from scaling.flops import six_nd
    from scaling.recipe import batch_target

    tokens = float(checks.positive(tokens, "training tokens"))
    flops = float(six_nd(float(spec.active_params), tokens))
    target, reason = batch_target(spec, tokens, seq_len, hp_law, law)
    reason = f"{reason}" + (f" ({why})" if why else "") + f" = {units.format_count(target)} tokens"
    return DefaultBatch(target, flops, reason)


def default_global_batch_for(spec: ModelSpec, tokens: float | None = None) -> DefaultBatch:
    """`default_global_batch` for training ``spec`` on ``tokens`` (default: its published training tokens,
    else the compute-optimal 20 per parameter) at its own context."""
    from scaling.laws.rules import TOKENS_PER_PARAM

    if tokens is not None:
        why = f"{units.format_count(tokens)} tokens"
    elif spec.training_tokens:
        tokens = float(spec.training_tokens)
        why = f"its {units.format_count(tokens)} training tokens"
    else:
        tokens = TOKENS_PER_PARAM * float(spec.active_params)
        why = f"{TOKENS_PER_PARAM:g} tokens per parameter (Hoffmann et al. 2022)"
    return default_global_batch(spec, float(checks.positive(tokens, "training tokens")), why=why)
