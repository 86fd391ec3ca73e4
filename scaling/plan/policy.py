"""The plan's rules for loss, distance from compute-optimal, warnings and stated assumptions.

One named function per rule; each warning is raised in one place and appears once. Rules that belong to
another module are called, not copied: MFU plausibility (`scaling.cost.mfu_warning`), repeated data
(`scaling.laws.epochs_warning`), the law's own extrapolation and allocation warnings (`Law.optimal`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from scaling import units
from scaling.cost import default_mfu, default_mfu_source
from scaling.errors import ScalingError
from scaling.laws import EPOCHS_NEARLY_FREE
from scaling.plan.request import DEFAULT_DAYS_WITHOUT_CLUSTER, PlanRequest, budgets_given

if TYPE_CHECKING:
    from scaling.budget import Budget
    from scaling.cost import ComputeCost
    from scaling.laws import Allocation, Law
    from scaling.model import ModelSpec

# Types of the plan modules above this one (compose, result), named in words: they import this module,
# so even a type-checking import of theirs would close a cycle.
Draft = LayoutRow = PlanTime = Any


def plan_loss(law: Law, params: float, tokens: float, unique_tokens: float | None) -> float | None:
    """The law's loss for the plan's model and tokens under the plan's own constraints: with
    ``unique_tokens``, the data-constrained loss (Muennighoff et al. 2023), as the allocation was chosen."""
    if not law.has_loss:
        return None
    return float(law.predict(float(params), float(tokens), unique_tokens=unique_tokens))


def equal_loss_overhead(law: Law, flops: float, loss: float | None) -> float | None:
    """Extra compute of a given model over the compute-optimal one that reaches the same loss:
    ``flops / law.flops_for_loss(loss) - 1`` (compared at equal loss, never at equal compute). None when
    the law predicts no loss or cannot reach it."""
    if loss is None:
        return None
    try:
        optimal = float(law.flops_for_loss(loss))
    except ScalingError:
        return None
    return flops / optimal - 1.0 if math.isfinite(optimal) and optimal > 0 else None


def max_params_warning(optimal_params: float, max_params: float | None) -> str | None:
    """The compute-optimal size is above the user's maximum: the plan trains a smaller model longer."""
    if max_params is None or optimal_params <= max_params:
        return None
    return (
        f"the compute-optimal size {units.format_count(optimal_params)} exceeds --max-params "
        f"{units.format_count(max_params)}: training the smaller model longer"
    )


def smallest_shape_warning(optimal_params: float, spec: ModelSpec) -> str | None:
    """The law asks for fewer parameters than the smallest standard shape holds: the plan trains that one."""
    if spec.params <= 2.0 * optimal_params:
        return None
    return (
        f"the law's compute-optimal size {units.format_count(optimal_params)} is below the smallest standard "
        f"shape with a {spec.vocab_size:,}-entry vocabulary ({units.format_count(spec.params)} params): "
        "the plan trains that one, on fewer tokens than the law's optimum"
    )


def layout_warning(spec: ModelSpec, devices: int, accelerator: str, layout: LayoutRow | None) -> str | None:
    """No parallel layout fits: say so, with what would help."""
    if layout is not None:
        return None
    return (
        f"no parallel layout fits {spec.name} ({units.format_count(spec.params)} params) on {devices} x "
        f"{accelerator}: more devices, more memory per device, or a smaller model"
    )


def check_hfu(request: PlanRequest, draft: Draft, time: PlanTime) -> None:
    """A plan whose hardware FLOPs would need more than the devices' peak is refused, with why
    (`scaling.cost.check_hfu`)."""
    from scaling.cost import check_hfu

    spec = draft.spec
    what = f"{spec.name} ({units.format_count(spec.params)} params, context {draft.seq_len:,})"
    check_hfu(request.mfu, time.hfu, what)


def mfu_reach_warning(mfu: float, time: PlanTime) -> str | None:
    """The MFU is above what the plan's layout can reach with kernels at the step model's ceiling: say so,
    with the highest MFU the layout reaches. The budget and time stay at the MFU given."""
    from scaling.layout import KERNEL_EFFICIENCY_CEILING

    if time.max_mfu is None or time.kernel_efficiency is None or mfu <= time.max_mfu * (1 + 1e-9):
        return None
    need = (
        f"kernels at {units.format_fraction(time.kernel_efficiency)} of peak"
        if math.isfinite(time.kernel_efficiency)
        else "more time than the step has (communication alone fills it)"
    )
    return (
        f"MFU {units.format_fraction(mfu)} is out of this layout's reach: its compute would need {need}, "
        f"and the step model delivers at most {units.format_fraction(KERNEL_EFFICIENCY_CEILING)}; this "
        f"layout reaches at most {units.format_fraction(time.max_mfu)} MFU. Time and cost are still at "
        "the MFU given"
    )


def plan_warnings(
    request: PlanRequest,
    allocation: Allocation,
    spec: ModelSpec,
    tokens: float,
    layout: LayoutRow | None,
    devices: int,
    time: PlanTime,
) -> tuple[str, ...]:
    """Every warning of the plan, each once: the law's (its repeated-data warning replaced by the plan's
    own, for the tokens the plan trains on), MFU plausibility, --max-params, layout."""
    from scaling.cost import mfu_warning
    from scaling.laws import epochs_warning

    law_warnings = list(allocation.warnings)
    unique = request.unique_tokens
    if unique is not None:
        allocation_epochs = epochs_warning(float(allocation.tokens), unique)
        law_warnings = [w for w in law_warnings if w != allocation_epochs]
    rules = [
        *law_warnings,
        epochs_warning(tokens, unique) if unique is not None else None,
        mfu_warning(request.mfu),
        mfu_reach_warning(request.mfu, time),
        None if request.fixed_model else max_params_warning(float(allocation.params), request.max_params),
        None if request.fixed_model else smallest_shape_warning(float(allocation.params), spec),
        layout_warning(spec, devices, request.accelerator.name, layout),
        dense_law_on_moe_warning(request.law, spec),
    ]
    return tuple(dict.fromkeys(w for w in rules if w))


def dense_law_on_moe_warning(law: Law, spec: ModelSpec) -> str | None:
    """A dense law scores a mixture of experts as a dense model of its total parameters: an upper bound on
    its quality (Krajewski et al. 2024 §5.3 assume a MoE does not beat the dense model of its total size),
    so its loss, and the compute-optimal comparison, flatter it."""
    if not spec.is_moe:
        return None
    return (
        f"{law.name} is a dense law: it scores {spec.name} as a dense model of its "
        f"{units.format_count(spec.params)} total parameters, an upper bound on a MoE's quality, so the "
        "predicted loss and the compute-optimal comparison flatter it; 'scaling plan --moe' plans by a MoE "
        "law"
    )


def plan_assumptions(
    request: PlanRequest, budget: Budget, draft: Draft, devices: int, time: PlanTime, cost: ComputeCost
) -> tuple[str, ...]:
    """What the plan assumed, in the order a reader checks it."""
    r, law = request, request.law
    out = [
        f"law: {law.name} ({law.source}); convention: {law.convention}",
        f"MFU {units.format_fraction(r.mfu)}: end-to-end model FLOPs utilization (6ND FLOPs / (devices x "
        f"{r.dtype} dense peak x time), Chowdhery et al. 2022 App. B)",
        f"time: {time.source}",
    ]
    if r.dtype == "fp8" and r.mfu == default_mfu("fp8"):
        out.insert(2, f"MFU: {default_mfu_source('fp8')}")
    if r.vocab is None and not r.fixed_model and getattr(law, "vocab_size", None):
        tokenizer = f", tokenizer {law.tokenizer}" if law.tokenizer else ""
        out.append(f"vocabulary {law.vocab_size:,} from the law ({law.loss_unit}{tokenizer})")
    if r.seq_len is None and not r.fixed_model and getattr(law, "seq_len", None):
        out.append(f"context {law.seq_len:,} from the law (the runs it was fitted on)")
    if not r.accelerator_given:
        out.append(f"accelerator not given: {r.accelerator.name} assumed ({r.accelerator.source})")
    if r.devices is None:
        out.append(
            f"no cluster given: {devices} x {r.accelerator.name}, the smallest power of two that "
            f"trains within {DEFAULT_DAYS_WITHOUT_CLUSTER:g} days at the assumed MFU"
        )
    out.extend(draft.notes)
    out.extend(_model_assumptions(r, draft))
    if r.unique_tokens is not None and 1 < draft.tokens / r.unique_tokens <= EPOCHS_NEARLY_FREE:
        out.append(
            f"repeating the unique data up to {EPOCHS_NEARLY_FREE:g} epochs is nearly as good as new data "
            "(Muennighoff et al. 2023)"
        )
    if cost.cost_usd is None:
        out.append("no price per device-hour given (--price): cost not computed")
    out.extend(_batch_assumptions(r, draft))
    attention = "FlashAttention (no stored attention scores)" if r.flash_attention else "standard attention"
    out.append(
        f"memory and layout: {attention}; layouts ranked by the highest MFU each reaches (scaling.layout)"
    )
    return tuple(dict.fromkeys(out))


def _model_assumptions(request: PlanRequest, draft: Draft) -> list[str]:
    spec = draft.spec
    if request.model is not None:
        if request.tokens is None and request.target_loss is None and draft.tokens and _no_budget(request):
            return [
                f"tokens not given: {spec.name}'s own training tokens, {units.format_count(draft.tokens)}"
            ]
        return []
    if request.params is not None:
        return [
            f"--params {units.format_count(request.params)}: standard {request.shape_style} shape "
            f"({spec.params:,} params)"
        ]
    return [
        f"architecture: {request.shape_style} shape rules (scaling.model.shape_for_params); "
        "tokens = C / (6 x exact params)"
    ]


def _no_budget(request: PlanRequest) -> bool:
    return not budgets_given(request)


def _batch_assumptions(request: PlanRequest, draft: Draft) -> list[str]:
    lay = draft.layout
    rounded = (
        f"a multiple of the layout's DP {lay['dp']} x micro-batch {lay['micro_batch']}"
        if lay is not None
        else "whole sequences (no layout fits)"
    )
    from scaling.recipe import choose_hp_law

    # the law's full citation is the training recipe's, printed once there
    source = choose_hp_law(request.hp_law, request.law)[0].source
    reason = draft.batch.reason.replace(f": {source}", " (its source under Training recipe)")
    return [
        f"global batch: {reason}: {draft.batch_sequences:,} sequences of {draft.seq_len:,} tokens, {rounded}"
    ]
