"""Learning-rate schedules and the optimizer's constants: warmup, cosine to 10% or warmup-stable-decay, and
AdamW's beta1, beta2, epsilon and weight decay, each with its source.

* ``cosine``: eta(t) = eta_min + (eta_max - eta_min)(1 + cos(pi t / T)) / 2 after warmup, eta_min = 0.1
  eta_max (Hoffmann et al. 2022, §3 and App. B: decay to 10% over the run's length; Touvron et al. 2023,
  Llama 2 §2.2 likewise).
* ``wsd``: warmup, a constant peak, then a linear decay to 0 over the last ``decay_fraction`` of the steps
  (Hägele et al. 2024, arXiv 2405.18392, code ``epfml/schedules-and-scaling`` ``get_wsd_schedule``:
  ``fract_decay`` with ``final_lr_factor`` 0 by default; the README's example decays over 0.2).
* warmup: as many tokens as the model has parameters (Porian et al. 2024, arXiv 2406.19146: a warmup of
  N tokens instead of a fixed 1.5B tokens moved the Kaplan exponent toward Chinchilla's), at least one step
  and at most `MAX_WARMUP_FRACTION` of the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scaling import checks
from scaling.errors import ScalingError, quoted

SCHEDULES = ("cosine", "wsd")
COSINE_FINAL_FRACTION = 0.1  # cosine decays to 10% of the peak (Hoffmann et al. 2022)
WSD_FINAL_FRACTION = 0.0  # get_wsd_schedule's final_lr_factor default (Hägele et al. 2024 code)
DEFAULT_DECAY_FRACTION = 0.2  # Hägele et al. 2024 README example (--wsd-fract-decay 0.2)
MAX_WARMUP_FRACTION = 0.1  # judgement: a warmup longer than this leaves the schedule too little to decay
COSINE_SOURCE = "cosine to 10% of the peak over the run (Hoffmann et al. 2022 §3; Llama 2 §2.2)"
WSD_SOURCE = (
    "warmup-stable-decay, linear decay to 0 over the last {fraction:.0%} of steps (Hägele et al. 2024, "
    "arXiv 2405.18392, get_wsd_schedule)"
)
WARMUP_SOURCE = "warmup of N tokens, N the parameters (Porian et al. 2024, arXiv 2406.19146)"


@dataclass(frozen=True)
class AdamW:
    """AdamW's constants (Loshchilov & Hutter 2019), the values of DeepSeek LLM §2.3 (beta1 0.9, beta2 0.95,
    weight decay 0.1, gradient clipping 1.0), which Llama 2 §2.2 also uses; epsilon is PyTorch's
    ``torch.optim.AdamW`` default."""

    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    source: str = (
        "beta1 0.9, beta2 0.95, weight decay 0.1, gradient clipping 1.0: DeepSeek LLM (Bi et al. 2024) §2.3 "
        "and Llama 2 (Touvron et al. 2023) §2.2; eps 1e-8: torch.optim.AdamW default"
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "grad_clip": self.grad_clip,
            "source": self.source,
        }


def parse_schedule(value: Any, what: str = "--schedule") -> str:
    """``cosine`` or ``wsd``."""
    return checks.choice(str(value).strip().lower(), SCHEDULES, what)


def parse_decay_fraction(value: Any, what: str = "--decay-fraction") -> float:
    """A fraction of the steps in (0, 1)."""
    fraction = checks.fraction(value, what)
    if fraction >= 1:
        raise ScalingError(
            f"invalid {what} {quoted(value)}: expected a fraction of the steps below 1, e.g. 0.2"
        )
    return fraction


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule over ``total_steps`` steps: warmup, then ``kind``'s decay."""

    kind: str
    total_steps: int
    warmup_steps: int
    decay_fraction: float | None = None  # wsd only

    @property
    def final_fraction(self) -> float:
        return COSINE_FINAL_FRACTION if self.kind == "cosine" else WSD_FINAL_FRACTION

    @property
    def source(self) -> str:
        return COSINE_SOURCE if self.kind == "cosine" else WSD_SOURCE.format(fraction=self.decay_fraction)

    def describe(self) -> str:
        if self.kind == "cosine":
            return (
                f"linear warmup {self.warmup_steps:,} steps, cosine to 10% of the peak at step "
                f"{self.total_steps:,}"
            )
        decay_steps = self.decay_steps
        return (
            f"linear warmup {self.warmup_steps:,} steps, constant peak to step "
            f"{self.total_steps - decay_steps:,}, linear decay to 0 over the last {decay_steps:,} steps "
            f"({self.decay_fraction:.0%})"
        )

    @property
    def decay_steps(self) -> int:
        if self.kind != "wsd":
            return self.total_steps - self.warmup_steps
        return max(1, round(float(self.decay_fraction or 0) * self.total_steps))

    def multipliers(self, steps: Any) -> Any:
        """The learning rate over the peak at each step (0-based; broadcasts)."""
        import numpy as np  # only here: the CLI's options import this module

        t = np.asarray(steps, dtype=float)
        warm = np.minimum(1.0, (t + 1) / max(1, self.warmup_steps))
        low = self.final_fraction
        if self.kind == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            progress = np.clip((t - self.warmup_steps) / span, 0.0, 1.0)
            decay = low + (1 - low) * 0.5 * (1 + np.cos(math.pi * progress))
        else:
            start = self.total_steps - self.decay_steps
            progress = np.clip((t - start) / self.decay_steps, 0.0, 1.0)
            decay = 1.0 - (1.0 - low) * progress
        return np.where(t < self.warmup_steps, warm, decay)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "decay_fraction": self.decay_fraction,
            "final_lr_fraction": self.final_fraction,
            "description": self.describe(),
            "source": self.source,
        }


def warmup_steps(params: float, batch_tokens: float, total_steps: int) -> int:
    """Steps that see ``params`` tokens (Porian et al. 2024), at least 1, at most `MAX_WARMUP_FRACTION` of
    ``total_steps``."""
    steps = math.ceil(float(params) / float(batch_tokens))
    return int(max(1, min(steps, math.floor(MAX_WARMUP_FRACTION * total_steps))))


def make_schedule(
    kind: str, *, params: float, batch_tokens: float, total_steps: int, decay_fraction: float | None = None
) -> Schedule:
    """The schedule of a run of ``total_steps`` steps of ``batch_tokens`` tokens for a model of ``params``."""
    kind = parse_schedule(kind)
    total = max(1, int(round(total_steps)))
    if kind == "cosine":
        if decay_fraction is not None:
            raise ScalingError(
                "--decay-fraction belongs to --schedule wsd (cosine decays over the whole run)"
            )
        fraction = None
    else:
        fraction = DEFAULT_DECAY_FRACTION if decay_fraction is None else parse_decay_fraction(decay_fraction)
    return Schedule(kind, total, warmup_steps(params, batch_tokens, total), fraction)
