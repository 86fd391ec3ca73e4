"""One declaration per face: `PLAN` (``scaling plan``, `scaling.plan.make_plan`), `MEMORY`
(``scaling memory``), `SERVING` (``scaling inference``), `FINETUNE` (``scaling finetune``) and `FLOPS`
(``scaling flops``); each ``*_COMMAND`` is its command's options in the order the help lists them,
output options included."""

from __future__ import annotations

from scaling import units
from scaling.flops import CAUSAL, CONVENTIONS, RECOMPUTE
from scaling.options.parsers import (
    count_or_zero,
    integer,
    number,
    real,
    seconds_or_zero,
    serving_cluster,
    size_or_zero,
    whole,
)
from scaling.options.recipe import DECAY_FRACTION, DOWNSTREAM, HP_LAW, SCHEDULE
from scaling.options.records import Declaration, Option
from scaling.options.shared import (
    ACCELERATOR_FILES,
    BATCH,
    CALIBRATION,
    CALIBRATIONS,
    DAYS,
    EFFICIENCY_PROFILE,
    FLASH,
    FOOTPRINT,
    FORCE,
    GLOBAL_BATCH,
    GPUS,
    HTML,
    JSON,
    KV_DTYPE,
    LORA_RANK,
    LORA_TARGETS,
    MARKDOWN,
    MFU,
    MODEL,
    MOE,
    MOE_LAW,
    OPTIMIZER,
    PARAMS,
    POST_QUANT,
    PRECISION,
    PRECISION_LAW,
    PRICE,
    QUANT,
    SEQ_LEN,
    TOKENS,
    UNIQUE_TOKENS,
    VOCAB,
)

PLAN_DTYPES = ("bf16", "fp16", "fp8", "tf32", "fp32")  # the training precisions a plan may assume
SHAPE_STYLES = ("llama", "gpt")
MEMORY_MODES = ("train", "infer", "finetune")

# ================================================================================================ plan
LAW = Option(
    "law",
    ("--law",),
    "Law preset (see 'scaling laws') or a law.json from 'scaling fit'.",
    default="chinchilla",
)
FROM_MODEL = Option(
    "from_model",
    ("--from",),
    "Continued pretraining of this model (preset or config.json) on --unique-tokens of domain data, as "
    "'scaling finetune MODEL --continued'.",
)
BRIEF = Option(
    "brief",
    ("--brief",),
    "Print the lines a person reads first (model, tokens, loss, time, cost, MFU, layout, memory); the "
    "default prints the whole plan.",
    is_flag=True,
)
PLAN = Declaration(
    "make_plan",
    (
        MODEL,
        Option(
            "flops",
            ("--flops",),
            "Compute budget: FLOPs (5.76e23) or PF-days (6667PF-days).",
            parse=units.parse_flops,
            unit="FLOPs",
            placeholder="5.76e23 or 6667 PF-days",
        ),
        GPUS,
        DAYS,
        MFU,
        Option(
            "usd",
            ("--usd",),
            "Dollar budget ($2M); needs --price.",
            parse=units.parse_money,
            unit="USD",
            placeholder="dollar budget, e.g. 2M",
        ),
        PRICE,
        Option(
            "gpu_hours",
            ("--gpu-hours",),
            "Device-hour budget (1.3M).",
            parse=units.parse_count,
            unit="device-hours",
            placeholder="device-hour budget, e.g. 1.3M",
        ),
        LAW,
        UNIQUE_TOKENS,
        Option(
            "inference_tokens",
            ("--inference-tokens",),
            "Lifetime inference tokens (2T): inference-aware optimum (Sardana et al.).",
            parse=count_or_zero,
            unit="tokens",
            placeholder="lifetime inference, e.g. 2T",
        ),
        Option(
            "serve_on",
            ("--serve-on",),
            "Serving deployment (8xH100): price training + serving the --inference-tokens per size.",
            parse=serving_cluster,
            placeholder="serving devices, e.g. 8xH100",
        ),
        Option(
            "max_params",
            ("--max-params",),
            "Largest model you can use (e.g. to serve on one device); never exceeded.",
            parse=units.parse_count,
            unit="parameters",
            placeholder="largest model you can use, e.g. 8B",
        ),
        Option(
            "seq_len",
            ("--seq-len", "--context"),
            "Training context length (default 4096).",
            parse=whole,
            unit="tokens",
            placeholder="training context (default 4096)",
        ),
        VOCAB,
        PARAMS,
        TOKENS,
        Option(
            "target_loss",
            ("--target-loss",),
            "Reverse question: the compute to reach this loss under --law.",
            parse=number,
            unit="nats",
            placeholder="the compute for this loss",
        ),
        Option(
            "dtype",
            ("--dtype",),
            "Training precision: the peak the time is counted at, and the memory's.",
            default="bf16",
            choices=PLAN_DTYPES,
        ),
        Option(
            "global_batch_tokens",
            ("--global-batch-tokens",),
            "Global batch in tokens (default: the --hp-law's B_opt, DeepSeek's B_opt(C)).",
            parse=units.parse_count,
            unit="tokens",
        ),
        HP_LAW,
        SCHEDULE,
        DECAY_FRACTION,
        DOWNSTREAM,
        Option(
            "shape_style",
            ("--style",),
            "Shape rules for the architecture.",
            default="llama",
            choices=SHAPE_STYLES,
        ),
        FLASH,
        *FOOTPRINT,
        CALIBRATIONS,
        POST_QUANT,
        PRECISION_LAW,
        MOE,
        MOE_LAW,
        ACCELERATOR_FILES,
    ),
)
_SERVE_ON = PLAN.names.index("serve_on") + 1
# ``scaling plan``: the request (``--from`` beside the other questions of given models) and its output
PLAN_COMMAND = (
    *PLAN.options[:_SERVE_ON],
    FROM_MODEL,
    *(o for o in PLAN.options[_SERVE_ON:] if o is not ACCELERATOR_FILES),
    MARKDOWN,
    BRIEF,
    HTML,
    FORCE,
    ACCELERATOR_FILES,
    JSON,
)

# ============================================================================================== memory
MEMORY = Declaration(
    "memory_request",
    (
        MODEL,
        PARAMS,
        Option("mode", ("--mode",), "What the memory is for.", default="train", choices=MEMORY_MODES),
        PRECISION,
        OPTIMIZER,
        Option(
            "convention",
            ("--convention",),
            "Published accounting: zero, megatron, course, accelerate, deepspeed.",
        ),
        GPUS,
        Option("tp", ("--tp",), "Tensor parallel size.", parse=integer, default=1),
        Option("pp", ("--pp",), "Pipeline parallel size.", parse=integer, default=1),
        Option("ep", ("--ep",), "Expert parallel size (MoE).", parse=integer, default=1),
        Option(
            "etp",
            ("--etp",),
            "Expert tensor parallel size (MoE; default: --tp): each routed expert split over ETP devices.",
            parse=integer,
        ),
        Option(
            "pp_layers",
            ("--pp-layers",),
            "Layers per pipeline stage, e.g. 15,16,16,14; 'even' (the extra layers first); 'memory' (the "
            "least heaviest-stage memory); default 'balanced': at most ceil(layers/PP) a stage, then the "
            "least heaviest-stage memory.",
        ),
        Option("sp", ("--sp",), "Sequence parallelism (with TP).", is_flag=True, default=False),
        Option(
            "zero",
            ("--zero",),
            "ZeRO stage 0-3 or FSDP name (FULL_SHARD, SHARD_GRAD_OP, ...).",
            default="0",
        ),
        Option("offload", ("--offload",), "optimizer, params or both (DeepSpeed offload to CPU)."),
        Option("recompute", ("--recompute",), "none, selective or full.", default="none"),
        FLASH,
        Option(
            "micro_batch",
            ("--micro-batch",),
            "Sequences per micro-batch (0: model states only).",
            parse=integer,
            default=1,
            unit="sequences",
        ),
        SEQ_LEN,
        GLOBAL_BATCH,
        Option(
            "interleave", ("--interleave",), "Virtual pipeline stages per device.", parse=integer, default=1
        ),
        LORA_RANK,
        LORA_TARGETS,
        QUANT,
        BATCH,
        Option(
            "context",
            ("--context",),
            "Inference context in tokens (default: the model's).",
            parse=integer,
            unit="tokens",
            placeholder="the model's (default)",
        ),
        KV_DTYPE,
        Option(
            "overhead_bytes",
            ("--overhead",),
            "Framework overhead, e.g. 2GiB or 0 (default: 1 GiB + 5%).",
            parse=size_or_zero,
            unit="bytes",
        ),
        Option(
            "search",
            ("--search",),
            "Rank the layouts (TP, PP, EP, ETP, ZeRO, micro-batch, recompute, SP) that fit.",
            is_flag=True,
            default=False,
        ),
        MFU,
        Option("top", ("--top",), "Layouts to print with --search.", parse=integer, default=10),
        CALIBRATION,
    ),
)
MEMORY_COMMAND = (*MEMORY, JSON)

# ============================================================================================= serving
SERVING = Declaration(
    "inference",
    (
        MODEL,
        GPUS,
        Option(
            "tp",
            ("--tp",),
            "Tensor-parallel size (default: the smallest that holds the batch).",
            parse=integer,
        ),
        Option(
            "ep",
            ("--ep",),
            "Expert-parallel size of a MoE replica (default: searched); above --tp, attention runs in "
            "EP / TP data-parallel groups and the experts spread over all EP devices (all-to-all per layer).",
            parse=integer,
        ),
        BATCH,
        Option("prompt_tokens", ("--prompt",), "Prompt tokens per request.", parse=integer, default=2048),
        Option("output_tokens", ("--output",), "Generated tokens per request.", parse=integer, default=256),
        PRECISION,
        QUANT,
        KV_DTYPE,
        PRICE,
        Option(
            "concurrency",
            ("--concurrency",),
            "Requests in flight (Poisson arrivals at the rate keeping them): continuous batching, p50/p99.",
            parse=number,
            unit="requests",
        ),
        Option(
            "request_rate",
            ("--request-rate",),
            "Poisson arrivals, requests/s for the deployment: continuous batching, p50/p99.",
            parse=number,
            unit="requests/s",
        ),
        Option(
            "latency",
            ("--latency",),
            "Target time per output token, e.g. 50ms: search precision, batch and TP.",
            parse=units.parse_duration,
            unit="seconds",
        ),
        Option(
            "ttft",
            ("--ttft",),
            "Target time to first token, e.g. 2s: search precision, batch and TP (with --latency: both).",
            parse=units.parse_duration,
            unit="seconds",
        ),
        Option(
            "min_tokens_per_s",
            ("--min-tokens-per-s",),
            "Target output tokens/s of the deployment: search.",
            parse=real,
            unit="tokens/s",
        ),
        # Serving's MFU is the prefill kernels' share of peak, a cited default of its own,
        # not the training MFU.
        Option(
            "mfu",
            ("--mfu",),
            "Achievable fraction of the dense peak, prefill and decode (default: the regime's cited one).",
            parse=units.parse_utilization,
        ),
        Option(
            "mbu",
            ("--mbu",),
            "Achievable fraction of memory bandwidth, weights and KV (default: the regime's cited one).",
            parse=units.parse_utilization,
        ),
        Option(
            "overhead_s",
            ("--overhead",),
            "Fixed seconds per forward pass, e.g. 4ms or 0 (default: the cited one, printed with the rest).",
            parse=seconds_or_zero,
            unit="seconds",
        ),
        Option(
            "link_bandwidth",
            ("--link-bandwidth",),
            "Intra-node link per device, bytes/s (e.g. 450GB).",
            parse=units.parse_bytes,
            unit="bytes/s",
        ),
        EFFICIENCY_PROFILE,
        CALIBRATION,
    ),
    required=("model", "gpus"),
)
SERVING_COMMAND = (*SERVING, JSON)

# ========================================================================================= fine-tuning
FINETUNE = Declaration(
    "finetune_request",
    (
        MODEL,
        TOKENS,
        Option("full", ("--full",), "Full fine-tuning (the default without --lora-rank).", is_flag=True),
        LORA_RANK,
        LORA_TARGETS,
        QUANT,
        GPUS,
        MFU,
        PRICE,
        Option(
            "epochs",
            ("--epochs",),
            "Passes over the data (fine-tuning default 1; --continued: over the domain data).",
            parse=real,
        ),
        SEQ_LEN,
        GLOBAL_BATCH,
        PRECISION,
        OPTIMIZER,
        Option(
            "convention",
            ("--convention",),
            "FLOP count: 6nd (2N forward) or exact (per component, with attention).",
            default="6nd",
            choices=("6nd", "exact"),
        ),
        Option(
            "dequant_factor",
            ("--dequant-factor",),
            "Step-time factor of a quantized base (default 1.66, Google Cloud's QLoRA figure; torchtune "
            "measures 1.02-1.28).",
            parse=real,
        ),
        Option(
            "recompute",
            ("--recompute",),
            "Activation checkpointing: none, selective or full (default: fastest that fits).",
        ),
        Option(
            "continued",
            ("--continued",),
            "Continued pretraining on domain data (needs --unique-tokens).",
            is_flag=True,
        ),
        DAYS,
        UNIQUE_TOKENS,
        Option(
            "replay",
            ("--replay",),
            "Share of general data mixed in with --continued (default 0.05).",
            parse=units.parse_fraction,
        ),
        *FOOTPRINT,
        CALIBRATION,
    ),
    required=("model", "gpus"),
)
FINETUNE_COMMAND = (*FINETUNE, JSON)


# =============================================================================================== FLOPs
def _dimension(name: str, flag: str, what: str) -> Option:
    return Option(name, (flag,), f"Raw dimensions: {what}.", parse=units.parse_int)


FLOPS = Declaration(
    "estimate_flops",
    (
        MODEL,
        TOKENS,
        PARAMS,
        _dimension("layers", "--layers", "number of layers"),
        _dimension("d_model", "--d-model", "model width"),
        _dimension("heads", "--heads", "attention heads"),
        _dimension("kv_heads", "--kv-heads", "key/value heads (GQA/MQA)"),
        _dimension("d_ff", "--d-ff", "feed-forward width (default 4 x d-model)"),
        VOCAB,
        Option(
            "gated",
            ("--gated",),
            "Raw dimensions: Llama-style block (SwiGLU FFN with 3 matrices, RMSNorm, RoPE, untied).",
            is_flag=True,
        ),
        Option(
            "seq_len",
            ("--seq-len",),
            "Sequence length for the attention terms (default: the model's context).",
            parse=units.parse_int,
            unit="tokens",
        ),
        Option(
            "convention",
            ("--convention",),
            "How FLOPs are counted; 'all' shows every convention side by side.",
            default="6nd",
            choices=(*CONVENTIONS, "all"),
        ),
        Option(
            "causal",
            ("--causal",),
            "Count causal attention in full (PaLM/Megatron MFU convention) or halved.",
            default="full",
            choices=CAUSAL,
        ),
        Option(
            "recompute",
            ("--recompute",),
            "Activation recomputation, counted in hardware FLOPs (HFU), not model FLOPs (MFU).",
            default="none",
            choices=RECOMPUTE,
        ),
        GPUS,
        MFU,
        PRICE,
        Option("dtype", ("--dtype",), "Peak used: fp32, tf32, bf16, fp16, fp8, int8.", default="bf16"),
        *FOOTPRINT,
        CALIBRATION,
        ACCELERATOR_FILES,
    ),
)
FLOPS_COMMAND = (*FLOPS, JSON)
