"""`build_plan`: a `PlanRequest` composed from the package's estimators, one step per function.

1. **Budget** (`scaling.budget.Budget`): FLOPs given, or a cluster's time, dollars or device-hours at the
   MFU (devices x peak x MFU x time), or a given model's 6ND, or the compute a law needs for a target loss.
2. **Allocation**: ``law.optimal(C, unique_tokens=..., inference_tokens=...)`` (`scaling.laws`).
3. **Architecture**: the given model, or ``shape_for_params`` near N_opt (never above ``max_params``); the
   tokens are C / (6 N_exact), so the plan spends exactly the budget under the laws' C = 6ND convention.
4. **Layout and memory**: ``search_layouts`` and ``estimate_memory`` (`scaling.layout`, `scaling.memory`).
5. **Time and cost**: 6ND / (devices x peak x MFU), MFU being end-to-end model FLOPs utilization (Chowdhery
   et al. 2022, App. B); the chosen layout's step-time model explains that time (compute, pipeline bubble,
   communication, and the kernel efficiency the compute needs) and says when the MFU is out of its reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from scaling import units
from scaling.budget import Budget
from scaling.cluster import Cluster
from scaling.errors import ScalingError
from scaling.plan import policy, recipe_section
from scaling.plan.quantized import plan_quantized
from scaling.plan.request import (
    DEFAULT_DAYS_WITHOUT_CLUSTER,
    PlanRequest,
    serving_assumptions,
    serving_calibration_notes,
)
from scaling.plan.result import Comparison, LayoutRow, Plan, PlanTime

if TYPE_CHECKING:
    from scaling.flops import TrainingFlops
    from scaling.laws import Allocation
    from scaling.layout import DefaultBatch
    from scaling.memory import MemoryBreakdown
    from scaling.model import ModelSpec
    from scaling.serving import ServingAwareOptimum

MAX_PLAN_FLOPS = 1e32  # ~1e6 x the largest published training runs; beyond it shapes and layouts are fiction
# Serving demand beyond this many times the training budget, even on the smallest model a plan builds, leaves
# the budget nothing to decide: lifetime compute is all serving, and the laws are extrapolated to models far
# below any they were fitted on (judgement).
MAX_SERVING_OVER_TRAINING = 1e6
KNOWN_MODEL_DECADES = 1.5  # known models within this many decades of the budget are compared


@dataclass(frozen=True)
class Draft:
    """One plan before time and cost: what a budget of ``flops`` buys on ``devices``."""

    flops: float
    allocation: Allocation | None  # None for a given model until `with_allocation`
    spec: ModelSpec
    tokens: float
    seq_len: int
    batch_sequences: int  # the layout's global batch: the target rounded to its DP x micro-batch
    batch: DefaultBatch  # the target and why
    layout: LayoutRow | None
    memory: MemoryBreakdown | None
    notes: tuple[str, ...]
    serving: ServingAwareOptimum | None = None  # with --serve-on, the options the model was chosen from
    hardware_ratio: float = 1.0  # exact hardware FLOPs (with attention) over 6ND, without recomputation

    @property
    def batch_tokens(self) -> float:
        return float(self.batch_sequences * self.seq_len)


def build_plan(request: PlanRequest) -> Plan:
    """The plan for ``request``:
    budget -> allocation -> architecture -> layout and memory -> time and cost. With a calibration, the MFU
    is the one its step model predicts for the plan's own model, batch and layout."""
    if request.moe_law is not None:
        raise ScalingError("a --moe plan is built by scaling.plan.moe.build_moe_plan ('scaling plan --moe')")
    if request.calibration is not None:
        request = calibrated_request(request)
    budget = initial_budget(request)
    devices = request.devices or devices_for_deadline(request, budget.flops)
    draft = with_allocation(request, _draft(request, budget.flops, devices))
    return _assemble(request, budget, devices, draft)


CALIBRATION_PASSES = 3  # the MFU sizes the model and the model the MFU: three passes settle it (<0.1%)


def calibrated_request(request: PlanRequest) -> PlanRequest:
    """The request at the MFU its calibration predicts for the plan's own model, batch and layout."""
    from scaling.calibration.apply import calibration_note
    from scaling.calibration.training import calibrated_mfu

    cal = request.calibration
    cal.check_for(request.accelerator)
    current = replace(request, calibration=None)
    for _ in range(CALIBRATION_PASSES):
        plan = build_plan(current)
        cluster = Cluster.of(request.accelerator, plan.devices, devices_per_node=request.devices_per_node)
        mfu = calibrated_mfu(
            cal,
            plan.spec,
            cluster,
            seq_len=plan.seq_len,
            batch_tokens=plan.global_batch_tokens,
            dtype=request.dtype,
        )
        current = replace(current, mfu=mfu)
    return replace(current, calibration_notes=(calibration_note(cal, current.mfu),))


# ------------------------------------------------------------------------------------------ budget
def initial_budget(request: PlanRequest) -> Budget:
    """The budget at the assumed MFU (a time, dollar or device-hour budget is re-sized to the step model)."""
    r = request
    if r.flops is not None:
        budget = Budget.of_flops(r.flops)
    elif r.seconds is not None:
        budget = Budget.of_time(r.accelerator, int(r.devices or 0), r.seconds, r.mfu, r.dtype)
    elif r.usd is not None:
        budget = Budget.of_usd(r.usd, r.price, r.accelerator, r.mfu, r.dtype)
    elif r.gpu_hours is not None:
        budget = Budget.of_gpu_hours(r.gpu_hours, r.accelerator, r.mfu, r.dtype)
    elif r.target_loss is not None:
        budget = (
            Budget.of_loss(r.law, r.target_loss) if not r.fixed_model else _model_to_loss(r, r.target_loss)
        )
    else:
        spec = fixed_spec(r)
        budget = Budget.of_model(spec, r.tokens if r.tokens is not None else float(spec.training_tokens or 0))
    if budget.flops > MAX_PLAN_FLOPS:
        raise ScalingError(
            f"budget {budget.flops:.3g} FLOPs is beyond what the plan models (at most "
            f"{MAX_PLAN_FLOPS:.0e} FLOPs, about a million times the largest published training runs)"
        )
    check_inference_demand(r, budget.flops)
    return budget


def check_inference_demand(request: PlanRequest, flops: float) -> None:
    """Refuse --inference-tokens that even the smallest model a plan builds would serve only at more than
    `MAX_SERVING_OVER_TRAINING` times the training budget ``flops``: checked before the inference-aware
    search, which would otherwise spend seconds bracketing an answer that means nothing."""
    tokens = request.inference_tokens
    if not tokens or request.fixed_model:
        return
    from scaling.model.shapes import smallest_shape

    smallest = float(smallest_shape(request.vocab_size, request.context, request.shape_style).params)
    serving = 2.0 * smallest * tokens  # a forward pass: 2N FLOPs per token (Kaplan et al. 2020, Sec. 2.1)
    if serving > MAX_SERVING_OVER_TRAINING * flops:
        raise ScalingError(
            f"--inference-tokens {units.format_count(tokens)}: serving them on even the smallest model a "
            f"plan builds ({units.format_count(smallest)} params) takes {units.format_flops(serving)}, more "
            f"than {MAX_SERVING_OVER_TRAINING:,.0f} times the training budget of "
            f"{units.format_flops(flops)}; give fewer inference tokens or a larger budget"
        )


def _model_to_loss(request: PlanRequest, loss: float) -> Budget:
    """A given model trained until the law predicts ``loss``: the tokens that takes, as a 6ND budget."""
    from scaling.serving.optimum import training_tokens_for_loss

    spec = fixed_spec(request)
    Budget.of_loss(request.law, loss)  # the law predicts a loss and ``loss`` is above its floor
    tokens = training_tokens_for_loss(request.law, float(spec.params), loss)
    if not math.isfinite(tokens):
        raise ScalingError(
            f"--target-loss {loss:g}: {spec.name} ({units.format_count(spec.params)} params) never "
            f"reaches it under law {request.law.name!r}, however long it trains; give a larger model or "
            "a higher loss"
        )
    budget = Budget.of_model(spec, tokens)
    return replace(budget, kind="target-loss", source=f"{budget.source}, the tokens that reach loss {loss:g}")


def devices_for_deadline(request: PlanRequest, flops: float) -> int:
    """Without a cluster: the smallest power of two (8 at least) of devices that trains ``flops`` within
    `DEFAULT_DAYS_WITHOUT_CLUSTER` days at the assumed MFU. Powers of two keep data parallelism,
    micro-batches and the global batch divisible."""
    from scaling.memory.parallel import MAX_DEVICES

    peak = request.accelerator.peak(request.dtype)
    per_device = peak * request.mfu * DEFAULT_DAYS_WITHOUT_CLUSTER * units.SECONDS_PER_DAY
    needed = flops / per_device
    if not needed <= MAX_DEVICES:
        raise ScalingError(
            f"training {flops:.3g} FLOPs in {DEFAULT_DAYS_WITHOUT_CLUSTER:g} days at {request.mfu:.3g} "
            f"MFU needs more than {MAX_DEVICES:.0e} {request.accelerator.name} devices: give --gpus, or "
            "a realistic MFU"
        )
    return max(8, 2 ** math.ceil(math.log2(max(1.0, needed))))


# ------------------------------------------------------------------------------- allocation, shape
def allocate(request: PlanRequest, flops: float, *, intervals: bool = True) -> tuple[Allocation, list[str]]:
    """The law's allocation for ``flops``; with inference demand, the one whose training spends ``flops``."""
    law = request.law
    allocation = law.optimal(
        flops,
        unique_tokens=request.unique_tokens,
        inference_tokens=request.inference_tokens,
        intervals=intervals,
    )
    notes: list[str] = []
    if request.inference_tokens and float(allocation.flops) > flops * (1 + 1e-9):
        allocation = _inference_aware_within_budget(request, flops)
        notes.append(
            "inference-aware (Sardana et al. 2024): the smallest-lifetime-compute model whose "
            "training compute is the budget; it reaches "
            f"L*({units.format_flops(float(allocation.budget_flops))}) with "
            f"{units.format_count(request.inference_tokens)} inference tokens"
        )
    return allocation, notes


def _inference_aware_within_budget(request: PlanRequest, budget: float) -> Allocation:
    """`law.optimal(C0, inference_tokens=...)` for the C0 whose training FLOPs equal the budget.

    The law answers "reach L*(C0) at the least lifetime compute", whose training FLOPs exceed C0; a plan
    has a fixed training budget, so it asks that question for the C0 that spends exactly the budget.
    """
    from scipy.optimize import brentq

    law, unique, inference = request.law, request.unique_tokens, request.inference_tokens

    def excess(log_c0: float) -> float:
        alloc = law.optimal(10.0**log_c0, unique_tokens=unique, inference_tokens=inference)
        return math.log(float(alloc.flops) / budget)

    high = math.log10(budget)
    low = high - 1.0
    while excess(low) > 0 and low > high - 12:
        low -= 1.0
    if excess(low) > 0:
        raise ScalingError(
            f"--inference-tokens {units.format_count(inference or 0)}: no model trained on "
            f"{units.format_flops(budget)} serves that many tokens more cheaply than a model 1e12 "
            "times smaller"
        )
    log_c0 = brentq(excess, low, high, xtol=1e-9)
    return law.optimal(10.0**log_c0, unique_tokens=unique, inference_tokens=inference)


def fixed_spec(request: PlanRequest) -> ModelSpec:
    """The model the user fixed: a MODEL, or a standard shape for --params."""
    if request.model is not None:
        return request.model
    return _standard_shape(
        float(request.params or 0),
        request.vocab_size,
        request.context,
        request.shape_style,
    )


@lru_cache(maxsize=64)
def _standard_shape(params: float, vocab_size: int, n_ctx: int, style: str) -> ModelSpec:
    """`shape_for_params` for a given --params, once per plan (the deadline sizing asks for it
    every round)."""
    from scaling.model import shape_for_params

    return shape_for_params(params, vocab_size=vocab_size, n_ctx=n_ctx, style=style)


def choose_spec(request: PlanRequest, allocation: Allocation) -> ModelSpec:
    """A standard shape near N_opt, never above ``max_params`` (the shape rule rounds down under it)."""
    return shape_near(request, float(allocation.params))


def shape_near(request: PlanRequest, params: float) -> ModelSpec:
    """The standard shape near ``params``, never above ``max_params``; below the smallest standard shape (a
    law extrapolated far below its runs can ask for fewer parameters than the embeddings hold), that one."""
    from scaling.model.shapes import shape_for_params, smallest_shape

    smallest = smallest_shape(request.vocab_size, request.context, request.shape_style)
    target = max(params, float(smallest.params))
    limit = request.max_params
    if limit is not None:
        target = min(target, limit)

    def shape(params: float) -> ModelSpec:
        return shape_for_params(
            params,
            vocab_size=request.vocab_size,
            n_ctx=request.context,
            style=request.shape_style,
            name=f"plan-{units.format_count(params).lower()}",
        )

    spec = shape(target)
    for _ in range(40):
        if limit is None or spec.params <= limit:
            return spec
        target *= 0.995 * limit / spec.params
        spec = shape(target)
    raise ScalingError(
        f"no {request.shape_style} shape has at most --max-params {units.format_count(limit or 0)}"
    )


def _draft(request: PlanRequest, flops: float, devices: int) -> Draft:
    from scaling.flops import six_nd

    serving = None
    if request.fixed_model:  # a given model: the allocation is only its reference, computed at the end
        allocation, notes, spec = None, [], fixed_spec(request)
    else:
        allocation, notes = allocate(request, flops)
        spec = choose_spec(request, allocation)
        if request.serve_on is not None and request.inference_tokens:
            serving = serving_priced_within_budget(request, flops, devices)
            spec = shape_near(request, serving.best.params)
            notes.append(
                f"serving-priced: the size that reaches loss {units.format_loss(serving.target_loss)} at "
                f"the least training plus serving cost on {request.serve_on}, trained on the whole budget "
                "(scaling.serving)"
            )
    tokens = flops / float(six_nd(float(spec.active_params), 1.0))  # a MoE's compute is its active params
    seq = int(request.seq_len or spec.n_ctx)
    target = batch_target(request, spec, tokens, seq)
    layout, memory = layout_and_memory(request, spec, devices, target, seq)
    batch = int(layout["global_batch"]) if layout is not None else max(1, round(target.tokens / seq))
    return Draft(flops, allocation, spec, tokens, seq, batch, target, layout, memory, tuple(notes), serving)


def with_allocation(request: PlanRequest, draft: Draft) -> Draft:
    """The draft with the law's allocation: a given model's is computed at the end (it is only the
    reference the model is compared with)."""
    if draft.allocation is not None:
        return draft
    allocation, notes = allocate(request, draft.flops)
    return replace(draft, allocation=allocation, notes=(*draft.notes, *notes))


def batch_target(request: PlanRequest, spec: ModelSpec, tokens: float, seq: int) -> DefaultBatch:
    """The global batch the layout search rounds to each layout: --global-batch-tokens, else the one
    default (`scaling.layout.default_global_batch`: the --hp-law's B_opt, DeepSeek LLM's by default)."""
    from scaling.flops import six_nd
    from scaling.layout import DefaultBatch, default_global_batch

    if request.global_batch_tokens is not None:
        flops = float(six_nd(float(spec.active_params), tokens))
        return DefaultBatch(float(request.global_batch_tokens), flops, "--global-batch-tokens")
    return default_global_batch(spec, tokens, seq, hp_law=request.hp_law, law=request.law)


def layout_and_memory(
    request: PlanRequest, spec: ModelSpec, devices: int, target: DefaultBatch, seq: int
) -> tuple[LayoutRow | None, MemoryBreakdown]:
    """The layout that fits and reaches the highest MFU (`scaling.layout.search_layouts`) and its memory
    (`estimate_memory`); without one, the memory of the leanest layout (ZeRO-3, full recompute) to show how
    far off it is."""
    from scaling.layout import search_layouts
    from scaling.memory import Parallelism, Precision, Workload, estimate_memory

    cluster = Cluster.of(request.accelerator, devices, devices_per_node=request.devices_per_node)
    precision = Precision.of(request.dtype)
    workload = Workload.of(seq_len=seq, flash_attention=request.flash_attention)
    columns, _attrs = search_layouts(
        spec,
        cluster=cluster,
        workload=workload,
        precision=precision,
        batch_tokens=target.tokens,
        mfu=request.mfu,
        top=1,
        as_frame=False,
    )
    common = dict(mode="train", precision=precision, cluster=cluster)
    if len(columns["tp"]) == 0:
        leanest = Parallelism.of(zero=3)
        return None, estimate_memory(
            spec, parallel=leanest, workload=replace(workload, recompute="full", micro_batch=1), **common
        )
    layout = {k: (v[0].item() if hasattr(v[0], "item") else v[0]) for k, v in columns.items()}
    parallel = Parallelism.of(
        tp=layout["tp"],
        pp=layout["pp"],
        ep=layout.get("ep", 1),
        etp=layout.get("etp") if spec.is_moe else None,
        zero=layout["zero"],
        sp=bool(layout["sp"]),
    )
    chosen = replace(
        workload,
        recompute=str(layout["recompute"]),
        micro_batch=int(layout["micro_batch"]),
        global_batch=int(layout["global_batch"]),
    )
    memory = estimate_memory(spec, parallel=parallel, workload=chosen, **common)
    return layout, memory


# ------------------------------------------------------------------------------------ time, result
def plan_time(request: PlanRequest, draft: Draft, devices: int, training: TrainingFlops) -> PlanTime:
    """The plan's one time, 6ND / (devices x peak x MFU), and how its layout's step-time model explains it.

    Refuses a plan whose hardware FLOPs would need more than the devices' peak (HFU above 100%)."""
    peak = request.accelerator.peak(request.dtype)
    seconds = training.flops / (devices * peak * request.mfu)
    steps = draft.tokens / draft.batch_tokens
    lay = draft.layout
    if lay is None:
        hfu = request.mfu * draft.hardware_ratio
        time = PlanTime(steps, seconds / steps, seconds, hfu, source="the MFU alone (no layout fits)")
    else:
        time = PlanTime(
            steps,
            seconds / steps,
            seconds,
            float(lay["hfu"]),
            compute_seconds=float(lay["compute_s"]),
            bubble_seconds=float(lay["bubble_s"]),
            communication_seconds=float(lay["tp_comm_s"] + lay["dp_comm_s"] + lay["pp_comm_s"]),
            kernel_efficiency=float(lay["kernel_efficiency"]),
            max_mfu=float(lay["max_mfu"]),
            source="6ND / (devices x peak x MFU), explained by the layout's step-time model (scaling.layout)",
        )
    policy.check_hfu(request, draft, time)
    return time


def _assemble(request: PlanRequest, budget: Budget, devices: int, draft: Draft) -> Plan:
    from scaling.cost import compute_cost
    from scaling.flops import training_flops

    spec, tokens = draft.spec, draft.tokens
    training = training_flops(spec, tokens, convention="6nd")
    exact = training_flops(spec, tokens, convention="exact", seq_len=draft.seq_len)
    draft = replace(draft, hardware_ratio=exact.flops / training.flops)
    time = plan_time(request, draft, devices, training)
    cost = compute_cost(
        training.flops,
        accelerator=request.accelerator,
        devices=devices,
        mfu=request.mfu,
        dtype=request.dtype,
        price_usd_per_hour=request.price,
    )
    from scaling.energy import footprint

    used = footprint(
        request.accelerator, device_hours=cost.gpu_hours, seconds=cost.seconds, **request.footprint
    )
    loss = policy.plan_loss(request.law, spec.params, tokens, request.unique_tokens)
    overhead = policy.equal_loss_overhead(request.law, budget.flops, loss) if request.fixed_model else None
    serving = draft.serving or serving_options(request, budget.flops, devices)
    recipe = recipe_section.plan_recipe(request, draft)
    return Plan(
        question=_question(request),
        budget=budget,
        law=request.law,
        allocation=draft.allocation,
        spec=spec,
        tokens=float(tokens),
        training=training,
        training_exact=exact,
        cost=cost,
        step=time,
        loss=loss,
        layout=draft.layout,
        memory=draft.memory,
        accelerator=request.accelerator,
        devices=int(devices),
        mfu=request.mfu,
        dtype=request.dtype,
        seq_len=draft.seq_len,
        global_batch_tokens=draft.batch_tokens,
        batch_reason=draft.batch.reason,
        comparisons=tuple(comparisons(request, budget.flops)),
        compute_optimal_overhead=overhead,
        unique_tokens=request.unique_tokens,
        serving=serving,
        quantized=plan_quantized(request, spec.params, float(tokens), loss, serving),
        warnings=policy.plan_warnings(request, draft.allocation, spec, tokens, draft.layout, devices, time),
        assumptions=policy.plan_assumptions(request, budget, draft, devices, time, cost)
        + tuple(used.assumptions())
        + request.calibration_notes
        + serving_calibration_notes(request),
        inputs=request.inputs,
        recipe=recipe,
        downstream=recipe_section.plan_downstream(request, spec.params, float(tokens), loss),
        loss_curve=recipe_section.plan_curve(request, recipe, spec.params),
        footprint=used,
    )


def serving_options(request: PlanRequest, flops: float, devices: int) -> ServingAwareOptimum | None:
    """With --serve-on: the compute-optimal, FLOP-priced and serving-priced sizes that reach L*(``flops``),
    each priced for training on the plan's cluster and serving the inference tokens (`scaling.serving`)."""
    if request.serve_on is None or not request.inference_tokens:
        return None
    from scaling.serving import serving_aware_optimum
    from scaling.serving.search import ServingWorkload

    return serving_aware_optimum(
        request.law,
        flops,
        inference_tokens=request.inference_tokens,
        serve_on=request.serve_on,
        train_on=Cluster.of(request.accelerator, devices),
        train_mfu=request.mfu,
        price_usd_per_hour=request.price,
        workload=ServingWorkload(quant=request.post_quant),
        assumptions=serving_assumptions(request),
    )


def serving_priced_within_budget(request: PlanRequest, budget: float, devices: int) -> ServingAwareOptimum:
    """The serving options for the loss L*(C0) whose serving-priced model trains on exactly ``budget``.

    `serving_aware_optimum` answers "reach L*(C0) at the least training plus serving dollars", and its
    answer trains longer than C0; a plan has a fixed training budget, so it asks that question for the C0
    whose serving-priced model spends the budget (to the search's size grid)."""
    from scipy.optimize import brentq

    def excess(log_c0: float) -> float:
        options = serving_options(request, 10.0**log_c0, devices)
        return math.log(options.best.training_flops / budget)

    high = math.log10(budget)
    low = high - 0.5
    while excess(low) > 0 and low > high - 6:
        low -= 0.5
    if excess(low) > 0:
        raise ScalingError(
            f"--serve-on {request.serve_on}: no serving-priced model trains within "
            f"{units.format_flops(budget)}"
        )
    log_c0 = high if excess(high) <= 0 else brentq(excess, low, high, xtol=1e-4)
    return serving_options(request, 10.0**log_c0, devices)


def _question(request: PlanRequest) -> str:
    if request.fixed_model:
        return "reverse"
    return "target-loss" if request.target_loss is not None else "budget"


# ------------------------------------------------------------------------------------- comparisons
def comparisons(request: PlanRequest, budget: float) -> list[Comparison]:
    """The 20-tokens-per-parameter rule, the other laws' optima and well-known models near ``budget``.

    Each row is priced under the plan's own constraints: the same training FLOPs, its size never above
    --max-params, each law's optimum with the same --unique-tokens and --inference-tokens, and its loss by
    this law's `predict` with the same unique tokens (`policy.plan_loss`), so no row is scored by rules the
    plan was not."""
    from scaling.flops import FLOPS_PER_PARAM_TOKEN
    from scaling.laws import COMPARISON_LAWS, get_law
    from scaling.laws.rules import TOKENS_PER_PARAM

    law = request.law
    # a size above --max-params becomes the largest shape under it, the one the plan itself would train
    limit = None if request.max_params is None else float(shape_near(request, request.max_params).params)

    def row(label: str, params: float, source: str, kind: str) -> Comparison:
        if limit is not None:
            params = min(params, limit)
        tokens = budget / (FLOPS_PER_PARAM_TOKEN * params)
        loss = policy.plan_loss(law, params, tokens, request.unique_tokens)
        return Comparison(label, params, tokens, budget, loss, source, kind)

    n_rule = math.sqrt(budget / (FLOPS_PER_PARAM_TOKEN * TOKENS_PER_PARAM))  # 6 N (20 N) = C
    rows = [row("20 tokens/param rule", n_rule, "Hoffmann et al. 2022, Table 3 (rounded)", "rule")]
    for name in COMPARISON_LAWS:
        other = get_law(name)
        if other.name == law.name:
            continue
        alloc, _ = allocate(replace(request, law=other), budget, intervals=False)
        rows.append(row(f"law: {other.name}", float(alloc.params), other.source, "law"))
    rows.extend(_known_models_near(budget))
    return rows


def _known_models_near(budget: float, limit: int = 4) -> list[Comparison]:
    from scaling.catalog import known_models

    def distance(m: dict[str, Any]) -> float:
        return abs(math.log10(m["flops"] / budget))

    rows = sorted(known_models(), key=distance)[:limit]
    return [
        Comparison(m["name"], m["params"], m["tokens"], m["flops"], None, m.get("source", ""), "model")
        for m in rows
        if distance(m) <= KNOWN_MODEL_DECADES
    ]
