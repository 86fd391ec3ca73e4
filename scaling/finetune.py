"""Fine-tuning and continued-pretraining plans: FLOPs, memory, layout, time and cost of full, LoRA and QLoRA runs.

FLOPs per token are a sum of named terms (`finetune_flops_per_token`), each a share of the forward count F
of `scaling.flops.training_flops` under one convention (``6nd``: F = 2N; ``exact``: Hoffmann et al. 2022,
App. F), so full fine-tuning is exactly `training_flops` and nothing else counts the model twice:

* ``forward``: F (Kaplan et al. 2020 §2.1: 2 FLOPs per parameter per token);
* ``backward_activations``: the input gradient of every matmul, F, plus a second input gradient for the
  weight-free attention matmuls (QK^T and softmax·V have two activation inputs and no weight); needed
  through frozen weights too, since trained parameters sit below them (LoRA adapters in every layer);
* ``backward_weights``: the weight gradient of every weight matmul, F minus the attention scores, for full
  fine-tuning only; LoRA skips it for the frozen base (Hu et al. 2021 §4.2: "we do not need to calculate
  the gradient for the vast majority of the parameters");
* ``adapters``: LoRA's x·A·B: 2 FLOPs per adapter parameter forward, 2 for its input gradient and 2 for its
  weight gradient, 6 per adapter parameter per token (the 6ND rule applied to the adapters);
* ``recompute`` (hardware FLOPs only, never in MFU): one more forward of the checkpointed layers, from
  `training_flops`' recompute term, plus the adapters' forward.

Activation gradients are needed down to the lowest trained parameter; the first layer's frozen input
projections therefore skip one input gradient, which the count leaves in (2% for six layers, less deeper).

Time: model FLOPs (the stated convention) / (devices x peak x ``mfu``), MFU being end-to-end model FLOPs
utilization (Chowdhery et al. 2022, App. B), as everywhere. The one step-time model
(`scaling.layout.explain_step`) explains a step: full fine-tuning through the layout search (compute,
pipeline bubble, TP/DP/PP communication; ZeRO/FSDP for several GPUs); LoRA and QLoRA keep the base frozen and
replicated (DDP) or sharded (FSDP, ZeRO-3), their communication the all-gathers of a sharded base and the
adapters' gradient all-reduce. A quantized base is dequantized before every matmul, so its kernels do
``QUANT_TIME_FACTOR`` times the work: QLoRA's default MFU is `DEFAULT_MFU` / ``QUANT_TIME_FACTOR``. Memory of every candidate comes from `scaling.memory.estimate_memory` (mode ``finetune``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from scaling import checks
from scaling.catalog import Accelerator, get_accelerator
from scaling.cluster import Cluster
from scaling.cost import DEFAULT_MFU, compute_cost, flops_from_time
from scaling.errors import ScalingError
from scaling.flops import RECOMPUTE, training_flops
from scaling.laws import effective_data, epochs_warning, get_law
from scaling.layout import (
    LayoutChoices,
    bandwidths,
    batch_for_layout,
    default_global_batch,
    explain_step,
    search_layouts,
)
from scaling.memory import (
    DEVICES_PER_NODE,
    MemoryBreakdown,
    Parallelism,
    Precision,
    Workload,
    estimate_memory,
    largest_fitting,
)
from scaling.model import ModelSpec, load_model
from scaling.render import Displayable, Table
from scaling.units import (
    BACKWARD_MULTIPLIER,
    FLOPS_PER_PARAM_TOKEN,
    GIB,
    format_count,
    format_duration,
    format_flops,
    format_fraction,
    format_usd,
)

CONVENTIONS = ("6nd", "exact")
# Step-time factor of a quantized base (dequantized before each matmul). Google Cloud, Vertex AI Model Garden,
# "LoRA and QLoRA recommendations for LLMs": "LoRA is about 66% faster than QLoRA in terms of tuning speed".
# It depends on the kernels: the torchtune README measures 1.28x (Llama 3.1 8B, RTX 4090: LoRA 3083 vs QLoRA
# 2413 tokens/s) and 1.02x (Llama 3.2 3B, A100: 8210 vs 8035) with torchao's NF4; give yours when you know it.
QUANT_TIME_FACTOR = 1.66
# sequence length when none is given: the model's context, at most this (fine-tuning examples rarely fill the
# 32K-128K contexts of recent models, and their attention would dominate the estimate)
DEFAULT_MAX_SEQ_LEN = 4096
DEFAULT_GLOBAL_BATCH = 16  # sequences per step when none is given (a small fine-tuning batch; --global-batch)
DEFAULT_REPLAY_FRACTION = 0.05  # Ibrahim et al. 2024: 5% replay of the original data for a weak shift
MAX_SEARCH = 1 << 22  # upper end of the largest micro-batch / sequence-length searches
# Weight-free matmuls of attention (Hoffmann et al. 2022, App. F terms): both inputs are activations.
_SCORE_TERMS = ("attention_logits", "attention_softmax", "attention_values")

# What published domain-adaptation work found about mixing general data into continued pretraining.
DOMAIN_ADAPTATION_FINDINGS = (
    "Gururangan et al. 2020 ('Don't Stop Pretraining', ACL): a second phase of pretraining on in-domain text "
    "(DAPT) improved RoBERTa in all four domains tried (biomedical, computer science, news, reviews); further "
    "pretraining on the task's own unlabeled text (TAPT) added to it; pretraining on an unrelated domain "
    "instead did worse than on the relevant one.",
    "Ibrahim et al. 2024 ('Simple and Scalable Strategies to Continually Pre-train Large Language Models', "
    "TMLR): re-warming and re-decaying the learning rate plus replaying a share of the original pretraining "
    "data matched re-training from scratch on all the data; 5% replay sufficed for a weak shift "
    "(English to English) and a strong shift (English to German) needed more (25%).",
    "Gupta et al. 2023 ('Continual Pre-Training of Large Language Models: How to (re)warm your model?'): "
    "re-warming the learning rate first raises the loss, then in the longer run improves it on the new data, "
    "ending better than a model trained from scratch on that data.",
)


# ------------------------------------------------------------------------------------------- FLOPs
def finetune_flops_per_token(
    spec: ModelSpec,
    *,
    adapter_params: float = 0.0,
    full: bool = False,
    convention: str = "6nd",
    seq_len: int | None = None,
    recompute: str = "none",
    include_embeddings: bool = True,
) -> dict[str, float]:
    """Fine-tuning FLOPs per token by named term (see the module docstring).

    ``full=True`` trains every weight (the terms then sum to `training_flops`' ``flops_per_token``);
    otherwise the base is frozen and ``adapter_params`` LoRA parameters are trained. ``recompute`` is the
    extra of activation checkpointing (hardware FLOPs); the other terms are model FLOPs.
    """
    convention = checks.choice(convention, CONVENTIONS, "FLOP convention")
    recompute = checks.choice(recompute, RECOMPUTE, "recompute")
    adapters = float(checks.positive(adapter_params, "adapter parameter count", allow_zero=True))
    counted = training_flops(
        spec,
        1.0,
        convention=convention,
        seq_len=seq_len,
        recompute=recompute,
        include_embeddings=include_embeddings,
    )
    passes = 1.0 + BACKWARD_MULTIPLIER  # training_flops' terms are forward x (1 + backward multiplier)
    forward = counted.flops_per_token / passes
    scores = sum(v for k, v in counted.breakdown.items() if k.removeprefix("cross_") in _SCORE_TERMS) / passes
    return {
        "forward": forward,  # Kaplan et al. 2020 §2.1: 2N per token (or App. F's per-component count)
        "backward_activations": forward + scores,  # input gradients; the score matmuls have two inputs
        "backward_weights": forward - scores if full else 0.0,  # weight gradients of the trained weights
        "adapters": FLOPS_PER_PARAM_TOKEN
        * adapters,  # Hu et al. 2021: x·A·B, 2 forward + 2 input + 2 weight grad
        # Narayanan et al. 2021 Eq. 3: one more forward of the checkpointed layers (hardware FLOPs only)
        "recompute": counted.hardware_flops_per_token
        - counted.flops_per_token
        + (2.0 * adapters if recompute == "full" else 0.0),
    }


def model_flops_per_token(terms: dict[str, float]) -> float:
    """Model FLOPs per token (for MFU): every term but the recomputation."""
    return sum(v for k, v in terms.items() if k != "recompute")


# -------------------------------------------------------------------------------------------- result
@dataclass(frozen=True)
class FinetunePlan(Displayable):
    """A fine-tuning job: FLOPs by term, memory per device, the layout that fits, time, device-hours, cost.

    ``flops`` are model FLOPs under ``convention`` (MFU); ``hardware_flops`` add recomputation. ``tokens`` is
    the dataset, ``trained_tokens`` = tokens x epochs. ``mfu`` is end-to-end model FLOPs utilization (model
    FLOPs / (devices x peak x seconds), Chowdhery et al. 2022 App. B); the layout's step-time model explains
    the step (``layout``: compute, bubble, communication, the kernel efficiency the compute needs and the
    highest MFU the layout reaches, after recomputation and a quantized base's dequantization).
    """

    model: str
    method: str
    params: float
    trainable_params: float
    tokens: float
    epochs: float
    trained_tokens: float
    seq_len: int
    global_batch: int
    convention: str
    flops: float
    hardware_flops: float
    flops_per_token: float
    flops_terms: dict[str, float]
    seconds: float
    days: float
    gpu_hours: float
    cost_usd: float | None
    price_usd_per_hour: float | None
    price_source: str
    tokens_per_s: float
    tokens_per_s_per_device: float
    accelerator: str
    devices: int
    precision: str
    mfu: float
    quant_time_factor: float
    memory: MemoryBreakdown
    layout: dict[str, Any]
    max_micro_batch: int
    max_seq_len: int
    lora_rank: int | None = None
    lora_targets: tuple[str, ...] = ()
    quant: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return bool(self.memory.fits)

    def display_tables(self) -> list[Table]:
        return finetune_tables(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON in base units (FLOPs, seconds, bytes, USD); ``memory`` is the planner's own breakdown."""
        out = asdict(self)
        out["memory"] = self.memory.to_dict()
        out["lora_targets"] = list(self.lora_targets)
        out["fits"] = self.fits
        return out


# --------------------------------------------------------------------------------- layout candidates
def _default_global_batch(devices: int) -> int:
    return devices * math.ceil(DEFAULT_GLOBAL_BATCH / devices)


@dataclass(frozen=True)
class _Run:
    """What every layout of one fine-tune shares: where it runs, its precision, and its sequences with the
    LoRA adapters (each layout adds its split, micro-batch and recomputation)."""

    cluster: Cluster
    precision: Precision
    workload: Workload

    @property
    def seq_len(self) -> int:
        return int(self.workload.seq_len)


def _split(layout: dict[str, Any]) -> Parallelism:
    """The `Parallelism` of a layout row."""
    return Parallelism.of(tp=layout["tp"], pp=layout["pp"], zero=layout["zero"], sp=bool(layout["sp"]))


def _memory(
    spec: ModelSpec, run: _Run, parallel: Parallelism = Parallelism(), **workload: Any
) -> MemoryBreakdown:
    """`estimate_memory` of one layout: ``parallel`` on the run's cluster, the run's workload with changes."""
    return estimate_memory(
        spec,
        mode="finetune",
        precision=run.precision,
        parallel=parallel,
        workload=replace(run.workload, **workload),
        cluster=run.cluster,
    )


def _full_layout(
    spec: ModelSpec,
    run: _Run,
    *,
    mfu: float,
    global_batch: int,
    recompute: tuple[str, ...],
    convention: str,
) -> dict[str, Any]:
    """The fastest full-fine-tuning layout that fits (or the smallest one when none fits)."""
    kwargs = dict(
        cluster=run.cluster,
        workload=replace(run.workload, global_batch=global_batch),
        precision=run.precision,
        choices=LayoutChoices(recompute=recompute),
        mfu=mfu,
        convention=convention,
        as_frame=False,
    )
    columns, _ = search_layouts(spec, top=1, **kwargs)
    if not len(columns["tp"]):
        columns, _ = search_layouts(spec, top=None, include_unfit=True, **kwargs)
        if not len(columns["tp"]):
            raise ScalingError(
                f"no valid layout of {spec.name} on {run.cluster.devices} devices with a global batch of "
                f"{global_batch} sequences: try another device count or --global-batch"
            )
    # the search ranks what fits by reachable MFU; with nothing fitting, the smallest is the nearest to fitting
    best = 0 if columns["fits"][0] else int(columns["total_bytes"].argmin())
    names = (
        "tp",
        "pp",
        "dp",
        "zero",
        "micro_batch",
        "recompute",
        "sp",
        "step_s",
        "compute_s",
        "bubble_s",
        "tp_comm_s",
        "dp_comm_s",
        "pp_comm_s",
        "kernel_efficiency",
        "min_step_s",
        "max_mfu",
        "hfu",
    )
    layout = {
        n: columns[n][best].item() if hasattr(columns[n][best], "item") else columns[n][best] for n in names
    }
    layout["recompute"] = str(layout["recompute"])
    return layout


def _adapter_layouts(
    spec: ModelSpec,
    run: _Run,
    *,
    mfu: float,
    global_batch: int,
    model_fpt: float,
    hardware_fpt: dict[str, float],
    quant_factor: float,
    recompute: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Every (ZeRO 0 or 3, recompute, micro-batch) layout of a LoRA/QLoRA run with its memory and its step,
    explained by the one step-time model (`scaling.layout.explain_step`): the base all-gathers of a sharded
    base and the adapters' gradient all-reduce are the communication; the kernels execute the exact FLOPs at
    the recompute level, a quantized base's ``quant_factor`` times (dequantized before each matmul)."""
    devices, acc = run.cluster.devices, run.cluster.accelerator
    per_device = global_batch // devices
    intra, inter = bandwidths(acc)
    link = intra if devices <= DEVICES_PER_NODE else inter  # within a node, else across the network
    tokens = float(global_batch) * run.seq_len
    rate = devices * acc.peak(run.precision.dtype)
    replica = _memory(spec, run, micro_batch=0)  # a whole frozen base on one device
    out = []
    for zero in (0, 3) if devices > 1 else (0,):
        for level in recompute:
            for micro in [b for b in range(1, min(per_device, 64) + 1) if per_device % b == 0]:
                mem = _memory(
                    spec,
                    run,
                    Parallelism.of(zero=zero),
                    recompute=level,
                    micro_batch=micro,
                    global_batch=global_batch,
                )
                share = (devices - 1.0) / devices  # ring collectives move (d-1)/d of the bytes per pass
                # FSDP all-gathers the frozen base for every micro-batch's forward and backward
                gather_s = (per_device / micro) * 2.0 * share * replica.weights_bytes / link if zero else 0.0
                # the adapters' bf16 gradient all-reduce
                grads_s = 2.0 * share * mem.trainable_params * 2.0 / link
                step = explain_step(
                    tokens * model_fpt,
                    tokens * hardware_fpt[level] * quant_factor,
                    gather_s + grads_s,
                    rate=rate,
                    mfu=mfu,
                )
                out.append(
                    dict(
                        tp=1,
                        pp=1,
                        dp=devices,
                        zero=zero,
                        micro_batch=micro,
                        recompute=level,
                        sp=False,
                        **{k: float(v) for k, v in step.items()},
                        dp_comm_s=gather_s + grads_s,
                        memory=mem,
                    )
                )
    return out


def _active_adapters(spec: ModelSpec, run: _Run, states: MemoryBreakdown) -> float:
    """Adapter parameters one token passes through: all of them, except that a mixture-of-experts layer runs
    the FFN adapters of its ``experts_per_token`` active experts only (memory holds every expert's)."""
    if not spec.is_moe:
        return states.trainable_params
    attention = [t for t in states.inputs["lora_targets"] if t in ("q", "k", "v", "o")]
    attn = (
        _memory(spec, run, lora_targets=tuple(attention), micro_batch=0).trainable_params
        if attention
        else 0.0
    )
    return attn + (states.trainable_params - attn) * spec.experts_per_token / spec.n_experts


def _fastest_that_fits(options: list[dict[str, Any]]) -> dict[str, Any]:
    """The layout that fits and reaches the highest MFU (then the largest micro-batch, the least sharding);
    else the smallest."""
    if any(o["memory"].fits for o in options):
        return min(
            options, key=lambda o: (not o["memory"].fits, o["min_step_s"], -o["micro_batch"], o["zero"])
        )
    return min(options, key=lambda o: o["memory"].total_bytes)


def _choose_layout(
    spec: ModelSpec,
    run: _Run,
    *,
    method: str,
    levels: tuple[str, ...],
    mfu: float,
    global_batch: int,
    model_fpt: float,
    hardware_fpt: dict[str, float],
    quant_factor: float,
    convention: str,
) -> tuple[dict[str, Any], MemoryBreakdown]:
    """The layout of the run and its memory: the layout search's for full fine-tuning, else the adapters'."""
    if method == "full":
        layout = _full_layout(
            spec, run, mfu=mfu, global_batch=global_batch, recompute=levels, convention=convention
        )
        return layout, _memory(
            spec,
            run,
            _split(layout),
            global_batch=global_batch,
            micro_batch=layout["micro_batch"],
            recompute=layout["recompute"],
        )
    options = _adapter_layouts(
        spec,
        run,
        mfu=mfu,
        global_batch=global_batch,
        model_fpt=model_fpt,
        hardware_fpt=hardware_fpt,
        quant_factor=quant_factor,
        recompute=levels,
    )
    layout = _fastest_that_fits(options)
    return layout, layout.pop("memory")


def _limits(spec: ModelSpec, run: _Run, layout: dict[str, Any]) -> tuple[int, int]:
    """The largest micro-batch (at the planned sequence length) and sequence length (micro-batch 1) that fit."""
    split, recompute = _split(layout), layout["recompute"]

    def batch_fits(b: int) -> bool:
        return bool(_memory(spec, run, split, micro_batch=b, recompute=recompute).fits)

    def length_fits(s: int) -> bool:
        return bool(_memory(spec, run, split, seq_len=s, micro_batch=1, recompute=recompute).fits)

    return largest_fitting(batch_fits, MAX_SEARCH), largest_fitting(length_fits, MAX_SEARCH)


# ------------------------------------------------------------------------------------------- the plan
def plan_finetune(
    model: ModelSpec | str,
    *,
    tokens: float,
    accelerator: str | Accelerator,
    devices: int = 1,
    lora_rank: int | None = None,
    lora_targets: tuple[str, ...] | str = ("q", "k", "v", "o"),
    quant: str | None = None,
    epochs: float = 1.0,
    seq_len: int | None = None,
    global_batch: int | None = None,
    mfu: float | None = None,
    price_usd_per_hour: float | None = None,
    precision: str = "bf16",
    optimizer: str = "adamw",
    convention: str = "6nd",
    recompute: str | None = None,
    quant_time_factor: float = QUANT_TIME_FACTOR,
) -> FinetunePlan:
    """Plan fine-tuning ``model`` on ``tokens`` tokens for ``epochs`` epochs on ``devices`` accelerators.

    No ``lora_rank``: full fine-tuning. ``lora_rank``: LoRA on ``lora_targets``; with ``quant`` (nf4, int4,
    int8) QLoRA. ``global_batch`` is in sequences of ``seq_len`` tokens (default: the model's context up to
    ``DEFAULT_MAX_SEQ_LEN``, and ``DEFAULT_GLOBAL_BATCH`` sequences rounded up to a multiple of the devices). ``recompute`` fixes the
    activation checkpointing (none, selective, full); by default the fastest level that fits is chosen.
    """
    spec = load_model(model)
    acc = get_accelerator(accelerator)
    devices = checks.positive_int(devices, "device count")
    epochs = float(checks.positive(epochs, "epochs"))
    tokens = float(checks.positive(tokens, "token count"))
    factor = float(checks.positive(quant_time_factor, "quantized-base time factor"))
    seq, batch = _sequence_and_batch(spec, devices, seq_len, global_batch)
    if lora_rank is not None:
        lora_rank = checks.positive_int(lora_rank, "LoRA rank")
    run = _Run(
        cluster=Cluster.of(acc, devices),
        precision=Precision.of(precision, optimizer, quant=quant),
        workload=Workload.of(seq_len=seq, lora_rank=lora_rank, lora_targets=lora_targets),
    )
    # the memory planner's count of what is trained, and its refusal of a quantization it cannot train
    states = _memory(spec, run, micro_batch=0)
    method = "full" if lora_rank is None else ("qlora" if run.precision.quant else "lora")
    factor = factor if run.precision.quant is not None else 1.0
    mfu = default_mfu(factor) if mfu is None else checks.fraction(mfu, "MFU")
    layout, memory, flops_terms = _layout_and_terms(
        spec,
        run,
        states,
        method=method,
        recompute=recompute,
        convention=convention,
        mfu=mfu,
        global_batch=batch,
        quant_factor=factor,
    )
    return _finetune_result(
        spec,
        run,
        layout,
        memory,
        flops_terms,
        method=method,
        trainable=states.trainable_params,
        tokens=tokens,
        epochs=epochs,
        batch=batch,
        convention=convention,
        mfu=mfu,
        factor=factor,
        lora_rank=lora_rank,
        price_usd_per_hour=price_usd_per_hour,
    )


def default_mfu(quant_time_factor: float = 1.0) -> float:
    """The MFU a fine-tuning run is assumed to reach when none is given: `DEFAULT_MFU`, divided by the extra
    kernel work of a quantized base (``QUANT_TIME_FACTOR`` for QLoRA)."""
    return DEFAULT_MFU / quant_time_factor


def _sequence_and_batch(
    spec: ModelSpec, devices: int, seq_len: int | None, global_batch: int | None
) -> tuple[int, int]:
    """The sequence length (given, else the model's context up to ``DEFAULT_MAX_SEQ_LEN``) and the global batch
    in sequences (given, else ``DEFAULT_GLOBAL_BATCH`` rounded up to a multiple of the devices)."""
    seq = checks.positive_int(
        seq_len if seq_len is not None else min(spec.n_ctx, DEFAULT_MAX_SEQ_LEN), "sequence length"
    )
    batch = (
        checks.positive_int(global_batch, "global batch") if global_batch else _default_global_batch(devices)
    )
    if batch % devices:
        raise ScalingError(f"global batch {batch} is not divisible by the {devices} devices: give a multiple")
    return seq, batch


def _layout_and_terms(
    spec: ModelSpec,
    run: _Run,
    states: MemoryBreakdown,
    *,
    method: str,
    recompute: str | None,
    convention: str,
    mfu: float,
    global_batch: int,
    quant_factor: float,
) -> tuple[dict[str, Any], MemoryBreakdown, dict[str, float]]:
    """The run's layout, its memory, and its FLOPs per token by term at the layout's recompute level."""
    adapters = 0.0 if method == "full" else _active_adapters(spec, run, states)

    def terms(conv: str, recompute: str = "none") -> dict[str, float]:
        return finetune_flops_per_token(
            spec,
            adapter_params=adapters,
            full=method == "full",
            convention=conv,
            seq_len=run.seq_len,
            recompute=recompute,
        )

    levels = RECOMPUTE if recompute is None else (checks.choice(recompute, RECOMPUTE, "recompute"),)
    # model FLOPs (the convention) fix the step at the MFU; the kernels execute the exact ones per level
    layout, memory = _choose_layout(
        spec,
        run,
        method=method,
        levels=levels,
        mfu=mfu,
        global_batch=global_batch,
        model_fpt=model_flops_per_token(terms(convention)),
        hardware_fpt={r: sum(terms("exact", r).values()) for r in levels},
        quant_factor=quant_factor,
        convention=convention,
    )
    return layout, memory, terms(convention, layout["recompute"])


def _finetune_result(
    spec: ModelSpec,
    run: _Run,
    layout: dict[str, Any],
    memory: MemoryBreakdown,
    flops_terms: dict[str, float],
    *,
    method: str,
    trainable: float,
    tokens: float,
    epochs: float,
    batch: int,
    convention: str,
    mfu: float,
    factor: float,
    lora_rank: int | None,
    price_usd_per_hour: float | None,
) -> FinetunePlan:
    """The plan of a chosen layout: throughput, time, cost, the limits that fit, notes and warnings."""
    acc, devices, precision = run.cluster.accelerator, run.cluster.devices, run.precision.dtype
    seq = run.seq_len
    per_token = model_flops_per_token(flops_terms)
    trained = tokens * epochs
    tokens_per_s = batch * seq / layout["step_s"]
    seconds = trained / tokens_per_s if tokens_per_s > 0 else math.inf
    if not (math.isfinite(seconds) and seconds > 0):
        raise ScalingError(
            f"no finite time for {tokens:.3g} tokens x {epochs:.3g} epochs at MFU {mfu!r}: give at least one "
            "token and an MFU such as 0.4"
        )
    cost = compute_cost(
        trained * per_token,
        accelerator=acc,
        devices=devices,
        mfu=mfu,
        dtype=precision,
        price_usd_per_hour=price_usd_per_hour,
    )
    layout.update(steps=math.ceil(trained / (batch * seq)), global_batch=batch)
    max_micro, max_seq = _limits(spec, run, layout)
    notes, warnings = _notes(method, memory, factor, layout, max_micro, max_seq, seq)
    warnings += training_flops(spec, 1.0, convention=convention).warnings  # e.g. 6ND on an encoder-decoder
    return FinetunePlan(
        model=spec.name,
        method=method,
        params=float(spec.params),
        trainable_params=float(trainable),
        tokens=tokens,
        epochs=epochs,
        trained_tokens=trained,
        seq_len=seq,
        global_batch=batch,
        convention=convention,
        flops=trained * per_token,
        hardware_flops=trained * sum(flops_terms.values()),
        flops_per_token=per_token,
        flops_terms=flops_terms,
        seconds=float(cost.seconds),
        days=float(cost.days),
        gpu_hours=float(cost.gpu_hours),
        cost_usd=None if cost.cost_usd is None else float(cost.cost_usd),
        price_usd_per_hour=cost.price_usd_per_hour,
        price_source=cost.price_source,
        tokens_per_s=tokens_per_s,
        tokens_per_s_per_device=tokens_per_s / devices,
        accelerator=acc.name,
        devices=devices,
        precision=precision,
        mfu=mfu,
        quant_time_factor=factor,
        memory=memory,
        layout=layout,
        max_micro_batch=max_micro,
        max_seq_len=max_seq,
        lora_rank=lora_rank,
        lora_targets=tuple(memory.inputs.get("lora_targets", ())),
        quant=memory.inputs["quant"],
        notes=notes,
        warnings=warnings + list(cost.warnings),
    )


def _notes(
    method: str,
    memory: MemoryBreakdown,
    factor: float,
    layout: dict[str, Any],
    max_micro: int,
    max_seq: int,
    seq: int,
) -> tuple[list[str], list[str]]:
    """The assumptions a plan states, and what the user should change when it does not fit."""
    notes = []
    if method == "full":
        notes.append(
            "step time: model FLOPs / (devices x peak x MFU), explained by the best layout's compute, pipeline "
            "bubble and TP/DP/PP communication"
        )
    else:
        notes.append(
            "frozen base replicated (DDP) or sharded (FSDP/ZeRO-3); step time: model FLOPs / (devices x peak x "
            "MFU), explained by compute, the all-gathers of a sharded base and the adapters' gradient all-reduce"
        )
    if factor != 1.0:
        source = (
            "Google Cloud Vertex AI, for 4-bit QLoRA: 'LoRA is about 66% faster than QLoRA'; torchtune measures "
            "1.02-1.28x with torchao's NF4"
            if factor == QUANT_TIME_FACTOR
            else "given"
        )
        notes.append(
            f"quantized base: its kernels do {factor:g}x the work for dequantization ({source}); the default MFU "
            f"is {DEFAULT_MFU:g} / {factor:g}"
        )
    warnings = []
    if not memory.fits:
        hint = "more devices, a smaller --seq-len or micro-batch"
        hint += (
            ", LoRA (--lora-rank)"
            if method == "full"
            else (", --quant nf4 (QLoRA)" if method == "lora" else "")
        )
        warnings.append(
            f"no layout fits: {memory.total_bytes / 2**30:,.1f} GiB per device needed at best, "
            f"{(memory.capacity_bytes or 0) / 2**30:,.1f} GiB available; try {hint}"
        )
    elif max_seq < seq:
        warnings.append(f"sequence length {seq} fits only with micro-batch {layout['micro_batch']}")
    return notes, warnings


# ---------------------------------------------------------------------------- continued pretraining
@dataclass(frozen=True)
class ContinuedPretrainingPlan(Displayable):
    """Domain adaptation of a pretrained model: the tokens to spend, the epochs over the domain data, what the
    data-constrained law makes of the repeats, and the run's time and cost (``training``, a full fine-tune).

    ``domain_tokens`` = ``epochs`` x ``unique_tokens``; ``general_tokens`` is the replayed general data, a
    ``replay_fraction`` share of the ``tokens`` trained. ``effective_domain_tokens`` is Muennighoff et al.
    2023's D' (Eq. 5): what the repeated domain tokens are worth as fresh ones.
    """

    model: str
    unique_tokens: float
    epochs: float
    domain_tokens: float
    replay_fraction: float
    general_tokens: float
    tokens: float
    effective_domain_tokens: float
    repeat_value: float
    law: str
    training: FinetunePlan
    findings: tuple[str, ...] = DOMAIN_ADAPTATION_FINDINGS
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def display_tables(self) -> list[Table]:
        return continued_tables(self)

    def to_dict(self) -> dict[str, Any]:
        """The data keys, then the run's own keys (``flops``, ``seconds``, ``cost_usd``, ``memory``, ``layout`` ...)."""
        run = self.training.to_dict()
        data = {
            k: getattr(self, k)
            for k in (
                "model",
                "unique_tokens",
                "epochs",
                "domain_tokens",
                "replay_fraction",
                "general_tokens",
                "tokens",
                "effective_domain_tokens",
                "repeat_value",
                "law",
            )
        }
        return {
            **run,
            **data,
            "findings": list(self.findings),
            "notes": self.notes + run["notes"],
            "warnings": self.warnings + run["warnings"],
        }


def plan_continued_pretraining(
    model: ModelSpec | str,
    *,
    unique_tokens: float,
    accelerator: str | Accelerator,
    devices: int = 1,
    tokens: float | None = None,
    flops: float | None = None,
    seconds: float | None = None,
    epochs: float | None = None,
    replay_fraction: float = DEFAULT_REPLAY_FRACTION,
    seq_len: int | None = None,
    global_batch: int | None = None,
    mfu: float | None = None,
    price_usd_per_hour: float | None = None,
    precision: str = "bf16",
    optimizer: str = "adamw",
    law: str = "muennighoff",
) -> ContinuedPretrainingPlan:
    """Plan continued pretraining of ``model`` on ``unique_tokens`` of domain data, mixed with general data.

    The tokens to train (domain + replay) come from one of: ``tokens``; a compute budget ``flops`` (6ND under
    `training_flops`); a deadline ``seconds`` (as many tokens as the layout's step model trains in it); or
    ``epochs`` over the domain data (default 1). A ``replay_fraction`` of the tokens is general data (Ibrahim
    et al. 2024: 5% for a weak shift). Repeats beyond ~4 epochs draw `scaling.laws.epochs_warning`; ``law``
    (a data-constrained preset) values the repeats (Muennighoff et al. 2023, Eq. 5).
    """
    spec = load_model(model)
    unique = float(checks.positive(unique_tokens, "unique domain tokens"))
    replay = checks.fraction(replay_fraction, "replay fraction", allow_zero=True)
    if replay >= 1.0:
        raise ScalingError(
            f"invalid replay fraction {replay_fraction!r}: expected a fraction in [0, 1) such as 0.05"
        )
    constants = get_law(law)
    r_d_star = getattr(constants, "R_D_star", None)  # only data-constrained laws value repeated tokens
    if r_d_star is None or not math.isfinite(r_d_star):
        raise ScalingError(
            f"law {law!r} has no repeated-data constant R_D*: use a data-constrained law ('muennighoff')"
        )
    run = dict(
        accelerator=accelerator,
        devices=devices,
        seq_len=seq_len,
        mfu=mfu,
        price_usd_per_hour=price_usd_per_hour,
        precision=precision,
        optimizer=optimizer,
    )
    total = _tokens_to_train(
        spec, unique, replay, tokens=tokens, flops=flops, seconds=seconds, epochs=epochs, **run
    )
    batch, notes = _pretraining_batch(
        spec, total, devices=devices, seq_len=seq_len, global_batch=global_batch
    )
    training = plan_finetune(spec, tokens=total, global_batch=batch, **run)
    if seconds is not None:  # the deadline: the tokens the step model trains in it (contract of the plan)
        total = float(seconds) * training.tokens_per_s
        training = plan_finetune(spec, tokens=total, global_batch=batch, **run)
        notes.append(
            f"tokens sized so that the layout's step time fills the deadline ({seconds / 86400:.3g} days)"
        )
    domain = total * (1.0 - replay)
    effective = float(effective_data(domain, unique, r_d_star))
    warning = epochs_warning(domain, unique)
    return ContinuedPretrainingPlan(
        model=spec.name,
        unique_tokens=unique,
        epochs=domain / unique,
        domain_tokens=domain,
        replay_fraction=replay,
        general_tokens=total - domain,
        tokens=total,
        effective_domain_tokens=effective,
        repeat_value=effective / domain,
        law=constants.name,
        training=training,
        notes=notes,
        warnings=[warning] if warning else [],
    )


def _tokens_to_train(
    spec: ModelSpec,
    unique: float,
    replay: float,
    *,
    tokens: float | None,
    flops: float | None,
    seconds: float | None,
    epochs: float | None,
    **run: Any,
) -> float:
    """All tokens of a continued-pretraining run (domain + replay) from the one budget given."""
    given = [
        n
        for n, v in (("tokens", tokens), ("flops", flops), ("seconds", seconds), ("epochs", epochs))
        if v is not None
    ]
    if len(given) > 1:
        raise ScalingError(
            f"give one of tokens, a compute budget, a deadline or epochs, not {' and '.join(given)}"
        )
    per_token = training_flops(spec, 1.0).flops_per_token
    if tokens is not None:
        return float(checks.positive(tokens, "token count"))
    if flops is not None:
        return float(checks.positive(flops, "compute budget")) / per_token
    if seconds is not None:  # devices x peak x MFU x time (end-to-end MFU): what the deadline buys
        delivered = flops_from_time(
            accelerator=run["accelerator"],
            devices=run["devices"],
            mfu=DEFAULT_MFU if run["mfu"] is None else run["mfu"],
            seconds=checks.positive(seconds, "deadline"),
            dtype=run["precision"],
        )
        return float(delivered) / per_token
    return unique * float(checks.positive(1.0 if epochs is None else epochs, "epochs")) / (1.0 - replay)


def _pretraining_batch(
    spec: ModelSpec, tokens: float, *, devices: int, seq_len: int | None, global_batch: int | None
) -> tuple[int | None, list[str]]:
    """The global batch of a continued-pretraining run: the one given, else the plan's pretraining default,
    DeepSeek LLM's B_opt(C) (`scaling.layout.default_global_batch`), in sequences rounded to a multiple of the
    devices (`scaling.layout.batch_for_layout`)."""
    if global_batch is not None:
        return global_batch, []

    target = default_global_batch(training_flops(spec, tokens).flops)
    sequences = target.sequences(seq_len or min(spec.n_ctx, DEFAULT_MAX_SEQ_LEN))
    batch = int(batch_for_layout(sequences, checks.positive_int(devices, "device count")))
    return batch, [f"global batch {batch:,} sequences: {target.reason}, a multiple of the devices"]


# -------------------------------------------------------------------------------------------- tables
def _mfu_text(plan: FinetunePlan) -> str:
    """The MFU line: end to end, and what the layout's step model says of it."""
    lay = plan.layout
    text = f"{format_fraction(plan.mfu)} end to end (model FLOPs / devices x peak x time); HFU {format_fraction(lay['hfu'])}"
    if math.isfinite(lay["kernel_efficiency"]):
        text += f"; the compute needs kernels at {format_fraction(lay['kernel_efficiency'])} of peak"
    return text + f"; this layout reaches at most {format_fraction(lay['max_mfu'])}"


def _epochs(epochs: float) -> str:
    return f"{epochs:.3g} epoch" + ("" if epochs == 1 else "s")


def _method_text(plan: FinetunePlan) -> str:
    if plan.method == "full":
        return "full fine-tuning"
    text = f"LoRA rank {plan.lora_rank} on {','.join(plan.lora_targets)}"
    return f"Q{text} over a {plan.quant} base" if plan.method == "qlora" else text


def finetune_tables(plan: FinetunePlan) -> list[Table]:
    """The plan as tables, for the CLI's text and a notebook's display alike: the job, FLOPs per token by
    term, and the run (layout, memory, limits, time, throughput, cost) with its notes."""
    job = [
        ("parameters", f"{format_count(plan.params)} ({format_count(plan.trainable_params)} trained)"),
        (
            "tokens",
            f"{format_count(plan.tokens)} x {_epochs(plan.epochs)} = {format_count(plan.trained_tokens)}",
        ),
        ("batch", f"{plan.global_batch} sequences of {plan.seq_len} tokens per step"),
    ]
    terms = [(k.replace("_", " "), format_flops(v) if v else "0") for k, v in plan.flops_terms.items()]
    terms.append(("model FLOPs per token", format_flops(plan.flops_per_token)))
    lay, mem = plan.layout, plan.memory
    run = [
        ("FLOPs", f"{format_flops(plan.flops)} (hardware {format_flops(plan.hardware_flops)})"),
        (
            "layout",
            f"TP {lay['tp']} x PP {lay['pp']} x DP {lay['dp']}, ZeRO {lay['zero']}, micro-batch "
            f"{lay['micro_batch']}, recompute {lay['recompute']}",
        ),
        (
            "memory per device",
            f"{mem.total_bytes / GIB:,.2f} GiB of {(mem.capacity_bytes or 0) / GIB:,.2f} GiB: "
            f"{'fits' if mem.fits else 'does NOT fit'}",
        ),
        (
            "memory terms",
            ", ".join(f"{name} {value / GIB:,.2f}" for name, value, _ in mem.terms if value) + " GiB",
        ),
        ("largest micro-batch", f"{plan.max_micro_batch} at {plan.seq_len} tokens"),
        ("longest sequence", f"{plan.max_seq_len:,} tokens at micro-batch 1"),
        ("step", f"{lay['step_s']:.3g} s ({lay['steps']:,} steps)"),
        ("time", format_duration(plan.seconds)),
        ("throughput", f"{plan.tokens_per_s:,.0f} tokens/s ({plan.tokens_per_s_per_device:,.0f} per device)"),
        ("MFU", _mfu_text(plan)),
        ("device-hours", f"{plan.gpu_hours:,.1f}"),
        (
            "cost",
            "no price (--price)"
            if plan.cost_usd is None
            else f"{format_usd(plan.cost_usd)} at ${plan.price_usd_per_hour:g}/device-hour ({plan.price_source})",
        ),
    ]
    return [
        Table.of(
            job, title=f"{plan.model}: {_method_text(plan)}, {plan.devices}x{plan.accelerator}", align="ll"
        ),
        Table.of(terms, [f"FLOPs per token ({plan.convention})", "FLOPs"], title="FLOPs per token by term"),
        Table.of(run, title="Run", align="ll", notes=[f"note: {n}" for n in plan.notes]),
    ]


def continued_tables(result: ContinuedPretrainingPlan) -> list[Table]:
    """Continued pretraining as tables: the data (domain, replay, what the repeats are worth), the run's
    tables (`finetune_tables`), and what published domain-adaptation work found."""
    data = [
        (
            "tokens",
            f"{format_count(result.tokens)} = {format_count(result.domain_tokens)} domain "
            f"({_epochs(result.epochs)}) + {format_count(result.general_tokens)} general "
            f"({result.replay_fraction:.0%} replay)",
        ),
        (
            "repeats",
            f"worth {format_count(result.effective_domain_tokens)} fresh tokens ({result.repeat_value:.0%}; "
            f"{result.law}, Muennighoff et al. 2023 Eq. 5)",
        ),
    ]
    title = f"Continued pretraining of {result.model} on {format_count(result.unique_tokens)} unique domain tokens"
    findings = [("-", finding) for finding in result.findings]
    return [
        Table.of(data, title=title, align="ll", notes=[f"note: {n}" for n in result.notes]),
        *finetune_tables(result.training),
        Table.of(findings, title="What published domain adaptation found", align="ll"),
    ]
