"""`scaling mfu` and `scaling calibrate`: what a measurement says about a cluster.

Thin commands: parse, call `scaling.measured` / `scaling.calibration`, render."""

from __future__ import annotations

import click

from scaling.commands._common import declared, echo_json, parse_given, warn
from scaling.options.measured import MEASURE, MEASURE_COMMAND


@click.command("mfu")
@declared(*MEASURE_COMMAND, required=MEASURE.required)
def mfu(**values):
    """MFU and HFU of a measured training throughput, in both conventions (6ND and with attention).

    \b
    Examples:
      scaling mfu palm-540b --gpus 6144xTPU-v4 --tokens-per-s 238.3k
      scaling mfu llama-2-7b --gpus 64xA100-80GB --step-time 21s --global-batch 4M --recompute full
    """
    from scaling.measured import measure_utilization, measured_throughput
    from scaling.model import load_model

    v = parse_given(MEASURE, values)
    rate, source = measured_throughput(
        tokens_per_second=v.tokens_per_s, step_seconds=v.step_time, batch_tokens=v.step_tokens
    )
    result = measure_utilization(
        load_model(v.model),
        v.gpus,
        tokens_per_second=rate,
        measured_from=source,
        seq_len=v.seq_len,
        causal=v.causal,
        recompute=v.recompute,
        dtype=v.dtype,
    )
    if values["as_json"]:
        echo_json(result.to_dict())
    else:
        for table in result.display_tables():
            click.echo(table.text() + "\n")
    for message in result.warnings:
        warn(message)


COMMANDS = [mfu]
