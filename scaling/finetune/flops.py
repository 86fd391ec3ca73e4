"""Fine-tuning FLOPs per token by named term, each a share of `scaling.flops.training_flops`' forward count
(the terms are documented in `scaling.finetune`)."""

from __future__ import annotations

from scaling import checks
from scaling.flops import RECOMPUTE, training_flops
from scaling.model import ModelSpec
from scaling.units import BACKWARD_MULTIPLIER, FLOPS_PER_PARAM_TOKEN

CONVENTIONS = ("6nd", "exact")
# Weight-free matmuls of attention (Hoffmann et al. 2022, App. F terms): both inputs are activations.
_SCORE_TERMS = ("attention_logits", "attention_softmax", "attention_values")


def finetune_flops_per_token(
    spec: ModelSpec,
    *,
    adapter_params: float = 0.0,
    full: bool = False,
    convention: str = "6nd",
    seq_len: int | None = None,
    recompute: str = "none",
    include_embeddings: bool = True,
) -> dict[str, float]:
    """Fine-tuning FLOPs per token by named term (see `scaling.finetune`'s docstring).

    ``full=True`` trains every weight (the terms then sum to `training_flops`' ``flops_per_token``);
    otherwise the base is frozen and ``adapter_params`` LoRA parameters are trained. ``recompute`` is the
    extra of activation checkpointing (hardware FLOPs); the other terms are model FLOPs.
    """
    convention = checks.choice(convention, CONVENTIONS, "FLOP convention")
    recompute = checks.choice(recompute, RECOMPUTE, "recompute")
    adapters = float(checks.positive(adapter_params, "adapter parameter count", allow_zero=True))
    counted = training_flops(
        spec,
        1.0,
        convention=convention,
        seq_len=seq_len,
        recompute=recompute,
        include_embeddings=include_embeddings,
    )
    passes = 1.0 + BACKWARD_MULTIPLIER  # training_flops' terms are forward x (1 + backward multiplier)
    forward = counted.flops_per_token / passes
    scores = sum(v for k, v in counted.breakdown.items() if k.removeprefix("cross_") in _SCORE_TERMS) / passes
    return {
        "forward": forward,  # Kaplan et al. 2020 §2.1: 2N per token (or App. F's per-component count)
        "backward_activations": forward + scores,  # input gradients; the score matmuls have two inputs
        "backward_weights": forward - scores if full else 0.0,  # weight gradients of the trained weights
        "adapters": FLOPS_PER_PARAM_TOKEN
        * adapters,  # Hu et al. 2021: x·A·B, 2 forward + 2 input + 2 weight grad
        # Narayanan et al. 2021 Eq. 3: one more forward of the checkpointed layers (hardware FLOPs only)
        "recompute": counted.hardware_flops_per_token
        - counted.flops_per_token
        + (2.0 * adapters if recompute == "full" else 0.0),
    }


def model_flops_per_token(terms: dict[str, float]) -> float:
    """Model FLOPs per token (for MFU): every term but the recomputation."""
    return sum(v for k, v in terms.items() if k != "recompute")
