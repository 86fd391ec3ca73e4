"""Layout search: which (TP, PP, DP, ZeRO, micro-batch, recompute, SP) layouts fit, and how each spends a step.

Every candidate is one element of numpy arrays; memory comes from `scaling.memory.train_memory_arrays` (the
same formula as `estimate_memory`, no second copy) and the step from one documented model (`step_times`).

**MFU fixes the time; the layout explains it.** MFU is end-to-end model FLOPs utilization as PaLM defines it
(Chowdhery et al. 2022, App. B): model FLOPs (6ND by default, never counting recomputation) per second achieved
over the devices' dense peak. So at a given MFU a step takes model FLOPs / (devices x peak x MFU) on every
layout, and the layout says what that time is made of:

* communication, with no overlap (an upper bound):
  - tensor parallelism: per layer and micro-batch, 2 all-reduces forward and 2 backward (2 more with full
    recompute) of s·b·h activation values, ring cost 2(t-1)/t x bytes / intra-node bandwidth (Megatron-LM,
    Shoeybi et al. 2019, §3; sequence parallelism moves the same bytes as reduce-scatter + all-gather,
    Korthikanti et al. 2022 §4.2.2); TP stays within a node;
  - data parallelism: one gradient all-reduce per step, ring cost 2(d-1)/d x gradient bytes / bandwidth;
    ZeRO-1/2 move the same volume, ZeRO-3 1.5x (Rajbhandari et al. 2019, §7); the inter-node bandwidth once
    TP x DP ranks span more than one node;
  - pipeline parallelism: each micro-batch sends s·b·h values forward and its gradient back per boundary;
* the pipeline bubble, compute x (pp - 1) / (m x v), with m micro-batches per step and v virtual stages
  (Narayanan et al. 2021, §2.2);
* compute: the rest, in which the kernels execute the step's hardware FLOPs (exact, with attention and
  recomputation) at the ``kernel_efficiency`` it implies.

When that efficiency is above `KERNEL_EFFICIENCY_CEILING` the MFU is out of this layout's reach: ``max_mfu``
is the most it reaches with kernels at the ceiling, and layouts are ranked by it (the least time spent outside
the kernels first).

Bandwidths (bytes/s, per device, one direction) are the accelerator's intra-node link (NVLink generation,
PCIe generation, ICI) and inter-node network from the catalog (`scaling.catalog.Accelerator`), and can be
given explicitly.

The default global batch is DeepSeek LLM's compute-optimal batch B_opt(C) (`default_global_batch`), a target
that each layout rounds to a multiple of its DP x micro-batch (`batch_for_layout`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from scaling import checks, units
from scaling.catalog import Accelerator
from scaling.cluster import Cluster
from scaling.cost import DEFAULT_MFU
from scaling.errors import ScalingError
from scaling.memory import (
    RECOMPUTE,
    RECOMPUTE_CODE,
    ModelShape,
    Precision,
    Workload,
    layout_rules,
    recompute_name,
    resolve_model,
    train_memory_arrays,
)
from scaling.model import ModelSpec

# DeepSeek LLM (Bi et al. 2024, Eq. 1 and Fig. 3): B_opt = 0.2920 C^0.3271 tokens per step
BATCH_COEF, BATCH_EXP = 0.2920, 0.3271
MAX_GLOBAL_BATCH = 10**9  # sequences per step: far beyond any run, keeps divisibility exact in int64
MAX_STEP_TOKENS = 1e13  # tokens per step
BATCH_TOLERANCE = 0.10  # a layout's rounded batch may differ this much from the target B_opt
MICRO_BATCHES = (1, 2, 4, 8, 16, 32, 64)  # micro-batch sizes searched when the batch is a target
# The kernel efficiency the step model can deliver: the hardware FLOPs of the compute part over peak. An
# upper bound above every end-to-end hardware utilization in published training tables (PaLM 540B 57.8%
# HFU, Chowdhery et al. 2022 App. B; LLM Foundry MPT-7B on A100 64.2% MFU without recomputation; Megatron-LM
# 52% of A100 peak counting recomputation, Narayanan et al. 2021 Table 1), leaving room for the time those
# runs spent outside the matmuls; large bf16 GEMMs themselves reach about this fraction of dense peak.
KERNEL_EFFICIENCY_CEILING = 0.85
FLOPS_CONVENTIONS = ("6nd", "6nd-nonembedding", "exact", "3nd", "kaplan")


def default_global_batch_tokens(flops: Any) -> Any:
    """Tokens per step for a training run of ``flops``: DeepSeek LLM's B_opt(C) = 0.292 C^0.3271 (Bi et al.
    2024, Eq. 1), e.g. 4.6M tokens at 1e22 FLOPs. Broadcasts over numpy arrays."""
    return BATCH_COEF * checks.positive(flops, "training FLOPs") ** BATCH_EXP


def batch_for_layout(target_sequences: Any, granularity: Any) -> Any:
    """The global batch (sequences) of a layout: the multiple of its DP x micro-batch nearest to
    ``target_sequences``, at least one of each (the one rounding rule; arrays broadcast)."""
    granularity = np.asarray(granularity)
    whole = np.maximum(1, np.rint(np.asarray(target_sequences, dtype=float) / granularity))
    return (whole * granularity).astype(np.int64)


def _near_target(batch: np.ndarray, target: float) -> np.ndarray:
    """The layouts whose rounded batch is within `BATCH_TOLERANCE` of the target, or, when none is, those
    as near to it as any layout gets."""
    distance = np.abs(np.log(batch / target))
    if distance.size == 0:
        return np.ones(0, dtype=bool)
    return distance <= max(math.log1p(BATCH_TOLERANCE), float(distance.min()) * (1 + 1e-12))


def _batch_request(
    global_batch: int | None, batch_tokens: float | None, seq: int
) -> tuple[int | None, float | None]:
    """(exact global batch in sequences, target in sequences): exactly one of them is given."""
    if (global_batch is None) == (batch_tokens is None):
        raise ScalingError(
            "the layout search needs one global batch: sequences per step (global_batch) or a target in "
            "tokens that each layout rounds to its DP x micro-batch (batch_tokens)"
        )
    if global_batch is not None:
        checks.at_most(global_batch, MAX_GLOBAL_BATCH, "global batch", "sequences per step")
        checks.at_most(
            float(global_batch) * seq, MAX_STEP_TOKENS, "tokens per step (global batch x sequence length)"
        )
        return int(global_batch), None
    tokens = float(checks.positive(batch_tokens, "global batch tokens"))
    checks.at_most(tokens, MAX_STEP_TOKENS, "global batch tokens")
    return None, max(1.0, tokens / seq)


@dataclass(frozen=True)
class DefaultBatch:
    """The default global batch: a target in tokens (DeepSeek LLM's B_opt(C)), the FLOPs it was sized for,
    and why. The layout search rounds it to each layout's DP x micro-batch (`batch_for_layout`)."""

    tokens: float
    flops: float
    reason: str

    def sequences(self, seq_len: int) -> float:
        """The target in sequences of ``seq_len`` tokens (before a layout rounds it)."""
        return self.tokens / seq_len


def default_global_batch(flops: float, why: str = "") -> DefaultBatch:
    """The one default global batch, for a run of ``flops`` training FLOPs (6ND): B_opt(C) of DeepSeek LLM,
    as a target that the layout search rounds to a multiple of DP x micro-batch. The plan, ``memory
    --search``, ``finetune`` and the app all take their default from here."""
    flops = float(checks.positive(flops, "training FLOPs"))
    tokens = float(default_global_batch_tokens(flops))
    reason = (
        f"DeepSeek LLM's B_opt(C) = 0.292 C^0.3271 tokens (Bi et al. 2024, Eq. 1) at C = 6ND = "
        f"{units.format_flops(flops)}"
        + (f" ({why})" if why else "")
        + f" = {units.format_count(tokens)} tokens"
    )
    return DefaultBatch(tokens, flops, reason)


def default_global_batch_for(spec: ModelSpec, tokens: float | None = None) -> DefaultBatch:
    """`default_global_batch` for training ``spec`` on ``tokens`` (default: its published training tokens,
    else the compute-optimal 20 per parameter)."""
    from scaling.flops import six_nd
    from scaling.laws.rules import TOKENS_PER_PARAM

    if tokens is not None:
        why = f"{units.format_count(tokens)} tokens"
    elif spec.training_tokens:
        tokens = float(spec.training_tokens)
        why = f"its {units.format_count(tokens)} training tokens"
    else:
        tokens = TOKENS_PER_PARAM * float(spec.active_params)
        why = f"{TOKENS_PER_PARAM:g} tokens per parameter (Hoffmann et al. 2022)"
    flops = float(six_nd(float(spec.active_params), float(checks.positive(tokens, "training tokens"))))
    return default_global_batch(flops, why)


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


def _divisors(n: int, up_to: int) -> list[int]:
    return [k for k in range(1, min(n, up_to) + 1) if n % k == 0]


def candidate_grid(
    spec: ModelSpec,
    *,
    devices: int,
    global_batch: int,
    devices_per_node: int,
    tp: Any = None,
    pp: Any = None,
    zero: Any = (0, 1, 2, 3),
    micro_batch: Any = None,
    recompute: Any = RECOMPUTE,
    sp: Any = (False, True),
    interleave: Any = (1,),
) -> dict[str, np.ndarray]:
    """The full cross product of the choices, flattened to 1-D arrays (before any constraint)."""
    tp = tp if tp is not None else [t for t in (1, 2, 4, 8, 16) if t <= devices_per_node]
    pp = pp if pp is not None else _divisors(devices, spec.total_layers)
    micro_batch = micro_batch if micro_batch is not None else _divisors(global_batch, 64)
    codes = [RECOMPUTE_CODE[recompute_name(r)] for r in recompute]
    axes = [
        np.asarray(tp),
        np.asarray(pp),
        np.asarray(zero),
        np.asarray(micro_batch),
        np.asarray(codes),
        np.asarray(sp, dtype=bool),
        np.asarray(interleave),
    ]
    mesh = np.meshgrid(*axes, indexing="ij")
    names = ("tp", "pp", "zero", "micro_batch", "recompute", "sp", "interleave")
    return {n: m.ravel() for n, m in zip(names, mesh)}


def valid_mask(
    spec: ModelSpec,
    grid: dict[str, np.ndarray],
    *,
    devices: int,
    global_batch: int | None,
    devices_per_node: int,
) -> np.ndarray:
    """The model's layout rules (`scaling.memory.layout_rules`: heads, KV heads, layers, devices) and the
    search's own: TP within a node, a given global batch divisible by DP x micro-batch (none when each
    layout rounds a target to its own, `batch_for_layout`), SP only with TP > 1,
    interleaving only with PP > 1 and layers divisible by PP x v.

    The rules that depend on (TP, PP, micro-batch) alone are evaluated once per distinct triple, in a small
    table indexed by the values, and gathered for every candidate (the grid repeats each triple many times).
    """
    tp, pp, mb, v = (np.asarray(grid[k]) for k in ("tp", "pp", "micro_batch", "interleave"))
    shape = (int(tp.max(initial=0)) + 1, int(pp.max(initial=0)) + 1, int(mb.max(initial=0)) + 1)
    if (
        shape[0] * shape[1] * shape[2] <= 4_000_000
        and min(tp.min(initial=1), pp.min(initial=1), mb.min(initial=1)) >= 1
    ):
        t, p, b = np.ogrid[: shape[0], : shape[1], : shape[2]]
        ok = _triple_rules(
            spec,
            np.maximum(t, 1),
            np.maximum(p, 1),
            np.maximum(b, 1),
            devices,
            global_batch,
            devices_per_node,
        )[tp, pp, mb]
    else:
        ok = _triple_rules(spec, tp, pp, mb, devices, global_batch, devices_per_node)
    ok &= ~(np.asarray(grid["sp"], dtype=bool) & (tp == 1))
    if np.any(v != 1):
        ok &= (v == 1) | ((pp > 1) & (spec.total_layers % (pp * v) == 0))
    return ok


def _triple_rules(
    spec: ModelSpec, tp: Any, pp: Any, mb: Any, devices: int, global_batch: int | None, node: int
) -> Any:
    """Validity of (TP, PP, micro-batch) arrays: the model's layout rules, TP within a node, and a global
    batch divisible by DP x micro-batch."""
    ok = np.broadcast_to(tp <= node, np.broadcast_shapes(np.shape(tp), np.shape(pp), np.shape(mb))).copy()
    for rule, _ in layout_rules(spec, devices, tp, pp):
        ok &= rule
    if global_batch is not None:
        dp = np.where(ok, devices // np.maximum(tp * pp, 1), 1)
        ok &= global_batch % (dp * mb) == 0
    return ok


@dataclass(frozen=True)
class LayoutChoices:
    """The values each layout axis may take; None picks the defaults (powers of two up to a node for TP,
    divisors of the devices up to the depth for PP, divisors of the global batch up to 64 for micro-batch)."""

    tp: Any = None
    pp: Any = None
    zero: Any = (0, 1, 2, 3)
    micro_batch: Any = None
    recompute: Any = RECOMPUTE
    sp: Any = (False, True)
    interleave: Any = (1,)


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
    dense, expert = shape.stage_params(t, p)
    dp_bw = np.where(t * dp > model.node, model.inter, model.intra)
    zero3 = np.where(g["zero"] >= 3, 1.5, 1.0)  # Rajbhandari et al. 2019 §7
    dp_s = zero3 * 2.0 * (dp - 1.0) / dp * (dense + expert) * precision.grad_bytes / dp_bw
    pp_bw = model.inter if model.devices > model.node else model.intra
    pp_s = np.where(p > 1, 2.0 * m * tp_bytes / t / pp_bw * v, 0.0)
    times = explain_step(model_flops, hw_flops, tp_s + dp_s + pp_s, bubble, rate=rate, mfu=model.mfu)
    return dict(
        step_s=times["step_s"],
        compute_s=times["compute_s"],
        bubble_s=times["bubble_s"],
        tp_comm_s=tp_s,
        dp_comm_s=dp_s,
        pp_comm_s=pp_s,
        tokens_per_s=tokens / times["step_s"],
        mfu=np.full_like(times["step_s"], model.mfu),
        hfu=times["hfu"],
        kernel_efficiency=times["kernel_efficiency"],
        min_step_s=times["min_step_s"],
        max_mfu=times["max_mfu"],
    )


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


def _step_inputs(
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


def search_layouts(
    model: ModelSpec | str | float,
    *,
    cluster: Cluster,
    workload: Workload = Workload(),
    precision: Precision = Precision(),
    choices: LayoutChoices = LayoutChoices(),
    mfu: float = DEFAULT_MFU,
    batch_tokens: float | None = None,
    convention: str = "6nd",
    overhead_bytes: float | None = None,
    top: int | None = 10,
    include_unfit: bool = False,
    as_frame: bool = True,
):
    """Layouts that fit the ``cluster``'s accelerators, ranked by estimated step time (a pandas DataFrame).

    ``workload`` gives the global batch (sequences, required), the sequence length (default the model's
    context), the attention kernel and dropout; its micro-batch and recompute are the search's to choose.
    ``choices`` lists the values each axis may take (`LayoutChoices`). ``mfu`` is model FLOPs under
    ``convention`` (6ND by default) over peak. ``df.attrs`` carries ``candidates``, ``valid`` and ``fit``
    counts and the assumptions. ``top=None`` returns every layout that fits (``include_unfit`` adds the rest). With ``as_frame=False`` it returns ``(columns,
    attrs)``: a dict of numpy arrays in the same order and the attrs dict, without importing pandas.
    """
    if cluster.accelerator is None:
        raise ScalingError("the layout search needs an accelerator and a device count, e.g. 64 x H100")
    mfu = checks.fraction(mfu, "MFU")
    convention = checks.choice(convention, FLOPS_CONVENTIONS, "FLOPs convention")
    spec, override, _ = resolve_model(model)
    shape, seq = ModelShape.of(spec, override), workload.seq(spec)
    global_batch, target = _batch_request(workload.global_batch, batch_tokens, seq)
    devices, node, acc = cluster.devices, cluster.node, cluster.accelerator
    if target is not None and choices.micro_batch is None:
        choices = replace(choices, micro_batch=MICRO_BATCHES)
    grid = candidate_grid(
        spec, devices=devices, global_batch=global_batch or 1, devices_per_node=node, **vars(choices)
    )
    ok = valid_mask(spec, grid, devices=devices, global_batch=global_batch, devices_per_node=node)
    g = {k: v[ok] for k, v in grid.items()}
    dp = devices / (g["tp"].astype(float) * g["pp"])
    if target is None:
        g["global_batch"] = np.full(len(g["tp"]), global_batch, dtype=np.int64)
    else:
        g["global_batch"] = batch_for_layout(target, dp * g["micro_batch"])
        near = _near_target(g["global_batch"], target)
        g, dp = {k: v[near] for k, v in g.items()}, dp[near]
    g["num_micro_batches"] = g["global_batch"] / (
        dp * g["micro_batch"]
    )  # micro-batches per step per pipeline
    mem = _layout_memory(
        shape,
        g,
        dp,
        node=node,
        seq=seq,
        precision=precision,
        workload=workload,
        overhead_bytes=overhead_bytes,
    )
    step = _step_inputs(spec, cluster, seq=seq, mfu=mfu, precision=precision, convention=convention)
    every = _columns(g, dp, mem, acc, step_times(spec, shape, g, step, seq, precision))
    columns = _ranked(every, top, include_unfit)
    attrs = dict(
        candidates=len(grid["tp"]),
        valid=int(ok.sum()),
        fit=int(np.sum(mem["total"] <= acc.memory_bytes)),
        fit_within_peak=int(np.sum(every["fits"] & (every["hfu"] <= 1.0 + 1e-12))),
        model=spec.name,
        accelerator=acc.name,
        devices=devices,
        global_batch=global_batch if target is None else None,
        batch_target=target,
        seq_len=seq,
        mfu=mfu,
        kernel_efficiency_ceiling=KERNEL_EFFICIENCY_CEILING,
        flops_convention=convention,
        precision=precision.dtype,
        optimizer=precision.optimizer,
        intra_node_link=cluster.link,
        intra_node_bytes_per_s=step.intra,
        inter_node_bytes_per_s=step.inter,
        capacity_bytes=acc.memory_bytes,
        devices_per_node=node,
        flash_attention=workload.flash_attention,
    )
    if not as_frame:
        return columns, attrs
    import pandas as pd

    df = pd.DataFrame(columns)
    df.attrs.update(attrs)
    return df


def _layout_memory(
    shape: ModelShape,
    g: dict[str, np.ndarray],
    dp: np.ndarray,
    *,
    node: int,
    seq: int,
    precision: Precision,
    workload: Workload,
    overhead_bytes: float | None,
) -> dict[str, Any]:
    """Memory per device of every layout: `train_memory_arrays`, the formula of `estimate_memory`."""
    return train_memory_arrays(
        shape,
        tp=g["tp"].astype(float),
        pp=g["pp"].astype(float),
        dp=dp,
        zero=g["zero"],
        devices_per_node=node,
        recompute=g["recompute"],
        sp=g["sp"],
        flash_attention=workload.flash_attention,
        micro_batch=g["micro_batch"].astype(float),
        seq_len=seq,
        interleave=g["interleave"].astype(float),
        num_micro_batches=g["num_micro_batches"],
        weight_bytes=precision.weight_bytes,
        master_bytes=precision.master_bytes,
        grad_bytes=precision.grad_bytes,
        optimizer_state_bytes=precision.optimizer_state_bytes(shape.adafactor_ratio),
        activation_bytes=precision.activation_bytes,
        dropout=workload.dropout,
        mask_bytes=workload.mask_bytes,
        overhead_bytes=overhead_bytes,
    )


def _columns(
    g: dict[str, np.ndarray], dp: np.ndarray, mem: dict[str, Any], acc: Accelerator, times: dict[str, Any]
) -> dict[str, np.ndarray]:
    """One array per output column, every layout in the same order."""
    columns = {
        "tp": g["tp"],
        "pp": g["pp"],
        "dp": dp.astype(int),
        "zero": g["zero"],
        "micro_batch": g["micro_batch"],
        "global_batch": g["global_batch"],
        "num_micro_batches": np.rint(g["num_micro_batches"]).astype(int),
        "recompute": np.asarray(RECOMPUTE)[g["recompute"]],
        "sp": g["sp"],
        "interleave": g["interleave"],
        "weights_bytes": mem["weights"],
        "master_weights_bytes": mem["master"],
        "gradients_bytes": mem["gradients"],
        "optimizer_bytes": mem["optimizer"],
        "activations_bytes": mem["activations"],
        "logits_bytes": mem["logits"],
        "overhead_bytes": mem["overhead"],
        "total_bytes": mem["total"],
        "headroom_bytes": acc.memory_bytes - mem["total"],
        "fits": mem["total"] <= acc.memory_bytes,
        **times,
    }
    n = len(g["tp"])
    return {k: np.broadcast_to(np.asarray(v), (n,)) for k, v in columns.items()}


def _ranked(columns: dict[str, np.ndarray], top: int | None, include_unfit: bool) -> dict[str, np.ndarray]:
    """Layouts that fit (or all) and run within the peak (HFU at most 100%), the highest reachable MFU first (the least time outside the kernels at
    `KERNEL_EFFICIENCY_CEILING`), less memory first among equals; the first ``top``."""
    fits = (
        np.ones(len(columns["tp"]), dtype=bool) if include_unfit else np.asarray(columns["fits"], dtype=bool)
    )
    keep = fits & (columns["hfu"] <= 1.0 + 1e-12)  # not a layout whose hardware FLOPs would exceed the peak
    order = np.flatnonzero(keep)
    order = order[np.lexsort((columns["total_bytes"][order], -columns["max_mfu"][order]))]
    if top is not None:
        order = order[: checks.positive_int(top, "top", allow_zero=True)]
    return {k: v[order] for k, v in columns.items()}


def _percent(value: float) -> str:
    return f"{value:.1%}" if math.isfinite(value) else "n/a"


def step_model_notes(a: dict[str, Any]) -> list[str]:
    """What the step-time model assumes, from a search's attrs: the lines printed under a layouts table."""
    return [
        f"MFU {a['mfu']:.1%} end to end ({a['flops_convention']} model FLOPs / (devices x peak x step time), "
        "Chowdhery et al. 2022 App. B) fixes the step time; each layout explains it as compute + pipeline "
        f"bubble + TP/DP/PP communication ({a['intra_node_link']} {a['intra_node_bytes_per_s'] / 1e9:g} GB/s "
        f"within a node, network {a['inter_node_bytes_per_s'] / 1e9:g} GB/s, no overlap)",
        "kernels: the efficiency the compute part then needs (hardware FLOPs, exact with attention and "
        f"recomputation, over peak x compute time); max MFU: what the layout reaches with kernels at "
        f"{a['kernel_efficiency_ceiling']:.0%} of peak; HFU: hardware FLOPs over peak x step time",
    ]


def layouts_table(df: Any) -> Any:
    """The ranked layouts of `search_layouts` as one table (`scaling.render.Table`): what ``memory --search``
    prints and the app shows, with the step-time model stated under it."""
    from scaling.render import Table
    from scaling.units import GIB

    rows = [
        (
            r.tp,
            r.pp,
            r.dp,
            r.zero,
            r.micro_batch,
            r.recompute,
            "y" if r.sp else "n",
            f"{r.total_bytes / GIB:.1f}",
            f"{r.headroom_bytes / GIB:.1f}",
            f"{r.global_batch:,}",
            f"{r.step_s:.3g}",
            _percent(r.kernel_efficiency),
            f"{r.max_mfu:.1%}",
            f"{r.hfu:.1%}",
            f"{r.tokens_per_s:,.0f}",
        )
        for r in df.itertuples()
    ]
    headers = (
        "TP",
        "PP",
        "DP",
        "ZeRO",
        "mb",
        "recompute",
        "SP",
        "GiB/dev",
        "headroom",
        "batch",
        "step s",
        "kernels",
        "max MFU",
        "HFU",
        "tokens/s",
    )
    a = df.attrs
    notes = [
        f"{a.get('valid', 0)} valid layouts of {a.get('candidates', 0)}, {a.get('fit', 0)} fit; ranked by the "
        "highest MFU each can reach"
    ]
    if "flops_convention" in a:
        notes.extend(step_model_notes(a))
    return Table.of(rows, headers, title="Best layouts", notes=notes)
