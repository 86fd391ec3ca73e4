"""How a mixture of experts is served: the experts a batch routes to, and how they are placed on a replica.

Uniform, independent top-k routing (a derived model: real routers are skewed, which touches fewer experts at
a batch but loads some devices more); the placement follows vLLM's ``--enable-expert-parallel`` without
data-parallel attention: each device holds E / EP whole experts and the layer's all-reduce combines them;
a wide replica (module `scaling.serving.wide_ep`) spreads them over more devices than the attention's TP.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scaling.model import ModelSpec


def experts_touched(n_experts: int, experts_per_token: int, tokens: Any) -> Any:
    """Expected distinct experts per layer that ``tokens`` tokens route to: E (1 - (1 - k/E)^tokens).

    Uniform, independent top-k routing. At batch 1 it is k; by a few dozen tokens it is every expert, so
    memory-bound MoE decode reads nearly all expert weights at moderate batch (its FLOP saving remains).
    """
    tokens = np.asarray(tokens, dtype=float)
    if n_experts <= 1:
        return np.ones_like(tokens)
    return n_experts * (1.0 - np.power(1.0 - experts_per_token / n_experts, tokens))


def expert_parallel(spec: ModelSpec, tp: int) -> tuple[int, int | None]:
    """(EP, ETP) of a serving replica of ``tp`` devices: a MoE's experts whole on each device, spread over
    all ``tp`` of them (EP = TP, ETP 1: vLLM's ``--enable-expert-parallel``) when TP divides the experts,
    else each expert split over the ``tp`` devices (EP 1, ETP = TP: vLLM without it); a dense model
    (1, None). Either way a device holds 1/TP of the routed experts' weights."""
    if not spec.is_moe:
        return 1, None
    return (tp, 1) if spec.n_experts % tp == 0 else (1, tp)


def expert_share(spec: ModelSpec, ep: int, etp: int = 1) -> float:
    """The share of the routed experts' weights one device holds: ceil(E / EP) whole experts of the E, each
    split over ETP devices (1 / TP when EP x ETP = TP, `expert_parallel`; when EP does not divide E, a wide
    replica's spare slots hold redundant copies of hot experts, DeepSeek-V3 §3.4)."""
    if not spec.is_moe:
        return 1.0 / (ep * etp)
    return math.ceil(spec.n_experts / ep) / spec.n_experts / etp


def routing_note(spec: ModelSpec, tp: int, ep: int | None = None) -> str | None:
    """The routing assumption a MoE's decode bytes rest on, and how its experts are placed (None: dense);
    ``ep`` None: `expert_parallel`'s."""
    if not spec.is_moe:
        return None
    ep = expert_parallel(spec, tp)[0] if ep is None else ep
    placed = (
        f"experts spread over EP = {ep} devices ({math.ceil(spec.n_experts / ep)} each)"
        if ep > 1
        else f"each expert split over TP {tp}"
    )
    combine = "all-to-all dispatch and combine" if ep > tp else "all-reduce combine"
    return (
        f"MoE: a step reads the experts its tokens route to, E (1 - (1 - k/E)^tokens) of "
        f"E = {spec.n_experts} per layer with top-{spec.top_k} (uniform, independent routing); {placed}, "
        f"{combine}"
    )
