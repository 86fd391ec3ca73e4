"""Learning-rate and batch laws fitted on a user's own sweep, carried by a law file under the key
``hyperparameters`` (written by ``scaling fit RUNS --hyperparameters``):

    {"learning_rate": {"coef": a, "exp": alpha}, "batch_tokens": {"coef": b, "exp": beta},
     "convention": "C = 6ND", "near_optimal": 0.0025, "flops_range": [lo, hi],
     "bootstrap": {"level": 0.8, "replicates": [[a, alpha, b, beta], ...]}, "source": "..."}

eta_opt = a C^alpha and B_opt = b C^beta tokens, C = 6ND of the runs (DeepSeek LLM's method, Bi et al. 2024
§3.1, on the runs table's own compute convention). `FittedHyperparameters` is the rule the plan uses like a
published one (``--hp-law law``); `check_hyperparameters` is the one validator of the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scaling import checks, units
from scaling.errors import ScalingError, quoted
from scaling.recipe.hyperparameters import HyperparameterLaw, Hyperparameters, RunShape

KEY = "hyperparameters"


@dataclass(frozen=True)
class PowerLaw:
    """y = coef x^exp."""

    coef: float
    exp: float

    def __call__(self, x: Any) -> Any:
        return self.coef * np.asarray(x, dtype=float) ** self.exp


class FittedHyperparameters(HyperparameterLaw):
    """eta_opt(C) and B_opt(C) power laws of C = 6ND from a sweep, with bootstrap intervals."""

    name = "law"

    def __init__(self, payload: dict[str, Any], law_name: str = "law") -> None:
        self.payload = check_hyperparameters(payload, law_name)
        lr, batch = self.payload["learning_rate"], self.payload["batch_tokens"]
        self.lr = PowerLaw(lr["coef"], lr["exp"])
        self.batch = PowerLaw(batch["coef"], batch["exp"])
        boot = self.payload.get("bootstrap") or {}
        self.replicates = np.asarray(boot.get("replicates") or [], dtype=float).reshape(-1, 4)
        self.level = float(boot.get("level", 0.8))
        low, high = self.payload.get("flops_range") or (None, None)
        span = f", fitted on {units.format_flops(low)}-{units.format_flops(high)}" if low else ""
        self.source = (
            f"fitted on the runs of law {law_name!r}: eta_opt = {lr['coef']:.4g} C^{lr['exp']:.4f}, "
            f"B_opt = {batch['coef']:.4g} C^{batch['exp']:.4f} tokens, C = 6ND (runs within "
            f"{self.payload.get('near_optimal', 0.0025):.2%} of each budget's best loss, Bi et al. 2024 "
            f"§3.1){span}"
        )

    def learning_rate(self, run: RunShape) -> float:
        return float(self.lr(run.flops))

    def batch_tokens(self, run: RunShape) -> float:
        return float(self.batch(run.flops))

    def inputs(self, run: RunShape) -> str:
        return f"C = 6ND = {units.format_flops(run.flops)}"

    def answer(self, run: RunShape) -> Hyperparameters:
        base = super().answer(run)
        if not len(self.replicates):
            return base
        c = run.flops
        lrs = self.replicates[:, 0] * c ** self.replicates[:, 1]
        batches = self.replicates[:, 2] * c ** self.replicates[:, 3]
        tail = (1 - self.level) / 2 * 100
        return Hyperparameters(
            base.law,
            base.learning_rate,
            base.batch_tokens,
            base.source,
            base.inputs,
            tuple(float(v) for v in np.percentile(lrs, [tail, 100 - tail])),
            tuple(float(v) for v in np.percentile(batches, [tail, 100 - tail])),
        )


def _line(value: Any, what: str) -> dict[str, float]:
    if not isinstance(value, dict) or "coef" not in value or "exp" not in value:
        raise ScalingError(f"invalid {what} {quoted(value)}: expected an object with coef and exp")
    return {
        "coef": float(checks.positive(value["coef"], f"{what}.coef")),
        "exp": float(checks.finite(value["exp"], f"{what}.exp")),
    }


def check_hyperparameters(payload: Any, law_name: str = "law") -> dict[str, Any]:
    """The ``hyperparameters`` key of a law file, validated (one `ScalingError` naming the field)."""
    where = f"law {law_name!r} {KEY}"
    if not isinstance(payload, dict):
        raise ScalingError(f"invalid {where} {quoted(payload)}: expected a JSON object")
    out = dict(payload)
    out["learning_rate"] = _line(payload.get("learning_rate"), f"{where}.learning_rate")
    out["batch_tokens"] = _line(payload.get("batch_tokens"), f"{where}.batch_tokens")
    boot = payload.get("bootstrap")
    if boot is not None:
        rows = boot.get("replicates") if isinstance(boot, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == 4 for r in rows):
            raise ScalingError(
                f"invalid {where}.bootstrap: expected replicates as rows of [lr coef, lr exp, batch coef, "
                "batch exp]"
            )
        checks.finite(np.asarray(rows, dtype=float), f"{where}.bootstrap.replicates")
    return out


def fitted_hyperparameters(law: Any) -> FittedHyperparameters | None:
    """The rule a law file carries, or None."""
    payload = getattr(law, KEY, None)
    if not payload:
        return None
    return FittedHyperparameters(payload, getattr(law, "name", "law"))
