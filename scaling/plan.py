"""`make_plan`: from a cluster, a deadline or a dollar budget to a complete, checked training plan.

The plan composes the package's estimators and carries no formula of its own:

1. **Budget** (FLOPs): given directly, or ``devices x peak x MFU x time`` / dollars / GPU-hours through
   `scaling.flops` (``flops_from_time``, ``flops_from_usd``, ``flops_from_gpu_hours``); or, for the reverse
   questions, ``training_flops(spec, tokens)`` of a given model, or ``law.flops_for_loss(target)``.
2. **Allocation**: ``law.optimal(C, unique_tokens=..., inference_tokens=...)`` (`scaling.laws`), with its
   intervals where the law carries uncertainty, capped at ``max_params`` if asked.
3. **Architecture**: ``shape_for_params`` (`scaling.model`) picks a concrete shape near N_opt; the tokens are
   then C / (6 N_exact), so the plan spends exactly the budget under the law's C = 6ND convention.
4. **Layout and memory**: ``search_layouts`` and ``estimate_memory`` (`scaling.layout`, `scaling.memory`).
5. **Time and cost**: ``compute_cost`` (`scaling.flops`) of the 6ND model FLOPs at the stated MFU.

Conventions (stated in every output): C = 6ND with N the total parameter count (Hoffmann et al. 2022); MFU
is counted against those 6ND model FLOPs, and the exact count with attention is reported beside it. The
global batch follows DeepSeek LLM's fitted B_opt = 0.292 C^0.3271 tokens (Bi et al. 2024, Fig. 3) unless given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scaling import units
from scaling.errors import ScalingError

DEFAULT_ACCELERATOR = "H100-SXM"
DEFAULT_MFU = 0.4
DEFAULT_DAYS_WITHOUT_CLUSTER = 30.0
MAX_REASONABLE_MFU = 0.6  # best published large-run MFUs: 46-57% (PaLM Table 3, Korthikanti Table 5)
MIN_REASONABLE_MFU = 0.15
EPOCHS_WARN = 4.0  # Muennighoff et al. 2023: up to ~4 epochs of repetition cost almost nothing
EPOCHS_STRONG = 16.0  # ... 16 epochs are worth ~10.6 unique-equivalents (66%); beyond that returns vanish
TOKENS_PER_PARAM_RULE = 20.0  # the "20 tokens per parameter" rule (Hoffmann et al. 2022, Table 3)
BATCH_COEF, BATCH_EXP = 0.2920, 0.3271  # DeepSeek LLM B_opt(C) in tokens (fitting.md section 3.5)


@dataclass(frozen=True)
class Comparison:
    """One row of the comparison table: another rule, law or a well-known model at a similar budget."""

    label: str
    params: float
    tokens: float
    flops: float
    loss: float | None
    source: str
    kind: str  # "rule" | "law" | "model"

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.params

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "kind": self.kind, "params": self.params, "tokens": self.tokens,
            "flops": self.flops, "tokens_per_param": self.tokens_per_param, "loss": self.loss, "source": self.source,
        }  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """A complete training plan; every number is the one the underlying estimator returns."""

    question: str
    budget_flops: float
    budget_source: str
    law: Any  # scaling.laws.Law
    allocation: Any  # scaling.laws.Allocation
    spec: Any  # scaling.model.ModelSpec
    tokens: float
    training: Any  # scaling.flops.TrainingFlops under 6ND
    training_exact: Any  # scaling.flops.TrainingFlops, exact per-component count
    cost: Any  # scaling.flops.ComputeCost
    loss: float | None
    layout: dict[str, Any] | None
    memory: Any  # scaling.memory.MemoryBreakdown | None
    accelerator: Any  # scaling.catalog.Accelerator
    devices: int
    mfu: float
    dtype: str
    seq_len: int
    global_batch_tokens: float
    comparisons: tuple[Comparison, ...]
    compute_optimal_overhead: float | None = None
    warnings: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------------ derived numbers
    @property
    def params(self) -> int:
        return self.spec.params

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.spec.params

    @property
    def fits(self) -> bool | None:
        return None if self.memory is None else self.memory.fits

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, base units (FLOPs, bytes, seconds, USD), stable keys."""
        memory = None
        if self.memory is not None:
            memory = self.memory.to_dict()
        allocation = self.allocation.to_dict()
        return {
            "question": self.question,
            "flops": self.budget_flops,
            "pf_days": self.cost.pf_days,
            "gpu_hours": self.cost.gpu_hours,
            "cost_usd": self.cost.cost_usd,
            "days": self.cost.days,
            "seconds": self.cost.seconds,
            "params": self.spec.params,
            "params_non_embedding": self.spec.params_non_embedding,
            "tokens": self.tokens,
            "tokens_per_param": self.tokens_per_param,
            "loss": self.loss,
            "flops_exact": self.training_exact.flops,
            "law": {"name": self.law.name, "source": self.law.source, "convention": self.law.convention},
            "optimal": allocation,
            "compute_optimal_overhead": self.compute_optimal_overhead,
            "architecture": {
                "n_layer": self.spec.n_layer,
                "d_model": self.spec.d_model,
                "n_head": self.spec.n_head,
                "n_kv_head": self.spec.kv_heads,
                "d_head": self.spec.head_dim,
                "d_ff": self.spec.ffn_dim,
                "vocab_size": self.spec.vocab_size,
                "n_ctx": self.spec.n_ctx,
                "gated_ffn": self.spec.gated_ffn,
                "params": self.spec.params,
                "description": self.spec.describe(),
            },
            "cluster": {
                "accelerator": self.accelerator.name,
                "devices": self.devices,
                "mfu": self.mfu,
                "dtype": self.dtype,
                "peak_flops_per_device": self.accelerator.peak(self.dtype),
                "price_usd_per_hour": self.cost.price_usd_per_hour,
            },
            "global_batch_tokens": self.global_batch_tokens,
            "seq_len": self.seq_len,
            "layout": self.layout,
            "memory": memory,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "warnings": list(self.warnings),
            "assumptions": list(self.assumptions),
            "budget_source": self.budget_source,
            "inputs": self.inputs,
        }


# ---------------------------------------------------------------------------------------------- budget
def _budget(
    *,
    flops: float | None,
    seconds: float | None,
    usd: float | None,
    gpu_hours: float | None,
    price: float | None,
    accelerator: Any,
    devices: int | None,
    mfu: float,
    dtype: str,
) -> tuple[float, str]:
    from scaling import flops as flops_mod

    if flops is not None:
        return flops, f"given: {units.format_flops(flops)}"
    if seconds is not None:
        if devices is None:
            raise ScalingError("a time budget (--days) needs a cluster: give --gpus, e.g. --gpus 512xH100")
        value = flops_mod.flops_from_time(accelerator=accelerator, devices=devices, seconds=seconds, mfu=mfu, dtype=dtype)
        return value, (
            f"{devices} x {accelerator.name} for {units.format_duration(seconds)} at {units.format_fraction(mfu)} MFU "
            f"({dtype} peak {accelerator.peak(dtype) / 1e12:.4g} TFLOP/s)"
        )
    if usd is not None:
        price = price if price is not None else accelerator.price_usd_per_hour
        if price is None:
            raise ScalingError(
                f"a dollar budget needs a price per device-hour: give --price (the catalog has none for {accelerator.name})"
            )
        value = flops_mod.flops_from_usd(usd, accelerator=accelerator, mfu=mfu, price_usd_per_hour=price, dtype=dtype)
        return value, f"{units.format_usd(usd)} at ${price:g}/device-hour on {accelerator.name} at {units.format_fraction(mfu)} MFU"
    if gpu_hours is not None:
        value = flops_mod.flops_from_gpu_hours(gpu_hours, accelerator=accelerator, mfu=mfu, dtype=dtype)
        return value, f"{units.format_count(gpu_hours)} {accelerator.name}-hours at {units.format_fraction(mfu)} MFU"
    raise ScalingError(
        "no budget given: give one of --flops, --gpus with --days, --usd with --price, --gpu-hours, "
        "--target-loss, or --params with --tokens"
    )


def _round_batch_sequences(batch_tokens: float, seq_len: int) -> int:
    """Sequences per global batch: a power of two near the token target (keeps DP x micro-batch divisible)."""
    sequences = max(1.0, batch_tokens / seq_len)
    return int(2 ** round(math.log2(sequences)))


def _known_models_near(budget: float, limit: int = 4) -> list[Comparison]:
    from scaling.catalog import known_models

    rows = sorted(known_models(), key=lambda m: abs(math.log10(m["flops"] / budget)))[:limit]
    return [
        Comparison(m["name"], m["params"], m["tokens"], m["flops"], None, m.get("source", ""), "model")
        for m in rows
        if abs(math.log10(m["flops"] / budget)) <= 1.5
    ]


def _comparisons(law: Any, budget: float) -> list[Comparison]:
    from scaling.laws import get_law

    rows: list[Comparison] = []
    # The 20-tokens-per-parameter rule: 6 N (20 N) = C.
    n_rule = math.sqrt(budget / (6.0 * TOKENS_PER_PARAM_RULE))
    loss_rule = float(law.predict(n_rule, TOKENS_PER_PARAM_RULE * n_rule)) if law.has_loss else None
    rows.append(Comparison("20 tokens/param rule", n_rule, TOKENS_PER_PARAM_RULE * n_rule, budget, loss_rule,
                           "Hoffmann et al. 2022, Table 3 (rounded)", "rule"))  # fmt: skip
    for name in ("chinchilla-a1", "chinchilla-a2", "chinchilla", "epoch", "kaplan", "llama3"):
        other = get_law(name)
        if other.name == law.name:
            continue
        alloc = other.optimal(budget)
        params, tokens = float(alloc.params), float(alloc.tokens)
        loss = float(law.predict(params, tokens)) if law.has_loss else None
        rows.append(Comparison(f"law: {other.name}", params, tokens, budget, loss, other.source, "law"))
    rows.extend(_known_models_near(budget))
    return rows


def _inference_aware_within_budget(law: Any, budget: float, unique: float | None, inference: float) -> Any:
    """`law.optimal(C0, inference_tokens=...)` for the C0 whose training FLOPs equal the budget.

    The law answers "reach L*(C0) at the least lifetime compute", whose training FLOPs exceed C0; a plan
    has a fixed training budget, so it asks that question for the C0 that spends exactly the budget.
    """
    from scipy.optimize import brentq

    def excess(log_c0: float) -> float:
        alloc = law.optimal(10.0**log_c0, unique_tokens=unique, inference_tokens=inference)
        return math.log(float(alloc.flops) / budget)

    high = math.log10(budget)
    low = high - 1.0
    while excess(low) > 0 and low > high - 12:
        low -= 1.0
    log_c0 = brentq(excess, low, high, xtol=1e-9)
    return law.optimal(10.0**log_c0, unique_tokens=unique, inference_tokens=inference)


def _devices_for_deadline(budget: float, accelerator: Any, mfu: float, dtype: str, days: float) -> int:
    """Without a cluster: the smallest power of two (8 at least) of devices that finishes within ``days``.

    Powers of two keep data parallelism, micro-batches and the global batch divisible (stated in the plan).
    """
    per_device = accelerator.peak(dtype) * mfu * days * units.SECONDS_PER_DAY
    return max(8, 2 ** math.ceil(math.log2(max(1.0, budget / per_device))))


# ------------------------------------------------------------------------------------------------ plan
def make_plan(
    *,
    flops: float | str | None = None,
    gpus: str | units.ClusterSpec | None = None,
    days: float | str | None = None,
    mfu: float | str | None = None,
    usd: float | str | None = None,
    price: float | str | None = None,
    gpu_hours: float | str | None = None,
    law: str | Any = "chinchilla",
    unique_tokens: float | str | None = None,
    inference_tokens: float | str | None = None,
    max_params: float | str | None = None,
    seq_len: int | None = None,
    vocab: int | None = None,
    params: float | str | None = None,
    tokens: float | str | None = None,
    model: str | Any | None = None,
    target_loss: float | None = None,
    dtype: str = "bf16",
    global_batch_tokens: float | str | None = None,
    shape_style: str = "llama",
    search_layout: bool = True,
    flash_attention: bool = True,
    accelerator_files: tuple[str, ...] = (),
) -> Plan:
    """A checked training plan. Give exactly one budget:

    * ``flops`` (FLOPs or ``"100 PF-days"``);
    * ``gpus`` and ``days`` (with ``mfu``);
    * ``usd`` and ``price`` (a price per device-hour; ``gpus`` names the accelerator);
    * ``gpu_hours``;
    * reverse questions: ``params`` (or ``model``) with ``tokens``, or ``target_loss``.
    """
    from scaling import flops as flops_mod
    from scaling.catalog import get_accelerator
    from scaling.laws import get_law
    from scaling.model import load_model, shape_for_params

    inputs = {k: v for k, v in dict(
        flops=flops, gpus=str(gpus) if gpus is not None else None, days=days, mfu=mfu, usd=usd, price=price,
        gpu_hours=gpu_hours, law=law if isinstance(law, str) else getattr(law, "name", str(law)),
        unique_tokens=unique_tokens, inference_tokens=inference_tokens, max_params=max_params, seq_len=seq_len,
        vocab=vocab, params=params, tokens=tokens, model=model if isinstance(model, (str, type(None))) else model.name,
        target_loss=target_loss, dtype=dtype, global_batch_tokens=global_batch_tokens,
    ).items() if v is not None}  # fmt: skip

    # -- parse and check the inputs ------------------------------------------------------------------
    budget_flops = units.parse_flops(flops, "--flops") if flops is not None else None
    seconds = units.parse_duration(days, "--days") if days is not None else None
    usd_v = units.parse_money(usd, "--usd") if usd is not None else None
    price_v = units.parse_money(price, "--price") if price is not None else None
    hours_v = units.parse_count(gpu_hours, "--gpu-hours") if gpu_hours is not None else None
    mfu_v = units.parse_fraction(mfu, "--mfu") if mfu is not None else DEFAULT_MFU
    unique_v = units.parse_count(unique_tokens, "--unique-tokens") if unique_tokens is not None else None
    inference_v = units.parse_count(inference_tokens, "--inference-tokens", allow_zero=True) if inference_tokens is not None else None
    max_params_v = units.parse_count(max_params, "--max-params") if max_params is not None else None
    params_v = units.parse_count(params, "--params") if params is not None else None
    tokens_v = units.parse_count(tokens, "--tokens") if tokens is not None else None
    batch_v = units.parse_count(global_batch_tokens, "--global-batch-tokens") if global_batch_tokens is not None else None
    if target_loss is not None and (not math.isfinite(float(target_loss)) or float(target_loss) <= 0):
        raise ScalingError(f"invalid --target-loss {target_loss!r}: must be a positive number (nats per token)")
    if params_v is not None and model is not None:
        raise ScalingError("give either a MODEL or --params, not both")

    reverse = params_v is not None or model is not None
    budgets = {
        "--flops": budget_flops is not None, "--days": seconds is not None, "--usd": usd_v is not None,
        "--gpu-hours": hours_v is not None, "--target-loss": target_loss is not None,
        "--params/--tokens": reverse,
    }  # fmt: skip
    given = [k for k, v in budgets.items() if v]
    if len(given) > 1:
        raise ScalingError(f"contradictory budgets: {', '.join(given)} each fix the compute; give only one")
    if reverse and tokens_v is None:
        raise ScalingError("a reverse question needs --tokens as well as --params (or a MODEL)")
    if tokens_v is not None and not reverse:
        raise ScalingError("--tokens needs --params (or a MODEL): it asks about a given model")
    if usd_v is not None and price_v is None and gpus is None:
        raise ScalingError("a dollar budget needs --price (USD per device-hour)")

    law_obj = get_law(law)
    cluster = units.parse_cluster(gpus, "--gpus") if isinstance(gpus, str) else gpus
    accelerator = get_accelerator(cluster.accelerator if cluster and cluster.accelerator else DEFAULT_ACCELERATOR, accelerator_files)
    devices = cluster.devices if cluster else None
    assumptions: list[str] = []
    warnings: list[str] = []
    if cluster is None or cluster.accelerator is None:
        assumptions.append(f"accelerator not given: {accelerator.name} assumed ({accelerator.source})")

    # -- the budget ----------------------------------------------------------------------------------
    spec = None
    if reverse:
        spec = load_model(model) if model is not None else None
        if spec is None:
            spec = shape_for_params(params_v, vocab_size=vocab or 32000, n_ctx=seq_len or 4096, style=shape_style)
            assumptions.append(f"--params {units.format_count(params_v)}: standard {shape_style} shape ({spec.params:,} params)")
        budget_flops = flops_mod.training_flops(spec, tokens_v, convention="6nd").flops
        budget_source = f"{spec.name} ({units.format_count(spec.params)} params) on {units.format_count(tokens_v)} tokens, 6ND"
        question = "reverse"
    elif target_loss is not None:
        if not law_obj.has_loss:
            raise ScalingError(f"law {law_obj.name!r} predicts no loss, so --target-loss needs a parametric law (e.g. chinchilla, epoch)")
        budget_flops = float(law_obj.flops_for_loss(float(target_loss)))
        if not math.isfinite(budget_flops):
            raise ScalingError(
                f"--target-loss {target_loss} is at or below law {law_obj.name!r}'s irreducible loss E = {law_obj.E:.4g}"
            )
        budget_source = f"compute for loss {target_loss} under {law_obj.name}"
        question = "target-loss"
    else:
        budget_flops, budget_source = _budget(
            flops=budget_flops, seconds=seconds, usd=usd_v, gpu_hours=hours_v, price=price_v,
            accelerator=accelerator, devices=devices, mfu=mfu_v, dtype=dtype,
        )  # fmt: skip
        question = "budget"

    # -- the allocation ------------------------------------------------------------------------------
    allocation = law_obj.optimal(budget_flops, unique_tokens=unique_v, inference_tokens=inference_v)
    if inference_v and float(allocation.flops) > budget_flops * (1 + 1e-9):
        allocation = _inference_aware_within_budget(law_obj, budget_flops, unique_v, inference_v)
        assumptions.append(
            "inference-aware (Sardana et al. 2024): the smallest-lifetime-compute model whose training compute is the "
            f"budget; it reaches L*({units.format_flops(float(allocation.budget_flops))}) with "
            f"{units.format_count(inference_v)} inference tokens"
        )
    warnings.extend(allocation.warnings)
    target_params = float(allocation.params)
    if max_params_v is not None and target_params > max_params_v:
        warnings.append(
            f"the compute-optimal size {units.format_count(target_params)} exceeds --max-params "
            f"{units.format_count(max_params_v)}: training the smaller model longer"
        )
        target_params = max_params_v

    # -- the architecture and tokens -----------------------------------------------------------------
    if spec is None:
        spec = shape_for_params(
            target_params, vocab_size=vocab or 32000, n_ctx=seq_len or 4096, style=shape_style,
            name=f"plan-{units.format_count(target_params).lower()}",
        )  # fmt: skip
        tokens_v = budget_flops / flops_mod.training_flops(spec, 1.0, convention="6nd").flops
        assumptions.append(
            f"architecture: {shape_style} shape rules (scaling.model.shape_for_params); tokens = C / (6 x exact params)"
        )
    seq = seq_len or spec.n_ctx
    training = flops_mod.training_flops(spec, tokens_v, convention="6nd")
    training_exact = flops_mod.training_flops(spec, tokens_v, convention="exact", seq_len=seq)
    loss = float(law_obj.predict(spec.params, tokens_v)) if law_obj.has_loss else None

    # -- cluster, time and cost ----------------------------------------------------------------------
    if devices is None:
        devices = _devices_for_deadline(training.flops, accelerator, mfu_v, dtype, DEFAULT_DAYS_WITHOUT_CLUSTER)
        assumptions.append(
            f"no cluster given: {devices} x {accelerator.name}, the smallest power of two that trains within "
            f"{DEFAULT_DAYS_WITHOUT_CLUSTER:g} days"
        )
    cost = flops_mod.compute_cost(
        training.flops, accelerator=accelerator, devices=devices, mfu=mfu_v, dtype=dtype, price_usd_per_hour=price_v,
    )  # fmt: skip
    if cost.cost_usd is None:
        assumptions.append("no price per device-hour given (--price): cost not computed")
    if mfu_v > MAX_REASONABLE_MFU:
        warnings.append(
            f"MFU {units.format_fraction(mfu_v)} is implausible for large runs: the best published are 46-57% "
            "(PaLM Table 3; Korthikanti et al. 2022 Table 5); 35-45% is typical"
        )
    elif mfu_v < MIN_REASONABLE_MFU:
        warnings.append(f"MFU {units.format_fraction(mfu_v)} is unusually low; 35-45% is typical for dense transformers")

    # -- data constraints ----------------------------------------------------------------------------
    if unique_v is not None:
        epochs = tokens_v / unique_v
        if epochs > EPOCHS_STRONG:
            warnings.append(
                f"{epochs:.1f} epochs over {units.format_count(unique_v)} unique tokens: far beyond what repeated data "
                "supports (Muennighoff et al. 2023: 16 epochs are worth ~10.6 unique); get more data or a smaller budget"
            )
        elif epochs > EPOCHS_WARN:
            warnings.append(
                f"{epochs:.1f} epochs over {units.format_count(unique_v)} unique tokens: beyond ~4 epochs repeated "
                "tokens lose value (Muennighoff et al. 2023)"
            )
        elif epochs > 1:
            assumptions.append(f"{epochs:.2f} epochs over the unique data (up to ~4 cost little; Muennighoff et al. 2023)")

    # -- layout and memory ---------------------------------------------------------------------------
    batch_tokens = batch_v if batch_v is not None else BATCH_COEF * training.flops**BATCH_EXP
    if batch_v is None:
        assumptions.append(
            f"global batch {units.format_count(batch_tokens)} tokens from DeepSeek LLM's B_opt = 0.292 C^0.3271 (Bi et al. 2024)"
        )
    global_batch = _round_batch_sequences(batch_tokens, seq)
    assumptions.append(f"global batch rounded to {global_batch} sequences of {seq} tokens (a power of two)")
    layout_row, memory = None, None
    if search_layout:
        layout_row, memory = _layout_and_memory(
            spec, devices, accelerator, global_batch, seq, mfu_v, dtype, flash_attention, warnings
        )
        assumptions.append(
            "memory and layout: " + ("FlashAttention (no stored attention scores)" if flash_attention else "standard attention")
            + "; layouts ranked by the step-time model of scaling.layout"
        )

    # -- how far from compute-optimal (reverse questions) --------------------------------------------
    overhead = None
    if question == "reverse" and law_obj.kind == "parametric":
        overhead = float(law_obj.overhead(spec.params / float(law_obj.n_opt(budget_flops))))
    comparisons = tuple(_comparisons(law_obj, budget_flops))
    assumptions.insert(0, f"law: {law_obj.name} ({law_obj.source}); convention: {law_obj.convention}")
    assumptions.insert(1, f"MFU {units.format_fraction(mfu_v)} counted on 6ND model FLOPs; {dtype} dense peak")
    return Plan(
        question=question, budget_flops=float(budget_flops), budget_source=budget_source, law=law_obj,
        allocation=allocation, spec=spec, tokens=float(tokens_v), training=training, training_exact=training_exact,
        cost=cost, loss=loss, layout=layout_row, memory=memory, accelerator=accelerator, devices=int(devices),
        mfu=mfu_v, dtype=dtype, seq_len=int(seq), global_batch_tokens=float(global_batch * seq),
        comparisons=comparisons, compute_optimal_overhead=overhead, warnings=tuple(dict.fromkeys(warnings)),
        assumptions=tuple(assumptions), inputs=inputs,
    )  # fmt: skip


def _layout_and_memory(spec, devices, accelerator, global_batch, seq, mfu, dtype, flash_attention, warnings):
    from scaling.layout import search_layouts
    from scaling.memory import estimate_memory

    columns, _attrs = search_layouts(
        spec, devices=devices, accelerator=accelerator, global_batch=global_batch, seq_len=seq, mfu=mfu,
        precision=dtype, flash_attention=flash_attention, top=5, as_frame=False,
    )  # fmt: skip
    if len(columns["tp"]) == 0:
        warnings.append(
            f"no parallel layout fits {spec.name} ({units.format_count(spec.params)} params) on {devices} x "
            f"{accelerator.name}: more devices, more memory per device, or a smaller model"
        )
        memory = estimate_memory(
            spec, mode="train", precision=dtype, devices=devices, accelerator=accelerator, zero=3,
            recompute="full", micro_batch=1, seq_len=seq, flash_attention=flash_attention,
        )  # fmt: skip
        return None, memory
    best = {k: v[0] for k, v in columns.items()}
    layout = {k: (v.item() if hasattr(v, "item") else v) for k, v in best.items()}
    keys = ("tp", "pp", "zero", "recompute", "micro_batch", "sp")
    kwargs = {k: layout[k] for k in keys if k in layout}
    if "sp" in kwargs:
        kwargs["sp"] = bool(kwargs["sp"])
    memory = estimate_memory(
        spec, mode="train", precision=dtype, devices=devices, accelerator=accelerator, seq_len=seq,
        flash_attention=flash_attention, global_batch=global_batch, **kwargs
    )
    layout["global_batch"] = global_batch
    return layout, memory


# ------------------------------------------------------------------------------------------- rendering
def _fmt_interval(alloc: Any, key: str, fmt) -> str:
    lo_hi = alloc.intervals.get(key) if alloc.intervals else None
    if not lo_hi:
        return ""
    lo, hi = (float(x) for x in lo_hi)
    return f"  ({int(round(alloc.interval_level * 100))}% interval {fmt(lo)} - {fmt(hi)})"


def plan_sections(plan: Plan) -> list[tuple[str, list[tuple[str, str]]]]:
    """The plan as titled sections of (label, value) rows, shared by the text and Markdown renderings."""
    f = units
    alloc, spec, cost = plan.allocation, plan.spec, plan.cost
    budget = [
        ("compute (6ND)", f"{f.format_flops(plan.budget_flops)} = {f.format_pf_days(plan.budget_flops)}"),
        ("from", plan.budget_source),
        (f"{plan.accelerator.name}-hours", f"{cost.gpu_hours:,.0f}"),
        ("wall-clock", f"{f.format_duration(cost.seconds)} on {plan.devices} x {plan.accelerator.name} at {f.format_fraction(plan.mfu)} MFU"),
        ("cost", f.format_usd(cost.cost_usd) + f" at ${cost.price_usd_per_hour:g}/device-hour" if cost.cost_usd is not None else "n/a (give --price)"),
    ]  # fmt: skip
    optimum = [
        ("law", f"{plan.law.name}: {plan.law.source}"),
        ("N_opt", f.format_count(float(alloc.params)) + _fmt_interval(alloc, "params", f.format_count)),
        ("D_opt", f.format_count(float(alloc.tokens)) + _fmt_interval(alloc, "tokens", f.format_count)),
        ("tokens/param", f"{float(alloc.tokens_per_param):.1f}" + _fmt_interval(alloc, "tokens_per_param", lambda x: f"{x:.1f}")),
    ]  # fmt: skip
    if plan.law.has_loss:
        optimum.append(("L*(C)", f"{float(alloc.loss):.4f} nats/token" + _fmt_interval(alloc, "loss", lambda x: f"{x:.4f}")))
    if alloc.epochs is not None:
        optimum.append(("epochs", f"{float(alloc.epochs):.2f} over {f.format_count(alloc.unique_tokens)} unique tokens"))
    if alloc.inference_tokens:
        optimum.append(("lifetime FLOPs", f"{f.format_flops(float(alloc.total_flops))} incl. inference on {f.format_count(alloc.inference_tokens)} tokens"))
    model = [
        ("architecture", spec.describe()),
        ("parameters", f"{spec.params:,} ({f.format_count(spec.params)}; non-embedding {f.format_count(spec.params_non_embedding)})"),
        ("tokens", f"{f.format_count(plan.tokens)} ({plan.tokens_per_param:.1f} per parameter)"),
        ("predicted loss", f"{plan.loss:.4f} nats/token ({plan.law.name})" if plan.loss is not None else "n/a (the law predicts no loss)"),
        ("exact FLOPs", f"{f.format_flops(plan.training_exact.flops)} incl. attention ({plan.training_exact.flops / plan.training.flops - 1:+.1%} vs 6ND)"),
    ]  # fmt: skip
    if plan.compute_optimal_overhead is not None:
        model.append(("vs compute-optimal", f"{plan.compute_optimal_overhead:+.1%} compute for the same loss at this size (Harm's law)"))
    cluster = [("global batch", f"{f.format_count(plan.global_batch_tokens)} tokens ({int(plan.global_batch_tokens // plan.seq_len)} x {plan.seq_len})")]
    if plan.layout:
        lay = plan.layout
        parts = [f"TP {lay.get('tp')}", f"PP {lay.get('pp')}", f"DP {lay.get('dp')}", f"ZeRO {lay.get('zero')}",
                 f"micro-batch {lay.get('micro_batch')}", f"recompute {lay.get('recompute')}"]  # fmt: skip
        if lay.get("sp"):
            parts.append("SP")
        cluster.append(("layout", ", ".join(parts)))
        if lay.get("step_s"):
            comm = lay["tp_comm_s"] + lay["dp_comm_s"] + lay["pp_comm_s"]
            cluster.append((
                "step-time model",
                f"{lay['step_s']:.3g} s/step = compute {lay['compute_s']:.3g} + pipeline bubble {lay['bubble_s']:.2g} + "
                f"communication {comm:.2g} (scaling.layout; ranks the layouts, the wall-clock above uses the MFU)",
            ))  # fmt: skip
    if plan.memory is not None:
        m = plan.memory
        cluster.append(("memory / device", f"{f.format_bytes(m.total_bytes)} of {f.format_bytes(m.capacity_bytes)}" + (" (fits)" if m.fits else " (DOES NOT FIT)")))
        cluster.append(("  weights/master/grads/optimizer", " / ".join(f.format_bytes(x) for x in (m.weights_bytes, m.master_weights_bytes, m.gradients_bytes, m.optimizer_bytes))))
        cluster.append(("  activations/overhead", f"{f.format_bytes(m.activations_bytes)} / {f.format_bytes(m.overhead_bytes)}"))
    return [("Budget", budget), ("Compute-optimal allocation", optimum), ("Model to train", model), ("Cluster", cluster)]


def comparison_rows(plan: Plan) -> list[list[str]]:
    rows = [["this plan", units.format_count(plan.spec.params), units.format_count(plan.tokens), f"{plan.tokens_per_param:.1f}",
             f"{plan.loss:.4f}" if plan.loss is not None else "-"]]  # fmt: skip
    for c in plan.comparisons:
        rows.append([c.label, units.format_count(c.params), units.format_count(c.tokens), f"{c.tokens_per_param:.1f}",
                     f"{c.loss:.4f}" if c.loss is not None else ("-" if c.kind != "model" else f"({units.format_flops(c.flops)})")])  # fmt: skip
    return rows


def plan_markdown(plan: Plan) -> str:
    lines = ["# Training plan", ""]
    for title, rows in plan_sections(plan):
        lines += [f"## {title}", "", "| | |", "|---|---|"]
        lines += [f"| {label.strip()} | {value} |" for label, value in rows]
        lines.append("")
    lines += ["## Comparisons", "", "| | params | tokens | tokens/param | loss |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in comparison_rows(plan)]
    lines.append("")
    if plan.warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in plan.warnings] + [""]
    lines += ["## Assumptions", ""] + [f"- {a}" for a in plan.assumptions] + [""]
    return "\n".join(lines)
