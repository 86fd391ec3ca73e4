"""`scaling chart`: interactive charts as self-contained HTML (or PNG/SVG/PDF with the export extra).

Each subcommand parses its options, calls one `scaling.charts` function and saves the figure. plotly, pandas,
numpy and scipy are imported inside the subcommands so that `scaling --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from scaling.commands._common import CLUSTER, COUNT, DURATION, FLOPS, MONEY, declared
from scaling.errors import ScalingError
from scaling.options.recipe import DECAY_FRACTION, HP_LAW, SCHEDULE

ACROSS = ("zero", "recompute", "tp", "precision")  # scaling.memory.ACROSS, without importing numpy


def _output_options(default_name: str):
    """-o FILE, --open, --plotlyjs, shared by every subcommand."""

    def decorate(function):
        function = click.option(
            "--plotlyjs",
            type=click.Choice(["inline", "directory"]),
            default="inline",
            show_default=True,
            help="inline: one self-contained HTML file (~5 MB, works offline); directory: plotly.min.js "
            "written beside the HTML, shared by several charts.",
        )(function)
        function = click.option("--open", "open_", is_flag=True, help="Open the chart in the web browser.")(
            function
        )
        function = click.option("--force", is_flag=True, help="Replace the output file if it exists.")(
            function
        )
        function = click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False, path_type=Path),
            default=Path(default_name),
            show_default=True,
            help="Output file: .html (interactive), or .png/.svg/.pdf (needs scaling[export]).",
        )(function)
        return function

    return decorate


def _checked(output: Path, force: bool, inputs=()) -> Path:
    """The output path, refused before any work if it exists (without --force), is an input or has a bad suffix."""
    from scaling.charts import HTML_SUFFIXES, IMAGE_SUFFIXES
    from scaling.checks import output_path

    return output_path(output, force=force, suffixes=HTML_SUFFIXES + IMAGE_SUFFIXES, inputs=inputs)


def _write(fig, output: Path, plotlyjs: str, open_: bool, div_id: str) -> None:
    from scaling import charts

    path = charts.save(fig, output, plotlyjs=plotlyjs, div_id=div_id)
    size = path.stat().st_size
    extra = (
        " (plotly.js inlined: works offline)"
        if path.suffix.lower() in (".html", ".htm") and plotlyjs == "inline"
        else " (with plotly.min.js beside it)"
        if plotlyjs == "directory" and path.suffix.lower() in (".html", ".htm")
        else ""
    )
    click.echo(f"wrote {path} ({size / 1e6:.2f} MB){extra}")
    if open_:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


def _law_names(text: str | None) -> tuple[str, ...]:
    from scaling.charts import DEFAULT_LAWS

    if text is None:
        return DEFAULT_LAWS
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise ScalingError(
            f"invalid --laws {text!r}: expected comma-separated law names such as chinchilla,epoch"
        )
    return names


@click.group("chart")
def chart() -> None:
    """Interactive charts: the optimal zone, IsoFLOP profiles, the loss frontier, memory, fit diagnostics.

    \b
    scaling chart zone --plan-params 7B --plan-tokens 2T -o zone.html --open
    scaling chart zone --axis tokens --laws chinchilla,epoch,llama3 -o tokens.html
    scaling chart isoflop runs/runs.csv -o isoflop.html
    scaling chart frontier runs/runs.csv --law law.json --target 1e22 -o frontier.html
    scaling chart memory llama-2-7b --gpus 8xH100 --across zero -o memory.html
    scaling chart diagnostics runs/runs.csv --law law.json -o diagnostics.png
    """


@chart.command("zone")
@click.option(
    "--laws",
    default=None,
    help="Comma-separated laws (presets or law JSON paths). "
    "Default: chinchilla-a1,chinchilla-a2,chinchilla,kaplan,epoch.",
)
@click.option(
    "--fitted", default=None, help="A fitted law JSON (scaling fit -o law.json), drawn with its band."
)
@click.option(
    "--axis",
    type=click.Choice(["params", "tokens"]),
    default="params",
    show_default=True,
    help="What the vertical axis shows: parameters N or training tokens D.",
)
@click.option(
    "--from", "flops_from", type=FLOPS, default="1e18", show_default=True, help="Smallest budget shown."
)
@click.option("--to", "flops_to", type=FLOPS, default="1e27", show_default=True, help="Largest budget shown.")
@click.option(
    "--plan-params", type=COUNT, default=None, help="Mark your planned model: parameters (e.g. 7B)."
)
@click.option("--plan-tokens", type=COUNT, default=None, help="... and its training tokens (e.g. 2T).")
@click.option("--plan-flops", type=FLOPS, default=None, help="... or its compute (any two of the three).")
@click.option(
    "--known-models",
    "known",
    default="default",
    help="'default' (data/known_models.csv), 'none', or a CSV path with the same columns.",
)
@_output_options("zone.html")
def zone(
    laws,
    fitted,
    axis,
    flops_from,
    flops_to,
    plan_params,
    plan_tokens,
    plan_flops,
    known,
    output,
    open_,
    plotlyjs,
    force,
):
    """The optimal zone: compute-optimal N (or D) against compute for several laws, with trained models.

    The shaded zone spans the Chinchilla-family estimates (Approaches 1-3, Epoch AI's replication); other
    laws, such as Kaplan's, are drawn as labelled lines."""
    from scaling import charts

    output = _checked(output, force, [p for p in (fitted, known) if p and Path(p).is_file()])
    plan = None
    given = {k: v for k, v in (("params", plan_params), ("tokens", plan_tokens), ("flops", plan_flops)) if v}
    if given:
        if len(given) < 2:
            raise ScalingError("to mark a plan give two of --plan-params, --plan-tokens, --plan-flops")
        plan = {**given, "name": "your plan"}
    known_models = {"default": True, "none": False}.get(known.lower(), known)
    fig = charts.zone_figure(
        _law_names(laws),
        flops_range=(flops_from, flops_to),
        known_models=known_models,
        plan=plan,
        fitted=fitted,
        axis=axis,
    )
    _write(fig, output, plotlyjs, open_, "scaling-zone")


@chart.command("isoflop")
@click.argument("runs", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@_output_options("isoflop.html")
def isoflop(runs, output, open_, plotlyjs, force):
    """IsoFLOP profiles from a runs table: loss against N per budget, parabolas, minima, N_opt ∝ C^a."""
    from scaling import charts

    output = _checked(output, force, [_runs_path(runs)])
    fig = charts.isoflop_figure(_runs_path(runs))
    _write(fig, output, plotlyjs, open_, "scaling-isoflop")


@chart.command("frontier")
@click.argument("runs", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option(
    "--law", default=None, help="A law JSON (scaling fit -o) or a preset; default: fit Approach 3 here."
)
@click.option("--target", type=FLOPS, default=None, help="Extrapolate L*(C) to this budget, e.g. 1e22.")
@click.option(
    "--holdout",
    "holdout_k",
    type=int,
    default=0,
    show_default=True,
    help="Hold out the k largest budgets, fit on the rest, and show how well they are predicted.",
)
@click.option(
    "--bootstrap",
    type=int,
    default=0,
    show_default=True,
    help="Bootstrap resamples for the band when fitting here (e.g. 200).",
)
@_output_options("frontier.html")
def frontier(runs, law, target, holdout_k, bootstrap, output, open_, plotlyjs, force):
    """The loss frontier: runs, the law's L*(C) with its band, held-out runs and the extrapolation."""
    from scaling import charts, fit

    output = _checked(output, force, [_runs_path(runs)] + ([law] if law and Path(law).is_file() else []))
    table = fit.read_runs(_runs_path(runs))
    holdout = None
    if holdout_k:
        if law is not None:
            raise ScalingError("--holdout fits the law on the smaller budgets itself; leave out --law")
        holdout = fit.holdout_check(table, holdout_k, bootstrap=bootstrap)
        fitted = holdout.law
    elif law is None:
        fitted = fit.fit_parametric(table, bootstrap=bootstrap)
    else:
        fitted = law
    fig = charts.frontier_figure(table, fitted, holdout=holdout, target_flops=target)
    _write(fig, output, plotlyjs, open_, "scaling-frontier")


@chart.command("diagnostics")
@click.argument("runs", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option(
    "--law", default=None, help="A law JSON (scaling fit -o) or a preset; default: fit Approach 3 here."
)
@_output_options("diagnostics.html")
def diagnostics(runs, law, output, open_, plotlyjs, force):
    """Fit diagnostics: predicted against observed loss, and residuals against compute."""
    from scaling import charts, fit

    output = _checked(output, force, [_runs_path(runs)] + ([law] if law and Path(law).is_file() else []))
    table = fit.read_runs(_runs_path(runs))
    fig = charts.diagnostics_figure(table, law if law is not None else fit.fit_parametric(table))
    _write(fig, output, plotlyjs, open_, "scaling-diagnostics")


@chart.command("memory")
@click.argument("model")
@click.option(
    "--gpus",
    type=CLUSTER,
    default="8xH100",
    show_default=True,
    help="Devices and accelerator: 8xH100, 64xA100-80GB, 4x8xH100.",
)
@click.option(
    "--across",
    type=click.Choice(ACROSS),
    default="zero",
    show_default=True,
    help="One bar per: ZeRO stage 0-3, recompute none/selective/full, TP size, or precision.",
)
@click.option("--mode", type=click.Choice(["train", "infer", "finetune"]), default="train", show_default=True)
@click.option("--zero", default="0", show_default=True, help="ZeRO stage when not varied.")
@click.option("--tp", default=1, show_default=True, type=int, help="Tensor parallel size when not varied.")
@click.option("--micro-batch", default=1, show_default=True, type=int, help="Sequences per micro-batch.")
@click.option("--seq-len", default=None, type=int, help="Sequence length (default: the model's context).")
@click.option(
    "--recompute", default="none", show_default=True, help="none, selective or full when not varied."
)
@click.option(
    "--flash/--no-flash",
    "flash_attention",
    default=None,
    help="FlashAttention (no s^2 activations) or not; default: the memory estimate's own (on).",
)
@_output_options("memory.html")
def memory(
    model,
    gpus,
    across,
    mode,
    zero,
    tp,
    micro_batch,
    seq_len,
    recompute,
    flash_attention,
    output,
    open_,
    plotlyjs,
    force,
):
    """Memory per device by component, one stacked bar per ZeRO stage (or layout), against capacity.

    Each bar is `scaling memory` with the same options; the chart states the assumptions the bars share."""
    from scaling import charts
    from scaling.memory import Parallelism, Workload, memory_across

    if gpus.accelerator is None:
        raise ScalingError(f"--gpus {gpus} names no accelerator; give one, e.g. 8xH100")
    output = _checked(output, force)
    workload = Workload.of(
        micro_batch=micro_batch,
        seq_len=seq_len,
        recompute=recompute,
        flash_attention=True if flash_attention is None else flash_attention,
    )
    parallel = Parallelism.of(tp=tp, zero=zero)  # the varied one is set per bar
    fig = charts.memory_figure(
        memory_across(model, across, mode=mode, parallel=parallel, workload=workload, cluster=gpus)
    )
    _write(fig, output, plotlyjs, open_, "scaling-memory")


@chart.command("inference")
@click.argument("model")
@click.option(
    "--gpus", type=CLUSTER, default="8xH100", show_default=True, help="The deployment: 8xH100, 4xA100-80GB."
)
@click.option(
    "--prompt", "prompt_tokens", type=int, default=2048, show_default=True, help="Prompt tokens per request."
)
@click.option(
    "--output-tokens", type=int, default=256, show_default=True, help="Generated tokens per request."
)
@click.option(
    "--precision",
    default=None,
    help="Math and activations: bf16, fp16, fp8 (default: every precision the accelerator runs, as the "
    "search of scaling inference --latency/--ttft).",
)
@click.option("--quant", default=None, help="Weight storage: int8, int4, nf4, fp8.")
@click.option("--kv-dtype", default=None, help="KV-cache dtype (default: --precision).")
@click.option(
    "--price", type=MONEY, default=None, help="USD per device-hour: adds a $ per million tokens axis."
)
@click.option("--latency", type=DURATION, default=None, help="Target time per output token, e.g. 50ms.")
@click.option("--ttft", type=DURATION, default=None, help="Target time to first token, e.g. 2s.")
@_output_options("inference.html")
def inference(
    model,
    gpus,
    prompt_tokens,
    output_tokens,
    precision,
    quant,
    kv_dtype,
    price,
    latency,
    ttft,
    output,
    open_,
    plotlyjs,
    force,
):
    """Throughput per device against time per output token and to first token for every search candidate.

    One line per precision x TP across batch sizes (the candidates `scaling inference --latency/--ttft`
    weighs) in two panels, per output token and to the first token, hollow where a point misses the targets,
    the chosen deployment starred; with --price a right axis reads $ per million output tokens.

    \b
    scaling chart inference llama-2-7b --gpus 2xA100-80GB --latency 30ms --ttft 1s -o inference.html
    """
    from scaling.serving import ServingWorkload
    from scaling.serving.chart import inference_chart, inference_figure

    if gpus.accelerator is None:
        raise ScalingError(f"--gpus {gpus} names no accelerator; give one, e.g. 8xH100")
    output = _checked(output, force)
    search_precision = precision is None and quant is None and kv_dtype is None
    workload = ServingWorkload(
        prompt_tokens, output_tokens, precision or "bf16", quant, kv_dtype, latency, None, ttft
    )
    data = inference_chart(
        model, gpus.accelerator, devices=gpus.devices, workload=workload, search_precision=search_precision
    )
    if not data.curves:
        raise ScalingError(f"{model} does not fit on {gpus} at {workload.context} tokens of context")
    dtypes = "every precision it runs" if search_precision else f"weights {quant or workload.precision}"
    title = f"{model} on {gpus}: {prompt_tokens} prompt + {output_tokens} output tokens, {dtypes}"
    if workload.has_target:
        title += f"<br>target: {data.target}"
    fig = inference_figure(data, title=title, price=price, latency_s=latency, ttft_s=ttft)
    _write(fig, output, plotlyjs, open_, "scaling-inference")


@chart.command("curve")
@click.argument("source")
@click.option(
    "--run",
    "run_id",
    default=None,
    help="SOURCE a sweep folder: the run whose curve to draw (default: the lowest loss of the largest budget).",
)
@click.option(
    "--law", default=None, help="With a sweep folder: a law JSON with curve constants; default: fit here."
)
@click.option("--params", type=COUNT, default=None, help="SOURCE a law: the planned model's parameters.")
@click.option("--tokens", type=COUNT, default=None, help="SOURCE a law: the planned training tokens.")
@declared(SCHEDULE, DECAY_FRACTION, HP_LAW)
@_output_options("curve.html")
def curve(
    source, run_id, law, params, tokens, schedule, decay_fraction, hp_law, output, open_, plotlyjs, force
):
    """The loss through training predicted by a schedule-aware law (Tissue et al. 2024), with the measured
    curve when drawing a run of a sweep.

    SOURCE is a sweep folder (a run of it; the law is --law or fitted here from the folder's curves) or a law
    with curve constants ('scaling fit RUNS --curves -o law.json'; with --params, --tokens and --schedule:
    the curve 'scaling loss --schedule --json' gives).

    \b
    scaling sweep --preset smoke --out runs/ && scaling fit runs/ --curves --bootstrap 50 -o law.json
    scaling chart curve runs/ --law law.json -o curve.html
    scaling chart curve law.json --params 200K --tokens 20M --schedule wsd -o wsd.html
    """
    from scaling.charts.loss_curve import curve_figure

    inputs = [p for p in (source, law) if p and Path(p).is_file()]
    output = _checked(output, force, inputs)
    if Path(source).is_dir() or str(source).endswith(".csv"):
        predicted, measured, title = _run_curve(source, run_id, law)
    else:
        from scaling.laws import get_law
        from scaling.recipe.curve import planned_curve

        if params is None or tokens is None:
            raise ScalingError("a curve from a law needs --params and --tokens (and --schedule)")
        predicted, _ = planned_curve(
            get_law(source),
            params,
            tokens,
            schedule=SCHEDULE.parse_value(schedule),
            decay_fraction=None if decay_fraction is None else DECAY_FRACTION.parse_value(decay_fraction),
            hp_law=None if hp_law is None else HP_LAW.parse_value(hp_law),
        )
        measured, title = None, f"Predicted loss through training ({Path(str(source)).stem})"
    _write(curve_figure(predicted, measured, title=title), output, plotlyjs, open_, "scaling-curve")


def _run_curve(source, run_id, law_name):
    """(prediction, measured points, title) of a sweep's run."""
    from scaling.fit.curves import fit_curve_law, run_prediction
    from scaling.laws import get_law
    from scaling.laws.curve import curve_law, no_curve_message
    from scaling.train.schedules import read_sweep_curves

    sweep = read_sweep_curves(source)
    frame, points = sweep.runs.frame, sweep.curves.frame
    if run_id is None:
        largest = frame[frame["C"] >= frame["C"].max() * 0.95]
        run_id = str(largest.sort_values("loss")["run_id"].iloc[0])
    if law_name is not None:
        law = get_law(law_name)
        constants = curve_law(law)
        if constants is None:
            raise ScalingError(no_curve_message(law))
        unit, how = law.loss_unit, f"law {Path(str(law_name)).name}"
    else:
        constants = fit_curve_law(points, frame, sweep.schedules)
        unit = str(frame["loss_unit"].iloc[0]) if "loss_unit" in frame else "nats/token"
        how = f"fitted on the {constants.fit['n_runs']} runs' curves"
    predicted, measured = run_prediction(constants, points, frame, sweep.schedules, run_id, unit)
    return predicted, measured, f"Run {run_id}, predicted ({how}) and measured"


def _runs_path(path: Path) -> Path:
    """A runs table, or a sweep folder holding runs.csv."""
    if path.is_dir():
        candidate = path / "runs.csv"
        if not candidate.is_file():
            raise ScalingError(f"{str(path)!r} is a folder without runs.csv; give the runs table itself")
        return candidate
    return path


COMMANDS = [chart]
