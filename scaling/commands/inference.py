"""`scaling inference`: how fast a model serves on a deployment and what a million tokens cost."""

from __future__ import annotations

import click

from scaling.commands._common import (
    BYTES,
    CLUSTER,
    DURATION,
    FRACTION,
    MONEY,
    echo_json,
    json_option,
    warn,
)
from scaling.errors import ScalingError
from scaling.render import Table


def _render(tables) -> str:
    phases, summary = tables
    body = Table(phases.rows, phases.headers).text(indent=2)
    notes = "\n".join(f"  {note}" for note in summary.notes)
    return f"{phases.title}\n\n{body}\n\n{Table(summary.rows, align='ll').text(indent=2)}\n\nassumptions:\n{notes}"


@click.command("inference")
@click.argument("model")
@click.option("--gpus", type=CLUSTER, required=True, help="The deployment: 8xH100, 2xA100-80GB, H100.")
@click.option(
    "--tp", type=int, default=None, help="Tensor-parallel size (default: the smallest that holds the batch)."
)
@click.option("--batch", type=int, default=None, help="Sequences per replica, decoded together (default 1).")
@click.option(
    "--prompt", "prompt_tokens", type=int, default=2048, show_default=True, help="Prompt tokens per request."
)
@click.option(
    "--output",
    "output_tokens",
    type=int,
    default=256,
    show_default=True,
    help="Generated tokens per request.",
)
@click.option(
    "--precision", default="bf16", show_default=True, help="Math and activations: bf16, fp16, fp8, fp32."
)
@click.option(
    "--quant", default=None, help="Weight storage: int8, int4, nf4, fp8 (math stays at --precision)."
)
@click.option("--kv-dtype", default=None, help="KV-cache dtype, e.g. fp8 (default: --precision).")
@click.option(
    "--price", type=MONEY, default=None, help="USD per device-hour (default: the catalog's, if any)."
)
@click.option(
    "--latency",
    type=DURATION,
    default=None,
    help="Target time per output token, e.g. 50ms: search batch and TP.",
)
@click.option(
    "--min-tokens-per-s", type=float, default=None, help="Target output tokens/s of the deployment: search."
)
@click.option(
    "--mfu",
    type=FRACTION,
    default=None,
    help="Achievable fraction of the dense peak (default: the cited one, printed under assumptions).",
)
@click.option(
    "--mbu",
    type=FRACTION,
    default=None,
    help="Achievable fraction of memory bandwidth (default: the cited one, printed under assumptions).",
)
@click.option(
    "--link-bandwidth", type=BYTES, default=None, help="Intra-node link per device, bytes/s (e.g. 450GB)."
)
@json_option
def inference(
    model,
    gpus,
    tp,
    batch,
    prompt_tokens,
    output_tokens,
    precision,
    quant,
    kv_dtype,
    price,
    latency,
    min_tokens_per_s,
    mfu,
    mbu,
    link_bandwidth,
    as_json,
):
    """Latency, throughput and $ per million tokens of serving MODEL: a roofline per phase.

    Prefill is compute-bound (time to first token); each decode step reads the weights and the KV cache, so
    at small batch it is bound by memory bandwidth. With --latency or --min-tokens-per-s it finds the
    cheapest batch and tensor-parallel size that meet the target.

    \b
    scaling inference llama-2-70b --gpus 8xH100 --tp 8 --batch 64 --price 2.5
    scaling inference llama-2-7b --gpus A100-80GB --quant int4 --kv-dtype fp8
    scaling inference llama-3-70b --gpus 8xH100 --latency 50ms --price 2.5
    """
    from scaling.serving import ServingWorkload, cheapest_serving, estimate_serving, with_assumptions

    if gpus.accelerator is None:
        raise ScalingError(f"--gpus {gpus} names no accelerator: write it as e.g. 8xH100")
    assumptions = with_assumptions(mfu=mfu, mbu=mbu, link_bytes_per_s=link_bandwidth)
    if latency is not None or min_tokens_per_s is not None:
        if batch is not None:
            raise ScalingError("--batch is what --latency / --min-tokens-per-s search for: leave it out")
        workload = ServingWorkload(
            prompt_tokens, output_tokens, precision, quant, kv_dtype, latency, min_tokens_per_s
        )
        search = cheapest_serving(
            model,
            gpus.accelerator,
            devices=gpus.devices,
            workload=workload,
            tp=tp,
            price_usd_per_hour=price,
            assumptions=assumptions,
        )
        result, payload = search, search.to_dict()
    else:
        result = estimate_serving(
            model,
            gpus.accelerator,
            devices=gpus.devices,
            tp=tp,
            batch=1 if batch is None else batch,
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            precision=precision,
            quant=quant,
            kv_dtype=kv_dtype,
            price_usd_per_hour=price,
            assumptions=assumptions,
        )
        payload = result.to_dict()
    if as_json:
        echo_json(payload)
        return
    for message in payload["warnings"]:
        warn(message)
    click.echo(_render(result.display_tables()))


COMMANDS = [inference]
