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
    key_values,
    warn,
)
from scaling.errors import ScalingError
from scaling.render import Table
from scaling.units import GB, format_duration, format_usd


def _ms(seconds: float) -> str:
    if seconds >= 1:
        return format_duration(seconds)
    if seconds == 0:
        return "0"
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} us"


def _phases(e) -> Table:
    rows = [
        ("prefill (TTFT)", _ms(e.prefill_s), _ms(e.prefill_compute_s), _ms(e.prefill_memory_s),
         _ms(e.prefill_comm_s)),
        ("decode, per output token", _ms(e.decode_s_per_token), _ms(e.decode_compute_s), _ms(e.decode_memory_s),
         _ms(e.decode_comm_s)),
    ]  # fmt: skip
    return Table.of(rows, ("phase", "time", "compute", "memory", "TP comm"))


def _cost(value: float | None) -> str:
    return "n/a (no price: pass --price)" if value is None else format_usd(value)


def _render(e, target: str | None = None) -> str:
    layout = f"TP {e.tp} x {e.replicas} replica{'s' if e.replicas > 1 else ''}"
    head = (
        f"{e.model} on {e.devices} x {e.accelerator} ({layout}), batch {e.batch} per replica, "
        f"{e.prompt_tokens} prompt + {e.output_tokens} output tokens; weights {e.weight_dtype}, KV {e.kv_dtype}"
    )
    if e.crossover_batch == float("inf"):
        bound = f"{e.bound}; never compute-bound at this context (the KV cache read grows with the batch)"
    else:
        bound = f"{e.bound}; compute-bound from a batch of about {e.crossover_batch:,.0f}"
    price = (
        ""
        if e.price_usd_per_hour is None
        else f" at {format_usd(e.price_usd_per_hour)}/device-h ({e.price_source})"
    )
    pairs = [
        ("decode bound", bound),
        ("bytes read per step", f"{e.bytes_per_step / GB:,.3g} GB per device"),
        ("request latency", _ms(e.latency_s)),
        ("decode throughput", f"{e.tokens_per_s:,.0f} output tokens/s ({e.tokens_per_s_per_device:,.0f} per "
                              f"device); {e.end_to_end_tokens_per_s:,.0f} counting the prefill"),
        ("prefill throughput", f"{e.input_tokens_per_s:,.0f} prompt tokens/s"),
        ("largest batch that fits", f"{e.max_batch:,}"),
        ("per million input tokens", _cost(e.usd_per_million_input_tokens) + price),
        ("per million output tokens", _cost(e.usd_per_million_output_tokens) + price),
    ]  # fmt: skip
    if target:
        pairs.insert(0, ("cheapest meeting", target))
    notes = "\n".join(f"  - {n}" for n in e.notes)
    return f"{head}\n\n{_phases(e).text(indent=2)}\n\n{key_values(pairs)}\n\nassumptions:\n{notes}"


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
def inference(model, gpus, tp, batch, prompt_tokens, output_tokens, precision, quant, kv_dtype, price, latency,
              min_tokens_per_s, mfu, mbu, link_bandwidth, as_json):  # fmt: skip
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
    target = None
    if latency is not None or min_tokens_per_s is not None:
        if batch is not None:
            raise ScalingError("--batch is what --latency / --min-tokens-per-s search for: leave it out")
        workload = ServingWorkload(
            prompt_tokens, output_tokens, precision, quant, kv_dtype, latency, min_tokens_per_s
        )
        search = cheapest_serving(model, gpus.accelerator, devices=gpus.devices, workload=workload, tp=tp,
                                  price_usd_per_hour=price, assumptions=assumptions)  # fmt: skip
        result, target = search.best, search.target
        payload = search.to_dict()
    else:
        result = estimate_serving(
            model, gpus.accelerator, devices=gpus.devices, tp=tp, batch=1 if batch is None else batch,
            prompt_tokens=prompt_tokens, output_tokens=output_tokens, precision=precision, quant=quant,
            kv_dtype=kv_dtype, price_usd_per_hour=price, assumptions=assumptions,
        )  # fmt: skip
        payload = result.to_dict()
    if as_json:
        echo_json(payload)
        return
    for message in result.warnings:
        warn(message)
    click.echo(_render(result, target))


COMMANDS = [inference]
