"""Serving a mixture of experts with expert parallelism (EP = TP, vLLM's --enable-expert-parallel): the
experts a batch routes to, spread over the replica's devices, and replicas that span nodes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from scaling.cli import main
from scaling.memory import DEVICES_PER_NODE
from scaling.model import load_model
from scaling.model.shapes import moe_shape_for_params
from scaling.serving import IDEAL
from scaling.serving.experts import expert_parallel, experts_touched
from scaling.serving.roofline import (
    estimate_serving,
    fitting_batch,
    make_deployment,
    tp_sizes,
)
from scaling.serving.search import cheapest_serving, search_grid


def _bf16_params_on_all_devices(dep, tokens):
    return dep.weights_read_bytes(tokens) * dep.tp / 2.0  # every device's bf16 bytes, as parameters


@pytest.mark.parametrize("model, tp", [("mixtral-8x7b", 8), ("deepseek-v3", 16), ("qwen3-30b-a3b", 4)])
def test_decode_reads_the_active_params_at_batch_1_and_every_weight_at_large_batch(model, tp):
    spec = load_model(model)
    dep = make_deployment(spec, "H100", tp=tp, prompt_tokens=1, output_tokens=1, assumptions=IDEAL)
    assert dep.ep == tp  # the experts spread over the replica's devices
    lookups = 0 if spec.tied_embeddings else spec.param_breakdown()["token_embedding"]
    assert _bf16_params_on_all_devices(dep, 1) == pytest.approx(spec.active_params - lookups, rel=1e-3)
    assert _bf16_params_on_all_devices(dep, 1e5) == pytest.approx(spec.params - lookups, rel=1e-3)


@pytest.mark.parametrize("tokens", [1, 2, 8, 32, 256])
def test_decode_bytes_follow_the_union_of_experts_the_batch_touches(tokens):
    # dense/attention share + E(1 - (1 - k/E)^B) experts of the E / EP on each device
    spec = load_model("deepseek-v3")
    dep = make_deployment(spec, "H200", tp=8, precision="fp8")
    per_device = (dep.dense_read_params + experts_touched(256, 8, tokens) * dep.expert_params) / 8
    assert float(dep.weights_read_bytes(tokens)) == pytest.approx(per_device * dep.weight_bytes)
    assert experts_touched(256, 8, tokens) <= min(256, 8 * tokens)


def test_expert_parallel_is_tp_for_a_moe_whose_experts_it_divides_and_one_for_a_dense_model():
    assert expert_parallel(load_model("deepseek-v3"), 16) == (16, 1)
    assert expert_parallel(load_model("llama-2-7b"), 4) == (1, None)
    assert make_deployment("llama-2-7b", "H100", tp=4).ep == 1
    # Mixtral has 8 experts: on 16 devices each expert is split over TP 16 instead (EP 1, ETP 16)
    assert expert_parallel(load_model("mixtral-8x7b"), 16) == (1, 16)
    assert tp_sizes(load_model("mixtral-8x7b"), 16) == [1, 2, 4, 8, 16]
    assert tp_sizes(load_model("deepseek-v3"), 64) == [1, 2, 4, 8, 16, 32, 64]
    e = estimate_serving("mixtral-8x7b", "H100", devices=16, tp=16)
    assert e.ep == 1 and any("each expert split over TP 16" in n for n in e.notes)


def test_spreading_the_experts_over_more_devices_fits_more_sequences():
    # per-device weights fall with EP, so the memory left for the KV cache holds more sequences
    fits = [
        fitting_batch(make_deployment("deepseek-v3", "H200", tp=tp, precision="fp8")) for tp in (8, 16, 32)
    ]
    assert 0 < fits[0] < fits[1] < fits[2]


def test_a_moe_too_big_for_one_node_serves_across_nodes_a_dense_search_stays_in_one():
    # DeepSeek-V3 in bf16 (1.34 TB) overflows 8 x H100 (640 GB): only EP across nodes serves it
    assert fitting_batch(make_deployment("deepseek-v3", "H100", tp=8)) == 0
    best = cheapest_serving("deepseek-v3", "H100", devices=32).best
    assert best.ep > DEVICES_PER_NODE and best.max_batch > 0
    # 1.34 TB of weights: 84 GB a device on TP = EP = 16, 42 GB on 32; a wide replica (attention TP below EP,
    # all-to-all instead of all-reduces across nodes) serves it cheaper
    spread = cheapest_serving("deepseek-v3", "H100", devices=32, tp=32).best
    assert (spread.tp, spread.ep) == (32, 32) and spread.max_batch > 0
    assert best.tp < best.ep and spread.tokens_per_s_per_device < best.tokens_per_s_per_device
    dense_sizes = {part.dep.tp for part in search_grid("llama-2-70b", "H100", devices=32)}
    assert max(dense_sizes) <= DEVICES_PER_NODE


def test_the_estimate_states_ep_and_the_routing_assumption():
    e = estimate_serving("mixtral-8x7b", "H100", devices=8, tp=4)
    assert e.ep == 4
    assert any("uniform, independent routing" in n and "EP = 4" in n for n in e.notes)
    dense = estimate_serving("llama-2-7b", "H100", devices=8, tp=4)
    assert dense.ep == 1 and not any("routing" in n for n in dense.notes)
    run = CliRunner().invoke(main, ["inference", "mixtral-8x7b", "--gpus", "8xH100", "--json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.output)["ep"] == json.loads(run.output)["tp"]


@pytest.mark.parametrize("active", [3e9, 6.5e9, 7.3e9])
def test_plan_sized_moe_shapes_serve_on_a_node_at_more_than_tp_1(active):
    # shapes that once had 31 heads allowed only TP 1; a multiple of 8 heads serves on TP 8
    spec = moe_shape_for_params(active, expansion=8, granularity=4)
    assert tp_sizes(spec, 8) == [1, 2, 4, 8]
    assert cheapest_serving(spec, "H100", devices=8).best.tokens_per_s_per_device > 0
