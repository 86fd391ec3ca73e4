"""`scaling inference`: how fast a model serves on a deployment and what a million tokens cost."""

from __future__ import annotations

import click

from scaling.commands._common import declared, echo_json, parse_given, warn
from scaling.errors import ScalingError
from scaling.options import SERVING, SERVING_COMMAND
from scaling.render import Table


def _render(tables) -> str:
    if len(tables) == 1:  # under load: one table with its title and notes
        (load,) = tables
        rows = Table(load.rows, align="ll").text(indent=2)
        notes = Table((), notes=load.notes).text(indent=2)
        return f"{Table((), title=load.title).text()}\n\n{rows}\n\nassumptions:\n{notes}"
    phases, summary = tables
    title = Table((), title=phases.title).text()
    body = Table(phases.rows, phases.headers).text(indent=2)
    notes = Table((), notes=summary.notes).text(indent=2)
    return f"{title}\n\n{body}\n\n{Table(summary.rows, align='ll').text(indent=2)}\n\nassumptions:\n{notes}"


@click.command("inference")
@declared(*SERVING_COMMAND, required=SERVING.required)
def inference(**values):
    """Latency, throughput and $ per million tokens of serving MODEL: a roofline per phase.

    Prefill is compute-bound (time to first token); each decode step reads the weights and the KV cache, so
    at small batch it is bound by memory bandwidth. With --latency (per output token), --ttft or --min-tokens-per-s it finds the
    cheapest batch and tensor-parallel size that meet them all, and, unless --precision, --quant or --kv-dtype
    fix it, the cheapest precision the accelerator runs (bf16, fp8, int8 or int4 weight-only). With --concurrency or --request-rate it
    simulates continuous batching under Poisson arrivals and prints p50/p99 time to first token and per token.

    \b
    scaling inference llama-2-70b --gpus 8xH100 --tp 8 --batch 64 --price 2.5
    scaling inference llama-2-7b --gpus A100-80GB --quant int4 --kv-dtype fp8
    scaling inference llama-3-70b --gpus 8xH100 --latency 50ms --ttft 2s --price 2.5
    scaling inference llama-2-70b --gpus 8xH100 --tp 4 --concurrency 64 --prompt 2048 --output 256
    scaling inference llama-2-70b --gpus 2xH100 --tp 2 --batch 64 --precision fp8 --efficiency-profile trtllm-0.6.1
    scaling inference deepseek-v3 --gpus 32xH800 --tp 4 --ep 32 --batch 512 --precision fp8 --prompt 4096
    """
    from scaling.serving import (
        ServingEfficiency,
        ServingWorkload,
        cheapest_serving,
        estimate_serving,
        with_assumptions,
    )

    v = parse_given(SERVING, values)
    gpus = v.gpus
    if gpus.accelerator is None:
        raise ScalingError(f"--gpus {gpus} names no accelerator: write it as e.g. 8xH100")
    assumptions = with_assumptions(
        mfu=v.mfu,
        mbu=v.mbu,
        overhead_s=v.overhead_s,
        link_bytes_per_s=v.link_bandwidth,
        calibration=v.calibration,
        efficiency=None if v.efficiency_profile is None else ServingEfficiency.load(v.efficiency_profile),
    )
    if v.concurrency is not None or v.request_rate is not None:
        if "batch" in v.given or v.ep is not None:
            raise ScalingError(
                "--concurrency / --request-rate set the load with EP = TP; leave out --batch, --ep"
            )
        if any(t is not None for t in (v.latency, v.ttft, v.min_tokens_per_s)):
            raise ScalingError(
                "--concurrency / --request-rate do not combine with --latency / --ttft / --min-tokens-per-s"
            )
        from scaling.serving.concurrency import estimate_under_load

        result = estimate_under_load(
            v.model,
            gpus.accelerator,
            devices=gpus.devices,
            tp=v.tp,
            prompt_tokens=v.prompt_tokens,
            output_tokens=v.output_tokens,
            precision=v.precision,
            quant=v.quant,
            kv_dtype=v.kv_dtype,
            concurrency=v.concurrency,
            request_rate=v.request_rate,
            price_usd_per_hour=v.price,
            assumptions=assumptions,
        )
        payload = result.to_dict()
    elif any(t is not None for t in (v.latency, v.ttft, v.min_tokens_per_s)):
        if "batch" in v.given:
            raise ScalingError(
                "--batch is what --latency / --ttft / --min-tokens-per-s search for: leave it out"
            )
        workload = ServingWorkload(
            v.prompt_tokens,
            v.output_tokens,
            v.precision,
            v.quant,
            v.kv_dtype,
            v.latency,
            v.min_tokens_per_s,
            v.ttft,
        )
        search = cheapest_serving(
            v.model,
            gpus.accelerator,
            devices=gpus.devices,
            workload=workload,
            tp=v.tp,
            ep=v.ep,
            price_usd_per_hour=v.price,
            assumptions=assumptions,
            search_precision=not {"precision", "quant", "kv_dtype"} & set(v.given),
        )
        result, payload = search, search.to_dict()
    else:
        result = estimate_serving(
            v.model,
            gpus.accelerator,
            devices=gpus.devices,
            tp=v.tp,
            batch=v.batch,
            prompt_tokens=v.prompt_tokens,
            output_tokens=v.output_tokens,
            precision=v.precision,
            quant=v.quant,
            kv_dtype=v.kv_dtype,
            price_usd_per_hour=v.price,
            assumptions=assumptions,
            ep=v.ep,
        )
        payload = result.to_dict()
    if values["as_json"]:
        echo_json(payload)
        return
    for message in payload["warnings"]:
        warn(message)
    click.echo(_render(result.display_tables()))


COMMANDS = [inference]
