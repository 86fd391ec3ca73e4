"""`scaling plan`: what to train, on what, for how long and at what cost."""

from __future__ import annotations

import click

from scaling import units
from scaling.commands._common import COUNT, FLOPS, echo_json, json_option
from scaling.errors import ScalingError

HTML_SUFFIXES = (".html", ".htm")


@click.command()
@click.argument("model", required=False)
@click.option(
    "--flops", "budget", type=FLOPS, help="Compute budget: FLOPs (5.76e23) or PF-days (6667PF-days)."
)
@click.option("--gpus", help="Cluster: 512xH100, 64x8xA100-40GB; names the accelerator for time and cost.")
@click.option("--days", help="Time budget on --gpus (30d, 720h, or days as a number).")
@click.option("--mfu", help="Model FLOPs utilisation of the compute term, 0.4 or 40% (default 40%).")
@click.option("--usd", help="Dollar budget ($2M); needs --price.")
@click.option("--price", help="Price per device-hour in USD ($2.49/h).")
@click.option("--gpu-hours", help="Device-hour budget (1.3M).")
@click.option(
    "--law",
    default="chinchilla",
    show_default=True,
    help="Law preset (see 'scaling laws') or a law.json from 'scaling fit'.",
)
@click.option(
    "--unique-tokens", help="Unique tokens available (500B): data-constrained optimum and epoch warnings."
)
@click.option(
    "--inference-tokens", help="Lifetime inference tokens (2T): inference-aware optimum (Sardana et al.)."
)
@click.option(
    "--serve-on",
    help="Serving deployment (8xH100): price training + serving the --inference-tokens per size.",
)
@click.option(
    "--from",
    "from_model",
    help="Continued pretraining of this model (preset or config.json) on --unique-tokens "
    "of domain data, as 'scaling finetune MODEL --continued'.",
)
@click.option("--max-params", help="Largest model you can use (e.g. to serve on one device); never exceeded.")
@click.option("--seq-len", "--context", "seq_len", type=int, help="Training context length (default 4096).")
@click.option("--vocab", type=int, help="Vocabulary size (default 32000).")
@click.option(
    "--params", type=COUNT, help="A given model size (70B): with --tokens, or with a budget such as --days."
)
@click.option("--tokens", type=COUNT, help="The tokens to train a given model (MODEL or --params) on (1.4T).")
@click.option(
    "--target-loss", type=float, help="Reverse question: the compute to reach this loss under --law."
)
@click.option(
    "--dtype", default="bf16", show_default=True, type=click.Choice(["bf16", "fp16", "fp8", "tf32", "fp32"])
)
@click.option(
    "--global-batch-tokens", type=COUNT, help="Global batch in tokens (default: DeepSeek's B_opt(C))."
)
@click.option(
    "--style",
    "shape_style",
    default="llama",
    show_default=True,
    type=click.Choice(["llama", "gpt"]),
    help="Shape rules for the architecture.",
)
@click.option(
    "--flash/--no-flash",
    "flash_attention",
    default=True,
    show_default=True,
    help="FlashAttention (no stored s^2 attention scores) in memory and layout, or standard attention.",
)
@click.option("--markdown", "as_markdown", is_flag=True, help="Print the plan as Markdown.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Write an HTML report with the optimal-zone chart marking the plan.",
)
@click.option("--force", is_flag=True, help="Replace an existing --html file.")
@click.option(
    "--accelerator-file",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Extra accelerators (CSV, same columns as the catalog).",
)
@json_option
@click.pass_context
def plan(
    ctx,
    model,
    budget,
    gpus,
    days,
    mfu,
    usd,
    price,
    gpu_hours,
    law,
    unique_tokens,
    inference_tokens,
    serve_on,
    from_model,
    max_params,
    seq_len,
    vocab,
    params,
    tokens,
    target_loss,
    dtype,
    global_batch_tokens,
    shape_style,
    flash_attention,
    as_markdown,
    html_path,
    force,
    accelerator_file,
    as_json,
):
    """Plan a training run from a budget: compute, a cluster and a deadline, dollars, or device-hours.

    MODEL (optional) fixes the model instead of choosing one: a preset (see 'scaling models') or a Hugging
    Face config.json. With a cluster and --days the plan says how many tokens that buys, the predicted loss
    and the distance from compute-optimal; without a budget it uses the model's own training tokens.

    The time is the chosen layout's step-time model (steps x seconds per step); a budget of days, dollars
    or device-hours is sized so that time fits it.

    \b
    scaling plan --gpus 512xH100 --days 30 --mfu 0.4
    scaling plan --flops 5.76e23 --law chinchilla-a1
    scaling plan --usd 2M --price 2.5 --gpus 256xH100
    scaling plan llama-2-7b --gpus 64xA100-80GB --days 30
    scaling plan --params 70B --tokens 1.4T --gpus 2048xA100-80GB
    scaling plan --target-loss 2.0 --law epoch --gpus 1024xH100
    scaling plan --gpus 512xH100 --days 30 --inference-tokens 2T --serve-on 8xH100 --price 2.5
    scaling plan --from llama-2-7b --unique-tokens 50B --gpus 64xH100
    """
    from scaling.checks import output_path
    from scaling.plan import make_plan, plan_markdown, plan_text

    if from_model is not None:
        others = {
            "MODEL": model,
            "--flops": budget,
            "--usd": usd,
            "--gpu-hours": gpu_hours,
            "--params": params,
            "--target-loss": target_loss,
            "--serve-on": serve_on,
            "--html": html_path,
        }
        given = [flag for flag, value in others.items() if value is not None]
        if given:
            raise ScalingError(
                f"--from plans continued pretraining of a given model: drop {', '.join(given)}"
            )
        if unique_tokens is None or gpus is None:
            raise ScalingError(
                "--from needs --unique-tokens (the domain data, e.g. 50B) and --gpus (e.g. 64xH100)"
            )
        from scaling.commands.finetune import finetune
        from scaling.plan.request import DEFAULT_MFU

        ctx.invoke(
            finetune,
            model=from_model,
            continued=True,
            unique_tokens=units.parse_count(unique_tokens, "--unique-tokens"),
            gpus=units.parse_cluster(gpus, "--gpus"),
            tokens=tokens,
            seq_len=seq_len,
            days=units.parse_duration(days, "--days") if days is not None else None,
            mfu=units.parse_fraction(mfu, "--mfu") if mfu is not None else DEFAULT_MFU,
            price=units.parse_money(price, "--price") if price is not None else None,
            as_json=as_json,
        )
        return

    target = output_path(html_path, force=force, suffixes=HTML_SUFFIXES) if html_path else None
    result = make_plan(
        flops=budget,
        gpus=gpus,
        days=days,
        mfu=mfu,
        usd=usd,
        price=price,
        gpu_hours=gpu_hours,
        law=law,
        unique_tokens=unique_tokens,
        inference_tokens=inference_tokens,
        max_params=max_params,
        seq_len=seq_len,
        vocab=vocab,
        params=params,
        tokens=tokens,
        model=model,
        target_loss=target_loss,
        dtype=dtype,
        global_batch_tokens=global_batch_tokens,
        shape_style=shape_style,
        accelerator_files=tuple(accelerator_file),
        serve_on=serve_on,
        flash_attention=flash_attention,
    )
    if target is not None:
        from scaling.charts import zone_figure
        from scaling.charts.plan_report import write_plan_report

        write_plan_report(result, target, zone_figure)
        click.echo(f"wrote {target}", err=True)
    if as_json:
        echo_json(result.to_dict())
    elif as_markdown:
        click.echo(plan_markdown(result))
    else:
        click.echo(plan_text(result))


COMMANDS = [plan]
