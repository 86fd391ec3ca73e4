"""`scaling finetune`: time, cost and fit of a full, LoRA or QLoRA fine-tune, or of continued pretraining."""

from __future__ import annotations

import click

from scaling.commands._common import (
    CLUSTER,
    COUNT,
    DURATION,
    FRACTION,
    MONEY,
    echo_json,
    json_option,
    key_values,
    table,
    warn,
)
from scaling.errors import ScalingError
from scaling.units import GIB, format_count, format_duration, format_flops, format_usd


@click.command("finetune")
@click.argument("model")
@click.option(
    "--tokens",
    type=COUNT,
    help="Tokens in the fine-tuning data set (100M); with --continued, all tokens to train.",
)
@click.option("--full", is_flag=True, help="Full fine-tuning (the default without --lora-rank).")
@click.option("--lora-rank", type=int, default=None, help="LoRA rank (16): train adapters on a frozen base.")
@click.option(
    "--lora-targets", default="q,k,v,o", show_default=True, help="LoRA targets: q,k,v,o,gate,up,down or all."
)
@click.option(
    "--quant", default=None, help="Quantized frozen base for QLoRA: nf4, int4 or int8 (needs --lora-rank)."
)
@click.option("--gpus", type=CLUSTER, required=True, help="Devices and accelerator: 1xA100-80GB, 8xH100.")
@click.option(
    "--mfu",
    type=FRACTION,
    default=0.4,
    show_default=True,
    help="Fraction of the dense peak the kernels reach.",
)
@click.option(
    "--price", type=MONEY, default=None, help="Price per device-hour in USD (default: the catalog's, if any)."
)
@click.option(
    "--epochs",
    type=float,
    default=None,
    help="Passes over the data (fine-tuning default 1; --continued: over the domain data).",
)
@click.option(
    "--seq-len", type=int, default=None, help="Sequence length (default: the model's context, at most 4096)."
)
@click.option(
    "--global-batch",
    type=int,
    default=None,
    help="Sequences per step (default 16, a multiple of the devices).",
)
@click.option(
    "--precision", default="bf16", show_default=True, help="bf16, fp16, fp32 or fp8 (weights and compute)."
)
@click.option(
    "--optimizer", default="adamw", show_default=True, help="adamw, adam8bit, sgd, adafactor or lion."
)
@click.option(
    "--convention",
    default="6nd",
    show_default=True,
    type=click.Choice(["6nd", "exact"]),
    help="FLOP count: 6nd (2N forward) or exact (per component, with attention).",
)
@click.option(
    "--dequant-factor",
    type=float,
    default=None,
    help="Step-time factor of a quantized base (default 1.66, Google Cloud's QLoRA figure; torchtune measures 1.02-1.28).",
)
@click.option(
    "--recompute",
    default=None,
    help="Activation checkpointing: none, selective or full (default: fastest that fits).",
)
@click.option(
    "--continued", is_flag=True, help="Continued pretraining on domain data (needs --unique-tokens)."
)
@click.option(
    "--days",
    type=DURATION,
    default=None,
    help="Deadline for --continued (7d, 168h): as many tokens as fit in it.",
)
@click.option("--unique-tokens", type=COUNT, default=None, help="Unique domain tokens for --continued (50B).")
@click.option(
    "--replay",
    type=FRACTION,
    default=None,
    help="Share of general data mixed in with --continued (default 0.05).",
)
@json_option
def finetune(model, tokens, full, lora_rank, lora_targets, quant, gpus, mfu, price, epochs, seq_len, global_batch,
             precision, optimizer, convention, dequant_factor, recompute, continued, days, unique_tokens, replay, as_json):  # fmt: skip
    """FLOPs by term, memory per device, the layout that fits, time, device-hours and cost of a fine-tune.

    \b
    Examples:
      scaling finetune llama-2-7b --tokens 100M --lora-rank 16 --gpus 1xA100-80GB
      scaling finetune llama-65b --tokens 10M --quant nf4 --lora-rank 64 --lora-targets all --gpus 1xA100-80GB
      scaling finetune llama-3-8b --tokens 1B --full --gpus 8xH100 --epochs 3 --price 2.5
      scaling finetune llama-2-7b --continued --unique-tokens 50B --gpus 64xH100 --epochs 2
      scaling finetune llama-3-8b --continued --unique-tokens 20B --gpus 64xH100 --days 7 --price 2.5
    """
    from scaling.finetune import DEFAULT_REPLAY_FRACTION, plan_continued_pretraining, plan_finetune

    if gpus.accelerator is None:
        raise ScalingError(f"--gpus {gpus} names no accelerator: write it as 8xH100 or 1xA100-80GB")
    if full and (lora_rank is not None or quant is not None):
        raise ScalingError("--full trains every weight: drop --lora-rank/--quant, or drop --full for LoRA")
    common = dict(accelerator=gpus.accelerator, devices=gpus.devices, seq_len=seq_len, global_batch=global_batch,
                  mfu=mfu, price_usd_per_hour=price, precision=precision, optimizer=optimizer)  # fmt: skip
    if continued:
        if unique_tokens is None:
            raise ScalingError("--continued needs --unique-tokens, the domain data (e.g. 50B)")
        if lora_rank is not None or quant is not None:
            raise ScalingError(
                "--continued trains every weight (continued pretraining): drop --lora-rank/--quant"
            )
        result = plan_continued_pretraining(
            model, unique_tokens=unique_tokens, tokens=tokens, epochs=epochs, seconds=days,
            replay_fraction=DEFAULT_REPLAY_FRACTION if replay is None else replay, **common,
        )  # fmt: skip
        if as_json:
            echo_json(result.to_dict())
            return
        _render_continued(result)
        return
    if unique_tokens is not None or replay is not None or days is not None:
        raise ScalingError(
            "--unique-tokens, --replay and --days belong to --continued (continued pretraining)"
        )
    if tokens is None:
        raise ScalingError("give --tokens, the size of the fine-tuning data (e.g. 100M)")
    plan = plan_finetune(
        model, tokens=tokens, lora_rank=lora_rank, lora_targets=lora_targets, quant=quant,
        epochs=1.0 if epochs is None else epochs, convention=convention, recompute=recompute, **common,
        **({} if dequant_factor is None else {"quant_time_factor": dequant_factor}),
    )  # fmt: skip
    if as_json:
        echo_json(plan.to_dict())
        return
    _render(plan)


def _epochs(epochs: float) -> str:
    return f"{epochs:.3g} epoch" + ("" if epochs == 1 else "s")


def _method_text(plan) -> str:
    if plan.method == "full":
        return "full fine-tuning"
    text = f"LoRA rank {plan.lora_rank} on {','.join(plan.lora_targets)}"
    return f"Q{text} over a {plan.quant} base" if plan.method == "qlora" else text


def _render(plan) -> None:
    click.echo(
        f"{plan.model}: {_method_text(plan)}, {format_count(plan.params)} params "
        f"({format_count(plan.trainable_params)} trained), {plan.devices}x{plan.accelerator}"
    )
    click.echo(f"  {format_count(plan.tokens)} tokens x {_epochs(plan.epochs)} = {format_count(plan.trained_tokens)} "
               f"tokens, sequences of {plan.seq_len}, {plan.global_batch} per step")  # fmt: skip
    click.echo()
    rows = [
        (name.replace("_", " "), format_flops(value) if value else "0")
        for name, value in plan.flops_terms.items()
    ]
    rows.append(("model FLOPs per token", format_flops(plan.flops_per_token)))
    click.echo(table(rows, headers=[f"FLOPs per token ({plan.convention})", "FLOPs"]))
    click.echo()
    lay = plan.layout
    mem = plan.memory
    pairs = [
        ("FLOPs", f"{format_flops(plan.flops)} (hardware {format_flops(plan.hardware_flops)})"),
        ("layout", f"TP {lay['tp']} x PP {lay['pp']} x DP {lay['dp']}, ZeRO {lay['zero']}, micro-batch "
                   f"{lay['micro_batch']}, recompute {lay['recompute']}"),
        ("memory per device", f"{mem.total_bytes / GIB:,.2f} GiB of {(mem.capacity_bytes or 0) / GIB:,.2f} GiB: "
                              f"{'fits' if mem.fits else 'does NOT fit'}"),
        ("memory terms", ", ".join(f"{name} {value / GIB:,.2f}" for name, value, _ in mem.terms if value) + " GiB"),
        ("largest micro-batch", f"{plan.max_micro_batch} at {plan.seq_len} tokens"),
        ("longest sequence", f"{plan.max_seq_len:,} tokens at micro-batch 1"),
        ("step", f"{lay['step_s']:.3g} s ({lay['steps']:,} steps)"),
        ("time", format_duration(plan.seconds)),
        ("throughput", f"{plan.tokens_per_s:,.0f} tokens/s ({plan.tokens_per_s_per_device:,.0f} per device)"),
        ("MFU", f"{plan.mfu:.0%} in the compute term; {plan.implied_mfu:.1%} over the whole step"),
        ("device-hours", f"{plan.gpu_hours:,.1f}"),
        ("cost", "no price (--price)" if plan.cost_usd is None
         else f"{format_usd(plan.cost_usd)} at ${plan.price_usd_per_hour:g}/device-hour ({plan.price_source})"),
    ]  # fmt: skip
    click.echo(key_values(pairs, indent=0))
    for note in plan.notes:
        click.echo(f"note: {note}")
    for message in plan.warnings:
        warn(message)


def _render_continued(result) -> None:
    click.echo(
        f"continued pretraining of {result.model} on {format_count(result.unique_tokens)} unique domain tokens: "
        f"{format_count(result.tokens)} tokens = {format_count(result.domain_tokens)} domain ({_epochs(result.epochs)}) "
        f"+ {format_count(result.general_tokens)} general ({result.replay_fraction:.0%} replay)"
    )
    click.echo(
        f"  {result.law}: the repeated domain tokens are worth {format_count(result.effective_domain_tokens)} "
        f"fresh ones ({result.repeat_value:.0%}, Muennighoff et al. 2023 Eq. 5)"
    )
    for note in result.notes:
        click.echo(f"  note: {note}")
    click.echo()
    _render(result.training)
    click.echo()
    click.echo("what published domain adaptation found:")
    for finding in result.findings:
        click.echo(f"  - {finding}")
    for message in result.warnings:
        warn(message)


COMMANDS = [finetune]
