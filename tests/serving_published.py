"""Published serving measurements the roofline is checked against, each row with its source, and the README
table rendered from them (`readme_table`; tests/test_serving_published.py checks the README holds it).

Throughput rows are output tokens/s per device over the whole run (prefill included: TensorRT-LLM's
benchmark divides all output tokens by the wall time), compared with `ServingEstimate.end_to_end_tokens_per_s`
per device; latency rows are the time to first token of one request, or the time per output token.
A row with a ``miss`` is outside the tolerance for the stated reason (the test holds it outside, so the
README's explanation stays true); ``profile`` names the efficiency profile the row is predicted under.
"""

from __future__ import annotations

from dataclasses import dataclass

from scaling.serving import ServingAssumptions, estimate_serving
from scaling.serving.efficiency import ServingEfficiency

THROUGHPUT_TOL = 0.25
LATENCY_TOL = 0.30

TRT_061 = "TensorRT-LLM docs/source/performance.md, v0.6.1 tables"
TRT_090 = "TensorRT-LLM docs/source/performance.md, v0.9.0 tables"
NEMO = "NVIDIA NeMo Framework docs, Llama-2 inference performance table"
VLLM_A100 = "johnmusgrave.com/p/vllm-throughput-latency-sweep-on (vLLM 0.23.0, C=1)"

GQA_KERNEL = (
    "v0.6.1's grouped-query decode kernel re-reads each KV head per query head (8x the KV bytes); "
    "the trtllm-0.6.1 profile predicts it, and v0.9.0 measures ~2x on the same row"
)


@dataclass(frozen=True)
class Row:
    """One published measurement: what ran, what was measured, where it is published."""

    model: str
    accelerator: str
    tp: int
    batch: int
    prompt: int
    output: int
    precision: str
    metric: str  # "tok/s/GPU", "TTFT ms", "TPOT ms" or "latency ms"
    measured: float
    source: str
    profile: str = "default"
    miss: str = ""

    @property
    def tolerance(self) -> float:
        return THROUGHPUT_TOL if self.metric == "tok/s/GPU" else LATENCY_TOL

    def predict(self) -> float:
        """The estimator's number for this row (the same unit as ``measured``)."""
        a = ServingAssumptions(efficiency=ServingEfficiency.load(self.profile))
        e = estimate_serving(
            self.model,
            self.accelerator,
            devices=self.tp,
            tp=self.tp,
            batch=self.batch,
            prompt_tokens=self.prompt,
            output_tokens=self.output,
            precision=self.precision,
            kv_dtype=self.precision,
            assumptions=a,
        )
        return {
            "tok/s/GPU": e.end_to_end_tokens_per_s / self.tp,
            "TTFT ms": e.prefill_s * 1e3,
            "TPOT ms": e.decode_s_per_token * 1e3,
            "latency ms": e.latency_s * 1e3,
        }[self.metric]

    @property
    def label(self) -> str:
        return (
            f"{self.model} {self.tp}x{self.accelerator} {self.precision} b{self.batch} "
            f"{self.prompt}/{self.output} {self.metric}"
            + ("" if self.profile == "default" else f" [{self.profile}]")
        )


def _throughput(model, acc, tp, batch, prompt, output, precision, measured, source, **kw) -> Row:
    return Row(model, acc, tp, batch, prompt, output, precision, "tok/s/GPU", measured, source, **kw)


def _ttft(model, acc, tp, prompt, precision, measured, source, **kw) -> Row:
    return Row(model, acc, tp, 1, prompt, 1, precision, "TTFT ms", measured, source, **kw)


ROWS: tuple[Row, ...] = (
    # TensorRT-LLM v0.6.1, "Peak Throughput", H100 FP8 (FP8 weights and KV); LLaMA 7B = Llama-2-7B's shape
    _throughput("gpt-j-6b", "H100", 1, 1024, 128, 128, "fp8", 26150, TRT_061),
    _throughput("gpt-j-6b", "H100", 1, 120, 128, 2048, "fp8", 8011, TRT_061),
    _throughput("gpt-j-6b", "H100", 1, 64, 2048, 128, "fp8", 2551, TRT_061),
    _throughput("gpt-j-6b", "H100", 1, 64, 2048, 2048, "fp8", 3327, TRT_061),
    _throughput("llama-2-7b", "H100", 1, 768, 128, 128, "fp8", 19694, TRT_061),
    _throughput("llama-2-7b", "H100", 1, 112, 128, 2048, "fp8", 6818, TRT_061),
    _throughput("llama-2-7b", "H100", 1, 80, 2048, 128, "fp8", 2244, TRT_061),
    _throughput("llama-2-7b", "H100", 1, 48, 2048, 2048, "fp8", 2740, TRT_061),
    _throughput("llama-2-70b", "H100", 2, 1024, 128, 128, "fp8", 2657, TRT_061),
    _throughput("llama-2-70b", "H100", 2, 96, 2048, 128, "fp8", 306, TRT_061),
    _throughput("llama-2-70b", "H100", 4, 480, 128, 2048, "fp8", 1486, TRT_061, miss=GQA_KERNEL),
    _throughput("llama-2-70b", "H100", 2, 64, 2048, 2048, "fp8", 547, TRT_061, miss=GQA_KERNEL),
    _throughput("llama-2-70b", "H100", 4, 480, 128, 2048, "fp8", 1486, TRT_061, profile="trtllm-0.6.1"),
    _throughput("llama-2-70b", "H100", 2, 64, 2048, 2048, "fp8", 547, TRT_061, profile="trtllm-0.6.1"),
    # TensorRT-LLM v0.9.0, H100 FP8: the same 70B row after the grouped-query (XQA) kernels
    _throughput("llama-2-70b", "H100", 2, 64, 2048, 2048, "fp8", 1011, TRT_090),
    _throughput("llama-2-70b", "H200", 2, 512, 128, 2048, "fp8", 3963, TRT_090),
    # TensorRT-LLM v0.6.1, "Peak Throughput", A100 FP16
    _throughput("gpt-j-6b", "A100-80GB", 1, 512, 128, 128, "fp16", 6374, TRT_061),
    _throughput("gpt-j-6b", "A100-80GB", 2, 120, 128, 2048, "fp16", 2192, TRT_061),
    _throughput("gpt-j-6b", "A100-80GB", 1, 60, 2048, 128, "fp16", 670, TRT_061),
    _throughput("gpt-j-6b", "A100-80GB", 2, 64, 2048, 2048, "fp16", 903, TRT_061),
    _throughput("llama-2-7b", "A100-80GB", 1, 384, 128, 128, "fp16", 5586, TRT_061),
    _throughput("llama-2-7b", "A100-80GB", 1, 60, 128, 2048, "fp16", 1928, TRT_061),
    _throughput("llama-2-7b", "A100-80GB", 1, 52, 2048, 128, "fp16", 591, TRT_061),
    _throughput("llama-2-7b", "A100-80GB", 2, 64, 2048, 2048, "fp16", 782, TRT_061),
    _throughput("llama-2-70b", "A100-80GB", 4, 1280, 128, 128, "fp16", 670, TRT_061),
    _throughput("llama-2-70b", "A100-80GB", 4, 120, 2048, 128, "fp16", 79, TRT_061),
    _throughput("llama-2-70b", "A100-80GB", 4, 240, 128, 2048, "fp16", 525, TRT_061, miss=GQA_KERNEL),
    _throughput("llama-2-70b", "A100-80GB", 4, 240, 128, 2048, "fp16", 525, TRT_061, profile="trtllm-0.6.1"),
    # TensorRT-LLM "Low Latency": first-token latency at batch 1 (H100 FP8 from v0.5, A100 FP16)
    _ttft("gpt-j-6b", "H100", 1, 128, "fp8", 7, TRT_061),
    _ttft("gpt-j-6b", "H100", 1, 2048, "fp8", 29, TRT_061),
    _ttft("llama-2-7b", "H100", 1, 128, "fp8", 7, TRT_061),
    _ttft("llama-2-7b", "H100", 1, 2048, "fp8", 36, TRT_061),
    _ttft(
        "llama-2-70b",
        "H100",
        4,
        128,
        "fp8",
        26,
        TRT_061,
        miss="a fixed cost per forward pass, not per layer: 80 layers x 2 all-reduces at TP 4 cost more",
    ),
    _ttft("llama-2-70b", "H100", 4, 2048, "fp8", 109, TRT_061),
    _ttft("gpt-j-6b", "A100-80GB", 1, 128, "fp16", 12, TRT_061),
    _ttft("gpt-j-6b", "A100-80GB", 1, 2048, "fp16", 129, TRT_061),
    _ttft("llama-2-7b", "A100-80GB", 1, 128, "fp16", 16, TRT_061),
    _ttft("llama-2-7b", "A100-80GB", 1, 2048, "fp16", 133, TRT_061),
    _ttft("llama-2-70b", "A100-80GB", 4, 128, "fp16", 47, TRT_061),
    _ttft("llama-2-70b", "A100-80GB", 4, 2048, "fp16", 377, TRT_061),
    # NeMo Llama-2-7B, 128 in / 20 out, bf16, whole-request latency
    Row("llama-2-7b", "A100-80GB", 1, 1, 128, 20, "bf16", "latency ms", 234.0, NEMO),
    Row("llama-2-7b", "H100", 1, 1, 128, 20, "bf16", "latency ms", 153.8, NEMO),
    Row("llama-2-7b", "A100-80GB", 1, 8, 128, 20, "bf16", "latency ms", 329.5, NEMO),
    Row("llama-2-7b", "H100", 1, 8, 128, 20, "bf16", "latency ms", 199.2, NEMO),
    # vLLM, Llama-3.1-8B-Instruct bf16 on one A100 40GB, 1024 in / 128 out, one request: ~75 tokens/s
    Row("llama-3.1-8b", "A100-40GB", 1, 1, 1024, 128, "bf16", "TPOT ms", 1e3 / 75, VLLM_A100),
)


def error(row: Row) -> float:
    """Predicted / measured - 1."""
    return row.predict() / row.measured - 1.0


def _shown(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def readme_table() -> str:
    """The README's serving table: each row's prediction, measurement, error and source (misses explained)."""
    lines = [
        "| Model, devices, precision, batch, in/out | Metric | Predicted | Measured | Error | Source |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in ROWS:
        what = f"{r.model}, {r.tp}x {r.accelerator}, {r.precision}, batch {r.batch}, {r.prompt}/{r.output}"
        if r.profile != "default":
            what += f" (profile {r.profile})"
        note = f"; **miss**: {r.miss}" if r.miss else ""
        lines.append(
            f"| {what} | {r.metric} | {_shown(r.predict())} | {_shown(r.measured)} | {error(r):+.0%} | "
            f"{r.source}{note} |"
        )
    return "\n".join(lines)
