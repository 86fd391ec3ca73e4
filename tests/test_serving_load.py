"""Continuous batching under Poisson load (`scaling.serving.concurrency`): the simulation's invariants, its
agreement with the roofline at light load, a published vLLM measurement, and the command's JSON keys."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.cli import main
from scaling.serving import (
    ServingWorkload,
    cheapest_serving,
    estimate_serving,
    fitting_batch,
    make_deployment,
)
from scaling.serving.concurrency import estimate_under_load, simulate_replica

LOAD_KEYS = (
    "requests_per_s",
    "ttft_p50_s",
    "ttft_p99_s",
    "tpot_p50_s",
    "tpot_p99_s",
    "output_tokens_per_s",
    "output_tokens_per_s_per_device",
)


@settings(max_examples=12, deadline=None)
@given(
    model=st.sampled_from(["llama-2-7b", "mistral-7b", "llama-2-13b"]),
    prompt=st.sampled_from([128, 1024, 3000]),
    output=st.sampled_from([1, 16, 200]),
    rate=st.floats(0.2, 20.0),
    seed=st.integers(0, 3),
)
def test_simulation_invariants(model, prompt, output, rate, seed):
    dep = make_deployment(model, "H100", prompt_tokens=prompt, output_tokens=output)
    r = simulate_replica(dep, rate, requests=120, max_in_flight=fitting_batch(dep), seed=seed)
    assert 0 < r.ttft_p50_s <= r.ttft_p99_s
    assert 0 <= r.tpot_p50_s <= r.tpot_p99_s
    assert r.ttft_p50_s <= r.latency_p50_s <= r.latency_p99_s
    # nothing completes faster than it arrives (beyond the sampling noise of the window)
    assert r.requests_per_s <= 1.5 * rate
    assert r.output_tokens_per_s == pytest.approx(r.requests_per_s * output)
    # no request is faster than its prefill alone and its decode steps at batch 1
    alone = estimate_serving(model, "H100", prompt_tokens=prompt, output_tokens=output)
    assert r.ttft_p50_s >= 0.99 * alone.prefill_compute_s


def test_light_load_is_the_batch_1_roofline():
    # one request at a time: TTFT is the prefill of one prompt, TPOT a batch-1 decode step
    kw = dict(prompt_tokens=1024, output_tokens=128)
    dep = make_deployment("llama-2-7b", "A100-80GB", **kw)
    r = simulate_replica(dep, 0.01, requests=60, max_in_flight=fitting_batch(dep))
    alone = estimate_serving("llama-2-7b", "A100-80GB", **kw)
    assert r.ttft_p50_s == pytest.approx(alone.prefill_s, rel=0.02)
    assert r.tpot_p50_s == pytest.approx(alone.decode_s_per_token, rel=0.05)


def test_more_load_is_slower_per_token_and_has_longer_tails():
    dep = make_deployment("llama-2-7b", "H100", prompt_tokens=1024, output_tokens=128)
    fits = fitting_batch(dep)
    light, heavy = (simulate_replica(dep, rate, requests=300, max_in_flight=fits) for rate in (1.0, 30.0))
    assert heavy.tpot_p50_s > light.tpot_p50_s
    assert heavy.ttft_p99_s > light.ttft_p99_s
    assert heavy.output_tokens_per_s > light.output_tokens_per_s


def test_concurrency_keeps_that_many_requests_in_flight():
    r = estimate_under_load("llama-2-70b", "H100", devices=8, tp=4, concurrency=64, output_tokens=128)
    assert r.to_dict()["mean_in_flight"] == pytest.approx(64, rel=0.05)
    assert r.requests_per_s == pytest.approx(2 * r.replica.requests_per_s)


def test_kv_cache_caps_the_requests_in_flight():
    # more requests than the KV cache holds queue: TTFT grows, the batch never exceeds what fits
    dep = make_deployment("llama-2-13b", "A100-40GB", prompt_tokens=2048, output_tokens=256)
    fits = fitting_batch(dep)
    r = simulate_replica(dep, 50.0, requests=200, max_in_flight=fits)
    assert r.max_in_flight == fits
    assert r.ttft_p99_s > 10 * estimate_serving("llama-2-13b", "A100-40GB", output_tokens=256).prefill_s


def test_vllm_llama31_8b_a100_40gb_one_request_decodes_at_75_tokens_per_s():
    # johnmusgrave.com/p/vllm-throughput-latency-sweep-on: vLLM 0.23.0, Llama-3.1-8B-Instruct bf16, one A100
    # 40GB, 1024 in / 128 out, concurrency 1: "about 75 tokens/sec" per request
    r = estimate_under_load("llama-3.1-8b", "A100-40GB", concurrency=1, prompt_tokens=1024, output_tokens=128)
    assert 1.0 / r.replica.tpot_p50_s == pytest.approx(75, rel=0.30)


def test_inference_concurrency_json_keys_and_devices():
    args = ["inference", "llama-2-70b", "--gpus", "8xH100", "--tp", "4", "--concurrency", "32"]
    result = CliRunner().invoke(main, [*args, "--output", "64", "--price", "2", "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    for key in LOAD_KEYS:
        assert d[key] > 0
    assert d["output_tokens_per_s_per_device"] == pytest.approx(d["output_tokens_per_s"] / 8)
    assert d["usd_per_million_output_tokens_under_load"] == pytest.approx(
        2 * 8 / 3600 / d["output_tokens_per_s"] * 1e6
    )
    assert "tokens_per_s" in d and "efficiencies" in d  # today's keys stay


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--concurrency", "0"], "--concurrency"),
        (["--request-rate", "-2"], "--request-rate"),
        (["--concurrency", "8", "--batch", "4"], "--batch"),
        (["--concurrency", "8", "--latency", "50ms"], "--latency"),
        (["--overhead", "-1"], "--overhead"),
    ],
)
def test_inference_load_options_bad_input_is_one_line(extra, message):
    result = CliRunner().invoke(main, ["inference", "llama-2-7b", "--gpus", "H100", *extra])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


# ------------------------------------------------------------------------------ targets: --latency and --ttft
def test_latency_target_alone_cautions_when_the_first_token_is_extreme():
    # a 50 ms per-token target alone admits a batch whose prefill takes longer than the rest of the answer
    search = cheapest_serving("llama-3-70b", "H100", devices=8, workload=ServingWorkload(latency_s=0.05))
    best = search.best
    assert best.decode_s_per_token <= 0.05
    assert best.prefill_s > (best.output_tokens - 1) * best.decode_s_per_token
    assert any("--ttft" in w for w in best.warnings)


def test_both_targets_bound_both_latencies_and_cost_at_least_as_much():
    both = ServingWorkload(latency_s=0.05, ttft_s=2.0)
    one = cheapest_serving("llama-3-70b", "H100", devices=8, workload=ServingWorkload(latency_s=0.05)).best
    best = cheapest_serving("llama-3-70b", "H100", devices=8, workload=both).best
    assert best.decode_s_per_token <= 0.05 and best.prefill_s <= 2.0
    assert best.tokens_per_s_per_device <= one.tokens_per_s_per_device
    assert not any("bounds the" in w for w in best.warnings)


def test_ttft_target_alone_cautions_when_tokens_are_slower_than_the_first():
    w = ServingWorkload(ttft_s=0.01, prompt_tokens=128, output_tokens=64)
    best = cheapest_serving("llama-2-7b", "H100", devices=1, workload=w).best
    assert best.prefill_s <= 0.01
    assert any("--latency" in m for m in best.warnings) == (best.decode_s_per_token > 0.01)


def test_inference_ttft_flag_is_in_the_target_text():
    args = ["inference", "llama-3-70b", "--gpus", "8xH100", "--latency", "50ms", "--ttft", "2s", "--json"]
    d = json.loads(CliRunner().invoke(main, args).output)
    assert d["target"] == "at most 50 ms per output token and at most 2000 ms to the first token"
    assert d["prefill_s"] <= 2.0 and d["decode_s_per_token"] <= 0.05
