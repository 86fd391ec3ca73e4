"""A mixture-of-experts scaling law from a file the user supplies, in the form of Krajewski et al. 2024,
"Scaling Laws for Fine-Grained Mixture of Experts" (arXiv 2402.07871, ICML 2024):

    L(N, D, G) = c + (g / G**gamma + a) / N**alpha + b / D**beta

N is the parameters a token meets (active), D the training tokens, G the granularity: experts G times
narrower than the dense FFN, G times as many of them, G routed per token, so the active parameters stay
those of the dense model while the total grows with the expansion rate E (total expert parameters over
active). The law holds at the file's E (Krajewski et al. fix E = 64) and over its fit range; the dense
counterpart L(N, D) = c + a_dense / N**alpha_dense + b_dense / D**beta_dense comes from the same file, so
both models are scored by one set of runs. The paper's constants are not shipped: they could not be read
from the paper itself, so ``--moe-law FILE`` gives them (`load_moe_law`; the format in its docstring).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaling import checks
from scaling.errors import ScalingError, quoted
from scaling.laws.law import Law
from scaling.units import FLOPS_PER_PARAM_TOKEN

MOE_CONSTANTS = ("a", "alpha", "b", "beta", "g", "gamma", "c")
DENSE_CONSTANTS = ("a", "alpha", "b", "beta", "c")
EXPONENT_RANGE = (1e-3, 3.0)
NEEDS = (
    "a MoE law file (--moe-law FILE: JSON with Krajewski et al. 2024's constants a, alpha, b, beta, g, "
    "gamma, c, the dense law's a, alpha, b, beta, c and the expansion rate); the paper's fitted values are "
    "not confirmed, so none ship"
)


@dataclass(frozen=True)
class MoeAllocation:
    """The compute-optimal (active params, tokens, granularity) of a budget under a `MoeLaw`."""

    flops: float
    active_params: float
    tokens: float
    granularity: int
    loss: float


@dataclass(frozen=True)
class MoeLaw:
    """Krajewski et al. 2024's fine-grained MoE law and its dense counterpart, from one file."""

    moe: dict[str, float]
    dense: dict[str, float]
    expansion: float
    granularities: tuple[int, ...] = (1, 2, 4, 8, 16)
    name: str = "moe law"
    source: str = ""
    fit_range: dict[str, tuple[float, float]] = field(default_factory=dict)

    def loss(self, active_params: Any, tokens: Any, granularity: Any) -> Any:
        """L(N, D, G) (arrays broadcast)."""
        k = self.moe
        scale = k["g"] / granularity ** k["gamma"] + k["a"]
        return k["c"] + scale / active_params ** k["alpha"] + k["b"] / tokens ** k["beta"]

    def optimal(self, flops: float) -> MoeAllocation:
        """The least loss at ``flops`` = 6·N·D over the file's granularities: at each G the law is a
        Chinchilla form with A = g/G^gamma + a, whose optimum is closed-form (Hoffmann et al. 2022, Eq. 4)."""
        flops = float(checks.positive(flops, "training budget (FLOPs)"))
        k, best = self.moe, None
        for G in self.granularities:
            A = k["g"] / G ** k["gamma"] + k["a"]
            alpha, beta, B = k["alpha"], k["beta"], k["b"]
            front = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
            N = front * (flops / FLOPS_PER_PARAM_TOKEN) ** (beta / (alpha + beta))
            D = flops / (FLOPS_PER_PARAM_TOKEN * N)
            found = MoeAllocation(flops, N, D, int(G), float(self.loss(N, D, G)))
            if best is None or found.loss < best.loss:
                best = found
        return best

    def dense_law(self) -> Law:
        """The file's dense law as a parametric law (E = c, A = a, B = b), for the plan's dense side."""
        from scaling.laws.files import law_from_dict

        k = self.dense
        constants = dict(E=k["c"], A=k["a"], B=k["b"], alpha=k["alpha"], beta=k["beta"])
        return law_from_dict(
            {
                "name": f"{self.name} (dense)",
                "kind": "parametric",
                "source": self.source,
                "constants": constants,
            },
            "MoE law file's dense law",
        )

    def extrapolations(self, active_params: float, tokens: float) -> list[str]:
        """One line per quantity outside the file's fit range."""
        lines = []
        for what, value in (("active_params", active_params), ("tokens", tokens)):
            lo, hi = self.fit_range.get(what, (0.0, math.inf))
            if not lo <= value <= hi:
                lines.append(
                    f"{what.replace('_', ' ')} {value:.3g} lie outside {self.name}'s fit range "
                    f"{lo:.3g}-{hi:.3g}: the plan extrapolates the law"
                )
        return lines

    def to_dict(self) -> dict[str, Any]:
        return dict(
            name=self.name,
            source=self.source,
            form="Krajewski et al. 2024: L = c + (g/G^gamma + a)/N^alpha + b/D^beta",
            moe=dict(self.moe),
            dense=dict(self.dense),
            expansion=self.expansion,
            granularities=list(self.granularities),
            fit_range={k: list(v) for k, v in self.fit_range.items()},
        )


def _constants(entry: Any, names: tuple[str, ...], where: str) -> dict[str, float]:
    return checks.positive_constants(entry, names, where, ("alpha", "beta", "gamma"), EXPONENT_RANGE)


def moe_law_from_dict(entry: Any, where: str = "MoE law") -> MoeLaw:
    """A checked `MoeLaw` from a JSON object (the format of `load_moe_law`)."""
    if not isinstance(entry, dict):
        raise ScalingError(f"invalid {where} {quoted(entry)}: expected a JSON object")
    expansion = entry.get("expansion")
    if isinstance(expansion, (bool, str, list, dict)) or expansion is None or not float(expansion) > 1:
        raise ScalingError(
            f"invalid {where} expansion {quoted(expansion)}: expected total over active expert "
            "parameters, above 1"
        )
    granularities = entry.get("granularities", [1, 2, 4, 8, 16])
    if not isinstance(granularities, list) or not granularities:
        raise ScalingError(
            f"invalid {where} granularities {quoted(granularities)}: expected a list of integers"
        )
    grans = tuple(checks.positive_int(g, f"{where} granularity") for g in granularities)
    fit_range = {}
    for what, pair in (entry.get("fit_range") or {}).items():
        ok = isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, (int, float)) for v in pair)
        if what not in ("active_params", "tokens") or not ok or not 0 < pair[0] <= pair[1]:
            raise ScalingError(
                f"invalid {where} fit_range {what} {quoted(pair)}: expected active_params or tokens: "
                "[low, high]"
            )
        fit_range[what] = (float(pair[0]), float(pair[1]))
    return MoeLaw(
        moe=_constants(entry.get("moe"), MOE_CONSTANTS, f"{where} moe constants"),
        dense=_constants(entry.get("dense"), DENSE_CONSTANTS, f"{where} dense constants"),
        expansion=float(expansion),
        granularities=grans,
        name=str(entry.get("name") or where),
        source=str(entry.get("source") or ""),
        fit_range=fit_range,
    )


def load_moe_law(path: str | Path) -> MoeLaw:
    """A `MoeLaw` from a JSON file::

        {"name": "my-moe-fit", "source": "fitted to my runs in Krajewski et al. 2024's form",
         "moe": {"a": 18.0, "alpha": 0.115, "b": 30.0, "beta": 0.15, "g": 2.0, "gamma": 0.6, "c": 0.5},
         "dense": {"a": 16.0, "alpha": 0.126, "b": 27.0, "beta": 0.127, "c": 0.5},
         "expansion": 8, "granularities": [1, 2, 4, 8],
         "fit_range": {"active_params": [1e8, 4e9], "tokens": [1e10, 2e11]}}

    ``expansion`` is total over active expert parameters (experts x expert width over top-k x expert width).
    """
    file = Path(path)
    if not file.is_file():
        raise ScalingError(f"MoE law file {quoted(str(path))} not found; expected a JSON file")
    try:
        entry = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ScalingError(f"MoE law file {quoted(str(path))} is not valid JSON ({err})") from None
    return moe_law_from_dict(entry, f"MoE law {file.name}")
