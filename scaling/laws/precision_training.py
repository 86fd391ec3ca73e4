"""The loss cost of training in low precision: Kumar et al. 2024, "Scaling Laws for Precision" (arXiv
2411.04330, ICLR 2025), Sec. 4.

Training with weights, activations and KV cache at ``P_w``, ``P_a``, ``P_kv`` bits shrinks the model's
*effective parameter count* (Eq. 4, Finding 2):

    N_eff = N * (1 - exp(-P_w/gamma_w + n_w)) * (1 - exp(-P_a/gamma_a + n_a))
              * (1 - exp(-P_kv/gamma_kv + n_kv))

and a loss law L(N, D) is read at N_eff instead of N (Eq. 3: "the substitution N -> N_eff"). The offsets
``n_x`` are the "biases in our exponent fits" of App. K ("a fit of the form e^{x/gamma_x} ... is really
computed with offset e^{x/gamma_x + n}"); with them, the published constants give the paper's own
compute-optimal precision of 7-8 bits (Sec. 4.3.2), which they do not without. A law fitted on 16-bit
training (every preset of ``data/laws.json``) already holds N_eff(16 bits), so the loss at P bits is the law
at N * N_eff(P) / N_eff(16).

What it leaves out: the paper quantizes the forward pass only (App. D.1) and fits integer types; floating
point of the same width loses a little less (Fig. 6). The backward pass, per-layer precisions and a model
post-training quantized after low-precision training (Eq. 9, whose constants C_w, C_a, C_kv App. K does not
give) are not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from scaling import checks
from scaling.errors import ScalingError, quoted

PARTS = ("w", "a", "kv")  # weights, activations, KV cache (Eq. 4)
TRAINING_CONSTANTS = ("gamma_w", "n_w", "gamma_a", "n_a", "gamma_kv", "n_kv")
BASELINE_BITS = 16.0  # the precision a law fitted on BF16 runs already includes
BITS_RANGE = (4.0, 32.0)  # Kumar et al. sweep 3-12 bits, but runs with P_a or P_kv <= 3 diverged (App. L)


@dataclass(frozen=True)
class TrainingPrecision:
    """Kumar et al. 2024's effective-parameter factors, one saturating exponential per model part."""

    gamma_w: float
    n_w: float
    gamma_a: float
    n_a: float
    gamma_kv: float
    n_kv: float

    def factor(self, part: str, bits: Any) -> Any:
        """1 - exp(-P/gamma + n) for one part (``w``, ``a`` or ``kv``): its share of effective parameters."""
        gamma, offset = getattr(self, f"gamma_{part}"), getattr(self, f"n_{part}")
        return 1.0 - np.exp(-np.asarray(bits, dtype=float) / gamma + offset)

    def effective_fraction(self, bits: Any) -> Any:
        """N_eff / N with weights, activations and KV cache all at ``bits`` (Eq. 4; arrays broadcast)."""
        out = np.prod([self.factor(part, bits) for part in PARTS], axis=0)
        return float(out) if np.ndim(out) == 0 else out

    @property
    def min_bits(self) -> float:
        """Below this many bits some part's factor is no longer positive (no effective parameters)."""
        return max(getattr(self, f"n_{p}") * getattr(self, f"gamma_{p}") for p in PARTS)

    def check_bits(self, bits: float, what: str = "--train-bits") -> float:
        """``bits`` itself when the law prices it: within `BITS_RANGE` and above `min_bits`."""
        lo, hi = BITS_RANGE
        if not lo <= bits <= hi or bits <= self.min_bits:
            raise ScalingError(
                f"invalid {what} {bits:g}: expected {max(lo, self.min_bits):g} to {hi:g} bits (Kumar "
                "et al. 2024 fit integer training at 3-12 bits, and runs with activations or KV cache at 3 "
                "bits diverged)"
            )
        return bits

    def compute_optimal_bits(self) -> float:
        """The precision that minimizes loss at fixed compute C proportional to N*D*P with N, D free (Sec.
        4.3.2, App. E.2.3): dL/dN = dL/dP = 0 leaves P * d ln N_eff/dP = 1, independent of compute and of
        the loss law's A, B, alpha, beta. Solved by bisection above `min_bits`."""

        def excess(p: float) -> float:
            total = 0.0
            for part in PARTS:
                gamma, offset = getattr(self, f"gamma_{part}"), getattr(self, f"n_{part}")
                e = math.exp(-p / gamma + offset)
                total += e / gamma / (1.0 - e)
            return p * total - 1.0

        lo, hi = self.min_bits + 1e-9, 256.0
        if excess(hi) > 0:  # pragma: no cover - a part that never saturates: no finite optimum
            raise ScalingError("this precision law has no compute-optimal precision below 256 bits")
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
        return 0.5 * (lo + hi)

    def to_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in TRAINING_CONSTANTS}


def training_precision_from_dict(entry: Any, where: str) -> TrainingPrecision:
    """A checked `TrainingPrecision` from a law file's ``training`` object: gamma_w, gamma_a, gamma_kv > 0 and
    the offsets n_w, n_a, n_kv finite."""
    gammas = checks.positive_constants(entry, TRAINING_CONSTANTS[::2], f"{where} training")
    offsets = {}
    for name in TRAINING_CONSTANTS[1::2]:
        if name not in entry:
            raise ScalingError(f"{where} training lacks {name}; expected {', '.join(TRAINING_CONSTANTS)}")
        value = entry[name]
        if isinstance(value, (bool, str, list, dict)) or value is None:
            raise ScalingError(f"invalid {where} training {name} {quoted(value)}: expected a number")
        offsets[name] = float(checks.finite(value, f"{where} training {name}"))
    return TrainingPrecision(**gammas, **offsets)


@dataclass(frozen=True)
class LowPrecisionTraining:
    """A model's loss trained at ``bits`` beside the same model trained in 16 bits."""

    params: float
    tokens: float
    bits: float
    effective_fraction: float  # N_eff(bits) / N_eff(16 bits)
    loss_at_16_bits: float
    loss_at_bits: float
    compute_optimal_bits: float
    law: Any  # the `scaling.laws.precision.PrecisionLaw` it came from

    @property
    def penalty(self) -> float:
        return self.loss_at_bits - self.loss_at_16_bits

    def to_dict(self) -> dict[str, Any]:
        return dict(
            bits=self.bits,
            effective_param_fraction=self.effective_fraction,
            effective_params=self.params * self.effective_fraction,
            loss_at_16_bits=self.loss_at_16_bits,
            loss_at_bits=self.loss_at_bits,
            training_precision_penalty=self.penalty,
            compute_optimal_bits=self.compute_optimal_bits,
            precision_law=self.law.to_dict(),
        )


def low_precision_training(
    precision_law: Any, loss_law: Any, params: float, tokens: float, bits: float, unique_tokens: Any = None
) -> LowPrecisionTraining:
    """The loss of ``loss_law`` (fitted on 16-bit training) for a model trained at ``bits``: the law read at
    N * N_eff(bits) / N_eff(16) (Kumar et al. 2024 Eq. 3-4)."""
    training = precision_law.training
    if training is None:
        raise ScalingError(
            f"precision law {quoted(precision_law.name)} has no 'training' constants "
            f"({', '.join(TRAINING_CONSTANTS)}) to price --train-bits; use the kumar2024 preset"
        )
    training.check_bits(bits)
    fraction = training.effective_fraction(bits) / training.effective_fraction(BASELINE_BITS)
    at_16 = loss_law.loss_at(params, tokens, unique_tokens=unique_tokens).loss
    at_bits = loss_law.loss_at(params * fraction, tokens, unique_tokens=unique_tokens).loss
    return LowPrecisionTraining(
        params,
        tokens,
        float(bits),
        float(fraction),
        float(at_16),
        float(at_bits),
        training.compute_optimal_bits(),
        precision_law,
    )
