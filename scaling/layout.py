"""Layout search: which (TP, PP, DP, ZeRO, micro-batch, recompute, SP) layouts fit, ranked by step time.

Every candidate is one element of numpy arrays; memory comes from `scaling.memory.train_memory_arrays` (the
same formula as `estimate_memory`, no second copy) and the step time from a simple, documented model:

* compute = hardware FLOPs per step / (devices x peak x mfu). FLOPs per token come from
  `scaling.flops.training_flops` (convention "exact": per-component forward x 3, plus recomputation: full
  recompute adds one forward of the layers, selective the attention scores), so ``mfu`` here is the
  fraction of peak the kernels reach on the FLOPs actually executed;
* pipeline bubble = compute x (pp - 1) / (m x v), with m micro-batches per step and v virtual stages
  (Narayanan et al. 2021, §2.2);
* tensor parallelism: per layer and micro-batch, 2 all-reduces forward and 2 backward (2 more with full
  recompute) of s·b·h activation values, ring cost 2(t-1)/t x bytes / intra-node bandwidth
  (Megatron-LM, Shoeybi et al. 2019, §3; sequence parallelism moves the same bytes as reduce-scatter +
  all-gather, Korthikanti et al. 2022 §4.2.2); TP stays within a node;
* data parallelism: one gradient all-reduce per step, ring cost 2(d-1)/d x gradient bytes / bandwidth;
  ZeRO-1/2 move the same volume (reduce-scatter + all-gather), ZeRO-3 1.5x (Rajbhandari et al. 2019, §7);
  the bandwidth is the inter-node one once TP x DP ranks span more than one node;
* pipeline parallelism: each micro-batch sends s·b·h values forward and its gradient back per boundary;
* no overlap of communication with compute (an upper bound on the step time).

Bandwidths (bytes/s, per device, one direction) default by accelerator family (``BANDWIDTH_DEFAULTS``) and
can be given explicitly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scaling.catalog import Accelerator, get_accelerator
from scaling.errors import ScalingError
from scaling.memory import (
    DEVICES_PER_NODE,
    DTYPE_BYTES,
    PRECISIONS,
    RECOMPUTE,
    RECOMPUTE_CODE,
    _choice,
    _optimizer_bytes,
    _positive_int,
    _resolve_model,
    _Shape,
    train_memory_arrays,
)
from scaling.model import ModelSpec

# (intra-node NVLink, inter-node network) bytes/s per device, one direction.
BANDWIDTH_DEFAULTS: dict[str, tuple[float, float]] = {
    "a100": (300e9, 25e9),  # NVLink 3: 600 GB/s bidirectional; HDR InfiniBand 200 Gb/s per GPU
    "h100": (450e9, 50e9),  # NVLink 4: 900 GB/s bidirectional; NDR InfiniBand 400 Gb/s per GPU
    "h200": (450e9, 50e9),
    "b200": (900e9, 50e9),  # NVLink 5: 1.8 TB/s bidirectional
    "v100": (150e9, 12.5e9),  # NVLink 2: 300 GB/s bidirectional; EDR 100 Gb/s
}
DEFAULT_BANDWIDTH = (300e9, 25e9)
ACTIVATION_COLUMNS = (
    "weights_bytes", "master_weights_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes",
    "logits_bytes", "overhead_bytes", "total_bytes",
)  # fmt: skip


def bandwidths(accelerator: Accelerator) -> tuple[float, float]:
    """Default (intra-node, inter-node) bandwidth in bytes/s for an accelerator."""
    name = accelerator.name.lower()
    for key, value in BANDWIDTH_DEFAULTS.items():
        if name.startswith(key):
            return value
    return DEFAULT_BANDWIDTH


def flops_per_token(spec: ModelSpec, seq_len: int) -> dict[str, tuple[float, float]]:
    """(model, hardware) training FLOPs per token for each recompute level, from `scaling.flops`."""
    from scaling.flops import training_flops

    out = {}
    for r in RECOMPUTE:
        f = training_flops(spec, 1.0, convention="exact", seq_len=seq_len, recompute=r)
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
    micro_batch = micro_batch if micro_batch is not None else [b for b in _divisors(global_batch, 64)]
    codes = [RECOMPUTE_CODE[_choice(r, RECOMPUTE, "recompute")] for r in recompute]
    axes = [np.asarray(tp), np.asarray(pp), np.asarray(zero), np.asarray(micro_batch), np.asarray(codes),
            np.asarray(sp, dtype=bool), np.asarray(interleave)]  # fmt: skip
    mesh = np.meshgrid(*axes, indexing="ij")
    names = ("tp", "pp", "zero", "micro_batch", "recompute", "sp", "interleave")
    return {n: m.ravel() for n, m in zip(names, mesh)}


def valid_mask(spec: ModelSpec, grid: dict[str, np.ndarray], *, devices: int, global_batch: int, devices_per_node: int) -> np.ndarray:
    """Constraints: TP divides the heads (and KV heads divide TP or TP them), TP within a node, PP <= layers,
    devices divisible by TP x PP, global batch divisible by DP x micro-batch, SP only with TP > 1,
    interleaving only with PP > 1 and layers divisible by PP x v."""
    tp, pp, mb, v = grid["tp"], grid["pp"], grid["micro_batch"], grid["interleave"]
    ok = (spec.n_head % tp == 0) & ((spec.kv_heads % tp == 0) | (tp % spec.kv_heads == 0))
    ok &= tp <= devices_per_node
    ok &= pp <= spec.total_layers
    ok &= devices % (tp * pp) == 0
    dp = np.where(ok, devices // np.maximum(tp * pp, 1), 1)
    ok &= global_batch % (dp * mb) == 0
    ok &= ~(grid["sp"] & (tp == 1))
    ok &= (v == 1) | ((pp > 1) & (spec.total_layers % (pp * v) == 0))
    return ok


def search_layouts(
    model: ModelSpec | str | float,
    *,
    devices: int,
    accelerator: str | Accelerator,
    global_batch: int,
    seq_len: int | None = None,
    mfu: float = 0.4,
    precision: str = "bf16",
    optimizer: str = "adamw",
    devices_per_node: int = DEVICES_PER_NODE,
    tp: Any = None,
    pp: Any = None,
    zero: Any = (0, 1, 2, 3),
    micro_batch: Any = None,
    recompute: Any = RECOMPUTE,
    sp: Any = (False, True),
    interleave: Any = (1,),
    flash_attention: bool = True,
    dropout: bool = True,
    intra_node_bytes_per_s: float | None = None,
    inter_node_bytes_per_s: float | None = None,
    overhead_bytes: float | None = None,
    top: int | None = 10,
    include_unfit: bool = False,
    as_frame: bool = True,
):
    """Layouts that fit one ``accelerator`` each, ranked by estimated step time (a pandas DataFrame).

    ``global_batch`` is in sequences of ``seq_len`` tokens. The choice lists (``tp``, ``pp``, ``zero``,
    ``micro_batch``, ``recompute``, ``sp``, ``interleave``) default to powers of two up to a node, the
    divisors of ``devices`` up to the depth, all ZeRO stages, divisors of the global batch up to 64, all
    recompute levels, SP on/off, no interleaving. ``df.attrs`` carries ``candidates``, ``valid`` and ``fit``
    counts and the assumptions. ``top=None`` returns every layout that fits (``include_unfit`` adds the rest).
    With ``as_frame=False`` it returns ``(columns, attrs)``: a dict of numpy arrays in the same order and the
    attrs dict, without importing pandas (the plan uses this to answer fast).
    """
    acc = get_accelerator(accelerator)
    devices = _positive_int(devices, "device count")
    global_batch = _positive_int(global_batch, "global batch")
    devices_per_node = _positive_int(devices_per_node, "devices per node")
    if not 0.0 < float(mfu) <= 1.0:
        raise ScalingError(f"invalid MFU {mfu!r}: expected a fraction in (0, 1]")
    precision = _choice(precision, PRECISIONS, "precision")
    spec, override, _ = _resolve_model(model)
    shape = _Shape.of(spec, override)
    seq = int(seq_len if seq_len is not None else spec.n_ctx)
    opt_name, opt_bytes = _optimizer_bytes(optimizer, shape)
    node = min(devices, devices_per_node)
    grid = candidate_grid(
        spec, devices=devices, global_batch=global_batch, devices_per_node=node, tp=tp, pp=pp, zero=zero,
        micro_batch=micro_batch, recompute=recompute, sp=sp, interleave=interleave,
    )  # fmt: skip
    candidates = len(grid["tp"])
    ok = valid_mask(spec, grid, devices=devices, global_batch=global_batch, devices_per_node=node)
    g = {k: v[ok] for k, v in grid.items()}
    t, p, mb, v = (g[k].astype(float) for k in ("tp", "pp", "micro_batch", "interleave"))
    dp = devices / (t * p)
    m = global_batch / (dp * mb)  # micro-batches per step per pipeline
    w = DTYPE_BYTES[precision]
    mem = train_memory_arrays(
        shape, tp=t, pp=p, dp=dp, zero=g["zero"], devices_per_node=node, recompute=g["recompute"], sp=g["sp"],
        flash_attention=flash_attention, micro_batch=mb, seq_len=seq, interleave=v, num_micro_batches=m,
        weight_bytes=w, master_bytes=4.0 if w < 4 else 0.0, grad_bytes=max(w, 2.0), optimizer_state_bytes=opt_bytes,
        activation_bytes=max(w, 1.0), dropout=dropout, overhead_bytes=overhead_bytes,
    )  # fmt: skip
    fits = mem["total"] <= acc.memory_bytes

    # ---- step time
    intra, inter = bandwidths(acc)
    intra = intra_node_bytes_per_s or intra
    inter = inter_node_bytes_per_s or inter
    fpt = flops_per_token(spec, seq)
    model_fpt = fpt["none"][0]
    hw_fpt = np.choose(g["recompute"], [fpt[r][1] for r in RECOMPUTE])
    tokens = float(global_batch) * seq
    peak = acc.peak(precision)
    compute_s = tokens * hw_fpt / (devices * peak * mfu)
    bubble_s = compute_s * (p - 1.0) / (m * v)  # Narayanan et al. 2021 §2.2: (p-1)/(m·v)
    act_e = max(w, 1.0)
    layers_stage = np.ceil(shape.layers / p)
    collectives = np.where(g["recompute"] == 2, 6.0, 4.0)  # 2 fwd + 2 bwd all-reduces (+2 in the recomputed forward)
    tp_bytes = seq * mb * spec.d_model * act_e
    tp_s = layers_stage * m * collectives * 2.0 * (t - 1.0) / t * tp_bytes / intra
    dense, expert = shape.stage_params(t, p)
    grad_bytes = (dense + expert) * max(w, 2.0)
    dp_bw = np.where(t * dp > node, inter, intra)
    dp_s = np.where(g["zero"] >= 3, 1.5, 1.0) * 2.0 * (dp - 1.0) / dp * grad_bytes / dp_bw
    pp_bw = inter if devices > node else intra
    pp_s = np.where(p > 1, 2.0 * m * tp_bytes / t / pp_bw * v, 0.0)
    step_s = compute_s + bubble_s + tp_s + dp_s + pp_s
    achieved_mfu = tokens * model_fpt / (step_s * devices * peak)

    rec_names = np.asarray(RECOMPUTE)[g["recompute"]]
    columns = {
        "tp": g["tp"], "pp": g["pp"], "dp": dp.astype(int), "zero": g["zero"], "micro_batch": g["micro_batch"],
        "num_micro_batches": m.astype(int), "recompute": rec_names, "sp": g["sp"], "interleave": g["interleave"],
        "weights_bytes": mem["weights"], "master_weights_bytes": mem["master"], "gradients_bytes": mem["gradients"],
        "optimizer_bytes": mem["optimizer"], "activations_bytes": mem["activations"], "logits_bytes": mem["logits"],
        "overhead_bytes": mem["overhead"], "total_bytes": mem["total"], "headroom_bytes": acc.memory_bytes - mem["total"],
        "fits": fits, "compute_s": compute_s, "bubble_s": bubble_s, "tp_comm_s": tp_s, "dp_comm_s": dp_s,
        "pp_comm_s": pp_s, "step_s": step_s, "tokens_per_s": tokens / step_s, "mfu": achieved_mfu,
    }  # fmt: skip
    n = len(g["tp"])
    columns = {k: np.broadcast_to(np.asarray(v), (n,)) for k, v in columns.items()}
    keep = np.ones(n, dtype=bool) if include_unfit else np.asarray(fits, dtype=bool)
    order = np.flatnonzero(keep)
    order = order[np.lexsort((columns["total_bytes"][order], columns["step_s"][order]))]
    if top is not None:
        order = order[: int(top)]
    columns = {k: v[order] for k, v in columns.items()}
    attrs = dict(
        candidates=candidates, valid=int(ok.sum()), fit=int(fits.sum()), model=spec.name, accelerator=acc.name,
        devices=devices, global_batch=global_batch, seq_len=seq, mfu=float(mfu), precision=precision,
        optimizer=opt_name, intra_node_bytes_per_s=intra, inter_node_bytes_per_s=inter,
        capacity_bytes=acc.memory_bytes, devices_per_node=node,
    )  # fmt: skip
    if not as_frame:
        return columns, attrs
    import pandas as pd

    df = pd.DataFrame(columns)
    df.attrs.update(attrs)
    return df
