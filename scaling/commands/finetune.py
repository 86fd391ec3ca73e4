"""`scaling finetune`: time, cost and fit of a full, LoRA or QLoRA fine-tune, or of continued pretraining."""

from __future__ import annotations

import click

from scaling.commands._common import declared, echo_json, parse_given, warn
from scaling.options import FINETUNE, FINETUNE_COMMAND


@click.command("finetune")
@declared(*FINETUNE_COMMAND, required=FINETUNE.required)
def finetune(**values):
    """FLOPs by term, memory per device, the layout that fits, time, device-hours and cost of a fine-tune.

    \b
    Examples:
      scaling finetune llama-2-7b --tokens 100M --lora-rank 16 --gpus 1xA100-80GB
      scaling finetune llama-65b --tokens 10M --quant nf4 --lora-rank 64 --lora-targets all --gpus 1xA100-80GB
      scaling finetune llama-3-8b --tokens 1B --full --gpus 8xH100 --epochs 3 --price 2.5
      scaling finetune llama-2-7b --continued --unique-tokens 50B --gpus 64xH100 --epochs 2
      scaling finetune llama-3-8b --continued --unique-tokens 20B --gpus 64xH100 --days 7 --price 2.5
    """
    from scaling.finetune.request import FinetuneRequest, plan_finetune_request

    request = FinetuneRequest.of(parse_given(FINETUNE, values))
    render(plan_finetune_request(request), values["as_json"])


def render(result, as_json: bool) -> None:
    """A fine-tuning or continued-pretraining plan as JSON, or as its tables and then its warnings."""
    from scaling.finetune import ContinuedPretrainingPlan, continued_tables, finetune_tables

    if as_json:
        echo_json(result.to_dict())
    elif isinstance(result, ContinuedPretrainingPlan):
        _render(continued_tables(result), result.warnings + result.training.warnings)
    else:
        _render(finetune_tables(result), result.warnings)


def _render(tables, warnings) -> None:
    click.echo("\n\n".join(table.text() for table in tables))
    for message in warnings:
        warn(message)


COMMANDS = [finetune]
