"""The one step-time model: an end-to-end MFU fixes the step; communication, the pipeline bubble and the
compute (at the kernel efficiency it needs) explain it (`explain_step`, `step_times`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scaling.catalog import Accelerator
from scaling.cluster import Cluster
from scaling.memory import (
    RECOMPUTE,
    ModelShape,
    Precision,
    stage_params,
)
from scaling.model import ModelSpec

# The kernel efficiency the step model can deliver: the hardware FLOPs of the compute part over peak. An
# upper bound above every end-to-end hardware utilization in published training tables (PaLM 540B 57.8%
# HFU, Chowdhery et al. 2022 App. B; LLM Foundry MPT-7B on A100 64.2% MFU without recomputation; Megatron-LM
# 52% of A100 peak counting recomputation, Narayanan et al. 2021 Table 1), leaving room for the time those
# runs spent outside the matmuls; large bf16 GEMMs themselves reach about this fraction of dense peak.
KERNEL_EFFICIENCY_CEILING = 0.85
FLOPS_CONVENTIONS = ("6nd", "6nd-nonembedding", "exact", "3nd", "kaplan")


def bandwidths(accelerator: Accelerator) -> tuple[float, float]:
    """(intra-node, inter-node) bandwidth in bytes/s per device, one direction, from the catalog."""
    return accelerator.intra_node_bytes_per_s, accelerator.inter_node_bytes_per_s


def flops_per_token(
    spec: ModelSpec, seq_len: int, convention: str = "exact"
) -> dict[str, tuple[float, float]]:
    """(model, hardware) training FLOPs per token for each recompute level, from `scaling.flops`."""
    from scaling.flops import training_flops

    out = {}
    for r in RECOMPUTE:
        f = training_flops(spec, 1.0, convention=convention, seq_len=seq_len, recompute=r)
        out[r] = (float(f.flops_per_token), float(f.hardware_flops_per_token))
    return out


@dataclass(frozen=True)
class StepInputs:
    """What the step-time model needs besides the layouts: per-token FLOPs, peak, links and the MFU."""

    model_flops_per_token: float  # stated convention, no recomputation
    hardware_flops_per_token: tuple[float, float, float]  # exact, by recompute level none/selective/full
    peak: float
    mfu: float  # end-to-end model FLOPs utilization (Chowdhery et al. 2022, App. B)
    intra: float
    inter: float
    devices: int
    node: int


def step_times(
    spec: ModelSpec,
    shape: ModelShape,
    g: dict[str, np.ndarray],
    model: StepInputs,
    seq: int,
    precision: Precision,
) -> dict[str, Any]:
    """The step of each layout (arrays) at the end-to-end MFU, and what it is made of.

    The MFU fixes the step: ``step_s`` = model FLOPs per step / (devices x peak x MFU), the same for every
    layout at a given batch. The layout explains it: communication (TP, DP, PP; no overlap) and the pipeline
    bubble, (p - 1) / (m v) of the compute (Narayanan et al. 2021, §2.2), leave ``compute_s`` for the
    kernels, which then run at ``kernel_efficiency`` = hardware FLOPs per step (exact, with attention and
    recomputation) / (devices x peak x compute_s). With kernels at `KERNEL_EFFICIENCY_CEILING` the layout
    reaches at most ``max_mfu`` (its step then takes ``min_step_s``); an MFU above that is not reachable on
    this layout. ``hfu`` = hardware FLOPs per step / (devices x peak x step_s).
    """
    t, p, mb, v = (g[k].astype(float) for k in ("tp", "pp", "micro_batch", "interleave"))
    dp = model.devices / (t * p)
    m = g["num_micro_batches"]
    tokens = g["global_batch"].astype(float) * seq
    hw_flops = tokens * np.choose(g["recompute"], model.hardware_flops_per_token)
    model_flops = tokens * model.model_flops_per_token
    rate = model.devices * model.peak
    bubble = (p - 1.0) / (m * v)  # Narayanan et al. 2021 §2.2: (p-1)/(m·v)
    act_e = precision.activation_bytes
    # Megatron-LM §3: 2 all-reduces forward and 2 backward per layer (+2 in a fully recomputed forward)
    collectives = np.where(g["recompute"] == 2, 6.0, 4.0)
    tp_bytes = seq * mb * spec.d_model * act_e
    tp_s = np.ceil(shape.layers / p) * m * collectives * 2.0 * (t - 1.0) / t * tp_bytes / model.intra
    ep = g["ep"].astype(float) if "ep" in g else np.ones_like(t)
    etp = g["etp"].astype(float) if "etp" in g else t
    dense, expert = stage_params(shape, 0, tp=t, pp=p, ep=ep, etp=etp)
    edp = dp * t / (etp * ep)  # the routed experts' gradients reduce over the expert data-parallel ranks
    dp_bw = np.where(t * dp > model.node, model.inter, model.intra)
    zero3 = np.where(g["zero"] >= 3, 1.5, 1.0)  # Rajbhandari et al. 2019 §7
    dp_s = (
        zero3
        * 2.0
        * ((dp - 1.0) / dp * dense + (edp - 1.0) / np.maximum(edp, 1.0) * expert)
        * precision.grad_bytes
        / dp_bw
    )
    pp_bw = model.inter if model.devices > model.node else model.intra
    pp_s = np.where(p > 1, 2.0 * m * tp_bytes / t / pp_bw * v, 0.0)
    ep_s = all_to_all_seconds(spec, seq * mb / t * m, np.ceil(spec.moe_layers / p), ep, etp, precision, model)
    comm = tp_s + dp_s + pp_s + ep_s
    times = explain_step(model_flops, hw_flops, comm, bubble, rate=rate, mfu=model.mfu)
    return dict(
        step_s=times["step_s"],
        compute_s=times["compute_s"],
        bubble_s=times["bubble_s"],
        tp_comm_s=tp_s,
        dp_comm_s=dp_s,
        pp_comm_s=pp_s,
        ep_comm_s=ep_s,
        tokens_per_s=tokens / times["step_s"],
        mfu=np.full_like(times["step_s"], model.mfu),
        hfu=times["hfu"],
        kernel_efficiency=times["kernel_efficiency"],
        min_step_s=times["min_step_s"],
        max_mfu=times["max_mfu"],
    )


def all_to_all_bytes_per_token(spec: ModelSpec, ep: Any, precision: Precision) -> Any:
    """Bytes one device sends per token per MoE layer, forward and backward, in expert parallelism's
    all-to-alls: 2 (forward, backward) x top-k x h x (dispatch + combine bytes) x (EP - 1) / EP, the share
    of uniformly routed tokens whose expert is on another rank of the EP group (DeepSeek-V3 §3.2.2 and §3.3:
    FP8 dispatch, BF16 combine; node-limited routing, which caps the inter-node copies at 4, is left out)."""
    ep = np.asarray(ep, dtype=float)
    if not spec.is_moe:
        return 0.0 * ep
    dispatch = 1.0 if precision.dtype == "fp8" else precision.activation_bytes  # DeepSeek-V3: FP8 dispatch
    combine = max(precision.activation_bytes, 2.0)  # DeepSeek-V3: BF16 combine
    return 2.0 * spec.top_k * spec.d_model * (dispatch + combine) * (ep - 1.0) / ep


def all_to_all_seconds(
    spec: ModelSpec,
    tokens: Any,
    moe_layers: Any,
    ep: Any,
    etp: Any,
    precision: Precision,
    model: StepInputs,
) -> Any:
    """Seconds per step in expert parallelism's all-to-alls, with no overlap (an upper bound; DeepSeek-V3's
    DualPipe hides them behind compute): ``tokens`` per device per step x ``moe_layers`` per stage x
    `all_to_all_bytes_per_token`, over the intra-node link while an ETP x EP group fits in a node, the
    network beyond (DeepEP measured 153-158 GB/s over NVLink, 43-58 GB/s over InfiniBand on H800). Expert
    tensor parallelism adds, like TP (Megatron-LM §3), 2 all-reduces forward and 2 backward of each routed
    copy's h values, ring cost 2(ETP-1)/ETP, within a node."""
    ep, etp = np.asarray(ep, dtype=float), np.asarray(etp, dtype=float)
    bandwidth = np.where(ep * etp > model.node, model.inter, model.intra)
    dispatch = tokens * moe_layers * all_to_all_bytes_per_token(spec, ep, precision) / bandwidth
    routed = (
        tokens * moe_layers * (spec.top_k if spec.is_moe else 0) * spec.d_model * precision.activation_bytes
    )
    expert_tp = 4.0 * 2.0 * (etp - 1.0) / etp * routed / model.intra
    return dispatch + expert_tp


def explain_step(
    model_flops: Any, hardware_flops: Any, comm_s: Any, bubble: Any = 0.0, *, rate: float, mfu: float
) -> dict[str, Any]:
    """The one step-time model, for training and fine-tuning layouts alike (arrays broadcast).

    ``model_flops`` per step (the stated convention, no recomputation) at end-to-end ``mfu`` of ``rate``
    (devices x peak FLOP/s) fix ``step_s``. Communication ``comm_s`` (no overlap) and a pipeline bubble of
    ``bubble`` x the compute leave ``compute_s``, in which the kernels execute ``hardware_flops`` (exact, with
    attention, recomputation and any dequantization) at ``kernel_efficiency`` of peak (inf when communication
    alone fills the step). At `KERNEL_EFFICIENCY_CEILING` the step takes ``min_step_s`` and the layout reaches
    ``max_mfu``; ``hfu`` = hardware FLOPs / (rate x step_s)."""
    step_s = model_flops / (rate * mfu)
    compute_s = np.maximum(step_s - comm_s, 0.0) / (1.0 + bubble)
    with np.errstate(divide="ignore"):
        efficiency = np.where(compute_s > 0, hardware_flops / (rate * np.maximum(compute_s, 1e-300)), np.inf)
    min_step_s = hardware_flops / (rate * KERNEL_EFFICIENCY_CEILING) * (1.0 + bubble) + comm_s
    return dict(
        step_s=step_s,
        compute_s=compute_s,
        bubble_s=compute_s * bubble,
        kernel_efficiency=efficiency,
        min_step_s=min_step_s,
        max_mfu=model_flops / (rate * min_step_s),
        hfu=hardware_flops / (rate * step_s),
    )


def step_inputs(
    spec: ModelSpec, cluster: Cluster, *, seq: int, mfu: float, precision: Precision, convention: str
) -> StepInputs:
    conv = flops_per_token(spec, seq, convention)["none"][0]
    exact = flops_per_token(spec, seq, "exact")
    return StepInputs(
        model_flops_per_token=conv,
        hardware_flops_per_token=tuple(exact[r][1] for r in RECOMPUTE),
        peak=cluster.accelerator.peak(precision.dtype),
        mfu=mfu,
        devices=cluster.devices,
        node=cluster.node,
        intra=cluster.intra,
        inter=cluster.inter,
    )
