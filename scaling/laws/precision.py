"""The loss cost of post-training quantization: Kumar et al. 2024, "Scaling Laws for Precision" (arXiv
2411.04330, ICLR 2025), from a shipped preset or a law file the user supplies.

Kumar et al. model the loss added by quantizing a model's weights to ``P_post`` bits after training as
(Eq. 2, Finding 1)

    delta_PTQ(N, D, P_post) = C_T * (D ** gamma_D / N ** gamma_N) * exp(-P_post / gamma_post + b_post)

so that, with gamma_D close to gamma_N, the damage grows with tokens per parameter: an over-trained model
loses more to quantization, and past a critical D (App. E.1, Eq. 13) more pretraining raises the quantized
model's loss. ``b_post`` is the offset App. K says each exponent fit carries ("e^{x/gamma_x} ... is really
computed with offset e^{x/gamma_x + n}"); a file without it has b_post = 0.

``--precision-law`` names a preset of ``data/precision_laws.json`` or a JSON file (`precision_law`, the one
resolver; `DEFAULT_PRECISION_LAW` when none is given). The preset ``kumar2024`` is App. K Table 2 of the
paper, read from its text: the post-training quantization constants (Table 2's C_T, gamma_D, gamma_N and
the last exponent fit, gamma = 0.5907 with its offset b = 1.1277), the training constants of its effective
parameter count (`scaling.laws.precision_training`: gamma_w, n_w, gamma_i [activations], n_i, gamma_kv,
n_kv) and its own Chinchilla fit (A, alpha = beta tied, B, E). Its fit range is Sec. 2.3's sweep: N in
30M-220M non-embedding parameters, D in 1.5B-26B tokens (validated up to 1.7B parameters). The paper warns
the numbers are unlikely to transfer across architectures and data (App. K); outside the range every output
says it extrapolates.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scaling import catalog, checks
from scaling.errors import ScalingError, quoted
from scaling.laws.precision_training import TrainingPrecision, training_precision_from_dict

# Bits per weight of each post-training quantization the calculator names (the format's storage width).
QUANT_BITS: dict[str, float] = {"int4": 4.0, "int8": 8.0, "fp8": 8.0}
CONSTANTS = ("C_T", "gamma_D", "gamma_N", "gamma_post")
OFFSET = "b_post"  # optional: the exponent fit's offset (App. K), 0 when a file leaves it out
LOSS_CONSTANTS = ("A", "alpha", "B", "beta", "E")  # the paper's own L(N, D) fit, kept as its record
EXPONENT_RANGE = (1e-3, 5.0)  # gamma_D and gamma_N: power-law exponents of a loss term
PRESETS_FILE = "precision_laws.json"
DEFAULT_PRECISION_LAW = "kumar2024"  # what --quant and --train-bits are priced by without --precision-law

# Where each constant of the kumar2024 preset (data/precision_laws.json) is in Kumar et al. 2024 (arXiv
# 2411.04330): all are App. K, Table 2 ("Fitted constants and their values"), fitted on integer types.
#   C_T 0.0598, gamma_D 0.5068, gamma_N 0.3439: delta_PTQ of Eq. 2 (Sec. 3.1, Finding 1; GPTQ on BF16 models).
#   gamma_post 0.5907, b_post 1.1277: Table 2's last exponent fit, printed "gamma" with its offset "b"
#     (App. K: "a fit of the form e^{x/gamma_x} ... is really computed with offset e^{x/gamma_x + n}");
#     Eq. 2's only exponential in P_post. App. N names an exponent fit's offset b the same way.
#   gamma_w 2.6745, n_w 0.3037; gamma_a 2.2102, n_a 1.4072 (Table 2's gamma_i, n_i); gamma_kv 0.9578,
#     n_kv 2.4185: N_eff of Eq. 4 (Sec. 4.2, Finding 2), with the same offsets; the activations' pair is the
#     one whose factor vanishes at 3.1 bits, as App. L's diverging P_a <= 3 runs require.
#   A 4.299e3, alpha 0.4965, B 1.806e4, E 2.7648 (beta = alpha: "we tie alpha = beta", App. K): Eq. 1/3.
#   fit range: Sec. 2.3, N in [30, 60, 110, 220]M non-embedding parameters, D in [1.5, 3, 6, 13, 26]B tokens.


@dataclass(frozen=True)
class PrecisionLaw:
    """Kumar et al. 2024's post-training quantization term with its constants and where they come from; a
    preset also carries the effective parameter count of low-precision training (``training``) and the
    paper's own L(N, D) fit (``paper_loss``, the record its claims are checked against)."""

    C_T: float
    gamma_D: float
    gamma_N: float
    gamma_post: float
    name: str = "precision law"
    source: str = ""
    fit_range: dict[str, tuple[float, float]] | None = None
    b_post: float = 0.0
    training: TrainingPrecision | None = None  # the effective parameter count of low-precision training
    paper_loss: dict[str, float] | None = None  # the paper's Chinchilla fit, L = A N^-alpha + B D^-beta + E
    caveat: str = ""

    def ptq_penalty(self, params: Any, tokens: Any, bits: Any) -> Any:
        """delta_PTQ: loss added by quantizing ``params`` weights trained on ``tokens`` to ``bits``
        (arrays broadcast)."""
        N, D, P = (np.asarray(x, dtype=float) for x in (params, tokens, bits))
        out = self.C_T * D**self.gamma_D / N**self.gamma_N * np.exp(-P / self.gamma_post + self.b_post)
        return float(out) if np.ndim(out) == 0 else out

    def critical_tokens(self, params: Any, bits: Any, B: float, beta: float) -> Any:
        """The tokens past which more pretraining raises the loss after quantizing to ``bits``, for a loss law
        whose data term is B / D^beta: where d(B D^-beta)/dD = -d(delta_PTQ)/dD (App. E.1, Eq. 12-13, with
        the offset b_post)."""
        N, P = (np.asarray(x, dtype=float) for x in (params, bits))
        offset = np.exp(P / self.gamma_post - self.b_post)
        balance = beta * B * N**self.gamma_N * offset / (self.gamma_D * self.C_T)
        out = balance ** (1.0 / (self.gamma_D + beta))
        return float(out) if np.ndim(out) == 0 else out

    def describe(self) -> str:
        """The law in one line: its name, source and fit range (every output that uses it prints this)."""
        ranges = "; ".join(f"{k} {lo:.3g}-{hi:.3g}" for k, (lo, hi) in (self.fit_range or {}).items())
        return f"{self.name}: {self.source or 'user file'}" + (f"; fit range {ranges}" if ranges else "")

    def outside_fit(self, params: float, tokens: float) -> list[str]:
        """One line per quantity outside the file's ``fit_range`` (extrapolation warnings)."""
        lines = []
        for what, value in (("params", params), ("tokens", tokens)):
            lo, hi = (self.fit_range or {}).get(what, (0.0, math.inf))
            if not lo <= value <= hi:
                lines.append(f"{what} {value:.3g} is outside {self.name}'s fit range {lo:.3g}-{hi:.3g}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        constants = {k: getattr(self, k) for k in CONSTANTS} | ({OFFSET: self.b_post} if self.b_post else {})
        out = dict(
            name=self.name,
            source=self.source,
            constants=constants,
            fit_range={k: list(v) for k, v in (self.fit_range or {}).items()} or None,
        )
        if self.training is not None:
            out["training"] = self.training.to_dict()
        if self.paper_loss is not None:
            out["loss"] = dict(self.paper_loss)
        if self.caveat:
            out["caveat"] = self.caveat
        return out


def quant_bits(quant: str) -> float:
    """Bits per weight of a post-training quantization name (int4, int8, fp8)."""
    return QUANT_BITS[checks.choice(quant, tuple(QUANT_BITS), "post-training quantization")]


def precision_law_from_dict(entry: Any, where: str = "precision law") -> PrecisionLaw:
    """A checked `PrecisionLaw` from a JSON object: ``constants`` (C_T > 0, gamma_post > 0, gamma_D and
    gamma_N in `EXPONENT_RANGE`, optional b_post), optional ``name``, ``source``, ``fit_range``
    ({"params": [lo, hi], "tokens": [lo, hi]}), ``training`` (`TrainingPrecision`'s constants), ``loss``
    (A, alpha, B, beta, E) and ``caveat``."""
    if not isinstance(entry, dict):
        raise ScalingError(f"invalid {where} {quoted(entry)}: expected a JSON object with 'constants'")
    constants = entry.get("constants")
    if not isinstance(constants, dict):
        raise ScalingError(f"{where} has no 'constants' object; expected {', '.join(CONSTANTS)}")
    missing = [k for k in CONSTANTS if k not in constants]
    if missing:
        raise ScalingError(f"{where} constants lack {', '.join(missing)}; expected {', '.join(CONSTANTS)}")
    values = checks.positive_constants(constants, CONSTANTS, where, ("gamma_D", "gamma_N"), EXPONENT_RANGE)
    if OFFSET in constants:
        values[OFFSET] = float(
            checks.finite(_number(constants[OFFSET], f"{where} {OFFSET}"), f"{where} {OFFSET}")
        )
    training = entry.get("training")
    loss = entry.get("loss")
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
        training=None if training is None else training_precision_from_dict(training, where),
        paper_loss=None if loss is None else checks.positive_constants(loss, LOSS_CONSTANTS, f"{where} loss"),
        caveat=str(entry.get("caveat") or ""),
    )


def _number(value: Any, what: str) -> Any:
    if isinstance(value, (bool, str, list, dict)) or value is None:
        raise ScalingError(f"invalid {what} {quoted(value)}: expected a number")
    return value


def precision_law_presets() -> dict[str, PrecisionLaw]:
    """The shipped precision laws of ``data/precision_laws.json``, by name."""
    entries = catalog.read_json(PRESETS_FILE)
    return {
        catalog.normalize_name(name): precision_law_from_dict(entry, f"precision law preset {name}")
        for name, entry in entries.items()
    }


def precision_law(name_or_path: str | Path | None = None) -> PrecisionLaw:
    """The precision law ``--precision-law`` names: a preset (`precision_law_presets`), else a JSON file
    (`load_precision_law`); `DEFAULT_PRECISION_LAW` when None."""
    text = DEFAULT_PRECISION_LAW if name_or_path is None else str(name_or_path).strip()
    presets = precision_law_presets()
    key = catalog.normalize_name(text)
    if key in presets:
        return presets[key]
    if not Path(text).exists():
        raise ScalingError(
            f"precision law {quoted(text)} does not exist: expected a preset ({', '.join(presets)}) or a "
            "JSON law file"
        )
    return load_precision_law(text)


def precision_law_for(quant: str | None, name_or_path: str | None, train_bits: float | None = None) -> Any:
    """The precision law a request prices ``--quant`` and ``--train-bits`` by (`precision_law`), None when it
    asks for neither; ``--precision-law`` alone, or both at once, is refused in one line."""
    if quant is None and train_bits is None:
        if name_or_path is None:
            return None
        raise ScalingError("--precision-law needs --quant int4, int8 or fp8 (the quantization it prices)")
    if quant is not None and train_bits is not None:
        raise ScalingError(
            f"--quant {quant} with --train-bits {train_bits:g}: quantizing a model trained in low "
            "precision needs Kumar et al. 2024's Eq. 9, whose constants (C_w, C_a, C_kv) App. K does not "
            "give; price one at a time"
        )
    return precision_law(name_or_path)


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
    critical_tokens: float | None = None  # past it more tokens raise the quantized loss (None: no B/D^beta)

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
            critical_tokens=self.critical_tokens,
            precision_law=self.law.to_dict(),
        )


def quantized_loss(
    law: PrecisionLaw, params: float, tokens: float, quant: str, loss: float, loss_law: Any = None
) -> QuantizedLoss:
    """``loss`` (a training law's L(N, D)) plus Kumar et al.'s delta_PTQ for ``quant``; with a ``loss_law``
    whose data term is B / D^beta, also the critical tokens (`PrecisionLaw.critical_tokens`)."""
    bits = quant_bits(quant)
    penalty = law.ptq_penalty(params, tokens, bits)
    B, beta = getattr(loss_law, "B", None), getattr(loss_law, "beta", None)
    critical = None if B is None or beta is None else law.critical_tokens(params, bits, B, beta)
    return QuantizedLoss(params, tokens, quant, bits, float(loss), float(penalty), law, critical)
