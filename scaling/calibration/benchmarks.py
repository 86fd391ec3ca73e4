"""Serving benchmarks as `ServingMeasurement`s: the JSON that ``scaling calibrate`` reads for serving.

Two formats, told apart by their keys:

* ``vllm bench serve --save-result`` (and its predecessor ``benchmarks/benchmark_serving.py``): one object
  per run with ``completed``, ``total_input_tokens``, ``total_output_tokens``, ``output_throughput`` (output
  tokens/s), ``request_throughput``, ``max_concurrency`` (null when unbounded), ``request_rate`` and
  ``mean_ttft_ms`` / ``mean_tpot_ms`` (``vllm/benchmarks/serve.py``). ``--append-result`` writes one object
  per line; ``--metadata KEY=VALUE`` adds top-level keys, of which ``tp`` (or ``tensor_parallel_size``),
  ``precision``, ``quant``, ``kv_dtype`` and ``accelerator`` are read here. vLLM's file names the model
  (``model_id``) but not the GPU, its count or the dtype: those come from flags or metadata.
* ``trtllm-bench throughput --report_json`` (``tensorrt_llm/bench/dataclasses/reporting.py``):
  ``engine{model, dtype, kv_cache_dtype, quantization}``, ``machine{name}``, ``world_info{tp_size, pp_size}``,
  ``request_info{num_requests, avg_num_concurrent_requests, avg_input_length, avg_output_length}``,
  ``performance{system_output_throughput_tok_s, ...}`` and, when streamed, ``streaming_metrics{avg_ttft_ms,
  avg_tpot_ms}``. Its key names change between versions, so each is read where present.

LOGS may be one result, a JSON list or JSON lines of results, or a folder of ``*.json`` results (vLLM's
``--result-dir``). Flags name what a file does not (``--model``, ``--accelerator``, ``--tp``,
``--precision``); a flag overrides the file. ``vllm bench throughput``'s JSON is refused: it counts prompt and
output tokens together and has no latencies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaling import inputs
from scaling.catalog import accelerator_for_device, get_accelerator
from scaling.errors import ScalingError, quoted
from scaling.model import ModelSpec, load_model

VLLM = "vllm bench serve"
TRTLLM = "trtllm-bench"
FORMATS_HELP = (
    "expected 'vllm bench serve --save-result' JSON (output_throughput, mean_tpot_ms, ...) or "
    "'trtllm-bench throughput --report_json' JSON (engine, world_info, performance, ...)"
)
TRAINING_KEYS = {"runs", "gpus", "devices", "step_time", "tokens_per_s", "global_batch", "params", "layers"}
MODEL_SUFFIXES = ("-instruct", "-chat", "-hf", "-fp8", "-base")


@dataclass(frozen=True)
class BenchmarkSetup:
    """What a benchmark ran: the model, the accelerator, the tensor-parallel size and the dtypes."""

    spec: ModelSpec
    accelerator: str
    tp: int
    precision: str = "bf16"
    quant: str | None = None
    kv_dtype: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.spec.name,
            "accelerator": self.accelerator,
            "tp": self.tp,
            "precision": self.precision,
            "quant": self.quant,
            "kv_dtype": self.kv_dtype,
        }


@dataclass(frozen=True)
class ServingMeasurement:
    """One benchmark run: its deployment, the mean request, the sequences in flight and what was measured
    (seconds and tokens per second; None where the file does not say or the number measures a queue)."""

    row: int  # 1-based, over every result read
    file: str
    format: str
    setup: BenchmarkSetup
    prompt_tokens: float  # mean per request
    output_tokens: float  # mean per request
    concurrency: float  # mean sequences in flight
    output_tokens_per_s: float
    tpot_s: float | None = None
    ttft_s: float | None = None  # only when requests arrive by a closed loop or a finite rate


def detect_format(result: Any) -> str | None:
    """The benchmark a result comes from (`VLLM`, `TRTLLM`), or None for anything else."""
    if not isinstance(result, dict):
        return None
    if "output_throughput" in result and "total_output_tokens" in result:
        return VLLM
    if isinstance(result.get("performance"), dict) and (
        isinstance(result.get("world_info"), dict) or isinstance(result.get("engine"), dict)
    ):
        return TRTLLM
    return None


def _results(path: Path) -> list[tuple[str, Any]]:
    """(file, parsed JSON) for each result in ``path``: one JSON value, JSON lines, or a folder of them."""
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise ScalingError(f"folder {quoted(str(path))} holds no *.json benchmark results")
        return [item for f in files for item in _results(f)]
    text = inputs.read_text(path, "measurements file")
    try:
        data = inputs.parse_json(text, f"measurements file {quoted(str(path))}")
    except ScalingError:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            raise
        data = [
            inputs.parse_json(line, f"line {i} of {quoted(str(path))}") for i, line in enumerate(lines, 1)
        ]
    return [(str(path), item) for item in (data if isinstance(data, list) else [data])]


def is_serving_benchmark(path: str | Path) -> bool:
    """Whether ``path`` holds serving benchmark results (else it is a training table, or an error)."""
    p = Path(path)
    if p.is_dir():
        return True
    if p.suffix.lower() not in (".json", ".jsonl") and not inputs.read_text(p).lstrip().startswith("{"):
        return False
    results = _results(p)
    if any(detect_format(r) for _, r in results):
        return True
    first = results[0][1] if results else None
    if isinstance(first, dict) and {"tokens_per_second", "elapsed_time", "total_num_tokens"} <= set(first):
        raise ScalingError(
            f"{quoted(str(path))} is 'vllm bench throughput' JSON: it adds prompt and output tokens and has "
            "no latencies; run 'vllm bench serve --save-result' instead"
        )
    if isinstance(first, dict) and not TRAINING_KEYS & set(first):
        raise ScalingError(
            f"{quoted(str(path))} is neither a table of training runs (columns model, gpus, step_time, ...) "
            f"nor a benchmark result this program reads: {FORMATS_HELP}"
        )
    return False


def read_benchmarks(
    path: str | Path,
    *,
    model: str | None = None,
    accelerator: str | None = None,
    tp: int | None = None,
    precision: str | None = None,
    quant: str | None = None,
) -> list[ServingMeasurement]:
    """Every benchmark result in ``path`` as a `ServingMeasurement`; flags override the files."""
    flags = {"model": model, "accelerator": accelerator, "tp": tp, "precision": precision, "quant": quant}
    out = []
    for file, result in _results(Path(path)):
        kind = detect_format(result)
        if kind is None:
            raise ScalingError(
                f"a result in {quoted(file)} is not a benchmark this program reads: {FORMATS_HELP}"
            )
        reader = _vllm if kind == VLLM else _trtllm
        out.append(reader(len(out) + 1, file, result, flags))
    return out


# ---------------------------------------------------------------------------------------------- fields
def _number(result: dict, *keys: str, where: str, required: bool = True) -> float | None:
    """The first of ``keys`` that holds a finite positive number ("a.b" reads a nested key)."""
    for key in keys:
        value: Any = result
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value > 0
        ):
            return float(value)
    if required:
        raise ScalingError(f"{where} has no {keys[0]} (a positive number): {FORMATS_HELP}")
    return None


def _spec(name: Any, where: str) -> ModelSpec:
    """The model a file names: a preset, or its Hugging Face id's last part less -Instruct and the like."""
    if not isinstance(name, str) or not name.strip():
        raise ScalingError(f"{where} names no model: give --model (a preset, e.g. llama-3.1-8b)")
    base = name.strip().rstrip("/").split("/")[-1].lower()
    tries = [name.strip(), base]
    stripped = True
    while stripped:  # "llama-3.1-8b-instruct-fp8" -> "llama-3.1-8b-instruct" -> "llama-3.1-8b"
        stripped = False
        for suffix in MODEL_SUFFIXES:
            if base.endswith(suffix):
                base, stripped = base[: -len(suffix)], True
                tries.append(base)
    for candidate in tries:
        try:
            return load_model(candidate)
        except ScalingError:
            continue
    raise ScalingError(
        f"{where} names model {quoted(name)}, which is not a preset: give --model (same shape)"
    )


def _accelerator(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ScalingError(f"{where} names no accelerator: give --accelerator (e.g. H100)")
    try:
        return get_accelerator(name).name
    except ScalingError:
        found = accelerator_for_device(name)
        if found is None:
            raise ScalingError(
                f"{where} ran on {quoted(name)}, which is not in the catalog: give --accelerator"
            ) from None
        return found.name


def _trtllm_dtypes(engine: dict) -> tuple[str, str | None, str | None]:
    """(precision, weight quantization, KV dtype) from trtllm-bench's engine block."""
    quant = str(engine.get("quantization") or "").upper()
    kv = str(engine.get("kv_cache_dtype") or "").lower()
    kv_dtype = "fp8" if "FP8" in kv.upper() else None
    dtype = str(engine.get("dtype") or "bf16").lower()
    precision = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}.get(dtype, dtype)
    if "FP4" in quant:
        raise ScalingError(
            "trtllm-bench ran an FP4 engine: the serving model has no FP4 peak; give --precision"
        )
    if "FP8" in quant:
        return "fp8", None, kv_dtype or "fp8"
    if "W4" in quant or "INT4" in quant:
        return precision, "int4", kv_dtype
    if "W8" in quant or "INT8" in quant:
        return precision, "int8", kv_dtype
    return precision, None, kv_dtype


def _setup(found: dict, flags: dict, where: str) -> BenchmarkSetup:
    """The deployment: each flag given, else what the file says."""
    pick = {k: flags[k] if flags.get(k) is not None else found.get(k) for k in found | flags}
    tp = pick.get("tp") or 1
    try:
        tp = int(tp)
    except (TypeError, ValueError):
        raise ScalingError(f"{where} has tensor-parallel size {tp!r}: expected a whole number") from None
    return BenchmarkSetup(
        spec=_spec(pick.get("model"), where),
        accelerator=_accelerator(pick.get("accelerator"), where),
        tp=tp,
        precision=str(pick.get("precision") or "bf16"),
        quant=pick.get("quant"),
        kv_dtype=pick.get("kv_dtype"),
    )


def _vllm(row: int, file: str, r: dict, flags: dict) -> ServingMeasurement:
    where = f"{quoted(file)} (result {row}, {VLLM})"
    completed = _number(r, "completed", where=where)
    prompt = _number(r, "total_input_tokens", where=where) / completed
    output = _number(r, "total_output_tokens", where=where) / completed
    rate = _number(r, "output_throughput", where=where)
    tpot = _number(r, "mean_tpot_ms", where=where, required=False)
    ttft = _number(r, "mean_ttft_ms", where=where, required=False)
    bound = _number(r, "max_concurrency", where=where, required=False)
    request_rate = r.get("request_rate")
    finite_rate = isinstance(request_rate, (int, float)) and math.isfinite(request_rate) and request_rate > 0
    if bound is None:  # Little's law: requests/s x mean seconds in the system
        e2el = _number(r, "mean_e2el_ms", where=where, required=False)
        if e2el is None and ttft is not None and tpot is not None:
            e2el = ttft + (output - 1.0) * tpot
        requests = _number(r, "request_throughput", where=where, required=False) or rate / output
        bound = max(1.0, requests * e2el / 1e3) if e2el is not None else completed
    found = {
        "model": r.get("model_id") or r.get("model"),
        "accelerator": r.get("accelerator"),
        "tp": r.get("tp") or r.get("tensor_parallel_size"),
        "precision": r.get("precision") or r.get("dtype"),
        "quant": r.get("quant") or r.get("quantization"),
        "kv_dtype": r.get("kv_dtype") or r.get("kv_cache_dtype"),
    }
    closed = r.get("max_concurrency") is not None or finite_rate
    return ServingMeasurement(
        row=row,
        file=file,
        format=VLLM,
        setup=_setup(found, flags, where),
        prompt_tokens=prompt,
        output_tokens=output,
        concurrency=bound,
        output_tokens_per_s=rate,
        tpot_s=None if tpot is None else tpot / 1e3,
        ttft_s=None if ttft is None or not closed else ttft / 1e3,
    )


def _trtllm_concurrency(r: dict, where: str) -> float:
    """Requests in flight: the report's average, else the most the run allows (its requests, its batch)."""
    mean = _number(r, "request_info.avg_num_concurrent_requests", where=where, required=False)
    if mean is not None:
        return mean
    bounds = [
        _number(r, key, where=where, required=False)
        for key in ("request_info.num_requests", "world_info.max_batch_size")
    ]
    if not any(bounds):
        raise ScalingError(f"{where} has no request_info.avg_num_concurrent_requests nor num_requests")
    return min(b for b in bounds if b is not None)


def _trtllm(row: int, file: str, r: dict, flags: dict) -> ServingMeasurement:
    where = f"{quoted(file)} (result {row}, {TRTLLM})"
    engine = r.get("engine") if isinstance(r.get("engine"), dict) else {}
    machine = r.get("machine") if isinstance(r.get("machine"), dict) else {}
    world = r.get("world_info") if isinstance(r.get("world_info"), dict) else {}
    if (world.get("pp_size") or 1) > 1:
        raise ScalingError(f"{where} ran pipeline parallel {world['pp_size']}: the serving model has TP only")
    precision, quant, kv_dtype = _trtllm_dtypes(engine)
    found = {
        "model": engine.get("model"),
        "accelerator": machine.get("name"),
        "tp": world.get("tp_size"),
        "precision": precision,
        "quant": quant,
        "kv_dtype": kv_dtype,
    }
    tpot = _number(r, "streaming_metrics.avg_tpot_ms", where=where, required=False)
    return ServingMeasurement(
        row=row,
        file=file,
        format=TRTLLM,
        setup=_setup(found, flags, where),
        prompt_tokens=_number(r, "request_info.avg_input_length", where=where),
        output_tokens=_number(r, "request_info.avg_output_length", where=where),
        concurrency=_trtllm_concurrency(r, where),
        output_tokens_per_s=_number(r, "performance.system_output_throughput_tok_s", where=where),
        tpot_s=None if tpot is None else tpot / 1e3,
        ttft_s=None,  # offline: every request arrives at once, so its TTFT measures the queue
    )
