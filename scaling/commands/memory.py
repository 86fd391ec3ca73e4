"""`scaling memory`: per-device memory for training, fine-tuning and inference, and the layouts that fit."""

from __future__ import annotations

import click

from scaling.commands._common import (
    BYTES,
    CLUSTER,
    COUNT,
    FRACTION,
    echo_json,
    json_option,
    key_values,
    table,
    warn,
)
from scaling.errors import ScalingError
from scaling.units import GB, GIB, format_count


@click.command("memory")
@click.argument("model", required=False)
@click.option(
    "--params",
    type=COUNT,
    help="A bare parameter count (e.g. 7.5B) instead of MODEL; shape from the Llama rule.",
)
@click.option("--mode", type=click.Choice(["train", "infer", "finetune"]), default="train", show_default=True)
@click.option("--precision", default="bf16", show_default=True, help="fp32, tf32, bf16, fp16 or fp8.")
@click.option(
    "--optimizer",
    default="adamw",
    show_default=True,
    help="adamw, adam8bit, sgd (momentum), adafactor, lion.",
)
@click.option(
    "--convention", default=None, help="Published accounting: zero, megatron, course, accelerate, deepspeed."
)
@click.option(
    "--gpus",
    type=CLUSTER,
    default=None,
    help="Devices, optionally with the accelerator: 64, 64xH100, 8x8xA100-80GB.",
)
@click.option("--tp", default=1, show_default=True, type=int, help="Tensor parallel size.")
@click.option("--pp", default=1, show_default=True, type=int, help="Pipeline parallel size.")
@click.option("--ep", default=1, show_default=True, type=int, help="Expert parallel size (MoE).")
@click.option("--sp", is_flag=True, help="Sequence parallelism (with TP).")
@click.option(
    "--zero",
    default="0",
    show_default=True,
    help="ZeRO stage 0-3 or FSDP name (FULL_SHARD, SHARD_GRAD_OP, ...).",
)
@click.option("--offload", default=None, help="optimizer, params or both (DeepSpeed offload to CPU).")
@click.option("--recompute", default="none", show_default=True, help="none, selective or full.")
@click.option(
    "--flash/--no-flash",
    "flash_attention",
    default=True,
    show_default=True,
    help="FlashAttention-style fused attention (no stored s^2 scores; PyTorch SDPA's default kernels). "
    "--no-flash is Korthikanti et al. 2022's standard-attention baseline.",
)
@click.option(
    "--micro-batch",
    default=1,
    show_default=True,
    type=int,
    help="Sequences per micro-batch (0: model states only).",
)
@click.option(
    "--seq-len", default=None, type=int, help="Training sequence length (default: the model's context)."
)
@click.option(
    "--global-batch",
    default=None,
    type=int,
    help="Sequences per step for --search (default: DeepSeek's B_opt(C) at the model's training tokens).",
)
@click.option(
    "--interleave", default=1, show_default=True, type=int, help="Virtual pipeline stages per device."
)
@click.option("--lora-rank", default=None, type=int, help="LoRA rank (finetune mode).")
@click.option(
    "--lora-targets", default="q,k,v,o", show_default=True, help="LoRA targets: q,k,v,o,gate,up,down or all."
)
@click.option(
    "--quant", default=None, help="Weight quantization: int8, int4, nf4 (QLoRA with --lora-rank), fp8."
)
@click.option(
    "--batch", default=1, show_default=True, type=int, help="Inference batch (concurrent sequences)."
)
@click.option("--context", default=None, type=int, help="Inference context in tokens (default: the model's).")
@click.option("--kv-dtype", default=None, help="KV-cache dtype (default: --precision).")
@click.option(
    "--overhead",
    "overhead_bytes",
    type=BYTES,
    default=None,
    help="Framework overhead, e.g. 2GiB (default: 1 GiB + 5%).",
)
@click.option(
    "--search", is_flag=True, help="Rank the layouts (TP, PP, ZeRO, micro-batch, recompute, SP) that fit."
)
@click.option(
    "--mfu",
    type=FRACTION,
    default=0.4,
    show_default=True,
    help="MFU for the search's step time: 6ND model FLOPs over dense peak.",
)
@click.option("--top", default=10, show_default=True, type=int, help="Layouts to print with --search.")
@json_option
def memory(
    model,
    params,
    mode,
    precision,
    optimizer,
    convention,
    gpus,
    tp,
    pp,
    ep,
    sp,
    zero,
    offload,
    recompute,
    flash_attention,
    micro_batch,
    seq_len,
    global_batch,
    interleave,
    lora_rank,
    lora_targets,
    quant,
    batch,
    context,
    kv_dtype,
    overhead_bytes,
    search,
    mfu,
    top,
    as_json,
):
    """Memory per device: every term with its bytes/param rule and source, and whether it fits.

    \b
    Examples:
      scaling memory llama-2-7b --mode train --gpus 8xH100 --zero 3
      scaling memory --params 7.5B --gpus 64 --zero 1 --convention zero
      scaling memory llama-2-70b --mode infer --gpus 8xH100 --tp 8 --batch 16 --context 4096
      scaling memory llama-2-7b --mode finetune --lora-rank 16 --quant nf4 --gpus 1xA100-80GB
      scaling memory gpt3-175b --gpus 1024xA100-80GB --global-batch 1536 --search
    """
    from scaling.memory import estimate_memory

    if (model is None) == (params is None):
        raise ScalingError("give a MODEL (preset name or config.json) or --params, not both")
    target = params if params is not None else model
    devices = gpus.devices if gpus else 1
    accelerator = gpus.accelerator if gpus else None
    per_node = (gpus.devices // gpus.nodes) if gpus and gpus.nodes else None
    if search:
        _search(
            target,
            gpus,
            devices,
            accelerator,
            per_node,
            global_batch,
            seq_len,
            mfu,
            precision,
            optimizer,
            flash_attention,
            overhead_bytes,
            top,
            as_json,
        )
        return
    result = estimate_memory(
        target,
        mode=mode,
        precision=precision,
        optimizer=optimizer,
        convention=convention,
        devices=devices,
        accelerator=accelerator,
        devices_per_node=per_node,
        tp=tp,
        pp=pp,
        ep=ep,
        sp=sp,
        zero=zero,
        offload=offload,
        recompute=recompute,
        flash_attention=flash_attention,
        micro_batch=micro_batch,
        seq_len=seq_len,
        global_batch=global_batch,
        interleave=interleave,
        lora_rank=lora_rank,
        lora_targets=lora_targets,
        quant=quant,
        batch=batch,
        context=context,
        kv_dtype=kv_dtype,
        overhead_bytes=overhead_bytes,
    )
    if as_json:
        echo_json(result.to_dict())
        return
    _render(result)


def _render(result) -> None:
    inp = result.inputs
    decimal = result.convention in ("zero", "course")  # the ZeRO paper and the course use GB = 1e9
    unit, scale = ("GB", GB) if decimal else ("GiB", GIB)
    header = f"{result.model}: {result.mode}, {format_count(result.params)} params"
    if result.mode != "infer":
        header += f" ({format_count(result.trainable_params)} trainable)"
    header += f", convention {result.convention}"
    click.echo(header)
    layout = f"devices {inp['devices']} = TP {inp['tp']} x PP {inp['pp']} x DP {inp['dp']}"
    if inp["mode"] != "infer":
        layout += f", ZeRO {inp['zero']}, {inp['precision']}, {inp['optimizer']}, micro-batch {inp['micro_batch']} x {inp['seq_len']} tokens"
    else:
        layout += f", batch {inp['batch']} x context {inp['context']}"
    click.echo(f"  {layout}")
    rows = [(name, f"{value / scale:,.3f}") for name, value, _ in result.terms]
    lines = table(rows, headers=["term (per device)", unit]).splitlines()
    rules = ["rule / source", "-" * 13] + [rule for _, _, rule in result.terms]
    width = max(len(line) for line in lines)
    click.echo()
    click.echo("\n".join(f"{line.ljust(width)}  {rule}" for line, rule in zip(lines, rules)))
    click.echo()
    pairs = [("total per device", f"{result.total_bytes / scale:,.3f} {unit}")]
    if result.cpu_bytes:
        pairs.append(("CPU memory per node", f"{result.cpu_bytes / scale:,.3f} {unit}"))
    if result.capacity_bytes is not None:
        verdict = "yes" if result.fits else "NO"
        pairs += [
            (f"capacity ({inp['accelerator']})", f"{result.capacity_bytes / scale:,.3f} {unit}"),
            ("fits", verdict),
            ("headroom", f"{result.headroom_bytes / scale:,.3f} {unit}"),
        ]
    click.echo(key_values(pairs, indent=0))
    for note in result.notes:
        click.echo(f"note: {note}")
    if (
        result.mode != "infer"
        and not inp["flash_attention"]
        and result.activations_bytes > 0.5 * result.total_bytes
    ):
        click.echo(
            "note: activations dominate; with --no-flash the s² attention tensors are kept "
            "(Korthikanti et al. 2022), and --recompute selective|full or --sp shrink them"
        )


def _search(
    target,
    gpus,
    devices,
    accelerator,
    per_node,
    global_batch,
    seq_len,
    mfu,
    precision,
    optimizer,
    flash_attention,
    overhead_bytes,
    top,
    as_json,
) -> None:
    from scaling.layout import search_layouts

    if accelerator is None:
        raise ScalingError("--search needs an accelerator in --gpus, e.g. --gpus 64xH100")
    note, batch_tokens = None, None
    if global_batch is None:
        from scaling.layout import default_global_batch_for
        from scaling.memory import device_count, resolve_model

        device_count(devices)
        spec, _, _ = resolve_model(target)
        default = default_global_batch_for(spec)
        batch_tokens = default.tokens
        note = f"--global-batch not given: {default.reason}, rounded to each layout's DP x micro-batch"
    df = search_layouts(
        target,
        devices=devices,
        accelerator=accelerator,
        global_batch=global_batch,
        batch_tokens=batch_tokens,
        seq_len=seq_len,
        mfu=mfu,
        precision=precision,
        optimizer=optimizer,
        devices_per_node=per_node or 8,
        flash_attention=flash_attention,
        overhead_bytes=overhead_bytes,
        top=top,
    )
    attrs = df.attrs
    if note:
        click.echo(f"note: {note}", err=True)
    if as_json:
        echo_json({"layouts": df.to_dict(orient="records"), **attrs})
        return
    click.echo(
        f"{attrs['model']} on {devices}x{attrs['accelerator']}, global batch {_batch_text(attrs)} x "
        f"{attrs['seq_len']} tokens, MFU {attrs['mfu']:g}: {attrs['candidates']} candidates, {attrs['valid']} valid, "
        f"{attrs['fit']} fit"
    )
    if attrs["valid"] == 0:
        warn(
            f"no valid layout: the global batch of {attrs['global_batch']} sequences must be divisible by "
            "DP x micro-batch and TP x PP must divide the devices; give --global-batch"
        )
        return
    if df.empty and attrs["fit"] > 0:
        warn(
            f"every layout that fits needs HFU above 100% (hardware FLOPs over peak) at MFU {attrs['mfu']:.0%}: "
            "give a lower --mfu"
        )
        return
    if df.empty:
        warn("no layout fits; try more devices, a smaller micro-batch or sequence, or offload")
        return
    from scaling.layout import layouts_table

    click.echo(layouts_table(df).text())


def _batch_text(attrs: dict) -> str:
    if attrs.get("global_batch") is not None:
        return f"{attrs['global_batch']:,}"
    return f"~{attrs['batch_target']:,.0f} (per layout)"


COMMANDS = [memory]
