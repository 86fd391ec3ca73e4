"""`search_layouts`: every (TP, PP, DP, ZeRO, micro-batch, recompute, SP) layout at once, its memory and its
step, ranked by the highest MFU it reaches."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from scaling import checks
from scaling.catalog import Accelerator
from scaling.cluster import Cluster
from scaling.cost import DEFAULT_MFU
from scaling.errors import ScalingError
from scaling.layout.batch import MICRO_BATCHES, batch_for_layout, batch_request, near_target
from scaling.layout.step_time import FLOPS_CONVENTIONS, KERNEL_EFFICIENCY_CEILING, step_inputs, step_times
from scaling.memory import (
    RECOMPUTE,
    RECOMPUTE_CODE,
    ModelShape,
    Precision,
    Workload,
    expert_rules,
    layout_rules,
    recompute_name,
    resolve_model,
    train_memory_arrays,
)
from scaling.model import ModelSpec


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
    ep: Any = None,
    etp: Any = None,
) -> dict[str, np.ndarray]:
    """The full cross product of the choices, flattened to 1-D arrays (before any constraint). A MoE model's
    expert parallel sizes default to the powers of two dividing its experts, its expert tensor parallel
    sizes to the powers of two within a node; a dense model's are 1."""
    tp = tp if tp is not None else [t for t in (1, 2, 4, 8, 16) if t <= devices_per_node]
    pp = pp if pp is not None else _divisors(devices, spec.total_layers)
    powers = [2**i for i in range(20)]
    if ep is None:
        ep = [e for e in powers if e <= min(spec.n_experts, devices) and spec.n_experts % e == 0]
    if etp is None:
        etp = [t for t in powers if t <= devices_per_node] if spec.is_moe else [1]
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
        np.asarray(ep),
        np.asarray(etp),
    ]
    mesh = np.meshgrid(*axes, indexing="ij")
    names = ("tp", "pp", "zero", "micro_batch", "recompute", "sp", "interleave", "ep", "etp")
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
    ep, etp = grid.get("ep", np.ones_like(tp)), grid.get("etp")
    for rule, _ in expert_rules(spec, devices, tp, pp, ep, tp if etp is None else etp):
        ok &= rule
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
    divisors of the devices up to the depth for PP, divisors of the global batch up to 64 for micro-batch;
    for a MoE model, EP and ETP as `candidate_grid` says)."""

    tp: Any = None
    pp: Any = None
    zero: Any = (0, 1, 2, 3)
    micro_batch: Any = None
    recompute: Any = RECOMPUTE
    sp: Any = (False, True)
    interleave: Any = (1,)
    ep: Any = None  # MoE: powers of two dividing the experts
    etp: Any = None  # MoE: powers of two within a node


def _batched(g: dict, devices: int, global_batch: int | None, target: float | None) -> tuple[dict, Any]:
    """The valid layouts with their global batch (the one given, or the target rounded to each layout's
    DP x micro-batch, keeping those near it), micro-batches per step per pipeline, and their DP sizes."""
    dp = devices / (g["tp"].astype(float) * g["pp"])
    if target is None:
        g["global_batch"] = np.full(len(g["tp"]), global_batch, dtype=np.int64)
    else:
        g["global_batch"] = batch_for_layout(target, dp * g["micro_batch"])
        near = near_target(g["global_batch"], target)
        g, dp = {k: v[near] for k, v in g.items()}, dp[near]
    g["num_micro_batches"] = g["global_batch"] / (dp * g["micro_batch"])
    return g, dp


def _assumptions(
    spec, cluster, step, workload, precision, global_batch, target, seq, mfu, convention
) -> dict:
    """What a search assumed, for ``df.attrs``."""
    acc, node = cluster.accelerator, cluster.node
    return dict(
        model=spec.name,
        moe=spec.is_moe,
        accelerator=acc.name,
        devices=cluster.devices,
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
    """Layouts that fit the ``cluster``'s accelerators, ranked by the highest MFU each reaches (a DataFrame).

    ``workload`` gives the global batch in sequences, or ``batch_tokens`` a target that each layout rounds to
    a multiple of its DP x micro-batch (`batch_for_layout`; one of the two is required), the sequence length
    (default the model's context), the attention kernel and dropout; micro-batch and recompute are the
    search's to choose. ``choices`` lists the values each axis may take (`LayoutChoices`). ``mfu`` is
    end-to-end model FLOPs utilization under ``convention`` (6ND by default): it fixes the step time, and
    each layout explains it (`scaling.layout.step_time`). ``df.attrs`` carries ``candidates``, ``valid``,
    ``fit`` and ``fit_within_peak`` counts and the assumptions. ``top=None`` returns every layout that fits
    (``include_unfit`` adds the rest). With ``as_frame=False`` it returns ``(columns, attrs)``: a dict of
    numpy arrays in the same order and the attrs dict, without importing pandas.
    """
    if cluster.accelerator is None:
        raise ScalingError("the layout search needs an accelerator and a device count, e.g. 64 x H100")
    mfu = checks.utilization(mfu, "MFU")
    convention = checks.choice(convention, FLOPS_CONVENTIONS, "FLOPs convention")
    spec, override, _ = resolve_model(model)
    shape, seq = ModelShape.of(spec, override), workload.seq(spec)
    global_batch, target = batch_request(workload.global_batch, batch_tokens, seq)
    devices, node, acc = cluster.devices, cluster.node, cluster.accelerator
    if target is not None and choices.micro_batch is None:
        choices = replace(choices, micro_batch=MICRO_BATCHES)
    grid = candidate_grid(
        spec, devices=devices, global_batch=global_batch or 1, devices_per_node=node, **vars(choices)
    )
    ok = valid_mask(spec, grid, devices=devices, global_batch=global_batch, devices_per_node=node)
    g, dp = _batched({k: v[ok] for k, v in grid.items()}, devices, global_batch, target)
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
    step = step_inputs(spec, cluster, seq=seq, mfu=mfu, precision=precision, convention=convention)
    every = _columns(g, dp, mem, acc, step_times(spec, shape, g, step, seq, precision))
    columns = _ranked(every, top, include_unfit)
    attrs = dict(
        candidates=len(grid["tp"]),
        valid=int(ok.sum()),
        fit=int(np.sum(mem["total"] <= acc.memory_bytes)),
        fit_within_peak=int(np.sum(every["fits"] & (every["hfu"] <= 1.0 + 1e-12))),
        **_assumptions(spec, cluster, step, workload, precision, global_batch, target, seq, mfu, convention),
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
        ep=g["ep"].astype(float),
        etp=g["etp"].astype(float),
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
        "ep": g["ep"],
        "etp": g["etp"],
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
        "heaviest_stage": mem["stage"].astype(int),
        "headroom_bytes": acc.memory_bytes - mem["total"],
        "fits": mem["total"] <= acc.memory_bytes,
        **times,
    }
    n = len(g["tp"])
    return {k: np.broadcast_to(np.asarray(v), (n,)) for k, v in columns.items()}


def _ranked(columns: dict[str, np.ndarray], top: int | None, include_unfit: bool) -> dict[str, np.ndarray]:
    """Layouts that fit (or all) and run within the peak (HFU at most 100%), the highest reachable MFU first
    (the least time outside the kernels at `KERNEL_EFFICIENCY_CEILING`), less memory first among equals; the
    first ``top``."""
    fits = (
        np.ones(len(columns["tp"]), dtype=bool) if include_unfit else np.asarray(columns["fits"], dtype=bool)
    )
    keep = fits & (columns["hfu"] <= 1.0 + 1e-12)  # not a layout whose hardware FLOPs would exceed the peak
    order = np.flatnonzero(keep)
    order = order[np.lexsort((columns["total_bytes"][order], -columns["max_mfu"][order]))]
    if top is not None:
        order = order[: checks.positive_int(top, "top", allow_zero=True)]
    return {k: v[order] for k, v in columns.items()}
