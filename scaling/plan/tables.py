"""A plan as `scaling.render.Table`s: the one description of what a plan shows, rendered as text,
Markdown or HTML by `scaling.render`."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scaling import units as f
from scaling.plan.recipe_section import downstream_rows, recipe_brief_rows, recipe_rows
from scaling.render import Table, fmt_interval

if TYPE_CHECKING:
    from scaling.laws import Allocation

# Types of the plan modules above this one (compose, result), named in words: they import this module,
# so even a type-checking import of theirs would close a cycle.
Plan = Any

COMPARISON_HEADERS = ("allocation", "params", "tokens", "tokens/param", "loss (this law)")


def _interval(alloc: Allocation, key: str, fmt: Callable[[float], str]) -> str:
    low_high = alloc.intervals.get(key) if alloc.intervals else None
    if not low_high:
        return ""
    text = fmt_interval(float(low_high[0]), float(low_high[1]), fmt, level=alloc.interval_level)
    return f"  ({text})" if text else ""


def _budget_rows(plan: Plan) -> list[tuple[str, str]]:
    cost, step = plan.cost, plan.step
    price = f" at ${cost.price_usd_per_hour:g}/device-hour" if cost.price_usd_per_hour is not None else ""
    return [
        ("compute (6ND)", f"{f.format_flops(plan.budget_flops)} = {f.format_pf_days(plan.budget_flops)}"),
        ("from", plan.budget_source),
        (f"{plan.accelerator.name}-hours", f.format_count(cost.gpu_hours)),
        (
            "wall-clock",
            f"{f.format_duration(step.seconds)} on {plan.devices} x {plan.accelerator.name} "
            f"= {f.format_count(step.steps)} steps x {f.format_duration(step.step_seconds)}",
        ),
        (
            "MFU",
            f"{f.format_fraction(plan.mfu)} end to end (6ND FLOPs / devices x peak x time); "
            f"HFU {f.format_fraction(step.hfu)}"
            + (f"; this layout reaches at most {f.format_fraction(step.max_mfu)}" if step.max_mfu else ""),
        ),
        ("cost", f.format_usd(cost.cost_usd) + price if cost.cost_usd is not None else "n/a (give --price)"),
        *(plan.footprint.lines() if plan.footprint else ()),
    ]


def _optimum_rows(plan: Plan) -> list[tuple[str, str]]:
    alloc = plan.allocation
    rows = [
        ("law", f"{plan.law.name} (source under Assumptions)"),
        ("N_opt", f.format_count(float(alloc.params)) + _interval(alloc, "params", f.format_count)),
        ("D_opt", f.format_count(float(alloc.tokens)) + _interval(alloc, "tokens", f.format_count)),
        (
            "tokens/param",
            f.format_count(float(alloc.tokens_per_param))
            + _interval(alloc, "tokens_per_param", f.format_count),
        ),
    ]
    if plan.law.has_loss:
        loss = f"{f.format_loss(float(alloc.loss))} {_loss_unit(plan)}" + _interval(
            alloc, "loss", f.format_loss
        )
        rows.append(("L*(C)", loss))
    if alloc.epochs is not None:
        rows.append(
            (
                "epochs at D_opt",
                f"{f.format_epochs(float(alloc.epochs))} over {f.format_count(alloc.unique_tokens)} "
                "unique tokens",
            )
        )
    if alloc.inference_tokens:
        rows.append(
            (
                "lifetime FLOPs",
                f"{f.format_flops(float(alloc.total_flops))} incl. inference on "
                f"{f.format_count(alloc.inference_tokens)} tokens",
            )
        )
    return rows


def _loss_unit(plan: Plan) -> str:
    return plan.law.loss_unit


def _epochs(plan: Plan) -> str:
    unique = plan.unique_tokens
    if unique is None or plan.tokens <= unique:
        return ""
    return f"; {f.format_epochs(plan.tokens / unique)} epochs over {f.format_count(unique)} unique"


def _model_rows(plan: Plan) -> list[tuple[str, str]]:
    spec = plan.spec
    exact = plan.training_exact.flops
    loss = (
        f"{f.format_loss(plan.loss)} {_loss_unit(plan)} ({plan.law.name})"
        if plan.loss is not None
        else "n/a (the law predicts no loss)"
    )
    rows = [
        ("architecture", spec.describe()),
        (
            "parameters",
            f"{spec.params:,} ({f.format_count(spec.params)}; non-embedding "
            f"{f.format_count(spec.params_non_embedding)})",
        ),
        (
            "tokens",
            f"{f.format_count(plan.tokens)} ({f.format_count(plan.tokens_per_param)} per "
            f"parameter{_epochs(plan)})",
        ),
        ("predicted loss", loss),
        (
            "exact FLOPs",
            f"{f.format_flops(exact)} incl. attention ({exact / plan.training.flops - 1:+.1%} vs 6ND)",
        ),
    ]
    if plan.compute_optimal_overhead is not None:
        rows.append(
            (
                "vs compute-optimal",
                f"{plan.compute_optimal_overhead:+.1%} compute for the same loss as the "
                "compute-optimal model (law.flops_for_loss)",
            )
        )
    return rows


def _cluster_rows(plan: Plan) -> list[tuple[str, str]]:
    sequences = round(plan.global_batch_tokens / plan.seq_len)
    rows = [
        (
            "global batch",
            f"{f.format_count(plan.global_batch_tokens)} tokens ({sequences:,} x {plan.seq_len:,})",
        )
    ]
    lay = plan.layout
    if lay:
        parts = [
            f"TP {lay.get('tp')}",
            f"PP {lay.get('pp')}",
            f"DP {lay.get('dp')}",
            f"ZeRO {lay.get('zero')}",
            f"micro-batch {lay.get('micro_batch')}",
            f"recompute {lay.get('recompute')}",
        ]
        rows.append(("layout", ", ".join(parts + (["SP"] if lay.get("sp") else []))))
        step = plan.step
        rows.append(
            (
                "step-time model",
                f"{f.format_duration(step.step_seconds)}/step = compute "
                f"{f.format_duration(step.compute_seconds)} + pipeline bubble "
                f"{f.format_duration(step.bubble_seconds)} + communication "
                f"{f.format_duration(step.communication_seconds)}; {_kernels(step.kernel_efficiency)}",
            )
        )
    m = plan.memory
    if m is not None:
        fits = " (fits)" if m.fits else " (DOES NOT FIT)"
        states = (m.weights_bytes, m.master_weights_bytes, m.gradients_bytes, m.optimizer_bytes)
        rows += [
            (
                "memory / device",
                f"{f.format_bytes(m.total_bytes)} of {f.format_bytes(m.capacity_bytes)}{fits}",
            ),
            ("  weights/master/grads/optimizer", " / ".join(f.format_bytes(x) for x in states)),
            (
                "  activations/overhead",
                f"{f.format_bytes(m.activations_bytes)} / {f.format_bytes(m.overhead_bytes)}",
            ),
        ]
    return rows


def _kernels(efficiency: float | None) -> str:
    if efficiency is None or not math.isfinite(efficiency):
        return "communication alone fills the step"
    return f"the compute needs kernels at {f.format_fraction(efficiency)} of peak"


def plan_sections(plan: Plan) -> list[tuple[str, list[tuple[str, str]]]]:
    """The plan as titled sections of (label, value) rows."""
    return [
        ("Budget", _budget_rows(plan)),
        ("Compute-optimal allocation", _optimum_rows(plan)),
        ("Model to train", _model_rows(plan)),
        ("Cluster", _cluster_rows(plan)),
        ("Training recipe", recipe_rows(plan)),
        *([("Downstream", downstream_rows(plan))] if plan.downstream else []),
    ]


def comparison_rows(plan: Plan) -> list[list[str]]:
    """This plan beside the 20-tokens rule, the other laws and known models at the same budget."""
    rows = [
        [
            "this plan",
            f.format_count(plan.spec.params),
            f.format_count(plan.tokens),
            f.format_count(plan.tokens_per_param),
            f.format_loss(plan.loss) if plan.loss is not None else "-",
        ]
    ]
    for c in plan.comparisons:
        loss = (
            f.format_loss(c.loss)
            if c.loss is not None
            else ("-" if c.kind != "model" else f"({f.format_flops(c.flops)})")
        )
        rows.append(
            [
                c.label,
                f.format_count(c.params),
                f.format_count(c.tokens),
                f.format_count(c.tokens_per_param),
                loss,
            ]
        )
    return rows


def plan_tables(plan: Plan) -> list[Table]:
    """Every table of the plan, in reading order: sections, comparisons, warnings, assumptions."""
    tables = [Table.of(rows, title=title, align="ll") for title, rows in plan_sections(plan)]
    tables.append(Table.of(comparison_rows(plan), COMPARISON_HEADERS, title="Comparisons at this budget"))
    if plan.serving is not None:
        serving = plan.serving.table()
        tables.append(
            Table(
                serving.rows,
                serving.headers,
                title=f"Serving on {plan.serving.serve_on}: {serving.title}",
                notes=serving.notes,
            )
        )
    if plan.quantized:
        from scaling.plan.quantized import quantized_table

        tables.append(quantized_table(plan.quantized))
    if plan.warnings:
        tables.append(Table.of([("!", w) for w in plan.warnings], title="Warnings", align="ll"))
    tables.append(Table.of([("-", a) for a in plan.assumptions], title="Assumptions", align="ll"))
    return tables


def plan_text(plan: Plan) -> str:
    """The plan as aligned text, one titled block per table, within `TEXT_WIDTH` columns: a label-value
    table's long values wrap under their column, nothing is cut."""
    blocks = []
    for table in plan_tables(plan):
        untitled = Table(table.rows, table.headers, notes=table.notes, align=table.align)
        blocks.append(f"{table.title}\n{untitled.text(indent=2)}")
    return "\n\n".join(blocks)


def plan_brief(plan: Plan) -> str:
    """The lines a person reads first, from the same numbers and formatters as the whole plan; warnings
    follow, one line each."""
    step, cost = plan.step, plan.cost
    lay = plan.layout
    layout = (
        f"TP {lay['tp']}, PP {lay['pp']}, DP {lay['dp']}, ZeRO {lay['zero']}, "
        f"micro-batch {lay['micro_batch']}, recompute {lay['recompute']}"
        if lay
        else "none fits"
    )
    loss = f"{f.format_loss(plan.loss)} {plan.law.loss_unit}" if plan.loss is not None else "n/a"
    memory = plan.memory
    rows = [
        (
            "model",
            f"{f.format_count(plan.spec.params)} params "
            f"({plan.spec.n_layer} layers, d_model {plan.spec.d_model})",
        ),
        ("tokens", f"{f.format_count(plan.tokens)} ({f.format_count(plan.tokens_per_param)} per parameter)"),
        ("loss", f"{loss} ({plan.law.name})"),
        ("compute", f"{f.format_flops(plan.budget_flops)} (6ND)"),
        ("time", f"{f.format_duration(step.seconds)} on {plan.devices} x {plan.accelerator.name}"),
        ("cost", f.format_usd(cost.cost_usd) if cost.cost_usd is not None else "n/a (give --price)"),
        ("MFU", f"{f.format_fraction(plan.mfu)} end to end; HFU {f.format_fraction(step.hfu)}"),
        ("global batch", f"{f.format_count(plan.global_batch_tokens)} tokens"),
        *recipe_brief_rows(plan),
        ("layout", layout),
        (
            "memory / device",
            f"{f.format_bytes(memory.total_bytes)} of {f.format_bytes(memory.capacity_bytes)}"
            if memory is not None
            else "n/a",
        ),
    ]
    text = Table.of(rows, align="ll").text(0)
    return "\n".join([text, *(f"warning: {w}" for w in plan.warnings)])


def plan_markdown(plan: Plan) -> str:
    """The plan as Markdown: a heading per table."""
    parts = ["# Training plan", ""]
    for table in plan_tables(plan):
        untitled = Table(table.rows, table.headers, notes=table.notes, align=table.align)
        parts += [f"## {table.title}", "", untitled.markdown(), ""]
    return "\n".join(parts)


def plan_html(plan: Plan) -> str:
    """The plan's tables as an HTML fragment (a heading per table)."""
    parts = []
    for table in plan_tables(plan):
        untitled = Table(table.rows, table.headers, notes=table.notes, align=table.align)
        parts += [f"<h2>{html.escape(table.title)}</h2>", untitled.html()]
    return "\n".join(parts)
