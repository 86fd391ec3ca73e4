"""The faces that read measurements: `MEASURE` (``scaling mfu``) and `CALIBRATE` (``scaling calibrate``)."""

from __future__ import annotations

from scaling import units
from scaling.flops import CAUSAL, RECOMPUTE
from scaling.options.parsers import integer
from scaling.options.records import Declaration, Option
from scaling.options.shared import ACCELERATOR_FILES, FORCE, GPUS, JSON, MODEL, SEQ_LEN

MEASURE = Declaration(
    "measure_utilization",
    (
        MODEL,
        GPUS,
        Option(
            "tokens_per_s",
            ("--tokens-per-s",),
            "Measured training throughput of the whole cluster, tokens per second (238.3k).",
            parse=units.parse_count,
            unit="tokens/s",
        ),
        Option(
            "step_time",
            ("--step-time",),
            "Measured time per optimizer step (12.3s), with --global-batch.",
            parse=units.parse_duration,
            unit="seconds",
        ),
        Option(
            "step_tokens",
            ("--global-batch",),
            "Tokens per optimizer step (4M = 2,048 sequences of 2,048), with --step-time.",
            parse=units.parse_count,
            unit="tokens",
        ),
        SEQ_LEN,
        Option(
            "causal",
            ("--causal",),
            "Attention scores counted in full (PaLM, nanoGPT, torchtitan) or halved (Megatron-LM since "
            "2025).",
            default="full",
            choices=CAUSAL,
        ),
        Option(
            "recompute",
            ("--recompute",),
            "Activation recomputation the run used: counted in HFU, never in MFU.",
            default="none",
            choices=RECOMPUTE,
        ),
        Option("dtype", ("--dtype",), "The peak MFU is measured against.", default="bf16"),
        ACCELERATOR_FILES,
    ),
    required=("model", "gpus"),
)
MEASURE_COMMAND = (*MEASURE, JSON)

CALIBRATE = Declaration(
    "calibrate",
    (
        Option(
            "logs",
            (),
            "Measurements: a CSV/JSON table of training runs, or a vLLM/trtllm-bench JSON.",
            file="in",
        ),
        Option("output", ("-o", "--output"), "Where to write the calibration (JSON).", file="out"),
        Option(
            "probe",
            ("--probe",),
            "Measure this machine instead (GEMM sweep, memory copy, all-reduce across devices) with PyTorch.",
            is_flag=True,
        ),
        Option(
            "accelerator",
            ("--accelerator",),
            "The accelerator the measurements ran on, when the table or benchmark does not say (H100).",
        ),
        Option(
            "model",
            ("--model",),
            "Serving benchmarks: the model served, a preset or config.json (default: the file's model).",
        ),
        Option(
            "tp",
            ("--tp",),
            "Serving benchmarks: tensor-parallel size (default: the file's, else 1).",
            parse=integer,
        ),
        Option(
            "precision",
            ("--precision",),
            "Serving benchmarks: math dtype, bf16 or fp8 (default: the file's, else bf16).",
        ),
        Option("quant", ("--quant",), "Serving benchmarks: weight quantization (int8, int4, fp8)."),
        ACCELERATOR_FILES,
        FORCE,
    ),
)
CALIBRATE_COMMAND = (*CALIBRATE, JSON)
