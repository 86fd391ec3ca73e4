"""Layout search: constraints, ranking, and a known case (GPT-3 175B on 1024 A100-80GB)."""

from __future__ import annotations

import numpy as np
import pytest

from scaling.errors import ScalingError
from scaling.layout import candidate_grid, search_layouts, valid_mask
from scaling.memory import estimate_memory
from scaling.model import get_preset


@pytest.fixture(scope="module")
def gpt3_all():
    # global batch 2048 so that pure data parallelism (DP = 1024) is a valid candidate
    return search_layouts("gpt3-175b", devices=1024, accelerator="A100-80GB", global_batch=2048, seq_len=2048,
                          top=None, include_unfit=True)  # fmt: skip


def test_gpt3_175b_on_1024_a100_needs_model_parallelism_or_zero3(gpt3_all):
    fit = gpt3_all[gpt3_all["fits"]]
    assert len(fit) > 0
    assert ((fit["tp"] * fit["pp"] > 1) | (fit["zero"] == 3)).all()
    pure_dp = gpt3_all[(gpt3_all["tp"] * gpt3_all["pp"] == 1) & (gpt3_all["zero"] < 3)]
    assert len(pure_dp) > 0 and not pure_dp["fits"].any()


def test_constraints_hold(gpt3_all):
    spec = get_preset("gpt3-175b")
    df = gpt3_all
    assert (spec.n_head % df["tp"] == 0).all()
    assert (df["tp"] <= 8).all() and (df["pp"] <= spec.n_layer).all()
    assert (df["tp"] * df["pp"] * df["dp"] == 1024).all()
    assert (2048 % (df["dp"] * df["micro_batch"]) == 0).all()
    assert (df["num_micro_batches"] * df["dp"] * df["micro_batch"] == 2048).all()
    assert not (df["sp"] & (df["tp"] == 1)).any()


def test_ranking_is_by_step_time_and_top_layout_is_sane():
    df = search_layouts("gpt3-175b", devices=1024, accelerator="A100-80GB", global_batch=1536, seq_len=2048, top=10)
    assert len(df) == 10 and df["fits"].all()
    assert df["step_s"].is_monotonic_increasing
    best = df.iloc[0]
    assert best["tp"] == 8  # Narayanan et al. 2021: TP within the node
    assert 0.2 < best["mfu"] <= 0.4  # never above the MFU given
    assert df.attrs["candidates"] > df.attrs["valid"] >= df.attrs["fit"] > 0


def test_search_memory_matches_estimate_memory():
    df = search_layouts("llama-2-7b", devices=16, accelerator="H100", global_batch=64, seq_len=4096, top=5)
    for row in df.itertuples():
        m = estimate_memory("llama-2-7b", devices=16, tp=row.tp, pp=row.pp, zero=row.zero, micro_batch=row.micro_batch,
                            recompute=row.recompute, sp=row.sp, seq_len=4096, global_batch=64,
                            accelerator="H100")  # fmt: skip
        assert m.total_bytes == pytest.approx(row.total_bytes, rel=1e-9)
        assert m.fits


def test_more_memory_pressure_means_fewer_layouts():
    small = search_layouts("llama-2-13b", devices=8, accelerator="A100-40GB", global_batch=32, seq_len=4096, top=None)
    large = search_layouts("llama-2-13b", devices=8, accelerator="A100-80GB", global_batch=32, seq_len=4096, top=None)
    assert len(large) > len(small)


def test_valid_mask_rejects_bad_layouts():
    spec = get_preset("llama-2-70b")  # 64 heads, 8 KV heads, 80 layers
    cases = [  # (tp, pp, micro_batch) on 128 devices, global batch 16
        (3, 1, 1),  # 3 does not divide 64 heads
        (16, 1, 1),  # TP beyond a node of 8
        (8, 81, 1),  # PP beyond 80 layers
        (8, 5, 1),  # 128 not divisible by 40
        (8, 1, 2),  # DP 16 x micro-batch 2 does not divide 16
        (8, 2, 1),  # valid: DP 8, 2 micro-batches
    ]
    n = len(cases)
    grid = dict(tp=np.array([c[0] for c in cases]), pp=np.array([c[1] for c in cases]), zero=np.zeros(n, int),
                micro_batch=np.array([c[2] for c in cases]), recompute=np.zeros(n, int), sp=np.zeros(n, bool),
                interleave=np.ones(n, int))  # fmt: skip
    ok = valid_mask(spec, grid, devices=128, global_batch=16, devices_per_node=8)
    assert list(ok) == [False, False, False, False, False, True]
    grid2 = candidate_grid(spec, devices=64, global_batch=64, devices_per_node=8)
    assert len(grid2["tp"]) == 4 * len([p for p in range(1, 65) if 64 % p == 0]) * 4 * 7 * 3 * 2


def test_bad_search_input():
    with pytest.raises(ScalingError, match="MFU"):
        search_layouts("gpt3-175b", devices=8, accelerator="A100", global_batch=8, mfu=1.5)
    with pytest.raises(ScalingError, match="unknown accelerator"):
        search_layouts("gpt3-175b", devices=8, accelerator="Z900", global_batch=8)
