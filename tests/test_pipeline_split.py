"""The default pipeline split (`scaling.memory.stages.balanced_split`, through `pipeline_split`): checked
against every split by brute force; one split in `scaling memory` and the layout search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scaling.cluster import Cluster
from scaling.layout import LayoutChoices, search_layouts
from scaling.memory import ModelShape, Parallelism, Precision, Workload, estimate_memory
from scaling.memory.stages import balanced_split, parse_pp_layers
from scaling.memory.training import pipeline_split, train_memory_arrays
from scaling.model import load_model


def _splits(layers: int, pp: int, cap: int):
    """Every split of ``layers`` over ``pp`` stages, one to ``cap`` layers a stage."""
    for counts in itertools.product(range(1, cap + 1), repeat=pp):
        if sum(counts) == layers:
            yield counts


def _heaviest(counts, fixed, per_dense, per_moe, leading_dense):
    start, worst = 0, 0.0
    for i, c in enumerate(counts):
        dense = min(max(leading_dense - start, 0), c)
        worst = max(worst, fixed[i] + per_dense[i] * dense + per_moe[i] * (c - dense))
        start += c
    return worst


@settings(max_examples=60, deadline=None)
@given(
    pp=st.integers(2, 4),
    layers=st.integers(4, 9),
    leading_dense=st.integers(0, 3),
    seed=st.integers(0, 10_000),
    rule=st.sampled_from(["balanced", "memory"]),
)
# a stage that takes every layer it can leaves the next stage a MoE layer it cannot hold
@example(pp=3, layers=4, leading_dense=2, seed=19, rule="balanced")
def test_balanced_split_is_the_best_of_every_split(pp, layers, leading_dense, seed, rule):
    """Brute force over every split: ``balanced`` is the least heaviest-stage memory among the splits with
    at most ceil(layers/PP) a stage; ``memory`` the least among all, then the fewest on the fullest stage."""
    if layers < pp:
        return
    rng = np.random.default_rng(seed)
    fixed, per_dense, per_moe = rng.uniform(0.1, 5.0, (3, pp))
    got = balanced_split(fixed, per_dense, per_moe, layers, leading_dense, pp, rule)
    assert got.sum() == layers and got.min() >= 1
    pace = -(-layers // pp)
    cap = pace if rule == "balanced" else layers
    best = min(_heaviest(c, fixed, per_dense, per_moe, leading_dense) for c in _splits(layers, pp, cap))
    assert _heaviest(got, fixed, per_dense, per_moe, leading_dense) == pytest.approx(best, rel=1e-7)
    assert got.max() <= cap
    if rule == "memory":
        fewest = min(
            max(c)
            for c in _splits(layers, pp, layers)
            if _heaviest(c, fixed, per_dense, per_moe, leading_dense) <= best * (1 + 1e-7)
        )
        assert got.max() == fewest


DEEPSEEK = dict(tp=1, pp=16, dp=128, ep=64, zero=1, micro_batch=1, seq_len=4096, flash_attention=True)
FP8 = dict(
    weight_bytes=1.0, master_bytes=4.0, grad_bytes=2.0, optimizer_state_bytes=8.0, activation_bytes=1.0
)


def test_deepseek_v3_default_split_beats_every_split_of_four_layers_at_most():
    """DeepSeek-V3 (61 layers, the first 3 dense) on PP 16: every split with at most 4 layers a stage
    (816 of them), each evaluated stage by stage with the memory formula itself; none has a lighter heaviest
    stage than the default."""
    shape = ModelShape.of(load_model("deepseek-v3"))
    stages = np.arange(16)

    def heaviest(counts) -> float:
        return float(
            np.max(train_memory_arrays(shape, stage=stages, pp_layers=counts, **DEEPSEEK, **FP8)["total"])
        )

    default = tuple(pipeline_split(shape, **DEEPSEEK, **FP8))
    assert default == (4, 3, 3, 3) + (4,) * 12
    best = min(heaviest(c) for c in _splits_fast(61, 16, 4))
    assert heaviest(default) == pytest.approx(best, rel=1e-9)
    even = heaviest(tuple(pipeline_split(shape, pp_layers="even", **DEEPSEEK, **FP8) or [4] * 13 + [3] * 3))
    assert heaviest(default) < even


def _splits_fast(layers: int, pp: int, cap: int):
    """The splits of at most ``cap`` a stage, as removals from ``cap`` everywhere."""
    for removed in itertools.combinations_with_replacement(range(pp), cap * pp - layers):
        counts = [cap] * pp
        for i in removed:
            counts[i] -= 1
        if min(counts) >= 1:
            yield tuple(counts)


def test_memory_command_and_layout_search_use_one_split():
    """The layout search's memory of a layout equals `estimate_memory` of it with the default split."""
    cluster = Cluster.of("H100", 64)
    df = search_layouts(
        "llama-2-13b",
        cluster=cluster,
        workload=Workload.of(global_batch=256, seq_len=4096),
        choices=LayoutChoices(tp=[1, 2], pp=[2, 4, 8], zero=[1], recompute=["selective"], sp=[False]),
        top=None,
        include_unfit=True,
    )
    assert len(df) >= 6
    for r in df.itertuples():
        m = estimate_memory(
            "llama-2-13b",
            parallel=Parallelism.of(tp=r.tp, pp=r.pp, zero=r.zero),
            cluster=cluster,
            workload=Workload.of(
                global_batch=256, seq_len=4096, micro_batch=r.micro_batch, recompute=r.recompute
            ),
        )
        assert r.total_bytes == pytest.approx(m.total_bytes, rel=1e-9)
        assert r.heaviest_stage == m.heaviest_stage


def test_dense_model_first_stage_gives_up_layers():
    """Llama-2-7B (32 layers) on PP 4: the default keeps 8 layers a stage (no other split has that pace);
    ``memory`` moves layers off the first stage (embedding, 4 micro-batches in flight) for a lighter heaviest
    stage, at a slower pace."""
    kw = dict(cluster=Cluster.of("H100", 8), workload=Workload.of(micro_batch=2))
    default = estimate_memory("llama-2-7b", parallel=Parallelism.of(pp=4), **kw)
    even = estimate_memory("llama-2-7b", parallel=Parallelism.of(pp=4, pp_layers="even"), **kw)
    least = estimate_memory("llama-2-7b", parallel=Parallelism.of(pp=4, pp_layers="memory"), **kw)
    assert [s["layers"] for s in default.stages] == [8, 8, 8, 8]
    assert default.total_bytes == even.total_bytes
    layers = [s["layers"] for s in least.stages]
    assert sum(layers) == 32 and layers[0] < 8 < max(layers)
    assert least.total_bytes < even.total_bytes


@pytest.mark.parametrize(
    "text, parsed", [(None, None), ("balanced", None), ("even", "even"), ("memory", "memory")]
)
def test_split_rule_names(text, parsed):
    assert parse_pp_layers(text) == parsed


def test_fp8_precision_bytes():
    """fp8 training as the memory formulas price it (Transformer Engine / DeepSeek-V3 §3.3: fp8 weights for
    the GEMMs, bf16 gradients, fp32 master and Adam moments)."""
    p = Precision.of("fp8")
    assert (p.weight_bytes, p.grad_bytes, p.master_bytes, p.activation_bytes) == (1.0, 2.0, 4.0, 1.0)


def test_deepseek_v3_fp8_recipe_bf16_adam_moments():
    """DeepSeek-V3 §3.3.3: AdamW's moments in BF16 (2 + 2 B/param), master weights in FP32: the optimizer
    term halves against fp32 moments, the master term stays."""
    kw = dict(
        parallel=Parallelism.of(pp=16, ep=64, zero=1),
        cluster=Cluster.of("H800", 2048),
        workload=Workload.of(micro_batch=1, seq_len=4096),
    )
    fp32 = estimate_memory("deepseek-v3", precision=Precision.of("fp8", "adamw"), **kw)
    bf16 = estimate_memory("deepseek-v3", precision=Precision.of("fp8", "adamw-bf16"), **kw)
    assert Precision.of("fp8", "adamw_bf16").bytes_per_param() == 1 + 4 + 2 + 4
    assert bf16.optimizer_bytes == pytest.approx(fp32.optimizer_bytes / 2, rel=1e-9)
    assert bf16.master_weights_bytes == pytest.approx(fp32.master_weights_bytes, rel=1e-9)


def test_llm_foundry_fp8_mfu_is_over_the_catalog_fp8_peak():
    """LLM Foundry's benchmark table (scripts/train/benchmarking/README.md): MPT-3B at seq 2048 in amp_fp8 on
    H100 reaches 548 TFLOP/s per GPU, reported as 27.7% MFU: over the H100's dense fp8 peak of the catalog."""
    from scaling.catalog import get_accelerator

    peak = get_accelerator("H100").peak("fp8")
    assert 548e12 / peak == pytest.approx(0.277, abs=0.0005)
    assert peak / get_accelerator("H100").peak("bf16") == pytest.approx(
        2.0, rel=1e-3
    )  # FP8 "doubles" (DeepSeek-V3)
