"""`scaling flops`, `scaling models`, `scaling gpus`: training FLOPs, time and cost, and the catalogs.

Thin commands: parse, call `scaling.flops`, render. Only click, the stdlib and light scaling modules are
imported here, so these commands start as fast as `scaling --help`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from scaling import units
from scaling.commands._common import declared, echo_json, json_option, key_values, parse_given, table, warn
from scaling.errors import ScalingError
from scaling.options import FLOPS, FLOPS_COMMAND

if TYPE_CHECKING:
    from scaling.flops_report import FlopsEstimate


@click.command("flops")
@declared(*FLOPS_COMMAND)
def flops(**values):
    """Training FLOPs, PF-days and, with --gpus, time, GPU-hours and cost.

    \b
    MODEL is a preset (see 'scaling models'), a path to a Hugging Face config.json, or omitted with
    --params 7B or raw dimensions (--layers --d-model --heads [--kv-heads --d-ff --vocab --gated]).
    \b
    Examples:
      scaling flops llama-2-7b --tokens 2T --gpus 64xA100-80GB --mfu 0.4
      scaling flops gpt3-175b --convention all
      scaling flops --params 7B --tokens 1.4T --json
    """
    from scaling.flops_report import Dimensions, estimate_flops

    v = parse_given(FLOPS, values)
    if v.calibration is not None and "mfu" in v.given:
        raise ScalingError("give --mfu or --calibration, not both: the calibration predicts the MFU")
    estimate = estimate_flops(
        model=v.model,
        params=v.params,
        tokens=v.tokens,
        seq_len=v.seq_len,
        convention=v.convention,
        causal=v.causal,
        recompute=v.recompute,
        cluster=v.gpus,
        mfu=v.mfu if "mfu" in v.given else None,  # None: the dtype's default (`scaling.cost.default_mfu`)
        price=v.price,
        dtype=v.dtype,
        accelerator_files=v.accelerator_files,
        goodput=v.goodput,
        pue=v.pue,
        grid_gco2_kwh=v.grid_gco2_kwh,
        calibration=v.calibration,
        dims=Dimensions(
            layers=v.layers,
            d_model=v.d_model,
            heads=v.heads,
            kv_heads=v.kv_heads,
            d_ff=v.d_ff,
            vocab=v.vocab,
            gated=v.gated,
        ),
    )
    if values["as_json"]:
        echo_json(estimate.to_dict())
    else:
        _render(estimate, v.gpus)
    for message in estimate.warnings:
        warn(message)


def _model_lines(estimate: FlopsEstimate) -> list[tuple[str, str]]:
    spec, first = estimate.model.spec, estimate.main
    if spec is None:
        return [("params", f"{units.format_count(first.params)} (given with --params)")]
    lines = [
        ("model", f"{spec.name}: {spec.describe()}"),
        (
            "params",
            f"{units.format_count(spec.params)} ({spec.params:,}); non-embedding "
            f"{units.format_count(spec.params_non_embedding)}",
        ),
    ]
    if spec.is_moe:
        lines.append(("active params", f"{units.format_count(spec.active_params)} per token (MoE)"))
    return lines


def _render(estimate: FlopsEstimate, gpus) -> None:
    first, costs = estimate.main, estimate.costs
    lines = _model_lines(estimate) + [
        ("tokens", units.format_count(first.tokens)),
        ("causal attention", f"{estimate.causal} (seq len {first.seq_len or 'n/a'})"),
        ("recompute", estimate.recompute),
    ]
    if len(estimate.results) == 1:
        lines += [
            ("convention", f"{first.convention}: {estimate.convention_formula(first)}"),
            ("N used", units.format_count(estimate.n_used(first))),
            ("FLOPs per token", units.format_flops(first.flops_per_token)),
            ("training FLOPs", units.format_flops(first.flops)),
            ("PF-days", units.format_pf_days(first.flops)),
        ]
        if first.recompute != "none":
            lines.append(
                (
                    "hardware FLOPs",
                    f"{units.format_flops(first.hardware_flops)} (with {first.recompute} recompute)",
                )
            )
        if estimate.main_cost is not None:
            lines += _cost_lines(estimate.main_cost, gpus, estimate.hfu)
        if estimate.footprint is not None:
            lines += estimate.footprint.lines()
        click.echo(key_values(lines, indent=0))
    else:
        lines += (
            _cost_lines(next(iter(costs.values())), gpus, estimate.hfu, header_only=True) if costs else []
        )
        click.echo(key_values(lines, indent=0) + "\n")
        click.echo(_conventions_table(estimate))
        terms = estimate.exact_terms()
        if terms:
            click.echo("\nexact vs 6ND, training FLOPs per token by term:")
            click.echo(
                table(
                    [(name, units.format_flops(v), f"{ratio:.3f}") for name, v, ratio in terms],
                    ["term", "FLOPs/token", "/ 6N"],
                )
            )
    for note in estimate.notes:
        click.echo(f"note: {note}")
    for assumption in estimate.footprint.assumptions() if estimate.footprint else ():
        click.echo(f"note: {assumption}")


def _conventions_table(estimate: FlopsEstimate) -> str:
    headers = ["convention", "FLOPs/token", "FLOPs", "PF-days", "vs 6ND"]
    if estimate.costs:
        headers += ["days", "GPU-hours", "cost"]
    rows = []
    for r in estimate.results:
        ratio = estimate.ratio_to_6nd(r)
        row = [
            r.convention,
            units.format_flops(r.flops_per_token),
            units.format_flops(r.flops),
            _num(r.pf_days),
            f"{ratio:.3f}x" if ratio is not None else "-",
        ]
        cost = estimate.costs.get(r.convention)
        if cost is not None:
            row += [
                _num(cost.days),
                f"{cost.gpu_hours:,.0f}",
                units.format_usd(cost.cost_usd) if cost.cost_usd is not None else "n/a",
            ]
        rows.append(row)
    return table(rows, headers)


def _num(value: float) -> str:
    """3 significant figures without exponents for table cells: 3638, 28.5, 0.104."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _cost_lines(cost, gpus, hfu: float | None, header_only: bool = False) -> list[tuple[str, str]]:
    price = (
        f"${cost.price_usd_per_hour:.2f}/device-hour ({cost.price_source})"
        if cost.price_usd_per_hour is not None
        else "none (give --price for a cost)"
    )
    lines = [
        ("cluster", f"{gpus.devices} x {cost.accelerator}"),
        ("peak", f"{cost.peak_flops_per_device / 1e12:g} TFLOP/s per device ({cost.dtype}, dense)"),
        ("MFU", f"{units.format_fraction(cost.mfu)} end to end (model FLOPs / devices x peak x time)"),
        ("HFU", f"{units.format_fraction(hfu)} (exact hardware FLOPs, attention and recomputation included)"),
        ("price", price),
    ]
    if header_only:
        return lines
    return lines + [
        ("wall-clock", units.format_duration(cost.seconds)),
        ("GPU-hours", f"{cost.gpu_hours:,.0f}"),
        ("cost", units.format_usd(cost.cost_usd) if cost.cost_usd is not None else "n/a"),
    ]


# ------------------------------------------------------------------------------------------- catalogs
def _matches(filter_text: str | None, *names: str) -> bool:
    if not filter_text:
        return True
    needle = filter_text.lower()
    return any(needle in (n or "").lower() for n in names)


@click.command("models")
@click.argument("filter_text", metavar="[FILTER]", required=False)
@click.option("--family", help="Only this family (llama, gpt3, t5, ...).")
@json_option
def models(filter_text, family, as_json):
    """List the model presets: exact parameter counts, training tokens and sources."""
    from scaling.model import presets

    specs = [
        s
        for s in presets()
        if _matches(filter_text, s.name, *s.aliases) and (not family or s.family.lower() == family.lower())
    ]
    if as_json:
        echo_json([s.to_dict() for s in specs])
        return
    if not specs:
        raise ScalingError(
            f"no model preset matches {filter_text or family!r} (try 'scaling models' for all)"
        )
    rows = [
        (
            s.name,
            s.arch,
            f"{s.params:,}",
            units.format_count(s.params),
            units.format_count(s.active_params) if s.is_moe else "-",
            units.format_count(s.training_tokens) if s.training_tokens else "-",
            s.source,
        )
        for s in specs
    ]
    headers = ["name", "arch", "params (exact)", "params", "active params", "training tokens", "source"]
    click.echo(table(rows, headers, align="llrrrrl"))


@click.command("gpus")
@click.argument("filter_text", metavar="[FILTER]", required=False)
@click.option(
    "--accelerator-file",
    "accelerator_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Extra accelerators CSV (columns as data/accelerators.csv).",
)
@json_option
def gpus(filter_text, accelerator_files, as_json):
    """List the accelerators: dense peak TFLOP/s per dtype, memory, bandwidths, links and price."""
    from scaling.catalog import accelerators

    accs = [a for a in accelerators(tuple(accelerator_files)) if _matches(filter_text, a.name, *a.aliases)]
    if as_json:
        echo_json([a.to_dict() for a in accs])
        return
    if not accs:
        raise ScalingError(f"no accelerator matches {filter_text!r} (try 'scaling gpus' for all)")

    def peak(acc, dtype):
        value = acc.peak_flops.get(dtype)
        return f"{value / 1e12:g}" if value else "-"

    rows = [
        (
            a.name,
            peak(a, "bf16"),
            peak(a, "fp16"),
            peak(a, "fp8"),
            peak(a, "fp32"),
            f"{a.memory_gib:g}",
            f"{a.bandwidth_bytes_per_s / 1e9:g}"
            if a.bandwidth_bytes_per_s == a.bandwidth_bytes_per_s
            else "-",
            f"{a.intra_node_link} {a.intra_node_bytes_per_s / 1e9:g}",
            f"{a.inter_node_bytes_per_s / 1e9:g}",
            f"{a.tdp_watts:g}" if a.tdp_watts else "-",
            f"${a.price_usd_per_hour:.2f}" if a.price_usd_per_hour is not None else "-",
        )
        for a in accs
    ]
    click.echo(
        table(
            rows,
            [
                "name",
                "bf16 TF",
                "fp16 TF",
                "fp8 TF",
                "fp32 TF",
                "mem GiB",
                "mem GB/s",
                "node link GB/s",
                "network GB/s",
                "TDP W",
                "$/h",
            ],
        )
    )
    click.echo(
        "dense (no sparsity) peaks; link and network bandwidths per device, one direction; TDP: board power\n"
        "add your own with $SCALING_ACCELERATORS or --accelerator-file"
    )


COMMANDS = [flops, models, gpus]
