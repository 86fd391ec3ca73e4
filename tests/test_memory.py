"""The memory model against published tables: ZeRO (Rajbhandari et al. 2019) Figure 1 and Table 1, Korthikanti
et al. 2022 Table 2, Megatron's theoretical_memory_usage.py, DeepSpeed's memory.rst estimators, accelerate
estimate-memory, the deeplearning.ai course, and KV-cache sizes from the models' published dimensions."""

from __future__ import annotations

import numpy as np
import pytest

from scaling.cluster import Cluster, parse_cluster
from scaling.errors import ScalingError
from scaling.memory import (
    Parallelism,
    Precision,
    Workload,
    activation_bytes_per_layer,
    estimate_memory,
    kv_cache_bytes,
    max_batch_and_context,
    model_state_bytes,
    zero_stage,
)
from scaling.model import ModelSpec, get_preset

GB = 1e9
GIB = 2.0**30
MIB = 2.0**20


# --------------------------------------------------------------------------------------- ZeRO
def test_zero_paper_figure1():
    """Rajbhandari et al. 2019, Figure 1: Ψ = 7.5B, N_d = 64, K = 12 -> 120 / 31.4 / 16.6 / 1.9 GB."""
    expected = {0: 120.0, 1: 31.406, 2: 16.641, 3: 1.875}
    for stage, gb in expected.items():
        got = (
            estimate_memory(
                7.5e9, parallel=Parallelism.of(zero=stage), cluster=Cluster(devices=64), convention="zero"
            ).total_bytes
            / GB
        )
        assert got == pytest.approx(gb, rel=1e-4), stage


# Table 1: per-device GB by DP degree, columns P_os / P_os+g / P_os+g+p, for 7.5B, 128B and 1T parameters.
ZERO_TABLE1 = {
    7.5e9: {
        1: (120, 120, 120),
        4: (52.5, 41.3, 30),
        16: (35.6, 21.6, 7.5),
        64: (31.4, 16.6, 1.88),
        256: (30.4, 15.4, 0.47),
        1024: (30.1, 15.1, 0.12),
    },
    128e9: {
        1: (2048, 2048, 2048),
        4: (896, 704, 512),
        16: (608, 368, 128),
        64: (536, 284, 32),
        256: (518, 263, 8),
        1024: (513, 257, 2),
    },
    1e12: {
        1: (16000, 16000, 16000),
        4: (7000, 5500, 4000),
        16: (4750, 2875, 1000),
        64: (4187, 2218, 250),
        256: (4046, 2054, 62.5),
        1024: (4011, 2013, 15.6),
    },
}


def test_zero_paper_table1():
    """All 54 cells; the paper truncates (4187.5 -> 4187, 257.75 -> 257) and rounds,
    hence 0.5 % (and 0.01 GB)."""
    cells = 0
    for psi, rows in ZERO_TABLE1.items():
        dps = np.array(sorted(rows))[:, None]
        stages = np.array([1, 2, 3])[None, :]
        got = model_state_bytes(psi, dps, stages).total / GB  # ZeRO: 2 + 2 + K(=4 + 8) bytes per parameter
        for i, dp in enumerate(sorted(rows)):
            for j, paper in enumerate(rows[dp]):
                assert got[i, j] == pytest.approx(paper, rel=5e-3, abs=0.01), (psi, dp, j + 1)
                cells += 1
    assert cells == 54


def test_zero_table1_through_estimate_memory_matches_helper():
    for stage in (1, 2, 3):
        for dp in (4, 256):
            a = estimate_memory(
                128e9, parallel=Parallelism.of(zero=stage), cluster=Cluster(devices=dp), convention="zero"
            ).total_bytes
            b = float(model_state_bytes(128e9, dp, stage).total)
            assert a == pytest.approx(b)


def test_fsdp_names_map_to_zero_stages():
    assert [zero_stage(n) for n in ("NO_SHARD", "SHARD_GRAD_OP", "FULL_SHARD", "HYBRID_SHARD")] == [
        0,
        2,
        3,
        3,
    ]
    full = estimate_memory(
        7.5e9, parallel=Parallelism.of(zero="FULL_SHARD"), cluster=Cluster(devices=64), convention="zero"
    ).total_bytes
    assert (
        full
        == estimate_memory(
            7.5e9, parallel=Parallelism.of(zero=3), cluster=Cluster(devices=64), convention="zero"
        ).total_bytes
    )


def test_megatron_18_bytes_per_param():
    m = estimate_memory(1e9, workload=Workload.of(micro_batch=0), convention="megatron")
    assert m.total_bytes == pytest.approx(18e9)  # 2 bf16 + 4 fp32 main + 4 fp32 grads + 8 Adam
    assert (m.weights_bytes, m.master_weights_bytes, m.gradients_bytes, m.optimizer_bytes) == pytest.approx(
        (2e9, 4e9, 4e9, 8e9)
    )


# --------------------------------------------------------------------------------- Korthikanti
# Per-layer activations at s = 2048, b = 1, t = 8, GiB, Korthikanti et al. 2022 Table 2's formulas at the
# sizes of their Table 3 (22B, 175B, 530B, 1T): TP only, TP+SP,
# TP+selective, TP+SP+selective, full recompute (2sbh, not split), no parallelism.
KORTHIKANTI = {
    "22B": (6144, 64, (0.3086, 0.2061, 0.1523, 0.0498, 0.0234, 1.6484)),
    "175B": (12288, 96, (0.5391, 0.3340, 0.3047, 0.0996, 0.0469, 2.6719)),
    "530B": (20480, 128, (0.8203, 0.4785, 0.5078, 0.1660, 0.0781, 3.8281)),
    "1T": (25600, 160, (1.0254, 0.5981, 0.6348, 0.2075, 0.0977, 4.7852)),
}
CONFIGS = [
    (8, False, "none"),
    (8, True, "none"),
    (8, False, "selective"),
    (8, True, "selective"),
    (8, False, "full"),
    (1, False, "none"),
]


@pytest.mark.parametrize("model", list(KORTHIKANTI))
def test_korthikanti_table2_per_layer_activations(model):
    h, a, expected = KORTHIKANTI[model]
    for (t, sp, recompute), gib in zip(CONFIGS, expected):
        got = float(activation_bytes_per_layer(2048, 1, h, a, t, sp, recompute)) / GIB
        assert got == pytest.approx(gib, abs=6e-5), (model, t, sp, recompute)


def test_korthikanti_table2_formulas_exact():
    s, b, h, a, t = 2048, 1, 12288, 96, 8
    sbh = s * b * h
    assert activation_bytes_per_layer(s, b, h, a) == pytest.approx(sbh * (34 + 5 * a * s / h))
    assert activation_bytes_per_layer(s, b, h, a, t) == pytest.approx(
        sbh * (10 + 24 / t + 5 * a * s / (h * t))
    )
    assert activation_bytes_per_layer(s, b, h, a, t, True) == pytest.approx(
        sbh * (34 / t + 5 * a * s / (h * t))
    )
    assert activation_bytes_per_layer(s, b, h, a, t, False, "selective") == pytest.approx(sbh * (10 + 24 / t))
    assert activation_bytes_per_layer(s, b, h, a, t, True, "selective") == pytest.approx(sbh * 34 / t)
    assert activation_bytes_per_layer(s, b, h, a, t, False, "full") == pytest.approx(2 * sbh)


def test_activation_helper_broadcasts():
    t = np.array([1, 2, 4, 8])[:, None]
    rec = np.array([0, 1, 2])[None, :]
    out = activation_bytes_per_layer(2048, 1, 12288, 96, t, False, rec)
    assert out.shape == (4, 3)
    assert out[3, 0] == pytest.approx(float(activation_bytes_per_layer(2048, 1, 12288, 96, 8)))


def test_pipeline_first_stage_holds_all_layers_worth():
    """Korthikanti §4.2.3: with 1F1B the first stage holds L/p layers x p micro-batches = L layers' worth."""
    spec = get_preset("gpt3-175b")
    one = estimate_memory(
        spec,
        parallel=Parallelism.of(tp=8, sp=True),
        workload=Workload.of(recompute="selective"),
        cluster=Cluster(devices=8),
        overhead_bytes=0,
    )
    eight = estimate_memory(
        spec,
        parallel=Parallelism.of(tp=8, pp=8, sp=True),
        workload=Workload.of(recompute="selective"),
        cluster=Cluster(devices=64),
        overhead_bytes=0,
    )
    layer = float(activation_bytes_per_layer(2048, 1, 12288, 96, 8, True, "selective"))
    assert eight.activations_bytes == pytest.approx(96 * layer + 8 * 2048 * 12288 / 8, rel=1e-9)
    assert one.logits_bytes == pytest.approx(4 * 2048 * 50257 / 8)  # fp32 logits 4sbv/t
    inter = estimate_memory(
        spec,
        parallel=Parallelism.of(tp=8, pp=8, sp=True, interleave=3),
        workload=Workload.of(recompute="selective"),
        cluster=Cluster(devices=64),
        overhead_bytes=0,
    )
    assert inter.activations_bytes == pytest.approx(eight.activations_bytes * (1 + 7 / 24))


# ------------------------------------------------------------------------------------- KV cache
KV_TABLE = {
    # bytes/token in bf16 (2 x layers x kv_heads x d_head x 2 from each model's published config),
    # GiB at 4k/8k
    "llama-2-7b": (524_288, 2.0, 4.0),
    "llama-2-13b": (819_200, 3.125, 6.25),
    "llama-2-70b": (327_680, 1.25, 2.5),
    "llama-3-8b": (131_072, 0.5, 1.0),
    "llama-3-70b": (327_680, 1.25, 2.5),
    "llama-3.1-405b": (516_096, 1.96875, 3.9375),
    "gpt3-175b": (4_718_592, 18.0, 36.0),
}


def test_kv_cache_llama2_7b_4k_2gib():
    assert kv_cache_bytes(get_preset("llama-2-7b"), 1, 4096, "bf16") == 2 * GIB
    m = estimate_memory("llama-2-7b", workload=Workload.of(batch=1, context=4096), mode="infer")
    assert m.kv_cache_bytes == 2 * GIB


def test_kv_cache_llama3_8b_half_gib():
    assert kv_cache_bytes(get_preset("llama-3-8b"), 1, 4096, "bf16") == 0.5 * GIB


@pytest.mark.parametrize("name", list(KV_TABLE))
def test_kv_cache_table(name):
    per_token, at4k, at8k = KV_TABLE[name]
    spec = get_preset(name)
    assert kv_cache_bytes(spec, 1, 1, "bf16") == per_token
    assert kv_cache_bytes(spec, 1, 4096) / GIB == pytest.approx(at4k)
    assert kv_cache_bytes(spec, 1, 8192) / GIB == pytest.approx(at8k)


def test_kv_cache_tp_gqa_and_dtype():
    spec = get_preset("llama-2-70b")  # 8 KV heads
    assert kv_cache_bytes(spec, 1, 4096, tp=8) == kv_cache_bytes(spec, 1, 4096) / 8
    assert kv_cache_bytes(spec, 1, 4096, tp=16) == kv_cache_bytes(spec, 1, 4096) / 8  # replicated past 8
    assert kv_cache_bytes(spec, 1, 4096, "fp8") == kv_cache_bytes(spec, 1, 4096) / 2


def test_kv_cache_encoder_decoder_adds_cross_attention():
    t5 = get_preset("t5-base")  # 12 decoder layers, 12 heads x 64
    self_kv = 2 * 12 * 12 * 64 * 2 * 100
    assert kv_cache_bytes(t5, 1, 100, "bf16", source_len=512) == self_kv + 2 * 12 * 12 * 64 * 2 * 512
    assert kv_cache_bytes(get_preset("bert-base-cased"), 4, 512) == 0


# ------------------------------------------------------------------------------ tool conventions
def test_accelerate_bert_base_cased():
    """accelerate estimate-memory: 413.17 MiB fp32, 206.59 MiB fp16, 1.61 GiB 'Training using Adam' (fp32)."""
    fp32 = estimate_memory(
        "bert-base-cased", precision=Precision.of("fp32"), mode="infer", convention="accelerate"
    )
    fp16 = estimate_memory(
        "bert-base-cased", precision=Precision.of("fp16"), mode="infer", convention="accelerate"
    )
    train = estimate_memory(
        "bert-base-cased", precision=Precision.of("fp32"), mode="train", convention="accelerate"
    )
    assert round(fp32.total_bytes / MIB, 2) == 413.17
    assert round(fp16.total_bytes / MIB, 2) == 206.59
    assert round(train.total_bytes / GIB, 2) == 1.61
    int8 = estimate_memory(
        "bert-base-cased", precision=Precision.of("fp32", quant="int8"), mode="infer", convention="accelerate"
    )
    int4 = estimate_memory(
        "bert-base-cased", precision=Precision.of("fp32", quant="int4"), mode="infer", convention="accelerate"
    )
    assert round(int8.total_bytes / MIB, 2) == 103.29
    assert round(int4.total_bytes / MIB, 2) == 51.65
    half_train = estimate_memory(
        "bert-base-cased", precision=Precision.of("fp16"), mode="train", convention="accelerate"
    )
    assert half_train.total_bytes / MIB == pytest.approx(826.36, abs=0.05)  # 8 B/param of the fp32 size


def test_course_1b_params_4gb_24gb():
    """deeplearning.ai: 1B params = 4 GB to store, about 24 GB to train at fp32; 175B -> 4,200 GB."""
    assert (
        estimate_memory(1e9, precision=Precision.of("fp32"), mode="infer", convention="course").total_bytes
        == 4e9
    )
    assert (
        estimate_memory(1e9, precision=Precision.of("fp16"), mode="infer", convention="course").total_bytes
        == 2e9
    )
    assert (
        estimate_memory(
            1e9, precision=Precision.of("fp32", quant="int8"), mode="infer", convention="course"
        ).total_bytes
        == 1e9
    )
    assert (
        estimate_memory(1e9, precision=Precision.of("fp32"), mode="train", convention="course").total_bytes
        == 24e9
    )
    assert (
        estimate_memory(175e9, precision=Precision.of("fp32"), mode="train", convention="course").total_bytes
        == 4200e9
    )


def test_deepspeed_t5_3b_estimates():
    """DeepSpeed memory.rst, t5-3b (cold: 2851M params, largest layer 32M) on 1 node x 8 GPUs, GiB."""

    def ds(zero, offload=None, zero_init=True, params=2851e6, ll=32e6, devices=8):
        m = estimate_memory(
            params,
            parallel=Parallelism.of(zero=zero, offload=offload, zero_init=zero_init),
            cluster=Cluster(devices=devices),
            convention="deepspeed",
            largest_layer_params=ll,
        )
        return round(m.cpu_bytes / GIB, 2), round(m.total_bytes / GIB, 2)

    assert ds(2)[1] == 15.93 and ds(2, "optimizer")[1] == 5.31
    assert ds(2)[0] == 127.45 and ds(2, "optimizer")[0] == 127.45
    assert ds(3, "both") == (71.69, 0.12)
    assert ds(3, "both", zero_init=False) == (127.45, 0.12)
    assert ds(3, "optimizer") == (63.72, 0.78)
    assert ds(3, "optimizer", zero_init=False) == (127.45, 0.78)
    assert ds(3) == (1.43, 6.09)
    assert ds(3, zero_init=False) == (127.45, 6.09)
    # the live model (exact counts from the preset) gives 71.71 / 0.12, 63.74 / 0.79, 1.47 / 6.10
    t5 = get_preset("t5-3b")
    live = {
        o: estimate_memory(
            t5,
            parallel=Parallelism.of(zero=3, offload=o),
            cluster=Cluster(devices=8),
            convention="deepspeed",
        )
        for o in ("both", "optimizer", None)
    }
    assert [round(live[o].cpu_bytes / GIB, 2) for o in ("both", "optimizer", None)] == [71.71, 63.74, 1.47]
    assert [round(live[o].total_bytes / GIB, 2) for o in ("both", "optimizer", None)] == [0.12, 0.79, 6.10]


def test_deepspeed_t5_large_estimates():
    """t5-large (737.67M, largest layer 32.90M) on 4 GPUs: 3291 / 125 / 477 MiB (GPU)."""
    got = [
        estimate_memory(
            737.67e6,
            parallel=Parallelism.of(zero=3, offload=o),
            cluster=Cluster(devices=4),
            convention="deepspeed",
            largest_layer_params=32.90e6,
        ).total_bytes
        / MIB
        for o in (None, "both", "optimizer")
    ]
    assert [int(g) for g in got] == [3291, 125, 477]


# ----------------------------------------------------------------------------- our full model
def test_terms_sum_to_total_and_dict_keys():
    m = estimate_memory(
        "llama-2-7b",
        parallel=Parallelism.of(zero=3),
        workload=Workload.of(recompute="selective", flash_attention=True),
        cluster=Cluster.of("H100", 8),
    )
    assert sum(v for _, v, _ in m.terms) == pytest.approx(m.total_bytes)
    d = m.to_dict()
    for key in (
        "weights_bytes",
        "gradients_bytes",
        "optimizer_bytes",
        "activations_bytes",
        "kv_cache_bytes",
        "overhead_bytes",
        "total_bytes",
        "cpu_bytes",
        "fits",
    ):
        assert key in d
    assert d["fits"] is True and d["headroom_bytes"] > 0
    row = m.to_series()
    assert row["total_bytes"] == m.total_bytes


def test_zero_and_offload_move_bytes_to_cpu():
    base = estimate_memory(
        "llama-2-7b",
        parallel=Parallelism.of(zero=3),
        workload=Workload.of(micro_batch=0),
        cluster=Cluster(devices=8),
        overhead_bytes=0,
    )
    off = estimate_memory(
        "llama-2-7b",
        parallel=Parallelism.of(zero=3, offload="optimizer"),
        workload=Workload.of(micro_batch=0),
        cluster=Cluster(devices=8),
        overhead_bytes=0,
    )
    both = estimate_memory(
        "llama-2-7b",
        parallel=Parallelism.of(zero=3, offload="both"),
        workload=Workload.of(micro_batch=0),
        cluster=Cluster(devices=8),
        overhead_bytes=0,
    )
    assert off.optimizer_bytes == 0 and off.master_weights_bytes == 0 and off.cpu_bytes > 0
    assert off.total_bytes < base.total_bytes and both.total_bytes < off.total_bytes
    p = get_preset("llama-2-7b").params
    assert off.cpu_bytes == pytest.approx(16 * p * 1.5)  # 16 B/param on the host x 1.5 buffer (DeepSpeed)


def test_lora_and_qlora_finetune():
    full = estimate_memory(
        "llama-2-7b", workload=Workload.of(micro_batch=0), mode="finetune", overhead_bytes=0
    )
    lora = estimate_memory(
        "llama-2-7b", workload=Workload.of(micro_batch=0, lora_rank=16), mode="finetune", overhead_bytes=0
    )
    qlora = estimate_memory(
        "llama-2-7b",
        precision=Precision.of("bf16", "paged-adamw8bit", quant="nf4"),
        workload=Workload.of(micro_batch=0, lora_rank=16),
        mode="finetune",
        overhead_bytes=0,
    )
    spec = get_preset("llama-2-7b")
    assert lora.trainable_params == 16 * 4 * (4096 + 4096) * 32  # q, k, v, o: r x (d_in + d_out) per layer
    assert lora.total_bytes < full.total_bytes / 5
    assert qlora.weights_bytes < lora.weights_bytes / 3
    assert lora.weights_bytes == pytest.approx(2 * spec.params + 2 * lora.trainable_params)


def test_max_batch_and_context():
    lim = max_batch_and_context("llama-2-7b", "A100-80GB", context=4096)
    m = estimate_memory(
        "llama-2-7b",
        workload=Workload.of(flash_attention=True, batch=lim.max_batch, context=4096),
        cluster=Cluster.of("A100-80GB"),
        mode="infer",
    )
    over = estimate_memory(
        "llama-2-7b",
        workload=Workload.of(flash_attention=True, batch=lim.max_batch + 1, context=4096),
        cluster=Cluster.of("A100-80GB"),
        mode="infer",
    )
    assert m.fits and not over.fits
    assert 20 <= lim.max_batch <= 30  # ~60 GiB free / (2 GiB KV + 0.25 GiB prefill FFN) per 4k sequence
    assert lim.max_context > 4096


def test_moe_expert_parallel_shards_experts():
    one = estimate_memory(
        "mixtral-8x7b", workload=Workload.of(micro_batch=0), cluster=Cluster(devices=8), overhead_bytes=0
    )
    ep8 = estimate_memory(
        "mixtral-8x7b",
        parallel=Parallelism.of(ep=8),
        workload=Workload.of(micro_batch=0),
        cluster=Cluster(devices=8),
        overhead_bytes=0,
    )
    assert ep8.weights_bytes < one.weights_bytes / 4


@pytest.mark.parametrize(
    "estimate, fragment",
    [
        (lambda: dict(parallel=Parallelism.of(tp=3), cluster=Cluster(devices=8)), "tensor parallel size 3"),
        (
            lambda: dict(parallel=Parallelism.of(pp=40), cluster=Cluster(devices=64)),
            "pipeline parallel size 40",
        ),
        (lambda: dict(parallel=Parallelism.of(tp=8), cluster=Cluster(devices=12)), "device count 12"),
        (lambda: dict(precision=Precision.of("bf16", "adamq")), "unknown optimizer 'adamq'"),
        (lambda: dict(parallel=Parallelism.of(zero=5)), "unknown ZeRO stage 5"),
        (lambda: dict(precision=Precision.of("fp7")), "unknown precision 'fp7'"),
        (lambda: dict(parallel=Parallelism.of(zero=0, offload="optimizer")), "needs ZeRO stage 1"),
        (
            lambda: dict(parallel=Parallelism.of(ep=2), cluster=Cluster(devices=8)),
            "needs a mixture-of-experts",
        ),
    ],
)
def test_bad_input_errors_name_the_value(estimate, fragment):
    with pytest.raises(ScalingError, match=fragment.replace("(", r"\(")):
        estimate_memory("llama-2-7b", **estimate())


def test_custom_spec_gqa_tp_must_divide():
    spec = ModelSpec(n_layer=2, d_model=256, n_head=8, n_kv_head=2)
    estimate_memory(
        spec, parallel=Parallelism.of(tp=4), cluster=Cluster(devices=4)
    )  # 4 is a multiple of the 2 KV heads: replicate
    with pytest.raises(ScalingError, match="tensor parallel size 16"):
        estimate_memory(spec, parallel=Parallelism.of(tp=16), cluster=Cluster(devices=16))


# ------------------------------------------------------------------------- value objects, one home
def test_bytes_per_param_mixed_precision_is_zeros_16():
    """ZeRO §3.1: mixed-precision Adam holds 2 + 2 + K = 16 bytes per parameter, K = 12 (fp32 master,
    momentum, variance); Megatron's fp32 gradients make it 18 (theoretical_memory_usage.py)."""
    from scaling.memory import Precision

    assert Precision.of("bf16").bytes_per_param() == 16.0
    assert Precision.of("bf16", grad_dtype="fp32").bytes_per_param() == 18.0
    assert Precision.of("fp32").bytes_per_param() == 16.0  # no master copy: 4 + 4 + 8
    assert Precision.of("bfloat16", "adamw_8bit").optimizer == "adamw8bit"


def test_the_estimate_takes_value_objects_only():
    """Precision, Parallelism, Workload and Cluster travel whole: a loose keyword is Python's TypeError, and
    a string where an object belongs says which object to build."""
    with pytest.raises(TypeError, match="tp"):
        estimate_memory("llama-2-7b", tp=2)
    with pytest.raises(TypeError, match="Precision"):
        estimate_memory("llama-2-7b", precision="bf16")
    m = estimate_memory(
        "llama-2-7b",
        precision=Precision.of("bf16", "adamw8bit"),
        parallel=Parallelism.of(tp=2, pp=2, zero=1),
        workload=Workload.of(
            micro_batch=2, seq_len=2048, global_batch=64, recompute="selective", flash_attention=False
        ),
        cluster=parse_cluster("2x8xH100"),
    )
    assert (m.inputs["devices"], m.inputs["dp"], m.inputs["devices_per_node"]) == (16, 4, 8)
    assert (m.inputs["optimizer"], m.inputs["accelerator"]) == ("adamw8bit", "H100-SXM")


@pytest.mark.parametrize(
    "estimate, fragment",
    [
        (lambda: dict(mode="infer", workload=Workload.of(context=-100000)), "invalid context -100000"),
        (lambda: dict(mode="infer", workload=Workload.of(batch=-1)), "invalid batch -1"),
        (lambda: dict(workload=Workload.of(seq_len=10**15)), "invalid seq len"),
        (lambda: dict(cluster=Cluster.of(None, 10**12)), "invalid device count"),
    ],
)
def test_negative_and_absurd_sizes_are_refused(estimate, fragment):
    with pytest.raises(ScalingError, match=fragment):
        estimate_memory("llama-2-7b", **estimate())


def test_memory_across_is_estimate_memory_with_each_setting():
    from scaling.memory import memory_across

    common = dict(cluster=parse_cluster("8xH100"), workload=Workload.of(micro_batch=2, seq_len=2048))
    bars = memory_across("llama-2-7b", "zero", **common)
    assert list(bars) == ["ZeRO-0", "ZeRO-1", "ZeRO-2", "ZeRO-3"]
    for stage in range(4):
        assert (
            bars[f"ZeRO-{stage}"].to_dict()
            == estimate_memory("llama-2-7b", parallel=Parallelism.of(zero=stage), **common).to_dict()
        )
    assert bars["ZeRO-3"].inputs["flash_attention"] is True  # the estimate's own default, as the command's
    assert list(memory_across("gpt2", "tp", cluster=Cluster(devices=8))) == [
        "TP 1",
        "TP 2",
        "TP 4",
    ]  # 12 heads


def test_scalar_and_vector_layout_validity_agree():
    """One rule set (`layout_rules`): `validate_layout` raises exactly where the search's mask
    says invalid."""
    from scaling.memory import layout_rules, validate_layout

    spec = get_preset("llama-2-70b")  # 64 heads, 8 KV heads, 80 layers
    for devices in (8, 12, 64, 96):
        for tp in (1, 2, 3, 4, 8, 16, 32):
            for pp in (1, 2, 5, 80, 81):
                ok = all(bool(rule) for rule, _ in layout_rules(spec, devices, tp, pp))
                try:
                    validate_layout(spec, devices, tp, pp)
                    raised = False
                except ScalingError:
                    raised = True
                assert raised == (not ok), (devices, tp, pp)


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(
    model=st.sampled_from(
        ["llama-2-7b", "gpt2", "mixtral-8x7b", "t5-small", "llama-3-8b", "bert-base-uncased"]
    ),
    devices=st.sampled_from([1, 8, 16, 64]),
    micro_batch=st.integers(0, 4),
    seq_len=st.sampled_from([128, 2048, 4096]),
    recompute=st.sampled_from(["none", "selective", "full"]),
    flash=st.booleans(),
    precision=st.sampled_from(["fp32", "bf16", "fp8"]),
)
def test_memory_invariants(model, devices, micro_batch, seq_len, recompute, flash, precision):
    """Terms sum to the total; sharding more (higher ZeRO stage) never adds memory; a larger micro-batch
    never takes less; recomputation never adds memory; fits is total <= capacity."""
    common = dict(precision=Precision.of(precision), cluster=Cluster.of("H100", devices))

    def workload(micro_batch: int, recompute: str) -> Workload:
        return Workload.of(
            micro_batch=micro_batch, recompute=recompute, seq_len=seq_len, flash_attention=flash
        )

    by_stage = [
        estimate_memory(
            model, parallel=Parallelism.of(zero=z), workload=workload(micro_batch, recompute), **common
        )
        for z in range(4)
    ]
    for m in by_stage:
        assert m.total_bytes == pytest.approx(sum(v for _, v, _ in m.terms), rel=1e-12)
        assert m.fits == (m.total_bytes <= m.capacity_bytes)
    if devices > 1:  # ZeRO-3 adds one gathered layer, but never more than it shards away at these sizes
        assert by_stage[0].total_bytes >= by_stage[1].total_bytes >= by_stage[2].total_bytes
    bigger = estimate_memory(
        model, parallel=Parallelism.of(zero=1), workload=workload(micro_batch + 1, recompute), **common
    )
    assert bigger.total_bytes >= by_stage[1].total_bytes
    full = estimate_memory(
        model, parallel=Parallelism.of(zero=1), workload=workload(micro_batch, "full"), **common
    )
    assert full.total_bytes <= by_stage[1].total_bytes * (1 + 1e-12)


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(text=st.text(max_size=12))
def test_precision_parser_accepts_names_or_says_what_is_accepted(text):
    from scaling.memory import Precision

    try:
        p = Precision.of(text)
    except ScalingError as exc:
        assert "expected one of" in str(exc)
    else:
        assert p.weight_bytes in (1.0, 2.0, 4.0)


@pytest.mark.parametrize("text", ["9" * 5000, "²"])
def test_zero_stage_of_5000_digits_or_a_superscript_is_one_error(text):
    with pytest.raises(ScalingError, match="ZeRO stage"):
        zero_stage(text)
