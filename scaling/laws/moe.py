"""Mixture-of-experts scaling laws in the form of Krajewski et al. 2024, "Scaling Laws for Fine-Grained
Mixture of Experts" (arXiv 2402.07871, ICML 2024), Eq. 9:

    L(N, D, G) = c + (g / G**gamma + a) / N**alpha + b / D**beta

D is the training tokens and G the granularity: experts G times narrower than the dense FFN, G times as many
of them, G routed per token, so the active parameters stay those of the dense model while the total grows with
the expansion rate E (total expert parameters over active). N is, in the paper, the *total* non-embedding
parameters, router excluded (§5: "total number of non-embedding parameters N"); a law fitted to your own runs
(`scaling fit --moe`) may read N as the active parameters instead: the law says which (``params``). The law
holds at one E (Krajewski et al. fix E = 64; App. D fits E = 16) and over its fit range; its dense counterpart
L(N, D) = c + a_dense / N**alpha_dense + b_dense / D**beta_dense comes from the same runs, so both models are
scored on one data set and tokenizer.

The compute-optimal allocation (`MoeLaw.optimal`) is the paper's §6: training FLOPs per token
(12 d^2 c_f + d E G c_r) n_blocks with c_f = 6 and c_r = 14 (Eq. 10-11, App. E: routing costs grow with G),
d_model = 64 n_blocks and N = d^2 (8E + 4) n_blocks (§6.1), minimised over the active size by Brent's method
at each granularity. With Table 1's constants this reproduces the paper's Table 2
(tests/test_moe_law_presets.py).

Presets (`get_moe_law`, ``data/moe_laws.json``): ``krajewski2024`` (Table 1, E = 64) and ``krajewski2024-e16``
(Table 8's MoE constants at E = 16 with Table 1's dense law); ``--moe-law`` takes a preset name or a law file
(`load_moe_law`; the format in its docstring).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from scaling import catalog, checks
from scaling.errors import ScalingError, quoted
from scaling.laws.law import Law

MOE_CONSTANTS = ("a", "alpha", "b", "beta", "g", "gamma", "c")
DENSE_CONSTANTS = ("a", "alpha", "b", "beta", "c")
EXPONENT_RANGE = (1e-3, 3.0)
PARAMS = {
    "total": "total non-embedding parameters, router excluded (Krajewski et al. 2024's N)",
    "active": "active parameters (those a token meets)",
}
DEFAULT_MOE_LAW = "krajewski2024"
# what `scaling plan --moe` tries, in turn, when no law is named: the paper's main law (E = 64), then its
# E = 16 law, whose optimum holds a quarter of the total parameters, for a cluster E = 64's model overflows
DEFAULT_MOE_LAWS = (DEFAULT_MOE_LAW, "krajewski2024-e16")
# Krajewski et al. 2024, Eq. 10-11 and App. E: training FLOPs per (active parameter, token) outside the
# router (c_f, Hoffmann et al.'s 6) and per (router parameter, token) (c_r = 14: logits forward and backward,
# dispatch and combine forward and backward); §6.1: d_model = 64 n_blocks.
FLOPS_PER_ACTIVE_PARAM = 6.0
FLOPS_PER_ROUTER_PARAM = 14.0
WIDTH_PER_BLOCK = 64.0
ACTIVE_SEARCH = (1e5, 1e15)  # active parameters the allocation searches between


@dataclass(frozen=True)
class MoeAllocation:
    """The compute-optimal (active params, tokens, granularity) of a budget under a `MoeLaw`; ``params`` is
    the total non-embedding count of the paper's shape (§6.1) at that active count."""

    flops: float
    active_params: float
    tokens: float
    granularity: int
    loss: float
    params: float = math.nan


def paper_shape(active_params: Any, expansion: float) -> tuple[Any, Any, Any]:
    """(d_model, n_blocks, total non-embedding params) of Krajewski et al. 2024's shape (§6.1) with
    ``active_params`` = 12 d^2 n_blocks active non-embedding parameters and d_model = 64 n_blocks: the total
    is d^2 (8E + 4) n_blocks (attention 4 d^2, E experts' 8 d^2 each)."""
    d_model = (WIDTH_PER_BLOCK * active_params / 12.0) ** (1.0 / 3.0)
    blocks = d_model / WIDTH_PER_BLOCK
    return d_model, blocks, d_model**2 * (8.0 * expansion + 4.0) * blocks


def training_flops_per_token(active_params: Any, expansion: float, granularity: Any) -> Any:
    """Krajewski et al. 2024's Eq. 11 per token: (12 d^2 c_f + d E G c_r) n_blocks, routing included."""
    d_model, blocks, _ = paper_shape(active_params, expansion)
    return (
        12.0 * d_model**2 * FLOPS_PER_ACTIVE_PARAM
        + d_model * expansion * granularity * FLOPS_PER_ROUTER_PARAM
    ) * blocks


@dataclass(frozen=True)
class MoeLaw:
    """Krajewski et al. 2024's fine-grained MoE law and its dense counterpart, with what its N counts."""

    moe: dict[str, float]
    dense: dict[str, float]
    expansion: float
    granularities: tuple[int, ...] = (1, 2, 4, 8, 16)
    name: str = "moe law"
    source: str = ""
    fit_range: dict[str, tuple[float, float]] = field(default_factory=dict)
    params: str = "active"  # what N is: a key of PARAMS

    def loss(self, n: Any, tokens: Any, granularity: Any) -> Any:
        """L(N, D, G) with N in the law's own convention (``params``; arrays broadcast)."""
        k = self.moe
        scale = k["g"] / granularity ** k["gamma"] + k["a"]
        return k["c"] + scale / n ** k["alpha"] + k["b"] / tokens ** k["beta"]

    def law_params(self, active_params: Any) -> Any:
        """The law's N for a model of ``active_params`` in the paper's shape (§6.1)."""
        return paper_shape(active_params, self.expansion)[2] if self.params == "total" else active_params

    def spec_params(self, spec: Any) -> float:
        """The law's N for a built model: its non-embedding parameters less the router's (``total``), or its
        active parameters (``active``)."""
        if self.params == "active":
            return float(spec.active_params)
        router = spec.moe_layers * spec.d_model * spec.n_experts if spec.is_moe else 0
        return float(spec.params_non_embedding - router)

    def optimal(self, flops: float) -> MoeAllocation:
        """The least loss at ``flops`` training FLOPs over the law's granularities (Krajewski et al. 2024,
        §6.2): at each G, the active size by Brent's method (bounded, in log N); D = flops / Eq. 11."""
        from scipy.optimize import minimize_scalar

        flops = float(checks.positive(flops, "training budget (FLOPs)"))
        best = None
        for G in self.granularities:

            def loss_at(log_active: float, G: int = G) -> float:
                active = math.exp(log_active)
                tokens = flops / training_flops_per_token(active, self.expansion, G)
                return float(self.loss(self.law_params(active), tokens, G))

            lo, hi = (math.log(v) for v in ACTIVE_SEARCH)
            found = minimize_scalar(loss_at, bounds=(lo, hi), method="bounded", options={"xatol": 1e-7})
            active = math.exp(float(found.x))
            tokens = flops / training_flops_per_token(active, self.expansion, G)
            total = paper_shape(active, self.expansion)[2]
            candidate = MoeAllocation(flops, active, tokens, int(G), float(found.fun), float(total))
            if best is None or candidate.loss < best.loss:
                best = candidate
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

    def extrapolations(self, n: float, tokens: float) -> list[str]:
        """One line per quantity outside the law's fit range (``n`` in the law's convention)."""
        lines = []
        for what, value in (("params", n), ("tokens", tokens)):
            lo, hi = self.fit_range.get(what, (0.0, math.inf))
            if not lo <= value <= hi:
                label = f"{self.params} params" if what == "params" else "tokens"
                lines.append(
                    f"{label} {value:.3g} lie outside {self.name}'s fit range {lo:.3g}-{hi:.3g}: the plan "
                    "extrapolates the law"
                )
        return lines

    def to_dict(self) -> dict[str, Any]:
        return dict(
            name=self.name,
            source=self.source,
            form="Krajewski et al. 2024: L = c + (g/G^gamma + a)/N^alpha + b/D^beta",
            params=self.params,
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
    params = entry.get("params", "active")
    if params not in PARAMS:
        accepted = " or ".join(f"{k} ({v})" for k, v in PARAMS.items())
        raise ScalingError(f"invalid {where} params {quoted(params)}: expected {accepted}")
    # "active_params" is the range's older name, meaning the law's N when N is the active parameters
    names = ("params", "tokens") + (("active_params",) if params == "active" else ())
    fit_range = {}
    for what, pair in (entry.get("fit_range") or {}).items():
        ok = isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, (int, float)) for v in pair)
        if what not in names or not ok or not 0 < pair[0] <= pair[1]:
            raise ScalingError(
                f"invalid {where} fit_range {what} {quoted(pair)}: expected {' or '.join(names)}: [low, high]"
            )
        fit_range["tokens" if what == "tokens" else "params"] = (float(pair[0]), float(pair[1]))
    return MoeLaw(
        moe=_constants(entry.get("moe"), MOE_CONSTANTS, f"{where} moe constants"),
        dense=_constants(entry.get("dense"), DENSE_CONSTANTS, f"{where} dense constants"),
        expansion=float(expansion),
        granularities=grans,
        name=str(entry.get("name") or where),
        source=str(entry.get("source") or ""),
        fit_range=fit_range,
        params=params,
    )


def load_moe_law(path: str | Path) -> MoeLaw:
    """A `MoeLaw` from a JSON file::

        {"name": "my-moe-fit", "source": "fitted to my runs in Krajewski et al. 2024's form",
         "params": "active",
         "moe": {"a": 18.0, "alpha": 0.115, "b": 30.0, "beta": 0.15, "g": 2.0, "gamma": 0.6, "c": 0.5},
         "dense": {"a": 16.0, "alpha": 0.126, "b": 27.0, "beta": 0.127, "c": 0.5},
         "expansion": 8, "granularities": [1, 2, 4, 8],
         "fit_range": {"params": [1e8, 4e9], "tokens": [1e10, 2e11]}}

    ``expansion`` is total over active expert parameters (experts x expert width over top-k x expert width);
    ``params`` says what N is: ``total`` (non-embedding, router excluded: Krajewski et al.'s) or ``active``
    (the default, what `scaling fit --moe` fits); ``fit_range.params`` is in the same convention.
    """
    file = Path(path)
    if not file.is_file():
        raise ScalingError(f"MoE law file {quoted(str(path))} not found; expected a JSON file")
    try:
        entry = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ScalingError(f"MoE law file {quoted(str(path))} is not valid JSON ({err})") from None
    return moe_law_from_dict(entry, f"MoE law {file.name}")


@lru_cache(maxsize=2)
def _presets(path: str) -> dict[str, MoeLaw]:
    entries = catalog.read_json(Path(path))["laws"]
    laws = (moe_law_from_dict(e, f"MoE law preset {e['name']}") for e in entries)
    return {catalog.normalize_name(law.name): law for law in laws}


def list_moe_laws() -> list[MoeLaw]:
    """Every published MoE law in ``data/moe_laws.json``."""
    return list(_presets(str(catalog.data_path("moe_laws.json"))).values())


def get_moe_law(name_or_path: str | Path | None = None) -> MoeLaw:
    """A preset by name (`DEFAULT_MOE_LAW` when None) or a law file's path (`load_moe_law`)."""
    text = DEFAULT_MOE_LAW if name_or_path is None else str(name_or_path).strip()
    presets = _presets(str(catalog.data_path("moe_laws.json")))
    key = catalog.normalize_name(text)
    if key in presets:
        return presets[key]
    if text.lower().endswith(".json") or Path(text).exists():
        return load_moe_law(text)
    raise catalog.unknown("MoE law", text, list(presets), "scaling laws --moe")
