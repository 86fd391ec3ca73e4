"""`scaling calibrate` on serving benchmarks (vLLM ``bench serve``, ``trtllm-bench``) and ``--calibration`` on
`scaling inference`: known efficiencies recovered, published runs reproduced, unknown formats refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import scaling.cli
from scaling.calibration import load_calibration
from scaling.calibration.benchmarks import BenchmarkSetup, ServingMeasurement
from scaling.calibration.serving import benchmark_prediction, make_case, with_factors
from scaling.model import load_model
from scaling.serving import ServingAssumptions, make_deployment

FIXTURES = Path(__file__).parent / "fixtures" / "calibration"
NIM = FIXTURES / "nim_llama33_70b_2xh100_fp8.jsonl"  # NVIDIA NIM 1.0.0 benchmarking page, vLLM's key layout
TRTLLM = FIXTURES / "trtllm_llama31_8b_h100_fp8"  # TensorRT-LLM perf overview rows, trtllm-bench's layout
TRUTH = {"prefill_compute_fraction": 0.55, "decode_bandwidth_fraction": 0.7, "serving_step_overhead_s": 0.003}
# (requests in flight, prompt tokens, output tokens) of a synthetic vLLM sweep of Llama 3.1 8B on one H100
SWEEP = [(1, 1024, 128), (1, 4096, 256), (8, 1024, 128), (32, 2048, 256), (64, 512, 512)]


def run(*args: str):
    return CliRunner().invoke(scaling.cli.main, list(args))


def vllm_result(concurrency: int, prompt: int, output: int, truth: dict) -> dict:
    """What 'vllm bench serve --save-result --max-concurrency C' writes for a server running at ``truth``."""
    m = ServingMeasurement(
        0, "", "", BenchmarkSetup(load_model("llama-3.1-8b"), "H100", 1), prompt, output, 1, 1
    )
    case = make_case(m)
    p = benchmark_prediction(with_factors(case.deployment, truth), concurrency)
    n = 20 * concurrency
    return {
        "date": "20260101-000000",
        "backend": "vllm",
        "model_id": "meta-llama/Llama-3.1-8B-Instruct",
        "num_prompts": n,
        "request_rate": "inf",
        "max_concurrency": concurrency,
        "duration": n * output / p["tokens_per_s"],
        "completed": n,
        "total_input_tokens": n * prompt,
        "total_output_tokens": n * output,
        "request_throughput": p["tokens_per_s"] / output,
        "output_throughput": p["tokens_per_s"],
        "mean_ttft_ms": p["ttft_s"] * 1e3,
        "mean_tpot_ms": p["tpot_s"] * 1e3,
    }


def test_synthetic_vllm_results_recover_known_efficiencies(tmp_path):
    folder = tmp_path / "results"  # as 'vllm bench serve --result-dir results' leaves it: one file per run
    folder.mkdir()
    for i, (c, prompt, output) in enumerate(SWEEP):
        (folder / f"vllm-{i}.json").write_text(json.dumps(vllm_result(c, prompt, output, TRUTH)))
    out = tmp_path / "serving.json"
    result = run("calibrate", str(folder), "--accelerator", "H100", "-o", str(out))
    assert result.exit_code == 0, result.output
    cal = load_calibration(out)
    assert (cal.kind, cal.accelerator) == ("serving", "H100-SXM")
    for name, value in TRUTH.items():
        factor = cal.factor(name)
        assert factor.value == pytest.approx(value, rel=1e-3), name
        assert factor.interval[0] <= value * 1.001 and value * 0.999 <= factor.interval[1]
        assert factor.measurements == (1, 2, 3, 4, 5)
    assert all(
        m["predicted_tokens_per_s"] == pytest.approx(m["measured_tokens_per_s"]) for m in cal.measurements
    )


def test_one_vllm_result_says_which_factor_it_held_fixed(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(vllm_result(1, 1024, 128, TRUTH)))
    result = run("calibrate", str(path), "--accelerator", "H100", "--json")
    assert result.exit_code == 0, result.output
    cal = json.loads(result.stdout)
    held = [n for n in TRUTH if n not in cal["factors"]]
    assert held and len(cal["factors"]) >= 1
    for name in held:
        assert any(n.startswith(f"{name} held at the efficiency table's value") for n in cal["notes"])
    assert "no intervals: fewer than three benchmark runs" in cal["notes"]


def test_nim_llama_3_3_70b_published_sweep_reproduced():
    # NVIDIA NIM 1.8.0, Llama-3.3-70B-Instruct on 2xH100 FP8 TP2, 5000/500 (NIM benchmarking page, 1.0.0):
    # calibrated on the whole sweep, throughput and time per token within 5% up to 50 requests in flight,
    # within 15% where the server is full (100-250: its batch, not the clients, sets the pace)
    result = run("calibrate", str(NIM), "--model", "llama-3.1-70b", "--json")  # 3.3 has 3.1's shape
    assert result.exit_code == 0, result.output
    cal = json.loads(result.stdout)
    assert cal["accelerator"] == "H100-SXM" and cal["kind"] == "serving"
    for m in cal["measurements"]:
        tol = 0.05 if m["concurrency"] <= 50 else 0.15
        assert m["predicted_tokens_per_s"] == pytest.approx(m["measured_tokens_per_s"], rel=tol)
        assert m["predicted_tpot_s"] == pytest.approx(m["measured_tpot_s"], rel=tol)
    first = cal["measurements"][0]
    assert first["predicted_ttft_s"] == pytest.approx(first["measured_ttft_s"], rel=0.1)  # 406.77 ms
    low, high = cal["factors"]["prefill_compute_fraction"]["interval"]
    assert 0.3 < low <= cal["factors"]["prefill_compute_fraction"]["value"] <= high < 0.8
    assert any("full" in n or "fit memory" in n for n in cal["notes"])  # 100+ in flight: the batch that fits


def test_trtllm_bench_reports_of_the_perf_overview():
    # TensorRT-LLM perf overview, Llama 3.1 8B FP8 on one H100 (v1.0-era): the deployment is read from the
    # reports (machine name, quantization, tp_size); calibrated, each run within 20%
    result = run("calibrate", str(TRTLLM), "--json")
    assert result.exit_code == 0, result.output
    cal = json.loads(result.stdout)
    assert cal["accelerator"] == "H100-SXM" and cal["source"]["format"] == ["trtllm-bench"]
    assert {m["precision"] for m in cal["measurements"]} == {"fp8"} and {
        m["tp"] for m in cal["measurements"]
    } == {1}
    for m in cal["measurements"]:
        assert m["predicted_tokens_per_s"] == pytest.approx(m["measured_tokens_per_s"], rel=0.2)


def test_unknown_benchmark_formats_refused_in_one_line(tmp_path):
    unknown = tmp_path / "other.json"
    unknown.write_text(json.dumps({"tokens": 5, "latency": 1.0}))
    result = run("calibrate", str(unknown))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "vllm bench serve" in result.output and "trtllm-bench" in result.output
    throughput = tmp_path / "throughput.json"
    throughput.write_text(
        json.dumps({"elapsed_time": 10, "num_requests": 5, "total_num_tokens": 9, "tokens_per_second": 0.9})
    )
    result = run("calibrate", str(throughput))
    assert result.exit_code == 2 and "vllm bench throughput" in result.output
    result = run("calibrate", str(NIM))  # Llama-3.3 is no preset: the model must be named
    assert result.exit_code == 2 and "--model" in result.output


def test_inference_uses_a_serving_calibration_and_says_so(tmp_path):
    cal = tmp_path / "nim.json"
    assert run("calibrate", str(NIM), "--model", "llama-3.1-70b", "-o", str(cal)).exit_code == 0
    fitted = load_calibration(cal)
    args = ["inference", "llama-3.1-70b", "--gpus", "2xH100", "--tp", "2", "--precision", "fp8", "--json"]
    out = json.loads(run(*args, "--calibration", str(cal)).stdout)
    eff = out["efficiencies"]
    overhead = fitted.factor("serving_step_overhead_s").value
    assert eff["step_overhead_s"] == pytest.approx(overhead)
    assert eff["prefill_mfu"] == pytest.approx(fitted.factor("prefill_compute_fraction").value)
    assert eff["sources"]["step_overhead_s"] == f"calibration {cal}"
    assert eff["sources"]["weights_mbu"] != f"calibration {cal}"  # held: the table's row and its source
    assert out["assumptions"]["calibration"] == str(cal)
    # the estimator's own: the same deployment with the calibration as an assumption
    dep = make_deployment(
        "llama-3.1-70b", "H100", tp=2, precision="fp8", assumptions=ServingAssumptions(calibration=fitted)
    )
    assert dep.eff.step_overhead_s == pytest.approx(overhead)
    given = json.loads(run(*args, "--calibration", str(cal), "--overhead", "1ms").stdout)["efficiencies"]
    assert given["step_overhead_s"] == pytest.approx(1e-3) and given["sources"]["step_overhead_s"] == "given"
    other = run("inference", "llama-3.1-70b", "--gpus", "2xA100-80GB", "--tp", "2", "--calibration", str(cal))
    assert other.exit_code == 2 and "measured on H100-SXM, not A100-80GB" in other.output
    assert len(other.output.strip().splitlines()) == 1


VLLM_KEYS = ["completed", "total_input_tokens", "total_output_tokens", "output_throughput", "mean_tpot_ms"]


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*VLLM_KEYS, "max_concurrency", "model_id", "request_rate", "performance", "engine"]),
        st.one_of(
            st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True), st.text(max_size=8)
        ),
        max_size=8,
    )
)
def test_any_json_object_is_read_or_refused_in_one_line(tmp_path_factory, result):
    # a benchmark file is data: whatever its keys and values, it reads as measurements or one ScalingError
    from scaling.calibration.benchmarks import is_serving_benchmark, read_benchmarks
    from scaling.errors import ScalingError

    path = tmp_path_factory.mktemp("bench") / "result.json"
    path.write_text(json.dumps(result))
    try:
        if is_serving_benchmark(path):
            for m in read_benchmarks(path, model="llama-3.1-8b", accelerator="H100"):
                assert m.output_tokens_per_s > 0 and m.concurrency >= 1 and m.prompt_tokens > 0
    except ScalingError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=25, deadline=None)
@given(
    bandwidth=st.floats(0.2, 0.95),
    more=st.floats(1.01, 1.5),
    concurrency=st.integers(1, 64),
    prompt=st.sampled_from([128, 1024, 4096]),
)
def test_more_bandwidth_never_slows_a_benchmark(bandwidth, more, concurrency, prompt):
    m = ServingMeasurement(
        1, "", "", BenchmarkSetup(load_model("llama-3.1-8b"), "H100", 1), prompt, 256, 1, 1
    )
    dep = make_case(m).deployment
    slow = benchmark_prediction(with_factors(dep, {"decode_bandwidth_fraction": bandwidth}), concurrency)
    fast = benchmark_prediction(
        with_factors(dep, {"decode_bandwidth_fraction": min(1.0, bandwidth * more)}), concurrency
    )
    assert fast["tokens_per_s"] >= slow["tokens_per_s"] and fast["tpot_s"] <= slow["tpot_s"]
    assert fast["ttft_s"] <= slow["ttft_s"]
