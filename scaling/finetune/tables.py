"""Fine-tuning and continued-pretraining plans as tables, for the CLI's text and notebooks alike."""

from __future__ import annotations

import math
from typing import Any

from scaling.render import Table
from scaling.units import GIB, format_count, format_duration, format_flops, format_fraction, format_usd

# A floor below the plans it renders: `scaling.finetune.result.FinetunePlan` and
# `scaling.finetune.continued_pretraining.ContinuedPretrainingPlan` import this module, so it names their
# types in words, not imports (an import, even for type checking, would close a cycle).
FinetunePlan = ContinuedPretrainingPlan = Any


def _mfu_text(plan: FinetunePlan) -> str:
    """The MFU line: end to end, and what the layout's step model says of it."""
    lay = plan.layout
    text = (
        f"{format_fraction(plan.mfu)} end to end (model FLOPs / devices x peak x time); "
        f"HFU {format_fraction(lay['hfu'])}"
    )
    if math.isfinite(lay["kernel_efficiency"]):
        text += f"; the compute needs kernels at {format_fraction(lay['kernel_efficiency'])} of peak"
    return text + f"; this layout reaches at most {format_fraction(lay['max_mfu'])}"


def _epochs(epochs: float) -> str:
    from scaling.units import format_epochs

    return f"{format_epochs(epochs)} epoch" + ("" if epochs == 1 else "s")


def _method_text(plan: FinetunePlan) -> str:
    if plan.method == "full":
        return "full fine-tuning"
    text = f"LoRA rank {plan.lora_rank} on {','.join(plan.lora_targets)}"
    return f"Q{text} over a {plan.quant} base" if plan.method == "qlora" else text


def finetune_tables(plan: FinetunePlan, what: str | None = None) -> list[Table]:
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
            else f"{format_usd(plan.cost_usd)} at ${plan.price_usd_per_hour:g}/device-hour "
            f"({plan.price_source})",
        ),
        *(plan.footprint.lines() if plan.footprint else ()),
    ]
    return [
        Table.of(
            job,
            title=f"{plan.model}: {what or _method_text(plan)}, {plan.devices}x{plan.accelerator}",
            align="ll",
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
    title = (
        f"Continued pretraining of {result.model} on {format_count(result.unique_tokens)} "
        "unique domain tokens"
    )
    findings = [("-", finding) for finding in result.findings]
    return [
        Table.of(data, title=title, align="ll", notes=[f"note: {n}" for n in result.notes]),
        *finetune_tables(result.training, "continued pretraining, every weight trained"),
        Table.of(findings, title="What published domain adaptation found", align="ll"),
    ]
