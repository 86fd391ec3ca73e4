"""The options several faces share, each one object (so ``--mfu`` means the same everywhere), and the output
options of the commands."""

from __future__ import annotations

from scaling import units
from scaling.cluster import parse_cluster
from scaling.cost import DEFAULT_MFU
from scaling.energy import DEFAULT_GRID_GCO2_KWH, DEFAULT_PUE, GRID_SOURCE
from scaling.options.parsers import integer, number, real
from scaling.options.records import Option

MODEL = Option(
    "model",
    (),
    "A preset (see 'scaling models') or a Hugging Face config.json.",
    placeholder="a preset, e.g. llama-2-7b (optional)",
)
GPUS = Option(
    "gpus",
    ("--gpus",),
    "Cluster: devices x accelerator (512xH100), or nodes x devices per node x accelerator (64x8xA100-40GB).",
    parse=parse_cluster,
    unit="devices",
    needs=("accelerator_files",),
    placeholder="devices x accelerator, e.g. 256xH100",
)
MFU = Option(
    "mfu",
    ("--mfu",),
    "Model FLOPs utilisation: 6ND model FLOPs per second over the devices' dense peak, "
    f"{DEFAULT_MFU:g} or {units.format_fraction(DEFAULT_MFU)}.",
    parse=units.parse_utilization,
    default=DEFAULT_MFU,
    unit="fraction of peak",
    placeholder=f"{DEFAULT_MFU:g} or {units.format_fraction(DEFAULT_MFU)}",
)
PRICE = Option(
    "price",
    ("--price",),
    "Price per device-hour in USD ($2.49/h; default: the catalog's, if any).",
    parse=units.parse_money,
    unit="USD per device-hour",
    placeholder="USD per device-hour, e.g. 2.5",
)
DAYS = Option(
    "days",
    ("--days",),
    "Time budget or deadline on --gpus (30d, 720h, or days as a number).",
    parse=units.parse_duration,
    unit="seconds",
    placeholder="time budget, e.g. 30",
)
TOKENS = Option(
    "tokens",
    ("--tokens",),
    "Training tokens (1.4T): for the given model (MODEL or --params; default: a preset's own), or the "
    "fine-tuning data.",
    parse=units.parse_count,
    unit="tokens",
    placeholder="tokens for a given model, e.g. 1.4T",
)
PARAMS = Option(
    "params",
    ("--params",),
    "A parameter count (70B) instead of MODEL; its shape from the Llama rule.",
    parse=units.parse_count,
    unit="parameters",
    placeholder="a given model size, e.g. 70B",
)
UNIQUE_TOKENS = Option(
    "unique_tokens",
    ("--unique-tokens",),
    "Unique tokens available (500B): data-constrained optimum and epoch warnings; the domain data of "
    "continued pretraining.",
    parse=units.parse_count,
    unit="tokens",
    placeholder="unique data, e.g. 500B",
)
VOCAB = Option(
    "vocab", ("--vocab",), "Vocabulary size (default 32000).", parse=units.parse_int, unit="tokens"
)
SEQ_LEN = Option(
    "seq_len",
    ("--seq-len",),
    "Training sequence length (default: the model's context; fine-tuning: at most 4096).",
    parse=integer,
    unit="tokens",
    placeholder="the model's context (default)",
)
FLASH = Option(
    "flash_attention",
    ("--flash",),
    "FlashAttention-style fused attention (no stored s^2 scores; PyTorch SDPA's default kernels), or "
    "--no-flash, Korthikanti et al. 2022's standard-attention baseline.",
    default=True,
    is_flag=True,
    off_flag="--no-flash",
)
PRECISION = Option(
    "precision",
    ("--precision",),
    "Weights, activations and math: fp32, tf32, bf16, fp16 or fp8.",
    default="bf16",
)
OPTIMIZER = Option(
    "optimizer",
    ("--optimizer",),
    "adamw, adamw-bf16 (DeepSeek-V3's BF16 moments), adam8bit, sgd (momentum), adafactor, lion.",
    default="adamw",
)
QUANT = Option(
    "quant",
    ("--quant",),
    "Weight quantization: int8, int4, nf4 (QLoRA with --lora-rank), fp8; math stays at --precision.",
    placeholder="none (default)",
)
POST_QUANT = Option(
    "post_quant",
    ("--quant",),
    "Post-training quantization of the weights (int4, int8, fp8): the loss after quantizing, by "
    "--precision-law.",
    choices=("int4", "int8", "fp8"),
)
PRECISION_LAW = Option(
    "precision_law",
    ("--precision-law",),
    "Kumar et al. 2024's precision law pricing --quant (and --train-bits): a preset (kumar2024, the paper's "
    "App. K fit; the default) or a JSON file of C_T, gamma_D, gamma_N, gamma_post.",
    placeholder="kumar2024 (default)",
)
TRAIN_BITS = Option(
    "train_bits",
    ("--train-bits",),
    "Train with weights, activations and KV cache at this many bits (4-32): the loss from Kumar et al. "
    "2024's effective parameter count (--precision-law), beside 16-bit training.",
    parse=number,
    unit="bits",
)
MOE = Option(
    "moe",
    ("--moe",),
    "Plan a mixture-of-experts model by --moe-law (total and active parameters, experts, top-k, "
    "granularity, EP layout) beside the dense model of equal loss.",
    is_flag=True,
    default=False,
)
MOE_LAW = Option(
    "moe_law",
    ("--moe-law",),
    "MoE scaling law: krajewski2024 (Krajewski et al. 2024, Table 1, E = 64), krajewski2024-e16 (Table 8, "
    "E = 16), or a JSON file in their form ('scaling fit --moe').",
    placeholder="krajewski2024 (default), krajewski2024-e16 or a file",
)
KV_DTYPE = Option("kv_dtype", ("--kv-dtype",), "KV-cache dtype, e.g. fp8 (default: --precision).")
LORA_RANK = Option(
    "lora_rank",
    ("--lora-rank",),
    "LoRA rank (16): train adapters on a frozen base.",
    parse=integer,
    placeholder="e.g. 16 (none: full weights)",
)
LORA_TARGETS = Option(
    "lora_targets",
    ("--lora-targets",),
    "LoRA targets: q,k,v,o,gate,up,down or all.",
    default="q,k,v,o",
)
GLOBAL_BATCH = Option(
    "global_batch",
    ("--global-batch",),
    "Sequences per step (memory --search default: DeepSeek's B_opt(C); fine-tuning default 16, a multiple "
    "of the devices).",
    parse=integer,
    unit="sequences",
)
BATCH = Option(
    "batch",
    ("--batch",),
    "Inference batch: sequences per replica, decoded together.",
    parse=integer,
    default=1,
    unit="sequences",
)
ACCELERATOR_FILES = Option(
    "accelerator_files",
    ("--accelerator-file",),
    "Extra accelerators (CSV, same columns as data/accelerators.csv).",
    default=(),
    multiple=True,
    file="in",
)

# ------------------------------------------------------------------------ energy, carbon, calibration
GOODPUT = Option(
    "goodput",
    ("--goodput",),
    "Fraction of wall-clock time that trains (0.9 or 90%; Llama 3 reports >90% over 54 days): the wall "
    "clock and the energy count the devices held for training time / goodput.",
    parse=units.parse_fraction,
    default=1.0,
    unit="fraction of wall-clock time",
    placeholder="0.9 or 90% (default 1: no downtime)",
)
PUE = Option(
    "pue",
    ("--pue",),
    "Data-centre power usage effectiveness: facility energy over IT energy.",
    parse=number,
    default=DEFAULT_PUE,
    unit="ratio",
)
GRID = Option(
    "grid_gco2_kwh",
    ("--grid-gco2-kwh",),
    f"Grid carbon intensity in gCO2eq per kWh (default: {GRID_SOURCE}).",
    parse=real,
    default=DEFAULT_GRID_GCO2_KWH,
    unit="gCO2eq/kWh",
)
FOOTPRINT = (GOODPUT, PUE, GRID)


def _calibration(value: object, what: str) -> object:
    from scaling.calibration.file import Calibration, load_calibration

    return value if isinstance(value, Calibration) else load_calibration(str(value))


CALIBRATION = Option(
    "calibration",
    ("--calibration",),
    "A calibration file from 'scaling calibrate' (one file): your cluster's measured efficiencies replace "
    "the assumed ones (it must be for the same accelerator).",
    parse=_calibration,
    file="in",
)

CALIBRATIONS = Option(
    "calibration",
    ("--calibration",),
    "A calibration file from 'scaling calibrate', at most one per kind (give the flag twice for both): a "
    "training one sets the training MFU, a serving one the serving section's efficiencies (--serve-on; "
    "--moe's serving); each must be for the accelerator it drives.",
    parse=_calibration,
    default=(),
    file="in",
    multiple=True,
    placeholder="upload below: a training and a serving file",
)


EFFICIENCY_PROFILE = Option(
    "efficiency_profile",
    ("--efficiency-profile",),
    "The serving efficiency table's profile: default (today's engines) or trtllm-0.6.1 (TensorRT-LLM "
    "v0.6.1's published tables, whose grouped-query decode read each KV head per query head); the rows it "
    "replaces print with their sources.",
    placeholder="default",
)

# ----------------------------------------------------------------------------------- output options
JSON = Option("as_json", ("--json",), "Print JSON in base units (bytes, FLOPs, seconds, USD).", is_flag=True)
MARKDOWN = Option("as_markdown", ("--markdown",), "Print the plan as Markdown.", is_flag=True)
HTML = Option(
    "html_path",
    ("--html",),
    "Write an HTML report with the optimal-zone chart marking the plan.",
    file="out",
)
FORCE = Option("force", ("--force",), "Replace an existing --html file.", is_flag=True)
