"""`scaling memory`: per-device memory for training, fine-tuning and inference, and the layouts that fit."""

from __future__ import annotations

import click

from scaling.commands._common import declared, echo_json, key_values, parse_given, warn
from scaling.errors import ScalingError
from scaling.options import MEMORY, MEMORY_COMMAND
from scaling.render import Table
from scaling.units import GB, GIB, format_count


@click.command("memory")
@declared(*MEMORY_COMMAND)
def memory(**values):
    """Memory per device: every term with its bytes/param rule and source, and whether it fits.

    \b
    Examples:
      scaling memory llama-2-7b --mode train --gpus 8xH100 --zero 3
      scaling memory --params 7.5B --gpus 64 --zero 1 --convention zero
      scaling memory llama-2-70b --mode infer --gpus 8xH100 --tp 8 --batch 16 --context 4096
      scaling memory llama-2-7b --mode finetune --lora-rank 16 --quant nf4 --gpus 1xA100-80GB
      scaling memory gpt3-175b --gpus 1024xA100-80GB --global-batch 1536 --search
    """
    from scaling.memory import MemoryRequest

    parsed = parse_given(MEMORY, values)
    request = MemoryRequest.of(parsed)
    if parsed.search:
        _search(request, values["as_json"])
        return
    result = request.breakdown()
    if values["as_json"]:
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
    rows = [(name, f"{value / scale:,.3f}", rule) for name, value, rule in result.terms]
    click.echo()
    click.echo(Table.of(rows, ["term (per device)", unit, "rule / source"], align="lrl").text())
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


def _search(request, as_json: bool) -> None:
    from scaling.layout import search_layouts

    cluster = request.cluster
    if cluster.accelerator is None:
        raise ScalingError("--search needs an accelerator in --gpus, e.g. --gpus 64xH100")
    note, workload, batch_tokens = None, request.workload, None
    if workload.global_batch is None:
        from scaling.layout import default_global_batch_for
        from scaling.memory import resolve_model

        spec, _, _ = resolve_model(request.model)
        default = default_global_batch_for(spec)
        batch_tokens = default.tokens
        note = f"--global-batch not given: {default.reason}, rounded to each layout's DP x micro-batch"
    df = search_layouts(
        request.model,
        cluster=cluster,
        workload=workload,
        precision=request.precision,
        batch_tokens=batch_tokens,
        mfu=request.mfu,
        overhead_bytes=request.overhead_bytes,
        top=request.top,
    )
    attrs = df.attrs
    if note:
        click.echo(f"note: {note}", err=True)
    if as_json:
        echo_json({"layouts": df.to_dict(orient="records"), **attrs})
        return
    click.echo(
        f"{attrs['model']} on {cluster.devices}x{attrs['accelerator']}, global batch {_batch_text(attrs)} x "
        f"{attrs['seq_len']} tokens, MFU {attrs['mfu']:g}\n  {attrs['candidates']} candidates, "
        f"{attrs['valid']} valid, {attrs['fit']} fit"
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
