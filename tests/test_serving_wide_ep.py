"""Serving a mixture of experts on a wide expert-parallel replica: attention in data-parallel groups of a
small TP, the routed experts spread over every device of the replica, tokens moved by all-to-all
(DeepSeek-V3's deployment, vLLM's --data-parallel-size with --enable-expert-parallel, SGLang's
--enable-dp-attention)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.cli import main
from scaling.errors import ScalingError
from scaling.model import load_model
from scaling.model.shapes import moe_shape_for_params
from scaling.serving import cheapest_serving, estimate_serving, fitting_batch, make_deployment, tp_sizes
from scaling.serving.search import search_grid
from scaling.serving.wide_ep import device_memory, wide_layouts

GB = 1e9


def _moe_2_4t():
    # what `scaling plan --gpus 2048xH800 --days 60 --moe` plans: 512 experts top-32, d_model 13312, 104 heads
    return moe_shape_for_params(190e9, expansion=16, granularity=32)


def test_device_memory_of_qwen3_30b_a3b_on_tp2_ep16_by_hand():
    # Qwen3-30B-A3B: 30,532,122,624 params, of them 48 layers x 128 experts x 3 x 2048 x 768 = 28,991,029,248
    # routed; attention TP 2 in 8 DP groups, EP 16: a device holds half the rest and 8 of the 128 experts
    dep = make_deployment("qwen3-30b-a3b", "H100", tp=2, ep=16, prompt_tokens=2048, output_tokens=2048)
    assert (dep.ep, dep.attention_dp, dep.devices_per_replica) == (16, 8, 16)
    routed, rest = 28_991_029_248, 30_532_122_624 - 28_991_029_248
    m = device_memory(dep, 16)  # 16 sequences of 4096 tokens in the device's DP group
    # bf16: (1,541,093,376 / 2 + 1,811,939,328) x 2 bytes; norms and router are replicated (0.3% more)
    assert float(m["weights"]) == pytest.approx((rest / 2 + routed * 8 / 128) * 2, rel=5e-3)
    # KV: 2 (K, V) x 48 layers x 4 KV heads / TP 2 x 128 x 4096 tokens x 16 sequences x 2 bytes
    assert float(m["kv"]) == 2 * 48 * 2 * 128 * 4096 * 16 * 2 == 3_221_225_472
    # the largest batch per replica is every DP group's: 8 x the group's
    assert fitting_batch(dep) % 8 == 0 and fitting_batch(dep) > 8 * 16


def test_all_to_all_bytes_and_seconds_of_qwen3_30b_a3b_on_tp2_ep16_by_hand():
    dep = make_deployment("qwen3-30b-a3b", "H100", tp=2, ep=16, prompt_tokens=1024, output_tokens=64)
    link = dep.all_to_all
    # a prefill of 8 prompts x 1024 tokens per replica: 8192 / 16 = 512 tokens per device (sequence-parallel)
    # dispatch (bf16): 512 tokens x top-8 x 2048 x 2 bytes = 16,777,216; 7/16 to the node, 8/16 to the other
    intra, inter = link.bytes_leaving(512, 2.0)
    assert (float(intra), float(inter)) == (7_340_032.0, 8_388_608.0)
    # per collective: 8 us + max(7,340,032 / (450 GB/s x 0.8), 8,388,608 / (50 GB/s x 0.8)) = 217.7152 us;
    # dispatch and combine (both bf16) in each of 48 MoE layers: 20.9006592 ms
    e = estimate_serving(
        "qwen3-30b-a3b", "H100", devices=16, tp=2, ep=16, batch=8, prompt_tokens=1024, output_tokens=64
    )
    assert e.prefill_all_to_all_s == pytest.approx(48 * 2 * (8e-6 + 8_388_608 / 40e9), rel=1e-12)
    assert e.prefill_comm_s > e.prefill_all_to_all_s  # the attention TP's all-reduces come on top
    # serving in fp8 dispatches at 1 byte (DeepSeek-V3 §3.3.3), the combine stays bf16
    fp8 = make_deployment("qwen3-30b-a3b", "H100", tp=2, ep=16, precision="fp8").all_to_all
    assert (fp8.dispatch_bytes, fp8.combine_bytes) == (1.0, 2.0)
    # within a node everything goes over the intra-node link
    inside = make_deployment("qwen3-30b-a3b", "H100", tp=1, ep=8).all_to_all
    assert float(inside.bytes_leaving(512, 2.0)[1]) == 0.0


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from(["deepseek-v3", "qwen3-30b-a3b", "mixtral-8x7b"]),
    tp=st.sampled_from([1, 2, 4, 8]),
    ep=st.integers(0, 6),
    more=st.integers(1, 3),
    tokens=st.integers(1, 1_000_000),
)
def test_more_ep_never_raises_per_device_expert_bytes(model, tp, ep, more, tokens):
    small, large = 8 << ep, 8 << (ep + more)
    kw = dict(tp=tp, precision="fp8")
    a, b = make_deployment(model, "H800", ep=small, **kw), make_deployment(model, "H800", ep=large, **kw)
    assert b.expert_share <= a.expert_share
    assert float(device_memory(b, 1)["weights"]) <= float(device_memory(a, 1)["weights"])
    assert float(b.weights_read_bytes(tokens)) <= float(a.weights_read_bytes(tokens))


def test_deepseek_v3_fp8_fits_its_prefill_unit_tp4_dp8_ep32():
    # DeepSeek-V3 report (arXiv 2412.19437) §3.4.1: 4 nodes / 32 GPUs, attention TP4 + SP with DP8, MoE EP32
    dep = make_deployment("deepseek-v3", "H800", tp=4, ep=32, precision="fp8", prompt_tokens=4096)
    assert (dep.attention_dp, dep.expert_share) == (8, 8 / 256)
    weights = float(device_memory(dep, 1)["weights"])
    assert 20 * GB < weights < 30 * GB  # 13.5B non-routed / 4 + 654B routed / 32, 1 byte each
    assert fitting_batch(dep) >= 8 * 16  # 16 prompts of 4K per DP group fit 80 GiB
    e = estimate_serving(
        "deepseek-v3", "H800", devices=32, tp=4, ep=32, batch=128, precision="fp8", prompt_tokens=4096
    )
    assert not any("does not fit" in w for w in e.warnings) and e.attention_dp == 8


def test_deepseek_v3_fp8_fits_its_decode_unit_tp4_dp80_ep320_one_expert_a_device():
    # §3.4.2: 40 nodes / 320 GPUs, TP4 + SP with DP80, EP320: "each GPU hosts only one expert", 64 GPUs hold
    # redundant and shared experts; 320 does not divide 256, so the spare slots are the redundant copies
    dep = make_deployment("deepseek-v3", "H800", tp=4, ep=320, precision="fp8", kv_dtype="bf16")
    assert (dep.attention_dp, dep.expert_share) == (80, 1 / 256)
    assert float(device_memory(dep, 1)["weights"]) < 8 * GB
    assert fitting_batch(dep) >= 80 * 64


def _day6_decode_tokens_per_s_per_node(tpot_s: float) -> float:
    """The model's output tokens/s per 8-GPU node on the overview's decode unit (EP144, DP144 attention, so
    TP 1) at the largest batch decoding at ``tpot_s`` per token, at its mean context of 4,989 tokens."""
    # prompts of 4,383 and outputs of 1,211 tokens: P + D/2 = 4,989 (the average KV length per output
    # token) with P / D = 608B / 168B (the day's input and output tokens)
    dep = make_deployment(
        "deepseek-v3",
        "H800",
        tp=1,
        ep=144,
        precision="fp8",
        kv_dtype="bf16",
        prompt_tokens=4383,
        output_tokens=1211,
    )
    batch = np.arange(1, fitting_batch(dep) + 1)
    tpot = dep.decode_seconds(batch)["total"]
    best = batch[tpot <= tpot_s].max()
    return 8 * best / float(dep.decode_seconds(best)["total"]) / dep.devices_per_replica


@pytest.mark.parametrize("user_tokens_per_s", [20, 22])
def test_deepseek_day6_decode_14_8k_output_tokens_per_s_per_node(user_tokens_per_s):
    # DeepSeek-V3/R1 Inference System Overview (open-infra-index, Open Source Week day 6, 2025-03-01): decode
    # on EP144 with MLA in DP144, 2 routed experts a GPU, fp8 matmuls and dispatch, bf16 MLA and combine;
    # each H800 node makes ~14.8k output tokens/s at 20-22 tokens/s per user. Tolerance 25%: the overview
    # gives a day's average, the roofline neither overlaps communication nor limits nodes per token
    dep = make_deployment("deepseek-v3", "H800", tp=1, ep=144, precision="fp8")
    assert dep.expert_share == 2 / 256  # "each GPU manages 2 routed experts"
    per_node = _day6_decode_tokens_per_s_per_node(1.0 / user_tokens_per_s)
    assert per_node == pytest.approx(14_800, rel=0.25)


def test_deepseek_day6_prefill_73_7k_input_tokens_per_s_per_node():
    # the same overview: prefill on EP32 with MLA in DP32, ~73.7k input tokens/s per node including cache
    # hits; 342B of the day's 608B input tokens hit the on-disk KV cache, so 73.7k x 266 / 608 = 32.2k are
    # computed. Tolerance 25%, as above
    computed = 73_700 * (608 - 342) / 608
    e = estimate_serving(
        "deepseek-v3",
        "H800",
        devices=32,
        tp=1,
        ep=32,
        batch=64,
        precision="fp8",
        kv_dtype="bf16",
        prompt_tokens=4383,
        output_tokens=1211,
    )
    assert not any("does not fit" in w for w in e.warnings)
    assert e.input_tokens_per_s / 4 == pytest.approx(computed, rel=0.25)
    assert e.prefill_all_to_all_s > e.prefill_compute_s  # 3/4 of every dispatch crosses the 50 GB/s network


def test_a_2_4t_moe_that_one_node_cannot_hold_serves_on_wide_replicas():
    spec = _moe_2_4t()
    assert (spec.n_experts, spec.top_k, spec.d_model, spec.n_head) == (512, 32, 13312, 104)
    assert max(tp_sizes(spec, 64)) == 8  # 104 heads: TP at most 8, one node
    with pytest.raises(ScalingError, match="does not fit"):
        cheapest_serving(spec, "H800", devices=8, keep=1, search_precision=True)
    for nodes in (2, 4, 8):
        search = cheapest_serving(
            spec, "H800", devices=8 * nodes, price_usd_per_hour=2.0, keep=1, search_precision=True
        )
        best = search.best
        assert best.ep > best.tp and best.attention_dp == best.ep // best.tp
        assert best.usd_per_million_output_tokens > 0 and search.precision_choice.chosen
        assert search.to_dict()["attention_dp"] == best.attention_dp
        assert search.to_dict()["all_to_all"]["ep"] == best.ep


def test_inference_command_serves_a_2_4t_moe_on_32_h800(tmp_path):
    spec = _moe_2_4t()
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            dict(
                model_type="mixtral",
                hidden_size=spec.d_model,
                num_attention_heads=spec.n_head,
                num_key_value_heads=spec.kv_heads,
                num_hidden_layers=spec.total_layers,
                intermediate_size=spec.expert_ffn_dim,
                num_local_experts=spec.n_experts,
                num_experts_per_tok=spec.top_k,
                vocab_size=spec.vocab_size,
                max_position_embeddings=4096,
            )
        )
    )
    run = CliRunner().invoke(
        main, ["inference", str(config), "--gpus", "32xH800", "--quant", "int4", "--json"]
    )
    assert run.exit_code == 0, run.output
    d = json.loads(run.output)
    assert d["ep"] > d["tp"] and d["attention_dp"] == d["ep"] // d["tp"] and d["max_batch"] >= 1
    assert any("all-to-all per MoE layer" in n for n in d["notes"])
    text = CliRunner().invoke(main, ["inference", str(config), "--gpus", "32xH800", "--latency", "100ms"])
    assert text.exit_code == 0, text.output
    assert "DP" in text.output and "all-to-all" in text.output


def test_bad_wide_layouts_are_refused_in_one_line():
    with pytest.raises(ScalingError, match="dense"):
        make_deployment("llama-2-7b", "H100", tp=1, ep=8)
    with pytest.raises(ScalingError, match="multiple of the attention tensor-parallel size 4"):
        make_deployment("deepseek-v3", "H800", tp=4, ep=18)
    args = ["inference", "deepseek-v3", "--gpus", "32xH800", "--tp", "4", "--ep", "12", "--batch", "8"]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 2 and "expert parallel size 12 does not divide the 32" in run.output


def test_a_dense_model_searches_only_tensor_parallel_replicas():
    spec = load_model("llama-2-70b")
    assert wide_layouts(spec, 64) == []
    parts = search_grid(spec, "H100", devices=32)  # 140 GB of bf16 weights: TP 1 holds none
    layouts = {(p.dep.tp, p.dep.ep, p.dep.attention_dp) for p in parts}
    assert layouts == {(t, 1, 1) for t in tp_sizes(spec, 32, 8) if t > 1}
    assert all(p.dep.all_to_all is None for p in parts)
    e = estimate_serving(spec, "H100", devices=8, tp=8, batch=16)
    assert (e.attention_dp, e.prefill_all_to_all_s, e.decode_all_to_all_s, e.all_to_all) == (
        1,
        0.0,
        0.0,
        None,
    )


def test_a_moe_search_ranges_over_ep_multiples_of_a_node_and_attention_tp_below_it():
    spec = load_model("deepseek-v3")
    assert wide_layouts(spec, 32) == [(t, e) for e in (8, 16, 32) for t in (1, 2, 4, 8) if t < e]
    assert wide_layouts(spec, 32, ep=32, tp=4) == [(4, 32)]
    # the search's candidates: EP = TP ones and the wide ones that hold it (bf16, 1.34 TB: EP 32 only)
    layouts = {(p.dep.tp, p.dep.ep) for p in search_grid(spec, "H800", devices=32, workload=None)}
    assert {(4, 32), (1, 32), (32, 32)} <= layouts and all(32 % max(t, e) == 0 for t, e in layouts)


def test_the_inference_chart_of_a_wide_moe_draws_what_its_legend_can_list():
    """DeepSeek-V3 on 32 H800s has 39 precision x TP x EP layouts; the chart draws at most `MAX_DRAWN`: the
    chosen deployment's, then those with the most points no other layout beats on both panels, and says how
    many it left out (the chart's data keeps every one)."""
    from scaling.serving.chart import MAX_DRAWN, drawn_curves, inference_chart, inference_figure
    from scaling.serving.search import ServingWorkload

    workload = ServingWorkload(latency_s=0.1, ttft_s=5.0)
    chart = inference_chart("deepseek-v3", "H800", devices=32, workload=workload, search_precision=True)
    drawn = drawn_curves(chart)
    assert len(chart.curves) > MAX_DRAWN >= len(drawn) > 0
    best = chart.chosen
    assert any((c.tp, c.ep, c.precision.weight_dtype) == (best.tp, best.ep, best.weight_dtype) for c in drawn)
    figure = inference_figure(chart, title="t", latency_s=0.1, ttft_s=5.0)
    traces = [t for t in figure.data if t.meta and "tp" in t.meta]
    assert len(traces) == 2 * len(drawn)
    note = figure.layout.annotations[-1].text
    assert f"{len(chart.curves) - len(drawn)} of {len(chart.curves)} layouts not drawn" in note
