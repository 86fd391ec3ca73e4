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
    warn,
)
from scaling.errors import ScalingError


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
def finetune(
    model,
    tokens,
    full,
    lora_rank,
    lora_targets,
    quant,
    gpus,
    mfu,
    price,
    epochs,
    seq_len,
    global_batch,
    precision,
    optimizer,
    convention,
    dequant_factor,
    recompute,
    continued,
    days,
    unique_tokens,
    replay,
    as_json,
):
    """FLOPs by term, memory per device, the layout that fits, time, device-hours and cost of a fine-tune.

    \b
    Examples:
      scaling finetune llama-2-7b --tokens 100M --lora-rank 16 --gpus 1xA100-80GB
      scaling finetune llama-65b --tokens 10M --quant nf4 --lora-rank 64 --lora-targets all --gpus 1xA100-80GB
      scaling finetune llama-3-8b --tokens 1B --full --gpus 8xH100 --epochs 3 --price 2.5
      scaling finetune llama-2-7b --continued --unique-tokens 50B --gpus 64xH100 --epochs 2
      scaling finetune llama-3-8b --continued --unique-tokens 20B --gpus 64xH100 --days 7 --price 2.5
    """
    from scaling.finetune import (
        DEFAULT_REPLAY_FRACTION,
        continued_tables,
        finetune_tables,
        plan_continued_pretraining,
        plan_finetune,
    )

    if gpus.accelerator is None:
        raise ScalingError(f"--gpus {gpus} names no accelerator: write it as 8xH100 or 1xA100-80GB")
    if full and (lora_rank is not None or quant is not None):
        raise ScalingError("--full trains every weight: drop --lora-rank/--quant, or drop --full for LoRA")
    common = dict(
        accelerator=gpus.accelerator,
        devices=gpus.devices,
        seq_len=seq_len,
        global_batch=global_batch,
        mfu=mfu,
        price_usd_per_hour=price,
        precision=precision,
        optimizer=optimizer,
    )
    if continued:
        if unique_tokens is None:
            raise ScalingError("--continued needs --unique-tokens, the domain data (e.g. 50B)")
        if lora_rank is not None or quant is not None:
            raise ScalingError(
                "--continued trains every weight (continued pretraining): drop --lora-rank/--quant"
            )
        result = plan_continued_pretraining(
            model,
            unique_tokens=unique_tokens,
            tokens=tokens,
            epochs=epochs,
            seconds=days,
            replay_fraction=DEFAULT_REPLAY_FRACTION if replay is None else replay,
            **common,
        )
        if as_json:
            echo_json(result.to_dict())
            return
        _render(continued_tables(result), result.warnings + result.training.warnings)
        return
    if unique_tokens is not None or replay is not None or days is not None:
        raise ScalingError(
            "--unique-tokens, --replay and --days belong to --continued (continued pretraining)"
        )
    if tokens is None:
        raise ScalingError("give --tokens, the size of the fine-tuning data (e.g. 100M)")
    plan = plan_finetune(
        model,
        tokens=tokens,
        lora_rank=lora_rank,
        lora_targets=lora_targets,
        quant=quant,
        epochs=1.0 if epochs is None else epochs,
        convention=convention,
        recompute=recompute,
        **common,
        **({} if dequant_factor is None else {"quant_time_factor": dequant_factor}),
    )
    if as_json:
        echo_json(plan.to_dict())
        return
    _render(finetune_tables(plan), plan.warnings)


def _render(tables, warnings) -> None:
    click.echo("\n\n".join(table.text() for table in tables))
    for message in warnings:
        warn(message)


COMMANDS = [finetune]
