"""`scaling plan`: what to train, on what, for how long and at what cost."""

from __future__ import annotations

import click

from scaling.commands._common import declared, echo_json, parse_given
from scaling.options import PLAN, PLAN_COMMAND

HTML_SUFFIXES = (".html", ".htm")


@click.command()
@declared(*PLAN_COMMAND)
def plan(**values):
    """Plan a training run from a budget: compute, a cluster and a deadline, dollars, or device-hours.

    MODEL (optional) fixes the model instead of choosing one: a preset (see 'scaling models') or a Hugging
    Face config.json. With a cluster and --days the plan says how many tokens that buys, the predicted loss
    and the distance from compute-optimal; without a budget it uses the model's own training tokens.

    --mfu is end-to-end model FLOPs utilization (PaLM App. B): a cluster and a deadline buy devices x peak x
    MFU x time FLOPs, and the time is 6ND / (devices x peak x MFU). The chosen layout's step-time model
    explains each step (compute, pipeline bubble, communication, the kernel efficiency the compute needs) and
    warns when the MFU is out of its reach.

    The training recipe gives the peak learning rate and global batch of --hp-law (DeepSeek LLM's, with
    C = M·D; Step Law's beside it), warmup, the --schedule and AdamW, each with its source; a law with a
    downstream map (the Gadre laws) adds the expected benchmark error with an 80% interval, and a law fitted
    with 'scaling fit RUNS --downstream evals.csv' each task's accuracy (Bhagia et al. 2024's ladder).

    \b
    scaling plan --gpus 512xH100 --days 30 --mfu 0.4
    scaling plan --flops 5.76e23 --law chinchilla-a1
    scaling plan --usd 2M --price 2.5 --gpus 256xH100
    scaling plan llama-2-7b --gpus 64xA100-80GB --days 30
    scaling plan --params 70B --tokens 1.4T --gpus 2048xA100-80GB
    scaling plan --target-loss 2.0 --law epoch --gpus 1024xH100
    scaling plan --gpus 512xH100 --days 30 --inference-tokens 2T --serve-on 8xH100 --price 2.5
    scaling plan --from llama-2-7b --unique-tokens 50B --gpus 64xH100
    scaling plan --gpus 512xH100 --days 30 --brief
    scaling plan --gpus 64xH100 --days 7 --law gadre-redpajama --hp-law steplaw --schedule wsd
    scaling plan --gpus 2048xH800 --days 60 --moe
    """
    from scaling.checks import output_path
    from scaling.plan import build_plan, continued_request, plan_brief, plan_markdown, plan_request, plan_text

    request = parse_given(PLAN, values)
    if values["from_model"] is not None:
        from scaling.commands.finetune import render
        from scaling.finetune.request import plan_finetune_request

        continued = continued_request(values["from_model"], request, html_path=values["html_path"])
        render(plan_finetune_request(continued), values["as_json"])
        return
    if values["moe"]:
        from scaling.errors import ScalingError
        from scaling.plan.moe import build_moe_plan, moe_text

        flags = (("--markdown", "as_markdown"), ("--brief", "brief"), ("--html", "html_path"))
        others = [flag for flag, key in flags if values[key]]
        if others:
            raise ScalingError(f"--moe prints text or --json; drop {', '.join(others)}")
        moe = build_moe_plan(plan_request(request))
        echo_json(moe.to_dict()) if values["as_json"] else click.echo(moe_text(moe))
        return
    html_path = values["html_path"]
    target = output_path(html_path, force=values["force"], suffixes=HTML_SUFFIXES) if html_path else None
    result = build_plan(plan_request(request))
    if target is not None:
        from scaling.charts import zone_figure
        from scaling.charts.plan_report import write_plan_report

        write_plan_report(result, target, zone_figure)
        click.echo(f"wrote {target}", err=True)
    if values["as_json"]:
        echo_json(result.to_dict())
    elif values["as_markdown"]:
        click.echo(plan_markdown(result))
    elif values["brief"]:
        click.echo(plan_brief(result))
    else:
        click.echo(plan_text(result))


COMMANDS = [plan]
