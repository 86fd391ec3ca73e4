"""`scaling mfu` and `scaling calibrate`: what a measurement says about a cluster.

Thin commands: parse, call `scaling.measured` / `scaling.calibration`, render."""

from __future__ import annotations

import click

from scaling.commands._common import declared, echo_json, parse_given, warn
from scaling.options.measured import CALIBRATE, CALIBRATE_COMMAND, MEASURE, MEASURE_COMMAND


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


@click.command("calibrate")
@declared(*CALIBRATE_COMMAND)
def calibrate(**values):
    """Fit your cluster's efficiencies to measurements and write a calibration file for --calibration.

    \b
    LOGS is a table of training runs (CSV or JSON: model, gpus, global_batch, seq_len, step_time or
    tokens_per_s; optional layout, dtype, peak_memory), or the JSON of 'vllm bench serve --save-result' or
    'trtllm-bench throughput --report_json'. --probe measures this machine instead.
    For a serving benchmark (one result, JSON lines of them from --append-result, or a folder from
    --result-dir) it fits the prefill compute fraction, the decode bandwidth fraction and the per-step
    overhead; --model, --accelerator, --tp and --precision name what the file does not.
    \b
    Examples:
      scaling calibrate narayanan_table1.csv -o selene.json
      scaling plan --params 39.1B --tokens 300B --gpus 512xA100-80GB --calibration selene.json --brief
      scaling calibrate nim_llama33_70b_2xh100_fp8.jsonl --model llama-3.1-70b -o nim.json
      scaling inference llama-3.1-70b --gpus 2xH100 --tp 2 --precision fp8 --calibration nim.json
    """
    from scaling.calibration.build import calibrate as fit
    from scaling.calibration.tables import calibration_tables

    parsed = parse_given(CALIBRATE, values)
    calibration = fit(
        parsed.logs,
        output=parsed.output,
        probe=parsed.probe,
        accelerator=parsed.accelerator,
        accelerator_files=parsed.accelerator_files,
        force=parsed.force,
        model=parsed.model,
        tp=parsed.tp,
        precision=parsed.precision,
        quant=parsed.quant,
    )
    if values["as_json"]:
        echo_json(calibration.to_dict())
        return
    for table in calibration_tables(calibration):
        click.echo(table.text() + "\n")
    if parsed.output:
        click.echo(f"wrote {parsed.output}")


COMMANDS.append(calibrate)
