"""Time the vectorised layout search against a naive Python loop over the same candidates.

    python bench/bench_layout.py [--naive-subset 3000]

The candidate grid is GPT-3 175B on 4096 A100-80GB, global batch 4096 x 2048 tokens, with TP in {1,2,4,8},
PP in 1..96, ZeRO 0-3, micro-batch 1..64, three recompute levels and SP on/off: 589,824 candidate layouts
(before the constraints). The naive loop checks the constraints and evaluates the same memory formula
(`train_memory_arrays` with scalars) and step-time model one candidate at a time, over every candidate by
default (about 15 s here) or over an evenly spaced ``--naive-subset`` extrapolated to the whole grid (printed
as such). Its fit count is checked against the vectorised result for the same candidates.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from scaling.catalog import get_accelerator
from scaling.cluster import Cluster
from scaling.layout import (
    LayoutChoices,
    bandwidths,
    candidate_grid,
    flops_per_token,
    search_layouts,
    valid_mask,
)
from scaling.memory import RECOMPUTE, ModelShape, Workload, train_memory_arrays
from scaling.model import get_preset

MODEL, DEVICES, ACCEL, GLOBAL_BATCH, SEQ = "gpt3-175b", 4096, "A100-80GB", 4096, 2048
CHOICES = dict(
    tp=[1, 2, 4, 8],
    pp=list(range(1, 97)),
    zero=[0, 1, 2, 3],
    micro_batch=list(range(1, 65)),
    recompute=RECOMPUTE,
    sp=[False, True],
    interleave=[1],
)


def naive(spec, shape, acc, grid, indices, mfu=0.4):
    """One candidate at a time: Python constraint checks, the scalar memory formula, the scalar step time."""
    model_fpt = flops_per_token(spec, SEQ, "6nd")["none"][0]
    fpt = flops_per_token(spec, SEQ)
    intra, inter = bandwidths(acc)
    peak = acc.peak("bf16")
    fits = 0
    best = math.inf
    for i in indices:
        tp, pp, zero, mb = (int(grid[k][i]) for k in ("tp", "pp", "zero", "micro_batch"))
        rec, sp = int(grid["recompute"][i]), bool(grid["sp"][i])
        if spec.n_head % tp or tp > 8 or pp > spec.n_layer or DEVICES % (tp * pp) or (sp and tp == 1):
            continue
        dp = DEVICES // (tp * pp)
        if GLOBAL_BATCH % (dp * mb):
            continue
        m = GLOBAL_BATCH // (dp * mb)
        mem = train_memory_arrays(
            shape,
            tp=tp,
            pp=pp,
            dp=dp,
            zero=zero,
            recompute=rec,
            sp=sp,
            micro_batch=mb,
            seq_len=SEQ,
            num_micro_batches=m,
        )
        if float(mem["total"]) > acc.memory_bytes:
            continue
        fits += 1
        stretch = fpt[RECOMPUTE[rec]][1] / fpt["none"][1]
        compute = GLOBAL_BATCH * SEQ * model_fpt * stretch / (DEVICES * peak * mfu)
        bubble = compute * (pp - 1) / m
        tp_s = (
            math.ceil(spec.n_layer / pp)
            * m
            * (6 if rec == 2 else 4)
            * 2
            * (tp - 1)
            / tp
            * SEQ
            * mb
            * spec.d_model
            * 2
            / intra
        )
        dense, expert = shape.stage_params(tp, pp)
        bw = inter if tp * dp > 8 else intra
        dp_s = (1.5 if zero == 3 else 1.0) * 2 * (dp - 1) / dp * float(dense + expert) * 2 / bw
        pp_s = 2 * m * SEQ * mb * spec.d_model * 2 / tp / inter if pp > 1 else 0.0
        best = min(best, compute + bubble + tp_s + dp_s + pp_s)
    return fits, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--naive-subset",
        type=int,
        default=0,
        help="candidates the naive loop evaluates, evenly spaced, then extrapolated (0: all)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    spec, acc = get_preset(MODEL), get_accelerator(ACCEL)
    shape = ModelShape.of(spec)
    kw = dict(
        cluster=Cluster.of(ACCEL, DEVICES),
        workload=Workload.of(global_batch=GLOBAL_BATCH, seq_len=SEQ),
        choices=LayoutChoices(**CHOICES),
    )
    search_layouts(MODEL, **kw, top=10)  # warm-up (imports, FLOPs per token)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        df = search_layouts(MODEL, **kw, top=None)
        times.append(time.perf_counter() - start)
    vec_s = min(times)
    n = df.attrs["candidates"]

    grid = candidate_grid(spec, devices=DEVICES, global_batch=GLOBAL_BATCH, devices_per_node=8, **CHOICES)
    assert len(grid["tp"]) == n
    subset = args.naive_subset if 0 < args.naive_subset < n else n
    indices = np.linspace(0, n - 1, subset).astype(int)
    start = time.perf_counter()
    naive_fits, _ = naive(spec, shape, acc, grid, indices)
    naive_subset_s = time.perf_counter() - start
    naive_full_s = naive_subset_s * n / len(indices)

    # cross-check: the vectorised search fits the same candidates of the subset
    ok = valid_mask(
        spec,
        {k: v[indices] for k, v in grid.items()},
        devices=DEVICES,
        global_batch=GLOBAL_BATCH,
        devices_per_node=8,
    )
    sub = {k: v[indices][ok] for k, v in grid.items()}
    t, p, mb = (sub[k].astype(float) for k in ("tp", "pp", "micro_batch"))
    dp = DEVICES / (t * p)
    mem = train_memory_arrays(
        shape,
        tp=t,
        pp=p,
        dp=dp,
        zero=sub["zero"],
        recompute=sub["recompute"],
        sp=sub["sp"],
        micro_batch=mb,
        seq_len=SEQ,
        num_micro_batches=GLOBAL_BATCH / (dp * mb),
    )
    vec_fits = int((mem["total"] <= acc.memory_bytes).sum())
    assert vec_fits == naive_fits, (vec_fits, naive_fits)

    # the memory formula alone over every candidate, valid or not (no filtering first)
    t_all, p_all, mb_all = (grid[k].astype(float) for k in ("tp", "pp", "micro_batch"))
    dp_all = DEVICES / (t_all * p_all)
    start = time.perf_counter()
    train_memory_arrays(
        shape,
        tp=t_all,
        pp=p_all,
        dp=dp_all,
        zero=grid["zero"],
        recompute=grid["recompute"],
        sp=grid["sp"],
        micro_batch=mb_all,
        seq_len=SEQ,
        num_micro_batches=GLOBAL_BATCH / (dp_all * mb_all),
    )
    formula_s = time.perf_counter() - start

    rows = [
        ("candidate layouts", f"{n:,}"),
        ("valid (constraints)", f"{df.attrs['valid']:,}"),
        (f"fit in {acc.memory_gib:g} GiB", f"{df.attrs['fit']:,}"),
        ("vectorised search (all candidates)", f"{vec_s * 1e3:,.1f} ms (best of {args.repeat})"),
        ("memory formula alone on all candidates (unfiltered)", f"{formula_s * 1e3:,.1f} ms"),
        (f"naive loop, measured on {len(indices):,} candidates", f"{naive_subset_s * 1e3:,.1f} ms"),
        (
            "naive loop, all candidates" + (" (extrapolated)" if subset < n else " (measured)"),
            f"{naive_full_s:,.1f} s",
        ),
        ("ratio naive / vectorised", f"{naive_full_s / vec_s:,.0f}x"),
        ("fit count agrees on the subset", f"{vec_fits} = {naive_fits}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{MODEL} on {DEVICES}x{ACCEL}, global batch {GLOBAL_BATCH} x {SEQ} tokens")
    for k, v in rows:
        print(f"  {k.ljust(width)}  {v}")
    best = df.iloc[0]
    print(
        f"  best layout: TP {best.tp} PP {best.pp} DP {best.dp} ZeRO {best.zero} mb {best.micro_batch} "
        f"{best.recompute} SP {best.sp}: {best.step_s:.2f} s/step at MFU {best.mfu:.1%} (6ND), "
        f"kernels at {best.kernel_efficiency:.1%}, reaches at most {best.max_mfu:.1%}, HFU {best.hfu:.1%}"
    )


if __name__ == "__main__":
    main()
