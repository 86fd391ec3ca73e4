"""`build_plan`: a `PlanRequest` composed from the package's estimators, one step per function.

1. **Budget** (`scaling.budget.Budget`): FLOPs given, or a cluster's time, dollars or device-hours at the
   assumed MFU, or a given model's 6ND, or the compute a law needs for a target loss.
2. **Allocation**: ``law.optimal(C, unique_tokens=..., inference_tokens=...)`` (`scaling.laws`).
3. **Architecture**: the given model, or ``shape_for_params`` near N_opt (never above ``max_params``); the
   tokens are C / (6 N_exact), so the plan spends exactly the budget under the laws' C = 6ND convention.
4. **Layout and memory**: ``search_layouts`` and ``estimate_memory`` (`scaling.layout`, `scaling.memory`).
5. **Time and cost**: one time, steps x step seconds of the chosen layout's step-time model, and the MFU
   that implies (`scaling.flops.model_flops_utilization`). A budget of time, dollars or device-hours is a
   limit on that time: the FLOPs are sized so the step model finishes within it (and the plan says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from scaling import units
from scaling.budget import Budget
from scaling.errors import ScalingError
from scaling.plan import policy
from scaling.plan.request import DEFAULT_DAYS_WITHOUT_CLUSTER, DEFAULT_SEQ_LEN, PlanRequest
from scaling.plan.result import Comparison, LayoutRow, Plan, StepModel

if TYPE_CHECKING:
    from scaling.laws import Allocation
    from scaling.memory import MemoryBreakdown
    from scaling.model import ModelSpec
    from scaling.serving import ServingAwareOptimum

SIZING_ROUNDS = 8  # rounds of "size the FLOPs to the deadline"; shapes and batches settle in two or three
MAX_PLAN_FLOPS = 1e32  # ~1e6 x the largest published training runs; beyond it shapes and layouts are fiction
KNOWN_MODEL_DECADES = 1.5  # known models within this many decades of the budget are compared


@dataclass(frozen=True)
class Draft:
    """One plan before time and cost: what a budget of ``flops`` buys on ``devices``."""

    flops: float
    allocation: Allocation | None  # None while a given model's FLOPs are being sized (see `with_allocation`)
    spec: ModelSpec
    tokens: float
    seq_len: int
    batch_sequences: int
    layout: LayoutRow | None
    memory: MemoryBreakdown | None
    notes: tuple[str, ...]
    allocated_at: float | None = None  # the FLOPs ``allocation`` was computed for

    @property
    def batch_tokens(self) -> float:
        return float(self.batch_sequences * self.seq_len)

    def key(self) -> tuple[Any, ...]:
        layout = tuple(sorted((k, str(v)) for k, v in (self.layout or {}).items() if not k.endswith("_s")))
        return self.spec.params, self.batch_sequences, layout


def build_plan(request: PlanRequest) -> Plan:
    """The plan for ``request``: budget -> allocation -> architecture -> layout and memory -> time and cost."""
    budget = initial_budget(request)
    devices = request.devices or devices_for_deadline(request, budget.flops)
    draft = _draft(request, budget.flops, devices)
    seconds = resource_seconds(request, budget, devices)
    if seconds is not None and draft.layout is not None:
        draft, budget = _fit_to_deadline(request, budget, devices, seconds, draft)
    return _assemble(request, budget, devices, with_allocation(request, draft))


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
            f"budget {budget.flops:.3g} FLOPs is beyond what the plan models (at most {MAX_PLAN_FLOPS:.0e} FLOPs, "
            "about a million times the largest published training runs)"
        )
    return budget


def _model_to_loss(request: PlanRequest, loss: float) -> Budget:
    """A given model trained until the law predicts ``loss``: the tokens that takes, as a 6ND budget."""
    from scaling.serving.optimum import training_tokens_for_loss

    spec = fixed_spec(request)
    Budget.of_loss(request.law, loss)  # the law predicts a loss and ``loss`` is above its floor
    tokens = training_tokens_for_loss(request.law, float(spec.params), loss)
    if not math.isfinite(tokens):
        raise ScalingError(
            f"--target-loss {loss:g}: {spec.name} ({units.format_count(spec.params)} params) never reaches it under "
            f"law {request.law.name!r}, however long it trains; give a larger model or a higher loss"
        )
    budget = Budget.of_model(spec, tokens)
    return replace(budget, kind="target-loss", source=f"{budget.source}, the tokens that reach loss {loss:g}")


def resource_seconds(request: PlanRequest, budget: Budget, devices: int) -> float | None:
    """The wall-clock limit a budget of time, dollars or device-hours puts on ``devices``; None otherwise."""
    if budget.kind == "time":
        return request.seconds
    if budget.kind == "gpu-hours" and request.gpu_hours is not None:
        return request.gpu_hours * units.SECONDS_PER_HOUR / devices
    if budget.kind == "usd" and request.usd is not None:
        price = request.price if request.price is not None else request.accelerator.price_usd_per_hour
        return None if price is None else request.usd / price * units.SECONDS_PER_HOUR / devices
    return None


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
            f"training {flops:.3g} FLOPs in {DEFAULT_DAYS_WITHOUT_CLUSTER:g} days at {request.mfu:.3g} MFU needs "
            f"more than {MAX_DEVICES:.0e} {request.accelerator.name} devices: give --gpus, or a realistic MFU"
        )
    return max(8, 2 ** math.ceil(math.log2(max(1.0, needed))))


def _fit_to_deadline(
    request: PlanRequest, budget: Budget, devices: int, seconds: float, draft: Draft
) -> tuple[Draft, Budget]:
    """Size the FLOPs so steps x step seconds of the chosen layout equal ``seconds``, starting from ``draft``
    (the plan at the budget's assumed-MFU FLOPs).

    Each round re-plans at the FLOPs the previous layout's step time affords; it stops when the shape,
    batch and layout repeat (the time is then exact) or after `SIZING_ROUNDS`."""
    from scaling.flops import six_nd

    flops, previous = budget.flops, None
    for _ in range(SIZING_ROUNDS):
        if draft.layout is None:
            break
        tokens = seconds * draft.batch_tokens / float(draft.layout["step_s"])
        flops = float(six_nd(float(draft.spec.params), tokens))
        if draft.key() == previous and math.isclose(flops, draft.flops, rel_tol=1e-12):
            break
        previous = draft.key()
        draft = _draft(request, flops, devices)
    if draft.layout is not None:  # the time is exact for this shape and layout
        tokens = seconds * draft.batch_tokens / float(draft.layout["step_s"])
        flops = float(six_nd(float(draft.spec.params), tokens))
        draft = replace(draft, flops=flops, tokens=tokens)
    source = f"{budget.source}; FLOPs sized so the layout's step-time model finishes in {units.format_duration(seconds)}"
    sized = replace(budget, flops=flops, source=source)
    return draft, sized


# ------------------------------------------------------------------------------- allocation, shape
def allocate(request: PlanRequest, flops: float) -> tuple[Allocation, list[str]]:
    """The law's allocation for ``flops``; with inference demand, the one whose training spends ``flops``."""
    law = request.law
    allocation = law.optimal(
        flops, unique_tokens=request.unique_tokens, inference_tokens=request.inference_tokens
    )
    notes: list[str] = []
    if request.inference_tokens and float(allocation.flops) > flops * (1 + 1e-9):
        allocation = _inference_aware_within_budget(request, flops)
        notes.append(
            "inference-aware (Sardana et al. 2024): the smallest-lifetime-compute model whose training compute is "
            f"the budget; it reaches L*({units.format_flops(float(allocation.budget_flops))}) with "
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
            f"{units.format_flops(budget)} serves that many tokens more cheaply than a model 1e12 times smaller"
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
        request.seq_len or DEFAULT_SEQ_LEN,
        request.shape_style,
    )


@lru_cache(maxsize=64)
def _standard_shape(params: float, vocab_size: int, n_ctx: int, style: str) -> ModelSpec:
    """`shape_for_params` for a given --params, once per plan (the deadline sizing asks for it every round)."""
    from scaling.model import shape_for_params

    return shape_for_params(params, vocab_size=vocab_size, n_ctx=n_ctx, style=style)


def choose_spec(request: PlanRequest, allocation: Allocation) -> ModelSpec:
    """A standard shape near N_opt, never above ``max_params`` (the shape rule rounds down under it)."""
    from scaling.model import shape_for_params

    target = float(allocation.params)
    limit = request.max_params
    if limit is not None:
        target = min(target, limit)

    def shape(params: float) -> ModelSpec:
        return shape_for_params(
            params,
            vocab_size=request.vocab_size,
            n_ctx=request.seq_len or DEFAULT_SEQ_LEN,
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

    if request.fixed_model:  # a given model: the allocation is only its reference, computed at the end
        allocation, notes, spec = None, [], fixed_spec(request)
    else:
        allocation, notes = allocate(request, flops)
        spec = choose_spec(request, allocation)
    tokens = flops / float(six_nd(float(spec.params), 1.0))
    seq = int(request.seq_len or spec.n_ctx)
    batch = batch_sequences(request, flops, seq)
    layout, memory = layout_and_memory(request, spec, devices, batch, seq)
    return Draft(flops, allocation, spec, tokens, seq, batch, layout, memory, tuple(notes), flops)


def with_allocation(request: PlanRequest, draft: Draft) -> Draft:
    """The draft with the law's allocation at its final FLOPs: computed once at the end for a given model
    (the allocation is only its reference), or again when the deadline sizing moved the FLOPs."""
    if draft.allocation is not None and draft.allocated_at == draft.flops:
        return draft
    allocation, notes = allocate(request, draft.flops)
    return replace(draft, allocation=allocation, notes=tuple(notes), allocated_at=draft.flops)


def batch_sequences(request: PlanRequest, flops: float, seq_len: int) -> int:
    """Sequences per global batch: the given tokens or the default for this compute
    (`scaling.layout.default_global_batch_tokens`), rounded as the layout search rounds them."""
    from scaling.layout import default_global_batch_tokens, global_batch_sequences

    tokens = request.global_batch_tokens or float(default_global_batch_tokens(flops))
    return global_batch_sequences(tokens, seq_len)


def layout_and_memory(
    request: PlanRequest, spec: ModelSpec, devices: int, global_batch: int, seq: int
) -> tuple[LayoutRow | None, MemoryBreakdown]:
    """The fastest layout that fits (`scaling.layout.search_layouts`) and its memory (`estimate_memory`);
    without one, the memory of the leanest layout (ZeRO-3, full recompute) to show how far off it is."""
    from scaling.layout import search_layouts
    from scaling.memory import estimate_memory

    common = dict(
        mode="train",
        precision=request.dtype,
        devices=devices,
        accelerator=request.accelerator,
        seq_len=seq,
        flash_attention=request.flash_attention,
    )
    columns, _attrs = search_layouts(
        spec,
        devices=devices,
        accelerator=request.accelerator,
        global_batch=global_batch,
        seq_len=seq,
        mfu=request.mfu,
        precision=request.dtype,
        flash_attention=request.flash_attention,
        top=1,
        as_frame=False,
    )
    if len(columns["tp"]) == 0:
        return None, estimate_memory(spec, zero=3, recompute="full", micro_batch=1, **common)
    layout = {k: (v[0].item() if hasattr(v[0], "item") else v[0]) for k, v in columns.items()}
    kwargs = {k: layout[k] for k in ("tp", "pp", "zero", "recompute", "micro_batch", "sp") if k in layout}
    kwargs["sp"] = bool(kwargs.get("sp", False))
    memory = estimate_memory(spec, global_batch=global_batch, **kwargs, **common)
    layout["global_batch"] = global_batch
    return layout, memory


# ------------------------------------------------------------------------------------ time, result
def step_model(request: PlanRequest, draft: Draft, devices: int) -> StepModel:
    """The plan's one time: steps x step seconds of its layout, and the MFU that implies."""
    from scaling.flops import model_flops_utilization, six_nd

    peak = request.accelerator.peak(request.dtype)
    steps = draft.tokens / draft.batch_tokens
    model_flops = float(six_nd(float(draft.spec.params), draft.tokens))
    if draft.layout is not None:
        step_s = float(draft.layout["step_s"])
        seconds = steps * step_s
        mfu = model_flops_utilization(
            model_flops, devices=devices, peak_flops_per_device=peak, seconds=seconds
        )
        hfu = draft.layout.get("hfu")
        source = "the layout's step-time model (compute + pipeline bubble + communication; scaling.layout)"
        return StepModel(steps, step_s, seconds, float(mfu), None if hfu is None else float(hfu), source)
    seconds = model_flops / (devices * peak * request.mfu)
    source = "the assumed MFU (no layout fits)"
    return StepModel(steps, seconds / steps, seconds, request.mfu, None, source)


def _assemble(request: PlanRequest, budget: Budget, devices: int, draft: Draft) -> Plan:
    from scaling.flops import compute_cost, training_flops

    spec, tokens = draft.spec, draft.tokens
    step = step_model(request, draft, devices)
    training = training_flops(spec, tokens, convention="6nd")
    cost = compute_cost(
        training.flops,
        accelerator=request.accelerator,
        devices=devices,
        mfu=min(step.mfu, 1.0),
        dtype=request.dtype,
        price_usd_per_hour=request.price,
    )
    loss = policy.plan_loss(request.law, spec.params, tokens, request.unique_tokens)
    overhead = policy.equal_loss_overhead(request.law, budget.flops, loss) if request.fixed_model else None
    return Plan(
        question=_question(request),
        budget=budget,
        law=request.law,
        allocation=draft.allocation,
        spec=spec,
        tokens=float(tokens),
        training=training,
        training_exact=training_flops(spec, tokens, convention="exact", seq_len=draft.seq_len),
        cost=cost,
        step=step,
        loss=loss,
        layout=draft.layout,
        memory=draft.memory,
        accelerator=request.accelerator,
        devices=int(devices),
        mfu=request.mfu,
        dtype=request.dtype,
        seq_len=draft.seq_len,
        global_batch_tokens=draft.batch_tokens,
        comparisons=tuple(comparisons(request.law, budget.flops)),
        compute_optimal_overhead=overhead,
        serving=serving_options(request, budget, devices),
        warnings=policy.plan_warnings(request, draft.allocation, spec, tokens, draft.layout, devices),
        assumptions=policy.plan_assumptions(request, budget, draft, devices, step, cost),
        inputs=request.inputs,
    )


def serving_options(request: PlanRequest, budget: Budget, devices: int) -> ServingAwareOptimum | None:
    """With --serve-on: the compute-optimal, FLOP-priced and serving-priced sizes that reach L*(budget), each
    priced for training on the plan's cluster and serving the inference tokens (`scaling.serving`)."""
    if request.serve_on is None or not request.inference_tokens:
        return None
    from scaling.serving import serving_aware_optimum
    from scaling.units import ClusterSpec

    return serving_aware_optimum(
        request.law,
        budget.flops,
        inference_tokens=request.inference_tokens,
        serve_on=request.serve_on,
        train_on=ClusterSpec(devices, request.accelerator.name),
        train_mfu=request.mfu,
        price_usd_per_hour=request.price,
    )


def _question(request: PlanRequest) -> str:
    if request.fixed_model:
        return "reverse"
    return "target-loss" if request.target_loss is not None else "budget"


# ------------------------------------------------------------------------------------- comparisons
def comparisons(law: Any, budget: float) -> list[Comparison]:
    """The 20-tokens-per-parameter rule, the other laws' optima and well-known models near ``budget``,
    each with its loss under ``law`` where ``law`` predicts one."""
    from scaling.flops import FLOPS_PER_PARAM_TOKEN
    from scaling.laws import COMPARISON_LAWS, get_law
    from scaling.laws.rules import TOKENS_PER_PARAM

    def loss(params: float, tokens: float) -> float | None:
        return float(law.predict(params, tokens)) if law.has_loss else None

    n_rule = math.sqrt(budget / (FLOPS_PER_PARAM_TOKEN * TOKENS_PER_PARAM))  # 6 N (20 N) = C
    d_rule = TOKENS_PER_PARAM * n_rule
    rows = [
        Comparison(
            "20 tokens/param rule",
            n_rule,
            d_rule,
            budget,
            loss(n_rule, d_rule),
            "Hoffmann et al. 2022, Table 3 (rounded)",
            "rule",
        )
    ]
    for name in COMPARISON_LAWS:
        other = get_law(name)
        if other.name == law.name:
            continue
        alloc = other.optimal(budget, intervals=False)
        params, tokens = float(alloc.params), float(alloc.tokens)
        rows.append(
            Comparison(
                f"law: {other.name}", params, tokens, budget, loss(params, tokens), other.source, "law"
            )
        )
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
