"""The loss cost of post-training quantization: Kumar et al. 2024, "Scaling Laws for Precision" (arXiv
2411.04330, ICLR 2025), from a law file the user supplies.

Kumar et al. model the loss added by quantizing a model's weights to ``P_post`` bits after training as

    delta_PTQ(N, D, P_post) = C_T * (D ** gamma_D / N ** gamma_N) * exp(-P_post / gamma_post)

so that, with gamma_D close to gamma_N, the damage grows with tokens per parameter: an over-trained model
loses more to quantization, and past some D more pretraining raises the quantized model's loss. The paper's
fitted constants (from 30M-220M-parameter runs) are not shipped: none could be read from the paper itself, so
``--precision-law FILE`` gives them (`load_precision_law`, the file format in its docstring), e.g. fitted to
your own quantized evaluations. Low-precision *training* (the paper's effective parameter count) is not
modelled here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scaling import checks
from scaling.errors import ScalingError, quoted

# Bits per weight of each post-training quantization the calculator names (the format's storage width).
QUANT_BITS: dict[str, float] = {"int4": 4.0, "int8": 8.0, "fp8": 8.0}
CONSTANTS = ("C_T", "gamma_D", "gamma_N", "gamma_post")
EXPONENT_RANGE = (1e-3, 5.0)  # gamma_D and gamma_N: power-law exponents of a loss term
NEEDS = (
    "a precision law file (--precision-law FILE: JSON with constants C_T, gamma_D, gamma_N, gamma_post of "
    "Kumar et al. 2024's delta_PTQ); the paper's fitted values are not confirmed, so none ship"
)


@dataclass(frozen=True)
class PrecisionLaw:
    """Kumar et al. 2024's post-training quantization term with its constants and where they come from."""

    C_T: float
    gamma_D: float
    gamma_N: float
    gamma_post: float
    name: str = "precision law"
    source: str = ""
    fit_range: dict[str, tuple[float, float]] | None = None

    def ptq_penalty(self, params: Any, tokens: Any, bits: Any) -> Any:
        """delta_PTQ: loss added by quantizing ``params`` weights trained on ``tokens`` to ``bits``
        (arrays broadcast)."""
        N, D, P = (np.asarray(x, dtype=float) for x in (params, tokens, bits))
        out = self.C_T * D**self.gamma_D / N**self.gamma_N * np.exp(-P / self.gamma_post)
        return float(out) if np.ndim(out) == 0 else out

    def outside_fit(self, params: float, tokens: float) -> list[str]:
        """One line per quantity outside the file's ``fit_range`` (extrapolation warnings)."""
        lines = []
        for what, value in (("params", params), ("tokens", tokens)):
            lo, hi = (self.fit_range or {}).get(what, (0.0, math.inf))
            if not lo <= value <= hi:
                lines.append(f"{what} {value:.3g} is outside {self.name}'s fit range {lo:.3g}-{hi:.3g}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return dict(
            name=self.name,
            source=self.source,
            constants={k: getattr(self, k) for k in CONSTANTS},
            fit_range={k: list(v) for k, v in (self.fit_range or {}).items()} or None,
        )


def quant_bits(quant: str) -> float:
    """Bits per weight of a post-training quantization name (int4, int8, fp8)."""
    return QUANT_BITS[checks.choice(quant, tuple(QUANT_BITS), "post-training quantization")]


def precision_law_from_dict(entry: Any, where: str = "precision law") -> PrecisionLaw:
    """A checked `PrecisionLaw` from a JSON object: ``constants`` (C_T > 0, gamma_post > 0, gamma_D and
    gamma_N in `EXPONENT_RANGE`), optional ``name``, ``source`` and ``fit_range`` ({"params": [lo, hi],
    "tokens": [lo, hi]})."""
    if not isinstance(entry, dict):
        raise ScalingError(f"invalid {where} {quoted(entry)}: expected a JSON object with 'constants'")
    constants = entry.get("constants")
    if not isinstance(constants, dict):
        raise ScalingError(f"{where} has no 'constants' object; expected {', '.join(CONSTANTS)}")
    missing = [k for k in CONSTANTS if k not in constants]
    if missing:
        raise ScalingError(f"{where} constants lack {', '.join(missing)}; expected {', '.join(CONSTANTS)}")
    values = checks.positive_constants(constants, CONSTANTS, where, ("gamma_D", "gamma_N"), EXPONENT_RANGE)
    fit_range = {}
    for what, pair in (entry.get("fit_range") or {}).items():
        ok = isinstance(pair, (list, tuple)) and len(pair) == 2
        ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
        if what not in ("params", "tokens") or not ok or not 0 < pair[0] <= pair[1]:
            raise ScalingError(
                f"invalid {where} fit_range {what} {quoted(pair)}: expected params or tokens: [low, high]"
            )
        fit_range[what] = (float(pair[0]), float(pair[1]))
    return PrecisionLaw(
        **values,
        name=str(entry.get("name") or where),
        source=str(entry.get("source") or ""),
        fit_range=fit_range or None,
    )


def load_precision_law(path: str | Path) -> PrecisionLaw:
    """A `PrecisionLaw` from a JSON file, e.g.::

    {"name": "my-ptq-fit", "source": "fitted to my int4/int8 evals, Kumar et al. 2024 delta_PTQ",
     "constants": {"C_T": 0.1, "gamma_D": 0.5, "gamma_N": 0.5, "gamma_post": 1.0},
     "fit_range": {"params": [1e8, 8e9], "tokens": [1e9, 2e12]}}
    """
    file = Path(path)
    if not file.is_file():
        raise ScalingError(f"precision law file {quoted(str(path))} not found; expected a JSON file")
    try:
        entry = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ScalingError(f"precision law file {quoted(str(path))} is not valid JSON ({err})") from None
    return precision_law_from_dict(entry, f"precision law {file.name}")


@dataclass(frozen=True)
class QuantizedLoss:
    """A model's loss before and after post-training quantization to ``quant``."""

    params: float
    tokens: float
    quant: str
    bits: float
    loss: float  # before quantizing (the training law's)
    penalty: float  # delta_PTQ
    law: PrecisionLaw

    @property
    def quantized_loss(self) -> float:
        return self.loss + self.penalty

    def to_dict(self) -> dict[str, Any]:
        return dict(
            quant=self.quant,
            bits=self.bits,
            tokens_per_param=self.tokens / self.params,
            loss_before_quant=self.loss,
            ptq_penalty=self.penalty,
            quantized_loss=self.quantized_loss,
            precision_law=self.law.to_dict(),
        )


def quantized_loss(
    law: PrecisionLaw | None, params: float, tokens: float, quant: str, loss: float
) -> QuantizedLoss:
    """``loss`` (a training law's L(N, D)) plus Kumar et al.'s delta_PTQ for ``quant``; without a precision
    law, the one-line refusal naming what it needs."""
    bits = quant_bits(quant)
    if law is None:
        raise ScalingError(f"--quant {quant} needs {NEEDS}")
    penalty = law.ptq_penalty(params, tokens, bits)
    return QuantizedLoss(params, tokens, quant, bits, float(loss), float(penalty), law)
