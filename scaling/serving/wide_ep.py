"""Wide expert parallelism: a MoE replica whose attention runs in data-parallel groups and whose routed
experts spread over every device of the replica, the tokens moving by all-to-all.

A replica of EP devices runs attention (and the dense layers, shared experts, embedding and head) in
EP / TP data-parallel groups of ``tp`` devices each (attention TP, with sequence parallelism), and spreads the
routed experts over all EP devices: each holds ceil(E / EP) of them (when EP does not divide E, the spare
slots hold redundant copies of hot experts). This is DeepSeek-V3's serving (DeepSeek-AI 2024, arXiv
2412.19437, §3.4: prefill on 32 GPUs with attention TP4 + SP and DP8, MoE EP32; decode on 320 GPUs with
TP4 + SP and DP80, MoE EP320, one expert per GPU and 64 GPUs for redundant and shared experts; its
inference-system overview of February 2025, "day 6" of its open-source week, serves prefill on EP32 with 9
routed experts per GPU and decode on EP144 with 2), vLLM's ``--data-parallel-size N
--enable-expert-parallel`` and SGLang's ``--enable-dp-attention --ep-size``.

Per device (the roofline of `scaling.serving.roofline.Deployment`, with the replica's batch split evenly
over the DP groups): memory holds its TP share of the non-expert weights, its ceil(E / EP) experts and the
KV cache of its group's sequences; compute is 1 / EP of the replica's FLOPs (uniform routing sends each
device batch x top-k / EP expert-tokens); it reads its touched experts, E (1 - (1 - k/E)^tokens) / E of its
own; and each MoE layer adds a dispatch and a combine (`AllToAll`): every token the device holds (its DP
group's tokens / TP, sequence-parallel) goes to top-k experts, d_model elements each way, dispatched at the
activation dtype (fp8 when serving in fp8, as DeepSeek-V3 does) and combined in bf16; (EP - 1) / EP of it
leaves the device, over the intra-node link to the other devices of its node and the inter-node network to
the rest, the two links running at once.

Left out: node-limited routing (DeepSeek-V3 sends each token to at most 4 nodes and forwards it over NVLink,
so the network carries less than top-k copies), the overlap of communication with computation (two
micro-batches), routing skew and its load balancers, and the expert's dispatch buffers in memory.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from scaling import checks
from scaling.errors import ScalingError
from scaling.memory import (
    DEVICES_PER_NODE,
    ModelShape,
    Precision,
    device_count,
    dtype_bytes,
    infer_memory_arrays,
    largest_fitting,
    layout_rules,
    validate_layout,
)
from scaling.model import ModelSpec
from scaling.units import GB

# `scaling.serving.roofline.Deployment`, named in words: roofline builds on this module, so even a
# type-checking import would close a cycle.
Deployment = Any

COMBINE_DTYPE = "bf16"  # DeepSeek-V3 §3.3.3 and its inference-system overview: combine in BF16


@dataclass(frozen=True)
class AllToAll:
    """The dispatch and combine of one forward pass of a wide expert-parallel replica (base units)."""

    ep: int
    moe_layers: int
    d_model: int
    top_k: int
    dispatch_bytes: float  # per element: the activation dtype's
    combine_bytes: float  # per element: bf16
    intra_node_bytes_per_s: float  # per device, one direction
    inter_node_bytes_per_s: float
    link_efficiency: float
    latency_s: float  # per collective (the all-reduce's alpha)

    def bytes_leaving(self, tokens: Any, bytes_per_element: float) -> tuple[Any, Any]:
        """(to the other devices of its node, to other nodes): bytes one device sends in one dispatch (or
        combine) of one MoE layer over ``tokens`` of its own tokens: a copy of d_model elements for each of
        top-k experts, routed uniformly over the EP devices (broadcasts)."""
        copies = np.asarray(tokens, dtype=float) * self.top_k * self.d_model * bytes_per_element
        node = min(self.ep, DEVICES_PER_NODE)
        return copies * (node - 1) / self.ep, copies * (self.ep - node) / self.ep

    def seconds(self, tokens: Any) -> Any:
        """Dispatch and combine time of a forward pass over ``tokens`` of a device's own tokens: per MoE
        layer, per direction, latency + the slower of its intra-node and inter-node shares (broadcasts)."""
        total = 0.0
        for per_element in (self.dispatch_bytes, self.combine_bytes):
            intra, inter = self.bytes_leaving(tokens, per_element)
            link = np.maximum(
                intra / (self.intra_node_bytes_per_s * self.link_efficiency),
                inter / (self.inter_node_bytes_per_s * self.link_efficiency),
            )
            total = total + self.latency_s + link
        return self.moe_layers * total

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, dispatch_dtype: str) -> str:
        node = min(self.ep, DEVICES_PER_NODE)
        network = (
            f", {self.ep - node}/{self.ep} over the inter-node network at "
            f"{self.inter_node_bytes_per_s / GB:,.0f} GB/s"
            if self.ep > node
            else ""
        )
        return (
            f"all-to-all per MoE layer: each token to top-{self.top_k} experts, dispatched in "
            f"{dispatch_dtype} and combined in {COMBINE_DTYPE} ({self.d_model} elements each way); "
            f"{node - 1}/{self.ep} of it over the intra-node link at "
            f"{self.intra_node_bytes_per_s / GB:,.0f} GB/s{network}, {self.link_efficiency:.0%} achieved, "
            f"{self.latency_s * 1e6:g} us per collective; no node-limited routing, no overlap with compute"
        )


def widen(dep: Deployment, ep: int) -> Deployment:
    """``dep`` (attention TP ``dep.tp``) as a wide expert-parallel replica of ``ep`` devices: attention in
    ep / tp data-parallel groups, the routed experts spread over all ``ep`` (module doc)."""
    spec, tp = dep.spec, dep.tp
    ep = checks.positive_int(ep, "expert parallel size")
    if ep == dep.ep:
        return dep
    if not spec.is_moe:
        raise ScalingError(
            f"expert parallel size {ep} needs a mixture-of-experts model; {spec.name} is dense"
        )
    if ep % tp or ep <= tp:
        raise ScalingError(
            f"expert parallel size {ep} must be a multiple of the attention tensor-parallel size {tp} above "
            f"it (its data-parallel attention groups); on TP {tp} alone the experts take EP {dep.ep}"
        )
    validate_layout(spec, ep, tp, 1)
    a = dep.assumptions
    link = AllToAll(
        ep=ep,
        moe_layers=spec.moe_layers,
        d_model=spec.d_model,
        top_k=spec.top_k,
        dispatch_bytes=dep.act_bytes,
        combine_bytes=dtype_bytes(COMBINE_DTYPE),
        intra_node_bytes_per_s=a.link_bytes_per_s or dep.acc.intra_node_bytes_per_s,
        inter_node_bytes_per_s=dep.acc.inter_node_bytes_per_s,
        link_efficiency=a.link_efficiency,
        latency_s=a.allreduce_latency_s,
    )
    return replace(dep, ep=ep, attention_dp=ep // tp, all_to_all=link)


def device_memory(dep: Deployment, group_batch: Any, shape: ModelShape | None = None) -> dict[str, Any]:
    """Memory of one device of a wide replica whose DP groups each hold ``group_batch`` sequences of the full
    context (`scaling.memory.infer_memory_arrays`: weights, KV cache, one prefill chunk's activations and the
    framework's overhead; bytes, broadcasts): its TP share of the non-expert weights, its expert slots."""
    quant = None if dep.weight_dtype == dep.precision else dep.weight_dtype
    prec = Precision.of(dep.precision, quant=quant, kv_dtype=dep.kv_dtype)
    return infer_memory_arrays(
        shape or ModelShape.of(dep.spec),
        tp=dep.tp,
        ep=1.0 / dep.expert_share,  # the routed experts' share a device holds, as a divisor
        etp=1,
        batch=group_batch,
        context=dep.prompt_tokens + dep.output_tokens,
        weight_bytes=prec.stored_weight_bytes,
        kv_bytes=prec.kv_bytes,
        activation_bytes=prec.activation_bytes,
        flash_attention=True,
        active_tokens=dep.assumptions.prefill_chunk_tokens,
    )


def wide_fitting_batch(dep: Deployment) -> int:
    """The largest batch per replica whose every DP group's sequences fit its devices (`device_memory`)."""
    capacity, shape = dep.acc.memory_bytes, ModelShape.of(dep.spec)
    per_group = largest_fitting(lambda b: float(device_memory(dep, b, shape)["total"]) <= capacity, 2**24)
    return dep.attention_dp * per_group


def wide_layouts(
    spec: ModelSpec, devices: int, tp: int | None = None, ep: int | None = None
) -> list[tuple[int, int]]:
    """(attention TP, EP) of the wide replicas a search considers on ``devices``: EP every power-of-two
    multiple of a node that divides the devices (or ``ep``), attention TP every power of two below EP, at
    most a node (or ``tp``), that passes the layout rules (`scaling.memory.layout_rules`). None for a dense
    model."""
    devices = device_count(devices)
    if not spec.is_moe:
        return []
    sizes = [ep] if ep else [n for n in (DEVICES_PER_NODE << i for i in range(32)) if n <= devices]
    found = []
    for e in (n for n in sizes if devices % n == 0):
        for t in [tp] if tp else [1 << i for i in range(int(math.log2(DEVICES_PER_NODE)) + 1)]:
            if t < e and all(bool(ok) for ok, _ in layout_rules(spec, e, t, 1)):
                found.append((t, e))
    return found
